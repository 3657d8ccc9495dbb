package backbone

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/nn"
	"github.com/disiam/disiam/nn/nntest"
)

// goldenFile is a model case written by testdata/golden.py (models) or
// testdata/gen_golden.py: PyTorch's float64 outputs for weights and input
// by the value rule of testdata/detweights.py.
type goldenFile struct {
	Model  string
	Params int
	Input  struct {
		Name  string
		Shape []int
	}
	WeightGain      float64     `json:"weight_gain"`
	EvalFeatures    [][]float64 `json:"eval_features"`
	EvalLogits      [][]float64 `json:"eval_logits"`
	TrainBNFeatures [][]float64 `json:"train_bn_features"`
}

// fillRule sets every tensor of m by the golden value rule.
func fillRule(m nn.Module, gain float64) {
	for _, p := range m.Params() {
		if v := nntest.RuleTensorValues(p.Name, p.Shape(), gain); v != nil {
			copy(p.Data(), v)
		}
	}
}

// ruleInput returns the golden rule's values of the tensor called name
// (the rule of testdata/detweights.py).
func ruleInput(name string, n int) []float32 {
	r := nntest.RuleValues(name, n)
	out := make([]float32, n)
	for i, v := range r {
		out[i] = float32(v)
	}
	return out
}

// run builds features (and logits, if withLogits) of b for input x of
// the given shape, runs the graph once and returns the values.
func run(t testing.TB, b Backbone, shape []int, x []float32, withLogits bool) (feat, logits []float32) {
	t.Helper()
	g := G.NewGraph()
	in, buf := nn.Input(g, "input", tensor.Float32, shape...)
	copy(buf.Data().([]float32), x)
	var f, l *G.Node
	if err := nn.Build(func() {
		f = b.Features(in)
		if withLogits {
			l = b.(Classifier).Classify(f)
		}
	}); err != nil {
		t.Fatal(err)
	}
	prog, err := nn.Compile(g, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	if err := prog.Run(); err != nil {
		t.Fatal(err)
	}
	feat = append([]float32(nil), f.Value().Data().([]float32)...)
	if l != nil {
		logits = append([]float32(nil), l.Value().Data().([]float32)...)
	}
	return feat, logits
}

// relErr is max|got-want| / max|want|.
func relErr(got []float32, want [][]float64) float64 {
	var num, den float64
	i := 0
	for _, row := range want {
		for _, w := range row {
			num = math.Max(num, math.Abs(float64(got[i])-w))
			den = math.Max(den, math.Abs(w))
			i++
		}
	}
	if i != len(got) {
		return math.Inf(1)
	}
	return num / den
}

// TestGolden runs each model of testdata/*.json (PyTorch float64 reference
// values, weights and input by the golden rule) and compares eval-mode
// features and logits (max abs error / max abs value ≤ 1e-4) and
// batch-statistics features (≤ 5e-3; dropout and stochastic depth off).
func TestGolden(t *testing.T) {
	for _, file := range []string{
		"resnet18_32.json",        // golden.py models
		"efficientnet_b0_32.json", // golden.py models
		"resnet18_40x56.json",
		"resnet18_360x640.json",
		"resnet50_64x64.json",
		"efficientnet_b3_64x64.json",
		"efficientnet_b5_48x48.json",
	} {
		t.Run(file, func(t *testing.T) {
			data, err := os.ReadFile("testdata/" + file)
			if err != nil {
				t.Fatal(err)
			}
			var gf goldenFile
			if err := json.Unmarshal(data, &gf); err != nil {
				t.Fatal(err)
			}
			if testing.Short() && gf.Model == "efficientnet_b5" {
				t.Skip("-short")
			}
			b, err := New(gf.Model, Config{NoInit: true})
			if err != nil {
				t.Fatal(err)
			}
			if n := nn.CountParams(b); n != gf.Params {
				t.Errorf("%d parameters, PyTorch %d", n, gf.Params)
			}
			fillRule(b, gf.WeightGain)
			n := 1
			for _, s := range gf.Input.Shape {
				n *= s
			}
			x := ruleInput(gf.Input.Name, n)

			b.SetTraining(false)
			feat, logits := run(t, b, gf.Input.Shape, x, true)
			ef, el := relErr(feat, gf.EvalFeatures), relErr(logits, gf.EvalLogits)
			if !(ef <= 1e-4) {
				t.Errorf("eval features: relative error %.3g > 1e-4", ef)
			}
			if !(el <= 1e-4) {
				t.Errorf("eval logits: relative error %.3g > 1e-4", el)
			}

			// Batch statistics, no dropout or stochastic depth.
			for _, bn := range b.(interface{ BatchNorms() []*nn.BatchNorm }).BatchNorms() {
				bn.Training = true
			}
			feat, _ = run(t, b, gf.Input.Shape, x, false)
			et := relErr(feat, gf.TrainBNFeatures)
			if !(et <= 5e-3) {
				t.Errorf("train-mode BatchNorm features: relative error %.3g > 5e-3", et)
			}
			t.Logf("relative errors: eval features %.2g, eval logits %.2g, train-mode features %.2g", ef, el, et)
		})
	}
}
