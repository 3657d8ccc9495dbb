package optim_test

import (
	"encoding/json"
	"math"
	"os"
	"sort"
	"testing"

	"gorgonia.org/tensor"

	"github.com/disiam/disiam/internal/parallel"
	"github.com/disiam/disiam/nn"
	"github.com/disiam/disiam/nn/nntest"
	"github.com/disiam/disiam/optim"
)

// detectFixture is testdata/detect_optim.json, written by
// testdata/gen_detect_optim.py with PyTorch 1.13.
type detectFixture struct {
	Shapes    map[string][]int
	Schedules []struct {
		Name, Kind               string
		Base, Gamma, Factor      float64
		Spe, Epochs, Steps, Warm int
		Warmup                   int
		Milestones               []int
		LRs                      []float64
	}
	Clip []struct {
		MaxNorm  float64 `json:"max_norm"`
		NormType any     `json:"norm_type"`
		Scale    float64
		Total    float64
		Grads    map[string][]float64
	}
}

func loadDetectFixture(t *testing.T) detectFixture {
	t.Helper()
	b, err := os.ReadFile("testdata/detect_optim.json")
	if err != nil {
		t.Fatal(err)
	}
	var f detectFixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("testdata/detect_optim.json: %v", err)
	}
	return f
}

// TestWarmupMultiStepAgainstPyTorch compares LinearWarmup over MultiStep
// with torchvision's detection recipe (LinearLR in epoch 0 over
// min(1000, steps−1) iterations, MultiStepLR per epoch) and with
// LinearLR and MultiStepLR chained per iteration, iteration by iteration.
func TestWarmupMultiStepAgainstPyTorch(t *testing.T) {
	f := loadDetectFixture(t)
	for _, c := range f.Schedules {
		t.Run(c.Name, func(t *testing.T) {
			var s optim.Schedule
			switch c.Kind {
			case "torchvision":
				s = optim.LinearWarmup{
					Schedule:    optim.PerEpoch{Schedule: optim.MultiStep{Base: c.Base, Milestones: c.Milestones, Gamma: c.Gamma}, StepsPerEpoch: c.Spe},
					StartFactor: 1e-3, Steps: min(1000, c.Spe-1),
				}
			case "chained":
				s = optim.LinearWarmup{Schedule: optim.MultiStep{Base: c.Base, Milestones: c.Milestones, Gamma: c.Gamma},
					StartFactor: c.Factor, Steps: c.Warmup}
			default:
				t.Fatalf("kind %q", c.Kind)
			}
			for k, want := range c.LRs {
				if got := s.At(k); math.Abs(got-want) > 1e-14*want {
					t.Errorf("iteration %d: lr %.17g, PyTorch %.17g", k, got, want)
				}
			}
		})
	}
}

