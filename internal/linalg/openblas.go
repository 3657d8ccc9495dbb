//go:build openblas

package linalg

import _ "github.com/disiam/disiam/internal/openblas" // OpenBLAS behind gonum's blas32 and blas64

// openblasBuild is whether this build links OpenBLAS.
const openblasBuild = true
