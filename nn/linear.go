package nn

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/internal/linalg"
	"github.com/disiam/disiam/internal/parallel"
)

// LinearOp returns x Wᵀ + b for x [N, In], w [Out, In] and b [Out], or
// x Wᵀ when b is nil: torch.nn.functional.linear. The product runs through
// internal/linalg (its native float32 GEMM, gonum, or OpenBLAS with -tags
// openblas), split over the cores; gradients are dy W for x, dyᵀ x for w and the column sums
// of dy for b.
func LinearOp(x, w, b *G.Node) *G.Node { return linearOp(x, w, b, false) }

// LinearAcc64Op is LinearOp whose float32 forward sums every output in
// float64 (the products of two float32 values are exact there) and
// rounds it once, so each output is the float64 result rounded to
// float32, whatever the summation order or the number of goroutines. It
// is meant for small layers whose outputs are sensitive to rounding, such
// as the squeeze-and-excitation gates of EfficientNet, whose pre-sigmoid
// values can be large sums of cancelling terms: there the float32 GEMM's
// rounding, amplified through the gates of 16 blocks, is the largest part
// of a deep network's float32 error. It runs at scalar float64 speed
// (about 1 GFLOP/s a core, where the GEMM reaches 50-90), so it suits
// layers of a few million multiply-adds per batch at most. Gradients are
// LinearOp's (float32 GEMMs).
func LinearAcc64Op(x, w, b *G.Node) *G.Node { return linearOp(x, w, b, true) }

func linearOp(x, w, b *G.Node, acc64 bool) *G.Node {
	if x.Dims() != 2 || w.Dims() != 2 {
		panic(fmt.Sprintf("nn: LinearOp: x %v and w %v must be matrices", x.Shape(), w.Shape()))
	}
	if b == nil {
		return Apply(linearKernel{acc64: acc64}, x, w)
	}
	return Apply(linearKernel{bias: true, acc64: acc64}, x, w, b)
}

type linearKernel struct{ bias, acc64 bool }

func (k linearKernel) Name() string {
	if k.acc64 {
		return "LinearAcc64"
	}
	return "Linear"
}
func (k linearKernel) InDims() []int {
	if k.bias {
		return []int{2, 2, 1}
	}
	return []int{2, 2}
}

func (k linearKernel) OutShape(in []tensor.Shape) (tensor.Shape, error) {
	x, w := in[0], in[1]
	if x[1] != w[1] {
		return nil, fmt.Errorf("x %v and weight %v: in features differ", x, w)
	}
	if k.bias && (in[2].Dims() != 1 || in[2][0] != w[0]) {
		return nil, fmt.Errorf("bias %v, want [%d]", in[2], w[0])
	}
	return tensor.Shape{x[0], w[0]}, nil
}

func (k linearKernel) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	if err := checkDense(in); err != nil {
		return err
	}
	s := in[1].Shape()
	switch y := out.Data().(type) {
	case []float32:
		if k.acc64 {
			linearAcc64(y, in, in[0].Shape()[0], s[1], s[0])
			break
		}
		linearForward(y, in, in[0].Shape()[0], s[1], s[0])
	case []float64:
		linearForward(y, in, in[0].Shape()[0], s[1], s[0])
	default:
		return errDtype(out)
	}
	return nil
}

func linearForward[T floating](y []T, in []*tensor.Dense, n, nin, nout int) {
	x, w := asSlice[T](in[0]), asSlice[T](in[1])
	linalg.ParallelGemm(false, true, n, nout, nin, 1, x, nin, w, nin, 0, y, nout)
	if len(in) == 3 {
		b := asSlice[T](in[2])
		parallel.For(n, parallel.Grain(n, max(1, 1<<12/nout)), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				row := y[i*nout : (i+1)*nout]
				for j := range row {
					row[j] += b[j]
				}
			}
		})
	}
}

// linearAcc64 is linearForward in float64 accumulation (LinearAcc64Op),
// parallel over the outputs of all rows.
func linearAcc64(y []float32, in []*tensor.Dense, n, nin, nout int) {
	x, w := asSlice[float32](in[0]), asSlice[float32](in[1])
	var b []float32
	if len(in) == 3 {
		b = asSlice[float32](in[2])
	}
	parallel.For(n*nout, parallel.Grain(n*nout, max(1, (1<<14)/max(nin, 1))), func(lo, hi int) {
		for o := lo; o < hi; o++ {
			i, j := o/nout, o%nout
			xr, wr := x[i*nin:][:nin], w[j*nin:][:nin]
			var s0, s1, s2, s3 float64
			q := 0
			for ; q+4 <= nin; q += 4 {
				s0 += float64(xr[q]) * float64(wr[q])
				s1 += float64(xr[q+1]) * float64(wr[q+1])
				s2 += float64(xr[q+2]) * float64(wr[q+2])
				s3 += float64(xr[q+3]) * float64(wr[q+3])
			}
			for ; q < nin; q++ {
				s0 += float64(xr[q]) * float64(wr[q])
			}
			t := (s0 + s1) + (s2 + s3)
			if b != nil {
				t += float64(b[j])
			}
			y[o] = float32(t)
		}
	})
}