func TestMultiStepAndWarmupEdges(t *testing.T) {
	cases := []struct {
		name string
		s    optim.Schedule
		k    int
		want float64
	}{
		{"before first milestone", optim.MultiStep{Base: 1, Milestones: []int{2, 4}, Gamma: 0.1}, 1, 1},
		{"at milestone", optim.MultiStep{Base: 1, Milestones: []int{2, 4}, Gamma: 0.1}, 2, 0.1},
		{"after both", optim.MultiStep{Base: 1, Milestones: []int{2, 4}, Gamma: 0.1}, 9, 1 * 0.1 * 0.1},
		{"repeated milestone", optim.MultiStep{Base: 1, Milestones: []int{3, 3}, Gamma: 0.5}, 3, 0.25},
		{"no milestones", optim.MultiStep{Base: 0.3, Gamma: 0.1}, 100, 0.3},
		{"warmup start", optim.LinearWarmup{Schedule: optim.Constant(2), StartFactor: 0.001, Steps: 10}, 0, 0.002},
		{"warmup half", optim.LinearWarmup{Schedule: optim.Constant(2), StartFactor: 0, Steps: 10}, 5, 1},
		{"warmup done", optim.LinearWarmup{Schedule: optim.Constant(2), StartFactor: 0.001, Steps: 10}, 10, 2},
		{"no warmup", optim.LinearWarmup{Schedule: optim.Constant(2), StartFactor: 0.001}, 0, 2},
	}
	for _, tc := range cases {
		if got := tc.s.At(tc.k); math.Abs(got-tc.want) > 1e-15 {
			t.Errorf("%s: At(%d) = %v, want %v", tc.name, tc.k, got, tc.want)
		}
	}
	for name, f := range map[string]func(){
		"unsorted milestones": func() { optim.MultiStep{Base: 1, Milestones: []int{4, 2}, Gamma: 0.1}.At(0) },
		"start factor > 1":    func() { optim.LinearWarmup{Schedule: optim.Constant(1), StartFactor: 2, Steps: 3}.At(0) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

// TestClipGradNormAgainstPyTorch compares GradClipper with
// torch.nn.utils.clip_grad_norm_: the returned total norm and the
// gradients afterwards, clipped or not, for norms 2, 3 and ∞. The
// float32 total may differ from PyTorch's by an ulp (another reduction
// order), and so the scaled gradients by a relative 1e-6.
func TestClipGradNormAgainstPyTorch(t *testing.T) {
	f := loadDetectFixture(t)
	names := make([]string, 0, len(f.Shapes))
	for n := range f.Shapes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, c := range f.Clip {
		nt := math.Inf(1)
		if v, ok := c.NormType.(float64); ok {
			nt = v
		}
		var ps []*nn.Param
		for _, n := range names {
			p := ruleParam(n, f.Shapes[n])
			r := nntest.RuleValues("grad."+n, p.Numel())
			g := make([]float32, len(r))
			for i, v := range r {
				g[i] = float32(v) * float32(c.Scale)
			}
			p.Grad = tensor.New(tensor.WithShape(p.Shape().Clone()...), tensor.WithBacking(g))
			ps = append(ps, p)
		}
		orig := ps[0].Grad
		clip := &optim.GradClipper{MaxNorm: c.MaxNorm, NormType: nt}
		total := clip.Clip(ps)
		if math.Abs(total-c.Total) > 2e-7*c.Total {
			t.Errorf("max %v, norm %v: total norm %.9g, PyTorch %.9g", c.MaxNorm, nt, total, c.Total)
		}
		for _, p := range ps {
			want := c.Grads[p.Name]
			for i, v := range p.Grad.Data().([]float32) {
				if math.Abs(float64(v)-want[i]) > 1e-6*math.Max(math.Abs(want[i]), 1e-3) {
					t.Fatalf("max %v, norm %v: %s[%d] = %.9g, PyTorch %.9g", c.MaxNorm, nt, p.Name, i, v, want[i])
				}
			}
		}
		clipped := float32(c.MaxNorm)/(float32(total)+1e-6) < 1
		if clipped == (ps[0].Grad == orig) {
			t.Errorf("max %v: clipped %v but the gradient tensor replaced: %v", c.MaxNorm, clipped, ps[0].Grad != orig)
		}
		if clipped {
			if got := optim.GradNorm(ps, nt); math.Abs(got-c.MaxNorm) > 1e-5*c.MaxNorm {
				t.Errorf("max %v: norm after clipping %v", c.MaxNorm, got)
			}
		}
	}
}

// Shared gradient storage is never scaled twice, and the result does not
// depend on the number of goroutines.
func TestClipSharedAndDeterministic(t *testing.T) {
	a, b := ruleParam("a", []int{300, 200}), ruleParam("b", []int{300, 200})
	g := tensor.New(tensor.WithShape(300, 200), tensor.WithBacking(append([]float32(nil), a.Data()...)))
	a.Grad, b.Grad = g, g // one gradient tensor for both, as a graph may share
	want := float64(a.Data()[7])
	clip := &optim.GradClipper{MaxNorm: 1}
	total := clip.Clip([]*nn.Param{a, b})
	coef := float32(1) / (float32(total) + 1e-6)
	for _, p := range []*nn.Param{a, b} {
		if got := p.Grad.Data().([]float32)[7]; got != float32(want)*coef {
			t.Errorf("%s: clipped gradient %v, want %v", p.Name, got, float32(want)*coef)
		}
	}
	old := parallel.Workers
	defer func() { parallel.Workers = old }()
	var norms []float64
	for _, w := range []int{1, 3, 8} {
		parallel.Workers = w
		a.Grad = g
		norms = append(norms, optim.GradNorm([]*nn.Param{a}, 2))
	}
	if norms[0] != norms[1] || norms[1] != norms[2] {
		t.Errorf("GradNorm depends on the workers: %v", norms)
	}
	if got := optim.GradNorm([]*nn.Param{nn.NewParam("none", true, 2)}, 2); got != 0 {
		t.Errorf("norm without gradients %v", got)
	}
}
