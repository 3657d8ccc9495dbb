package nn

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/internal/parallel"
)

// Scale is a learnable scalar factor, mmcv's Scale (used per pyramid level
// by FCOS heads that have one): y = x·scale. Its one parameter,
// NAME.scale, has shape [1] (PyTorch stores a 0-dimensional tensor;
// torch's load_state_dict and package safetensors convert between the two).
type Scale struct {
	Scale *Param
}

// NewScale returns a Scale named name with the given initial value.
func NewScale(name string, init float64) *Scale {
	s := &Scale{Scale: NewParam(Join(name, "scale"), true, 1)}
	s.Scale.Data()[0] = float32(init)
	return s
}

// Forward returns x·scale, for x of any rank.
func (s *Scale) Forward(x *G.Node) *G.Node { return ScaleBy(x, s.Scale.Node(x.Graph())) }

// Params implements Module.
func (s *Scale) Params() []*Param { return []*Param{s.Scale} }

// SetTraining implements Module (a scale has no mode).
func (s *Scale) SetTraining(bool) {}

// ScaleBy returns x·s for x of any rank and a one-element node s (shape
// [1]). The gradients are dy·s for x and Σ dy·x (summed in float64, in a
// fixed order) for s.
func ScaleBy(x, s *G.Node) *G.Node {
	if s.Shape().TotalSize() != 1 || s.Dims() != 1 {
		panic(fmt.Sprintf("nn: ScaleBy: scale has shape %v, want [1]", s.Shape()))
	}
	return Apply(scaleByKernel{dims: x.Dims()}, x, s)
}

type scaleByKernel struct{ dims int }

func (k scaleByKernel) Name() string  { return "ScaleBy" }
func (k scaleByKernel) InDims() []int { return []int{k.dims, 1} }
func (k scaleByKernel) OutShape(in []tensor.Shape) (tensor.Shape, error) {
	if in[1].TotalSize() != 1 {
		return nil, fmt.Errorf("scale has shape %v, want [1]", in[1])
	}
	return in[0].Clone(), nil
}
func (k scaleByKernel) DiffWRT() []bool { return []bool{true, true} }
func (k scaleByKernel) Grad(in G.Nodes, out, dy *G.Node) (G.Nodes, error) {
	return G.Nodes{Apply(scaleByKernel{dims: k.dims}, dy, in[1]), Apply(dotKernel{dims: k.dims}, dy, in[0])}, nil
}

func (k scaleByKernel) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	if err := checkDense(in); err != nil {
		return err
	}
	switch y := out.Data().(type) {
	case []float32:
		scaleVec(y, asSlice[float32](in[0]), asSlice[float32](in[1])[0])
	case []float64:
		scaleVec(y, asSlice[float64](in[0]), asSlice[float64](in[1])[0])
	default:
		return errDtype(out)
	}
	return nil
}

func scaleVec[T floating](y, x []T, a T) {
	parallel.For(len(y), elemGrain(len(y)), func(lo, hi int) {
		y, x := y[lo:hi], x[lo:hi]
		for i, v := range x {
			y[i] = v * a
		}
	})
}

// dotKernel returns Σ a·b as a [1] tensor, summed in float64 per chunk
// and the chunks in order.
type dotKernel struct{ dims int }

func (k dotKernel) Name() string  { return "Dot" }
func (k dotKernel) InDims() []int { return []int{k.dims, k.dims} }
func (k dotKernel) OutDims() int  { return 1 }
func (k dotKernel) OutShape(in []tensor.Shape) (tensor.Shape, error) {
	if _, err := sameShapes(in); err != nil {
		return nil, err
	}
	return tensor.Shape{1}, nil
}

func (k dotKernel) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	if err := checkDense(in); err != nil {
		return err
	}
	switch y := out.Data().(type) {
	case []float32:
		y[0] = float32(dotChunks(asSlice[float32](in[0]), asSlice[float32](in[1])))
	case []float64:
		y[0] = dotChunks(asSlice[float64](in[0]), asSlice[float64](in[1]))
	default:
		return errDtype(out)
	}
	return nil
}

// dotChunks is Σ a·b in float64: per chunk of fixed boundaries, then the
// chunk sums in order.
func dotChunks[T floating](a, b []T) float64 {
	grain := elemGrain(len(a))
	part := make([]float64, parallel.Chunks(len(a), grain))
	parallel.For(len(a), grain, func(lo, hi int) {
		_, d := dyDot4(a[lo:hi], b[lo:hi], 0)
		part[lo/grain] = d
	})
	var s float64
	for _, v := range part {
		s += v
	}
	return s
}

