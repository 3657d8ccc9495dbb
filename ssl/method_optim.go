package ssl

import (
	"fmt"
	"sort"

	"gorgonia.org/tensor"

	"github.com/disiam/disiam/nn"
	"github.com/disiam/disiam/optim"
)

// Recipe is the optimization of one training stage: the optimizer and the
// learning-rate schedule.
type Recipe struct {
	// NewOptimizer returns an optimizer over some trainable parameters.
	// NewOptimizer (the function of this package) calls it once per
	// trainable part of a method, so that the networks of a method may
	// share parameter names (an online and an assistant ResNet both own
	// "conv1.weight").
	NewOptimizer func(params []*nn.Param) optim.Optimizer
	// Schedule gives the learning rate of the stage's optimizer step k,
	// counted from 0.
	Schedule optim.Schedule
}

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
// optimization (a user's method); DefaultRecipe asks them first.
type RecipeProvider interface {
	Recipe(RecipeConfig) Recipe
}

// SimCLRWarmupEpochs is the length of SimCLR's linear learning-rate warmup
// (thesis Section 4.3).
const SimCLRWarmupEpochs = 10

// DefaultRecipe returns the optimization of thesis Section 4.3
// (SPEC-NOTES 8) for m:
//
//   - SimCLR: LARS (momentum 0.9, weight decay 1e-6, trust coefficient
//     0.001, BatchNorm and bias parameters excluded; optim.SimCLRLARS),
//     learning rate BaseLR·sqrt(Batch) (base 0.075), linear warmup over
//     10 epochs then cosine decay to zero. Runs of fewer than 20 epochs
//     warm up over half of them, so that some decay remains.
//   - every other method (SimSiam, FastSiam, DiSiam, DiSiam+, BYOL, DYOL,
//     SoftChain): SGD with momentum 0.9 and weight decay 1e-4
//     (optim.SimSiamSGD), learning rate BaseLR·Batch/256 (base 0.03),
//     cosine decay to zero without warmup.
//
// Schedules change once per epoch, as SimSiam's reference code
// (main_simsiam.py adjust_learning_rate) and lightly's benchmarks do. A
// method implementing RecipeProvider chooses its own. It panics on a
// non-positive Batch, Epochs or StepsPerEpoch.
func DefaultRecipe(m Method, c RecipeConfig) Recipe {
	if c.Batch <= 0 || c.Epochs <= 0 || c.StepsPerEpoch <= 0 {
		panic(fmt.Sprintf("ssl: DefaultRecipe: invalid %+v", c))
	}
	if p, ok := m.(RecipeProvider); ok {
		return p.Recipe(c)
	}
	if _, ok := m.(*SimCLR); ok {
		base := c.BaseLR
		if base == 0 {
			base = optim.SimCLRBaseLR
		}
		warm := min(SimCLRWarmupEpochs, c.Epochs/2)
		return Recipe{
			NewOptimizer: func(ps []*nn.Param) optim.Optimizer { return optim.NewLARS(ps, optim.SimCLRLARS) },
			Schedule: optim.PerEpoch{
				Schedule:      optim.WarmupCosine{Base: optim.SqrtScaledLR(base, c.Batch), Warmup: warm, Steps: c.Epochs},
				StepsPerEpoch: c.StepsPerEpoch,
			},
		}
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

// NewOptimizer returns an optimizer over m.Trainable() made of one
// optimizer per trainable part, each built by newOpt over that part's
// trainable parameters. It behaves as one optimizer over all of them (SGD
// and LARS update every parameter independently), and its State is keyed
// by the method's state_dict keys (Part.Prefix + name), so that two
// networks whose parameters share names can be trained and checkpointed
// together. It returns an error if two parameters have the same key.
func NewOptimizer(m Method, newOpt func(params []*nn.Param) optim.Optimizer) (optim.Optimizer, error) {
	kp, err := keyed(m.Parts())
	if err != nil {
		return nil, err
	}
	po := &partsOptimizer{key: map[string]partKey{}}
	group := map[int]int{} // part -> index in po.opts
	var params [][]*nn.Param
	for _, k := range kp {
		if !k.train {
			continue
		}
		gi, ok := group[k.part]
		if !ok {
			gi = len(params)
			group[k.part] = gi
			params = append(params, nil)
			po.prefix = append(po.prefix, m.Parts()[k.part].Prefix)
		}
		params[gi] = append(params[gi], k.p)
		po.key[k.key] = partKey{gi, k.p.Name}
	}
	for _, ps := range params {
		po.opts = append(po.opts, newOpt(ps))
	}
	return po, nil
}

type partKey struct {
	opt  int
	name string
}

// partsOptimizer is one optimizer per trainable part (see NewOptimizer).
type partsOptimizer struct {
	opts   []optim.Optimizer
	prefix []string
	key    map[string]partKey
}

// Step implements optim.Optimizer.
func (o *partsOptimizer) Step(lr float64) {
	for _, op := range o.opts {
		op.Step(lr)
	}
}

// State implements optim.Optimizer, keyed by state_dict key.
func (o *partsOptimizer) State() map[string]*tensor.Dense {
	out := map[string]*tensor.Dense{}
	for i, op := range o.opts {
		for name, t := range op.State() {
			out[o.prefix[i]+name] = t
		}
	}
	return out
}

// LoadState implements optim.Optimizer. On an error nothing changes.
func (o *partsOptimizer) LoadState(state map[string]*tensor.Dense) error {
	sub := make([]map[string]*tensor.Dense, len(o.opts))
	for i := range sub {
		sub[i] = map[string]*tensor.Dense{}
	}
	keys := make([]string, 0, len(state))
	for k := range state {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		pk, ok := o.key[k]
		if !ok {
			return fmt.Errorf("ssl: optimizer state: unknown parameter %q", k)
		}
		sub[pk.opt][pk.name] = state[k]
	}
	old := make([]map[string]*tensor.Dense, len(o.opts))
	for i, op := range o.opts {
		old[i] = op.State()
	}
	for i, op := range o.opts {
		if err := op.LoadState(sub[i]); err != nil {
			for j := range i {
				_ = o.opts[j].LoadState(old[j]) // restore: these loaded before
			}
			return fmt.Errorf("ssl: optimizer state: %w", err)
		}
	}
	return nil
}
