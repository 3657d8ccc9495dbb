package nn

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/internal/parallel"
)

// MaxPool2d returns the maximum over each kernel×kernel window of x
// [N, C, H, W], windows stride apart, with x implicitly padded by padding
// positions of -inf on each side: torch.nn.functional.max_pool2d with
// dilation 1 and ceil_mode False. The output is [N, C, (H+2p-k)/s+1,
// (W+2p-k)/s+1]. As in PyTorch, the padding must be at most half the
// kernel; the gradient of each output goes to the first maximal element of
// its window in row-major scan order (ties included); and a NaN in a
// window is its maximum, the gradient going to the window's last NaN.
// ResNet's stem uses MaxPool2d(x, 3, 2, 1).
func MaxPool2d(x *G.Node, kernel, stride, padding int) *G.Node {
	k := &maxPoolKernel{k: kernel, s: stride, p: padding}
	if kernel <= 0 || stride <= 0 || padding < 0 || 2*padding > kernel {
		panic(fmt.Sprintf("nn: %s: need kernel > 0, stride > 0 and 0 <= padding <= kernel/2", k.Name()))
	}
	if x.Dims() != 4 {
		panic(fmt.Sprintf("nn: %s: input %v, want [N, C, H, W]", k.Name(), x.Shape()))
	}
	return Apply(k, x)
}

// maxPoolKernel keeps, for each output element, the flat index within its
// (n, c) plane of the input element it took, for the backward pass.
type maxPoolKernel struct {
	k, s, p int
	argmax  []int32
}

func (k *maxPoolKernel) Name() string {
	return fmt.Sprintf("MaxPool2d(k=%d, s=%d, p=%d)", k.k, k.s, k.p)
}
func (k *maxPoolKernel) InDims() []int { return []int{4} }

func (k *maxPoolKernel) outHW(h, w int) (int, int) {
	return (h+2*k.p-k.k)/k.s + 1, (w+2*k.p-k.k)/k.s + 1
}

func (k *maxPoolKernel) OutShape(in []tensor.Shape) (tensor.Shape, error) {
	x := in[0]
	oh, ow := k.outHW(x[2], x[3])
	if x[2]+2*k.p < k.k || x[3]+2*k.p < k.k || oh <= 0 || ow <= 0 {
		return nil, fmt.Errorf("input %v is smaller than the kernel", x)
	}
	return tensor.Shape{x[0], x[1], oh, ow}, nil
}

func (k *maxPoolKernel) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	if err := checkDense(in); err != nil {
		return err
	}
	xs := in[0].Shape()
	if n := out.Shape().TotalSize(); len(k.argmax) != n {
		k.argmax = make([]int32, n)
	}
	if xs[2]*xs[3] > math.MaxInt32 {
		return fmt.Errorf("input plane %v too large", xs)
	}
	switch y := out.Data().(type) {
	case []float32:
		maxPoolForward(k, y, asSlice[float32](in[0]), xs)
	case []float64:
		maxPoolForward(k, y, asSlice[float64](in[0]), xs)
	default:
		return errDtype(out)
	}
	return nil
}

func maxPoolForward[T floating](k *maxPoolKernel, y, x []T, xs tensor.Shape) {
	h, w := xs[2], xs[3]
	oh, ow := k.outHW(h, w)
	planes := xs[0] * xs[1]
	parallel.For(planes, planeGrain(planes, h*w), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			xp := x[p*h*w : (p+1)*h*w]
			yp, ap := y[p*oh*ow:(p+1)*oh*ow], k.argmax[p*oh*ow:(p+1)*oh*ow]
			for oy := 0; oy < oh; oy++ {
				y0 := oy*k.s - k.p
				y1 := min(y0+k.k, h)
				y0 = max(y0, 0)
				for ox := 0; ox < ow; ox++ {
					x0 := ox*k.s - k.p
					x1 := min(x0+k.k, w)
					x0 = max(x0, 0)
					// PyTorch's scan: start at the window's first valid
					// element with -inf, take strictly greater or NaN (so
					// the last NaN of a window wins, as there).
					best := y0*w + x0
					bv := T(math.Inf(-1))
					for iy := y0; iy < y1; iy++ {
						row := xp[iy*w : iy*w+x1]
						for ix := x0; ix < x1; ix++ {
							if v := row[ix]; v > bv || v != v {
								bv, best = v, iy*w+ix
							}
						}
					}
					yp[oy*ow+ox] = bv
					ap[oy*ow+ox] = int32(best)
				}
			}
		}
	})
}

