package linalg

import (
	"fmt"
	"sync"

	"github.com/disiam/disiam/internal/parallel"
)

// The native float32 GEMM, organized like BLIS and OpenBLAS: C is computed
// in blocks of mcBlock rows, ncBlock columns and kcBlock steps of k. For
// each block, op(B)'s kc×nc slice is packed into panels of nr columns
// (each panel one contiguous run of kc rows of 16 floats) and op(A)'s
// mc×kc slice into panels of mr rows (kc columns of six floats), whatever
// the transposition of the operands, and the micro-kernel multiplies one A
// panel by one B panel into a 6x16 tile of C held in twelve AVX registers.
// A B panel (16 KB at kc = 256) stays in the L1 cache while the kernel
// runs down the A panels of the block (144 KB, in L2); the packed B block
// (1 MB) stays in L3 while the A blocks pass.
//
// Every element of C is beta*C plus, for each kc block of k in order, one
// fused multiply-add of alpha and that block's sum, itself summed over p
// in order from zero. That order depends on k alone, never on where the
// element lies in C, on the blocking of m and n or on the goroutine that
// computes it, so ParallelGemm, which splits C among goroutines, gives the
// same bits as Gemm for any number of workers.
const (
	mr, nr  = 6, 16
	kcBlock = 256
	mcBlock = 24 * mr
	ncBlock = 64 * nr
)

// packBufs holds the free packing buffers. They are never freed (a GC
// would empty a sync.Pool and make steady-state training steps allocate)
// and a request takes the smallest one that fits, else grows the largest,
// so there are at most as many as were ever in use at once, and they stop
// growing after the first products of each shape.
var packBufs struct {
	sync.Mutex
	free [][]float32
}

// getPack returns a buffer of n floats with undefined content; give it
// back with putPack.
func getPack(n int) []float32 {
	packBufs.Lock()
	defer packBufs.Unlock()
	fit, big := -1, -1
	for i, b := range packBufs.free {
		if cap(b) >= n && (fit < 0 || cap(b) < cap(packBufs.free[fit])) {
			fit = i
		}
		if big < 0 || cap(b) > cap(packBufs.free[big]) {
			big = i
		}
	}
	if fit < 0 {
		fit = big
	}
	var b []float32
	if fit >= 0 {
		free := packBufs.free
		b = free[fit]
		last := len(free) - 1
		free[fit] = free[last]
		free[last] = nil
		packBufs.free = free[:last]
	}
	if cap(b) < n {
		b = make([]float32, n)
	}
	return b[:n]
}

func putPack(b []float32) {
	packBufs.Lock()
	packBufs.free = append(packBufs.free, b)
	packBufs.Unlock()
}

