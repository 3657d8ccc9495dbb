//go:build amd64 && !purego

package knn

// useAVX2 reports whether the CPU and the OS support AVX2 and FMA.
var useAVX2 = hasAVX2FMA()

func hasAVX2FMA() bool {
	_, _, c, _ := cpuid(1, 0)
	const fma, osxsave, avx = 1 << 12, 1 << 27, 1 << 28
	if c&(fma|osxsave|avx) != fma|osxsave|avx {
		return false
	}
	if eax, _ := xgetbv(); eax&6 != 6 { // XMM and YMM state enabled
		return false
	}
	_, b, _, _ := cpuid(7, 0)
	return b&(1<<5) != 0 // AVX2
}

func cpuid(eaxIn, ecxIn uint32) (eax, ebx, ecx, edx uint32)

func xgetbv() (eax, edx uint32)

// dotLanesAVX2 adds a[i]*b[i] (in float64) to l[i%16] for i < n; n is a
// positive multiple of 16.
//
//go:noescape
func dotLanesAVX2(a, b *float32, n int, l *[dotLanes]float64)

// scanGTAVX2 returns the index of the first of the n values at s greater
// than t, or n; n is a positive multiple of 8.
//
//go:noescape
func scanGTAVX2(s *float32, n int, t float32) int
