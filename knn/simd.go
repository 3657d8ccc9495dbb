package knn

// The two innermost loops of the classifier, each with a portable Go form
// and, on amd64 CPUs with AVX2 and FMA, an assembly form (simd_amd64.s).
// Both forms give bit-identical results: dot64 fixes its summation order
// (16 lanes, then a fixed tree), and the product of two float32 values is
// exact in float64, so a fused multiply-add rounds as a multiply and an add
// do.

const dotLanes = 16

// dot64 returns the dot product of a and b (len(b) >= len(a)) accumulated
// in float64: element i is added to lane i mod 16, and the lanes are summed
// pairwise.
func dot64(a, b []float32) float64 {
	b = b[:len(a)]
	var l [dotLanes]float64
	n := len(a) &^ (dotLanes - 1)
	if n > 0 {
		if useAVX2 {
			dotLanesAVX2(&a[0], &b[0], n, &l)
		} else {
			dotLanesGo(a[:n], b[:n], &l)
		}
	}
	for i := n; i < len(a); i++ {
		l[i%dotLanes] += float64(a[i]) * float64(b[i])
	}
	for w := dotLanes / 2; w > 0; w /= 2 {
		for i := range w {
			l[i] += l[i+w]
		}
	}
	return l[0]
}

// dotLanesGo is dotLanesAVX2 in Go; len(a) is a multiple of 16.
func dotLanesGo(a, b []float32, l *[dotLanes]float64) {
	b = b[:len(a)]
	for i := 0; i+dotLanes <= len(a); i += dotLanes {
		x, y := a[i:i+dotLanes:i+dotLanes], b[i:i+dotLanes:i+dotLanes]
		for j := range dotLanes {
			l[j] += float64(x[j]) * float64(y[j])
		}
	}
}

// scanGT returns the index of the first element of s greater than t, or
// len(s). NaNs are never greater.
func scanGT(s []float32, t float32) int {
	n := len(s) &^ 7
	j := 0
	if useAVX2 && n > 0 {
		j = scanGTAVX2(&s[0], n, t)
		if j < n {
			return j
		}
	}
	for ; j < len(s); j++ {
		if s[j] > t {
			return j
		}
	}
	return j
}
