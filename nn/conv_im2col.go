package nn

import (
	"github.com/disiam/disiam/internal/linalg"
	"github.com/disiam/disiam/internal/parallel"
)

// The column matrix and its layout are described with the kernels in
// conv_kernels.go.

// im2col writes the rows of channels [c0, c1) of image n's column matrix
// (not for pointwise convolutions, whose column matrix is the image):
// element (c*ka+t, oh*OW+ow) goes to col[(c*ka+t)*ld + oh*OW + ow]. pad is
// scratch for one padded plane (gather path with padding only).
func im2col[T linalg.Float](pl *convPlan, col []T, ld int, x []T, n, c0, c1 int, pad []T) {
	for c := c0; c < c1; c++ {
		xc := x[(n*pl.c+c)*pl.hw:][:pl.hw]
		switch {
		case pl.gather:
			src := xc
			if pl.pad > 0 {
				src = padPlane(pl, pad, xc)
			}
			for t, base := range pl.tapOff {
				gatherRow(col[(c*pl.ka+t)*ld:], src[base:], pl.posOff)
			}
		default:
			im2colRows(pl, col, ld, xc, c)
		}
	}
}

// padPlane copies the plane xc into the middle of the zero-bordered plane
// pad [H+2*padding, W+2*padding] and returns it.
func padPlane[T linalg.Float](pl *convPlan, pad, xc []T) []T {
	wp := pl.w + 2*pl.pad
	pad = pad[:(pl.h+2*pl.pad)*wp]
	clear(pad[:pl.pad*wp])
	clear(pad[(pl.h+pl.pad)*wp:])
	for ih := range pl.h {
		row := pad[(ih+pl.pad)*wp:][:wp]
		src := xc[ih*pl.w:][:pl.w]
		for j := range pl.pad {
			row[j] = 0
			row[wp-1-j] = 0
		}
		// A loop beats copy's call for the narrow planes this serves.
		dst := row[pl.pad:][:len(src)]
		for j, v := range src {
			dst[j] = v
		}
	}
	return pad
}

// im2colRows is im2col for one channel by row copies, for wide planes.
func im2colRows[T linalg.Float](pl *convPlan, col []T, ld int, xc []T, c int) {
	s, ow := pl.stride, pl.ow
	for t := range pl.ka {
		kh, kw := pl.tapH[t], pl.tapW[t]
		row := col[(c*pl.ka+t)*ld:][:pl.p]
		ohLo, ohHi := pl.ohLo[kh], pl.ohHi[kh]
		owLo, owHi := pl.owLo[kw], pl.owHi[kw]
		ihOff, iwOff := kh*pl.dil-pl.pad, kw*pl.dil-pl.pad
		clear(row[:ohLo*ow])
		clear(row[ohHi*ow:])
		for oh := ohLo; oh < ohHi; oh++ {
			seg := row[oh*ow : oh*ow+ow]
			clear(seg[:owLo])
			clear(seg[owHi:])
			src := xc[(oh*s+ihOff)*pl.w:][:pl.w]
			if s == 1 {
				copy(seg[owLo:owHi], src[owLo+iwOff:])
			} else {
				for j := owLo; j < owHi; j++ {
					seg[j] = src[j*s+iwOff]
				}
			}
		}
	}
}

// col2im sets the planes of channels [c0, c1) of image n of dx to the sum
// of their column-matrix entries (the layout of im2col); pad as there.
func col2im[T linalg.Float](pl *convPlan, dx []T, n, c0, c1 int, col []T, ld int, pad []T) {
	for c := c0; c < c1; c++ {
		dxc := dx[(n*pl.c+c)*pl.hw:][:pl.hw]
		switch {
		case pl.gather:
			dst := dxc
			if pl.pad > 0 {
				dst = pad[:(pl.h+2*pl.pad)*(pl.w+2*pl.pad)]
			}
			clear(dst)
			for t, base := range pl.tapOff {
				scatterAddRow(dst[base:], col[(c*pl.ka+t)*ld:], pl.posOff)
			}
			if pl.pad > 0 {
				wp := pl.w + 2*pl.pad
				for ih := range pl.h {
					copy(dxc[ih*pl.w:(ih+1)*pl.w], dst[(ih+pl.pad)*wp+pl.pad:])
				}
			}
		default:
			col2imRows(pl, dxc, col, ld, c)
		}
	}
}

