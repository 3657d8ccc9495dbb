// Package linalg is the one place disiam multiplies matrices.
//
// Float32 products, which are nearly all of a model's arithmetic, run on
// linalg's own GEMM in the default build on CPUs with AVX2 and FMA (amd64;
// see sgemm.go): packed panels and cache blocking as in BLIS and OpenBLAS,
// and a 6x16 assembly micro-kernel of twelve 8-wide FMA accumulators. On
// the project's 2-core AMD EPYC it reaches most of the cores' FMA peak,
// about ten times gonum's pure-Go Sgemm. Float64 products (the
// finite-difference gradient checks), CPUs without AVX2 and builds with
// -tags purego use gonum's BLAS. Building with -tags openblas links
// Debian's libopenblas through gonum's netlib binding (apt-get install
// libopenblas-dev; package internal/openblas) for those products; float32
// products stay on the native kernel where it runs (see Native).
//
// Gemm computes on the calling goroutine (kernels call it from their own
// workers); ParallelGemm splits one product over internal/parallel. Under
// OpenBLAS its internal threading is switched off so the two kinds of
// parallelism do not oversubscribe the cores.
//
// The native GEMM sums every element of C in an order fixed by k alone,
// so Gemm and ParallelGemm give the same bits for any number of workers.
// Each element is summed in float32 with fused multiply-adds, in blocks of
// 256 steps of k, as OpenBLAS and MKL do: its error is that of PyTorch's
// float32 products on the CPU.
package linalg

import (
	"os"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/disiam/disiam/internal/parallel"
)

// Float is the element type of every kernel: float32 for models, float64
// for finite-difference gradient checks.
type Float interface{ ~float32 | ~float64 }

// Native is whether float32 products run on linalg's own kernel: on CPUs
// with AVX2 and FMA in every build, -tags openblas included, where it
// beats OpenBLAS 0.3.21 on the shapes of these models (BENCHMARKS.md).
// In a build with -tags openblas the environment variable
// DISIAM_SGEMM=openblas hands float32 products to OpenBLAS too (for a CPU
// whose OpenBLAS kernels are wider than AVX2, such as AVX-512 ones).
var Native = haveAVX2FMA && !(openblasBuild && os.Getenv("DISIAM_SGEMM") == "openblas")

// OpenBLAS is whether this build links OpenBLAS (-tags openblas): the
// products that do not run on the native kernel (float64, float32 on
// CPUs without AVX2 and FMA) then run on OpenBLAS instead of gonum's
// pure-Go BLAS.
const OpenBLAS = openblasBuild

// Backend names what multiplies matrices: "native" (float32 on linalg's
// own kernel, float64 on gonum), "native+openblas" (float64 on OpenBLAS),
// "openblas" (both on OpenBLAS) or "gonum".
var Backend = backend()

func backend() string {
	switch {
	case Native && openblasBuild:
		return "native+openblas"
	case Native:
		return "native"
	case openblasBuild:
		return "openblas"
	}
	return "gonum"
}

func trans(t bool) blas.Transpose {
	if t {
		return blas.Trans
	}
	return blas.NoTrans
}

// Gemm computes C = alpha*op(A)*op(B) + beta*C for row-major matrices, where
// op(A) is m×k, op(B) is k×n and C is m×n, with leading dimensions lda, ldb,
// ldc as in CBLAS. The native float32 kernel runs on the calling
// goroutine; gonum's Sgemm and Dgemm hand large products to goroutines of
// their own.
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
		if Native {
			sgemm(tA, tB, m, n, k, float32(alpha), a, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
			return
		}
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

// ParallelGemm is Gemm with C split into blocks computed concurrently on
// internal/parallel's workers. The blocks depend on the sizes only and each
// element of C is computed by one call over the full k, so results do not
// depend on the number of workers.
func ParallelGemm[T Float](tA, tB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if Native {
		if a32, ok := any(a).([]float32); ok {
			psgemm(tA, tB, m, n, k, float32(alpha), a32, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
			return
		}
	}
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
