package nn

import (
	"fmt"
	"math"
	"testing"
)

// sgemm against a float64 triple loop: transposes, edges of the 4x16
// tiles, k across the 256 blocking, leading dimensions beyond the minimum,
// beta 0, 1 and other.
func TestSgemm(t *testing.T) {
	if sgemmAsm && !haveAVX2FMA() {
		t.Skip("no AVX2/FMA: sgemm is not used on this CPU")
	}
	for _, sz := range [][3]int{{1, 1, 1}, {4, 16, 8}, {5, 17, 3}, {64, 64, 64}, {7, 33, 300}, {130, 20, 513}, {3, 100, 0}, {260, 9, 40}} {
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			for _, beta := range []float32{0, 1, -0.5} {
				m, n, k := sz[0], sz[1], sz[2]
				tA, tB := tr[0], tr[1]
				t.Run(fmt.Sprintf("%dx%dx%d/tA=%v,tB=%v/beta=%v", m, n, k, tA, tB, beta), func(t *testing.T) {
					ar, ac := m, k
					if tA {
						ar, ac = k, m
					}
					br, bc := k, n
					if tB {
						br, bc = n, k
					}
					lda, ldb, ldc := ac+3, bc+1, n+5
					a := make([]float32, max(0, (ar-1)*lda+ac))
					b := make([]float32, max(0, (br-1)*ldb+bc))
					c := make([]float32, (m-1)*ldc+n)
					for i := range a {
						a[i] = float32(math.Sin(float64(i)))
					}
					for i := range b {
						b[i] = float32(math.Cos(float64(i) * 0.7))
					}
					for i := range c {
						c[i] = float32(i%7) - 3
					}
					want := make([]float64, len(c))
					for i := range m {
						for j := range n {
							var s float64
							for p := range k {
								var av, bv float32
								if tA {
									av = a[p*lda+i]
								} else {
									av = a[i*lda+p]
								}
								if tB {
									bv = b[j*ldb+p]
								} else {
									bv = b[p*ldb+j]
								}
								s += float64(av) * float64(bv)
							}
							want[i*ldc+j] = float64(beta)*float64(c[i*ldc+j]) + s
						}
					}
					sgemm(tA, tB, m, n, k, a, lda, b, ldb, beta, c, ldc)
					for i := range m {
						for j := range n {
							got, w := float64(c[i*ldc+j]), want[i*ldc+j]
							if math.Abs(got-w) > 1e-5*(1+float64(k)) {
								t.Fatalf("c[%d][%d] = %v, want %v", i, j, got, w)
							}
						}
						for j := n; j < ldc && i*ldc+j < len(c); j++ { // padding untouched
							if c[i*ldc+j] != float32((i*ldc+j)%7)-3 {
								t.Fatalf("c[%d][%d] beyond n was written", i, j)
							}
						}
					}
				})
			}
		}
	}
}
