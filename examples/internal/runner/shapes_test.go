package runner

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/disiam/disiam/augment"
	"github.com/disiam/disiam/dataset"
	"github.com/disiam/disiam/ssl"
)

// TestOutlines checks the high-pass view of the images: a linear gradient
// becomes flat gray away from the border, an edge keeps its contrast, and
// every channel holds the same gray.
func TestOutlines(t *testing.T) {
	const n = 32
	grad := &dataset.U8Set{C: 3, H: n, W: n, Pix: make([]uint8, 2*3*n*n), Labels: []int32{0, 1}, NumClasses: 2}
	for c := range 3 {
		for y := range n {
			for x := range n {
				grad.Pix[(c*n+y)*n+x] = uint8(60 + 4*x + c*10) // image 0: horizontal ramp
				v := uint8(40)
				if x >= n/2 {
					v = 220
				}
				grad.Pix[3*n*n+(c*n+y)*n+x] = v // image 1: a vertical edge
			}
		}
	}
	o := Outlines{grad}
	ramp, edge := o.Image(0), o.Image(1)
	for y := 10; y < n-10; y++ {
		for x := 10; x < n-10; x++ {
			if v := ramp.Pix[y*n+x]; math.Abs(float64(v)-0.5) > 0.01 {
				t.Fatalf("ramp at (%d, %d): %v, want 0.5", x, y, v)
			}
		}
	}
	if lo, hi := edge.Pix[16*n+n/2-1], edge.Pix[16*n+n/2]; !(lo < 0.3 && hi > 0.7) {
		t.Errorf("edge: %v | %v, want dark | bright", lo, hi)
	}
	for c := 1; c < 3; c++ {
		if !slices.Equal(edge.Pix[:n*n], edge.Pix[c*n*n:(c+1)*n*n]) {
			t.Errorf("channel %d differs from channel 0", c)
		}
	}
}

func TestResolveAugment(t *testing.T) {
	cases := []struct {
		set, spec, want string
		ok              bool
	}{
		{"auto", "synthetic", AugmentShapes, true},
		{"", "synthetic,size=48", AugmentShapes, true},
		{"auto", "fashion-mnist", AugmentMethod, true},
		{"shapes", "cifar10:/x", AugmentShapes, true},
		{"method", "synthetic", AugmentMethod, true},
		{"outline", "synthetic", "", false},
	}
	for _, tc := range cases {
		got, ok := ResolveAugment(tc.set, tc.spec)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ResolveAugment(%q, %q) = %q, %v; want %q, %v", tc.set, tc.spec, got, ok, tc.want, tc.ok)
		}
	}
}

// TestShapeViews checks that the views are normalized outlines of the
// right count and size and that two views of an image differ.
func TestShapeViews(t *testing.T) {
	ds := Outlines{dataset.Synthetic(dataset.SyntheticConfig{Train: 4, Test: 1, Seed: 3}, dataset.Train)}
	norm := augment.Normalize{Mean: []float32{0.5, 0.5, 0.5}, Std: []float32{0.25, 0.25, 0.25}}
	views := ShapeViews(3, 32, norm)
	if len(views) != 3 {
		t.Fatalf("%d views", len(views))
	}
	var ws augment.Workspace
	rng := rand.New(rand.NewPCG(5, 6))
	a := slices.Clone(ws.Run(views[0], ds.Image(0), rng).Pix)
	b := ws.Run(views[1], ds.Image(0), rng)
	if b.C != 3 || b.H != 32 || b.W != 32 || slices.Equal(a, b.Pix) {
		t.Errorf("views %dx%dx%d, equal %v", b.C, b.H, b.W, slices.Equal(a, b.Pix))
	}
	for _, v := range b.Pix {
		if v < -2.001 || v > 2.001 {
			t.Fatalf("normalized sample %v outside [-2, 2]", v)
		}
	}
}

// TestRecipes checks the learning rates of the LARS and SGD recipes: the
// batch scaling, the default bases, the warmup and the per-epoch cosine.
func TestRecipes(t *testing.T) {
	cases := []struct {
		name string
		r    *ssl.Recipe
		step int
		want float64
	}{
		{"lars peak", LARSRecipe(0, 64, 24, 3, 31), 3 * 31, 0.075 * 8},
		{"lars warmup", LARSRecipe(0, 64, 24, 3, 31), 30, 0.075 * 8 / 3},
		{"lars warmup capped", LARSRecipe(0.1, 16, 2, 5, 10), 0, 0.1 * 4},
		{"sgd start", SGDRecipe(0.06, 512, 10, 0, 5), 4, 0.12},
		{"sgd default half", SGDRecipe(0, 256, 10, 0, 5), 5 * 5, 0.03 * 0.5},
	}
	for _, tc := range cases {
		if got := tc.r.Schedule.At(tc.step); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: lr at step %d = %v, want %v", tc.name, tc.step, got, tc.want)
		}
	}
}