func (k linearKernel) DiffWRT() []bool { return []bool{true, true, true}[:len(k.InDims())] }

func (k linearKernel) Grad(in G.Nodes, out, dy *G.Node) (G.Nodes, error) {
	gs := G.Nodes{
		Apply(matMulKernel{}, dy, in[1]),             // dx = dy W
		Apply(matMulKernel{transA: true}, dy, in[0]), // dW = dyᵀ x
	}
	if k.bias {
		gs = append(gs, Apply(channelSumKernel{dims: 2}, dy)) // db = Σ_n dy
	}
	return gs, nil
}

// matMulKernel computes op(A) B for matrices, op(A) = Aᵀ when transA. It is
// the building block of LinearOp's gradient and is not itself
// differentiable.
type matMulKernel struct{ transA bool }

func (k matMulKernel) Name() string {
	if k.transA {
		return "MatMulTN"
	}
	return "MatMul"
}
func (k matMulKernel) InDims() []int { return []int{2, 2} }

func (k matMulKernel) OutShape(in []tensor.Shape) (tensor.Shape, error) {
	m, kk := in[0][0], in[0][1]
	if k.transA {
		m, kk = kk, m
	}
	if in[1][0] != kk {
		return nil, fmt.Errorf("inner dimensions of %v and %v differ", in[0], in[1])
	}
	return tensor.Shape{m, in[1][1]}, nil
}

func (k matMulKernel) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	if err := checkDense(in); err != nil {
		return err
	}
	a, b := in[0].Shape(), in[1].Shape()
	m, kk, n := a[0], a[1], b[1]
	if k.transA {
		m, kk = kk, m
	}
	switch c := out.Data().(type) {
	case []float32:
		linalg.ParallelGemm(k.transA, false, m, n, kk, 1, asSlice[float32](in[0]), a[1], asSlice[float32](in[1]), n, 0, c, n)
	case []float64:
		linalg.ParallelGemm(k.transA, false, m, n, kk, 1, asSlice[float64](in[0]), a[1], asSlice[float64](in[1]), n, 0, c, n)
	default:
		return errDtype(out)
	}
	return nil
}

// AddChannelBias adds b [C] to every element of channel c of x, for x
// [N, C, H, W] (a convolution's bias) or [N, C]. The gradient of b is the
// sum of dy over every dimension but the channel.
func AddChannelBias(x, b *G.Node) *G.Node {
	if x.Dims() < 2 || b.Dims() != 1 {
		panic(fmt.Sprintf("nn: AddChannelBias: x %v, b %v: want x [N, C, ...] and b [C]", x.Shape(), b.Shape()))
	}
	return Apply(channelBiasKernel{dims: x.Dims()}, x, b)
}

type channelBiasKernel struct{ dims int }

func (k channelBiasKernel) Name() string  { return "AddChannelBias" }
func (k channelBiasKernel) InDims() []int { return []int{k.dims, 1} }
func (k channelBiasKernel) OutShape(in []tensor.Shape) (tensor.Shape, error) {
	if in[1][0] != in[0][1] {
		return nil, fmt.Errorf("bias %v does not match the %d channels of %v", in[1], in[0][1], in[0])
	}
	return in[0].Clone(), nil
}
func (k channelBiasKernel) DiffWRT() []bool { return []bool{true, true} }
func (k channelBiasKernel) Grad(in G.Nodes, out, dy *G.Node) (G.Nodes, error) {
	return G.Nodes{dy, Apply(channelSumKernel{dims: k.dims}, dy)}, nil
}

func (k channelBiasKernel) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	if err := checkDense(in); err != nil {
		return err
	}
	n, c, s := ncs(in[0].Shape())
	switch y := out.Data().(type) {
	case []float32:
		channelBias(y, asSlice[float32](in[0]), asSlice[float32](in[1]), n, c, s)
	case []float64:
		channelBias(y, asSlice[float64](in[0]), asSlice[float64](in[1]), n, c, s)
	default:
		return errDtype(out)
	}
	return nil
}

