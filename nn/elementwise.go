package nn

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/internal/parallel"
)

// This file holds the element-wise ops (activations, residual add) and the
// helpers every kernel of the package shares.

// floating is the element type of kernels: float32, or float64 for
// gradient checks.
type floating interface{ float32 | float64 }

// elemGrain is the chunk length of element-wise loops: large enough that
// a chunk amortizes its scheduling, small enough to balance two cores.
func elemGrain(n int) int { return parallel.Grain(n, 1<<14) }

// checkDense returns an error if a kernel input is not a plain row-major
// tensor whose backing slice has exactly its elements (a strided view, say).
func checkDense(in []*tensor.Dense) error {
	for i, t := range in {
		if t.RequiresIterator() {
			return fmt.Errorf("input %d (shape %v) is not contiguous", i, t.Shape())
		}
		n := t.Shape().TotalSize()
		var l int
		switch d := t.Data().(type) {
		case []float32:
			l = len(d)
		case []float64:
			l = len(d)
		case float32, float64:
			l = 1
		default:
			return fmt.Errorf("input %d has unsupported dtype %v", i, t.Dtype())
		}
		if l != n {
			return fmt.Errorf("input %d: shape %v but %d elements", i, t.Shape(), l)
		}
	}
	return nil
}

// errDtype is the error of a kernel asked for a dtype it does not support.
func errDtype(t *tensor.Dense) error {
	return fmt.Errorf("unsupported dtype %v (want float32 or float64)", t.Dtype())
}

// sameShapes returns in[0] if all shapes are equal, or an error naming the
// first mismatch.
func sameShapes(in []tensor.Shape) (tensor.Shape, error) {
	for i := 1; i < len(in); i++ {
		if !in[i].Eq(in[0]) {
			return nil, fmt.Errorf("input %d has shape %v, input 0 has %v", i, in[i], in[0])
		}
	}
	return in[0].Clone(), nil
}

// unary is an element-wise function with its derivative. The backward pass
// gets both the input x and the output y of the forward pass, and dy.
type unary int

const (
	opReLU unary = iota
	opSiLU
	opSigmoid
)

func (u unary) String() string {
	return [...]string{"ReLU", "SiLU", "Sigmoid"}[u]
}

func sigmoid64(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

func unaryForward[T floating](u unary, y, x []T) {
	parallel.For(len(x), elemGrain(len(x)), func(lo, hi int) {
		y, x := y[lo:hi], x[lo:hi]
		switch u {
		case opReLU:
			// Branch-free (signs are unpredictable); max keeps NaN, as
			// torch.relu does.
			y = y[:len(x)]
			for i, v := range x {
				y[i] = max(v, 0)
			}
		case opSiLU, opSigmoid:
			if y32, ok := any(y).([]float32); ok {
				sigmoidSlice(y32, any(x).([]float32), u == opSiLU)
				return
			}
			for i, v := range x {
				s := sigmoid64(float64(v))
				if u == opSiLU {
					s *= float64(v)
				}
				y[i] = T(s)
			}
		}
	})
}

// unaryBackward computes dx from the forward pass's x and y and dy, with
// PyTorch's formulas: relu: 0 where y <= 0 (so 0 at x = 0), else dy; sigmoid:
// dy*(1-y)*y; silu: dy*s*(1+x*(1-s)) with s = sigmoid(x).
func unaryBackward[T floating](u unary, dx, x, y, dy []T) {
	parallel.For(len(x), elemGrain(len(x)), func(lo, hi int) {
		dx, x, y, dy := dx[lo:hi], x[lo:hi], y[lo:hi], dy[lo:hi]
		switch u {
		case opReLU:
			switch dx := any(dx).(type) {
			case []float32:
				reluGrad32(dx, any(y).([]float32), any(dy).([]float32))
			case []float64:
				reluGrad64(dx, any(y).([]float64), any(dy).([]float64))
			}
		case opSiLU:
			if dx32, ok := any(dx).([]float32); ok {
				siluGradSlice(dx32, any(x).([]float32), any(dy).([]float32))
				return
			}
			for i, v := range x {
				s := sigmoid64(float64(v))
				dx[i] = T(float64(dy[i]) * s * (1 + float64(v)*(1-s)))
			}
		case opSigmoid:
			for i, v := range y {
				dx[i] = dy[i] * (1 - v) * v
			}
		}
	})
}

// reluGrad32 and reluGrad64 set dx = 0 where y <= 0 and dy elsewhere
// (PyTorch's threshold_backward, so a NaN output passes dy through),
// selecting bit patterns so that the compiler emits conditional moves
// rather than unpredictable branches.
func reluGrad32(dx, y, dy []float32) {
	dx, dy = dx[:len(y)], dy[:len(y)]
	for i, v := range y {
		b := math.Float32bits(dy[i])
		if v <= 0 {
			b = 0
		}
		dx[i] = math.Float32frombits(b)
	}
}

func reluGrad64(dx, y, dy []float64) {
	dx, dy = dx[:len(y)], dy[:len(y)]
	for i, v := range y {
		b := math.Float64bits(dy[i])
		if v <= 0 {
			b = 0
		}
		dx[i] = math.Float64frombits(b)
	}
}

type unaryKernel struct {
	u    unary
	dims int
}

func (k unaryKernel) Name() string                                     { return k.u.String() }
func (k unaryKernel) InDims() []int                                    { return []int{k.dims} }
func (k unaryKernel) OutShape(in []tensor.Shape) (tensor.Shape, error) { return in[0].Clone(), nil }
func (k unaryKernel) DiffWRT() []bool                                  { return []bool{true} }

func (k unaryKernel) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	if err := checkDense(in); err != nil {
		return err
	}
	switch y := out.Data().(type) {
	case []float32:
		unaryForward(k.u, y, asSlice[float32](in[0]))
	case []float64:
		unaryForward(k.u, y, asSlice[float64](in[0]))
	default:
		return errDtype(out)
	}
	return nil
}

