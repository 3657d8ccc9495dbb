package ssl_test

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/nn"
	"github.com/disiam/disiam/nn/nntest"
	"github.com/disiam/disiam/ssl"
)

// headRef is one preset of testdata/heads.json (testdata/gen_heads.py,
// PyTorch 1.13 in float64, lightly's ProjectionHead layout).
type headRef struct {
	Keys      []string
	Shapes    [][]int
	Eval      []float64
	Train     []float64
	GradInput []float64 `json:"grad_input"`
	Grads     map[string][]float64
	Running   map[string][]float64
	InputDim  int `json:"input_dim"`
}

func headPresets() map[string][]ssl.Block {
	return map[string][]ssl.Block{
		"simsiam_projector_2": ssl.SimSiamProjector(12, 16, 10, 2),
		"simsiam_projector_3": ssl.SimSiamProjector(12, 16, 10, 3),
		"simsiam_predictor":   ssl.SimSiamPredictor(10, 6, 10),
		"simclr_projector":    ssl.SimCLRProjector(12, 16, 10),
		"byol_projector":      ssl.BYOLProjector(12, 16, 10),
	}
}

// setRule fills a module's parameters and buffers with the golden rule.
func setRule(m nn.Module) {
	for _, p := range m.Params() {
		if v := nntest.RuleTensorValues(p.Name, p.Shape(), 1); v != nil {
			copy(p.Data(), v)
		}
	}
}

// Float32 heads against PyTorch's float64 outputs and gradients:
// |got - want| ≤ 1e-4·max|want| (train-mode BatchNorm over 8 samples
// amplifies float32 rounding).
func TestHeadsAgainstPyTorch(t *testing.T) {
	b, err := os.ReadFile("testdata/heads.json")
	if err != nil {
		t.Fatal(err)
	}
	var refs map[string]headRef
	if err := json.Unmarshal(b, &refs); err != nil {
		t.Fatalf("testdata/heads.json: %v", err)
	}
	const batch = 8
	for name, blocks := range headPresets() {
		t.Run(name, func(t *testing.T) {
			ref, ok := refs[name]
			if !ok {
				t.Fatalf("no reference %q", name)
			}
			// state_dict keys, order and shapes
			check := func(what string, got, want []float64) {
				t.Helper()
				if len(got) != len(want) {
					t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
				}
				var scale float64
				for _, w := range want {
					scale = math.Max(scale, math.Abs(w))
				}
				for i := range want {
					if math.Abs(got[i]-want[i]) > 1e-4*scale {
						t.Fatalf("%s[%d] = %.7g, PyTorch %.7g", what, i, got[i], want[i])
					}
				}
			}
			build := func(training bool) (*ssl.MLP, *nn.Program, *G.Node, *nn.Param) {
				h := ssl.NewMLP("head", blocks, 1)
				setRule(h)
				h.SetTraining(training)
				g := G.NewGraph()
				x := &nn.Param{Name: "x", Trainable: true, Value: nntest.Rand32("head_input", batch, ref.InputDim)}
				y := h.Forward(x.Node(g))
				r := G.NewTensor(g, tensor.Float32, 2, G.WithShape(y.Shape().Clone()...), G.WithName("R"),
					G.WithValue(nntest.Rand32("head_R", y.Shape()...)))
				loss := G.Must(G.Sum(G.Must(G.HadamardProd(y, r))))
				prog, err := nn.Compile(g, loss, append(nn.Trainable(h), x))
				if err != nil {
					t.Fatal(err)
				}
				if err := prog.Run(); err != nil {
					t.Fatal(err)
				}
				return h, prog, y, x
			}
			h, prog, y, x := build(false)
			ps := h.Params()
			if len(ps) != len(ref.Keys) {
				t.Fatalf("%d parameters, PyTorch has %d: %v", len(ps), len(ref.Keys), ref.Keys)
			}
			for i, p := range ps {
				want := tensor.Shape(ref.Shapes[i])
				if len(want) == 0 {
					want = tensor.Shape{1} // nn stores PyTorch's 0-dim num_batches_tracked as [1]
				}
				if p.Name != ref.Keys[i] || !p.Shape().Eq(want) {
					t.Fatalf("parameter %d is %s %v, PyTorch %s %v", i, p.Name, p.Shape(), ref.Keys[i], ref.Shapes[i])
				}
			}
			check("eval output", f64(y.Value().Data().([]float32)), ref.Eval)
			prog.Close()

			h, prog, y, x = build(true)
			defer prog.Close()
			check("train output", f64(y.Value().Data().([]float32)), ref.Train)
			check("input gradient", f64(x.Grad.Data().([]float32)), ref.GradInput)
			for _, p := range h.Params() {
				if want, ok := ref.Grads[p.Name]; ok {
					check("gradient "+p.Name, f64(p.Grad.Data().([]float32)), want)
				} else if p.Trainable {
					t.Fatalf("PyTorch has no gradient for %s", p.Name)
				}
				if want, ok := ref.Running[p.Name]; ok {
					check(p.Name, f64(p.Data()), want)
				}
			}
		})
	}
}

