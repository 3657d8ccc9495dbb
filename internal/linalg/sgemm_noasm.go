//go:build !amd64 || purego

package linalg

import (
	"math"
	"unsafe"
)

// sgemmKernel6x16 is the portable version of the assembly micro-kernel,
// with the same arithmetic: each sum accumulates over p from zero with
// fused multiply-adds and is added to C with one more. sgemm uses it only
// in tests (haveAVX2FMA is false here, so float32 products go to gonum).
func sgemmKernel6x16(k int, a, b, c *float32, ldc int, alpha float32, add bool) {
	as := unsafe.Slice(a, mr*k)
	bs := unsafe.Slice(b, nr*k)
	cs := unsafe.Slice(c, (mr-1)*ldc+nr)
	var t [mr][nr]float32
	for p := range k {
		ap, bp := as[p*mr:][:mr], bs[p*nr:][:nr]
		for r, av := range ap {
			for j, bv := range bp {
				t[r][j] = fma32(av, bv, t[r][j])
			}
		}
	}
	for r := range mr {
		row := cs[r*ldc:][:nr]
		for j := range row {
			if add {
				row[j] = fma32(alpha, t[r][j], row[j])
			} else {
				row[j] = alpha * t[r][j]
			}
		}
	}
}

// fma32 is x*y+z in float32 through float64's fused multiply-add: the
// product of two float32 values is exact in float64, so this matches a
// float32 FMA but in the rare ties of its double rounding (float64, then
// float32), which can move the last bit.
func fma32(x, y, z float32) float32 {
	return float32(math.FMA(float64(x), float64(y), float64(z)))
}

// kernelAsm is whether sgemmKernel6x16 is the assembly one.
const kernelAsm = false

const haveAVX2FMA = false

// Without assembly the Go loops of packA and packB do all the packing.
func packB16N(kc int, src *float32, ld int, dst *float32)  {}
func packB16T(kc8 int, src *float32, ld int, dst *float32) {}
func packA6N(kc8 int, src *float32, ld int, dst *float32)  {}
func packA6T(kc int, src *float32, ld int, dst *float32)   {}
