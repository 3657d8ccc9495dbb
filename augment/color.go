package augment

import (
	"fmt"
	"math/rand/v2"
)

// Luma weights of torchvision's tensor rgb_to_grayscale (0.2989, 0.587,
// 0.114; PIL's "L" conversion and ITU-R 601 round the first to 0.299). The
// golden values were produced with these, so they are what matches
// PyTorch.
const (
	LumaR float32 = 0.2989
	LumaG float32 = 0.587
	LumaB float32 = 0.114
)

func luma(r, g, b float32) float32 { return LumaR*r + LumaG*g + LumaB*b }

func clamp01(x float32) float32 {
	if x < 0 {
		return 0
	}
	if x > 1 {
		return 1
	}
	return x
}

// checkColor panics unless dst and src have the same shape with 1 or 3
// channels (torchvision's _assert_channels(img, [1, 3])).
func checkColor(op string, dst, src Image) {
	checkSame(op, dst, src)
	if src.C != 1 && src.C != 3 {
		panic(fmt.Sprintf("augment: %s: %d channels, want 1 or 3", op, src.C))
	}
}

// blendScalar writes clamp(f*src + (1-f)*m, 0, 1), torchvision's _blend
// with a constant second image, in float32 as PyTorch does it.
func blendScalar(dst, src []float32, f float64, m float32) {
	r := float32(f)
	q := float32(1 - f)
	for i, x := range src {
		dst[i] = clamp01(r*x + q*m)
	}
}

// AdjustBrightness writes src scaled by factor and clamped to [0, 1]
// (torchvision's F.adjust_brightness: a blend with black). dst may be src.
// factor must be non-negative.
func AdjustBrightness(dst, src Image, factor float64) {
	checkColor("AdjustBrightness", dst, src)
	if factor < 0 {
		panic(fmt.Sprintf("augment: AdjustBrightness: factor %v < 0", factor))
	}
	r := float32(factor)
	for i, x := range src.Pix {
		dst.Pix[i] = clamp01(r * x)
	}
}

// GrayMean returns the mean of src's grayscale image (its single channel
// when C is 1), accumulated in float64.
func GrayMean(src Image) float32 {
	n := src.H * src.W
	var s float64
	if src.C == 3 {
		r, g, b := src.Pix[:n], src.Pix[n:2*n], src.Pix[2*n:3*n]
		for i := range n {
			s += float64(luma(r[i], g[i], b[i]))
		}
	} else {
		for _, x := range src.Pix[:n] {
			s += float64(x)
		}
	}
	return float32(s / float64(n))
}

// AdjustContrast blends src with the mean of its grayscale image:
// clamp(f*x + (1-f)*mean, 0, 1), torchvision's F.adjust_contrast. dst may
// be src. factor must be non-negative.
func AdjustContrast(dst, src Image, factor float64) {
	checkColor("AdjustContrast", dst, src)
	if factor < 0 {
		panic(fmt.Sprintf("augment: AdjustContrast: factor %v < 0", factor))
	}
	blendScalar(dst.Pix, src.Pix, factor, GrayMean(src))
}

// AdjustSaturation blends each pixel with its own gray level:
// clamp(f*x + (1-f)*gray, 0, 1), torchvision's F.adjust_saturation.
// Single-channel images are copied unchanged. dst may be src. factor must
// be non-negative.
func AdjustSaturation(dst, src Image, factor float64) {
	checkColor("AdjustSaturation", dst, src)
	if factor < 0 {
		panic(fmt.Sprintf("augment: AdjustSaturation: factor %v < 0", factor))
	}
	if src.C == 1 {
		copy(dst.Pix, src.Pix)
		return
	}
	n := src.H * src.W
	r32, q32 := float32(factor), float32(1-factor)
	sr, sg, sb := src.Pix[:n], src.Pix[n:2*n], src.Pix[2*n:3*n]
	dr, dg, db := dst.Pix[:n], dst.Pix[n:2*n], dst.Pix[2*n:3*n]
	for i := range n {
		r, g, b := sr[i], sg[i], sb[i]
		l := q32 * luma(r, g, b)
		dr[i] = clamp01(r32*r + l)
		dg[i] = clamp01(r32*g + l)
		db[i] = clamp01(r32*b + l)
	}
}

