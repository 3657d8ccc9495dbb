package augment

import (
	"compress/gzip"
	"encoding/json"
	"hash/fnv"
	"math"
	"os"
	"testing"
)

// ruleImage is the golden tests' deterministic value rule (FNV-1a and
// splitmix64, written out in ../backbone/testdata/detweights.py) for an
// input named name, mapped as augment.json's image: (r + 1) / 2, exact in
// float32.
func ruleImage(name string, c, h, w int) Image {
	f := fnv.New64a()
	f.Write([]byte(name))
	seed := f.Sum64()
	img := NewImage(c, h, w)
	for i := range img.Pix {
		u := float64(SplitMix64(seed+uint64(i))>>40) / (1 << 24)
		img.Pix[i] = float32((2*u - 1 + 1) / 2)
	}
	return img
}

type goldenAugment struct {
	Image struct {
		Name  string `json:"name"`
		Shape []int  `json:"shape"`
	} `json:"image"`
	Ops map[string][][][]float64 `json:"ops"`
}

func loadGolden(t *testing.T) goldenAugment {
	t.Helper()
	f, err := os.Open("testdata/augment.json.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var g goldenAugment
	if err := json.NewDecoder(zr).Decode(&g); err != nil {
		t.Fatal(err)
	}
	return g
}

func flatten(v [][][]float64) (c, h, w int, pix []float64) {
	c, h, w = len(v), len(v[0]), len(v[0][0])
	for _, plane := range v {
		for _, row := range plane {
			pix = append(pix, row...)
		}
	}
	return c, h, w, pix
}

// TestGolden compares every functional op with torchvision 0.14's output
// (testdata/augment.json.gz, computed in float64 by
// ../backbone/testdata/golden.py augment) within 1e-5 absolute.
func TestGolden(t *testing.T) {
	g := loadGolden(t)
	s := g.Image.Shape
	src := ruleImage(g.Image.Name, s[0], s[1], s[2])
	like := func(c, h, w int) Image { return NewImage(c, h, w) }
	cifar := CIFAR10Norm
	cases := []struct {
		name string
		run  func(c, h, w int) Image
	}{
		{"resized_crop_up_t5_l7_h20_w24_to32", func(c, h, w int) Image {
			d := like(c, h, w)
			ResizedCrop(d, src, 5, 7, 20, 24)
			return d
		}},
		{"resized_crop_down_t2_l3_h36_w40_to16_noantialias", func(c, h, w int) Image {
			d := like(c, h, w)
			ResizedCrop(d, src, 2, 3, 36, 40)
			return d
		}},
		{"hflip", func(c, h, w int) Image { d := like(c, h, w); HFlip(d, src); return d }},
		{"brightness_1.3", func(c, h, w int) Image { d := like(c, h, w); AdjustBrightness(d, src, 1.3); return d }},
		{"contrast_0.7", func(c, h, w int) Image { d := like(c, h, w); AdjustContrast(d, src, 0.7); return d }},
		{"saturation_1.4", func(c, h, w int) Image { d := like(c, h, w); AdjustSaturation(d, src, 1.4); return d }},
		{"hue_0.1", func(c, h, w int) Image { d := like(c, h, w); AdjustHue(d, src, 0.1); return d }},
		{"hue_-0.3", func(c, h, w int) Image { d := like(c, h, w); AdjustHue(d, src, -0.3); return d }},
		{"grayscale_3ch", func(c, h, w int) Image { d := like(c, h, w); ToGrayscale(d, src); return d }},
		{"gaussian_blur_k5_s1.2", func(c, h, w int) Image { d := like(c, h, w); Blur(d, src, 5, 5, 1.2, 1.2); return d }},
		{"normalize_cifar", func(c, h, w int) Image {
			d := like(c, h, w)
			Standardize(d, src, cifar.Mean, cifar.Std)
			return d
		}},
	}
	seen := map[string]bool{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want, ok := g.Ops[tc.name]
			if !ok {
				t.Fatalf("golden file has no op %q", tc.name)
			}
			seen[tc.name] = true
			c, h, w, wpix := flatten(want)
			got := tc.run(c, h, w)
			if got.C != c || got.H != h || got.W != w {
				t.Fatalf("shape %dx%dx%d, want %dx%dx%d", got.C, got.H, got.W, c, h, w)
			}
			var worst float64
			at := 0
			for i, v := range wpix {
				if d := math.Abs(float64(got.Pix[i]) - v); d > worst || math.IsNaN(d) {
					worst, at = d, i
				}
			}
			t.Logf("max abs error %.3g", worst)
			if !(worst <= 1e-5) {
				t.Errorf("max abs error %.3g at %d (got %v, want %v), want <= 1e-5", worst, at, got.Pix[at], wpix[at])
			}
		})
	}
	for name := range g.Ops {
		if !seen[name] {
			t.Errorf("golden op %q has no test case", name)
		}
	}
}
