package dataset

import (
	"context"
	"errors"
	"slices"
	"strings"
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

func TestLoaderLayout(t *testing.T) {
	ds := smallSynthetic(t, 37)
	for name, d := range map[string]Dataset{"decoder": ds, "plain": plain{ds}} {
		t.Run(name, func(t *testing.T) {
			l, err := NewLoader(d, LoaderConfig{BatchSize: 10, Workers: 2, Prefetch: 1})
			if err != nil {
				t.Fatal(err)
			}
			if l.Len() != 4 || !slices.Equal(l.Shapes(), [][3]int{{3, 16, 16}}) {
				t.Fatalf("%d batches, shapes %v", l.Len(), l.Shapes())
			}
			got := collect(t, l, 0)
			if len(got) != 4 || got[3].Size != 7 || len(got[3].Views[0]) != 7*3*16*16 {
				t.Fatalf("%d batches, last %d", len(got), got[3].Size)
			}
			for _, b := range got {
				for s := range b.Size {
					idx := b.Number*10 + s
					if b.Indices[s] != idx || b.Labels[s] != ds.Label(idx) {
						t.Fatalf("batch %d image %d: index %d label %d", b.Number, s, b.Indices[s], b.Labels[s])
					}
					n := 3 * 16 * 16
					if !slices.Equal(b.Views[0][s*n:(s+1)*n], ds.Image(idx).Pix) {
						t.Fatalf("batch %d image %d differs from the dataset's", b.Number, s)
					}
				}
			}
		})
	}
}

// TestLoaderBatchSizeIndependent: an image's views depend on (seed,
// epoch, index) only, so without shuffling the concatenated views are the
// same for any batch size.
func TestLoaderBatchSizeIndependent(t *testing.T) {
	ds := smallSynthetic(t, 40)
	views := augment.BYOLViews(16, augment.CIFAR10Norm)
	var flat [2][2][]float32
	for k, bs := range []int{8, 5} {
		l, err := NewLoader(ds, LoaderConfig{BatchSize: bs, Views: views, Seed: 9, Workers: 3})
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range collect(t, l, 2) {
			for j := range 2 {
				flat[k][j] = append(flat[k][j], b.Views[j]...)
			}
		}
	}
	for j := range 2 {
		if !slices.Equal(flat[0][j], flat[1][j]) {
			t.Errorf("view %d depends on the batch size", j)
		}
	}
}

func TestLoaderDropLast(t *testing.T) {
	ds := smallSynthetic(t, 37)
	l, err := NewLoader(ds, LoaderConfig{BatchSize: 10, DropLast: true, Shuffle: true, Seed: 1, Views: augment.MultiView(2, augment.SimCLRView(16, 0.5, augment.CIFAR10Norm))})
	if err != nil {
		t.Fatal(err)
	}
	got := collect(t, l, 0)
	if len(got) != 3 {
		t.Fatalf("%d batches, want 3", len(got))
	}
	seen := map[int]bool{}
	for _, b := range got {
		if b.Size != 10 {
			t.Errorf("batch of %d", b.Size)
		}
		for _, i := range b.Indices {
			if seen[i] {
				t.Errorf("image %d twice in an epoch", i)
			}
			seen[i] = true
		}
	}
	if order := l.Order(0); !slices.Equal(order[:10], got[0].Indices) {
		t.Error("Order disagrees with the batches")
	}
}

// ragged is a dataset whose image 3 has another size.
type ragged struct{ Dataset }

func (r ragged) Image(i int) augment.Image {
	if i == 3 {
		return augment.NewImage(3, 8, 8)
	}
	return r.Dataset.Image(i)
}

func TestLoaderErrors(t *testing.T) {
	ds := smallSynthetic(t, 12)
	cases := []struct {
		name string
		ds   Dataset
		cfg  LoaderConfig
		want string
	}{
		{"batch", ds, LoaderConfig{}, "batch size 0"},
		{"empty", &U8Set{C: 3, H: 2, W: 2, NumClasses: 1}, LoaderConfig{BatchSize: 1}, "empty dataset"},
		{"drop last", ds, LoaderConfig{BatchSize: 13, DropLast: true}, "no full batch"},
		{"workers", ds, LoaderConfig{BatchSize: 2, Workers: -1}, "-1 workers"},
		{"views", ds, LoaderConfig{BatchSize: 2, Views: augment.Views{augment.ColorJitter{Hue: 2}}}, "view 0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewLoader(tc.ds, tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	l, err := NewLoader(ragged{plain{ds}}, LoaderConfig{BatchSize: 4, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	ep := l.Epoch(context.Background(), 0)
	for _, ok := ep.Next(); ok; _, ok = ep.Next() {
	}
	if err := ep.Err(); err == nil || !strings.Contains(err.Error(), "image 3: view 0 is 3x8x8, want 3x16x16") {
		t.Errorf("ragged dataset: %v", err)
	}
	ep.Close()
}

func TestLoaderOneEpochAtATime(t *testing.T) {
	l, err := NewLoader(smallSynthetic(t, 20), LoaderConfig{BatchSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	ep := l.Epoch(context.Background(), 0)
	func() {
		defer func() {
			if r := recover(); r == nil || !strings.HasPrefix(r.(string), "dataset: ") {
				t.Errorf("second open epoch: panic %v", r)
			}
		}()
		l.Epoch(context.Background(), 1)
	}()
	ep.Close()
	if _, ok := ep.Next(); ok {
		t.Error("Next after Close returned a batch")
	}
	ep.Close() // idempotent
	if got := collect(t, l, 1); len(got) != 5 {
		t.Errorf("%d batches after reopening", len(got))
	}
}
