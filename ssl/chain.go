package ssl

import (
	"math"

	G "gorgonia.org/gorgonia"

	"github.com/disiam/disiam/augment"
	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/distributed"
	"github.com/disiam/disiam/train"
)

// Chaining (thesis Section 3.5) trains the encoder first with a
// collapse-resistant method (SimCLR) and then with a negative-free one
// (SimSiam, DiSiam, DiSiam+). It is expressed with Trainer stages whose
// methods share the online backbone value:
//
//	bb, _ := backbone.New("efficientnet_b0", backbone.Config{Seed: 1})
//	stages := []ssl.Stage{
//		{Method: ssl.NewSimCLR(bb, 1), Epochs: 200, Switch: &ssl.Plateau{Patience: 3, Threshold: 0.01}},
//		{Method: ssl.NewDiSiam(bb, assistant, 2), Epochs: 600},
//	}
//
// The switch happens after the stage's Epochs, or earlier when its Switch
// rule sees a plateau of the online kNN accuracy (or of the loss); the
// thesis says to switch when the first method approaches convergence but
// gives no rule (train.Plateau is one). Each stage builds its own
// graph, optimizer and schedule; heads are the stage method's own.
//
// SoftChain is the soft variant the thesis proposes as future work
// (Section 7.2): one loss that mixes both objectives, moving its weight
// from the contrastive term to the negative-free term during training.

// Scheduled is implemented by methods whose loss changes with the step
// (SoftChain's weights): the Trainer calls BeforeStep before each step's
// forward pass, also after resuming, with the stage's step (from 0) and
// its total number of steps.
type Scheduled interface {
	BeforeStep(step, total int)
}

// SoftChain mixes SimCLR's contrastive objective and a negative-free one
// over one backbone, the "soft chaining" of thesis Section 7.2 (proposed
// there as future work, not evaluated in the thesis): "introducing a new
// loss combining contrastive and negative-sample-free objectives. While
// training, the loss gets increasing weight on the negative-sample-free
// loss". With w_k = Weight(k, K) at step k of K,
//
//	L_k = (1 - w_k)·NTXent(c(h_1), c(h_2), τ) + w_k·L_nf,
//
// where h_j = f(x_j) are the backbone features of the two views (computed
// once, shared by both terms), c is SimCLR's projector and L_nf is
// SimSiam's loss on its own projector and predictor, or, with an
// Assistant, DiSiam's loss. The weights are read by the graph at every
// run (WeightedSum), so the schedule needs no rebuilding.
type SoftChain struct {
	Backbone             backbone.Backbone // f, prefix "backbone."
	ContrastiveProjector Head              // c, "contrastive_projection_head"
	// Temperature of NT-Xent; 0 means SimCLRTemperature (0.5).
	Temperature float64
	Projector   Head // g, "projection_head"
	Predictor   Head // q, "prediction_head"
	// Assistant, if not nil, makes the negative-free term DiSiam's, with
	// AssistantProjector and AssistantPredictor
	// ("assistant_backbone.", "assistant_projection_head",
	// "assistant_prediction_head").
	Assistant          backbone.Backbone
	AssistantProjector Head
	AssistantPredictor Head
	// Weight gives w_k in [0, 1]; nil means CosineRamp.
	Weight func(step, total int) float64
	// Comm, with more than one rank, makes the contrastive term's
	// negatives those of the global batch of a data-parallel run (see
	// Gatherer); nil: this process's batch.
	Comm distributed.Comm

	w       []float64
	monitor *G.Node
}

// CosineRamp rises from 0 at step 0 to 1 at step total along half a
// cosine, ½(1 - cos(π·step/total)): SoftChain's default weight.
func CosineRamp(step, total int) float64 {
	if total <= 0 || step >= total {
		return 1
	}
	return 0.5 * (1 - math.Cos(math.Pi*float64(max(step, 0))/float64(total)))
}

// LinearRamp rises linearly from 0 at step 0 to 1 at step total.
func LinearRamp(step, total int) float64 {
	if total <= 0 || step >= total {
		return 1
	}
	return float64(max(step, 0)) / float64(total)
}

