//go:build openblas

// Package openblas links Debian's libopenblas (apt-get install
// libopenblas-dev) behind gonum's BLAS interfaces: blas32 and blas64 use
// gonum's netlib binding, with OpenBLAS's own threading switched off
// (disiam parallelizes around BLAS calls itself). internal/linalg imports
// it in builds with -tags openblas. It is its own package because a Go
// package with cgo cannot hold assembly, and linalg's GEMM kernel is
// assembly.
package openblas

/*
#cgo LDFLAGS: -lopenblas
void openblas_set_num_threads(int);
*/
import "C"

import (
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/netlib/blas/netlib"
)

func init() {
	C.openblas_set_num_threads(1)
	blas32.Use(netlib.Implementation{})
	blas64.Use(netlib.Implementation{})
}
