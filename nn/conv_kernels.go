package nn

import (
	"github.com/disiam/disiam/internal/linalg"
	"github.com/disiam/disiam/internal/parallel"
)

// The computations, generic over the element type. Layouts: x [N, C, H, W],
// w [O, Cg, KH, KW], y [N, O, OH, OW], all row-major. The column matrix of a
// chunk of nb images has rows (c, t) for channel c and active tap t and
// columns (i, oh, ow) for image i of the chunk: element
// col[(c*ka+t)*ld + i*P + oh*OW + ow] with ld = nb*P. Packed filters wp
// [O, Cg*ka] keep the active taps only (they are w itself when all taps are
// active).

func convForwardT[T linalg.Float](pl *convPlan, y, x, w []T) {
	switch {
	case pl.ka == 0: // every tap reads padding only
		clear(y)
	case pl.depth:
		depthwiseForward(pl, y, x, w)
	case pl.linear:
		wp, wb := packFilters(pl, w)
		defer putScratch(wb)
		// y[N, O] = x[N, C] wpᵀ per group.
		for g := range pl.groups {
			pgemm(false, true, pl.n, pl.og, pl.cg, x[g*pl.cg:], pl.c, wp[g*pl.og*pl.cg:], pl.cg, 0, y[g*pl.og:], pl.o)
		}
	case pl.shift != nil:
		shiftForward(pl, y, x, w)
	case pl.perImg:
		wp, wb := packFilters(pl, w)
		defer putScratch(wb)
		kdim := pl.cg * pl.ka
		var colb *scratch[T]
		if !pl.point {
			colb = getScratch[T](pl.chunk * pl.rows * pl.p)
			defer putScratch(colb)
		}
		pb := padScratch[T](pl, pl.chunk)
		defer putScratch(pb)
		for n0 := 0; n0 < pl.n; n0 += pl.chunk {
			nb := min(pl.chunk, pl.n-n0)
			parallel.For(nb, 1, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					n := n0 + i
					var col []T
					if pl.point {
						col = x[n*pl.c*pl.hw:]
					} else {
						col = colb.s[i*pl.rows*pl.p:]
						im2col(pl, col, pl.p, x, n, 0, pl.c, padSlot(pl, pb, i, 1))
					}
					for g := range pl.groups {
						gemm(false, false, pl.og, pl.p, kdim, wp[g*pl.og*kdim:], kdim,
							col[g*kdim*pl.p:], pl.p, 0, y[(n*pl.o+g*pl.og)*pl.p:], pl.p)
					}
				}
			})
		}
	default:
		wp, wb := packFilters(pl, w)
		defer putScratch(wb)
		kdim := pl.cg * pl.ka
		colb := getScratch[T](pl.chunk * pl.rows * pl.p)
		defer putScratch(colb)
		yb := getScratch[T](pl.chunk * pl.o * pl.p)
		defer putScratch(yb)
		for n0 := 0; n0 < pl.n; n0 += pl.chunk {
			nb := min(pl.chunk, pl.n-n0)
			ld := nb * pl.p
			im2colChunk(pl, colb.s, x, n0, nb)
			for g := range pl.groups {
				pgemm(false, false, pl.og, ld, kdim, wp[g*pl.og*kdim:], kdim, colb.s[g*kdim*ld:], ld, 0, yb.s[g*pl.og*ld:], ld)
			}
			// yb [O, nb, P] -> y [n0:n0+nb, O, P]
			transposeChunk(pl, yb.s, y, n0, nb, false)
		}
	}
}