// ncs views a shape [N, C, d2, d3, ...] as [N, C, S] with S = d2*d3*...
// (1 for a matrix).
func ncs(s tensor.Shape) (n, c, sp int) {
	sp = 1
	for _, d := range s[2:] {
		sp *= d
	}
	return s[0], s[1], sp
}

// planeGrain is the chunk length, in (n, c) planes of sp elements, of
// loops over planes.
func planeGrain(planes, sp int) int { return parallel.Grain(planes, max(1, 1<<13/max(sp, 1))) }

func channelBias[T floating](y, x, b []T, n, c, s int) {
	parallel.For(n*c, planeGrain(n*c, s), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			bv := b[p%c]
			yp, xp := y[p*s:(p+1)*s], x[p*s:(p+1)*s]
			for i, v := range xp {
				yp[i] = v + bv
			}
		}
	})
}

// channelSumKernel reduces x [N, C, ...] to [C] by summing over every other
// dimension, in float64 and in a fixed order (n outer, then positions), so
// the result does not depend on the number of workers.
type channelSumKernel struct{ dims int }

func (k channelSumKernel) Name() string  { return "ChannelSum" }
func (k channelSumKernel) InDims() []int { return []int{k.dims} }
func (k channelSumKernel) OutDims() int  { return 1 }
func (k channelSumKernel) OutShape(in []tensor.Shape) (tensor.Shape, error) {
	return tensor.Shape{in[0][1]}, nil
}

func (k channelSumKernel) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	if err := checkDense(in); err != nil {
		return err
	}
	n, c, s := ncs(in[0].Shape())
	switch y := out.Data().(type) {
	case []float32:
		channelSum(y, asSlice[float32](in[0]), n, c, s)
	case []float64:
		channelSum(y, asSlice[float64](in[0]), n, c, s)
	default:
		return errDtype(out)
	}
	return nil
}

// channelGrain is the chunk length, in channels, of per-channel reductions
// over x [N, C, S]: about 32 K elements a chunk, so that a chunk's data
// stays in the core's cache between the passes of a kernel.
func channelGrain(n, c, s int) int {
	return min(parallel.Grain(c, 1), max(1, 1<<15/max(1, n*s)))
}

func channelSum[T floating](y, x []T, n, c, s int) {
	parallel.For(c, channelGrain(n, c, s), func(c0, c1 int) {
		var acc [64]float64
		for b0 := c0; b0 < c1; b0 += len(acc) {
			b1 := min(c1, b0+len(acc))
			a := acc[:b1-b0]
			clear(a)
			for ni := 0; ni < n; ni++ {
				for ci := b0; ci < b1; ci++ {
					seg := x[(ni*c+ci)*s : (ni*c+ci+1)*s]
					var t float64
					for _, v := range seg {
						t += float64(v)
					}
					a[ci-b0] += t
				}
			}
			for ci := b0; ci < b1; ci++ {
				y[ci] = T(a[ci-b0])
			}
		}
	})
}

// Flatten reshapes x [N, d1, d2, ...] to [N, d1*d2*...] (torch.flatten(x,
// 1)), copying; its gradient reshapes back.
func Flatten(x *G.Node) *G.Node {
	if x.Dims() < 2 {
		panic(fmt.Sprintf("nn: Flatten: x %v has no dimension to flatten", x.Shape()))
	}
	s := x.Shape()
	return Apply(reshapeKernel{from: s.Clone(), to: tensor.Shape{s[0], s.TotalSize() / s[0]}}, x)
}

type reshapeKernel struct{ from, to tensor.Shape }

func (k reshapeKernel) Name() string  { return fmt.Sprintf("Reshape%v", k.to) }
func (k reshapeKernel) InDims() []int { return []int{k.from.Dims()} }
func (k reshapeKernel) OutDims() int  { return k.to.Dims() }
func (k reshapeKernel) OutShape(in []tensor.Shape) (tensor.Shape, error) {
	if !in[0].Eq(k.from) {
		return nil, fmt.Errorf("input %v, want %v", in[0], k.from)
	}
	return k.to.Clone(), nil
}
func (k reshapeKernel) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	if err := checkDense(in); err != nil {
		return err
	}
	copyData(out, in[0])
	return nil
}
func (k reshapeKernel) DiffWRT() []bool { return []bool{true} }
func (k reshapeKernel) Grad(in G.Nodes, out, dy *G.Node) (G.Nodes, error) {
	return G.Nodes{Apply(reshapeKernel{from: k.to, to: k.from}, dy)}, nil
}