// AdjustHue rotates the hue of every pixel by factor turns (in
// [-0.5, 0.5]) through HSV, exactly as torchvision's tensor implementation
// (_rgb2hsv, (h + factor) mod 1, _hsv2rgb, all in float32). Single-channel
// images are copied unchanged. dst may be src. Inputs must be
// non-negative, as torchvision requires.
func AdjustHue(dst, src Image, factor float64) {
	checkColor("AdjustHue", dst, src)
	if !(factor >= -0.5 && factor <= 0.5) {
		panic(fmt.Sprintf("augment: AdjustHue: factor %v outside [-0.5, 0.5]", factor))
	}
	if src.C == 1 {
		copy(dst.Pix, src.Pix)
		return
	}
	n := src.H * src.W
	f := float32(factor)
	sr, sg, sb := src.Pix[:n], src.Pix[n:2*n], src.Pix[2*n:3*n]
	dr, dg, db := dst.Pix[:n], dst.Pix[n:2*n], dst.Pix[2*n:3*n]
	for i := range n {
		h, s, v := rgbToHSV(sr[i], sg[i], sb[i])
		h = mod1(h + f)
		dr[i], dg[i], db[i] = hsvToRGB(h, s, v)
	}
}

// mod1 is torch's x % 1.0 (remainder, result in [0, 1)) for float32 x
// in (-2^31, 2^31): x - floor(x), which rounds exactly as torch's
// fmod-then-add-divisor does.
func mod1(x float32) float32 {
	f := float32(int32(x)) // truncation
	if f > x {
		f--
	}
	return x - f
}

// rgbToHSV is torchvision's _rgb2hsv for one pixel, in float32.
func rgbToHSV(r, g, b float32) (h, s, v float32) {
	maxc := max(r, g, b)
	minc := min(r, g, b)
	eqc := maxc == minc
	cr := maxc - minc
	if eqc {
		s = cr / 1
	} else {
		s = cr / maxc
	}
	div := cr
	if eqc {
		div = 1
	}
	rc := (maxc - r) / div
	gc := (maxc - g) / div
	bc := (maxc - b) / div
	switch {
	case maxc == r:
		h = bc - gc
	case maxc == g:
		h = 2 + rc - bc
	default:
		h = 4 + gc - rc
	}
	// torch.fmod(h/6 + 1, 1) with h/6 + 1 in [0.8, 2): subtracting the
	// integer part is exact there.
	x := h/6 + 1
	h = x - float32(int32(x))
	return h, s, maxc
}

// hsvToRGB is torchvision's _hsv2rgb for one pixel, in float32.
func hsvToRGB(h, s, v float32) (r, g, b float32) {
	h6 := h * 6 // h in [0, 1): h6 in [0, 6], floor = truncation
	i := int32(h6)
	f := h6 - float32(i)
	i %= 6
	p := clamp01(v * (1 - s))
	q := clamp01(v * (1 - s*f))
	t := clamp01(v * (1 - s*(1-f)))
	switch i {
	case 0:
		return v, t, p
	case 1:
		return q, v, p
	case 2:
		return p, v, t
	case 3:
		return p, q, v
	case 4:
		return t, p, v
	default:
		return v, p, q
	}
}

// ToGrayscale writes the gray level of src (torchvision's
// F.rgb_to_grayscale: 0.2989 R + 0.587 G + 0.114 B, or the single channel
// of a 1-channel src) to every channel of dst, which has 1 or 3 channels
// and src's H x W. dst may be src.
func ToGrayscale(dst, src Image) {
	checkImage("ToGrayscale", src)
	checkImage("ToGrayscale", dst)
	if (src.C != 1 && src.C != 3) || (dst.C != 1 && dst.C != 3) || dst.H != src.H || dst.W != src.W {
		panic(fmt.Sprintf("augment: ToGrayscale: dst %dx%dx%d, src %dx%dx%d", dst.C, dst.H, dst.W, src.C, src.H, src.W))
	}
	n := src.H * src.W
	if src.C == 1 {
		for c := range dst.C {
			copy(dst.Pix[c*n:(c+1)*n], src.Pix[:n])
		}
		return
	}
	sr, sg, sb := src.Pix[:n], src.Pix[n:2*n], src.Pix[2*n:3*n]
	for i := range n {
		l := luma(sr[i], sg[i], sb[i])
		for c := range dst.C {
			dst.Pix[c*n+i] = l
		}
	}
}

// Solarize inverts samples at or above threshold (x >= t becomes 1 - x),
// torchvision's F.solarize on float images. dst may be src.
func Solarize(dst, src Image, threshold float32) {
	checkSame("Solarize", dst, src)
	for i, x := range src.Pix {
		if x >= threshold {
			x = 1 - x
		}
		dst.Pix[i] = x
	}
}

// ColorJitter randomly changes brightness, contrast, saturation and hue, in
// a random order, as torchvision's ColorJitter: a random permutation of the
// four adjustments is drawn first, then the factors of the enabled ones:
// brightness, contrast and saturation uniform in [max(0, 1-x), 1+x], hue
// uniform in [-Hue, Hue]. A zero field disables that adjustment.
type ColorJitter struct {
	Brightness, Contrast, Saturation float64 // >= 0
	Hue                              float64 // in [0, 0.5]
}

