package nntest

import (
	"math"
	"strings"
)

// FNV1a64 is the 64-bit FNV-1a hash of s, the seed of the golden rule.
func FNV1a64(s string) uint64 {
	h := uint64(0xcbf29ce484222325)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 0x100000001b3
	}
	return h
}

// SplitMix64 is the splitmix64 mixing function of the golden rule.
func SplitMix64(x uint64) uint64 {
	x += 0x9E3779B97F4A7C15
	z := x
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// RuleValues returns r_0 .. r_{n-1} of the golden value rule (see the
// package documentation) for the tensor named name: r_i = 2*u_i - 1,
// u_i = (splitmix64(seed+i) >> 40) / 2^24, seed = FNV1a64(name).
func RuleValues(name string, n int) []float64 {
	seed := FNV1a64(name)
	out := make([]float64, n)
	for i := range out {
		u := float64(SplitMix64(seed+uint64(i))>>40) / (1 << 24)
		out[i] = 2*u - 1
	}
	return out
}

// RuleTensorValues returns the golden rule's float32 values for a state_dict
// tensor: running_mean 0.1*r, running_var 1+0.25*(r+1), weights of rank ≥ 2
// gain*r*sqrt(3/fan_in), rank-1 weights 1+0.1*r, rank-1 biases 0.1*r. It
// returns nil for num_batches_tracked.
func RuleTensorValues(name string, shape []int, gain float64) []float32 {
	if strings.HasSuffix(name, "num_batches_tracked") {
		return nil
	}
	n := 1
	for _, s := range shape {
		n *= s
	}
	r := RuleValues(name, n)
	out := make([]float32, n)
	for i, v := range r {
		var x float64
		switch {
		case strings.HasSuffix(name, "running_mean"):
			x = 0.1 * v
		case strings.HasSuffix(name, "running_var"):
			x = 1 + 0.25*(v+1)
		case len(shape) >= 2:
			x = gain * v * math.Sqrt(3/float64(n/shape[0]))
		case strings.HasSuffix(name, ".weight") || name == "weight":
			x = 1 + 0.1*v
		default:
			x = 0.1 * v
		}
		out[i] = float32(x)
	}
	return out
}
