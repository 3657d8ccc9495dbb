package nn

import "fmt"

// sgemm is the float32 GEMM of the convolution kernels in the default
// (pure-Go) build on CPUs with AVX2 and FMA: C = beta*C + op(A) op(B) for
// row-major matrices, as linalg.Gemm with alpha 1, on the calling
// goroutine. gonum's Sgemm runs SSE axpy and dot loops at about 14 GFLOP/s
// per core on these machines; this one packs A into panels of four rows
// (read in place when op(A) = Aᵀ), streams B in panels of 16 columns (read
// in place when op(B) = B) and
// multiplies them with an assembly micro-kernel of eight 8-wide FMA
// accumulators (conv_sgemm_amd64.s). Like every GEMM of the kernels, each
// element of C is summed over k in an order fixed by k alone, so splitting
// C among goroutines does not change the result. Under -tags openblas the
// kernels call OpenBLAS instead, and everywhere float64 goes to gonum.
func sgemm(tA, tB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	checkGemm(tA, tB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
	for i := range m {
		row := c[i*ldc:][:n]
		switch beta {
		case 1:
		case 0:
			clear(row)
		default:
			for j := range row {
				row[j] *= beta
			}
		}
	}
	if k == 0 {
		return
	}
	const kcMax, mcMax = 256, 256
	kcap := min(k, kcMax)
	ab := getScratch[float32]((min(m, mcMax) + 3) / 4 * 4 * kcap)
	defer putScratch(ab)
	bb := getScratch[float32](16 * kcap)
	defer putScratch(bb)
	var tile [4 * 16]float32
	for p0 := 0; p0 < k; p0 += kcMax {
		kc := min(kcMax, k-p0)
		for i0 := 0; i0 < m; i0 += mcMax {
			mc := min(mcMax, m-i0)
			// op(A) = Aᵀ is read in place (four consecutive elements per
			// step) but for a last partial panel; else it is packed.
			packed := mc
			if tA {
				packed = mc % 4
				packPanelsA(ab.s, tA, a, lda, i0+mc-packed, packed, p0, kc)
			} else {
				packPanelsA(ab.s, tA, a, lda, i0, mc, p0, kc)
			}
			for j := 0; j < n; j += 16 {
				nr := min(16, n-j)
				bp, bld := bb.s, 16
				if !tB && nr == 16 {
					bp, bld = b[p0*ldb+j:], ldb
				} else {
					packPanelB(bb.s, tB, b, ldb, p0, kc, j, nr)
				}
				for ir := 0; ir < mc; ir += 4 {
					mr := min(4, mc-ir)
					ap, ald := &ab.s[ir*kc], 4
					if tA {
						if mr == 4 {
							ap, ald = &a[p0*lda+i0+ir], lda
						} else {
							ap = &ab.s[0]
						}
					}
					if mr == 4 && nr == 16 {
						sgemmKernel4x16(kc, ap, ald, &bp[0], bld, &c[(i0+ir)*ldc+j], ldc, true)
						continue
					}
					sgemmKernel4x16(kc, ap, ald, &bp[0], bld, &tile[0], 16, false)
					for r := range mr {
						row := c[(i0+ir+r)*ldc+j:][:nr]
						for jj := range row {
							row[jj] += tile[r*16+jj]
						}
					}
				}
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
			panic(fmt.Sprintf("nn: sgemm: %s of %dx%d with leading dimension %d in %d elements", what, rows, cols, ld, l))
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

// packPanelsA packs rows [i0, i0+mc) and columns [p0, p0+kc) of op(A) into
// panels of four rows: dst[ir*kc + 4*p + r] = op(A)[i0+ir+r][p0+p], zero
// past the last row.
func packPanelsA(dst []float32, tA bool, a []float32, lda, i0, mc, p0, kc int) {
	for ir := 0; ir < mc; ir += 4 {
		d := dst[ir*kc:][:4*kc]
		mr := min(4, mc-ir)
		if tA { // op(A)[i][p] = a[p*lda+i]: four consecutive elements per p
			for p := range kc {
				src := a[(p0+p)*lda+i0+ir:][:mr]
				dd := d[4*p:][:4]
				for r := range dd {
					if r < mr {
						dd[r] = src[r]
					} else {
						dd[r] = 0
					}
				}
			}
			continue
		}
		if mr == 4 {
			s0 := a[(i0+ir)*lda+p0:][:kc]
			s1 := a[(i0+ir+1)*lda+p0:][:kc]
			s2 := a[(i0+ir+2)*lda+p0:][:kc]
			s3 := a[(i0+ir+3)*lda+p0:][:kc]
			for p := range s0 {
				dd := d[4*p:][:4:4]
				dd[0], dd[1], dd[2], dd[3] = s0[p], s1[p], s2[p], s3[p]
			}
			continue
		}
		clear(d)
		for r := range mr {
			for p, v := range a[(i0+ir+r)*lda+p0:][:kc] {
				d[4*p+r] = v
			}
		}
	}
}

// packPanelB packs rows [p0, p0+kc) and columns [j0, j0+nr) of op(B) into
// dst[16*p + j], zero past column nr.
func packPanelB(dst []float32, tB bool, b []float32, ldb, p0, kc, j0, nr int) {
	d := dst[:16*kc]
	if !tB {
		for p := range kc {
			row := d[16*p:][:16]
			copy(row, b[(p0+p)*ldb+j0:][:nr])
			clear(row[nr:])
		}
		return
	}
	// op(B)[p][j] = b[j*ldb+p]: transpose four columns at a time.
	j := 0
	for ; j+4 <= nr; j += 4 {
		s0 := b[(j0+j)*ldb+p0:][:kc]
		s1 := b[(j0+j+1)*ldb+p0:][:kc]
		s2 := b[(j0+j+2)*ldb+p0:][:kc]
		s3 := b[(j0+j+3)*ldb+p0:][:kc]
		for p := range s0 {
			dd := d[16*p+j:][:4:4]
			dd[0], dd[1], dd[2], dd[3] = s0[p], s1[p], s2[p], s3[p]
		}
	}
	for ; j < 16; j++ {
		if j >= nr {
			for p := range kc {
				d[16*p+j] = 0
			}
			continue
		}
		for p, v := range b[(j0+j)*ldb+p0:][:kc] {
			d[16*p+j] = v
		}
	}
}
