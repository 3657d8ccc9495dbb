// Package linalg is the one place disiam calls BLAS.
//
// The default build uses gonum's pure-Go BLAS, so no C toolchain is needed.
// Building with -tags openblas links Debian's libopenblas through gonum's
// netlib binding (apt-get install libopenblas-dev), about ten times faster
// SGEMM on these machines. Kernels call Gemm from their own worker
// goroutines; under OpenBLAS its internal threading is switched off so the
// two kinds of parallelism do not oversubscribe the cores, and ParallelGemm
// splits one large product by rows over internal/parallel instead.
package linalg

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/disiam/disiam/internal/parallel"
)

// Float is the element type of every kernel: float32 for models, float64
// for finite-difference gradient checks.
type Float interface{ ~float32 | ~float64 }

// Backend names the BLAS in use: "gonum" or "openblas".
var Backend = "gonum"

func trans(t bool) blas.Transpose {
	if t {
		return blas.Trans
	}
	return blas.NoTrans
}

// Gemm computes C = alpha*op(A)*op(B) + beta*C for row-major matrices, where
// op(A) is m×k, op(B) is k×n and C is m×n, with leading dimensions lda, ldb,
// ldc as in CBLAS.
func Gemm[T Float](tA, tB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		scaleRows(m, n, beta, c, ldc)
		return
	}
	switch a := any(a).(type) {
	case []float32:
		blas32.Implementation().Sgemm(trans(tA), trans(tB), m, n, k, float32(alpha), a, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
	case []float64:
		blas64.Implementation().Dgemm(trans(tA), trans(tB), m, n, k, float64(alpha), a, lda, any(b).([]float64), ldb, float64(beta), any(c).([]float64), ldc)
	default:
		panic("linalg: unsupported element type")
	}
}

func scaleRows[T Float](m, n int, beta T, c []T, ldc int) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// ParallelGemm is Gemm with the rows of C split into blocks computed
// concurrently. Each element of C is computed by one call over the full k,
// so results do not depend on the number of workers.
func ParallelGemm[T Float](tA, tB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	const rowBlock = 64
	if m <= rowBlock || int64(m)*int64(n)*int64(k) < 1<<21 {
		Gemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	parallel.For(m, rowBlock, func(lo, hi int) {
		var ablk []T
		if tA {
			ablk = a[lo:] // columns lo.. of the k×m matrix A
		} else {
			ablk = a[lo*lda:]
		}
		Gemm(tA, tB, hi-lo, n, k, alpha, ablk, lda, b, ldb, beta, c[lo*ldc:], ldc)
	})
}