func (k *maxPoolKernel) DiffWRT() []bool { return []bool{true} }
func (k *maxPoolKernel) Grad(in G.Nodes, out, dy *G.Node) (G.Nodes, error) {
	return G.Nodes{Apply(maxPoolGradKernel{fwd: k}, in[0], out, dy)}, nil
}

// maxPoolGradKernel scatters dy to the argmax positions: inputs (x, y, dy),
// x for its shape and y so that it runs after the forward pass.
type maxPoolGradKernel struct{ fwd *maxPoolKernel }

func (k maxPoolGradKernel) Name() string  { return k.fwd.Name() + "Grad" }
func (k maxPoolGradKernel) InDims() []int { return []int{4, 4, 4} }
func (k maxPoolGradKernel) OutShape(in []tensor.Shape) (tensor.Shape, error) {
	if !in[1].Eq(in[2]) {
		return nil, fmt.Errorf("output %v and its gradient %v differ", in[1], in[2])
	}
	return in[0].Clone(), nil
}

func (k maxPoolGradKernel) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	if err := checkDense(in); err != nil {
		return err
	}
	if len(k.fwd.argmax) != in[2].Shape().TotalSize() {
		return fmt.Errorf("backward pass before the forward pass")
	}
	xs, ys := in[0].Shape(), in[2].Shape()
	switch dx := out.Data().(type) {
	case []float32:
		maxPoolBackward(dx, asSlice[float32](in[2]), k.fwd.argmax, xs[0]*xs[1], xs[2]*xs[3], ys[2]*ys[3])
	case []float64:
		maxPoolBackward(dx, asSlice[float64](in[2]), k.fwd.argmax, xs[0]*xs[1], xs[2]*xs[3], ys[2]*ys[3])
	default:
		return errDtype(out)
	}
	return nil
}

// maxPoolBackward adds dy to the argmax positions of each plane, in output
// order, so overlapping windows sum deterministically.
func maxPoolBackward[T floating](dx, dy []T, argmax []int32, planes, in, out int) {
	parallel.For(planes, planeGrain(planes, in), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			dxp := dx[p*in : (p+1)*in]
			clear(dxp)
			dyp, ap := dy[p*out:(p+1)*out], argmax[p*out:(p+1)*out]
			for i, g := range dyp {
				dxp[ap[i]] += g
			}
		}
	})
}

// GlobalAvgPool2d averages x [N, C, H, W] over H and W into [N, C]: the
// pooling before a ResNet's or EfficientNet's classifier
// (AdaptiveAvgPool2d(1) followed by flatten). Sums are taken in float64.
func GlobalAvgPool2d(x *G.Node) *G.Node {
	if x.Dims() != 4 {
		panic(fmt.Sprintf("nn: GlobalAvgPool2d: input %v, want [N, C, H, W]", x.Shape()))
	}
	return Apply(avgPoolKernel{}, x)
}

type avgPoolKernel struct{}

func (avgPoolKernel) Name() string  { return "GlobalAvgPool2d" }
func (avgPoolKernel) InDims() []int { return []int{4} }
func (avgPoolKernel) OutDims() int  { return 2 }
func (avgPoolKernel) OutShape(in []tensor.Shape) (tensor.Shape, error) {
	return tensor.Shape{in[0][0], in[0][1]}, nil
}

func (avgPoolKernel) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	if err := checkDense(in); err != nil {
		return err
	}
	s := in[0].Shape()
	switch y := out.Data().(type) {
	case []float32:
		planeDot(y, asSlice[float32](in[0]), nil, s[2]*s[3], true)
	case []float64:
		planeDot(y, asSlice[float64](in[0]), nil, s[2]*s[3], true)
	default:
		return errDtype(out)
	}
	return nil
}

func (avgPoolKernel) DiffWRT() []bool { return []bool{true} }
func (avgPoolKernel) Grad(in G.Nodes, out, dy *G.Node) (G.Nodes, error) {
	return G.Nodes{Apply(avgPoolGradKernel{}, dy, in[0])}, nil
}

// planeDot sets y[p] = Σ_i a[p*s+i]*b[p*s+i] for each plane p (Σ a when b
// is nil), divided by s when mean, accumulating in float64.
func planeDot[T floating](y, a, b []T, s int, mean bool) {
	parallel.For(len(y), planeGrain(len(y), s), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			ap := a[p*s : (p+1)*s]
			var t float64
			if b == nil {
				for _, v := range ap {
					t += float64(v)
				}
			} else {
				bp := b[p*s : (p+1)*s]
				for i, v := range ap {
					t += float64(v) * float64(bp[i])
				}
			}
			if mean {
				t /= float64(s)
			}
			y[p] = T(t)
		}
	})
}

