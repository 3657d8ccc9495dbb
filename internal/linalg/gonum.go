//go:build !openblas

package linalg

// openblasBuild is whether this build links OpenBLAS.
const openblasBuild = false