func convBackwardInputT[T linalg.Float](pl *convPlan, dx, w, dy []T) {
	switch {
	case pl.ka == 0:
		clear(dx)
	case pl.depth:
		depthwiseBackwardInput(pl, dx, w, dy)
	case pl.linear:
		wp, wb := packFilters(pl, w)
		defer putScratch(wb)
		// dx[N, C] = dy[N, O] wp per group.
		for g := range pl.groups {
			pgemm(false, false, pl.n, pl.cg, pl.og, dy[g*pl.og:], pl.o, wp[g*pl.og*pl.cg:], pl.cg, 0, dx[g*pl.cg:], pl.c)
		}
	case pl.shift != nil:
		shiftBackwardInput(pl, dx, w, dy)
	case pl.perImg:
		wp, wb := packFilters(pl, w)
		defer putScratch(wb)
		kdim := pl.cg * pl.ka
		var colb *scratch[T]
		if !pl.point {
			colb = getScratch[T](pl.chunk * pl.rows * pl.p)
			defer putScratch(colb)
		}
		pb := padScratch[T](pl, pl.chunk)
		defer putScratch(pb)
		for n0 := 0; n0 < pl.n; n0 += pl.chunk {
			nb := min(pl.chunk, pl.n-n0)
			parallel.For(nb, 1, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					n := n0 + i
					var dcol []T
					if pl.point {
						dcol = dx[n*pl.c*pl.hw:]
					} else {
						dcol = colb.s[i*pl.rows*pl.p:]
					}
					for g := range pl.groups {
						gemm(true, false, kdim, pl.p, pl.og, wp[g*pl.og*kdim:], kdim,
							dy[(n*pl.o+g*pl.og)*pl.p:], pl.p, 0, dcol[g*kdim*pl.p:], pl.p)
					}
					if !pl.point {
						col2im(pl, dx, n, 0, pl.c, dcol, pl.p, padSlot(pl, pb, i, 1))
					}
				}
			})
		}
	default:
		wp, wb := packFilters(pl, w)
		defer putScratch(wb)
		kdim := pl.cg * pl.ka
		colb := getScratch[T](pl.chunk * pl.rows * pl.p)
		defer putScratch(colb)
		yb := getScratch[T](pl.chunk * pl.o * pl.p)
		defer putScratch(yb)
		for n0 := 0; n0 < pl.n; n0 += pl.chunk {
			nb := min(pl.chunk, pl.n-n0)
			ld := nb * pl.p
			transposeChunk(pl, yb.s, dy, n0, nb, true)
			for g := range pl.groups {
				pgemm(true, false, kdim, ld, pl.og, wp[g*pl.og*kdim:], kdim, yb.s[g*pl.og*ld:], ld, 0, colb.s[g*kdim*ld:], ld)
			}
			col2imChunk(pl, dx, colb.s, n0, nb)
		}
	}
}

func convBackwardFilterT[T linalg.Float](pl *convPlan, dw, x, dy []T) {
	switch {
	case pl.ka == 0:
		clear(dw)
	case pl.depth:
		depthwiseBackwardFilter(pl, dw, x, dy)
	case pl.linear:
		dwp, wb := packedGrad(pl, dw)
		// dwp[O, Cg] = dy[N, O]ᵀ x[N, C] per group.
		for g := range pl.groups {
			pgemm(true, false, pl.og, pl.cg, pl.n, dy[g*pl.og:], pl.o, x[g*pl.cg:], pl.c, 0, dwp[g*pl.og*pl.cg:], pl.cg)
		}
		unpackGrad(pl, dw, dwp, wb)
	case pl.shift != nil:
		shiftBackwardFilter(pl, dw, x, dy)
	default:
		dwp, wb := packedGrad(pl, dw)
		kdim := pl.cg * pl.ka
		colb := getScratch[T](pl.chunk * pl.rows * pl.p)
		defer putScratch(colb)
		yb := getScratch[T](pl.chunk * pl.o * pl.p)
		defer putScratch(yb)
		// Chunks are summed in order with beta = 1: deterministic.
		var beta T
		for n0 := 0; n0 < pl.n; n0 += pl.chunk {
			nb := min(pl.chunk, pl.n-n0)
			ld := nb * pl.p
			im2colChunk(pl, colb.s, x, n0, nb)
			transposeChunk(pl, yb.s, dy, n0, nb, true)
			for g := range pl.groups {
				pgemm(false, true, pl.og, kdim, ld, yb.s[g*pl.og*ld:], ld, colb.s[g*kdim*ld:], ld, beta, dwp[g*pl.og*kdim:], kdim)
			}
			beta = 1
		}
		unpackGrad(pl, dw, dwp, wb)
	}
}

// packFilters returns the filters restricted to the active taps,
// [O, Cg*ka], and the scratch holding them (nil when that is w itself).
func packFilters[T linalg.Float](pl *convPlan, w []T) ([]T, *scratch[T]) {
	if pl.dense {
		return w, nil
	}
	b := getScratch[T](pl.o * pl.cg * pl.ka)
	parallel.For(pl.o, parallel.Grain(pl.o, 16), func(lo, hi int) {
		if pl.ka == 1 {
			tap := pl.taps[0]
			strided(b.s[lo*pl.cg:hi*pl.cg], w[lo*pl.cg*pl.kk+tap:], pl.kk)
			return
		}
		for oc := lo * pl.cg; oc < hi*pl.cg; oc++ {
			src := w[oc*pl.kk:][:pl.kk]
			dst := b.s[oc*pl.ka:][:pl.ka]
			for t, tap := range pl.taps {
				dst[t] = src[tap]
			}
		}
	})
	return b.s, b
}

