package knn

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/disiam/disiam/internal/cputime"

	"github.com/disiam/disiam/internal/linalg"
)

// gaussian returns n standard normal float32 values from seed.
func gaussian(seed uint64, n int) []float32 {
	r := rand.New(rand.NewPCG(seed, 0))
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(r.NormFloat64())
	}
	return out
}

// BenchmarkEvaluate measures the kNN rule on random Gaussian features, the
// setting of the PyTorch peer (bench/knn_peer.py):
// a 50,000 x 512 bank, 10,000 queries, k = 200, τ = 0.1, 10 classes. Only
// classification is timed (the bank is normalized once, outside the loop,
// as the peer's is). Run with -tags openblas for the BLAS path. Besides
// queries/s it reports queries/cpu-s, per second of CPU time of all
// threads, which other processes on a shared machine disturb less.
func BenchmarkEvaluate(b *testing.B) {
	for _, tc := range []struct{ bank, queries, dim, k, classes int }{
		{5000, 1000, 128, 200, 10},
		{50000, 10000, 512, 200, 10},
	} {
		name := fmt.Sprintf("%s/bank=%dx%d/queries=%d/k=%d", linalg.Backend, tc.bank, tc.dim, tc.queries, tc.k)
		b.Run(name, func(b *testing.B) {
			bank := gaussian(1, tc.bank*tc.dim)
			queries := gaussian(2, tc.queries*tc.dim)
			r := rand.New(rand.NewPCG(3, 0))
			labels := make([]int, tc.bank)
			for i := range labels {
				labels[i] = r.IntN(tc.classes)
			}
			qlabels := make([]int, tc.queries)
			for i := range qlabels {
				qlabels[i] = r.IntN(tc.classes)
			}
			c, err := newClassifier(bank, tc.dim, labels, tc.classes, Config{K: tc.k})
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			cpu0 := cputime.Process()
			for b.Loop() {
				if _, err := c.Evaluate(queries, qlabels); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(tc.queries*b.N)/b.Elapsed().Seconds(), "queries/s")
			if cpu := cputime.Process() - cpu0; cpu > 0 {
				b.ReportMetric(float64(tc.queries*b.N)/cpu.Seconds(), "queries/cpu-s")
			}
		})
	}
}
