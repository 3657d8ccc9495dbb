package augment

import (
	"fmt"
	"math/rand/v2"
)

// Standardize writes (src - mean[c]) / std[c] per channel c to dst, in
// float32 as torchvision's F.normalize (a subtraction, then a division).
// mean and std have one entry per channel, or a single entry for all. dst
// may be src.
func Standardize(dst, src Image, mean, std []float32) {
	checkSame("Standardize", dst, src)
	if (len(mean) != 1 && len(mean) != src.C) || len(std) != len(mean) {
		panic(fmt.Sprintf("augment: Standardize: %d means and %d stds for %d channels", len(mean), len(std), src.C))
	}
	plane := src.H * src.W
	for c := range src.C {
		m, s := mean[0], std[0]
		if len(mean) > 1 {
			m, s = mean[c], std[c]
		}
		sp := src.Pix[c*plane : (c+1)*plane]
		dp := dst.Pix[c*plane : (c+1)*plane]
		for i, x := range sp {
			dp[i] = (x - m) / s
		}
	}
}

// Normalize standardizes each channel with Mean and Std (torchvision's
// Normalize). Mean and Std hold one value per channel, or one for all; the
// zero value (no Mean) leaves images unchanged. A 3-entry Normalize applied
// to a 1-channel image uses the first entry.
type Normalize struct {
	Mean, Std []float32
}

// Apply implements Transform.
func (n Normalize) Apply(img Image, _ *rand.Rand, _ *Workspace) Image {
	if len(n.Mean) == 0 {
		return img
	}
	mean, std := n.Mean, n.Std
	if img.C == 1 && len(mean) > 1 {
		mean, std = mean[:1], std[:1]
	}
	Standardize(img, img, mean, std)
	return img
}

// Validate implements Validator.
func (n Normalize) Validate() error {
	if len(n.Mean) != len(n.Std) {
		return fmt.Errorf("augment: Normalize: %d means, %d stds", len(n.Mean), len(n.Std))
	}
	for c, s := range n.Std {
		if !(s > 0) {
			return fmt.Errorf("augment: Normalize: std[%d] = %v", c, s)
		}
	}
	return nil
}

// Normalization constants: per-channel mean and standard deviation of the
// training images in [0, 1].
var (
	// CIFAR10Norm is the CIFAR-10 training-set statistics used by most
	// CIFAR SSL code (e.g. lightly's and solo-learn's benchmarks).
	CIFAR10Norm = Normalize{Mean: []float32{0.4914, 0.4822, 0.4465}, Std: []float32{0.2470, 0.2435, 0.2616}}
	// CIFAR100Norm is the CIFAR-100 training-set statistics.
	CIFAR100Norm = Normalize{Mean: []float32{0.5071, 0.4865, 0.4409}, Std: []float32{0.2673, 0.2564, 0.2762}}
	// ImageNetNorm is torchvision's ImageNet statistics, used for COCO and
	// ImageNet-style folders (thesis Section 4.2).
	ImageNetNorm = Normalize{Mean: []float32{0.485, 0.456, 0.406}, Std: []float32{0.229, 0.224, 0.225}}
	// FashionMNISTNorm is the Fashion-MNIST training-set statistics, the
	// same value on all channels so it also fits images expanded to RGB.
	FashionMNISTNorm = Normalize{Mean: []float32{0.2860, 0.2860, 0.2860}, Std: []float32{0.3530, 0.3530, 0.3530}}
	// MNISTNorm is the MNIST training-set statistics (0.1307, 0.3081).
	MNISTNorm = Normalize{Mean: []float32{0.1307, 0.1307, 0.1307}, Std: []float32{0.3081, 0.3081, 0.3081}}
)
