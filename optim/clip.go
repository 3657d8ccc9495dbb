package optim

import (
	"fmt"
	"math"

	"gorgonia.org/tensor"

	"github.com/disiam/disiam/internal/parallel"
	"github.com/disiam/disiam/nn"
)

// GradNorm returns the norm of the gradients of params taken together as
// one vector, torch.nn.utils.clip_grad_norm_'s total_norm: the p-norm
// (normType; math.Inf(1) for the largest absolute value) of the vector of
// the parameters' own p-norms. Parameters without a gradient are left
// out; without any it is 0. The sums run in float64 in fixed chunks, so
// the result does not depend on the number of goroutines, and are
// rounded to float32 as PyTorch's float32 norm is.
func GradNorm(params []*nn.Param, normType float64) float64 {
	if !(normType > 0) {
		panic(fmt.Sprintf("optim: GradNorm: norm type %v, want > 0", normType))
	}
	inf := math.IsInf(normType, 1)
	var norms []float64
	for _, p := range params {
		g := grad("GradNorm", p)
		if g == nil {
			continue
		}
		parts := make([]float64, parallel.Chunks(len(g), elemGrain))
		parallel.For(len(g), elemGrain, func(lo, hi int) {
			var s float64
			for _, v := range g[lo:hi] {
				a := math.Abs(float64(v))
				switch {
				case inf:
					s = math.Max(s, a)
				case normType == 2:
					s += a * a
				default:
					s += math.Pow(a, normType)
				}
			}
			parts[lo/elemGrain] = s
		})
		var s float64
		for _, v := range parts {
			if inf {
				s = math.Max(s, v)
			} else {
				s += v
			}
		}
		if !inf {
			s = float64(float32(math.Pow(s, 1/normType))) // torch.norm of one tensor, float32
		}
		norms = append(norms, s)
	}
	var total float64
	for _, n := range norms {
		if inf {
			total = math.Max(total, n)
		} else {
			total += math.Pow(n, normType)
		}
	}
	if !inf {
		total = math.Pow(total, 1/normType)
	}
	return float64(float32(total))
}

// GradClipper rescales gradients to a largest total norm, as
// torch.nn.utils.clip_grad_norm_(params, MaxNorm, NormType) does before
// an optimizer step (detectors clip to keep the first iterations from
// exploding: FCOS3D clips at 35):
//
//	total = GradNorm(params, NormType)
//	coef  = min(1, MaxNorm / (total + 1e-6))      (float32)
//	g     = g · coef                              (every gradient)
//
// A non-finite total gives NaN (or zero) gradients, as in PyTorch
// (error_if_nonfinite False), so the training loop's finiteness check
// stops the run. The scaled gradients are written to buffers the clipper
// owns and each Grad is pointed at its buffer (gradient tensors of a
// compiled graph may share storage, so they are never scaled in place);
// they stay valid until the next Clip.
type GradClipper struct {
	MaxNorm float64
	// NormType is the p of the norm; 0 means 2.
	NormType float64

	bufs map[*nn.Param]*tensor.Dense
}

// Clip rescales the gradients of params and returns their total norm
// before clipping (what clip_grad_norm_ returns).
func (c *GradClipper) Clip(params []*nn.Param) float64 {
	if !(c.MaxNorm > 0) {
		panic(fmt.Sprintf("optim: GradClipper: MaxNorm %v, want > 0", c.MaxNorm))
	}
	nt := c.NormType
	if nt == 0 {
		nt = 2
	}
	total := GradNorm(params, nt)
	coef := float32(c.MaxNorm) / (float32(total) + 1e-6)
	if coef >= 1 {
		return total // multiplying by the clamped 1 changes nothing
	}
	if c.bufs == nil {
		c.bufs = map[*nn.Param]*tensor.Dense{}
	}
	for _, p := range params {
		g := grad("GradClipper", p)
		if g == nil {
			continue
		}
		b, ok := c.bufs[p]
		if !ok {
			b = tensor.New(tensor.WithShape(p.Shape().Clone()...), tensor.Of(tensor.Float32))
			c.bufs[p] = b
		}
		d := b.Data().([]float32)
		parallel.For(len(g), elemGrain, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				d[i] = g[i] * coef
			}
		})
		p.Grad = b
	}
	return total
}
