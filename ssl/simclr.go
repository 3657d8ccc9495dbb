package ssl

import (
	G "gorgonia.org/gorgonia"

	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/nn"
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
	return NTXent(z1, z2, m.temperature())
}

// Parts implements Method: backbone, projection_head.
func (m *SimCLR) Parts() []Part {
	return []Part{{"backbone.", m.Backbone, true}, {"", m.Projector, true}}
}

// Params implements nn.Module.
func (m *SimCLR) Params() []*nn.Param { return partsParams(m.Parts()) }

// SetTraining implements nn.Module.
func (m *SimCLR) SetTraining(t bool) { partsSetTraining(m.Parts(), t) }

// Trainable implements Method: every part.
func (m *SimCLR) Trainable() []*nn.Param { return partsTrainable(m.Parts()) }

// Encoder implements Method.
func (m *SimCLR) Encoder() backbone.Backbone { return m.Backbone }

// AfterStep implements Method (no EMA).
func (m *SimCLR) AfterStep(step, total int) {}

// Monitor implements Monitored: z_1.
func (m *SimCLR) Monitor() *G.Node { return m.monitor }
