//go:build amd64 && !purego

package vec

import "golang.org/x/sys/cpu"

// haveFMA is whether Saxpy runs its assembly loop.
var haveFMA = cpu.X86.HasAVX && cpu.X86.HasAVX2 && cpu.X86.HasFMA

// saxpyFMA is Saxpy's AVX2/FMA loop over n elements, n a multiple of 8.
//
//go:noescape
func saxpyFMA(n int, a float32, x, y *float32)
