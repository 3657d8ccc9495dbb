package vec

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestSaxpy checks every length up to 80 (the 32- and 8-lane loops and the
// tail) against a float32 FMA computed exactly: the float64 FMA rounded
// once, which is the float32 FMA whenever it is not a double-rounding tie,
// and against the unfused multiply-add, which it must beat on average.
func TestSaxpy(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var fusedErr, unfusedErr float64
	for n := 0; n <= 80; n++ {
		x, y := make([]float32, n+3), make([]float32, n+3)
		for i := range x {
			x[i], y[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
		}
		a := float32(rng.NormFloat64())
		got := append([]float32(nil), y...)
		Saxpy(a, x[:n], got)
		for i := range y {
			if i >= n {
				if got[i] != y[i] {
					t.Fatalf("n %d: y[%d] written beyond len(x)", n, i)
				}
				continue
			}
			exact := float64(a)*float64(x[i]) + float64(y[i])
			want := float32(math.FMA(float64(a), float64(x[i]), float64(y[i])))
			if got[i] != want && math.Abs(float64(got[i]-want)) > 1e-7*math.Abs(exact) {
				t.Fatalf("n %d, i %d: %v, want %v", n, i, got[i], want)
			}
			fusedErr += math.Abs(float64(got[i]) - exact)
			unfusedErr += math.Abs(float64(float32(a*x[i])+y[i]) - exact)
		}
	}
	if !(fusedErr < unfusedErr) {
		t.Errorf("fused error %g not below the unfused %g", fusedErr, unfusedErr)
	}
	t.Logf("summed error: fused %.3g, multiply then add %.3g", fusedErr, unfusedErr)
}

func BenchmarkSaxpy(b *testing.B) {
	x, y := make([]float32, 4096), make([]float32, 4096)
	b.SetBytes(4 * 4096 * 3)
	for b.Loop() {
		Saxpy(1.5, x, y)
	}
}
