package runner

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseSeeds parses a comma-separated list of seeds.
func ParseSeeds(s string) ([]uint64, error) {
	var out []uint64
	for _, p := range ParseList(s) {
		v, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("seeds %q: %w", s, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// ParseList splits a comma-separated list, trimming spaces and dropping
// empty items.
func ParseList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// ParseFloats parses a comma-separated list of numbers.
func ParseFloats(s string) ([]float64, error) {
	var out []float64
	for _, p := range ParseList(s) {
		v, err := strconv.ParseFloat(p, 64)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", p, err)
		}
		out = append(out, v)
	}
	return out, nil
}
