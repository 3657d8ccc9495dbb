package nn

import (
	"math"
	"testing"
)

// ulps is the distance between got and the float64 value want, in units
// in the last place of float32 at want (the spacing of subnormals below
// the smallest normal).
func ulps(got float32, want float64) float64 {
	w := float32(want)
	if math.IsInf(float64(w), 0) || math.IsNaN(want) {
		if float64(got) == float64(w) || math.IsNaN(want) && got != got {
			return 0
		}
		return math.Inf(1)
	}
	a := math.Abs(float64(w))
	ulp := math.Max(float64(math.Nextafter32(float32(a), float32(math.Inf(1)))-float32(a)), math.SmallestNonzeroFloat32)
	return math.Abs(float64(got)-want) / ulp
}

// sigmoidInputs sweeps [-100, 100] in steps of 2⁻¹⁰ plus the special
// values; 204,808 inputs.
func sigmoidInputs() []float32 {
	var x []float32
	for i := -100 << 10; i <= 100<<10; i++ {
		x = append(x, float32(i)/(1<<10)+float32(i%7)*1e-5)
	}
	return append(x, 0, float32(math.Copysign(0, -1)), 1e-30, -1e-30, 88.7, -88.7, 88.8, -88.8, 1e30, -1e30,
		float32(math.Inf(1)), float32(math.Inf(-1)))
}

// Float32 sigmoid and SiLU against float64: at most 2.5 ulps where the
// result is a normal float32 (PyTorch computes the same 1/(1+e) and
// x/(1+e) from SLEEF's 1-ulp expf with two more float32 roundings), the same bits from the
// assembly lanes and the Go tail, and NaN for NaN.
func TestSigmoid32Accuracy(t *testing.T) {
	x := sigmoidInputs()
	for _, silu := range []bool{false, true} {
		y := make([]float32, len(x))
		sigmoidSlice(y, x, silu)
		worst, at := 0.0, float32(0)
		for i, v := range x {
			s := 1 / (1 + math.Exp(-float64(v)))
			want := s
			if silu {
				want = float64(v) * s
			}
			if got := func() float32 {
				if silu {
					return v / (1 + exp32(-v))
				}
				return sigmoid32(v)
			}(); math.Float32bits(got) != math.Float32bits(y[i]) {
				t.Fatalf("silu=%v x=%v: Go %v, slice %v", silu, v, got, y[i])
			}
			if math.Abs(want) < 0x1p-126 || v < -88.72 {
				// exp(-x) overflows to +Inf beyond 88.72, as SLEEF's expf
				// does in PyTorch, and the result is ±0 (SiLU: x/Inf);
				// the true value is below 2⁻¹²⁰ there.
				if math.Abs(float64(y[i])-want) >= 0x1p-120 {
					t.Errorf("silu=%v x=%v: %v, want %v", silu, v, y[i], want)
				}
				continue
			}
			if e := ulps(y[i], want); e > worst {
				worst, at = e, v
			}
		}
		t.Logf("silu=%v: max error %.2f ulp at x=%v over %d inputs", silu, worst, at, len(x))
		if worst > 2.5 {
			t.Errorf("silu=%v: max error %.2f ulp at x=%v", silu, worst, at)
		}
	}
	nan := float32(math.NaN())
	y := make([]float32, 9)
	sigmoidSlice(y, []float32{1, 2, nan, 4, 5, 6, 7, 8, nan}, true)
	if y[2] == y[2] || y[8] == y[8] {
		t.Errorf("NaN in, %v and %v out", y[2], y[8])
	}
}

// The float32 SiLU gradient against its float64 value: within 8 units of
// 2⁻²⁴·|dy|·s·(1+|x|). PyTorch's float32 formula loses that much: 1-s
// carries s's rounding error, multiplied by x, and 1+x(1-s) cancels to 0
// near x = -1.28, where no relative bound holds.
func TestSiLUGrad32Accuracy(t *testing.T) {
	x := sigmoidInputs()[:204801]
	dy := make([]float32, len(x))
	for i := range dy {
		dy[i] = float32(math.Sin(float64(i)))
	}
	dx := make([]float32, len(x))
	siluGradSlice(dx, x, dy)
	worst := 0.0
	for i, v := range x {
		s := 1 / (1 + math.Exp(-float64(v)))
		want := float64(dy[i]) * s * (1 + float64(v)*(1-s))
		scale := math.Abs(float64(dy[i])) * s * (1 + math.Abs(float64(v)))
		if scale < 0x1p-120 {
			continue
		}
		e := math.Abs(float64(dx[i])-want) / (scale * 0x1p-24)
		worst = max(worst, e)
		if e > 8 {
			t.Fatalf("x=%v dy=%v: %v, want %v", v, dy[i], dx[i], want)
		}
		s32 := sigmoid32(v)
		if g := float32(dy[i]*s32) * (1 + float32(v*(1-s32))); math.Float32bits(g) != math.Float32bits(dx[i]) {
			t.Fatalf("x=%v: Go %v, slice %v", v, g, dx[i])
		}
	}
	t.Logf("max error %.2f units of 2⁻²⁴·|terms|", worst)
}