func (k unaryKernel) Grad(in G.Nodes, out, dOut *G.Node) (G.Nodes, error) {
	return G.Nodes{Apply(unaryGradKernel(k), in[0], out, dOut)}, nil
}

// unaryGradKernel computes dx from (x, y, dy).
type unaryGradKernel unaryKernel

func (k unaryGradKernel) Name() string  { return k.u.String() + "Grad" }
func (k unaryGradKernel) InDims() []int { return []int{k.dims, k.dims, k.dims} }
func (k unaryGradKernel) OutShape(in []tensor.Shape) (tensor.Shape, error) {
	return sameShapes(in)
}

func (k unaryGradKernel) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	if err := checkDense(in); err != nil {
		return err
	}
	switch dx := out.Data().(type) {
	case []float32:
		unaryBackward(k.u, dx, asSlice[float32](in[0]), asSlice[float32](in[1]), asSlice[float32](in[2]))
	case []float64:
		unaryBackward(k.u, dx, asSlice[float64](in[0]), asSlice[float64](in[1]), asSlice[float64](in[2]))
	default:
		return errDtype(out)
	}
	return nil
}

// ReLU returns max(x, 0) element-wise (torch.relu), for x of any rank. Its
// gradient is dy where the output is positive and 0 elsewhere (0 at x = 0,
// as in PyTorch).
func ReLU(x *G.Node) *G.Node { return Apply(unaryKernel{opReLU, x.Dims()}, x) }

// SiLU returns x*sigmoid(x) element-wise (torch.nn.functional.silu, also
// called swish), the activation of EfficientNet, in float32 like Sigmoid;
// its gradient is PyTorch's dy*s*(1+x*(1-s)) with s = sigmoid(x).
func SiLU(x *G.Node) *G.Node { return Apply(unaryKernel{opSiLU, x.Dims()}, x) }

// Sigmoid returns 1/(1+exp(-x)) element-wise (torch.sigmoid), the gate of
// squeeze-and-excitation. Float32 is computed in float32 as PyTorch does,
// within a few ulps of the true value (AVX2 on amd64; see sigmoid32.go);
// float64 through math.Exp.
func Sigmoid(x *G.Node) *G.Node { return Apply(unaryKernel{opSigmoid, x.Dims()}, x) }

// Add returns a + b for two tensors of the same shape (the residual
// connection; no broadcasting). Both inputs receive dy as gradient.
func Add(a, b *G.Node) *G.Node {
	if !a.Shape().Eq(b.Shape()) {
		panic(fmt.Sprintf("nn: Add: shapes %v and %v differ", a.Shape(), b.Shape()))
	}
	return Apply(addKernel{dims: a.Dims()}, a, b)
}

type addKernel struct{ dims int }

func (k addKernel) Name() string                                     { return "Add" }
func (k addKernel) InDims() []int                                    { return []int{k.dims, k.dims} }
func (k addKernel) OutShape(in []tensor.Shape) (tensor.Shape, error) { return sameShapes(in) }
func (k addKernel) DiffWRT() []bool                                  { return []bool{true, true} }
func (k addKernel) Grad(in G.Nodes, out, dOut *G.Node) (G.Nodes, error) {
	return G.Nodes{dOut, dOut}, nil
}

func (k addKernel) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	if err := checkDense(in); err != nil {
		return err
	}
	switch y := out.Data().(type) {
	case []float32:
		addVec(y, asSlice[float32](in[0]), asSlice[float32](in[1]))
	case []float64:
		addVec(y, asSlice[float64](in[0]), asSlice[float64](in[1]))
	default:
		return errDtype(out)
	}
	return nil
}

func addVec[T floating](y, a, b []T) {
	parallel.For(len(y), elemGrain(len(y)), func(lo, hi int) {
		y, a, b := y[lo:hi], a[lo:hi], b[lo:hi]
		for i := range y {
			y[i] = a[i] + b[i]
		}
	})
}
