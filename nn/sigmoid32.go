package nn

import "math"

// Float32 sigmoid and SiLU, computed in float32 like PyTorch's vectorized
// CPU kernels (which take exp from SLEEF and then 1/(1+e) in float32),
// instead of through float64's math.Exp: exp32 is Cephes' expf (range
// reduction by ln 2 in two parts, a degree-6 polynomial), within about one
// ulp, so sigmoid32 is within a few ulps of the true value (the tests
// measure it against float64). On amd64 with AVX2 the same operations run
// eight lanes at a time in assembly (sigmoid32_amd64.s); the Go code below
// does the remaining elements and the other CPUs with the same float32
// operations in the same order, so every element gets the same bits on
// either path. Explicit float32 conversions keep the compiler from fusing
// a multiply and an add.

const (
	exp32Hi    = 88.73 // exp32 overflows to +Inf above log(MaxFloat32) ≈ 88.72
	exp32Lo    = -86.6 // below, exp32 is not accurate (2^n would be subnormal); 1+e rounds to 1 there
	exp32Log2e = 1.44269504088896341
	exp32C1    = 0.693359375 // ln 2 = C1 - C2 with C1 exact in a few bits
	exp32C2    = -2.12194440e-4
	exp32P5    = 1.9875691500e-4
	exp32P4    = 1.3981999507e-3
	exp32P3    = 8.3334519073e-3
	exp32P2    = 4.1665795894e-2
	exp32P1    = 1.6666665459e-1
	exp32P0    = 5.0000001201e-1
)

// exp32 returns e^t for t ≥ exp32Lo (a larger error below), +Inf above
// about 88.72 and NaN for NaN.
func exp32(t float32) float32 {
	t = min(max(t, exp32Lo), exp32Hi)
	n := float32(math.Floor(float64(float32(t*exp32Log2e) + 0.5)))
	r := t - float32(n*exp32C1)
	r -= float32(n * exp32C2)
	z := float32(r * r)
	p := float32(exp32P5*r) + exp32P4
	p = float32(p*r) + exp32P3
	p = float32(p*r) + exp32P2
	p = float32(p*r) + exp32P1
	p = float32(p*r) + exp32P0
	p = float32(p*z) + r + 1
	// p·2ⁿ as (2p)·2ⁿ⁻¹, so that n = 128 overflows to +Inf.
	scale := math.Float32frombits(uint32(int32(n)+126) << 23)
	return float32(p+p) * scale
}

// sigmoid32 returns 1/(1+e^-x) in float32.
func sigmoid32(x float32) float32 { return 1 / (1 + exp32(-x)) }

// sigmoidSlice sets y[i] = 1/(1+e^-x[i]), or x[i]/(1+e^-x[i]) (SiLU, one
// rounding fewer than x·sigmoid(x), as PyTorch computes it) when silu.
func sigmoidSlice(y, x []float32, silu bool) {
	y = y[:len(x)]
	i := 0
	if useAVX2 && len(x) >= 8 {
		i = len(x) / 8 * 8
		sigmoidAVX2(&y[0], &x[0], i, silu)
	}
	for ; i < len(x); i++ {
		if silu {
			y[i] = x[i] / (1 + exp32(-x[i]))
		} else {
			y[i] = sigmoid32(x[i])
		}
	}
}

// siluGradSlice sets dx = dy·s·(1 + x·(1-s)) with s = sigmoid(x), PyTorch's
// silu_backward in its float32 order of operations.
func siluGradSlice(dx, x, dy []float32) {
	dx, dy = dx[:len(x)], dy[:len(x)]
	i := 0
	if useAVX2 && len(x) >= 8 {
		i = len(x) / 8 * 8
		siluGradAVX2(&dx[0], &x[0], &dy[0], i)
	}
	for ; i < len(x); i++ {
		s := sigmoid32(x[i])
		dx[i] = float32(dy[i]*s) * (1 + float32(x[i]*(1-s)))
	}
}
