package nn

import (
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/disiam/disiam/internal/linalg"
	"github.com/disiam/disiam/internal/parallel"
	"github.com/disiam/disiam/internal/vec"
)

// Depthwise convolution (groups == C, O = m*C: output channel oc reads
// input channel oc/m only). With the position-major layout of the shift
// path, X [C, H*W, nb], one tap's contribution to a run of output
// positions of channel oc is one long axpy over the run times the nb
// images, w[oc, t] * X[oc/m, shifted run, :], and the filter gradient a
// dot product of the same length. Taps that read only padding never
// appear, and the loop overhead is paid per run, not per row and image.
// Channels run in parallel; every sum runs over taps (then runs, then
// chunks) in a fixed order.

func depthwiseForward[T linalg.Float](pl *convPlan, y, x, w []T) {
	sp := pl.shift
	xb := getScratch[T](pl.c * pl.hw * sp.chunk)
	defer putScratch(xb)
	yb := getScratch[T](pl.o * pl.p * sp.chunk)
	defer putScratch(yb)
	for n0 := 0; n0 < pl.n; n0 += sp.chunk {
		nb := min(sp.chunk, pl.n-n0)
		ldx, ldy := pl.hw*nb, pl.p*nb
		toPosMajor(xb.s, x, n0, nb, pl.c, pl.hw)
		parallel.For(pl.o, parallel.Grain(pl.o, max(1, (1<<14)/(pl.ka*ldy))), func(lo, hi int) {
			for oc := lo; oc < hi; oc++ {
				yc := yb.s[oc*ldy:][:ldy]
				xc := xb.s[oc/pl.og*ldx:][:ldx]
				wo := w[oc*pl.kk:][:pl.kk]
				clear(yc)
				for t, tap := range pl.taps {
					wv := wo[tap]
					for _, r := range sp.byTap[t] {
						axpy(wv, xc[(r.ih*pl.w+r.iw0)*nb:][:r.n*nb], yc[(r.oh*pl.ow+r.ow0)*nb:])
					}
				}
			}
		})
		fromPosMajor(y, yb.s, n0, nb, pl.o, pl.p)
	}
}

func depthwiseBackwardInput[T linalg.Float](pl *convPlan, dx, w, dy []T) {
	sp := pl.shift
	xb := getScratch[T](pl.c * pl.hw * sp.chunk)
	defer putScratch(xb)
	yb := getScratch[T](pl.o * pl.p * sp.chunk)
	defer putScratch(yb)
	for n0 := 0; n0 < pl.n; n0 += sp.chunk {
		nb := min(sp.chunk, pl.n-n0)
		ldx, ldy := pl.hw*nb, pl.p*nb
		toPosMajor(yb.s, dy, n0, nb, pl.o, pl.p)
		parallel.For(pl.c, parallel.Grain(pl.c, max(1, (1<<14)/(pl.og*pl.ka*ldy))), func(lo, hi int) {
			for c := lo; c < hi; c++ {
				xc := xb.s[c*ldx:][:ldx]
				clear(xc)
				for oc := c * pl.og; oc < (c+1)*pl.og; oc++ {
					yc := yb.s[oc*ldy:][:ldy]
					wo := w[oc*pl.kk:][:pl.kk]
					for t, tap := range pl.taps {
						wv := wo[tap]
						for _, r := range sp.byTap[t] {
							axpy(wv, yc[(r.oh*pl.ow+r.ow0)*nb:][:r.n*nb], xc[(r.ih*pl.w+r.iw0)*nb:])
						}
					}
				}
			}
		})
		fromPosMajor(dx, xb.s, n0, nb, pl.c, pl.hw)
	}
}

func depthwiseBackwardFilter[T linalg.Float](pl *convPlan, dw, x, dy []T) {
	sp := pl.shift
	xb := getScratch[T](pl.c * pl.hw * sp.chunk)
	defer putScratch(xb)
	yb := getScratch[T](pl.o * pl.p * sp.chunk)
	defer putScratch(yb)
	if !pl.dense {
		clear(dw)
	}
	for n0 := 0; n0 < pl.n; n0 += sp.chunk {
		nb := min(sp.chunk, pl.n-n0)
		ldx, ldy := pl.hw*nb, pl.p*nb
		toPosMajor(xb.s, x, n0, nb, pl.c, pl.hw)
		toPosMajor(yb.s, dy, n0, nb, pl.o, pl.p)
		first := n0 == 0
		parallel.For(pl.o, parallel.Grain(pl.o, max(1, (1<<14)/(pl.ka*ldy))), func(lo, hi int) {
			for oc := lo; oc < hi; oc++ {
				yc := yb.s[oc*ldy:][:ldy]
				xc := xb.s[oc/pl.og*ldx:][:ldx]
				dwo := dw[oc*pl.kk:][:pl.kk]
				for t, tap := range pl.taps {
					var sum T
					for _, r := range sp.byTap[t] {
						sum += dot(yc[(r.oh*pl.ow+r.ow0)*nb:][:r.n*nb], xc[(r.ih*pl.w+r.iw0)*nb:])
					}
					if first {
						dwo[tap] = sum
					} else {
						dwo[tap] += sum
					}
				}
			}
		})
	}
}

// level1 is gonum's pure-Go BLAS, whose level-1 routines have SSE
// kernels; a cgo call per short vector (OpenBLAS) would cost more than it
// saves.
var level1 gonum.Implementation

// axpy adds a*x to y[:len(x)]; in float32 with one rounding per element
// (vec.Saxpy, a fused multiply-add, as oneDNN's depthwise kernels round,
// where gonum's SSE loop rounds the product and the sum).
func axpy[T linalg.Float](a T, x, y []T) {
	switch xs := any(x).(type) {
	case []float32:
		vec.Saxpy(float32(a), xs, any(y).([]float32))
		return
	case []float64:
		level1.Daxpy(len(xs), float64(a), xs, 1, any(y).([]float64), 1)
		return
	}
	y = y[:len(x)]
	i := 0
	for ; i+4 <= len(x); i += 4 {
		xs, ys := x[i:i+4:i+4], y[i:i+4:i+4]
		ys[0] += a * xs[0]
		ys[1] += a * xs[1]
		ys[2] += a * xs[2]
		ys[3] += a * xs[3]
	}
	for ; i < len(x); i++ {
		y[i] += a * x[i]
	}
}

// dot returns the sum of x[i]*y[i] over x, in a fixed order (four
// interleaved partial sums).
func dot[T linalg.Float](x, y []T) T {
	switch xs := any(x).(type) {
	case []float32:
		return T(level1.Sdot(len(xs), xs, 1, any(y).([]float32), 1))
	case []float64:
		return T(level1.Ddot(len(xs), xs, 1, any(y).([]float64), 1))
	}
	y = y[:len(x)]
	var s0, s1, s2, s3 T
	i := 0
	for ; i+4 <= len(x); i += 4 {
		xs, ys := x[i:i+4:i+4], y[i:i+4:i+4]
		s0 += xs[0] * ys[0]
		s1 += xs[1] * ys[1]
		s2 += xs[2] * ys[2]
		s3 += xs[3] * ys[3]
	}
	for ; i < len(x); i++ {
		s0 += x[i] * y[i]
	}
	return (s0 + s1) + (s2 + s3)
}
