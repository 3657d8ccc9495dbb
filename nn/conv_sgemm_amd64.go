//go:build amd64 && !purego

package nn

// sgemmKernel4x16 is the AVX2/FMA micro-kernel of sgemm
// (conv_sgemm_amd64.s).
//
//go:noescape
func sgemmKernel4x16(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, acc bool)

func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)

func xgetbv() (eax, edx uint32)

// sgemmAsm is whether sgemmKernel4x16 is the assembly one.
const sgemmAsm = true

// haveAVX2FMA reports whether the CPU and the OS support AVX2 and FMA.
func haveAVX2FMA() bool {
	maxID, _, _, _ := cpuid(0, 0)
	if maxID < 7 {
		return false
	}
	_, _, ecx1, _ := cpuid(1, 0)
	const fma, osxsave, avx = 1 << 12, 1 << 27, 1 << 28
	if ecx1&fma == 0 || ecx1&osxsave == 0 || ecx1&avx == 0 {
		return false
	}
	if xcr0, _ := xgetbv(); xcr0&6 != 6 { // XMM and YMM state enabled
		return false
	}
	_, ebx7, _, _ := cpuid(7, 0)
	return ebx7&(1<<5) != 0 // AVX2
}
