package optim_test

import (
	"encoding/json"
	"fmt"
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

// fixture is testdata/optim.json, written by testdata/gen_optim.py with
// PyTorch 1.13: trajectories of torch.optim.SGD and lightly's LARS, and
// lightly's EMA update.
type fixture struct {
	Shapes map[string][]int
	LRs    []float64
	Cases  map[string][]map[string][]float64
	EMA    struct {
		Taus   []float64
		Target map[string][]float64
	}
}

func loadFixture(t *testing.T) fixture {
	t.Helper()
	b, err := os.ReadFile("testdata/optim.json")
	if err != nil {
		t.Fatal(err)
	}
	var f fixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("testdata/optim.json: %v", err)
	}
	return f
}

// ruleParam returns a float32 parameter holding the golden rule's values
// for name.
func ruleParam(name string, shape []int) *nn.Param {
	p := nn.NewParam(name, true, shape...)
	for i, v := range nntest.RuleValues(name, p.Numel()) {
		p.Data()[i] = float32(v)
	}
	return p
}

// setGrads gives every parameter the fixture's gradient of step k.
func setGrads(ps []*nn.Param, k int) {
	for _, p := range ps {
		r := nntest.RuleValues(fmt.Sprintf("grad.%s.%d", p.Name, k), p.Numel())
		g := make([]float32, len(r))
		for i, v := range r {
			g[i] = float32(v)
			if k%3 == 2 {
				g[i] *= 0.1 // float32 tensor times a Python float, as the script
			}
		}
		p.Grad = tensor.New(tensor.WithShape(p.Shape().Clone()...), tensor.WithBacking(g))
	}
}

func fixtureParams(f fixture) []*nn.Param {
	names := make([]string, 0, len(f.Shapes))
	for n := range f.Shapes {
		names = append(names, n)
	}
	sort.Strings(names)
	var ps []*nn.Param
	for _, n := range names {
		ps = append(ps, ruleParam(n, f.Shapes[n]))
	}
	return ps
}

// Trajectories against PyTorch: SGD bit for bit up to one float32 ulp
// (PyTorch fuses multiply-adds as we do), LARS to float32 rounding of its
// norms (relative 1e-6 of the parameter scale).
func TestAgainstPyTorch(t *testing.T) {
	f := loadFixture(t)
	cases := []struct {
		name string
		make func([]*nn.Param) optim.Optimizer
		tol  float64 // max |ours - torch| / max(1, |torch|)
	}{
		{"sgd_m0.9_wd1e-4", func(ps []*nn.Param) optim.Optimizer { return optim.NewSGD(ps, optim.SimSiamSGD) }, 1e-7},
		{"sgd_plain", func(ps []*nn.Param) optim.Optimizer { return optim.NewSGD(ps, optim.SGDConfig{}) }, 1e-7},
		{"sgd_nesterov_wd5e-4", func(ps []*nn.Param) optim.Optimizer {
			return optim.NewSGD(ps, optim.SGDConfig{Momentum: 0.8, WeightDecay: 5e-4, Nesterov: true})
		}, 1e-7},
		{"sgd_dampening", func(ps []*nn.Param) optim.Optimizer {
			return optim.NewSGD(ps, optim.SGDConfig{Momentum: 0.9, Dampening: 0.5, WeightDecay: 1e-3})
		}, 1e-7},
		{"lars_m0.9_wd1e-6", func(ps []*nn.Param) optim.Optimizer { return optim.NewLARS(ps, optim.SimCLRLARS) }, 1e-6},
		{"lars_m0.9_wd1e-2", func(ps []*nn.Param) optim.Optimizer {
			return optim.NewLARS(ps, optim.LARSConfig{Momentum: 0.9, WeightDecay: 1e-2})
		}, 1e-6},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want, ok := f.Cases[tc.name]
			if !ok || len(want) != len(f.LRs) {
				t.Fatalf("fixture has no trajectory %q", tc.name)
			}
			ps := fixtureParams(f)
			opt := tc.make(ps)
			var worst float64
			for k, lr := range f.LRs {
				setGrads(ps, k)
				opt.Step(lr)
				for _, p := range ps {
					w := want[k][p.Name]
					for i, v := range p.Data() {
						d := math.Abs(float64(v)-w[i]) / math.Max(1, math.Abs(w[i]))
						worst = math.Max(worst, d)
						if d > tc.tol {
							t.Fatalf("step %d: %s[%d] = %.9g, PyTorch %.9g", k, p.Name, i, v, w[i])
						}
					}
				}
			}
			t.Logf("max deviation from PyTorch over %d steps: %.2g", len(f.LRs), worst)
		})
	}
}

