package dataset

import (
	"bytes"
	"math"
	"testing"

	"github.com/disiam/disiam/internal/parallel"
)

func TestSyntheticDeterministic(t *testing.T) {
	cfg := SyntheticConfig{Train: 300, Test: 50, Seed: 11}
	saved := parallel.Workers
	defer func() { parallel.Workers = saved }()
	parallel.Workers = 1
	a := Synthetic(cfg, Train)
	parallel.Workers = 4
	b := Synthetic(cfg, Train)
	if !bytes.Equal(a.Pix, b.Pix) {
		t.Fatal("pixels depend on the number of workers")
	}
	c := Synthetic(SyntheticConfig{Train: 300, Seed: 12}, Train)
	if bytes.Equal(a.Pix, c.Pix) {
		t.Error("seeds 11 and 12 give the same images")
	}
	te := Synthetic(cfg, Test)
	if te.Len() != 50 || bytes.Equal(te.Pix[:3072], a.Pix[:3072]) {
		t.Error("test split repeats the training images")
	}
	// A prefix of a larger set is the smaller set: image i depends on i only.
	big := Synthetic(SyntheticConfig{Train: 400, Seed: 11}, Train)
	if !bytes.Equal(big.Pix[:len(a.Pix)], a.Pix) {
		t.Error("image i depends on the set size")
	}
}

func TestSyntheticShape(t *testing.T) {
	cases := []struct {
		name    string
		cfg     SyntheticConfig
		split   Split
		n, side int
	}{
		{"default train", SyntheticConfig{}, Train, 5000, 32},
		{"default test", SyntheticConfig{}, Test, 1000, 32},
		{"sized", SyntheticConfig{Train: 20, Size: 64}, Train, 20, 64},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if testing.Short() && tc.n > 1000 {
				t.Skip("the full default set in -short mode")
			}
			s := Synthetic(tc.cfg, tc.split)
			if s.Len() != tc.n || s.C != 3 || s.H != tc.side || s.W != tc.side || s.Classes() != 10 {
				t.Fatalf("%d images %dx%dx%d, %d classes", s.Len(), s.C, s.H, s.W, s.Classes())
			}
			if err := s.check("synthetic"); err != nil {
				t.Fatal(err)
			}
			for i := range s.Len() {
				if s.Label(i) != i%10 {
					t.Fatalf("label(%d) = %d", i, s.Label(i))
				}
			}
		})
	}
}

// TestSyntheticNuisance checks that color carries no class information: a
// nearest-class-mean classifier on each image's mean color and its
// foreground/background spread stays near chance (10%), while each class
// does differ from the others in shape (its mean image is not the grand
// mean).
func TestSyntheticNuisance(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 1000
	}
	cfg := SyntheticConfig{Train: n, Test: 1000, Seed: 5}
	tr, te := Synthetic(cfg, Train), Synthetic(cfg, Test)
	feat := func(s *U8Set, i int) [6]float64 {
		img := s.Image(i)
		var f [6]float64
		plane := img.H * img.W
		for c := range 3 {
			var sum, sq float64
			for _, v := range img.Pix[c*plane : (c+1)*plane] {
				sum += float64(v)
				sq += float64(v) * float64(v)
			}
			m := sum / float64(plane)
			f[c], f[3+c] = m, math.Sqrt(max(sq/float64(plane)-m*m, 0))
		}
		return f
	}
	var means [10][6]float64
	for i := range tr.Len() {
		f := feat(tr, i)
		for k := range f {
			means[tr.Label(i)][k] += f[k] / float64(tr.Len()/10)
		}
	}
	correct := 0
	for i := range te.Len() {
		f := feat(te, i)
		best, bestD := -1, math.Inf(1)
		for c := range means {
			var d float64
			for k := range f {
				d += (f[k] - means[c][k]) * (f[k] - means[c][k])
			}
			if d < bestD {
				best, bestD = c, d
			}
		}
		if best == te.Label(i) {
			correct++
		}
	}
	// Chance is 100 of 1000 (standard deviation 9.5); shapes cover
	// different areas, which leaks a little through the spread.
	t.Logf("accuracy %.3f", float64(correct)/float64(te.Len()))
	if acc := float64(correct) / float64(te.Len()); acc > 0.25 {
		t.Errorf("color statistics predict the class with accuracy %.3f", acc)
	}
}