// Apply implements Transform.
func (j ColorJitter) Apply(img Image, rng *rand.Rand, _ *Workspace) Image {
	order := [4]int{0, 1, 2, 3}
	rng.Shuffle(4, func(a, b int) { order[a], order[b] = order[b], order[a] })
	var f [4]float64
	if j.Brightness != 0 {
		f[0] = uniform(rng, max(0, 1-j.Brightness), 1+j.Brightness)
	}
	if j.Contrast != 0 {
		f[1] = uniform(rng, max(0, 1-j.Contrast), 1+j.Contrast)
	}
	if j.Saturation != 0 {
		f[2] = uniform(rng, max(0, 1-j.Saturation), 1+j.Saturation)
	}
	if j.Hue != 0 {
		f[3] = uniform(rng, -j.Hue, j.Hue)
	}
	for _, k := range order {
		switch {
		case k == 0 && j.Brightness != 0:
			AdjustBrightness(img, img, f[0])
		case k == 1 && j.Contrast != 0:
			AdjustContrast(img, img, f[1])
		case k == 2 && j.Saturation != 0:
			AdjustSaturation(img, img, f[2])
		case k == 3 && j.Hue != 0:
			AdjustHue(img, img, f[3])
		}
	}
	return img
}

// Validate implements Validator.
func (j ColorJitter) Validate() error {
	if !(j.Brightness >= 0 && j.Contrast >= 0 && j.Saturation >= 0) {
		return fmt.Errorf("augment: ColorJitter: negative strength in %+v", j)
	}
	if !(j.Hue >= 0 && j.Hue <= 0.5) {
		return fmt.Errorf("augment: ColorJitter: hue %v outside [0, 0.5]", j.Hue)
	}
	return nil
}

// RandomGrayscale converts the image to gray (keeping its channel count)
// with probability P, as torchvision's RandomGrayscale (when a uniform draw
// is < p).
type RandomGrayscale struct {
	P float64 // zero means torchvision's default 0.1
}

// Apply implements Transform.
func (g RandomGrayscale) Apply(img Image, rng *rand.Rand, _ *Workspace) Image {
	if rng.Float64() < prob(g.P, 0.1) {
		ToGrayscale(img, img)
	}
	return img
}

// Validate implements Validator.
func (g RandomGrayscale) Validate() error { return checkProb("RandomGrayscale", g.P) }

// RandomSolarize solarizes with probability P (torchvision's
// RandomSolarize, used by BYOL's second view).
type RandomSolarize struct {
	P         float64 // zero means torchvision's default 0.5
	Threshold float32 // zero means 0.5, BYOL's threshold on [0, 1] images
}

// Apply implements Transform.
func (s RandomSolarize) Apply(img Image, rng *rand.Rand, _ *Workspace) Image {
	if rng.Float64() < prob(s.P, 0.5) {
		t := s.Threshold
		if t == 0 {
			t = 0.5
		}
		Solarize(img, img, t)
	}
	return img
}

// Validate implements Validator.
func (s RandomSolarize) Validate() error { return checkProb("RandomSolarize", s.P) }

// Grayscale3 is a deterministic transform that turns a 1-channel image into
// 3 identical channels (3-channel images pass through), so grayscale sets
// such as Fashion-MNIST feed RGB backbones and color augmentations.
type Grayscale3 struct{}

// Apply implements Transform.
func (Grayscale3) Apply(img Image, _ *rand.Rand, ws *Workspace) Image {
	if img.C != 1 {
		return img
	}
	out := Image{C: 3, H: img.H, W: img.W}
	out.Pix = ws.Buffer(3*img.H*img.W, img.Pix, nil)
	ToGrayscale(out, img)
	return out
}

// Invert writes 1 - src into dst (torchvision's F.invert on [0, 1]
// images); dst may be src.
func Invert(dst, src Image) {
	checkColor("Invert", dst, src)
	for i, v := range src.Pix {
		dst.Pix[i] = 1 - v
	}
}

// RandomInvert inverts the image with probability P, as torchvision's
// RandomInvert (when a uniform draw is < p).
type RandomInvert struct {
	P float64 // zero means torchvision's default 0.5
}

// Apply implements Transform.
func (t RandomInvert) Apply(img Image, rng *rand.Rand, _ *Workspace) Image {
	if rng.Float64() < prob(t.P, 0.5) {
		Invert(img, img)
	}
	return img
}

// Validate implements Validator.
func (t RandomInvert) Validate() error { return checkProb("RandomInvert", t.P) }
