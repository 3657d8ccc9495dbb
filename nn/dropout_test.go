package nn_test

import (
	"math"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/nn"
	"github.com/disiam/disiam/nn/nntest"
)

// kept is the documented mask rule, written out independently of the
// package: index i survives draw number counter of a layer seeded seed.
func kept(seed, counter uint64, i int, p float64) bool {
	key := nntest.SplitMix64(nntest.SplitMix64(seed) + counter)
	return float64(nntest.SplitMix64(key+uint64(i))>>11)/(1<<53) >= p
}

// maskProgram builds layer(x) for an input x of the given shape holding
// 1, 2, 3, ... and returns the program, the output node and x.
func maskProgram(t *testing.T, forward func(*G.Node) *G.Node, shape ...int) (*nn.Program, *G.Node) {
	t.Helper()
	g := G.NewGraph()
	x, xt := nn.Input(g, "x", tensor.Float32, shape...)
	for i := range xt.Data().([]float32) {
		xt.Data().([]float32)[i] = float32(i + 1)
	}
	y := forward(x)
	prog, err := nn.Compile(g, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { prog.Close() })
	return prog, y
}

func runValues(t *testing.T, prog *nn.Program, y *G.Node) []float64 {
	t.Helper()
	if err := prog.Run(); err != nil {
		t.Fatal(err)
	}
	return values(y.Value().(*tensor.Dense))
}

func TestDropoutForward(t *testing.T) {
	const n = 4000
	for _, tc := range []struct {
		name        string
		p           float64
		training    bool
		seed        uint64
		wantCounter uint64
	}{
		{"train/p=0.5", 0.5, true, 7, 1},
		{"train/p=0.1", 0.1, true, 8, 1},
		{"train/p=0.9", 0.9, true, 9, 1},
		{"train/p=0", 0, true, 7, 0},
		{"train/p=1", 1, true, 7, 1},
		{"eval/p=0.5", 0.5, false, 7, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := nn.NewDropout(tc.p, tc.seed)
			d.SetTraining(tc.training)
			prog, y := maskProgram(t, d.Forward, 2, n/2)
			got := runValues(t, prog, y)
			scale := float64(1 / float32(1-tc.p))
			nkept := 0
			for i, v := range got {
				x := float64(i + 1)
				want := x
				if tc.training && tc.p > 0 {
					want = 0
					if kept(tc.seed, 0, i, tc.p) {
						want = float64(float32(x) * float32(scale))
						nkept++
					}
				}
				if v != want {
					t.Fatalf("y[%d] = %v, want %v", i, v, want)
				}
			}
			if tc.training && tc.p > 0 {
				// Binomial(4000, 1-p): within 5 standard deviations.
				if frac, sd := float64(nkept)/n, math.Sqrt(tc.p*(1-tc.p)/n); math.Abs(frac-(1-tc.p)) > 5*sd {
					t.Fatalf("kept fraction %v, want %v ± %v", frac, 1-tc.p, 5*sd)
				}
			}
			if d.Counter != tc.wantCounter {
				t.Fatalf("Counter = %d, want %d", d.Counter, tc.wantCounter)
			}
		})
	}
}

func TestDropoutMasksFollowCounter(t *testing.T) {
	d := nn.NewDropout(0.5, 42)
	prog, y := maskProgram(t, d.Forward, 64)
	first := runValues(t, prog, y)
	second := runValues(t, prog, y)
	if d.Counter != 2 {
		t.Fatalf("Counter = %d after two runs, want 2", d.Counter)
	}
	if equal(first, second) {
		t.Fatal("two runs drew the same mask")
	}
	// Resuming: restoring the counter restores the masks.
	d.Counter = 1
	if again := runValues(t, prog, y); !equal(again, second) {
		t.Fatalf("counter restored to 1: mask %v, want %v", again, second)
	}
	// Another seed, another mask.
	d.Counter, d.Seed = 0, 43
	if other := runValues(t, prog, y); equal(other, first) {
		t.Fatal("seeds 42 and 43 drew the same mask")
	}
}

func TestDropoutTwoApplications(t *testing.T) {
	// Two views through one layer get masks 0 and 1, in order.
	d := nn.NewDropout(0.5, 3)
	var ya, yb *G.Node
	prog, _ := maskProgram(t, func(x *G.Node) *G.Node {
		ya, yb = d.Forward(x), d.Forward(x)
		return ya
	}, 256)
	if err := prog.Run(); err != nil {
		t.Fatal(err)
	}
	for i, y := range []*G.Node{ya, yb} {
		for j, v := range values(y.Value().(*tensor.Dense)) {
			if want := kept(3, uint64(i), j, 0.5); (v != 0) != want {
				t.Fatalf("application %d element %d = %v, kept should be %v", i, j, v, want)
			}
		}
	}
	if d.Counter != 2 {
		t.Fatalf("Counter = %d, want 2", d.Counter)
	}
}

