package augment

// Presets: the view distributions of the papers the thesis follows
// (Section 4.3: SimSiam's recipe for SimSiam, DiSiam and DiSiam+, SimCLR's
// for SimCLR). Each takes the output side and the normalization to end
// with (the zero Normalize for none). Gaussian blur is left out at 32 x 32
// and below, as the CIFAR experiments of SimSiam, SimCLR (Appendix B.9) and
// the lightly benchmarks do: at that size a 10%-of-side kernel is 3 taps
// and mostly destroys the image.

// blurAbove is the largest side at which presets leave blur out.
const blurAbove = 32

// SimSiamView returns one view of SimSiam's augmentation (Chen & He,
// "Exploring Simple Siamese Representation Learning", CVPR 2021, Section
// 4 and Appendix A, following MoCo v2): RandomResizedCrop with scale
// (0.2, 1); ColorJitter(0.4, 0.4, 0.4, 0.1) applied with probability 0.8;
// RandomGrayscale with p = 0.2; GaussianBlur with sigma in [0.1, 2] and
// p = 0.5 (above 32 x 32 only); RandomHorizontalFlip with p = 0.5; then
// norm. The thesis uses it for SimSiam, DiSiam and DiSiam+.
func SimSiamView(size int, norm Normalize) Compose {
	c := Compose{
		RandomResizedCrop{Size: size, Scale: [2]float64{0.2, 1}},
		RandomApply{P: 0.8, Transform: ColorJitter{Brightness: 0.4, Contrast: 0.4, Saturation: 0.4, Hue: 0.1}},
		RandomGrayscale{P: 0.2},
	}
	if size > blurAbove {
		c = append(c, RandomApply{P: 0.5, Transform: GaussianBlur{}})
	}
	return append(c, RandomHorizontalFlip{P: 0.5}, norm)
}

// DiSiamView is the view of DiSiam and DiSiam+: SimSiam's (thesis Section
// 4.3).
func DiSiamView(size int, norm Normalize) Compose { return SimSiamView(size, norm) }

// SimCLRView returns one view of SimCLR's augmentation (Chen et al., "A
// Simple Framework for Contrastive Learning of Visual Representations",
// ICML 2020, Appendix A): RandomResizedCrop with scale (0.08, 1) and ratio
// (3/4, 4/3); RandomHorizontalFlip with p = 0.5; color distortion of
// strength s, ColorJitter(0.8s, 0.8s, 0.8s, 0.2s) with p = 0.8, then
// RandomGrayscale with p = 0.2; GaussianBlur with a kernel of 10% of the
// side, sigma in [0.1, 2] and p = 0.5 (above 32 x 32 only); then norm. A
// zero strength means the paper's ImageNet default s = 1; its CIFAR-10
// runs (Appendix B.9) use s = 0.5 without blur.
func SimCLRView(size int, strength float64, norm Normalize) Compose {
	s := strength
	if s == 0 {
		s = 1
	}
	c := Compose{
		RandomResizedCrop{Size: size, Scale: [2]float64{0.08, 1}},
		RandomHorizontalFlip{P: 0.5},
		RandomApply{P: 0.8, Transform: ColorJitter{Brightness: 0.8 * s, Contrast: 0.8 * s, Saturation: 0.8 * s, Hue: 0.2 * s}},
		RandomGrayscale{P: 0.2},
	}
	if size > blurAbove {
		c = append(c, RandomApply{P: 0.5, Transform: GaussianBlur{}})
	}
	return append(c, norm)
}

// BYOLViews returns BYOL's two asymmetric views (Grill et al., "Bootstrap
// Your Own Latent", NeurIPS 2020, Appendix B, Table 6): both take
// RandomResizedCrop with scale (0.08, 1), RandomHorizontalFlip with
// p = 0.5, ColorJitter(0.4, 0.4, 0.2, 0.1) with p = 0.8 and RandomGrayscale
// with p = 0.2; then Gaussian blur (sigma in [0.1, 2], kernel 10% of the
// side) with p = 1.0 in the first view and 0.1 in the second (above
// 32 x 32 only), and solarization with p = 0 in the first and 0.2 in the
// second; then norm. The thesis' DYOL uses them too.
func BYOLViews(size int, norm Normalize) Views {
	view := func(blurP, solarizeP float64) Compose {
		c := Compose{
			RandomResizedCrop{Size: size, Scale: [2]float64{0.08, 1}},
			RandomHorizontalFlip{P: 0.5},
			RandomApply{P: 0.8, Transform: ColorJitter{Brightness: 0.4, Contrast: 0.4, Saturation: 0.2, Hue: 0.1}},
			RandomGrayscale{P: 0.2},
		}
		if size > blurAbove {
			c = append(c, RandomApply{P: blurP, Transform: GaussianBlur{}})
		}
		if solarizeP > 0 {
			c = append(c, RandomSolarize{P: solarizeP, Threshold: 0.5})
		}
		return append(c, norm)
	}
	return Views{view(1.0, 0), view(0.1, 0.2)}
}

// EvalView returns the deterministic evaluation transform: a bilinear
// resize to size x size when size > 0 (the thesis evaluates CIFAR-10 also
// upsampled to 224 x 224), then norm.
func EvalView(size int, norm Normalize) Compose {
	if size > 0 {
		return Compose{Resize{Height: size, Width: size}, norm}
	}
	return Compose{norm}
}
