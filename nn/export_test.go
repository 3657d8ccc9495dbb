package nn

import (
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// BatchNormWith applies b's normalization with the given weight and bias
// nodes (nil, nil without affine), so a gradient check can perturb them.
func BatchNormWith(b *BatchNorm, x, w, bias *G.Node) *G.Node { return batchNorm(b, x, w, bias) }

// ResetEachRun returns x unchanged and sets *counter to 0 each time the
// graph runs, before the nodes that depend on its output: a gradient check
// of Dropout then sees the same mask in every run.
func ResetEachRun(x *G.Node, counter *uint64) *G.Node {
	return Apply(resetKernel{dims: x.Dims(), counter: counter}, x)
}

type resetKernel struct {
	dims    int
	counter *uint64
}

func (k resetKernel) Name() string                                     { return "ResetEachRun" }
func (k resetKernel) InDims() []int                                    { return []int{k.dims} }
func (k resetKernel) OutShape(in []tensor.Shape) (tensor.Shape, error) { return in[0].Clone(), nil }
func (k resetKernel) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	*k.counter = 0
	copyData(out, in[0])
	return nil
}
func (k resetKernel) DiffWRT() []bool { return []bool{true} }
func (k resetKernel) Grad(in G.Nodes, out, dy *G.Node) (G.Nodes, error) {
	return G.Nodes{dy}, nil
}
