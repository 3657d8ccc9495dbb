package runner

import (
	"strings"

	"github.com/disiam/disiam/augment"
	"github.com/disiam/disiam/dataset"
	"github.com/disiam/disiam/nn"
	"github.com/disiam/disiam/optim"
	"github.com/disiam/disiam/ssl"
)

// View sets of the example programs' -augment flags.
const (
	// AugmentAuto is AugmentShapes for the synthetic set and
	// AugmentMethod for every other dataset.
	AugmentAuto = "auto"
	// AugmentShapes trains and evaluates on the images' Outlines with
	// ShapeViews.
	AugmentShapes = "shapes"
	// AugmentMethod trains on the images as they are with each method's
	// own views (ssl.DefaultViews).
	AugmentMethod = "method"
)

// ResolveAugment returns the view set to use for the dataset spec: set
// itself unless it is AugmentAuto. It reports false for an unknown set.
func ResolveAugment(set, spec string) (string, bool) {
	switch set {
	case AugmentShapes, AugmentMethod:
		return set, true
	case AugmentAuto, "":
		if IsSynthetic(spec) {
			return AugmentShapes, true
		}
		return AugmentMethod, true
	}
	return "", false
}

// IsSynthetic reports whether a dataset spec names the embedded synthetic
// set.
func IsSynthetic(spec string) bool {
	name, _, _ := strings.Cut(spec, ",")
	return name == "synthetic"
}

// Outlines presents a dataset's images as their outlines: the grayscale
// image (ITU-R 601 luma, as torchvision's Grayscale, in all three
// channels) minus its Gaussian blur (σ = 3/32 of the side, 15 taps at
// 32×32), times 1.5, plus 0.5, clamped to [0, 1]. Edges keep their
// contrast; flat areas and smooth gradients become flat gray, and the
// shapes' colors reduce to their contrast with the background. A program
// applies it to the training images and the kNN queries alike, so that
// the random initialization and the trained encoder are measured on the
// same images.
type Outlines struct{ dataset.Dataset }

// Image implements dataset.Dataset.
func (o Outlines) Image(i int) augment.Image {
	img := o.Dataset.Image(i)
	return Outline(img, 3*float64(min(img.H, img.W))/32)
}

// Outline returns img's outline as Outlines computes it, with a blur of
// standard deviation sigma pixels (15 taps at sigma 3): the grayscale
// image minus its blur, times 1.5, plus 0.5, clamped to [0, 1], in three
// channels.
func Outline(img augment.Image, sigma float64) augment.Image {
	gray := augment.NewImage(3, img.H, img.W)
	if img.C == 3 {
		augment.ToGrayscale(gray, img)
	} else {
		for c := range 3 {
			copy(gray.Pix[c*img.H*img.W:], img.Pix[:img.H*img.W])
		}
	}
	k := int(5*sigma) | 1
	blur := augment.NewImage(3, img.H, img.W)
	augment.Blur(blur, gray, k, k, sigma, sigma)
	for j, v := range gray.Pix {
		gray.Pix[j] = min(max(0.5+1.5*(v-blur.Pix[j]), 0), 1)
	}
	return gray
}

// ShapeViews returns m views of shape outlines: SimSiam's crop (scale 0.2
// to 1) and flip, brightness and contrast jitter (0.4, probability 0.8),
// inversion (probability 0.5) and a rotation by a random multiple of 90°,
// then norm. The synthetic shapes are drawn in random colors, which two
// views of an image share under the usual color jitter: with the methods'
// own views a network learns to match views by color (a nuisance
// independent of the class) before it looks at the shape. Outlines remove
// the hue; inversion makes the remaining polarity (shape brighter or
// darker than the background) useless for telling images apart. None of
// them changes the class of a synthetic image.
func ShapeViews(m, size int, norm augment.Normalize) augment.Views {
	return augment.MultiView(m, augment.Compose{
		augment.RandomResizedCrop{Size: size, Scale: [2]float64{0.2, 1}},
		augment.RandomApply{P: 0.8, Transform: augment.ColorJitter{Brightness: 0.4, Contrast: 0.4}},
		augment.RandomInvert{P: 0.5},
		augment.RandomHorizontalFlip{P: 0.5},
		augment.RandomRot90{},
		norm,
	})
}

// Optimizers of the example programs' -optimizer flags.
const (
	// OptimizerThesis is ssl.DefaultRecipe: SGD for the negative-free
	// methods, LARS with warmup for SimCLR (thesis Section 4.3).
	OptimizerThesis = "thesis"
	// OptimizerLARS is LARSRecipe for every method.
	OptimizerLARS = "lars"
	// OptimizerSGD is SGDRecipe for every method.
	OptimizerSGD = "sgd"
)

// LARSRecipe is the optimization the quickstart and the small experiment
// runs use for every method: LARS (optim.SimCLRLARS), learning rate
// base·sqrt(batch) (base 0 means SimCLR's 0.075), warmup linear over
// warmup epochs (at most epochs-1), then cosine decay to zero, changing
// once per epoch of steps optimizer steps. LARS scales each layer's step
// to its weight norm, which makes narrow networks learn in tens of epochs
// where the thesis' SGD needs hundreds.
func LARSRecipe(base float64, batch, epochs, warmup, steps int) *ssl.Recipe {
	if base == 0 {
		base = optim.SimCLRBaseLR
	}
	lars := func(ps []*nn.Param) optim.Optimizer { return optim.NewLARS(ps, optim.SimCLRLARS) }
	return warmupCosine(lars, optim.SqrtScaledLR(base, batch), epochs, warmup, steps)
}

// SGDRecipe is the thesis' SGD for DiSiam (optim.SimSiamSGD: momentum
// 0.9, weight decay 1e-4), learning rate base·batch/256 (base 0 means
// 0.03), with warmup epochs of linear warmup (at most epochs-1) before
// the cosine decay, changing once per epoch of steps optimizer steps.
func SGDRecipe(base float64, batch, epochs, warmup, steps int) *ssl.Recipe {
	if base == 0 {
		base = optim.SimSiamBaseLR
	}
	sgd := func(ps []*nn.Param) optim.Optimizer { return optim.NewSGD(ps, optim.SimSiamSGD) }
	return warmupCosine(sgd, optim.LinearScaledLR(base, batch), epochs, warmup, steps)
}

// warmupCosine is the recipe of newOpt at learning rate lr with warmup
// epochs of linear warmup (at most epochs-1), then cosine decay to zero,
// changing once per epoch of steps optimizer steps.
func warmupCosine(newOpt func([]*nn.Param) optim.Optimizer, lr float64, epochs, warmup, steps int) *ssl.Recipe {
	return &ssl.Recipe{
		NewOptimizer: newOpt,
		Schedule: optim.PerEpoch{
			Schedule:      optim.WarmupCosine{Base: lr, Warmup: min(warmup, epochs-1), Steps: epochs},
			StepsPerEpoch: steps,
		},
	}
}
