package runner

import (
	"flag"
	"strings"

	"github.com/disiam/disiam/ssl"
)

// Values of the example programs' -recipe flags.
const (
	// RecipeAuto is the dataset's CPURecipe where it has one (flags given
	// on the command line still win), the program's own defaults
	// elsewhere.
	RecipeAuto = "auto"
	// RecipeNone is the program's own defaults on every dataset.
	RecipeNone = "none"
	// RecipeThesis is the thesis' optimization (SGD for the
	// negative-free methods, LARS for SimCLR), the papers' 2048-unit
	// heads and each method's own views, on the sizes the other flags
	// give.
	RecipeThesis = "thesis"
)

// CPURecipe is a setting in which every method visibly learns on a real
// dataset within about half an hour on two idle CPU cores: the default of
// the quickstart and the experiment programs on that dataset (-recipe
// auto). Every method trains with LARS (LARSRecipe) on the images as they
// are, with its own views.
type CPURecipe struct {
	// Backbone is the online network and Assistant DiSiam's and DiSiam+'s
	// assistant; EfficientNet is the EfficientNet stand-in of the method
	// comparisons (thesis Table 5.4's second backbone).
	Backbone, Assistant, EfficientNet string
	// Train training images (also the kNN bank), Test kNN queries.
	Train, Test int
	// Epochs of batches of Batch images; Warmup epochs of linear warmup
	// before the cosine decay.
	Epochs, Batch, Warmup int
	// MethodEpochs are the epochs of the methods (by ssl name) whose
	// budget differs from Epochs; EpochsFor reads them.
	MethodEpochs map[string]int
	// LR is the LARS base learning rate (times sqrt(Batch)).
	LR float64
	// HeadDim is Networks.HeadDim.
	HeadDim int
}

// FashionMNIST is the CPU recipe of Fashion-MNIST (28×28 grayscale,
// presented as RGB): ResNet-18 with the CIFAR stem (3x3 stride-1 conv1, no
// max-pool) at 8 base channels online, the same at 16 base channels as
// DiSiam's and DiSiam+'s assistant, EfficientNet-B0 at width ×0.25 as the
// comparisons' second backbone. The assistant is wider than the online
// network, as in the thesis (ResNet-34 for EfficientNet-B0, Section
// 5.3.5): with an assistant as narrow as the online network, DiSiam (seed
// 7) ended 8.5 points and DiSiam+ 2.6 points below the random
// initialization after 30 epochs; with the width-16 assistant they gain
// (below). The ImageNet stem reduces a 28×28 image to 7×7 before layer1
// and 1×1 at layer4, and the methods gain little with it (the quickstart's
// defaults on Fashion-MNIST: DiSiam 56.3% -> 58.0%); the CIFAR stem keeps
// 28×28 in layer1 and 4×4 at layer4. Every method trains 30 epochs except
// SimSiam, 60 (at 30 its gain depended on the seed: seed 41 ended 2.9
// points below its initialization after a slow start, without collapse;
// SimSiam is the cheapest method and 60 epochs take about 11 minutes alone
// on two cores), and DiSiam+, 24 (four views through two networks, 47 s an
// epoch: about 19 minutes, leaving room on slower machines). Over seeds 7,
// 41 and 923 each method then gains over its random initialization on
// every seed, 3.6 to 14.5 points of kNN top-1 (means 6.6 to 11.9). The
// measurements behind the settings are in examples/README.md, section
// "Real images at CPU scale".
var FashionMNIST = CPURecipe{
	Backbone: "resnet18-cifar-w8", Assistant: "resnet18-cifar-w16", EfficientNet: "efficientnet_b0-x0.25",
	Train: 2000, Test: 1000,
	Epochs: 30, Batch: 32, Warmup: 3,
	MethodEpochs: map[string]int{ssl.NameSimSiam: 60, ssl.NameDiSiamPlus: 24},
	LR:           0.075,
	HeadDim:      512,
}

// EpochsFor returns the epochs of method: its MethodEpochs entry, or
// Epochs.
func (r CPURecipe) EpochsFor(method string) int {
	if n, ok := r.MethodEpochs[method]; ok {
		return n
	}
	return r.Epochs
}

// RecipeFor returns the CPU recipe of a dataset spec: FashionMNIST for
// "fashion-mnist" (with any folder or options). It reports false for a
// dataset without one.
func RecipeFor(spec string) (CPURecipe, bool) {
	name, _, _ := strings.Cut(spec, ",")
	name, _, _ = strings.Cut(name, ":")
	if strings.TrimSpace(name) == "fashion-mnist" {
		return FashionMNIST, true
	}
	return CPURecipe{}, false
}

// SetFlags returns the names of the flags the command line set (after
// fs.Parse), which a recipe leaves alone.
func SetFlags(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}
