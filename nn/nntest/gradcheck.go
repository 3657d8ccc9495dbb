package nntest

import (
	"fmt"
	"math"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/nn"
)

// GradCheck compares the gradient gorgonia computes for a float64 graph with
// central finite differences. build receives one input node per tensor of
// inputs and returns a node; the checked scalar is sum(out * R) for a fixed
// pseudo-random R (or out itself when it is a scalar). Each input element is
// perturbed by ±h; analytic and numeric derivatives must agree within
// tol*(1+|numeric|). Inputs whose gradient the op blocks (diff false) are
// expected to get no gradient at all.
func GradCheck(t testing.TB, inputs []*tensor.Dense, diff []bool, build func(xs []*G.Node) *G.Node, tol float64) {
	t.Helper()
	g := G.NewGraph()
	var xs []*G.Node
	var params []*nn.Param
	for i, in := range inputs {
		if in.Dtype() != tensor.Float64 {
			t.Fatalf("GradCheck: input %d is %v, want float64", i, in.Dtype())
		}
		p := &nn.Param{Name: fmt.Sprintf("x%d", i), Value: in, Trainable: true}
		params = append(params, p)
		xs = append(xs, p.Node(g))
	}
	out := build(xs)
	loss := out
	if !out.IsScalar() {
		r := tensor.New(tensor.WithShape(out.Shape().Clone()...), tensor.Of(tensor.Float64))
		rd := r.Data().([]float64)
		for i := range rd {
			rd[i] = math.Sin(1.3*float64(i)+0.7) + 0.25
		}
		rn := G.NewTensor(g, tensor.Float64, out.Dims(), G.WithShape(out.Shape().Clone()...), G.WithName("gradcheck.R"), G.WithValue(r))
		loss = G.Must(G.Sum(G.Must(G.HadamardProd(out, rn))))
	}
	var wrt []*nn.Param
	for i, p := range params {
		if diff == nil || diff[i] {
			wrt = append(wrt, p)
		}
	}
	prog, err := nn.Compile(g, loss, wrt)
	if err != nil {
		t.Fatalf("GradCheck: %v", err)
	}
	defer prog.Close()
	if err := prog.Run(); err != nil {
		t.Fatalf("GradCheck: run: %v", err)
	}
	analytic := make([][]float64, len(params))
	for i, p := range params {
		if diff == nil || diff[i] {
			if p.Grad == nil {
				t.Fatalf("GradCheck: input %d got no gradient", i)
			}
			analytic[i] = append([]float64(nil), p.Grad.Data().([]float64)...)
		}
	}
	eval := func() float64 {
		if err := prog.Run(); err != nil {
			t.Fatalf("GradCheck: run: %v", err)
		}
		return nn.ScalarValue(loss)
	}
	const h = 1e-6
	for i, in := range inputs {
		if analytic[i] == nil {
			continue
		}
		d := in.Data().([]float64)
		for j := range d {
			orig := d[j]
			d[j] = orig + h
			fp := eval()
			d[j] = orig - h
			fm := eval()
			d[j] = orig
			num := (fp - fm) / (2 * h)
			if diffAbs := math.Abs(num - analytic[i][j]); diffAbs > tol*(1+math.Abs(num)) {
				t.Fatalf("GradCheck: input %d element %d: analytic %.10g, numeric %.10g", i, j, analytic[i][j], num)
			}
		}
	}
}

// Rand64 returns a float64 tensor of the given shape with deterministic
// values in [-1, 1) from the golden rule's generator under name.
func Rand64(name string, shape ...int) *tensor.Dense {
	n := tensor.Shape(shape).TotalSize()
	v := RuleValues(name, n)
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v))
}

// Rand32 is Rand64 in float32.
func Rand32(name string, shape ...int) *tensor.Dense {
	v := RuleValues(name, tensor.Shape(shape).TotalSize())
	f := make([]float32, len(v))
	for i := range v {
		f[i] = float32(v[i])
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(f))
}