// col2imRows is col2im for one channel by rows, for wide planes.
func col2imRows[T linalg.Float](pl *convPlan, dxc, col []T, ld, c int) {
	s, ow := pl.stride, pl.ow
	clear(dxc)
	for t := range pl.ka {
		kh, kw := pl.tapH[t], pl.tapW[t]
		row := col[(c*pl.ka+t)*ld:][:pl.p]
		owLo, owHi := pl.owLo[kw], pl.owHi[kw]
		ihOff, iwOff := kh*pl.dil-pl.pad, kw*pl.dil-pl.pad
		for oh := pl.ohLo[kh]; oh < pl.ohHi[kh]; oh++ {
			seg := row[oh*ow+owLo : oh*ow+owHi]
			dst := dxc[(oh*s+ihOff)*pl.w:][:pl.w]
			if s == 1 {
				d := dst[owLo+iwOff:][:len(seg)]
				for j, v := range seg {
					d[j] += v
				}
			} else {
				for j, v := range seg {
					dst[(owLo+j)*s+iwOff] += v
				}
			}
		}
	}
}

// padScratch returns scratch for the given number of padded planes (nil
// when the kernels need none).
func padScratch[T linalg.Float](pl *convPlan, planes int) *scratch[T] {
	if !pl.gather || pl.pad == 0 {
		return nil
	}
	return getScratch[T](planes * pl.padLen)
}

// padSlot is the i-th group of the given number of planes of a padScratch
// buffer.
func padSlot[T linalg.Float](pl *convPlan, b *scratch[T], i, planes int) []T {
	if b == nil {
		return nil
	}
	return b.s[i*planes*pl.padLen:][:planes*pl.padLen]
}

// imageBlock is how many images one parallel unit of im2colChunk and
// col2imChunk handles for one channel: enough units for the workers, long
// runs of consecutive writes for each.
func (pl *convPlan) imageBlock(nb int) int {
	return min(nb, max(1, (nb*pl.c+31)/32))
}

// im2colChunk fills the column matrix of images [n0, n0+nb), in parallel
// over (channel, image block) pairs; each writes its rows sequentially.
func im2colChunk[T linalg.Float](pl *convPlan, col, x []T, n0, nb int) {
	ld := nb * pl.p
	ib := pl.imageBlock(nb)
	blocks := (nb + ib - 1) / ib
	units := pl.c * blocks
	grain := parallel.Grain(units, max(1, pl.unitMin/ib))
	pb := padScratch[T](pl, parallel.Chunks(units, grain)*ib)
	defer putScratch(pb)
	parallel.For(units, grain, func(lo, hi int) {
		pad := padSlot(pl, pb, lo/grain, ib)
		for u := lo; u < hi; u++ {
			c, i0 := u/blocks, (u%blocks)*ib
			i1 := min(nb, i0+ib)
			switch {
			case pl.point:
				for i := i0; i < i1; i++ {
					copy(col[c*ld+i*pl.p:][:pl.p], x[((n0+i)*pl.c+c)*pl.hw:][:pl.hw])
				}
			case pl.gather:
				im2colGather(pl, col, ld, x, n0, c, i0, i1, pad)
			default:
				for i := i0; i < i1; i++ {
					im2colRows(pl, col[i*pl.p:], ld, x[((n0+i)*pl.c+c)*pl.hw:][:pl.hw], c)
				}
			}
		}
	})
}

// im2colGather writes the rows of channel c for images [i0, i1) of the
// chunk starting at image n0, by offset tables, row by row.
func im2colGather[T linalg.Float](pl *convPlan, col []T, ld int, x []T, n0, c, i0, i1 int, pad []T) {
	plane := func(i int) []T { return x[((n0+i)*pl.c+c)*pl.hw:][:pl.hw] }
	if pl.pad > 0 {
		for i := i0; i < i1; i++ {
			padPlane(pl, pad[(i-i0)*pl.padLen:], plane(i))
		}
	}
	for t, base := range pl.tapOff {
		row := col[(c*pl.ka+t)*ld:]
		for i := i0; i < i1; i++ {
			var st []T
			if pl.pad > 0 {
				st = pad[(i-i0)*pl.padLen+base:]
			} else {
				st = plane(i)[base:]
			}
			gatherRow(row[i*pl.p:], st, pl.posOff)
		}
	}
}

