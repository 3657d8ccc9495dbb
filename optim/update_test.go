package optim

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// fma32 rounds a*b+c once, like the FMA instruction: against math/big's
// exact sum rounded to float32, on random operands and on a sum built to
// sit next to a float32 midpoint, where rounding through float64 first
// goes wrong.
func TestFMA32CorrectlyRounded(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	exact := func(a, b, c float32) float32 {
		x := new(big.Float).SetPrec(200).SetFloat64(float64(a))
		x.Mul(x, new(big.Float).SetPrec(200).SetFloat64(float64(b)))
		x.Add(x, new(big.Float).SetPrec(200).SetFloat64(float64(c)))
		f, _ := x.Float32()
		return f
	}
	check := func(a, b, c float32) {
		if got, want := fma32(a, b, c), exact(a, b, c); math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("fma32(%v, %v, %v) = %v, want %v", a, b, c, got, want)
		}
	}
	for range 200000 {
		a := float32(r.NormFloat64())
		b := float32(r.NormFloat64() * math.Pow(2, float64(r.IntN(40)-20)))
		check(a, b, float32(r.NormFloat64()))
		// c = -round(a*b) plus a float32 half-ulp: the exact sum is a
		// tiny remainder next to a midpoint.
		p := float32(a * b)
		check(a, b, -p+float32(math.Ldexp(1, int(math.Ilogb(float64(p)))-24)))
	}
	check(1+0x1p-23, 1+0x1p-23, -1) // exact: 2^-22 + 2^-46
	// 1 + 2⁻²³ + 2⁻²⁴ - 2⁻⁶⁰ is just below a float32 midpoint; in float64
	// it rounds onto the midpoint, which then ties to even upwards.
	for _, sign := range []float32{1, -1} {
		a, b := sign*0x1p-12*(1+0x1p-18), float32(0x1p-12*(1-0x1p-18))
		check(a, b, sign*(1+0x1p-23))
		if got := float32(math.FMA(float64(a), float64(b), float64(sign*(1+0x1p-23)))); got == fma32(a, b, sign*(1+0x1p-23)) {
			t.Errorf("the double-rounding case is not one: float64 FMA gives %v too", got)
		}
	}
	if v := fma32(0, float32(math.Inf(1)), 1); v == v {
		t.Errorf("fma32(0, +Inf, 1) = %v, want NaN", v)
	}
}

// The assembly momentum step and EMA give the Go loops' bits, tails and
// every branch of sgdUpdate included.
func TestUpdateAssemblyMatchesGo(t *testing.T) {
	if !useFMA {
		t.Skip("no AVX2/FMA")
	}
	r := rand.New(rand.NewPCG(3, 4))
	const n = 1003
	rnd := func() []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(r.NormFloat64())
		}
		return s
	}
	p0, g, b0 := rnd(), rnd(), rnd()
	for _, tc := range []struct {
		u     update
		first bool
	}{{update{}, false}, {update{wd: 1e-4}, false}, {update{wd: 1e-2, scale: 0.37, scaled: true}, false}, {update{scale: 3, scaled: true}, false},
		{update{}, true}, {update{wd: 1e-4}, true}, {update{wd: 1e-2, scale: 0.37, scaled: true}, true}} {
		u := tc.u
		pa, ba := append([]float32(nil), p0...), append([]float32(nil), b0...)
		sgdUpdate(pa, g, ba, u, tc.first, 0.03, 0.9, 0.25, false)
		pg, bg := append([]float32(nil), p0...), append([]float32(nil), b0...)
		m32, damp32, lr32 := float32(0.9), float32(0.75), float32(-0.03)
		for i := range pg {
			if tc.first {
				bg[i] = u.grad(g[i], pg[i])
				pg[i] = fma32(lr32, bg[i], pg[i])
				continue
			}
			bg[i] = fma32(damp32, u.grad(g[i], pg[i]), bg[i]*m32)
			pg[i] = fma32(lr32, bg[i], pg[i])
		}
		for i := range pg {
			if math.Float32bits(pa[i]) != math.Float32bits(pg[i]) || math.Float32bits(ba[i]) != math.Float32bits(bg[i]) {
				t.Fatalf("%+v first=%v: element %d: p %v b %v, Go p %v b %v", u, tc.first, i, pa[i], ba[i], pg[i], bg[i])
			}
		}
	}
	ta, o := append([]float32(nil), p0...), g
	tg := append([]float32(nil), p0...)
	emaAVX2(n/8*8, &ta[0], &o[0], 0.99, 0.01)
	for i := range tg[:n/8*8] {
		tg[i] = float32(tg[i]*0.99) + float32(o[i]*0.01)
		if math.Float32bits(ta[i]) != math.Float32bits(tg[i]) {
			t.Fatalf("EMA element %d: %v, Go %v", i, ta[i], tg[i])
		}
	}
}
