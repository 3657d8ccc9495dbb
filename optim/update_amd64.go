//go:build amd64 && !purego

package optim

import "golang.org/x/sys/cpu"

// useFMA is whether the CPU and the OS support the AVX2 and FMA
// instructions of update_amd64.s.
var useFMA = cpu.X86.HasAVX && cpu.X86.HasAVX2 && cpu.X86.HasFMA

// sgdMomentumAVX2 is the momentum step of sgdUpdate without Nesterov on n
// elements, n a positive multiple of 8, with the float32 FMA instruction.
//
//go:noescape
func sgdMomentumAVX2(n int, p, grad, b *float32, wd, scale, m, damp, lr float32, first bool)

// emaAVX2 is EMA's t = t*a + o*b on n elements, n a positive multiple of
// 8.
//
//go:noescape
func emaAVX2(n int, t, o *float32, a, b float32)
