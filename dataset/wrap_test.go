package dataset

import (
	"slices"
	"testing"

	"github.com/disiam/disiam/augment"
)

// plain hides a dataset's ImageDecoder, to test the fallback paths.
type plain struct{ Dataset }

func TestSubsetHeadShuffle(t *testing.T) {
	ds := smallSynthetic(t, 50)
	sub := NewSubset(ds, []int{7, 3, 3})
	if sub.Len() != 3 || sub.Label(0) != 7 || !slices.Equal(sub.Image(1).Pix, ds.Image(3).Pix) {
		t.Error("Subset does not map indices")
	}
	buf := augment.Image{}
	if img := ReadImage(sub, 0, buf); !slices.Equal(img.Pix, ds.Image(7).Pix) {
		t.Error("Subset decodes the wrong image")
	}
	if h := Head(ds, 10); h.Len() != 10 || h.Label(9) != 9 {
		t.Error("Head")
	}
	if h := Head(ds, 100); h != Dataset(ds) {
		t.Error("Head beyond the length should return the dataset")
	}
	a, b := Shuffle(ds, 1), Shuffle(ds, 1)
	if !slices.Equal(a.Indices, b.Indices) {
		t.Error("Shuffle is not deterministic")
	}
	if slices.Equal(a.Indices, Shuffle(ds, 2).Indices) {
		t.Error("seeds 1 and 2 shuffle alike")
	}
	sorted := slices.Sorted(slices.Values(a.Indices))
	for i, v := range sorted {
		if v != i {
			t.Fatal("Shuffle is not a permutation")
		}
	}
	pc := PerClass(ds, 2)
	if pc.Len() != 20 {
		t.Errorf("PerClass: %d images", pc.Len())
	}
	count := map[int]int{}
	for i := range pc.Len() {
		count[pc.Label(i)]++
	}
	for c := range 10 {
		if count[c] != 2 {
			t.Errorf("class %d: %d images", c, count[c])
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("out-of-range subset index did not panic")
		}
	}()
	NewSubset(ds, []int{50})
}

func TestRGB(t *testing.T) {
	gray := &U8Set{C: 1, H: 2, W: 3, Pix: []uint8{0, 51, 102, 153, 204, 255}, Labels: []int32{4}, NumClasses: 5, Names: []string{"a", "b", "c", "d", "e"}}
	for name, base := range map[string]Dataset{"decoder": gray, "plain": plain{gray}} {
		t.Run(name, func(t *testing.T) {
			r := RGB{Base: base}
			img := r.Image(0)
			if img.C != 3 || img.H != 2 || img.W != 3 {
				t.Fatalf("shape %dx%dx%d", img.C, img.H, img.W)
			}
			g := gray.Image(0)
			for c := range 3 {
				if !slices.Equal(img.Pix[c*6:(c+1)*6], g.Pix) {
					t.Errorf("channel %d %v, want %v", c, img.Pix[c*6:(c+1)*6], g.Pix)
				}
			}
			if r.Label(0) != 4 || r.Classes() != 5 || r.Len() != 1 {
				t.Error("labels not forwarded")
			}
			// Decoding into a buffer too small for 3 channels grows it.
			img = r.DecodeImage(0, augment.Image{Pix: make([]float32, 6)})
			if len(img.Pix) != 18 || img.Pix[17] != 1 {
				t.Errorf("decoded %v", img.Pix)
			}
		})
	}
	if names := (RGB{Base: gray}).ClassNames(); len(names) != 5 {
		t.Error("class names not forwarded")
	}
}