// packedGrad returns where to accumulate the packed filter gradient: dw
// itself when all taps are active, else scratch.
func packedGrad[T linalg.Float](pl *convPlan, dw []T) ([]T, *scratch[T]) {
	if pl.dense {
		return dw, nil
	}
	b := getScratch[T](pl.o * pl.cg * pl.ka)
	return b.s, b
}

// unpackGrad scatters the packed gradient into dw (zero at inactive taps)
// and releases its scratch.
func unpackGrad[T linalg.Float](pl *convPlan, dw, dwp []T, b *scratch[T]) {
	if b == nil {
		return
	}
	parallel.For(pl.o, parallel.Grain(pl.o, 16), func(lo, hi int) {
		d := dw[lo*pl.cg*pl.kk : hi*pl.cg*pl.kk]
		clear(d)
		if pl.ka == 1 {
			scatterStrided(d[pl.taps[0]:], dwp[lo*pl.cg:hi*pl.cg], pl.kk)
			return
		}
		for oc := lo * pl.cg; oc < hi*pl.cg; oc++ {
			src := dwp[oc*pl.ka:][:pl.ka]
			dst := dw[oc*pl.kk:][:pl.kk]
			for t, tap := range pl.taps {
				dst[tap] = src[t]
			}
		}
	})
	putScratch(b)
}

var (
	// gonumBLAS is whether linalg runs gonum's pure-Go BLAS for the
	// products that do not go to its native float32 kernel.
	gonumBLAS = !linalg.OpenBLAS
	// useSgemm is whether float32 products run on linalg's native kernel
	// (the default build on CPUs with AVX2 and FMA).
	useSgemm = linalg.Native
)

// gemm is linalg.Gemm with alpha 1, computed on the calling goroutine.
// gonum's Sgemm and Dgemm hand products of four or more 64x64 blocks of C
// to goroutines of their own, which would oversubscribe the kernels'
// workers, so under gonum C is computed in pieces of at most three such
// blocks; linalg's native float32 kernel and OpenBLAS (one thread) take C
// whole.
func gemm[T linalg.Float](tA, tB bool, m, n, k int, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	const tm, tn = 64, 192
	_, f32 := any(c).([]float32)
	if f32 && useSgemm || !gonumBLAS || m <= tm && n <= tn || m <= 3*tm && n <= tm {
		linalg.Gemm(tA, tB, m, n, k, 1, a, lda, b, ldb, beta, c, ldc)
		return
	}
	for i := 0; i < m; i += tm {
		var ai []T
		if tA {
			ai = a[i:]
		} else {
			ai = a[i*lda:]
		}
		for j := 0; j < n; j += tn {
			var bj []T
			if tB {
				bj = b[j*ldb:]
			} else {
				bj = b[j:]
			}
			linalg.Gemm(tA, tB, min(tm, m-i), min(tn, n-j), k, 1, ai, lda, bj, ldb, beta, c[i*ldc+j:], ldc)
		}
	}
}

// pgemm is gemm split over the cores. Float32 products on linalg's native
// kernel go to linalg.ParallelGemm; others are split over the larger of
// C's dimensions into blocks that depend only on the sizes. Either way
// every element of C is computed by one call over the full k, so the
// result does not depend on parallel.Workers.
func pgemm[T linalg.Float](tA, tB bool, m, n, k int, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	const (
		minFlops = 1 << 22 // below this one call is cheaper than a split
		blocks   = 4       // target number of blocks
		align    = 16
	)
	if _, f32 := any(c).([]float32); f32 && useSgemm {
		linalg.ParallelGemm(tA, tB, m, n, k, 1, a, lda, b, ldb, beta, c, ldc)
		return
	}
	if 2*m*n*k < minFlops || max(m, n) < 2*align {
		gemm(tA, tB, m, n, k, a, lda, b, ldb, beta, c, ldc)
		return
	}
	bs := func(d int) int { return max(align, ((d+blocks-1)/blocks+align-1)/align*align) }
	if n >= m {
		parallel.For(n, bs(n), func(lo, hi int) {
			var bb []T
			if tB {
				bb = b[lo*ldb:]
			} else {
				bb = b[lo:]
			}
			gemm(tA, tB, m, hi-lo, k, a, lda, bb, ldb, beta, c[lo:], ldc)
		})
		return
	}
	parallel.For(m, bs(m), func(lo, hi int) {
		var ab []T
		if tA {
			ab = a[lo:]
		} else {
			ab = a[lo*lda:]
		}
		gemm(tA, tB, hi-lo, n, k, ab, lda, b, ldb, beta, c[lo*ldc:], ldc)
	})
}
