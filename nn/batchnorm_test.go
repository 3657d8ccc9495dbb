package nn_test

import (
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/nn"
	"github.com/disiam/disiam/nn/nntest"
)

// bnRun builds bn.Forward(x) for an input tensor x (a parameter node, so
// that it gets a gradient) and, with r, loss = sum(y*r); it returns the
// program and the output node.
func bnRun(t *testing.T, bn *nn.BatchNorm, x *tensor.Dense, r []float64) (*nn.Program, *G.Node, *nn.Param) {
	t.Helper()
	g := G.NewGraph()
	xp := &nn.Param{Name: "x", Value: x, Trainable: true}
	y := bn.Forward(xp.Node(g))
	var loss *G.Node
	if r != nil {
		s := y.Shape().Clone()
		rn := G.NewTensor(g, tensor.Float32, s.Dims(), G.WithShape(s...), G.WithName("r"), G.WithValue(t32(s, r...)))
		loss = G.Must(G.Sum(G.Must(G.HadamardProd(y, rn))))
	}
	prog, err := nn.Compile(g, loss, append([]*nn.Param{xp}, nn.Trainable(bn)...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { prog.Close() })
	return prog, y, xp
}

func nbt(bn *nn.BatchNorm) int64 { return bn.NumBatchesTracked.Value.Data().([]int64)[0] }

func TestBatchNormHand(t *testing.T) {
	// Channel 0 holds 1, 2, 3, 4: mean 2.5, biased variance 1.25, unbiased
	// 5/3. Channel 1 holds 0, 0, 0, 8: mean 2, biased variance 12,
	// unbiased 16.
	x := []float64{1, 0, 2, 0, 3, 0, 4, 8}
	w, b := []float64{2, 1}, []float64{0.5, 0}
	mean, bvar, uvar := []float64{2.5, 2}, []float64{1.25, 12}, []float64{5.0 / 3, 16}
	for _, tc := range []struct {
		name     string
		train    bool
		noAffine bool
		rm, rv   []float64 // running statistics before the run
	}{
		{"train", true, false, []float64{0, 0}, []float64{1, 1}},
		{"train/noaffine", true, true, []float64{0.5, -1}, []float64{2, 3}},
		{"eval", false, false, []float64{1, -1}, []float64{4, 0.25}},
		{"eval/noaffine", false, true, []float64{1, -1}, []float64{4, 0.25}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bn := nn.NewBatchNorm("bn", nn.BatchNormConfig{Features: 2, NoAffine: tc.noAffine})
			if !tc.noAffine {
				copy(bn.Weight.Data(), []float32{2, 1})
				copy(bn.Bias.Data(), []float32{0.5, 0})
			}
			copy(bn.RunningMean.Data(), []float32{float32(tc.rm[0]), float32(tc.rm[1])})
			copy(bn.RunningVar.Data(), []float32{float32(tc.rv[0]), float32(tc.rv[1])})
			bn.SetTraining(tc.train)
			prog, y, _ := bnRun(t, bn, t32([]int{4, 2}, x...), nil)
			if err := prog.Run(); err != nil {
				t.Fatal(err)
			}
			want := make([]float64, len(x))
			for i, v := range x {
				c := i % 2
				m, s := tc.rm[c], tc.rv[c]
				if tc.train {
					m, s = mean[c], bvar[c]
				}
				want[i] = (v - m) / math.Sqrt(s+1e-5)
				if !tc.noAffine {
					want[i] = want[i]*w[c] + b[c]
				}
			}
			near(t, "y", values(y.Value().(*tensor.Dense)), want, 1e-6)
			wantRM, wantRV, wantN := tc.rm, tc.rv, int64(0)
			if tc.train {
				wantN = 1
				wantRM = []float64{0.9*tc.rm[0] + 0.1*mean[0], 0.9*tc.rm[1] + 0.1*mean[1]}
				wantRV = []float64{0.9*tc.rv[0] + 0.1*uvar[0], 0.9*tc.rv[1] + 0.1*uvar[1]}
			}
			near(t, "running_mean", values(bn.RunningMean.Value), wantRM, 1e-7)
			near(t, "running_var", values(bn.RunningVar.Value), wantRV, 1e-7)
			if got := nbt(bn); got != wantN {
				t.Fatalf("num_batches_tracked = %d, want %d", got, wantN)
			}
		})
	}
}