// sgemm is Gemm for float32 on the native kernel, on the calling
// goroutine.
func sgemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	checkGemm(tA, tB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
	sgemmBlock(nil, nil, tA, tB, 0, m, 0, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// psgemm is ParallelGemm for float32 on the native kernel: C is cut into
// a grid of blocks that depends on m, n and k only (see sgemmGrid), and
// the blocks run on internal/parallel's workers. When C is cut along one
// side only, the operand every block needs whole (op(A) when n is cut,
// op(B) when m is) is packed once, beforehand, instead of once per block.
func psgemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	checkGemm(tA, tB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
	mb, nb := sgemmGrid(m, n, k)
	tm, tn := (m+mb-1)/mb, (n+nb-1)/nb
	if tm*tn == 1 {
		sgemmBlock(nil, nil, tA, tB, 0, m, 0, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	const maxShared = 1 << 22 // floats of a shared packed operand
	var pa, pb []float32
	mp, np := (m+mr-1)/mr*mr, (n+nr-1)/nr*nr
	if k > 0 && alpha != 0 && (tm == 1 && mp*k <= maxShared || tn == 1 && np*k <= maxShared) {
		if tm == 1 {
			pa = getPack(mp * k)
			defer putPack(pa)
		} else {
			pb = getPack(np * k)
			defer putPack(pb)
		}
		parallel.For(k, kcBlock, func(p0, p1 int) {
			if pa != nil {
				packA(pa[p0*mp:], tA, a, lda, 0, m, p0, p1-p0)
			} else {
				packB(pb[p0*np:], tB, b, ldb, p0, p1-p0, 0, n)
			}
		})
	}
	parallel.For(tm*tn, 1, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			i, j := t/tn*mb, t%tn*nb
			sgemmBlock(pa, pb, tA, tB, i, min(m, i+mb), j, min(n, j+nb), k, alpha, a, lda, b, ldb, beta, c, ldc)
		}
	})
}

// sgemmGrid returns the rows and columns of the blocks of C that psgemm
// computes concurrently: about maxTasks blocks of at least minTaskFlops
// each, whole micro-tiles but at the edges. It cuts the longer of C's
// sides first, because every block packs the rows of op(A) and the
// columns of op(B) it needs, and cutting n repacks A (m×k) once per
// block while cutting m repacks B (k×n).
func sgemmGrid(m, n, k int) (mb, nb int) {
	const (
		maxTasks     = 8
		minTaskFlops = 1 << 22
	)
	tasks := min(maxTasks, int(2*int64(m)*int64(n)*int64(k)/minTaskFlops))
	pm, pn := (m+mr-1)/mr, (n+nr-1)/nr
	if tasks <= 1 {
		return m, n
	}
	var tm, tn int
	if n >= m {
		tn = min(tasks, pn)
		tm = min(pm, (tasks+tn-1)/tn)
	} else {
		tm = min(tasks, pm)
		tn = min(pn, (tasks+tm-1)/tm)
	}
	return (pm + tm - 1) / tm * mr, (pn + tn - 1) / tn * nr
}

// sgemmBlock computes rows [i0, i1) and columns [j0, j1) of C. pa, when not nil, is the whole of op(A) packed already: kc
// block p0 at pa[p0*mp:] (mp is m rounded up to whole panels), as packA
// lays it out for rows 0..m; pb likewise for op(B), with np.
func sgemmBlock(pa, pb []float32, tA, tB bool, i0, i1, j0, j1, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	product := k > 0 && alpha != 0
	// With beta 0 the first kc block overwrites C instead of adding to it:
	// the same bits, since an accumulator that starts at +0 never holds -0,
	// and one pass less over C.
	if beta != 1 && (beta != 0 || !product) {
		for i := i0; i < i1; i++ {
			row := c[i*ldc+j0 : i*ldc+j1]
			if beta == 0 {
				clear(row)
				continue
			}
			for j := range row {
				row[j] *= beta
			}
		}
	}
	if !product {
		return
	}
	kcMax := min(k, kcBlock)
	var bufA, bufB []float32
	if pa == nil {
		bufA = getPack((min(i1-i0, mcBlock) + mr - 1) / mr * mr * kcMax)
		defer putPack(bufA)
	}
	if pb == nil {
		bufB = getPack((min(j1-j0, ncBlock) + nr - 1) / nr * nr * kcMax)
		defer putPack(bufB)
	}
	mp := len(pa) / k
	np := len(pb) / k
	var tile [mr * nr]float32
	for jc := j0; jc < j1; jc += ncBlock {
		nc := min(ncBlock, j1-jc)
		for pc := 0; pc < k; pc += kcBlock {
			kc := min(kcBlock, k-pc)
			add := pc > 0 || beta != 0
			bb := bufB
			if pb != nil {
				bb = pb[pc*np+jc*kc:]
			} else {
				packB(bb, tB, b, ldb, pc, kc, jc, nc)
			}
			for ic := i0; ic < i1; ic += mcBlock {
				mc := min(mcBlock, i1-ic)
				ab := bufA
				if pa != nil {
					ab = pa[pc*mp+ic*kc:]
				} else {
					packA(ab, tA, a, lda, ic, mc, pc, kc)
				}
				for jr := 0; jr < nc; jr += nr {
					nrr := min(nr, nc-jr)
					bp := &bb[jr*kc]
					for ir := 0; ir < mc; ir += mr {
						mrr := min(mr, mc-ir)
						ap := &ab[ir*kc]
						ci := (ic+ir)*ldc + jc + jr
						if mrr == mr && nrr == nr {
							sgemmKernel6x16(kc, ap, bp, &c[ci], ldc, alpha, add)
							continue
						}
						// An edge tile: through a full 6x16 copy, so that
						// its elements get the same operations as the
						// others.
						if add {
							for r := range mrr {
								copy(tile[r*nr:][:nrr], c[ci+r*ldc:][:nrr])
							}
						}
						sgemmKernel6x16(kc, ap, bp, &tile[0], nr, alpha, add)
						for r := range mrr {
							copy(c[ci+r*ldc:][:nrr], tile[r*nr:][:nrr])
						}
					}
				}
			}
		}
	}
}

// packA packs rows [i0, i0+mc) and columns [p0, p0+kc) of op(A) into
// panels of mr rows: dst[ir*kc + mr*p + r] = op(A)[i0+ir+r][p0+p], zero
// past the last row.
func packA(dst []float32, tA bool, a []float32, lda, i0, mc, p0, kc int) {
	for ir := 0; ir < mc; ir += mr {
		d := dst[ir*kc:][:mr*kc]
		rows := min(mr, mc-ir)
		switch {
		case tA && rows == mr: // op(A)[i][p] = a[p*lda+i]
			p := 0
			if kernelAsm {
				_ = a[(p0+kc-1)*lda+i0+ir+mr-1]
				packA6T(kc, &a[p0*lda+i0+ir], lda, &d[0])
				p = kc
			}
			for ; p < kc; p++ {
				s := a[(p0+p)*lda+i0+ir:][:mr:mr]
				dd := d[mr*p:][:mr:mr]
				dd[0], dd[1], dd[2], dd[3], dd[4], dd[5] = s[0], s[1], s[2], s[3], s[4], s[5]
			}
		case tA:
			clear(d)
			for p := range kc {
				copy(d[mr*p:][:rows], a[(p0+p)*lda+i0+ir:][:rows])
			}
		case rows == mr:
			s0 := a[(i0+ir)*lda+p0:][:kc]
			s1 := a[(i0+ir+1)*lda+p0:][:kc]
			s2 := a[(i0+ir+2)*lda+p0:][:kc]
			s3 := a[(i0+ir+3)*lda+p0:][:kc]
			s4 := a[(i0+ir+4)*lda+p0:][:kc]
			s5 := a[(i0+ir+5)*lda+p0:][:kc]
			p := 0
			if kernelAsm && kc >= 8 {
				packA6N(kc/8, &s0[0], lda, &d[0])
				p = kc / 8 * 8
			}
			for ; p < kc; p++ {
				dd := d[mr*p:][:mr:mr]
				dd[0], dd[1], dd[2], dd[3], dd[4], dd[5] = s0[p], s1[p], s2[p], s3[p], s4[p], s5[p]
			}
		default:
			clear(d)
			for r := range rows {
				for p, v := range a[(i0+ir+r)*lda+p0:][:kc] {
					d[mr*p+r] = v
				}
			}
		}
	}
}

// packB packs rows [p0, p0+kc) and columns [j0, j0+nc) of op(B) into
// panels of nr columns: dst[jr*kc + nr*p + j] = op(B)[p0+p][j0+jr+j],
// zero past the last column.
func packB(dst []float32, tB bool, b []float32, ldb, p0, kc, j0, nc int) {
	for jr := 0; jr < nc; jr += nr {
		d := dst[jr*kc:][:nr*kc]
		cols := min(nr, nc-jr)
		if !tB { // op(B)[p][j] = b[p*ldb+j]
			if kernelAsm && cols == nr {
				_ = b[(p0+kc-1)*ldb+j0+jr+nr-1]
				packB16N(kc, &b[p0*ldb+j0+jr], ldb, &d[0])
				continue
			}
			for p := range kc {
				row := d[nr*p:][:nr]
				copy(row, b[(p0+p)*ldb+j0+jr:][:cols])
				clear(row[cols:])
			}
			continue
		}
		// op(B)[p][j] = b[j*ldb+p]: eight steps of sixteen columns at a
		// time in assembly, else four columns at a time.
		p := 0
		if kernelAsm && cols == nr && kc >= 8 {
			_ = b[(j0+jr+nr-1)*ldb+p0+kc-1]
			packB16T(kc/8, &b[(j0+jr)*ldb+p0], ldb, &d[0])
			p = kc / 8 * 8
		}
		if p == kc {
			continue
		}
		j := 0
		for ; j+4 <= cols; j += 4 {
			s0 := b[(j0+jr+j)*ldb+p0:][:kc]
			s1 := b[(j0+jr+j+1)*ldb+p0:][:kc]
			s2 := b[(j0+jr+j+2)*ldb+p0:][:kc]
			s3 := b[(j0+jr+j+3)*ldb+p0:][:kc]
			for q := p; q < kc; q++ {
				dd := d[nr*q+j:][:4:4]
				dd[0], dd[1], dd[2], dd[3] = s0[q], s1[q], s2[q], s3[q]
			}
		}
		for ; j < nr; j++ {
			if j >= cols {
				for q := p; q < kc; q++ {
					d[nr*q+j] = 0
				}
				continue
			}
			for q, v := range b[(j0+jr+j)*ldb+p0+p:][:kc-p] {
				d[nr*(p+q)+j] = v
			}
		}
	}
}

// checkGemm panics unless the slices hold the matrices their sizes and
// leading dimensions describe: the micro-kernel reads and writes without
// bounds checks.
func checkGemm(tA, tB bool, m, n, k, la, lda, lb, ldb, lc, ldc int) {
	need := func(what string, rows, cols, ld, l int) {
		if rows > 0 && cols > 0 && (ld < cols || l < (rows-1)*ld+cols) {
			panic(fmt.Sprintf("linalg: Gemm: %s of %dx%d with leading dimension %d in %d elements", what, rows, cols, ld, l))
		}
	}
	if tA {
		need("A", k, m, lda, la)
	} else {
		need("A", m, k, lda, la)
	}
	if tB {
		need("B", n, k, ldb, lb)
	} else {
		need("B", k, n, ldb, lb)
	}
	need("C", m, n, ldc, lc)
}
