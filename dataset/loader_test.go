package dataset

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/disiam/disiam/augment"
)

func smallSynthetic(t testing.TB, n int) *U8Set {
	t.Helper()
	return Synthetic(SyntheticConfig{Train: n, Test: 10, Size: 16, Seed: 7}, Train)
}

// collect runs one epoch and copies every batch.
func collect(t *testing.T, l *Loader, epoch int) []Batch {
	t.Helper()
	ep := l.Epoch(context.Background(), epoch)
	defer ep.Close()
	var out []Batch
	for {
		b, ok := ep.Next()
		if !ok {
			break
		}
		c := Batch{Epoch: b.Epoch, Number: b.Number, Size: b.Size, Shapes: b.Shapes,
			Labels: slices.Clone(b.Labels), Indices: slices.Clone(b.Indices)}
		for _, v := range b.Views {
			c.Views = append(c.Views, slices.Clone(v))
		}
		out = append(out, c)
	}
	if err := ep.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestLoaderWorkersReproducible(t *testing.T) {
	ds := smallSynthetic(t, 90)
	views := augment.MultiView(3, augment.SimSiamView(12, augment.CIFAR10Norm))
	var ref []Batch
	for _, workers := range []int{1, 4} {
		l, err := NewLoader(ds, LoaderConfig{BatchSize: 16, Views: views, Shuffle: true, Seed: 3, Workers: workers, Prefetch: workers + 1})
		if err != nil {
			t.Fatal(err)
		}
		for epoch := range 2 {
			got := collect(t, l, epoch)
			if len(got) != 6 || got[5].Size != 90-5*16 {
				t.Fatalf("workers %d: %d batches, last of %d", workers, len(got), got[len(got)-1].Size)
			}
			if workers == 1 {
				ref = append(ref, got...)
				continue
			}
			for k, b := range got {
				r := ref[epoch*6+k]
				if !slices.Equal(b.Indices, r.Indices) || !slices.Equal(b.Labels, r.Labels) {
					t.Fatalf("epoch %d batch %d: indices differ", epoch, k)
				}
				for j := range b.Views {
					if !slices.Equal(b.Views[j], r.Views[j]) {
						t.Fatalf("epoch %d batch %d view %d differs between 1 and 4 workers", epoch, k, j)
					}
				}
			}
		}
	}
	if slices.Equal(ref[0].Indices, ref[6].Indices) {
		t.Error("epochs 0 and 1 visit images in the same order")
	}
	if slices.Equal(ref[0].Views[0], ref[0].Views[1]) {
		t.Error("two views of the same images are identical")
	}
}

func TestLoaderCancel(t *testing.T) {
	ds := smallSynthetic(t, 200)
	l, err := NewLoader(ds, LoaderConfig{BatchSize: 8, Views: augment.MultiView(2, augment.SimSiamView(16, augment.Normalize{})), Workers: 3, Prefetch: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ep := l.Epoch(ctx, 0)
	for range 3 {
		if _, ok := ep.Next(); !ok {
			t.Fatal(ep.Err())
		}
	}
	cancel()
	if _, ok := ep.Next(); ok {
		t.Fatal("epoch continues after cancel")
	}
	if !errors.Is(ep.Err(), context.Canceled) {
		t.Fatalf("Err = %v, want context.Canceled", ep.Err())
	}
	ep.Close()
	// The loader is reusable after an early stop, and complete.
	got := collect(t, l, 0)
	if len(got) != 25 {
		t.Fatalf("%d batches after restart, want 25", len(got))
	}
}