// bnFixture is one case of testdata/bn_torch.json (see gen_bn.py).
type bnFixture struct {
	Shape             []int
	Affine            bool
	Y                 []float64
	RunningMean       []float64 `json:"running_mean"`
	RunningVar        []float64 `json:"running_var"`
	NumBatchesTracked int64     `json:"num_batches_tracked"`
	DX                []float64 `json:"dx"`
	DWeight           []float64 `json:"dweight"`
	DBias             []float64 `json:"dbias"`
	YEval             []float64 `json:"y_eval"`
}

func rule32(name string, n int, f func(r float64) float64) []float32 {
	out := make([]float32, n)
	for i, r := range nntest.RuleValues(name, n) {
		out[i] = float32(f(r))
	}
	return out
}

func TestBatchNormTorch(t *testing.T) {
	raw, err := os.ReadFile("testdata/bn_torch.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases map[string]json.RawMessage
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"bn1d", "bn2d", "bn1d_noaffine", "bn2d_noaffine"} {
		t.Run(name, func(t *testing.T) {
			var fx bnFixture
			if err := json.Unmarshal(cases[name], &fx); err != nil {
				t.Fatal(err)
			}
			c, n := fx.Shape[1], tensor.Shape(fx.Shape).TotalSize()
			id := func(r float64) float64 { return r }
			bn := nn.NewBatchNorm(name, nn.BatchNormConfig{Features: c, NoAffine: !fx.Affine})
			if fx.Affine {
				copy(bn.Weight.Data(), rule32(name+".weight", c, func(r float64) float64 { return 1 + 0.1*r }))
				copy(bn.Bias.Data(), rule32(name+".bias", c, func(r float64) float64 { return 0.1 * r }))
			}
			copy(bn.RunningMean.Data(), rule32(name+".running_mean", c, func(r float64) float64 { return 0.1 * r }))
			copy(bn.RunningVar.Data(), rule32(name+".running_var", c, func(r float64) float64 { return 1 + 0.25*(r+1) }))
			x := tensor.New(tensor.WithShape(fx.Shape...), tensor.Of(tensor.Float32))
			grad := make([]float64, n)
			for i, v := range rule32(name+".g", n, id) {
				grad[i] = float64(v)
			}
			prog, y, xp := bnRun(t, bn, x, grad)
			// One compiled program runs two training steps, then evaluates.
			for _, in := range []string{".x1", ".x2"} {
				copy(x.Data().([]float32), rule32(name+in, n, id))
				if err := prog.Run(); err != nil {
					t.Fatal(err)
				}
			}
			const tol = 5e-7 // a few float32 ulps
			near(t, "y", values(y.Value().(*tensor.Dense)), fx.Y, tol)
			near(t, "dx", values(xp.Grad), fx.DX, tol)
			if fx.Affine {
				near(t, "dweight", values(bn.Weight.Grad), fx.DWeight, tol)
				near(t, "dbias", values(bn.Bias.Grad), fx.DBias, tol)
			}
			checkStats := func(when string) {
				// PyTorch accumulates BatchNorm1d statistics in float32,
				// we in float64: a few float32 ulps apart.
				near(t, when+" running_mean", values(bn.RunningMean.Value), fx.RunningMean, 5e-7)
				near(t, when+" running_var", values(bn.RunningVar.Value), fx.RunningVar, 5e-7)
				if got := nbt(bn); got != fx.NumBatchesTracked {
					t.Fatalf("%s: num_batches_tracked = %d, want %d", when, got, fx.NumBatchesTracked)
				}
			}
			checkStats("after two training passes:")
			bn.SetTraining(false)
			copy(x.Data().([]float32), rule32(name+".x3", n, id))
			if err := prog.Run(); err != nil {
				t.Fatal(err)
			}
			near(t, "y_eval", values(y.Value().(*tensor.Dense)), fx.YEval, tol)
			checkStats("after an eval pass:")
		})
	}
}

