package ssl

import (
	G "gorgonia.org/gorgonia"

	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/train"
)

// SimSiam is SimSiam (Chen & He 2021; thesis Section 3.1.3, Algorithm 3):
// one network, backbone f and projector g, sees two views; a predictor q
// maps each view's projection to the other's, which is the target behind a
// stop-gradient:
//
//	z_j = g(f(x_j)),  p_j = q(z_j),  L = ½ D(p_1, sg(z_2)) + ½ D(p_2, sg(z_1)),
//
// in the normalized scale (range [-1, 1]; Algorithm 3 sums the two terms,
// see "Loss scale"). All three parts are trained by SGD (thesis Section
// 4.3). The fields are the parts; NewSimSiam fills them with the paper's
// CIFAR heads, and any Head works in their place.
type SimSiam struct {
	Backbone  backbone.Backbone
	Projector Head // g, named "projection_head"
	Predictor Head // q, named "prediction_head"

	monitor *G.Node
}

// NewSimSiam returns SimSiam over bb with the heads of the SimSiam paper's
// CIFAR-10 setting and of peers/bench.py: a 2-layer projector
// (FeatureDim → 2048 → 2048, SimSiamProjector) and the 2048-512-2048
// predictor, initialized from seed.
func NewSimSiam(bb backbone.Backbone, seed uint64) *SimSiam {
	return &SimSiam{
		Backbone:  bb,
		Projector: NewMLP("projection_head", SimSiamProjector(bb.FeatureDim(), SimSiamHidden, SimSiamHidden, 2), seed),
		Predictor: NewMLP("prediction_head", SimSiamPredictor(SimSiamHidden, SimSiamPredictorHidden, SimSiamHidden), seed),
	}
}

// Name implements Method: "simsiam".
func (m *SimSiam) Name() string { return NameSimSiam }

// Views implements Method: 2.
func (m *SimSiam) Views() int { return 2 }

// Loss implements Method (Algorithm 3 lines 5-7).
func (m *SimSiam) Loss(views []*G.Node) *G.Node {
	checkViews(m, views)
	z1 := m.Projector.Forward(m.Backbone.Features(views[0]))
	z2 := m.Projector.Forward(m.Backbone.Features(views[1]))
	p1, p2 := m.Predictor.Forward(z1), m.Predictor.Forward(z2)
	m.monitor = z1
	return SymmetricD(p1, p2, z1, z2)
}

// Parts implements Method: backbone, projection_head, prediction_head.
func (m *SimSiam) Parts() train.Parts {
	return train.Parts{
		{Prefix: "backbone.", Module: m.Backbone, Trainable: true},
		{Module: m.Projector, Trainable: true},
		{Module: m.Predictor, Trainable: true},
	}
}

// Encoder implements Method.
func (m *SimSiam) Encoder() backbone.Backbone { return m.Backbone }

// Monitor implements Monitored: z_1.
func (m *SimSiam) Monitor() *G.Node { return m.monitor }

// FastSiam is FastSiam (Pototzky et al. 2022; thesis Section 3.1.4,
// Algorithm 4): SimSiam with M ≥ 2 views of each image, every view's
// prediction compared with the stop-gradient projections of the others,
//
//	L = 1/(M(M-1)) Σ_{j≠k} D(p_j, sg(z_k))        (Targets = PairwiseTargets)
//
// or, with MeanTargets, with the mean of the other views' projections as
// one target (lightly's FastSiam). With M = 2 it is SimSiam.
type FastSiam struct {
	Backbone  backbone.Backbone
	Projector Head // g, named "projection_head"
	Predictor Head // q, named "prediction_head"
	// M is the number of views (FastSiam's paper: 4).
	M int
	// Targets pairs predictions with targets (default PairwiseTargets,
	// the thesis' form).
	Targets Targets

	monitor *G.Node
}

// NewFastSiam returns FastSiam over bb with views views (≥ 2) and
// SimSiam's heads, initialized from seed.
func NewFastSiam(bb backbone.Backbone, views int, seed uint64) *FastSiam {
	s := NewSimSiam(bb, seed)
	return &FastSiam{Backbone: bb, Projector: s.Projector, Predictor: s.Predictor, M: views}
}

// Name implements Method: "fastsiam".
func (m *FastSiam) Name() string { return NameFastSiam }

// Views implements Method: M.
func (m *FastSiam) Views() int { return m.M }

// Loss implements Method (Algorithm 4 lines 5-9).
func (m *FastSiam) Loss(views []*G.Node) *G.Node {
	checkMulti(m, m.M)
	checkViews(m, views)
	zs := make([]*G.Node, len(views))
	ps := make([]*G.Node, len(views))
	for j, v := range views {
		zs[j] = m.Projector.Forward(m.Backbone.Features(v))
		ps[j] = m.Predictor.Forward(zs[j])
	}
	m.monitor = zs[0]
	return MultiViewD(ps, zs, m.Targets)
}

// Parts implements Method: backbone, projection_head, prediction_head.
func (m *FastSiam) Parts() train.Parts {
	return train.Parts{
		{Prefix: "backbone.", Module: m.Backbone, Trainable: true},
		{Module: m.Projector, Trainable: true},
		{Module: m.Predictor, Trainable: true},
	}
}

// Encoder implements Method.
func (m *FastSiam) Encoder() backbone.Backbone { return m.Backbone }

// Monitor implements Monitored: z_1.
func (m *FastSiam) Monitor() *G.Node { return m.monitor }

// checkMulti panics unless a multi-view method has at least two views.
func checkMulti(m Method, views int) {
	if views < 2 {
		panic("ssl: " + m.Name() + ": M < 2 views")
	}
}
