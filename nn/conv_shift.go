package nn

import (
	"github.com/disiam/disiam/internal/linalg"
	"github.com/disiam/disiam/internal/parallel"
)

// The shift path computes convolutions with small planes without a column
// matrix. With activations stored position-major, X [C, H*W, nb] (the nb
// images of a chunk innermost), the contribution of tap t to a run of
// output positions is one GEMM
//
//	Y[:, run, :] += W_t X[:, shifted run, :],  W_t = w[:, :, kh, kw] [O, C/groups],
//
// so the GEMMs only see the (output, input) pairs that a tap connects:
// taps that read padding are never multiplied. At 2x2 planes with a 3x3
// kernel and padding 1 that is 16 pairs instead of the 36 of im2col; at
// 4x4, 100 instead of 144. The transposes to and from the position-major
// layout move the activations once, where im2col writes them ka times.

// shiftRun is a run of output positions (oh, ow0..ow0+n-1) that tap t
// connects to the input positions (ih, iw0 + j*stride); n > 1 only for
// stride 1.
type shiftRun struct {
	t, oh, ow0, ih, iw0, n int
}

// shiftPlan is the shift path's part of a convPlan.
type shiftPlan struct {
	byOut [][]shiftRun // per output row, in tap order
	byIn  [][]shiftRun // per input row, in tap order
	byTap [][]shiftRun // per active tap, in row order
	chunk int          // images per chunk
}

func newShiftPlan(pl *convPlan) *shiftPlan {
	sp := &shiftPlan{byOut: make([][]shiftRun, pl.oh), byIn: make([][]shiftRun, pl.h), byTap: make([][]shiftRun, pl.ka)}
	for t := range pl.ka {
		kh, kw := pl.tapH[t], pl.tapW[t]
		owLo, owHi := pl.owLo[kw], pl.owHi[kw]
		for oh := pl.ohLo[kh]; oh < pl.ohHi[kh]; oh++ {
			ih := oh*pl.stride + kh*pl.dil - pl.pad
			add := func(r shiftRun) {
				sp.byOut[oh] = append(sp.byOut[oh], r)
				sp.byIn[ih] = append(sp.byIn[ih], r)
				sp.byTap[t] = append(sp.byTap[t], r)
			}
			if pl.stride == 1 {
				add(shiftRun{t: t, oh: oh, ow0: owLo, ih: ih, iw0: owLo + kw*pl.dil - pl.pad, n: owHi - owLo})
				continue
			}
			for ow := owLo; ow < owHi; ow++ {
				add(shiftRun{t: t, oh: oh, ow0: ow, ih: ih, iw0: ow*pl.stride + kw*pl.dil - pl.pad, n: 1})
			}
		}
	}
	// Per tap, runs that continue each other in both planes (whole rows
	// of equally wide planes) are one GEMM.
	for t, runs := range sp.byTap {
		var merged []shiftRun
		for _, r := range runs {
			if k := len(merged) - 1; k >= 0 {
				m := &merged[k]
				outNext := m.oh*pl.ow+m.ow0+m.n == r.oh*pl.ow+r.ow0
				inNext := m.ih*pl.w+m.iw0+m.n == r.ih*pl.w+r.iw0
				if pl.stride == 1 && outNext && inNext {
					m.n += r.n
					continue
				}
			}
			merged = append(merged, r)
		}
		sp.byTap[t] = merged
	}
	per := pl.c*pl.hw + pl.o*pl.p
	nmax := max(1, convPaths.colCap/per)
	chunks := (pl.n + nmax - 1) / nmax
	sp.chunk = (pl.n + chunks - 1) / chunks
	return sp
}

// blockOf splits total into about want blocks of a multiple of 16 (at
// least 32) and returns the block size.
func blockOf(total, want int) int {
	b := (total + want - 1) / want
	b = max(32, (b+15)/16*16)
	return min(b, total)
}

// packTaps returns the filters tap-major, wt [ka][O][Cg], in scratch.
func packTaps[T linalg.Float](pl *convPlan, w []T) *scratch[T] {
	b := getScratch[T](pl.ka * pl.o * pl.cg)
	parallel.For(pl.o, parallel.Grain(pl.o, 16), func(lo, hi int) {
		for o := lo; o < hi; o++ {
			src := w[o*pl.cg*pl.kk:][:pl.cg*pl.kk]
			for t, tap := range pl.taps {
				strided(b.s[(t*pl.o+o)*pl.cg:][:pl.cg], src[tap:], pl.kk)
			}
		}
	})
	return b
}

