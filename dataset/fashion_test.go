package dataset

import (
	"context"
	"math"
	"os"
	"testing"

	"github.com/disiam/disiam/augment"
)

// fashionDir returns the installed Fashion-MNIST, or skips.
func fashionDir(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(FashionMNISTDir); err != nil {
		t.Skipf("Fashion-MNIST is not installed at %s (apt-get install dataset-fashion-mnist): %v", FashionMNISTDir, err)
	}
	return FashionMNISTDir
}

// TestFashionMNIST reads the real files and checks their sizes, class
// balance, first labels and the pixel statistics behind
// augment.FashionMNISTNorm.
func TestFashionMNIST(t *testing.T) {
	dir := fashionDir(t)
	splits := []struct {
		split Split
		n     int
	}{{Test, 10000}, {Train, 60000}}
	if testing.Short() {
		splits = splits[:1]
	}
	for _, sp := range splits {
		t.Run(sp.split.String(), func(t *testing.T) {
			s, err := LoadMNIST(dir, sp.split, FashionMNISTClasses)
			if err != nil {
				t.Fatal(err)
			}
			if s.Len() != sp.n || s.C != 1 || s.H != 28 || s.W != 28 || s.Classes() != 10 {
				t.Fatalf("%d images %dx%dx%d", s.Len(), s.C, s.H, s.W)
			}
			count := make([]int, 10)
			for i := range s.Len() {
				count[s.Label(i)]++
			}
			for c, k := range count {
				if k != sp.n/10 {
					t.Errorf("class %d has %d images, want %d", c, k, sp.n/10)
				}
			}
			// Both files start with an ankle boot (label 9).
			if s.Label(0) != 9 {
				t.Errorf("first label %d, want 9", s.Label(0))
			}
			if sp.split != Train {
				return
			}
			var sum, sq float64
			for _, b := range s.Pix {
				v := float64(b) / 255
				sum += v
				sq += v * v
			}
			n := float64(len(s.Pix))
			mean := sum / n
			std := math.Sqrt(sq/n - mean*mean)
			norm := augment.FashionMNISTNorm
			if math.Abs(mean-float64(norm.Mean[0])) > 5e-4 || math.Abs(std-float64(norm.Std[0])) > 5e-4 {
				t.Errorf("mean %.4f std %.4f, FashionMNISTNorm has %v %v", mean, std, norm.Mean[0], norm.Std[0])
			}
		})
	}
}

// TestFashionMNISTLoader runs the SimSiam views over the real test split
// expanded to RGB, through the spec string.
func TestFashionMNISTLoader(t *testing.T) {
	fashionDir(t)
	ds, err := Open("fashion-mnist,rgb,limit=256", Test)
	if err != nil {
		t.Fatal(err)
	}
	l, err := NewLoader(ds, LoaderConfig{BatchSize: 64, Views: augment.MultiView(2, augment.SimSiamView(28, augment.FashionMNISTNorm)), Shuffle: true, DropLast: true, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	ep := l.Epoch(context.Background(), 0)
	defer ep.Close()
	k := 0
	for b, ok := ep.Next(); ok; b, ok = ep.Next() {
		if len(b.Views) != 2 || len(b.Views[0]) != 64*3*28*28 {
			t.Fatalf("batch %d: %d views of %d samples", b.Number, len(b.Views), len(b.Views[0]))
		}
		k++
	}
	if err := ep.Err(); err != nil || k != 4 {
		t.Fatalf("%d batches, %v", k, err)
	}
}
