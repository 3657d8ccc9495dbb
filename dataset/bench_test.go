package dataset

import (
	"context"
	"fmt"
	"testing"

	"github.com/disiam/disiam/augment"
)

// BenchmarkLoader measures the Loader producing SimSiam batches (M = 2
// views, 32 x 32, batch 256) from the synthetic set, in views per second.
// With Workers = 1 it is the per-core figure.
func BenchmarkLoader(b *testing.B) {
	ds := Synthetic(SyntheticConfig{Train: 2048, Seed: 1}, Train)
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("SimSiam32/workers=%d", workers), func(b *testing.B) {
			l, err := NewLoader(ds, LoaderConfig{
				BatchSize: 256, Views: augment.MultiView(2, augment.SimSiamView(32, augment.CIFAR10Norm)),
				Shuffle: true, DropLast: true, Workers: workers,
			})
			if err != nil {
				b.Fatal(err)
			}
			views := 0
			epoch := 0
			for b.Loop() {
				ep := l.Epoch(context.Background(), epoch)
				for bt, ok := ep.Next(); ok; bt, ok = ep.Next() {
					views += 2 * bt.Size
				}
				if err := ep.Err(); err != nil {
					b.Fatal(err)
				}
				epoch++
			}
			b.ReportMetric(float64(views)/b.Elapsed().Seconds(), "views/s")
		})
	}
}

// BenchmarkSynthetic measures generating the synthetic set, in images per
// second (on all of internal/parallel's workers).
func BenchmarkSynthetic(b *testing.B) {
	n := 0
	for b.Loop() {
		n += Synthetic(SyntheticConfig{Train: 1000}, Train).Len()
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "images/s")
}