// unpackTaps is packTaps' inverse for the gradient: dw [O][Cg][KH*KW]
// from dwt [ka][O][Cg], zero at inactive taps.
func unpackTaps[T linalg.Float](pl *convPlan, dw, dwt []T) {
	parallel.For(pl.o, parallel.Grain(pl.o, 16), func(lo, hi int) {
		for o := lo; o < hi; o++ {
			dst := dw[o*pl.cg*pl.kk:][:pl.cg*pl.kk]
			if !pl.dense {
				clear(dst)
			}
			for t, tap := range pl.taps {
				scatterStrided(dst[tap:], dwt[(t*pl.o+o)*pl.cg:][:pl.cg], pl.kk)
			}
		}
	})
}

// strided sets dst[i] = src[i*stride].
func strided[T linalg.Float](dst, src []T, stride int) {
	if len(dst) == 0 {
		return
	}
	src = src[:(len(dst)-1)*stride+1]
	for i := range dst {
		dst[i] = src[i*stride]
	}
}

// scatterStrided sets dst[i*stride] = src[i].
func scatterStrided[T linalg.Float](dst, src []T, stride int) {
	if len(src) == 0 {
		return
	}
	dst = dst[:(len(src)-1)*stride+1]
	for i, v := range src {
		dst[i*stride] = v
	}
}

// toPosMajor moves images [n0, n0+nb) of src [N, R, Q] to dst [R, Q, nb].
// Four images at a time are read sequentially while their columns of dst,
// a block of a few KiB, stay in cache.
func toPosMajor[T linalg.Float](dst, src []T, n0, nb, r, q int) {
	parallel.For(r, parallel.Grain(r, max(1, 4096/(q*nb))), func(lo, hi int) {
		for i := 0; i < nb; i += 4 {
			m := min(4, nb-i)
			for ri := lo; ri < hi; ri++ {
				transpose(dst[ri*q*nb+i:], nb, src[((n0+i)*r+ri)*q:], r*q, m, q)
			}
		}
	})
}

// fromPosMajor is toPosMajor's inverse.
func fromPosMajor[T linalg.Float](dst, src []T, n0, nb, r, q int) {
	parallel.For(r, parallel.Grain(r, max(1, 4096/(q*nb))), func(lo, hi int) {
		for i := 0; i < nb; i += 4 {
			m := min(4, nb-i)
			for ri := lo; ri < hi; ri++ {
				transpose(dst[((n0+i)*r+ri)*q:], r*q, src[ri*q*nb+i:], nb, q, m)
			}
		}
	})
}

// transpose sets dst[j*ldd+i] = src[i*lds+j] for i < m, j < n, in 4x4
// blocks.
func transpose[T linalg.Float](dst []T, ldd int, src []T, lds int, m, n int) {
	i := 0
	for ; i+4 <= m; i += 4 {
		s0 := src[i*lds:][:n]
		s1 := src[(i+1)*lds:][:n]
		s2 := src[(i+2)*lds:][:n]
		s3 := src[(i+3)*lds:][:n]
		j := 0
		for ; j+4 <= n; j += 4 {
			a, b, c, d := s0[j:j+4:j+4], s1[j:j+4:j+4], s2[j:j+4:j+4], s3[j:j+4:j+4]
			d0 := dst[j*ldd+i:][:4:4]
			d1 := dst[(j+1)*ldd+i:][:4:4]
			d2 := dst[(j+2)*ldd+i:][:4:4]
			d3 := dst[(j+3)*ldd+i:][:4:4]
			d0[0], d0[1], d0[2], d0[3] = a[0], b[0], c[0], d[0]
			d1[0], d1[1], d1[2], d1[3] = a[1], b[1], c[1], d[1]
			d2[0], d2[1], d2[2], d2[3] = a[2], b[2], c[2], d[2]
			d3[0], d3[1], d3[2], d3[3] = a[3], b[3], c[3], d[3]
		}
		for ; j < n; j++ {
			d := dst[j*ldd+i:][:4:4]
			d[0], d[1], d[2], d[3] = s0[j], s1[j], s2[j], s3[j]
		}
	}
	for ; i < m; i++ {
		for j, v := range src[i*lds:][:n] {
			dst[j*ldd+i] = v
		}
	}
}

