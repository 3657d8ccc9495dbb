package distributed

import (
	"fmt"
	"unsafe"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/nn"
)

// AllGather returns the rows of x [B, ...] of every rank, concatenated in
// rank order: a node [Size·B, ...] whose rows rank·B … rank·B+B-1 are this
// rank's x. It is differentiable: the backward pass sums the incoming
// gradient over the ranks (AllReduceSum) and keeps this rank's rows.
//
// The sum is what makes the gradient right. The data-parallel objective
// is the mean of the ranks' losses, J = (1/N) Σ_r L_r, and the training
// loop averages the ranks' parameter gradients. When every L_r depends on
// every rank's rows (SimCLR's negatives), this rank's rows x_s get
// gradient from every loss: Σ_r ∂L_r/∂x_s. The gradient arriving at this
// rank's copy of the gathered node holds only ∂L_s/∂(all rows); summing it
// over the ranks and keeping rows s gives Σ_r ∂L_r/∂x_s. Keeping the slice
// without the sum (a common mistake, which lightly fixed in its
// GatherLayer) drops the other ranks' terms: the gradient of the negatives
// then no longer matches the single-process run's.
//
// With Local (or a nil Comm) it is the identity. The Comm's collectives
// run inside the graph's forward and backward passes, so every rank must
// build the same graph.
func AllGather(c Comm, x *G.Node) *G.Node {
	c = Or(c)
	if x.Dims() < 1 {
		panic(fmt.Sprintf("distributed: AllGather of a scalar %v", x.Shape()))
	}
	return nn.Apply(&gatherKernel{c: c, dims: x.Dims()}, x)
}

// gatherKernel gathers float32 rows with AllGather and float64 rows (the
// gradient checks') as pairs of float32 words: the gather copies bits.
type gatherKernel struct {
	c    Comm
	dims int
}

func (k *gatherKernel) Name() string {
	return fmt.Sprintf("AllGather(rank=%d,size=%d)", k.c.Rank(), k.c.Size())
}
func (k *gatherKernel) InDims() []int { return []int{k.dims} }
func (k *gatherKernel) OutShape(in []tensor.Shape) (tensor.Shape, error) {
	s := in[0].Clone()
	s[0] *= k.c.Size()
	return s, nil
}
func (k *gatherKernel) DiffWRT() []bool { return []bool{true} }
func (k *gatherKernel) Grad(in G.Nodes, out, dy *G.Node) (G.Nodes, error) {
	return G.Nodes{nn.Apply(&gatherGradKernel{fwd: k}, dy, in[0])}, nil
}

func (k *gatherKernel) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	send, recv, err := words(in[0], out)
	if err != nil {
		return err
	}
	return k.c.AllGather(send, recv)
}

// words views the float32 or float64 data of a and b as float32 words.
func words(a, b *tensor.Dense) ([]float32, []float32, error) {
	switch ad := a.Data().(type) {
	case []float32:
		bd, ok := b.Data().([]float32)
		if !ok {
			return nil, nil, fmt.Errorf("dtypes %v and %v", a.Dtype(), b.Dtype())
		}
		return ad, bd, nil
	case []float64:
		bd, ok := b.Data().([]float64)
		if !ok {
			return nil, nil, fmt.Errorf("dtypes %v and %v", a.Dtype(), b.Dtype())
		}
		return as32(ad), as32(bd), nil
	}
	return nil, nil, fmt.Errorf("dtype %v, want float32 or float64", a.Dtype())
}

func as32(d []float64) []float32 {
	if len(d) == 0 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&d[0])), 2*len(d))
}

// gatherGradKernel computes dx from (dy [Size·B, ...], x): the sum of dy
// over the ranks, rows rank·B … rank·B+B-1. x is an input for its shape.
type gatherGradKernel struct {
	fwd *gatherKernel
	sum []float32
	f64 []float64
}

func (k *gatherGradKernel) Name() string  { return k.fwd.Name() + "Grad" }
func (k *gatherGradKernel) InDims() []int { return []int{k.fwd.dims, k.fwd.dims} }
func (k *gatherGradKernel) OutShape(in []tensor.Shape) (tensor.Shape, error) {
	return in[1].Clone(), nil
}

func (k *gatherGradKernel) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	c := k.fwd.c
	n := out.Shape().TotalSize()
	lo := c.Rank() * n
	switch dy := in[0].Data().(type) {
	case []float32:
		if len(k.sum) != len(dy) {
			k.sum = make([]float32, len(dy))
		}
		copy(k.sum, dy)
		if err := c.AllReduceSum(k.sum); err != nil {
			return err
		}
		copy(out.Data().([]float32), k.sum[lo:lo+n])
	case []float64:
		if len(k.f64) != len(dy) {
			k.f64 = make([]float64, len(dy))
		}
		copy(k.f64, dy)
		if err := c.AllReduceSum64(k.f64); err != nil {
			return err
		}
		copy(out.Data().([]float64), k.f64[lo:lo+n])
	default:
		return fmt.Errorf("dtype %v, want float32 or float64", in[0].Dtype())
	}
	return nil
}
