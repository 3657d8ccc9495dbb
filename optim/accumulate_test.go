package optim_test

import (
	"math"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/nn"
	"github.com/disiam/disiam/nn/nntest"
	"github.com/disiam/disiam/optim"
)

// linearModel is y = x·W + 1·bᵀ with loss mean((y - t)²): a per-sample
// mean loss without batch coupling, for which accumulating k micro-batches
// is exactly one large batch.
type linearModel struct {
	prog *nn.Program
	x, t *tensor.Dense
}

func newLinearModel(t *testing.T, w, b *nn.Param, batch int) *linearModel {
	g := G.NewGraph()
	xn, x := nn.Input(g, "x", tensor.Float32, batch, 6)
	tn, tt := nn.Input(g, "t", tensor.Float32, batch, 3)
	ones := G.NewMatrix(g, tensor.Float32, G.WithShape(batch, 1), G.WithName("ones"),
		G.WithValue(tensor.New(tensor.WithShape(batch, 1), tensor.WithBacking(fill32(batch, 1)))))
	y := G.Must(G.Add(G.Must(G.Mul(xn, w.Node(g))), G.Must(G.Mul(ones, b.Node(g)))))
	loss := G.Must(G.Mean(G.Must(G.Square(G.Must(G.Sub(y, tn))))))
	prog, err := nn.Compile(g, loss, []*nn.Param{w, b})
	if err != nil {
		t.Fatal(err)
	}
	return &linearModel{prog: prog, x: x, t: tt}
}

func fill32(n int, v float32) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = v
	}
	return s
}

func TestAccumulationEquivalence(t *testing.T) {
	const batch, k = 12, 3
	xs := nntest.Rand32("acc.x", batch, 6).Data().([]float32)
	ts := nntest.Rand32("acc.t", batch, 3).Data().([]float32)
	mk := func() (*nn.Param, *nn.Param) {
		w := ruleParam("acc.W", []int{6, 3})
		b := ruleParam("acc.b", []int{1, 3})
		return w, b
	}
	// One large batch.
	w1, b1 := mk()
	big := newLinearModel(t, w1, b1, batch)
	defer big.prog.Close()
	o1 := optim.NewSGD([]*nn.Param{w1, b1}, optim.SimSiamSGD)
	// k micro-batches.
	w2, b2 := mk()
	small := newLinearModel(t, w2, b2, batch/k)
	defer small.prog.Close()
	o2 := optim.NewSGD([]*nn.Param{w2, b2}, optim.SimSiamSGD)
	acc := optim.NewAccumulator([]*nn.Param{w2, b2})
	for step := 0; step < 3; step++ {
		copy(big.x.Data().([]float32), xs)
		copy(big.t.Data().([]float32), ts)
		if err := big.prog.Run(); err != nil {
			t.Fatal(err)
		}
		o1.Step(0.1)
		for m := 0; m < k; m++ {
			r := batch / k
			copy(small.x.Data().([]float32), xs[m*r*6:(m+1)*r*6])
			copy(small.t.Data().([]float32), ts[m*r*3:(m+1)*r*3])
			if err := small.prog.Run(); err != nil {
				t.Fatal(err)
			}
			acc.Add()
			if acc.Count() != m+1 {
				t.Fatalf("Count = %d after %d adds", acc.Count(), m+1)
			}
		}
		if n := acc.Finish(); n != k {
			t.Fatalf("Finish averaged %d micro-batches, want %d", n, k)
		}
		o2.Step(0.1)
		for i, p := range []*nn.Param{w1, b1} {
			q := []*nn.Param{w2, b2}[i]
			for j, v := range p.Data() {
				if d := math.Abs(float64(v - q.Data()[j])); d > 1e-6 {
					t.Fatalf("step %d: %s[%d]: large batch %v, accumulated %v", step, p.Name, j, v, q.Data()[j])
				}
			}
		}
	}
}

// A single micro-batch is passed through unchanged, and a parameter
// without gradients keeps a nil Grad.
func TestAccumulatorSingle(t *testing.T) {
	p := ruleParam("p", []int{2, 2})
	q := ruleParam("q", []int{2})
	g := nntest.Rand32("g", 2, 2)
	p.Grad = g
	acc := optim.NewAccumulator([]*nn.Param{p, q})
	acc.Add()
	acc.Finish()
	for i, v := range p.Grad.Data().([]float32) {
		if v != g.Data().([]float32)[i] {
			t.Fatalf("grad[%d] = %v, want %v", i, v, g.Data().([]float32)[i])
		}
	}
	if q.Grad != nil {
		t.Fatal("parameter without gradient got one")
	}
}