func shiftForward[T linalg.Float](pl *convPlan, y, x, w []T) {
	sp := pl.shift
	wt := packTaps(pl, w)
	defer putScratch(wt)
	xb := getScratch[T](pl.c * pl.hw * sp.chunk)
	defer putScratch(xb)
	yb := getScratch[T](pl.o * pl.p * sp.chunk)
	defer putScratch(yb)
	ob := blockOf(pl.og, (8+pl.oh*pl.groups-1)/(pl.oh*pl.groups))
	nob := (pl.og + ob - 1) / ob
	for n0 := 0; n0 < pl.n; n0 += sp.chunk {
		nb := min(sp.chunk, pl.n-n0)
		ldx, ldy := pl.hw*nb, pl.p*nb
		toPosMajor(xb.s, x, n0, nb, pl.c, pl.hw)
		units := pl.oh * pl.groups * nob
		parallel.For(units, 1, func(lo, hi int) {
			for u := lo; u < hi; u++ {
				oh, g, o0 := u/(pl.groups*nob), u/nob%pl.groups, u%nob*ob
				o0 += g * pl.og
				o1 := min(o0+ob, (g+1)*pl.og)
				for o := o0; o < o1; o++ {
					clear(yb.s[o*ldy+oh*pl.ow*nb:][:pl.ow*nb])
				}
				for _, r := range sp.byOut[oh] {
					gemm(false, false, o1-o0, r.n*nb, pl.cg,
						wt.s[(r.t*pl.o+o0)*pl.cg:], pl.cg,
						xb.s[g*pl.cg*ldx+(r.ih*pl.w+r.iw0)*nb:], ldx,
						1, yb.s[o0*ldy+(r.oh*pl.ow+r.ow0)*nb:], ldy)
				}
			}
		})
		fromPosMajor(y, yb.s, n0, nb, pl.o, pl.p)
	}
}

func shiftBackwardInput[T linalg.Float](pl *convPlan, dx, w, dy []T) {
	sp := pl.shift
	wt := packTaps(pl, w)
	defer putScratch(wt)
	xb := getScratch[T](pl.c * pl.hw * sp.chunk)
	defer putScratch(xb)
	yb := getScratch[T](pl.o * pl.p * sp.chunk)
	defer putScratch(yb)
	cb := blockOf(pl.cg, (8+pl.h*pl.groups-1)/(pl.h*pl.groups))
	ncb := (pl.cg + cb - 1) / cb
	for n0 := 0; n0 < pl.n; n0 += sp.chunk {
		nb := min(sp.chunk, pl.n-n0)
		ldx, ldy := pl.hw*nb, pl.p*nb
		toPosMajor(yb.s, dy, n0, nb, pl.o, pl.p)
		units := pl.h * pl.groups * ncb
		parallel.For(units, 1, func(lo, hi int) {
			for u := lo; u < hi; u++ {
				ih, g, c0 := u/(pl.groups*ncb), u/ncb%pl.groups, u%ncb*cb
				c1 := min(c0+cb, pl.cg)
				for c := g*pl.cg + c0; c < g*pl.cg+c1; c++ {
					clear(xb.s[c*ldx+ih*pl.w*nb:][:pl.w*nb])
				}
				for _, r := range sp.byIn[ih] {
					gemm(true, false, c1-c0, r.n*nb, pl.og,
						wt.s[(r.t*pl.o+g*pl.og)*pl.cg+c0:], pl.cg,
						yb.s[g*pl.og*ldy+(r.oh*pl.ow+r.ow0)*nb:], ldy,
						1, xb.s[(g*pl.cg+c0)*ldx+(r.ih*pl.w+r.iw0)*nb:], ldx)
				}
			}
		})
		fromPosMajor(dx, xb.s, n0, nb, pl.c, pl.hw)
	}
}

func shiftBackwardFilter[T linalg.Float](pl *convPlan, dw, x, dy []T) {
	sp := pl.shift
	dwt := getScratch[T](pl.ka * pl.o * pl.cg)
	defer putScratch(dwt)
	xb := getScratch[T](pl.c * pl.hw * sp.chunk)
	defer putScratch(xb)
	yb := getScratch[T](pl.o * pl.p * sp.chunk)
	defer putScratch(yb)
	ob := blockOf(pl.og, (8+pl.ka*pl.groups-1)/(pl.ka*pl.groups))
	nob := (pl.og + ob - 1) / ob
	for n0 := 0; n0 < pl.n; n0 += sp.chunk {
		nb := min(sp.chunk, pl.n-n0)
		ldx, ldy := pl.hw*nb, pl.p*nb
		toPosMajor(xb.s, x, n0, nb, pl.c, pl.hw)
		toPosMajor(yb.s, dy, n0, nb, pl.o, pl.p)
		units := pl.ka * pl.groups * nob
		first := n0 == 0
		parallel.For(units, 1, func(lo, hi int) {
			for u := lo; u < hi; u++ {
				t, g, o0 := u/(pl.groups*nob), u/nob%pl.groups, u%nob*ob
				o0 += g * pl.og
				o1 := min(o0+ob, (g+1)*pl.og)
				// Runs, then chunks, summed in order: deterministic.
				beta := T(1)
				if first {
					beta = 0
				}
				for _, r := range sp.byTap[t] {
					gemm(false, true, o1-o0, pl.cg, r.n*nb,
						yb.s[o0*ldy+(r.oh*pl.ow+r.ow0)*nb:], ldy,
						xb.s[g*pl.cg*ldx+(r.ih*pl.w+r.iw0)*nb:], ldx,
						beta, dwt.s[(t*pl.o+o0)*pl.cg:], pl.cg)
					beta = 1
				}
			}
		})
	}
	unpackTaps(pl, dw, dwt.s)
}