// The LARS trajectory differs from SGD's for adapted (rank ≥ 2)
// parameters and equals momentum SGD without weight decay for excluded
// (rank-1) ones.
func TestLARSExclusion(t *testing.T) {
	f := loadFixture(t)
	lars := fixtureParams(f)
	sgd := fixtureParams(f)
	ol := optim.NewLARS(lars, optim.SimCLRLARS)
	os := optim.NewSGD(sgd, optim.SGDConfig{Momentum: 0.9})
	for k, lr := range f.LRs {
		setGrads(lars, k)
		setGrads(sgd, k)
		ol.Step(lr)
		os.Step(lr)
	}
	for i, p := range lars {
		same := true
		for j, v := range p.Data() {
			same = same && v == sgd[i].Data()[j]
		}
		if rank1 := p.Shape().Dims() == 1; same != rank1 {
			t.Errorf("%s (rank %d): equal to plain momentum SGD = %v", p.Name, p.Shape().Dims(), same)
		}
	}
}

func TestEMAAgainstPyTorch(t *testing.T) {
	f := loadFixture(t)
	for name, shape := range f.Shapes {
		t.Run(name, func(t *testing.T) {
			online := ruleParam(name, shape)
			target := ruleParam("target."+name, shape)
			for _, tau := range f.EMA.Taus {
				optim.EMA([]*nn.Param{target}, []*nn.Param{online}, tau)
			}
			want := f.EMA.Target[name]
			for i, v := range target.Data() {
				if float64(v) != want[i] {
					t.Fatalf("[%d] = %.9g, PyTorch %.9g", i, v, want[i])
				}
			}
		})
	}
}

func TestEMAEnds(t *testing.T) {
	online := ruleParam("a", []int{3, 4})
	target := ruleParam("b", []int{3, 4})
	orig := append([]float32(nil), target.Data()...)
	optim.EMA([]*nn.Param{target}, []*nn.Param{online}, 1)
	for i, v := range target.Data() {
		if v != orig[i] {
			t.Fatal("τ = 1 changed the target")
		}
	}
	optim.EMA([]*nn.Param{target}, []*nn.Param{online}, 0)
	for i, v := range target.Data() {
		if v != online.Data()[i] {
			t.Fatal("τ = 0 did not copy the online parameters")
		}
	}
}

// State, LoadState: resuming from exported state continues exactly as an
// uninterrupted run.
func TestStateResume(t *testing.T) {
	f := loadFixture(t)
	for _, kind := range []string{"sgd", "lars"} {
		t.Run(kind, func(t *testing.T) {
			mk := func(ps []*nn.Param) optim.Optimizer {
				if kind == "sgd" {
					return optim.NewSGD(ps, optim.SimSiamSGD)
				}
				return optim.NewLARS(ps, optim.SimCLRLARS)
			}
			full := fixtureParams(f)
			of := mk(full)
			for k, lr := range f.LRs {
				setGrads(full, k)
				of.Step(lr)
			}
			// Interrupted after 2 steps: save parameters and state, rebuild.
			first := fixtureParams(f)
			o1 := mk(first)
			if st := o1.State(); len(st) != 0 {
				t.Fatalf("state before any step has %d entries", len(st))
			}
			for k := 0; k < 2; k++ {
				setGrads(first, k)
				o1.Step(f.LRs[k])
			}
			state := o1.State()
			if len(state) != len(first) {
				t.Fatalf("state has %d entries, want %d", len(state), len(first))
			}
			resumed := fixtureParams(f)
			for i, p := range resumed {
				copy(p.Data(), first[i].Data())
			}
			o2 := mk(resumed)
			if err := o2.LoadState(state); err != nil {
				t.Fatal(err)
			}
			// The exported state is a copy: stepping o1 further must not change it.
			setGrads(first, 2)
			o1.Step(1)
			for k := 2; k < len(f.LRs); k++ {
				setGrads(resumed, k)
				o2.Step(f.LRs[k])
			}
			for i, p := range resumed {
				for j, v := range p.Data() {
					if v != full[i].Data()[j] {
						t.Fatalf("%s[%d]: resumed %v, uninterrupted %v", p.Name, j, v, full[i].Data()[j])
					}
				}
			}
		})
	}
}

