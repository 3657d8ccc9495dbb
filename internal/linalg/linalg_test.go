package linalg

import (
	"math"
	"testing"

	"github.com/disiam/disiam/internal/parallel"
)

func naive(tA, tB bool, m, n, k int, a, b []float64) []float64 {
	c := make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				av := a[i*k+p]
				if tA {
					av = a[p*m+i]
				}
				bv := b[p*n+j]
				if tB {
					bv = b[j*k+p]
				}
				s += av * bv
			}
			c[i*n+j] = s
		}
	}
	return c
}

func TestGemmMatchesNaive(t *testing.T) {
	for _, tc := range []struct {
		name    string
		tA, tB  bool
		m, n, k int
	}{
		{"NN", false, false, 5, 7, 3},
		{"TN", true, false, 130, 9, 70},
		{"NT", false, true, 200, 33, 400},
		{"TT", true, true, 4, 4, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := make([]float64, tc.m*tc.k)
			b := make([]float64, tc.k*tc.n)
			for i := range a {
				a[i] = math.Sin(float64(i))
			}
			for i := range b {
				b[i] = math.Cos(float64(i))
			}
			want := naive(tc.tA, tc.tB, tc.m, tc.n, tc.k, a, b)
			lda, ldb := tc.k, tc.n
			if tc.tA {
				lda = tc.m
			}
			if tc.tB {
				ldb = tc.k
			}
			c := make([]float64, tc.m*tc.n)
			ParallelGemm(tc.tA, tc.tB, tc.m, tc.n, tc.k, 1, a, lda, b, ldb, 0, c, tc.n)
			for i := range c {
				if math.Abs(c[i]-want[i]) > 1e-9 {
					t.Fatalf("c[%d] = %v, want %v", i, c[i], want[i])
				}
			}
			a32 := make([]float32, len(a))
			b32 := make([]float32, len(b))
			for i := range a {
				a32[i] = float32(a[i])
			}
			for i := range b {
				b32[i] = float32(b[i])
			}
			for _, w := range []int{1, 3} {
				parallel.Workers = w
				c32 := make([]float32, len(c))
				ParallelGemm(tc.tA, tc.tB, tc.m, tc.n, tc.k, 1, a32, lda, b32, ldb, 0, c32, tc.n)
				for i := range c32 {
					if math.Abs(float64(c32[i])-want[i]) > 1e-3 {
						t.Fatalf("workers %d: c32[%d] = %v, want %v", w, i, c32[i], want[i])
					}
				}
			}
		})
	}
}