func f64(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

// Full-size presets: parameter counts of the papers' heads.
func TestHeadPresetSizes(t *testing.T) {
	lin := func(in, out int, bias bool) int {
		if bias {
			return in*out + out
		}
		return in * out
	}
	cases := []struct {
		name   string
		blocks []ssl.Block
		out    int
		params int // trainable elements
	}{
		// ResNet-18 features → 2048 → 2048 (2 layers): BN(2048) affine, last BN without.
		{"SimSiam projector 2 layers", ssl.SimSiamProjector(512, 2048, 2048, 2), 2048,
			lin(512, 2048, false) + 2*2048 + lin(2048, 2048, false)},
		{"SimSiam projector 3 layers", ssl.SimSiamProjector(2048, 2048, 2048, 3), 2048,
			lin(2048, 2048, false) + 2*2048 + lin(2048, 2048, false) + 2*2048 + lin(2048, 2048, false)},
		{"SimSiam predictor", ssl.SimSiamPredictor(2048, 512, 2048), 2048,
			lin(2048, 512, false) + 2*512 + lin(512, 2048, true)},
		{"SimCLR projector", ssl.SimCLRProjector(512, ssl.SimCLRHidden, ssl.SimCLROut), 128,
			lin(512, 2048, true) + lin(2048, 128, true)},
		{"BYOL projector", ssl.BYOLProjector(2048, ssl.BYOLHidden, ssl.BYOLOut), 256,
			lin(2048, 4096, false) + 2*4096 + lin(4096, 256, true)},
		{"BYOL predictor", ssl.BYOLPredictor(ssl.BYOLOut, ssl.BYOLHidden, ssl.BYOLOut), 256,
			lin(256, 4096, false) + 2*4096 + lin(4096, 256, true)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := ssl.NewMLP("projection_head", tc.blocks, 7)
			if h.OutDim() != tc.out || h.InDim() != tc.blocks[0].In {
				t.Fatalf("dims %d -> %d, want %d -> %d", h.InDim(), h.OutDim(), tc.blocks[0].In, tc.out)
			}
			if got := nn.CountParams(h); got != tc.params {
				t.Fatalf("%d trainable parameters, want %d", got, tc.params)
			}
		})
	}
}

// NewMLP initializes as PyTorch's nn.Linear (weights and biases within
// ±1/sqrt(in), not all zero), BatchNorm at weight 1, bias 0; the same seed
// gives the same head, another seed another.
func TestHeadInit(t *testing.T) {
	blocks := ssl.SimSiamPredictor(64, 16, 64)
	a := ssl.NewMLP("prediction_head", blocks, 3)
	b := ssl.NewMLP("prediction_head", blocks, 3)
	c := ssl.NewMLP("prediction_head", blocks, 4)
	differs := false
	for i, p := range a.Params() {
		d := p.Value.Data()
		if f, ok := d.([]float32); ok {
			bound := float32(1 / math.Sqrt(64))
			if p.Name == "prediction_head.layers.3.weight" || p.Name == "prediction_head.layers.3.bias" {
				bound = float32(1 / math.Sqrt(16))
			}
			nonzero := false
			for j, v := range f {
				switch p.Name {
				case "prediction_head.layers.1.weight", "prediction_head.layers.1.running_var":
					if v != 1 {
						t.Fatalf("%s[%d] = %v, want 1", p.Name, j, v)
					}
				case "prediction_head.layers.1.bias", "prediction_head.layers.1.running_mean":
					if v != 0 {
						t.Fatalf("%s[%d] = %v, want 0", p.Name, j, v)
					}
				default:
					if v < -bound || v > bound {
						t.Fatalf("%s[%d] = %v outside ±%v", p.Name, j, v, bound)
					}
					nonzero = nonzero || v != 0
				}
				if v != b.Params()[i].Data()[j] {
					t.Fatalf("%s differs between two heads with the same seed", p.Name)
				}
				differs = differs || v != c.Params()[i].Data()[j]
			}
			if p.Value.Shape().Dims() == 2 && !nonzero {
				t.Fatalf("%s is all zero", p.Name)
			}
		}
	}
	if !differs {
		t.Fatal("seeds 3 and 4 give the same head")
	}
}

func TestNewMLPPanics(t *testing.T) {
	cases := []struct {
		name   string
		blocks func() []ssl.Block
	}{
		{"empty", func() []ssl.Block { return nil }},
		{"zero size", func() []ssl.Block { return []ssl.Block{{In: 0, Out: 3}} }},
		{"chain mismatch", func() []ssl.Block { return []ssl.Block{{In: 4, Out: 3}, {In: 4, Out: 2}} }},
		{"unknown norm", func() []ssl.Block { return []ssl.Block{{In: 4, Out: 3, Norm: ssl.Norm(9)}} }},
		{"unknown activation", func() []ssl.Block { return []ssl.Block{{In: 4, Out: 3, Activation: ssl.Activation(9)}} }},
		{"projector 1 layer", func() []ssl.Block { return ssl.SimSiamProjector(4, 4, 4, 1) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			ssl.NewMLP("h", tc.blocks(), 1)
		})
	}
}

func TestHeadForwardShapeError(t *testing.T) {
	h := ssl.NewMLP("h", ssl.SimCLRProjector(8, 4, 2), 1)
	err := nn.Build(func() {
		h.Forward(G.NewMatrix(G.NewGraph(), tensor.Float32, G.WithShape(3, 7), G.WithName("x")))
	})
	if err == nil {
		t.Fatal("no error for a [3, 7] input to an 8-feature head")
	}
}
