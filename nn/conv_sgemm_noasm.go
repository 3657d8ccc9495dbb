//go:build !amd64 || purego

package nn

import "unsafe"

// sgemmKernel4x16 is the portable version of the assembly micro-kernel;
// sgemm uses it only in tests (haveAVX2FMA is false here).
func sgemmKernel4x16(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, acc bool) {
	as := unsafe.Slice(a, max(0, (k-1)*lda+4))
	bs := unsafe.Slice(b, max(0, (k-1)*ldb+16))
	cs := unsafe.Slice(c, 3*ldc+16)
	var t [4][16]float32
	for p := range k {
		for r := range 4 {
			ar := as[p*lda+r]
			for j := range 16 {
				t[r][j] += ar * bs[p*ldb+j]
			}
		}
	}
	for r := range 4 {
		row := cs[r*ldc:][:16]
		for j := range 16 {
			if acc {
				row[j] += t[r][j]
			} else {
				row[j] = t[r][j]
			}
		}
	}
}

// sgemmAsm is whether sgemmKernel4x16 is the assembly one.
const sgemmAsm = false

func haveAVX2FMA() bool { return false }
