package checked

import (
	"math"
	"testing"
)

func TestMul(t *testing.T) {
	tests := []struct {
		name string
		a, b int
		want int
		ok   bool
	}{
		{"small", 6, 7, 42, true},
		{"zero", 0, math.MaxInt, 0, true},
		{"zero right", math.MaxInt, 0, 0, true},
		{"max", math.MaxInt, 1, math.MaxInt, true},
		{"just fits", math.MaxInt / 2, 2, math.MaxInt - 1, true},
		{"overflow", math.MaxInt/2 + 1, 2, 0, false},
		{"sqrt overflow", 3037000500, 3037000500, 0, false},
		{"sqrt fits", 3037000499, 3037000499, 3037000499 * 3037000499, true},
		{"negative", -1, 5, 0, false},
		{"negative right", 5, -1, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Mul(tc.a, tc.b)
			if got != tc.want || ok != tc.ok {
				t.Errorf("Mul(%d, %d) = %d, %v; want %d, %v", tc.a, tc.b, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestProduct(t *testing.T) {
	tests := []struct {
		name string
		dims []int
		want int
		ok   bool
	}{
		{"none", nil, 1, true},
		{"nchw", []int{2, 3, 4, 5}, 120, true},
		{"huge but fits", []int{1_000_000_000, 3, 1000, 1000}, 3_000_000_000_000_000, true},
		// 2^62 * 3 * 4 * 4 wraps to 0 in 64-bit arithmetic: a plain
		// product lets it through a check against an empty data section.
		{"wraps", []int{1 << 62, 3, 4, 4}, 0, false},
		{"overflow", []int{1 << 40, 1 << 30}, 0, false},
		{"zero first", []int{0, 1 << 62, 1 << 62}, 0, true},
		{"zero last", []int{1 << 62, 1 << 62, 0}, 0, true},
		{"negative with zero", []int{0, -1}, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Product(tc.dims...)
			if got != tc.want || ok != tc.ok {
				t.Errorf("Product(%v) = %d, %v; want %d, %v", tc.dims, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestAdd(t *testing.T) {
	tests := []struct {
		name string
		a, b int
		want int
		ok   bool
	}{
		{"small", 2, 3, 5, true},
		{"max", math.MaxInt - 1, 1, math.MaxInt, true},
		{"overflow", math.MaxInt, 1, 0, false},
		{"negative", -2, 3, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Add(tc.a, tc.b)
			if got != tc.want || ok != tc.ok {
				t.Errorf("Add(%d, %d) = %d, %v; want %d, %v", tc.a, tc.b, got, ok, tc.want, tc.ok)
			}
		})
	}
}
