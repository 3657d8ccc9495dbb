package nn

import (
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// StopGradient returns x unchanged in the forward pass and blocks the
// gradient in the backward pass (PyTorch's x.detach()). SimSiam, DiSiam and
// the BYOL family use it on their targets.
func StopGradient(x *G.Node) *G.Node { return Apply(stopGradient{dims: x.Dims()}, x) }

type stopGradient struct{ dims int }

func (k stopGradient) Name() string                                     { return "StopGradient" }
func (k stopGradient) InDims() []int                                    { return []int{k.dims} }
func (k stopGradient) OutShape(in []tensor.Shape) (tensor.Shape, error) { return in[0], nil }
func (k stopGradient) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	copyData(out, in[0])
	return nil
}
func (k stopGradient) DiffWRT() []bool { return []bool{false} }
func (k stopGradient) Grad(in G.Nodes, _, _ *G.Node) (G.Nodes, error) {
	return G.Nodes{nil}, nil
}

// copyData copies src's elements into dst (same dtype and size).
func copyData(dst, src *tensor.Dense) {
	switch d := dst.Data().(type) {
	case []float32:
		copy(d, asSlice[float32](src))
	case []float64:
		copy(d, asSlice[float64](src))
	}
}

// asSlice returns the elements of t as a slice, also for a scalar tensor.
func asSlice[T float32 | float64](t *tensor.Dense) []T {
	switch d := t.Data().(type) {
	case []T:
		return d
	case T:
		return []T{d}
	}
	panic("nn: dtype mismatch")
}