func TestStochasticDepthForward(t *testing.T) {
	const n, per = 400, 6
	for _, tc := range []struct {
		name     string
		p        float64
		training bool
	}{
		{"train/p=0.2", 0.2, true},
		{"train/p=0.5", 0.5, true},
		{"train/p=0", 0, true},
		{"train/p=1", 1, true},
		{"eval/p=0.2", 0.2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := nn.NewStochasticDepth(tc.p, 11)
			s.SetTraining(tc.training)
			prog, y := maskProgram(t, s.Forward, n, 2, 1, 3)
			got := runValues(t, prog, y)
			nkept := 0
			for r := 0; r < n; r++ {
				keepRow := !tc.training || tc.p == 0 || kept(11, 0, r, tc.p)
				if keepRow {
					nkept++
				}
				for j := 0; j < per; j++ {
					i := r*per + j
					want := float64(i + 1)
					if tc.training && tc.p > 0 {
						want = 0
						if keepRow {
							want = float64(float32(i+1) * (1 / float32(1-tc.p)))
						}
					}
					if got[i] != want {
						t.Fatalf("sample %d element %d = %v, want %v", r, j, got[i], want)
					}
				}
			}
			if tc.training && tc.p > 0 && tc.p < 1 {
				if frac, sd := float64(nkept)/n, math.Sqrt(tc.p*(1-tc.p)/n); math.Abs(frac-(1-tc.p)) > 5*sd {
					t.Fatalf("kept fraction %v, want %v ± %v", frac, 1-tc.p, 5*sd)
				}
			}
		})
	}
}

func TestMaskGradCheck(t *testing.T) {
	for _, tc := range []struct {
		name  string
		shape []int
		layer func() (func(*G.Node) *G.Node, *uint64)
	}{
		{"Dropout/train", []int{3, 10}, func() (func(*G.Node) *G.Node, *uint64) {
			d := nn.NewDropout(0.4, 5)
			return d.Forward, &d.Counter
		}},
		{"Dropout/eval", []int{3, 4}, func() (func(*G.Node) *G.Node, *uint64) {
			d := nn.NewDropout(0.4, 5)
			d.SetTraining(false)
			return d.Forward, &d.Counter
		}},
		{"StochasticDepth/train", []int{8, 2, 2, 1}, func() (func(*G.Node) *G.Node, *uint64) {
			s := nn.NewStochasticDepth(0.5, 6)
			return s.Forward, &s.Counter
		}},
		{"StochasticDepth/eval", []int{3, 2, 1, 2}, func() (func(*G.Node) *G.Node, *uint64) {
			s := nn.NewStochasticDepth(0.5, 6)
			s.SetTraining(false)
			return s.Forward, &s.Counter
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, counter := tc.layer()
			x := nntest.Rand64("mask.x", tc.shape...)
			// Every run of the check must see the same mask: reset the
			// counter before the layer runs.
			nntest.GradCheck(t, []*tensor.Dense{x}, nil, func(xs []*G.Node) *G.Node {
				return f(nn.ResetEachRun(xs[0], counter))
			}, 1e-7)
		})
	}
}

func TestMaskGradientUsesForwardMask(t *testing.T) {
	// dx = r * mask * scale with the mask of the same run: the gradient is
	// zero exactly where the output is.
	d := nn.NewDropout(0.5, 9)
	x := nntest.Rand32("drop.x", 4, 50)
	r := make([]float64, 200)
	for i := range r {
		r[i] = 1
	}
	for run := 0; run < 2; run++ {
		d.Counter = uint64(run)
		out, grads := backward(t, func(xs []*G.Node) *G.Node { return d.Forward(xs[0]) }, r, x)
		for i, v := range out {
			want := 0.0
			if v != 0 {
				want = 2
			}
			if grads[0][i] != want {
				t.Fatalf("run %d: dx[%d] = %v with y = %v, want %v", run, i, grads[0][i], v, want)
			}
		}
	}
}

func TestMaskInvalidProbability(t *testing.T) {
	for _, p := range []float64{-0.1, 1.5, math.NaN()} {
		if err := nn.Build(func() { nn.NewDropout(p, 0) }); err == nil {
			t.Errorf("NewDropout(%v): no error", p)
		}
		if err := nn.Build(func() { nn.NewStochasticDepth(p, 0) }); err == nil {
			t.Errorf("NewStochasticDepth(%v): no error", p)
		}
	}
	// A probability changed after building fails the run.
	d := nn.NewDropout(0.5, 0)
	prog, _ := maskProgram(t, d.Forward, 4)
	d.P = 2
	if err := prog.Run(); err == nil {
		t.Fatal("Run with P = 2: no error")
	}
}

func equal(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
