package backbone

import (
	"compress/gzip"
	"encoding/json"
	"math"
	"os"
	"testing"
)

// TestFloat32Precision is the deep-network float32 precision case
// (testdata/gen_precision.py): EfficientNet-B0 at gain 2, eval mode, eight
// 2x3x64x64 inputs, where the squeeze-and-excitation gates amplify
// rounding from block to block and even PyTorch's float32 forward is
// 3e-4 to 3e-2 (max error / max value) off the float64 one. The float32
// forward must be as close to float64 as PyTorch's: the geometric mean
// over the inputs of the relative error at most PyTorch's with one thread
// (its error with two threads, another reduction order, is larger).
// Before the gates' sums moved to float64 (nn.LinearAcc64Op) and the
// depthwise convolutions to fused multiply-adds it was 1.8 times
// PyTorch's.
func TestFloat32Precision(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	f, err := os.Open("testdata/efficientnet_b0_64x64_precision.json.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var gf struct {
		Model      string
		WeightGain float64 `json:"weight_gain"`
		InputShape []int   `json:"input_shape"`
		Cases      []struct {
			Input        string
			EvalFeatures [][]float64 `json:"eval_features"`
			Torch1       float64     `json:"torch_float32_rel_err_threads1"`
			Torch2       float64     `json:"torch_float32_rel_err_threads2"`
		}
	}
	if err := json.NewDecoder(zr).Decode(&gf); err != nil {
		t.Fatal(err)
	}
	b, err := New(gf.Model, Config{NoInit: true})
	if err != nil {
		t.Fatal(err)
	}
	fillRule(b, gf.WeightGain)
	b.SetTraining(false)
	n := 1
	for _, s := range gf.InputShape {
		n *= s
	}
	var logGo, logT1, logT2 float64
	for _, c := range gf.Cases {
		feat, _ := run(t, b, gf.InputShape, ruleInput(c.Input, n), false)
		e := relErr(feat, c.EvalFeatures)
		t.Logf("%-7s float32 error %.3g (PyTorch: %.3g with 1 thread, %.3g with 2)", c.Input, e, c.Torch1, c.Torch2)
		logGo += math.Log(e)
		logT1 += math.Log(c.Torch1)
		logT2 += math.Log(c.Torch2)
	}
	k := float64(len(gf.Cases))
	geo, t1, t2 := math.Exp(logGo/k), math.Exp(logT1/k), math.Exp(logT2/k)
	t.Logf("geometric mean: %.3g (PyTorch %.3g with 1 thread, %.3g with 2)", geo, t1, t2)
	if !(geo <= t1) {
		t.Errorf("float32 error %.3g (geometric mean) above PyTorch's %.3g", geo, t1)
	}
}
