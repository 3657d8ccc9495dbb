package linalg

import (
	"fmt"
	"math"
	"testing"

	"github.com/disiam/disiam/internal/parallel"
)

// gemmCase is one product C = alpha op(A) op(B) + beta C with leading
// dimensions beyond the minimum, so that reads and writes past a row show.
type gemmCase struct {
	tA, tB      bool
	m, n, k     int
	alpha, beta float32
}

func (tc gemmCase) String() string {
	return fmt.Sprintf("%dx%dx%d/tA=%v,tB=%v/alpha=%v,beta=%v", tc.m, tc.n, tc.k, tc.tA, tc.tB, tc.alpha, tc.beta)
}

// operands returns A, B and C (C's padding holds a pattern checked after
// the product) and their leading dimensions.
func (tc gemmCase) operands() (a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	ar, ac := tc.m, tc.k
	if tc.tA {
		ar, ac = ac, ar
	}
	br, bc := tc.k, tc.n
	if tc.tB {
		br, bc = bc, br
	}
	lda, ldb, ldc = ac+3, bc+1, tc.n+5
	a = make([]float32, max(0, (ar-1)*lda+ac))
	b = make([]float32, max(0, (br-1)*ldb+bc))
	c = make([]float32, (tc.m-1)*ldc+tc.n)
	for i := range a {
		a[i] = float32(math.Sin(float64(i)))
	}
	for i := range b {
		b[i] = float32(math.Cos(float64(i) * 0.7))
	}
	for i := range c {
		c[i] = float32(i%7) - 3
		if tc.beta == 0 && i%ldc < tc.n {
			c[i] = float32(math.NaN()) // BLAS: C is not read when beta is 0
		}
	}
	return
}

// checkGemmResult compares C with a float64 evaluation of the same
// product from the same float32 operands, within the classical bound of a
// float32 dot product, (k+2)·u·(|alpha| Σ|a b| + |beta c|) with unit
// roundoff u = 2⁻²⁴, and checks that C's padding was not written. It
// returns the largest error in units of that bound.
func checkGemmResult(t *testing.T, tc gemmCase, a []float32, lda int, b []float32, ldb int, c0, c []float32, ldc int) float64 {
	t.Helper()
	const u = 1.0 / (1 << 24)
	worst := 0.0
	for i := range tc.m {
		for j := range tc.n {
			var s, abs float64
			for p := range tc.k {
				var av, bv float32
				if tc.tA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if tc.tB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
				abs += math.Abs(float64(av) * float64(bv))
			}
			cv := float64(c0[i*ldc+j])
			if tc.beta == 0 {
				cv = 0
			}
			want := float64(tc.alpha)*s + float64(tc.beta)*cv
			bound := float64(tc.k+2)*u*(math.Abs(float64(tc.alpha))*abs+math.Abs(float64(tc.beta)*cv)) + 1e-30
			got := float64(c[i*ldc+j])
			if e := math.Abs(got-want) / bound; e > worst {
				worst = e
			}
			if math.Abs(got-want) > bound {
				t.Fatalf("c[%d][%d] = %v, want %v (bound %.3g)", i, j, got, want, bound)
			}
		}
		for j := tc.n; j < ldc && i*ldc+j < len(c); j++ {
			if c[i*ldc+j] != c0[i*ldc+j] {
				t.Fatalf("c[%d][%d] beyond n was written", i, j)
			}
		}
	}
	return worst
}

// The native GEMM against float64 for odd sizes (edges of the 6x16 tiles,
// k across the 256 blocking, m across the 144-row and n across the
// 1024-column blocks), every transposition, and alpha and beta 0, 1 and
// other; then ParallelGemm must give Gemm's bits for 1, 2, 3 and 7
// workers.
func TestSgemm(t *testing.T) {
	if kernelAsm && !haveAVX2FMA {
		t.Skip("no AVX2/FMA: the native GEMM is not used on this CPU")
	}
	var cases []gemmCase
	for _, sz := range [][3]int{{1, 1, 1}, {6, 16, 8}, {7, 13, 255}, {13, 7, 1000}, {255, 33, 7}, {1, 1000, 13}, {1000, 1, 13}, {5, 17, 3}, {3, 100, 0}} {
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			for _, ab := range [][2]float32{{1, 0}, {1, 1}, {-0.5, 0.25}, {0, -0.5}} {
				cases = append(cases, gemmCase{tr[0], tr[1], sz[0], sz[1], sz[2], ab[0], ab[1]})
			}
		}
	}
	for _, sz := range [][3]int{{255, 257, 300}, {13, 1100, 300}, {150, 40, 513}} {
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			cases = append(cases, gemmCase{tr[0], tr[1], sz[0], sz[1], sz[2], 1, 0})
		}
	}
	defer func(w int) { parallel.Workers = w }(parallel.Workers)
	worst := 0.0
	for _, tc := range cases {
		t.Run(tc.String(), func(t *testing.T) {
			a, lda, b, ldb, c0, ldc := tc.operands()
			c := append([]float32(nil), c0...)
			sgemm(tc.tA, tc.tB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
			worst = max(worst, checkGemmResult(t, tc, a, lda, b, ldb, c0, c, ldc))
			for _, w := range []int{1, 2, 3, 7} {
				parallel.Workers = w
				cp := append([]float32(nil), c0...)
				psgemm(tc.tA, tc.tB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, cp, ldc)
				for i := range c {
					if math.Float32bits(cp[i]) != math.Float32bits(c[i]) {
						t.Fatalf("%d workers: c[%d] = %v, Gemm gave %v", w, i, cp[i], c[i])
					}
				}
			}
		})
	}
	t.Logf("largest error: %.3g of the float32 bound", worst)
}

// The grid of ParallelGemm covers C with whole micro-tiles, at most eight
// blocks, and none below the size worth a goroutine.
func TestSgemmGrid(t *testing.T) {
	for _, tc := range []struct{ m, n, k, tasks int }{
		{64, 2048, 2048, 8}, {2048, 2048, 64, 8}, {64, 512, 2048, 8},
		{576, 4096, 64, 8}, {10, 10, 10, 1}, {1, 100000, 64, 3}, {6, 32, 1 << 20, 2},
	} {
		mb, nb := sgemmGrid(tc.m, tc.n, tc.k)
		tasks := (tc.m + mb - 1) / mb * ((tc.n + nb - 1) / nb)
		if tasks != tc.tasks || mb < tc.m && mb%mr != 0 || nb < tc.n && nb%nr != 0 {
			t.Errorf("%dx%dx%d: blocks %dx%d, %d tasks; want %d tasks of whole tiles", tc.m, tc.n, tc.k, mb, nb, tasks, tc.tasks)
		}
	}
}

// Gemm panics with a message naming the operand when a slice is too short
// for its sizes, instead of letting the kernel read past it.
func TestSgemmShortOperand(t *testing.T) {
	if !Native {
		t.Skip("gonum's BLAS checks its own operands")
	}
	defer func() {
		if r := recover(); r == nil || fmt.Sprint(r) != "linalg: Gemm: B of 4x4 with leading dimension 4 in 15 elements" {
			t.Fatalf("recovered %v", r)
		}
	}()
	Gemm(false, false, 4, 4, 4, 1, make([]float32, 16), 4, make([]float32, 15), 4, 0, make([]float32, 16), 4)
}