func TestBatchNormGradCheck(t *testing.T) {
	for _, tc := range []struct {
		name     string
		shape    []int
		train    bool
		noAffine bool
	}{
		{"1d/train", []int{5, 3}, true, false},
		{"2d/train", []int{3, 2, 2, 3}, true, false},
		{"1d/train/noaffine", []int{4, 3}, true, true},
		{"2d/train/noaffine", []int{2, 3, 2, 2}, true, true},
		{"1d/eval", []int{4, 3}, false, false},
		{"2d/eval", []int{2, 2, 3, 2}, false, false},
		{"2d/eval/noaffine", []int{2, 2, 2, 2}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.shape[1]
			bn := nn.NewBatchNorm("bn", nn.BatchNormConfig{Features: c, NoAffine: tc.noAffine})
			copy(bn.RunningMean.Data(), rule32("gc.rm", c, func(r float64) float64 { return 0.3 * r }))
			copy(bn.RunningVar.Data(), rule32("gc.rv", c, func(r float64) float64 { return 1 + 0.5*r }))
			bn.SetTraining(tc.train)
			inputs := []*tensor.Dense{nntest.Rand64("gc.x."+tc.name, tc.shape...)}
			if !tc.noAffine {
				w := nntest.Rand64("gc.w", c)
				for i, v := range w.Data().([]float64) {
					w.Data().([]float64)[i] = 1 + 0.5*v
				}
				inputs = append(inputs, w, nntest.Rand64("gc.b", c))
			}
			nntest.GradCheck(t, inputs, nil, func(xs []*G.Node) *G.Node {
				if tc.noAffine {
					return nn.BatchNormWith(bn, xs[0], nil, nil)
				}
				return nn.BatchNormWith(bn, xs[0], xs[1], xs[2])
			}, 1e-6)
		})
	}
}

func TestBatchNormTrainNeedsTwoValues(t *testing.T) {
	bn := nn.NewBatchNorm1d("head.bn", 3)
	prog, y, _ := bnRun(t, bn, t32([]int{1, 3}, 1, 2, 3), nil)
	err := prog.Run()
	if err == nil || !strings.Contains(err.Error(), "more than 1 value per channel") || !strings.Contains(err.Error(), "head.bn") {
		t.Fatalf("train mode with one value per channel: error %v", err)
	}
	if got := nbt(bn); got != 0 {
		t.Fatalf("num_batches_tracked = %d after a failed run", got)
	}
	bn.SetTraining(false)
	if err := prog.Run(); err != nil {
		t.Fatalf("eval mode: %v", err)
	}
	near(t, "y", values(y.Value().(*tensor.Dense)), []float64{1, 2, 3}, 1e-5)
}

func TestBatchNormBuildErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		shape []int
	}{
		{"channels", []int{2, 4, 3, 3}},
		{"rank3", []int{2, 3, 3}},
		{"rank1", []int{3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bn := nn.NewBatchNorm2d("layer1.0.bn1", 3)
			x := tensor.New(tensor.WithShape(tc.shape...), tensor.Of(tensor.Float32))
			err := nn.Build(func() { bn.Forward(graphNodes([]*tensor.Dense{x})[0]) })
			if err == nil || !strings.HasPrefix(err.Error(), "nn: BatchNorm layer1.0.bn1") {
				t.Fatalf("error %v", err)
			}
		})
	}
}

func TestBatchNormTwoApplications(t *testing.T) {
	// One layer applied to two inputs in one graph (two views through one
	// backbone) updates its statistics twice per run, like two PyTorch
	// forward calls, in the order the views were applied.
	bn := nn.NewBatchNorm1d("bn", 1)
	g := G.NewGraph()
	a, at := nn.Input(g, "a", tensor.Float32, 2, 1)
	b, bt := nn.Input(g, "b", tensor.Float32, 2, 1)
	copy(at.Data().([]float32), []float32{0, 2}) // mean 1, unbiased var 2
	copy(bt.Data().([]float32), []float32{4, 8}) // mean 6, unbiased var 8
	ya := bn.Forward(a)
	yb := bn.Forward(b)
	loss := G.Must(G.Add(G.Must(G.Sum(ya)), G.Must(G.Sum(yb))))
	prog, err := nn.Compile(g, loss, nn.Trainable(bn))
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	if err := prog.Run(); err != nil {
		t.Fatal(err)
	}
	// a first: 0.9*(0.9*0 + 0.1*1) + 0.1*6 = 0.69;
	// 0.9*(0.9*1 + 0.1*2) + 0.1*8 = 1.79.
	near(t, "running_mean", values(bn.RunningMean.Value), []float64{0.69}, 1e-7)
	near(t, "running_var", values(bn.RunningVar.Value), []float64{1.79}, 1e-7)
	if got := nbt(bn); got != 2 {
		t.Fatalf("num_batches_tracked = %d, want 2", got)
	}
}
