package augment

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"testing"
)

// TestTorchvisionExtra compares cases testdata/augment.json.gz does not
// cover (antialiased and non-square resizes, crops reaching outside the
// image, non-square and wide blurs, center crops with padding, solarize,
// HSV edge cases, 1-channel images) with torchvision 0.14, computed by
// testdata/gen_extra.py in float64, within 1e-5 absolute.
func TestTorchvisionExtra(t *testing.T) {
	raw, err := os.ReadFile("testdata/extra.json")
	if err != nil {
		t.Fatal(err)
	}
	var fx struct {
		E   [][][]float64            `json:"e"`
		Ops map[string][][][]float64 `json:"ops"`
	}
	if err := json.Unmarshal(raw, &fx); err != nil {
		t.Fatal(err)
	}
	a := ruleImage("aug_small", 3, 12, 14)
	g := ruleImage("aug_gray", 1, 12, 14)
	c, h, w, ep := flatten(fx.E)
	e := NewImage(c, h, w)
	for i, v := range ep {
		e.Pix[i] = float32(v)
	}
	var ws Workspace
	rng := rand.New(rand.NewPCG(1, 2))
	// viaTransform runs a deterministic Transform on a copy of src.
	viaTransform := func(tr Transform, src Image) Image { return ws.Run(tr, src, rng) }
	fn := func(src Image, op func(d, s Image)) func(c, h, w int) Image {
		return func(c, h, w int) Image {
			d := NewImage(c, h, w)
			op(d, src)
			return d
		}
	}
	imagenet := ImageNetNorm
	cases := []struct {
		name string
		run  func(c, h, w int) Image
	}{
		{"crop_oob_t-3_l9_h10_w8_to6x5", fn(a, func(d, s Image) { ResizedCrop(d, s, -3, 9, 10, 8) })},
		{"resize_aa_down_5x4", fn(a, func(d, s Image) { Rescale(d, s, true) })},
		{"resize_aa_up_17x23", fn(a, func(d, s Image) { Rescale(d, s, true) })},
		{"resize_aa_mixed_7x30", func(int, int, int) Image { return viaTransform(Resize{Height: 7, Width: 30, Antialias: true}, a) }},
		{"resize_up_20x25", func(int, int, int) Image { return viaTransform(Resize{Height: 20, Width: 25}, a) }},
		{"resize_down_7x5", fn(a, func(d, s Image) { Rescale(d, s, false) })},
		{"blur_k7x3_s0.8x2.5", fn(a, func(d, s Image) { Blur(d, s, 7, 3, 0.8, 2.5) })},
		{"blur_k23_s1.7", fn(a, func(d, s Image) { Blur(d, s, 23, 23, 1.7, 1.7) })},
		{"solarize_0.6", fn(a, func(d, s Image) { Solarize(d, s, 0.6) })},
		{"center_crop_7x10", fn(a, func(d, s Image) {
			top, left := CenterCropRect(s.H, s.W, d.H, d.W)
			ResizedCrop(d, s, top, left, d.H, d.W)
		})},
		{"center_crop_pad_15x17", fn(a, func(d, s Image) {
			top, left := CenterCropRect(s.H, s.W, d.H, d.W)
			ResizedCrop(d, s, top, left, d.H, d.W)
		})},
		{"center_crop_odd_6x9", fn(a, func(d, s Image) {
			top, left := CenterCropRect(s.H, s.W, d.H, d.W)
			ResizedCrop(d, s, top, left, d.H, d.W)
		})},
		{"hue_edge_0.5", fn(e, func(d, s Image) { AdjustHue(d, s, 0.5) })},
		{"hue_edge_-0.25", fn(e, func(d, s Image) { AdjustHue(d, s, -0.25) })},
		{"saturation_edge_0", fn(e, func(d, s Image) { AdjustSaturation(d, s, 0) })},
		{"contrast_edge_1.8", fn(e, func(d, s Image) { AdjustContrast(d, s, 1.8) })},
		{"gray_contrast_0.4", fn(g, func(d, s Image) { AdjustContrast(d, s, 0.4) })},
		{"gray_brightness_1.6", fn(g, func(d, s Image) { AdjustBrightness(d, s, 1.6) })},
		{"grayscale_1ch", fn(a, func(d, s Image) { ToGrayscale(d, s) })},
		{"normalize_imagenet", func(int, int, int) Image { return viaTransform(imagenet, a) }},
	}
	seen := map[string]bool{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want, ok := fx.Ops[tc.name]
			if !ok {
				t.Fatalf("fixture has no op %q", tc.name)
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
			if !(worst <= 1e-5) {
				t.Errorf("max abs error %.3g at %d (got %v, want %v), want <= 1e-5", worst, at, got.Pix[at], wpix[at])
			}
		})
	}
	for name := range fx.Ops {
		if !seen[name] {
			t.Errorf("fixture op %q has no test case", name)
		}
	}
}
