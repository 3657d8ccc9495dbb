package parallel_test

import (
	"fmt"

	"github.com/disiam/disiam/internal/parallel"
)

// A reduction that gives the same float32 result for any number of
// workers: each chunk sums its own range into its own slot, and the
// partial sums are combined in chunk order afterwards.
func ExampleFor() {
	xs := make([]float32, 10000)
	for i := range xs {
		xs[i] = 1 / float32(i+1)
	}
	grain := parallel.Grain(len(xs), 256)
	partial := make([]float32, parallel.Chunks(len(xs), grain))
	parallel.For(len(xs), grain, func(lo, hi int) {
		var s float32
		for _, x := range xs[lo:hi] {
			s += x
		}
		partial[lo/grain] = s
	})
	var sum float32
	for _, s := range partial {
		sum += s
	}
	fmt.Println(len(partial), "chunks of", grain)
	fmt.Printf("%.6f\n", sum)
	// Output:
	// 16 chunks of 625
	// 9.787606
}