// avgPoolGradKernel spreads dy [N, C] evenly over x's [N, C, H, W]; x is an
// input for its shape only.
type avgPoolGradKernel struct{}

func (avgPoolGradKernel) Name() string  { return "GlobalAvgPool2dGrad" }
func (avgPoolGradKernel) InDims() []int { return []int{2, 4} }
func (avgPoolGradKernel) OutDims() int  { return 4 }
func (avgPoolGradKernel) OutShape(in []tensor.Shape) (tensor.Shape, error) {
	return in[1].Clone(), nil
}

func (avgPoolGradKernel) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	if err := checkDense(in); err != nil {
		return err
	}
	s := in[1].Shape()
	switch dx := out.Data().(type) {
	case []float32:
		spread(dx, asSlice[float32](in[0]), s[2]*s[3])
	case []float64:
		spread(dx, asSlice[float64](in[0]), s[2]*s[3])
	default:
		return errDtype(out)
	}
	return nil
}

func spread[T floating](dx, dy []T, s int) {
	n := T(s)
	parallel.For(len(dy), planeGrain(len(dy), s), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			v := dy[p] / n
			dp := dx[p*s : (p+1)*s]
			for i := range dp {
				dp[i] = v
			}
		}
	})
}

// ScaleChannels returns x [N, C, H, W] with plane (n, c) multiplied by
// s[n, c] (s is [N, C]): the broadcast multiply x * s[:, :, None, None] of
// squeeze-and-excitation. Gradients: dx = dy*s, ds = Σ_hw dy*x (in
// float64).
func ScaleChannels(x, s *G.Node) *G.Node {
	if x.Dims() != 4 || s.Dims() != 2 {
		panic(fmt.Sprintf("nn: ScaleChannels: x %v, s %v: want [N, C, H, W] and [N, C]", x.Shape(), s.Shape()))
	}
	return Apply(scaleChannelsKernel{}, x, s)
}

type scaleChannelsKernel struct{}

func (scaleChannelsKernel) Name() string  { return "ScaleChannels" }
func (scaleChannelsKernel) InDims() []int { return []int{4, 2} }
func (scaleChannelsKernel) OutShape(in []tensor.Shape) (tensor.Shape, error) {
	if in[1][0] != in[0][0] || in[1][1] != in[0][1] {
		return nil, fmt.Errorf("scale %v does not match x %v", in[1], in[0])
	}
	return in[0].Clone(), nil
}

func (scaleChannelsKernel) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	if err := checkDense(in); err != nil {
		return err
	}
	s := in[0].Shape()
	switch y := out.Data().(type) {
	case []float32:
		scalePlanes(y, asSlice[float32](in[0]), asSlice[float32](in[1]), s[2]*s[3])
	case []float64:
		scalePlanes(y, asSlice[float64](in[0]), asSlice[float64](in[1]), s[2]*s[3])
	default:
		return errDtype(out)
	}
	return nil
}

func scalePlanes[T floating](y, x, s []T, sp int) {
	parallel.For(len(s), planeGrain(len(s), sp), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			f := s[p]
			yp, xp := y[p*sp:(p+1)*sp], x[p*sp:(p+1)*sp]
			for i, v := range xp {
				yp[i] = v * f
			}
		}
	})
}

func (scaleChannelsKernel) DiffWRT() []bool { return []bool{true, true} }
func (scaleChannelsKernel) Grad(in G.Nodes, out, dy *G.Node) (G.Nodes, error) {
	return G.Nodes{
		Apply(scaleChannelsKernel{}, dy, in[1]),
		Apply(planeDotKernel{}, dy, in[0]),
	}, nil
}

// planeDotKernel returns Σ_hw a*b for a, b [N, C, H, W], as [N, C].
type planeDotKernel struct{}

func (planeDotKernel) Name() string  { return "PlaneDot" }
func (planeDotKernel) InDims() []int { return []int{4, 4} }
func (planeDotKernel) OutDims() int  { return 2 }
func (planeDotKernel) OutShape(in []tensor.Shape) (tensor.Shape, error) {
	if _, err := sameShapes(in); err != nil {
		return nil, err
	}
	return tensor.Shape{in[0][0], in[0][1]}, nil
}

func (planeDotKernel) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	if err := checkDense(in); err != nil {
		return err
	}
	s := in[0].Shape()
	switch y := out.Data().(type) {
	case []float32:
		planeDot(y, asSlice[float32](in[0]), asSlice[float32](in[1]), s[2]*s[3], false)
	case []float64:
		planeDot(y, asSlice[float64](in[0]), asSlice[float64](in[1]), s[2]*s[3], false)
	default:
		return errDtype(out)
	}
	return nil
}
