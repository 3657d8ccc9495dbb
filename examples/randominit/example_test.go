package main

import "fmt"

// The FWHM of a curve like thesis Figure 5.7's: the accuracy peaks at gain
// ratio 1.0 and falls below half its maximum on both sides.
func ExampleCurveFWHM() {
	ratios := []float64{0.25, 0.5, 1.0, 1.5, 2.0, 2.5}
	top1 := []float64{0.12, 0.30, 0.36, 0.31, 0.20, 0.11}
	f := CurveFWHM(ratios, top1)
	fmt.Printf("peak %.0f%% at %.2f, half maximum crossed at %.3f and %.3f: FWHM %.3f\n",
		100*f.Peak, f.PeakAt, f.Left, f.Right, f.Width)
	// Output:
	// peak 36% at 1.00, half maximum crossed at 0.333 and 2.111: FWHM 1.778
}