// MulConst returns x·c for a constant c, for x of any rank; its gradient
// is dy·c.
func MulConst(x *G.Node, c float64) *G.Node { return Apply(mulConstKernel{c: c, dims: x.Dims()}, x) }

type mulConstKernel struct {
	c    float64
	dims int
}

func (k mulConstKernel) Name() string  { return fmt.Sprintf("MulConst(%g)", k.c) }
func (k mulConstKernel) InDims() []int { return []int{k.dims} }
func (k mulConstKernel) OutShape(in []tensor.Shape) (tensor.Shape, error) {
	return in[0].Clone(), nil
}
func (k mulConstKernel) DiffWRT() []bool { return []bool{true} }
func (k mulConstKernel) Grad(in G.Nodes, out, dy *G.Node) (G.Nodes, error) {
	return G.Nodes{Apply(k, dy)}, nil
}

func (k mulConstKernel) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	if err := checkDense(in); err != nil {
		return err
	}
	switch y := out.Data().(type) {
	case []float32:
		scaleVec(y, asSlice[float32](in[0]), float32(k.c))
	case []float64:
		scaleVec(y, asSlice[float64](in[0]), k.c)
	default:
		return errDtype(out)
	}
	return nil
}

// Exp returns exp(x) element-wise (torch.exp), computed in float64 and
// rounded, for x of any rank; its gradient is dy·exp(x). In float32 it
// overflows to +Inf above x ≈ 88.7, like PyTorch: clamp the input first
// where that can happen (FCOS3D's depth and size decoding).
func Exp(x *G.Node) *G.Node { return Apply(expKernel{dims: x.Dims()}, x) }

type expKernel struct{ dims int }

func (k expKernel) Name() string                                     { return "Exp" }
func (k expKernel) InDims() []int                                    { return []int{k.dims} }
func (k expKernel) OutShape(in []tensor.Shape) (tensor.Shape, error) { return in[0].Clone(), nil }
func (k expKernel) DiffWRT() []bool                                  { return []bool{true} }
func (k expKernel) Grad(in G.Nodes, out, dy *G.Node) (G.Nodes, error) {
	return G.Nodes{Apply(mulKernel{dims: k.dims}, dy, out)}, nil
}

func (k expKernel) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	if err := checkDense(in); err != nil {
		return err
	}
	switch y := out.Data().(type) {
	case []float32:
		expVec(y, asSlice[float32](in[0]))
	case []float64:
		expVec(y, asSlice[float64](in[0]))
	default:
		return errDtype(out)
	}
	return nil
}

func expVec[T floating](y, x []T) {
	parallel.For(len(y), elemGrain(len(y)), func(lo, hi int) {
		y, x := y[lo:hi], x[lo:hi]
		for i, v := range x {
			y[i] = T(math.Exp(float64(v)))
		}
	})
}

// mulKernel is the element-wise product a·b of equal shapes (the
// gradient of Exp).
type mulKernel struct{ dims int }

func (k mulKernel) Name() string                                     { return "Mul" }
func (k mulKernel) InDims() []int                                    { return []int{k.dims, k.dims} }
func (k mulKernel) OutShape(in []tensor.Shape) (tensor.Shape, error) { return sameShapes(in) }
func (k mulKernel) DiffWRT() []bool                                  { return []bool{true, true} }
func (k mulKernel) Grad(in G.Nodes, out, dy *G.Node) (G.Nodes, error) {
	return G.Nodes{Apply(k, dy, in[1]), Apply(k, dy, in[0])}, nil
}

func (k mulKernel) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	if err := checkDense(in); err != nil {
		return err
	}
	switch y := out.Data().(type) {
	case []float32:
		mulVec(y, asSlice[float32](in[0]), asSlice[float32](in[1]))
	case []float64:
		mulVec(y, asSlice[float64](in[0]), asSlice[float64](in[1]))
	default:
		return errDtype(out)
	}
	return nil
}

func mulVec[T floating](y, a, b []T) {
	parallel.For(len(y), elemGrain(len(y)), func(lo, hi int) {
		y, a, b := y[lo:hi], a[lo:hi], b[lo:hi]
		for i := range y {
			y[i] = a[i] * b[i]
		}
	})
}
