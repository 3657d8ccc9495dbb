package ssl

import (
	G "gorgonia.org/gorgonia"

	"github.com/disiam/disiam/augment"
	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/nn"
	"github.com/disiam/disiam/train"
)

// DYOL is DYOL (thesis Section 3.1.5, Algorithm 5): BYOL with dynamic
// knowledge distillation. Three networks see the two views: a (small)
// online network θ and an assistant ψ, each with backbone, projector and
// predictor, both trained by gradient descent (Algorithm 5 lists both as
// the optimizer's inputs), and a target ζ (backbone and projector, the
// assistant's architecture) that is an EMA of the assistant (Algorithm 5
// line 15 prints θ, but the online parameters have another architecture
// than the target; the text of Section 3.1.5 says the assistant ψ):
//
//	ζ ← τ_k ζ + (1-τ_k) ψ,   τ_k = 1 - (1-τ_base)(cos(πk/K) + 1)/2.
//
// Both predictors regress the target's stop-gradient projection of the
// other view, and the loss is the average of the online and assistant
// losses (DiSiamLoss with the target's projections as targets; normalized
// scale, range [-1, 1]). The output is the online encoder.
type DYOL struct {
	Online             backbone.Backbone // f_θ, prefix "backbone."
	OnlineProjector    Head              // g_θ, "projection_head"
	OnlinePredictor    Head              // q_θ, "prediction_head"
	Assistant          backbone.Backbone // f_ψ, prefix "assistant_backbone."
	AssistantProjector Head              // g_ψ, "assistant_projection_head"
	AssistantPredictor Head              // q_ψ, "assistant_prediction_head"
	// Target and TargetProjector are f_ζ, g_ζ (prefixes
	// "target_backbone." and "target_projection_head"), the architectures
	// of Assistant and AssistantProjector; Start copies the assistant's
	// weights into them.
	Target          backbone.Backbone
	TargetProjector Head
	// BaseMomentum is τ_base; 0 means DefaultBaseMomentum (0.99).
	BaseMomentum float64

	monitor *G.Node
	ema     emaPairs
}

// NewDYOL returns DYOL with the given online, assistant and target
// backbones (target a second instance of the assistant's architecture,
// overwritten with its weights) and BYOL's heads on every network,
// initialized from seed. It panics if target's architecture differs from
// assistant's.
func NewDYOL(online, assistant, target backbone.Backbone, seed uint64) *DYOL {
	aproj := NewMLP("assistant_projection_head", BYOLProjector(assistant.FeatureDim(), BYOLHidden, BYOLOut), seed)
	m := &DYOL{
		Online:             online,
		OnlineProjector:    NewMLP("projection_head", BYOLProjector(online.FeatureDim(), BYOLHidden, BYOLOut), seed),
		OnlinePredictor:    NewMLP("prediction_head", BYOLPredictor(BYOLOut, BYOLHidden, BYOLOut), seed),
		Assistant:          assistant,
		AssistantProjector: aproj,
		AssistantPredictor: NewMLP("assistant_prediction_head", BYOLPredictor(BYOLOut, BYOLHidden, BYOLOut), seed),
		Target:             target,
		TargetProjector:    NewMLP("target_projection_head", aproj.Blocks(), seed),
	}
	m.Start()
	return m
}

// Name implements Method: "dyol".
func (m *DYOL) Name() string { return NameDYOL }

// Views implements Method: 2.
func (m *DYOL) Views() int { return 2 }

// Loss implements Method (Algorithm 5 lines 5-11).
func (m *DYOL) Loss(views []*G.Node) *G.Node {
	checkViews(m, views)
	po := make([]*G.Node, 2)
	pa := make([]*G.Node, 2)
	zt := make([]*G.Node, 2)
	for j, v := range views {
		zo := m.OnlineProjector.Forward(m.Online.Features(v))
		if j == 0 {
			m.monitor = zo
		}
		po[j] = m.OnlinePredictor.Forward(zo)
		pa[j] = m.AssistantPredictor.Forward(m.AssistantProjector.Forward(m.Assistant.Features(v)))
		zt[j] = m.TargetProjector.Forward(m.Target.Features(v))
	}
	// Each prediction of view j meets sg(target projection of the other
	// view); DiSiamLoss applies the stop-gradient.
	return DiSiamLoss(po, pa, zt, PairwiseTargets)
}

// Start implements Starter: the target becomes a copy of the assistant.
// It panics if their architectures differ.
func (m *DYOL) Start() {
	mustCopy("DYOL", m.Target, m.Assistant)
	mustCopy("DYOL", m.TargetProjector, m.AssistantProjector)
}

// Parts implements Method: online and assistant networks and heads
// (trainable), target backbone and projector (EMA).
func (m *DYOL) Parts() train.Parts {
	return train.Parts{
		{Prefix: "backbone.", Module: m.Online, Trainable: true},
		{Module: m.OnlineProjector, Trainable: true},
		{Module: m.OnlinePredictor, Trainable: true},
		{Prefix: "assistant_backbone.", Module: m.Assistant, Trainable: true},
		{Module: m.AssistantProjector, Trainable: true},
		{Module: m.AssistantPredictor, Trainable: true},
		{Prefix: "target_backbone.", Module: m.Target, Trainable: false},
		{Module: m.TargetProjector, Trainable: false},
	}
}

// Encoder implements Method: the online backbone.
func (m *DYOL) Encoder() backbone.Backbone { return m.Online }

// AfterStep implements Stepper: the EMA update ζ ← τζ + (1-τ)ψ.
func (m *DYOL) AfterStep(step, total int) {
	m.ema.update(momentum(m.BaseMomentum, step, total),
		[]nn.Module{m.Target, m.TargetProjector}, []nn.Module{m.Assistant, m.AssistantProjector})
}

// Monitor implements Monitored: the online z_1.
func (m *DYOL) Monitor() *G.Node { return m.monitor }

// DefaultViews implements ViewsProvider: BYOL's two asymmetric views.
func (m *DYOL) DefaultViews(size int, norm augment.Normalize) augment.Views {
	return augment.BYOLViews(size, norm)
}
