package augment

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestRot90(t *testing.T) {
	const n = 3
	src := Image{C: 2, H: n, W: n, Pix: []float32{
		1, 2, 3, 4, 5, 6, 7, 8, 9,
		10, 20, 30, 40, 50, 60, 70, 80, 90,
	}}
	// torch.rot90(x, k, (1, 2)) of x = arange(1, 10).view(1, 3, 3).
	cases := []struct {
		k    int
		want []float32
	}{
		{0, []float32{1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{1, []float32{3, 6, 9, 2, 5, 8, 1, 4, 7}},
		{2, []float32{9, 8, 7, 6, 5, 4, 3, 2, 1}},
		{3, []float32{7, 4, 1, 8, 5, 2, 9, 6, 3}},
		{-1, []float32{7, 4, 1, 8, 5, 2, 9, 6, 3}},
		{5, []float32{3, 6, 9, 2, 5, 8, 1, 4, 7}},
	}
	for _, tc := range cases {
		dst := NewImage(2, n, n)
		Rot90(dst, src, tc.k)
		if !slices.Equal(dst.Pix[:9], tc.want) {
			t.Errorf("k=%d: %v, want %v", tc.k, dst.Pix[:9], tc.want)
		}
		for i := range 9 {
			if dst.Pix[9+i] != 10*tc.want[i] {
				t.Errorf("k=%d: second channel %v", tc.k, dst.Pix[9:])
				break
			}
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("Rot90 of a 2x3 image did not panic")
		}
	}()
	Rot90(NewImage(1, 2, 3), NewImage(1, 2, 3), 1)
}

// TestRandomRot90 checks that the four rotations come about equally often,
// that the samples are only moved, and that non-square images pass.
func TestRandomRot90(t *testing.T) {
	src := Image{C: 1, H: 3, W: 3, Pix: []float32{1, 2, 3, 4, 5, 6, 7, 8, 9}}
	counts := map[float32]int{}
	var ws Workspace
	rng := rand.New(rand.NewPCG(1, 2))
	for range 4000 {
		out := ws.Run(RandomRot90{}, src, rng)
		counts[out.Pix[0]]++
		sorted := slices.Clone(out.Pix)
		slices.Sort(sorted)
		if !slices.Equal(sorted, []float32{1, 2, 3, 4, 5, 6, 7, 8, 9}) {
			t.Fatalf("rotation changed the samples: %v", out.Pix)
		}
	}
	for _, corner := range []float32{1, 3, 9, 7} {
		if c := counts[corner]; c < 850 || c > 1150 {
			t.Errorf("corner %v came first %d times of 4000", corner, c)
		}
	}
	wide := Image{C: 1, H: 1, W: 2, Pix: []float32{1, 2}}
	if out := ws.Run(RandomRot90{}, wide, rng); !slices.Equal(out.Pix, wide.Pix) {
		t.Errorf("non-square image changed: %v", out.Pix)
	}
}

func TestRandomInvert(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var ws Workspace
	cases := []struct {
		p    float64
		want []float32
	}{
		{1, []float32{0.75, 0, 1}},
		{1e-300, []float32{0.25, 1, 0}},
	}
	for _, tc := range cases {
		img := Image{C: 1, H: 1, W: 3, Pix: []float32{0.25, 1, 0}}
		if out := (RandomInvert{P: tc.p}).Apply(img, rng, &ws); !slices.Equal(out.Pix, tc.want) {
			t.Errorf("p=%v: %v, want %v", tc.p, out.Pix, tc.want)
		}
	}
	inverted := 0
	for range 4000 {
		img := Image{C: 1, H: 1, W: 1, Pix: []float32{0}}
		if (RandomInvert{}).Apply(img, rng, &ws).Pix[0] == 1 {
			inverted++
		}
	}
	if inverted < 1850 || inverted > 2150 {
		t.Errorf("default probability: %d of 4000 inverted, want about 2000", inverted)
	}
	if err := (RandomInvert{P: 1.5}).Validate(); err == nil {
		t.Error("P 1.5 validated")
	}
}
