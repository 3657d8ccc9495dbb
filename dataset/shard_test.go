package dataset

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/disiam/disiam/augment"
)

// TestLoaderShards checks that the shards of a data-parallel run see
// exactly the images, labels and views of one process: for every batch
// and micro-batch j, the ranks' parts of micro-batch j, in rank order,
// are micro-batch j of the unsharded batch.
func TestLoaderShards(t *testing.T) {
	ds := smallSynthetic(t, 50)
	views := augment.MultiView(2, augment.SimSiamView(12, augment.CIFAR10Norm))
	cfg := LoaderConfig{BatchSize: 12, Views: views, Shuffle: true, DropLast: true, Seed: 5, Workers: 2}
	whole, err := NewLoader(ds, cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := collect(t, whole, 1)
	for _, tc := range []struct{ shards, micro int }{{2, 1}, {3, 1}, {2, 2}, {3, 2}, {4, 3}} {
		t.Run(fmt.Sprintf("%dx%d", tc.shards, tc.micro), func(t *testing.T) {
			parts := make([][]Batch, tc.shards)
			for r := range tc.shards {
				c := cfg
				c.Shards, c.Shard, c.MicroBatches = tc.shards, r, tc.micro
				l, err := NewLoader(ds, c)
				if err != nil {
					t.Fatal(err)
				}
				if l.Len() != whole.Len() {
					t.Fatalf("shard %d: %d batches, want %d", r, l.Len(), whole.Len())
				}
				parts[r] = collect(t, l, 1)
			}
			m := cfg.BatchSize / (tc.shards * tc.micro) // images per rank and micro-batch
			for k, w := range want {
				var idx []int
				got := make([][]float32, len(views))
				for j := range tc.micro {
					for r := range tc.shards {
						b := parts[r][k]
						if b.Size != cfg.BatchSize/tc.shards {
							t.Fatalf("shard %d, batch %d: %d images", r, k, b.Size)
						}
						idx = append(idx, b.Indices[j*m:(j+1)*m]...)
						for v := range views {
							n := len(b.Views[v]) / b.Size
							got[v] = append(got[v], b.Views[v][j*m*n:(j+1)*m*n]...)
						}
					}
				}
				if !slices.Equal(idx, w.Indices) {
					t.Fatalf("batch %d: images %v, want %v", k, idx, w.Indices)
				}
				for v := range views {
					if !slices.Equal(got[v], w.Views[v]) {
						t.Fatalf("batch %d: view %d differs from the unsharded batch's", k, v)
					}
				}
			}
		})
	}
}

func TestLoaderShardErrors(t *testing.T) {
	ds := smallSynthetic(t, 50)
	for _, tc := range []struct {
		cfg  LoaderConfig
		want string
	}{
		{LoaderConfig{BatchSize: 12, DropLast: true, Shards: 5, Shard: 0}, "cannot be split"},
		{LoaderConfig{BatchSize: 12, DropLast: true, Shards: 2, MicroBatches: 4}, "cannot be split"},
		{LoaderConfig{BatchSize: 12, Shards: 2}, "DropLast"},
		{LoaderConfig{BatchSize: 12, DropLast: true, Shards: 2, Shard: 2}, "shard 2 of 2"},
		{LoaderConfig{BatchSize: 12, DropLast: true, Shards: -1}, "shard"},
	} {
		if _, err := NewLoader(ds, tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error with %q", tc.cfg, err, tc.want)
		}
	}
}