// NewSoftChain returns a SoftChain of SimCLR and SimSiam over bb, with
// the heads of NewSimCLR and NewSimSiam, initialized from seed; set
// Assistant and its heads (e.g. from NewDiSiam) for SimCLR and DiSiam.
func NewSoftChain(bb backbone.Backbone, seed uint64) *SoftChain {
	s := NewSimSiam(bb, seed)
	return &SoftChain{
		Backbone:             bb,
		ContrastiveProjector: NewMLP("contrastive_projection_head", SimCLRProjector(bb.FeatureDim(), SimCLRHidden, SimCLROut), seed),
		Projector:            s.Projector,
		Predictor:            s.Predictor,
	}
}

// NewSoftChainDiSiam returns a SoftChain of SimCLR and DiSiam: the heads
// of NewSoftChain, and the assistant with the heads of NewDiSiam.
func NewSoftChainDiSiam(online, assistant backbone.Backbone, seed uint64) *SoftChain {
	s := NewSoftChain(online, seed)
	d := NewDiSiam(online, assistant, seed)
	s.Assistant, s.AssistantProjector, s.AssistantPredictor = assistant, d.AssistantProjector, d.AssistantPredictor
	return s
}

// Name implements Method: "softchain".
func (m *SoftChain) Name() string { return NameSoftChain }

// Views implements Method: 2.
func (m *SoftChain) Views() int { return 2 }

// Loss implements Method.
func (m *SoftChain) Loss(views []*G.Node) *G.Node {
	checkViews(m, views)
	h := []*G.Node{m.Backbone.Features(views[0]), m.Backbone.Features(views[1])}
	c1, c2 := m.ContrastiveProjector.Forward(h[0]), m.ContrastiveProjector.Forward(h[1])
	contrastive := NTXent(gather(m.Comm, c1), gather(m.Comm, c2), (&SimCLR{Temperature: m.Temperature}).temperature())
	z := []*G.Node{m.Projector.Forward(h[0]), m.Projector.Forward(h[1])}
	p := []*G.Node{m.Predictor.Forward(z[0]), m.Predictor.Forward(z[1])}
	m.monitor = z[0]
	var free *G.Node
	if m.Assistant == nil {
		free = SymmetricD(p[0], p[1], z[0], z[1])
	} else {
		za := make([]*G.Node, 2)
		pa := make([]*G.Node, 2)
		for j, v := range views {
			za[j] = m.AssistantProjector.Forward(m.Assistant.Features(v))
			pa[j] = m.AssistantPredictor.Forward(za[j])
		}
		free = DiSiamLoss(p, pa, za, PairwiseTargets)
	}
	if m.w == nil {
		m.w = []float64{1, 0}
	}
	return WeightedSum(m.w, contrastive, free)
}

// BeforeStep implements Scheduled: sets the weights of step.
func (m *SoftChain) BeforeStep(step, total int) {
	f := m.Weight
	if f == nil {
		f = CosineRamp
	}
	w := min(max(f(step, total), 0), 1)
	if m.w == nil {
		m.w = []float64{1, 0}
	}
	m.w[0], m.w[1] = 1-w, w
}

// Mix returns the current weights of the contrastive and the
// negative-free terms.
func (m *SoftChain) Mix() (contrastive, negativeFree float64) {
	if m.w == nil {
		return 1, 0
	}
	return m.w[0], m.w[1]
}

// Parts implements Method.
func (m *SoftChain) Parts() train.Parts {
	ps := train.Parts{
		{Prefix: "backbone.", Module: m.Backbone, Trainable: true},
		{Module: m.ContrastiveProjector, Trainable: true},
		{Module: m.Projector, Trainable: true},
		{Module: m.Predictor, Trainable: true},
	}
	if m.Assistant != nil {
		ps = append(ps,
			Part{Prefix: "assistant_backbone.", Module: m.Assistant, Trainable: true},
			Part{Module: m.AssistantProjector, Trainable: true},
			Part{Module: m.AssistantPredictor, Trainable: true})
	}
	return ps
}

// Encoder implements Method.
func (m *SoftChain) Encoder() backbone.Backbone { return m.Backbone }

// Monitor implements Monitored: the negative-free projection of view 1.
func (m *SoftChain) Monitor() *G.Node { return m.monitor }

// DefaultViews implements ViewsProvider: SimCLR's views (see SimCLR).
func (m *SoftChain) DefaultViews(size int, norm augment.Normalize) augment.Views {
	return simCLRViews(size, norm)
}
