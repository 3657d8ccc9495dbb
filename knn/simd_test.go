package knn

import (
	"math"
	"testing"
)

// TestSIMDMatchesGo checks that the assembly kernels give bit-identical
// results to the Go loops (skipped where they are not used).
func TestSIMDMatchesGo(t *testing.T) {
	if !useAVX2 {
		t.Skip("no AVX2/FMA assembly on this machine or build")
	}
	a, b := gaussian(31, 1024), gaussian(32, 1024)
	a[5], b[7] = float32(math.Copysign(0, -1)), 3e38
	for _, n := range []int{16, 32, 48, 512, 1024} {
		var got, want [dotLanes]float64
		got[3], want[3] = 1.5, 1.5 // accumulates into existing lanes
		dotLanesAVX2(&a[0], &b[0], n, &got)
		dotLanesGo(a[:n], b[:n], &want)
		if got != want {
			t.Errorf("dot lanes n=%d: %v, Go %v", n, got, want)
		}
	}
	s := gaussian(33, 1000)
	s[600] = float32(math.NaN())
	for _, tc := range []struct {
		name string
		t    float32
	}{
		{"-inf", float32(math.Inf(-1))}, {"0", 0}, {"1", 1}, {"2", 2}, {"3", 3}, {"+inf", float32(math.Inf(1))},
		{"equal", s[417]},
	} {
		for _, n := range []int{8, 16, 600, 608, 1000 &^ 7} {
			want := n
			for j, v := range s[:n] {
				if v > tc.t {
					want = j
					break
				}
			}
			if got := scanGTAVX2(&s[0], n, tc.t); got != want {
				t.Errorf("scan t=%s n=%d: %d, want %d", tc.name, n, got, want)
			}
		}
	}
}

func TestDot64(t *testing.T) {
	for _, n := range []int{0, 1, 15, 16, 17, 100, 512} {
		a, b := gaussian(41, n), gaussian(42, n+3)
		var want float64
		for i := range n {
			want += float64(a[i]) * float64(b[i])
		}
		if got := dot64(a, b); math.Abs(got-want) > 1e-12*(1+math.Abs(want)) {
			t.Errorf("n=%d: dot64 = %v, want %v", n, got, want)
		}
	}
}

func TestScanGT(t *testing.T) {
	s := []float32{1, 5, 2, 7, 7, 3, 9, 1, 0, 4, 8}
	for _, tc := range []struct {
		t    float32
		want int
	}{{0.5, 0}, {4, 1}, {5, 3}, {7, 6}, {8.5, 6}, {9, len(s)}} {
		if got := scanGT(s, tc.t); got != tc.want {
			t.Errorf("scanGT(%v) = %d, want %d", tc.t, got, tc.want)
		}
	}
}
