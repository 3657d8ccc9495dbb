package vec

import "math"

// Saxpy sets y[i] += a·x[i] for i < len(x) with one rounding per element
// (a fused multiply-add), as the FMA loops of oneDNN's and OpenBLAS'
// kernels round, where a multiply then an add rounds twice. On amd64 with
// AVX2 and FMA eight lanes run at a time in assembly (axpy_amd64.s); the
// other elements and other CPUs use fma32, which gives the same bits but
// in the rare ties of its double rounding. y must be at least as long as
// x.
func Saxpy(a float32, x, y []float32) {
	y = y[:len(x)]
	i := 0
	if haveFMA && len(x) >= 8 {
		i = len(x) &^ 7
		saxpyFMA(i, a, &x[0], &y[0])
	}
	for ; i < len(x); i++ {
		y[i] = fma32(a, x[i], y[i])
	}
}

// fma32 is x*y+z in float32 through float64's fused multiply-add: the
// product of two float32 values is exact in float64, so this matches a
// float32 FMA but in the rare ties of its double rounding (float64, then
// float32), which can move the last bit.
func fma32(x, y, z float32) float32 {
	return float32(math.FMA(float64(x), float64(y), float64(z)))
}
