package nn_test

import (
	"fmt"
	"math"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/nn"
	"github.com/disiam/disiam/nn/nntest"
)

// t32 and t64 build tensors of the given shape from values.
func t32(shape []int, v ...float64) *tensor.Dense {
	f := make([]float32, len(v))
	for i := range v {
		f[i] = float32(v[i])
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(f))
}

func t64(shape []int, v ...float64) *tensor.Dense {
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(append([]float64(nil), v...)))
}

// values returns a tensor's elements as float64.
func values(t *tensor.Dense) []float64 {
	switch d := t.Data().(type) {
	case []float32:
		out := make([]float64, len(d))
		for i, v := range d {
			out[i] = float64(v)
		}
		return out
	case []float64:
		return append([]float64(nil), d...)
	}
	panic(fmt.Sprintf("values: dtype %v", t.Dtype()))
}

// rule64 is nntest.Rand64 with every value at least gap away from the
// given points (kinks of an op), so that finite differences do not cross
// them.
func rule64(name string, avoid []float64, gap float64, shape ...int) *tensor.Dense {
	t := nntest.Rand64(name, shape...)
	d := t.Data().([]float64)
	for i, v := range d {
		for _, a := range avoid {
			if math.Abs(v-a) < gap {
				d[i] = a + 2*gap + 0.5*math.Abs(v)
			}
		}
	}
	return t
}

// graph binds inputs to parameter nodes of a new graph.
func graph(inputs []*tensor.Dense) (*G.ExprGraph, []*G.Node, []*nn.Param) {
	g := G.NewGraph()
	var xs []*G.Node
	var ps []*nn.Param
	for i, in := range inputs {
		p := &nn.Param{Name: fmt.Sprintf("in%d", i), Value: in, Trainable: true}
		ps = append(ps, p)
		xs = append(xs, p.Node(g))
	}
	return g, xs, ps
}

// forward returns build's output for the inputs.
func forward(t *testing.T, build func(xs []*G.Node) *G.Node, inputs ...*tensor.Dense) (*tensor.Dense, []float64) {
	t.Helper()
	g, xs, _ := graph(inputs)
	out := build(xs)
	prog, err := nn.Compile(g, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	if err := prog.Run(); err != nil {
		t.Fatal(err)
	}
	v := out.Value().(*tensor.Dense)
	return v, values(v)
}

// backward runs build and differentiates loss = sum(out * r); it returns the
// output and the gradient of every input.
func backward(t *testing.T, build func(xs []*G.Node) *G.Node, r []float64, inputs ...*tensor.Dense) ([]float64, [][]float64) {
	t.Helper()
	g, xs, ps := graph(inputs)
	out := build(xs)
	s := out.Shape().Clone()
	var rt *tensor.Dense
	if out.Dtype() == tensor.Float32 {
		rt = t32(s, r...)
	} else {
		rt = t64(s, r...)
	}
	rn := G.NewTensor(g, out.Dtype(), s.Dims(), G.WithShape(s...), G.WithName("r"), G.WithValue(rt))
	loss := G.Must(G.Sum(G.Must(G.HadamardProd(out, rn))))
	prog, err := nn.Compile(g, loss, ps)
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	if err := prog.Run(); err != nil {
		t.Fatal(err)
	}
	grads := make([][]float64, len(ps))
	for i, p := range ps {
		grads[i] = values(p.Grad)
	}
	return values(out.Value().(*tensor.Dense)), grads
}

// near fails unless |got-want| <= tol*(1+|want|) element-wise.
func near(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if d := math.Abs(got[i] - want[i]); !(d <= tol*(1+math.Abs(want[i]))) {
			t.Fatalf("%s[%d] = %.9g, want %.9g (|diff| %.3g > %.3g*(1+|want|))\ngot  %v\nwant %v", what, i, got[i], want[i], d, tol, got, want)
		}
	}
}

func shapeIs(t *testing.T, got tensor.Shape, want ...int) {
	t.Helper()
	if !got.Eq(tensor.Shape(want)) {
		t.Fatalf("shape %v, want %v", got, want)
	}
}

// ones returns n ones.
func ones(n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = 1
	}
	return v
}
