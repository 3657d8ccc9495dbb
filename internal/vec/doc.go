// Package vec holds the vector loops that float32 kernels share, in
// assembly where the CPU has AVX2 and FMA and in portable Go elsewhere. It
// has no cgo, so its assembly is used in every build, the openblas one
// included.
package vec
