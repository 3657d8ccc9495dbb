package report

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// Finite returns the finite values of x (NaN and ±Inf left out), in order.
func Finite(x []float64) []float64 {
	var out []float64
	for _, v := range x {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			out = append(out, v)
		}
	}
	return out
}

// Mean returns the mean of x, NaN when x is empty. A NaN in x makes the
// mean NaN: pass Finite(x) to leave missing values out.
func Mean(x []float64) float64 {
	if len(x) == 0 {
		return math.NaN()
	}
	var s float64
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

// Std returns the sample standard deviation of x (divisor n-1), 0 for
// fewer than two values: the "± std" of the thesis' tables. Like Mean it
// takes every value of x; pass Finite(x) to leave missing ones out.
func Std(x []float64) float64 {
	if len(x) < 2 {
		return 0
	}
	m := Mean(x)
	var s float64
	for _, v := range x {
		s += (v - m) * (v - m)
	}
	return math.Sqrt(s / float64(len(x)-1))
}

// CI95 returns the half-width of the 95% confidence interval of the mean
// of x, t(0.975, n-1)·Std(x)/√n, 0 for fewer than two values: the error
// bars and shaded bands of the thesis' figures. Like Mean it takes every
// value of x; pass Finite(x) to leave missing ones out.
func CI95(x []float64) float64 {
	n := len(x)
	if n < 2 {
		return 0
	}
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(n - 1)}.Quantile(0.975)
	return t * Std(x) / math.Sqrt(float64(n))
}

// Pct formats a fraction as percent with two decimals (0.7425 as
// "74.25"), "n/a" for NaN.
func Pct(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", 100*v)
}

// MeanStd formats the finite values of x (fractions) as "mean ± std" in
// percent, the thesis' table cells; "n/a" when none is finite.
func MeanStd(x []float64) string {
	f := Finite(x)
	if len(f) == 0 {
		return "n/a"
	}
	return Pct(Mean(f)) + " ± " + Pct(Std(f))
}