func TestLoadStateErrors(t *testing.T) {
	ps := []*nn.Param{nn.NewParam("w", true, 2, 3), nn.NewParam("b", true, 3)}
	ok := tensor.New(tensor.WithShape(2, 3), tensor.Of(tensor.Float32))
	cases := []struct {
		name  string
		state map[string]*tensor.Dense
	}{
		{"unknown", map[string]*tensor.Dense{"x": ok}},
		{"shape", map[string]*tensor.Dense{"w": tensor.New(tensor.WithShape(3, 2), tensor.Of(tensor.Float32))}},
		{"dtype", map[string]*tensor.Dense{"w": tensor.New(tensor.WithShape(2, 3), tensor.Of(tensor.Float64))}},
		{"nil", map[string]*tensor.Dense{"w": ok, "b": nil}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := optim.NewSGD(ps, optim.SimSiamSGD)
			if err := o.LoadState(tc.state); err == nil {
				t.Fatal("no error")
			}
			if len(o.State()) != 0 {
				t.Fatal("a failed LoadState changed the state")
			}
		})
	}
}

func TestConstructorPanics(t *testing.T) {
	w := nn.NewParam("w", true, 2, 3)
	cases := []struct {
		name string
		f    func()
	}{
		{"duplicate names", func() { optim.NewSGD([]*nn.Param{w, nn.NewParam("w", true, 2)}, optim.SGDConfig{}) }},
		{"float64", func() {
			optim.NewSGD([]*nn.Param{{Name: "x", Value: tensor.New(tensor.WithShape(2), tensor.Of(tensor.Float64))}}, optim.SGDConfig{})
		}},
		{"nesterov without momentum", func() { optim.NewSGD([]*nn.Param{w}, optim.SGDConfig{Nesterov: true}) }},
		{"negative weight decay", func() { optim.NewLARS([]*nn.Param{w}, optim.LARSConfig{WeightDecay: -1}) }},
		{"EMA lengths", func() { optim.EMA([]*nn.Param{w}, nil, 0.9) }},
		{"EMA shapes", func() { optim.EMA([]*nn.Param{w}, []*nn.Param{nn.NewParam("v", true, 3, 2)}, 0.9) }},
		{"Finish without Add", func() { optim.NewAccumulator([]*nn.Param{w}).Finish() }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			tc.f()
		})
	}
}

// A parameter without a gradient is not touched (no weight decay, no
// momentum buffer), as PyTorch skips p.grad None.
func TestSkipNilGrad(t *testing.T) {
	for _, name := range []string{"sgd", "lars"} {
		t.Run(name, func(t *testing.T) {
			p := ruleParam("p", []int{4, 4})
			orig := append([]float32(nil), p.Data()...)
			var o optim.Optimizer = optim.NewSGD([]*nn.Param{p}, optim.SGDConfig{Momentum: 0.9, WeightDecay: 0.1})
			if name == "lars" {
				o = optim.NewLARS([]*nn.Param{p}, optim.LARSConfig{Momentum: 0.9, WeightDecay: 0.1})
			}
			o.Step(1)
			for i, v := range p.Data() {
				if v != orig[i] {
					t.Fatal("parameter without gradient changed")
				}
			}
			if len(o.State()) != 0 {
				t.Fatal("momentum buffer created without a gradient")
			}
		})
	}
}

// Updates do not depend on the number of workers (parameters larger than
// one parallel chunk).
func TestOptimDeterministic(t *testing.T) {
	defer func(w int) { parallel.Workers = w }(parallel.Workers)
	var ref []float32
	for _, workers := range []int{1, 3} {
		parallel.Workers = workers
		p := ruleParam("big", []int{300, 200})
		o := optim.NewLARS([]*nn.Param{p}, optim.SimCLRLARS)
		for k := 0; k < 3; k++ {
			setGrads([]*nn.Param{p}, k)
			o.Step(0.5)
		}
		if ref == nil {
			ref = append([]float32(nil), p.Data()...)
			continue
		}
		for i, v := range p.Data() {
			if v != ref[i] {
				t.Fatalf("workers=%d: [%d] = %v, want %v", workers, i, v, ref[i])
			}
		}
	}
}
