package ssl

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	"github.com/disiam/disiam/augment"
	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/nn"
	"github.com/disiam/disiam/optim"
	"github.com/disiam/disiam/train"
)

// DefaultBaseMomentum is the base τ of the EMA target's momentum schedule
// for CIFAR-scale training (BYOL's CIFAR setting; the thesis gives no
// schedule); BYOL uses 0.996 on ImageNet.
const DefaultBaseMomentum = 0.99

// BYOL is BYOL (Grill et al. 2020; thesis Section 3.1.2, Algorithm 2): an
// online network (backbone, projector, predictor) predicts the projection
// of the other view made by a target network (backbone and projector)
// that gradient descent never updates; after every optimizer step the
// target moves towards the online network,
//
//	ξ ← τ_k ξ + (1-τ_k) θ,   τ_k = 1 - (1-τ_base)(cos(πk/K) + 1)/2,
//
// with τ rising from BaseMomentum to 1 over the K steps of the run
// (BYOL's schedule; the thesis gives none). The loss is BYOLLoss, BYOL's normalized MSE averaged over
// the two views (range [0, 4]; the paper sums them). Only the online
// parts are Trainable; the target's BatchNorm running statistics follow
// its own forward passes, as in lightly (the EMA covers the trainable
// parameters).
type BYOL struct {
	Backbone  backbone.Backbone
	Projector Head // g_θ, named "projection_head"
	Predictor Head // q_θ, named "prediction_head"
	// TargetBackbone and TargetProjector are the target network f_ξ, g_ξ
	// (state_dict prefixes "backbone_momentum." and
	// "projection_head_momentum", lightly's names): the same architectures
	// as Backbone and Projector. Start copies the online weights into them.
	TargetBackbone  backbone.Backbone
	TargetProjector Head
	// BaseMomentum is τ_base; 0 means DefaultBaseMomentum (0.99).
	BaseMomentum float64

	monitor *G.Node
	ema     emaPairs
}

// NewBYOL returns BYOL with online backbone bb and target backbone target
// (a second instance of bb's architecture, whose weights are overwritten
// with bb's), BYOL's heads (projector FeatureDim → 4096 → 256, predictor
// 256 → 4096 → 256, lightly's BYOLProjectionHead and BYOLPredictionHead)
// initialized from seed, and the target projector a copy of the online
// one. It panics if target's architecture differs from bb's.
func NewBYOL(bb, target backbone.Backbone, seed uint64) *BYOL {
	proj := NewMLP("projection_head", BYOLProjector(bb.FeatureDim(), BYOLHidden, BYOLOut), seed)
	m := &BYOL{
		Backbone:        bb,
		Projector:       proj,
		Predictor:       NewMLP("prediction_head", BYOLPredictor(BYOLOut, BYOLHidden, BYOLOut), seed),
		TargetBackbone:  target,
		TargetProjector: NewMLP("projection_head_momentum", proj.Blocks(), seed),
	}
	m.Start()
	return m
}

// Name implements Method: "byol".
func (m *BYOL) Name() string { return NameBYOL }

// Views implements Method: 2.
func (m *BYOL) Views() int { return 2 }

// Loss implements Method (Algorithm 2 lines 5-7).
func (m *BYOL) Loss(views []*G.Node) *G.Node {
	checkViews(m, views)
	z1 := m.Projector.Forward(m.Backbone.Features(views[0]))
	z2 := m.Projector.Forward(m.Backbone.Features(views[1]))
	p1, p2 := m.Predictor.Forward(z1), m.Predictor.Forward(z2)
	t1 := m.TargetProjector.Forward(m.TargetBackbone.Features(views[0]))
	t2 := m.TargetProjector.Forward(m.TargetBackbone.Features(views[1]))
	m.monitor = z1
	return BYOLLoss(p1, p2, t1, t2)
}

// Start implements Starter: the target network becomes a copy of the
// online one. It panics if their architectures differ.
func (m *BYOL) Start() {
	mustCopy("BYOL", m.TargetBackbone, m.Backbone)
	mustCopy("BYOL", m.TargetProjector, m.Projector)
}

// Parts implements Method: backbone, projection_head, prediction_head
// (trainable), backbone_momentum, projection_head_momentum (EMA).
func (m *BYOL) Parts() train.Parts {
	return train.Parts{
		{Prefix: "backbone.", Module: m.Backbone, Trainable: true},
		{Module: m.Projector, Trainable: true},
		{Module: m.Predictor, Trainable: true},
		{Prefix: "backbone_momentum.", Module: m.TargetBackbone, Trainable: false},
		{Module: m.TargetProjector, Trainable: false},
	}
}

// Encoder implements Method: the online backbone.
func (m *BYOL) Encoder() backbone.Backbone { return m.Backbone }

// AfterStep implements Stepper: the EMA update of the target network with
// τ_step (Algorithm 2 line 11).
func (m *BYOL) AfterStep(step, total int) {
	m.ema.update(momentum(m.BaseMomentum, step, total),
		[]nn.Module{m.TargetBackbone, m.TargetProjector}, []nn.Module{m.Backbone, m.Projector})
}

// Monitor implements Monitored: the online z_1.
func (m *BYOL) Monitor() *G.Node { return m.monitor }

// momentum returns τ_step of BYOL's schedule with base τ (0: default).
func momentum(base float64, step, total int) float64 {
	if base == 0 {
		base = DefaultBaseMomentum
	}
	return optim.MomentumSchedule{Base: base, Steps: max(total, 1)}.At(step)
}

// emaPairs caches the parameter lists of an EMA update.
type emaPairs struct {
	target, online []*nn.Param
}

func (e *emaPairs) update(tau float64, target, online []nn.Module) {
	if e.target == nil {
		e.target, e.online = trainableOf(target...), trainableOf(online...)
	}
	optim.EMA(e.target, e.online, tau)
}

func mustCopy(who string, dst, src nn.Module) {
	if err := CopyWeights(dst, src); err != nil {
		panic(fmt.Sprintf("ssl: %s: target and online networks differ: %v", who, err))
	}
}

// DefaultViews implements ViewsProvider: BYOL's two asymmetric views.
func (m *BYOL) DefaultViews(size int, norm augment.Normalize) augment.Views {
	return augment.BYOLViews(size, norm)
}
