package ssl

import (
	G "gorgonia.org/gorgonia"

	"github.com/disiam/disiam/augment"
	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/distributed"
	"github.com/disiam/disiam/nn"
	"github.com/disiam/disiam/optim"
	"github.com/disiam/disiam/train"
)

// SimCLRTemperature is the NT-Xent temperature of SimCLR's CIFAR-10
// experiments, lightly's NTXentLoss default and peers/bench.py's.
const SimCLRTemperature = 0.5

// SimCLR is SimCLR (Chen et al. 2020; thesis Section 3.1.1, Algorithm 1):
// backbone f and projector g on two views; the NT-Xent loss (Eq. 3.1,
// NTXent) treats the other view of the same image as the positive and the
// other 2(N-1) samples of the batch as negatives, averaged over the 2N
// anchors. It is the collapse-resistant method the thesis chains before
// the negative-free ones (Section 3.5), trained with LARS (DefaultRecipe).
type SimCLR struct {
	Backbone  backbone.Backbone
	Projector Head // g, named "projection_head"
	// Temperature τ of NT-Xent; 0 means SimCLRTemperature (0.5).
	Temperature float64
	// Comm, with more than one rank, makes the negatives those of the
	// global batch of a data-parallel run (see Gatherer); nil: this
	// process's batch.
	Comm distributed.Comm

	monitor *G.Node
}

// NewSimCLR returns SimCLR over bb with SimCLR's projector
// (FeatureDim → 2048 → 128 with biases and a ReLU, as peers/bench.py),
// initialized from seed, and τ = 0.5.
func NewSimCLR(bb backbone.Backbone, seed uint64) *SimCLR {
	return &SimCLR{
		Backbone:  bb,
		Projector: NewMLP("projection_head", SimCLRProjector(bb.FeatureDim(), SimCLRHidden, SimCLROut), seed),
	}
}

// Name implements Method: "simclr".
func (m *SimCLR) Name() string { return NameSimCLR }

// Views implements Method: 2.
func (m *SimCLR) Views() int { return 2 }

func (m *SimCLR) temperature() float64 {
	if m.Temperature == 0 {
		return SimCLRTemperature
	}
	return m.Temperature
}

// Loss implements Method (Algorithm 1 lines 5-13).
func (m *SimCLR) Loss(views []*G.Node) *G.Node {
	checkViews(m, views)
	z1 := m.Projector.Forward(m.Backbone.Features(views[0]))
	z2 := m.Projector.Forward(m.Backbone.Features(views[1]))
	m.monitor = z1
	return NTXent(gather(m.Comm, z1), gather(m.Comm, z2), m.temperature())
}

// Parts implements Method: backbone, projection_head.
func (m *SimCLR) Parts() train.Parts {
	return train.Parts{
		{Prefix: "backbone.", Module: m.Backbone, Trainable: true},
		{Module: m.Projector, Trainable: true},
	}
}

// Encoder implements Method.
func (m *SimCLR) Encoder() backbone.Backbone { return m.Backbone }

// Monitor implements Monitored: z_1.
func (m *SimCLR) Monitor() *G.Node { return m.monitor }

// Recipe implements RecipeProvider: LARS (momentum 0.9, weight decay
// 1e-6, trust coefficient 0.001, BatchNorm and bias parameters excluded;
// optim.SimCLRLARS), learning rate BaseLR·sqrt(Batch) (base 0.075), linear
// warmup over 10 epochs then cosine decay to zero, changing once per
// epoch (thesis Section 4.3). Runs of fewer than 20 epochs warm up over
// half of them, so that some decay remains.
func (m *SimCLR) Recipe(c RecipeConfig) Recipe {
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

// DefaultViews implements ViewsProvider: SimCLR's two views, with color
// strength 0.5 at 32×32 and below (as SimCLR's CIFAR-10 runs), 1 above.
func (m *SimCLR) DefaultViews(size int, norm augment.Normalize) augment.Views {
	return simCLRViews(size, norm)
}

func simCLRViews(size int, norm augment.Normalize) augment.Views {
	s := 1.0
	if size <= 32 {
		s = 0.5
	}
	return augment.MultiView(2, augment.SimCLRView(size, s, norm))
}