// gatherRow sets dst[p] = src[off[p]]. It is a function of its own so that
// the loop keeps its state in registers.
func gatherRow[T linalg.Float](dst, src []T, off []int32) {
	dst = dst[:len(off)]
	for p, o := range off {
		dst[p] = src[o]
	}
}

// scatterAddRow adds src[p] to dst[off[p]].
func scatterAddRow[T linalg.Float](dst, src []T, off []int32) {
	src = src[:len(off)]
	for p, o := range off {
		dst[o] += src[p]
	}
}

// col2imChunk is im2colChunk's adjoint: it sets dx of images [n0, n0+nb)
// to the sums of their column-matrix entries.
func col2imChunk[T linalg.Float](pl *convPlan, dx, col []T, n0, nb int) {
	ld := nb * pl.p
	ib := pl.imageBlock(nb)
	blocks := (nb + ib - 1) / ib
	units := pl.c * blocks
	grain := parallel.Grain(units, max(1, pl.unitMin/ib))
	pb := padScratch[T](pl, parallel.Chunks(units, grain)*ib)
	defer putScratch(pb)
	parallel.For(units, grain, func(lo, hi int) {
		pad := padSlot(pl, pb, lo/grain, ib)
		for u := lo; u < hi; u++ {
			c, i0 := u/blocks, (u%blocks)*ib
			i1 := min(nb, i0+ib)
			switch {
			case pl.point:
				for i := i0; i < i1; i++ {
					copy(dx[((n0+i)*pl.c+c)*pl.hw:][:pl.hw], col[c*ld+i*pl.p:][:pl.p])
				}
			case pl.gather:
				col2imGather(pl, dx, col, ld, n0, c, i0, i1, pad)
			default:
				for i := i0; i < i1; i++ {
					col2imRows(pl, dx[((n0+i)*pl.c+c)*pl.hw:][:pl.hw], col[i*pl.p:], ld, c)
				}
			}
		}
	})
}

// col2imGather is im2colGather's adjoint.
func col2imGather[T linalg.Float](pl *convPlan, dx, col []T, ld, n0, c, i0, i1 int, pad []T) {
	plane := func(i int) []T { return dx[((n0+i)*pl.c+c)*pl.hw:][:pl.hw] }
	if pl.pad > 0 {
		clear(pad[:(i1-i0)*pl.padLen])
	} else {
		for i := i0; i < i1; i++ {
			clear(plane(i))
		}
	}
	for t, base := range pl.tapOff {
		row := col[(c*pl.ka+t)*ld:]
		for i := i0; i < i1; i++ {
			var dt []T
			if pl.pad > 0 {
				dt = pad[(i-i0)*pl.padLen+base:]
			} else {
				dt = plane(i)[base:]
			}
			scatterAddRow(dt, row[i*pl.p:], pl.posOff)
		}
	}
	if pl.pad > 0 {
		wp := pl.w + 2*pl.pad
		for i := i0; i < i1; i++ {
			d, src := plane(i), pad[(i-i0)*pl.padLen:]
			for ih := range pl.h {
				copy(d[ih*pl.w:(ih+1)*pl.w], src[(ih+pl.pad)*wp+pl.pad:])
			}
		}
	}
}

// transposeChunk moves images [n0, n0+nb) between the NCHW tensor t
// [N, O, P] and the chunk matrix m [O, nb*P]: into m if toChunk, else out
// of it.
func transposeChunk[T linalg.Float](pl *convPlan, m, t []T, n0, nb int, toChunk bool) {
	ld := nb * pl.p
	parallel.For(nb, parallel.Grain(nb, max(1, (1<<14)/(pl.o*pl.p))), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			img := t[(n0+i)*pl.o*pl.p:][:pl.o*pl.p]
			if pl.p == 1 {
				if toChunk {
					for oc, v := range img {
						m[oc*ld+i] = v
					}
				} else {
					for oc := range img {
						img[oc] = m[oc*ld+i]
					}
				}
				continue
			}
			for oc := range pl.o {
				a := img[oc*pl.p:][:pl.p]
				b := m[oc*ld+i*pl.p:][:pl.p]
				if toChunk {
					copy(b, a)
				} else {
					copy(a, b)
				}
			}
		}
	})
}
