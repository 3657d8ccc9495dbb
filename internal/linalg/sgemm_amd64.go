//go:build amd64 && !purego

package linalg

import "golang.org/x/sys/cpu"

// sgemmKernel6x16 is the AVX2/FMA micro-kernel of sgemm (sgemm_amd64.s):
// C[6][16] (row stride ldc) = alpha·A·B + C (C not read unless add) for A
// packed as six floats per step of k and B as sixteen.
//
//go:noescape
func sgemmKernel6x16(k int, a, b, c *float32, ldc int, alpha float32, add bool)

// kernelAsm is whether sgemmKernel6x16 is the assembly one.
const kernelAsm = true

// haveAVX2FMA reports whether the CPU and the OS support the AVX, AVX2 and
// FMA instructions sgemmKernel6x16 uses. golang.org/x/sys/cpu reads the
// CPUID feature bits; its HasAVX and HasAVX2 are true only when the OS
// also saves the YMM registers on a context switch (the OSXSAVE bit, and
// XGETBV reporting XMM and YMM state enabled in XCR0).
var haveAVX2FMA = cpu.X86.HasAVX && cpu.X86.HasAVX2 && cpu.X86.HasFMA

// The packing routines of pack_amd64.s for whole panels; the Go loops of
// packA and packB handle partial panels and the last kc mod 8 steps.

// packB16N sets dst[16p+j] = src[p*ld+j] for p < kc, j < 16.
//
//go:noescape
func packB16N(kc int, src *float32, ld int, dst *float32)

// packB16T sets dst[16p+j] = src[j*ld+p] for p < 8*kc8, j < 16.
//
//go:noescape
func packB16T(kc8 int, src *float32, ld int, dst *float32)

// packA6N sets dst[6p+r] = src[r*ld+p] for p < 8*kc8, r < 6.
//
//go:noescape
func packA6N(kc8 int, src *float32, ld int, dst *float32)

// packA6T sets dst[6p+r] = src[p*ld+r] for p < kc, r < 6.
//
//go:noescape
func packA6T(kc int, src *float32, ld int, dst *float32)
