package backbone

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/nn"
)

// gradGolden is a file written by testdata/gen_grad_golden.py.
type gradGolden struct {
	Model string
	Input struct {
		Name  string
		Shape []int
	}
	WeightGain float64 `json:"weight_gain"`
	BatchNorm  string  // "train": batch statistics, "eval": running statistics
	Loss       float64
	Probes     map[string]struct {
		Step        int
		Values      []float64
		Norm        float64
		TorchF32Err float64 `json:"torch_float32_rel_err"`
	}
}

// TestGradientsGolden runs the backward pass through whole networks and
// compares with PyTorch's float64 gradients (testdata/gen_grad_golden.py):
// loss sum(features * R), weights and inputs by the golden rule, BatchNorm
// on batch or running statistics. Every trainable tensor outside the
// classifier must get a gradient of its own shape; the probed ones must
// match within max abs error / max abs value ≤ 1e-3 for ResNet and 2e-2
// for EfficientNet (PyTorch's own float32 run is at most 7e-6 and 4e-3
// from the float64 values), and their norms within the same tolerance.
func TestGradientsGolden(t *testing.T) {
	tests := []struct {
		file string
		tol  float64
	}{
		{"resnet18_64x64_train_grad.json", 1e-3},
		{"resnet18_32x32_eval_grad.json", 1e-3},
		{"efficientnet_b0_32x32_train_grad.json", 2e-2},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			data, err := os.ReadFile("testdata/" + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			var gg gradGolden
			if err := json.Unmarshal(data, &gg); err != nil {
				t.Fatal(err)
			}
			b, err := New(gg.Model, Config{NoInit: true})
			if err != nil {
				t.Fatal(err)
			}
			fillRule(b, gg.WeightGain)
			b.SetTraining(false)
			for _, bn := range b.(interface{ BatchNorms() []*nn.BatchNorm }).BatchNorms() {
				bn.Training = gg.BatchNorm == "train"
			}
			n := 1
			for _, s := range gg.Input.Shape {
				n *= s
			}
			g := G.NewGraph()
			x, buf := nn.Input(g, "input", tensor.Float32, gg.Input.Shape...)
			copy(buf.Data().([]float32), ruleInput(gg.Input.Name, n))
			batch := gg.Input.Shape[0]
			r, rbuf := nn.Input(g, "r", tensor.Float32, batch, b.FeatureDim())
			copy(rbuf.Data().([]float32), ruleInput("r", batch*b.FeatureDim()))
			var loss *G.Node
			if err := nn.Build(func() {
				loss = G.Must(G.Sum(G.Must(G.HadamardProd(b.Features(x), r))))
			}); err != nil {
				t.Fatal(err)
			}
			prog, err := nn.Compile(g, loss, nn.Trainable(b))
			if err != nil {
				t.Fatal(err)
			}
			defer prog.Close()
			if err := prog.Run(); err != nil {
				t.Fatal(err)
			}
			if e := math.Abs(prog.Loss()-gg.Loss) / math.Abs(gg.Loss); e > 1e-3 {
				t.Errorf("loss %v, PyTorch %v", prog.Loss(), gg.Loss)
			}
			classifier := map[*nn.Param]bool{}
			for _, p := range b.(interface{ ClassifierParams() []*nn.Param }).ClassifierParams() {
				classifier[p] = true
			}
			byName := map[string]*nn.Param{}
			for _, p := range nn.Trainable(b) {
				byName[p.Name] = p
				if !classifier[p] && (p.Grad == nil || !p.Grad.Shape().Eq(p.Shape())) {
					t.Fatalf("%s: gradient %v, want shape %v", p.Name, p.Grad, p.Shape())
				}
			}
			for name, want := range gg.Probes {
				grad := byName[name].Grad.Data().([]float32)
				var num, den, norm float64
				for i, w := range want.Values {
					num = math.Max(num, math.Abs(float64(grad[i*want.Step])-w))
					den = math.Max(den, math.Abs(w))
				}
				for _, v := range grad {
					norm += float64(v) * float64(v)
				}
				norm = math.Sqrt(norm)
				e := num / den
				if !(e <= tc.tol) || !(math.Abs(norm-want.Norm) <= tc.tol*want.Norm) {
					t.Errorf("%s: relative error %.3g (PyTorch float32 %.2g), norm %.6g, PyTorch %.6g", name, e, want.TorchF32Err, norm, want.Norm)
				} else {
					t.Logf("%s: relative error %.2g (PyTorch float32 %.2g)", name, e, want.TorchF32Err)
				}
			}
		})
	}
}
