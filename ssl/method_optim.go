package ssl

import (
	"fmt"

	"github.com/disiam/disiam/nn"
	"github.com/disiam/disiam/optim"
	"github.com/disiam/disiam/train"
)

// Recipe is the optimization of one training stage: the optimizer and the
// learning-rate schedule (train.Recipe).
type Recipe = train.Recipe

// RecipeConfig sizes a stage for DefaultRecipe.
type RecipeConfig struct {
	// Batch is the number of images per optimizer step (the effective
	// batch, after gradient accumulation); it scales the learning rate.
	Batch int
	// Epochs and StepsPerEpoch give the schedule's length.
	Epochs, StepsPerEpoch int
	// BaseLR is the learning rate before scaling by the batch size; 0
	// means the thesis' base for the method (optim.SimSiamBaseLR 0.03, or
	// optim.SimCLRBaseLR 0.075 for SimCLR). Section 5.3.2 finds 0.06 best
	// for DiSiam and DiSiam+ on EfficientNet-B0.
	BaseLR float64
}

// RecipeProvider is implemented by methods that choose their own
// optimization (SimCLR, or a user's method); DefaultRecipe asks them
// first.
type RecipeProvider interface {
	Recipe(RecipeConfig) Recipe
}

// SimCLRWarmupEpochs is the length of SimCLR's linear learning-rate warmup
// (thesis Section 4.3).
const SimCLRWarmupEpochs = 10

// DefaultRecipe returns the optimization of thesis Section 4.3 for m:
//
//   - a method implementing RecipeProvider chooses its own; SimCLR's is
//     LARS (momentum 0.9, weight decay 1e-6, trust coefficient 0.001,
//     BatchNorm and bias parameters excluded; optim.SimCLRLARS), learning
//     rate BaseLR·sqrt(Batch) (base 0.075), linear warmup over 10 epochs
//     then cosine decay to zero (runs of fewer than 20 epochs warm up over
//     half of them, so that some decay remains).
//   - every other method (SimSiam, FastSiam, DiSiam, DiSiam+, BYOL, DYOL,
//     SoftChain): SGD with momentum 0.9 and weight decay 1e-4
//     (optim.SimSiamSGD), learning rate BaseLR·Batch/256 (base 0.03),
//     cosine decay to zero without warmup.
//
// Schedules change once per epoch, as SimSiam's reference code
// (main_simsiam.py adjust_learning_rate) and lightly's benchmarks do. It
// panics on a
// non-positive Batch, Epochs or StepsPerEpoch.
func DefaultRecipe(m Method, c RecipeConfig) Recipe {
	if c.Batch <= 0 || c.Epochs <= 0 || c.StepsPerEpoch <= 0 {
		panic(fmt.Sprintf("ssl: DefaultRecipe: invalid %+v", c))
	}
	if p, ok := m.(RecipeProvider); ok {
		return p.Recipe(c)
	}
	base := c.BaseLR
	if base == 0 {
		base = optim.SimSiamBaseLR
	}
	return Recipe{
		NewOptimizer: func(ps []*nn.Param) optim.Optimizer { return optim.NewSGD(ps, optim.SimSiamSGD) },
		Schedule: optim.PerEpoch{
			Schedule:      optim.Cosine{Base: optim.LinearScaledLR(base, c.Batch), Steps: c.Epochs},
			StepsPerEpoch: c.StepsPerEpoch,
		},
	}
}
