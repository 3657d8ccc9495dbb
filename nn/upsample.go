package nn

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/internal/parallel"
)

// NearestSourceIndex is the input row (or column) that output row dst of a
// nearest-neighbour resize from in to out rows reads, exactly as PyTorch
// 1.13's CPU kernel (and torchvision's FPN, through F.interpolate(size=...,
// mode="nearest")) computes it: the identity when in == out, dst/2 when
// out == 2·in, and otherwise
//
//	min(floor(float32(dst) · (float32(in) / float32(out))), in − 1)
//
// with the scale and the product rounded to float32. The same formula in
// float64 picks a different row for 110 of the 7,611 pairs with in ≤ 59 and
// out ≤ 129 (exact rational arithmetic for 70), so the float32 arithmetic
// is part of the semantics.
func NearestSourceIndex(dst, in, out int) int {
	switch {
	case in == out:
		return dst
	case out == 2*in:
		return dst >> 1
	}
	scale := float32(in) / float32(out)
	// Go evaluates float32 expressions in float32, like floorf(dst*scale).
	p := float32(dst) * scale
	return min(int(p), in-1) // p ≥ 0: truncation is floor
}

// UpsampleNearest resizes x [N, C, H, W] to [N, C, h, w] by
// nearest-neighbour sampling, torch.nn.functional.interpolate(x, size=(h,
// w), mode="nearest"): output (i, j) copies input (NearestSourceIndex(i, H,
// h), NearestSourceIndex(j, W, w)). Its gradient sums each output
// gradient into the input element it was copied from.
func UpsampleNearest(x *G.Node, h, w int) *G.Node {
	if x.Dims() != 4 || h <= 0 || w <= 0 {
		panic(fmt.Sprintf("nn: UpsampleNearest: input %v to %dx%d, want [N, C, H, W] and a positive size", x.Shape(), h, w))
	}
	return Apply(&upsampleKernel{h: h, w: w}, x)
}

// nearestTable lists NearestSourceIndex(i, in, out) for i < out.
func nearestTable(in, out int) []int {
	t := make([]int, out)
	for i := range t {
		t[i] = NearestSourceIndex(i, in, out)
	}
	return t
}

type upsampleKernel struct {
	h, w   int
	inH    int
	inW    int
	rows   []int // source row of each output row
	cols   []int // source column of each output column
	inited bool
}

func (k *upsampleKernel) Name() string  { return fmt.Sprintf("UpsampleNearest(%dx%d)", k.h, k.w) }
func (k *upsampleKernel) InDims() []int { return []int{4} }
func (k *upsampleKernel) OutShape(in []tensor.Shape) (tensor.Shape, error) {
	s := in[0]
	return tensor.Shape{s[0], s[1], k.h, k.w}, nil
}

// tables (re)computes the index tables for an input of inH x inW.
func (k *upsampleKernel) tables(inH, inW int) {
	if k.inited && k.inH == inH && k.inW == inW {
		return
	}
	k.inH, k.inW = inH, inW
	k.rows, k.cols = nearestTable(inH, k.h), nearestTable(inW, k.w)
	k.inited = true
}

func (k *upsampleKernel) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	if err := checkDense(in); err != nil {
		return err
	}
	s := in[0].Shape()
	k.tables(s[2], s[3])
	planes := s[0] * s[1]
	switch y := out.Data().(type) {
	case []float32:
		upsampleForward(k, y, asSlice[float32](in[0]), planes)
	case []float64:
		upsampleForward(k, y, asSlice[float64](in[0]), planes)
	default:
		return errDtype(out)
	}
	return nil
}

func upsampleForward[T floating](k *upsampleKernel, y, x []T, planes int) {
	ip, op := k.inH*k.inW, k.h*k.w
	parallel.For(planes, planeGrain(planes, op), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			xp, yp := x[p*ip:(p+1)*ip], y[p*op:(p+1)*op]
			for i, r := range k.rows {
				src, dst := xp[r*k.inW:(r+1)*k.inW], yp[i*k.w:(i+1)*k.w]
				for j, c := range k.cols {
					dst[j] = src[c]
				}
			}
		}
	})
}

func (k *upsampleKernel) DiffWRT() []bool { return []bool{true} }
func (k *upsampleKernel) Grad(in G.Nodes, out, dy *G.Node) (G.Nodes, error) {
	return G.Nodes{Apply(&upsampleGradKernel{fwd: k, shape: in[0].Shape().Clone()}, dy, out)}, nil
}

// upsampleGradKernel scatters dy [N, C, h, w] back to [N, C, H, W]; it takes
// the forward output only to run after the forward pass (which builds the
// index tables).
type upsampleGradKernel struct {
	fwd   *upsampleKernel
	shape tensor.Shape
}

func (k *upsampleGradKernel) Name() string  { return k.fwd.Name() + "Grad" }
func (k *upsampleGradKernel) InDims() []int { return []int{4, 4} }
func (k *upsampleGradKernel) OutShape(in []tensor.Shape) (tensor.Shape, error) {
	return k.shape.Clone(), nil
}

func (k *upsampleGradKernel) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	if err := checkDense(in); err != nil {
		return err
	}
	f := k.fwd
	f.tables(k.shape[2], k.shape[3])
	planes := k.shape[0] * k.shape[1]
	switch dx := out.Data().(type) {
	case []float32:
		upsampleBackward(f, dx, asSlice[float32](in[0]), planes)
	case []float64:
		upsampleBackward(f, dx, asSlice[float64](in[0]), planes)
	default:
		return errDtype(out)
	}
	return nil
}

// upsampleBackward adds each output gradient into its source element, in
// output order (so sums are formed in a fixed order).
func upsampleBackward[T floating](k *upsampleKernel, dx, dy []T, planes int) {
	ip, op := k.inH*k.inW, k.h*k.w
	parallel.For(planes, planeGrain(planes, op), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			xp, yp := dx[p*ip:(p+1)*ip], dy[p*op:(p+1)*op]
			clear(xp)
			for i, r := range k.rows {
				dst, src := xp[r*k.inW:(r+1)*k.inW], yp[i*k.w:(i+1)*k.w]
				for j, c := range k.cols {
					dst[c] += src[j]
				}
			}
		}
	})
}
