//go:build amd64 && !purego

package nn

import "golang.org/x/sys/cpu"

// sgemmKernel4x16 is the AVX2/FMA micro-kernel of sgemm
// (conv_sgemm_amd64.s).
//
//go:noescape
func sgemmKernel4x16(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, acc bool)

// sgemmAsm is whether sgemmKernel4x16 is the assembly one.
const sgemmAsm = true

// haveAVX2FMA reports whether the CPU and the OS support the AVX, AVX2 and
// FMA instructions sgemmKernel4x16 uses. golang.org/x/sys/cpu reads the
// CPUID feature bits; its HasAVX and HasAVX2 are true only when the OS
// also saves the YMM registers on a context switch (the OSXSAVE bit, and
// XGETBV reporting XMM and YMM state enabled in XCR0).
func haveAVX2FMA() bool { return cpu.X86.HasAVX && cpu.X86.HasAVX2 && cpu.X86.HasFMA }
