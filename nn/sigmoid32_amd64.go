//go:build amd64 && !purego

package nn

import "golang.org/x/sys/cpu"

// useAVX2 is whether the CPU and the OS support the AVX2 instructions of
// sigmoid32_amd64.s.
var useAVX2 = cpu.X86.HasAVX && cpu.X86.HasAVX2

// sigmoidAVX2 is sigmoidSlice on n elements, n a positive multiple of 8.
//
//go:noescape
func sigmoidAVX2(y, x *float32, n int, silu bool)

// siluGradAVX2 is siluGradSlice on n elements, n a positive multiple of 8.
//
//go:noescape
func siluGradAVX2(dx, x, dy *float32, n int)
