package parallel

import (
	"sync/atomic"
	"testing"
)

func TestForCoversEachIndexOnce(t *testing.T) {
	defer func(w int) { Workers = w }(Workers)
	for _, tc := range []struct {
		name           string
		n, grain, work int
	}{
		{"empty", 0, 4, 2},
		{"serial", 10, 3, 1},
		{"more workers than chunks", 5, 2, 8},
		{"grain below one", 7, 0, 3},
		{"large", 10007, 64, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			Workers = tc.work
			hits := make([]atomic.Int32, tc.n)
			var calls atomic.Int32
			For(tc.n, tc.grain, func(lo, hi int) {
				calls.Add(1)
				g := max(tc.grain, 1)
				if lo%g != 0 || hi-lo > g || hi > tc.n || lo >= hi {
					t.Errorf("chunk [%d,%d) not aligned to grain %d", lo, hi, g)
				}
				for i := lo; i < hi; i++ {
					hits[i].Add(1)
				}
			})
			for i := range hits {
				if h := hits[i].Load(); h != 1 {
					t.Fatalf("index %d visited %d times", i, h)
				}
			}
			if got, want := int(calls.Load()), Chunks(tc.n, tc.grain); got != want {
				t.Fatalf("%d calls, Chunks says %d", got, want)
			}
		})
	}
}

func TestChunkedSumIndependentOfWorkers(t *testing.T) {
	defer func(w int) { Workers = w }(Workers)
	x := make([]float32, 100003)
	for i := range x {
		x[i] = 1 / float32(i+1)
	}
	sum := func() float32 {
		g := Grain(len(x), 1000)
		parts := make([]float32, Chunks(len(x), g))
		For(len(x), g, func(lo, hi int) {
			var s float32
			for _, v := range x[lo:hi] {
				s += v
			}
			parts[lo/g] = s
		})
		var s float32
		for _, p := range parts {
			s += p
		}
		return s
	}
	Workers = 1
	want := sum()
	for _, w := range []int{2, 3, 7} {
		Workers = w
		if got := sum(); got != want {
			t.Fatalf("workers %d: %v, workers 1: %v", w, got, want)
		}
	}
}

func TestGrain(t *testing.T) {
	for _, tc := range []struct{ n, min, want int }{
		{0, 4, 4}, {16, 1, 1}, {1600, 1, 100}, {1600, 500, 500}, {17, 1, 2},
	} {
		if got := Grain(tc.n, tc.min); got != tc.want {
			t.Errorf("Grain(%d, %d) = %d, want %d", tc.n, tc.min, got, tc.want)
		}
	}
}
