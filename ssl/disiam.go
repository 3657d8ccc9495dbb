package ssl

import (
	G "gorgonia.org/gorgonia"

	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/train"
)

// DefaultDiSiamPlusViews is the number of views of DiSiam+ when none is
// given: FastSiam's 4, the setting of peers/bench.py.
const DefaultDiSiamPlusViews = 4

// DiSiam is the thesis' DiSiam (Section 3.3, Algorithm 6) and, with M > 2
// views, DiSiam+ (Section 3.4, Algorithm 7). An online network (backbone,
// projector, predictor; typically small, EfficientNet-B0) and an assistant
// network (its own backbone, projector and predictor; e.g. ResNet-34) see
// the same views. The target shares the assistant's weights instead of
// being an EMA of it (Section 3.3.1): the targets are the assistant's own
// projections behind a stop-gradient, each view's prediction meeting the
// targets of the other views (Algorithm 6 line 7, Eq. 3.3-3.4):
//
//	z_j^o = g_θ(f_θ(x_j)),  p_j^o = q_θ(z_j^o)
//	z_j^a = g_ζ(f_ζ(x_j)),  p_j^a = q_ζ^a(z_j^a)          (the assistant's own predictor, Eq. 3.4)
//	D_online    = 1/(M(M-1)) Σ_{j≠k} D(p_j^o, sg(z_k^a))
//	D_assistant = 1/(M(M-1)) Σ_{j≠k} D(p_j^a, sg(z_k^a))
//	L = (D_online + D_assistant)/2                          (Eq. 3.5)
//
// For M = 2 each D is ½D(p_1, sg(z_2)) + ½D(p_2, sg(z_1)), half of Eq.
// 3.3/3.4's sum (the normalized scale, range [-1, 1], of SimSiam's paper
// and lightly). The optimizer updates the online and the assistant
// networks (Algorithm 6 lists both as the optimizer's inputs);
// the assistant learns only through its prediction branch, as SimSiam
// does. The output is the online encoder.
type DiSiam struct {
	Online             backbone.Backbone // f_θ, prefix "backbone."
	OnlineProjector    Head              // g_θ, "projection_head"
	OnlinePredictor    Head              // q_θ, "prediction_head"
	Assistant          backbone.Backbone // f_ζ, prefix "assistant_backbone."
	AssistantProjector Head              // g_ζ, "assistant_projection_head"
	AssistantPredictor Head              // q_ζ^a, "assistant_prediction_head"
	// M is the number of views: 2 for DiSiam, more for DiSiam+.
	M int
	// Targets pairs predictions with targets when M > 2 (default
	// PairwiseTargets, Algorithm 7; MeanTargets is lightly's FastSiam
	// form). Both forms agree for M = 2.
	Targets Targets

	monitor *G.Node
}

// NewDiSiam returns DiSiam (M = 2) with the given online and assistant
// backbones and SimSiam's CIFAR heads on both networks (as peers/bench.py:
// projector FeatureDim → 2048 → 2048, predictor 2048-512-2048),
// initialized from seed. Give the two backbones different seeds when they
// have the same architecture.
func NewDiSiam(online, assistant backbone.Backbone, seed uint64) *DiSiam {
	return NewDiSiamPlus(online, assistant, 2, seed)
}

// NewDiSiamPlus returns DiSiam+ with views views (≥ 2; 0 means
// DefaultDiSiamPlusViews) and the heads of NewDiSiam.
func NewDiSiamPlus(online, assistant backbone.Backbone, views int, seed uint64) *DiSiam {
	if views == 0 {
		views = DefaultDiSiamPlusViews
	}
	proj := func(name string, bb backbone.Backbone) Head {
		return NewMLP(name, SimSiamProjector(bb.FeatureDim(), SimSiamHidden, SimSiamHidden, 2), seed)
	}
	pred := func(name string) Head {
		return NewMLP(name, SimSiamPredictor(SimSiamHidden, SimSiamPredictorHidden, SimSiamHidden), seed)
	}
	return &DiSiam{
		Online:             online,
		OnlineProjector:    proj("projection_head", online),
		OnlinePredictor:    pred("prediction_head"),
		Assistant:          assistant,
		AssistantProjector: proj("assistant_projection_head", assistant),
		AssistantPredictor: pred("assistant_prediction_head"),
		M:                  views,
	}
}

// Name implements Method: "disiam" for two views, "disiam+" for more.
func (m *DiSiam) Name() string {
	if m.M > 2 {
		return NameDiSiamPlus
	}
	return NameDiSiam
}

// Views implements Method: M.
func (m *DiSiam) Views() int { return m.M }

// Loss implements Method (Algorithm 6 lines 5-10, Algorithm 7 lines 5-12).
func (m *DiSiam) Loss(views []*G.Node) *G.Node {
	checkMulti(m, m.M)
	checkViews(m, views)
	po := make([]*G.Node, len(views))
	pa := make([]*G.Node, len(views))
	za := make([]*G.Node, len(views))
	for j, v := range views {
		za[j] = m.AssistantProjector.Forward(m.Assistant.Features(v))
		pa[j] = m.AssistantPredictor.Forward(za[j])
		zo := m.OnlineProjector.Forward(m.Online.Features(v))
		if j == 0 {
			m.monitor = zo
		}
		po[j] = m.OnlinePredictor.Forward(zo)
	}
	// The targets are za behind the stop-gradient DiSiamLoss applies.
	return DiSiamLoss(po, pa, za, m.Targets)
}

// Parts implements Method: online and assistant networks and heads, all
// trainable.
func (m *DiSiam) Parts() train.Parts {
	return train.Parts{
		{Prefix: "backbone.", Module: m.Online, Trainable: true},
		{Module: m.OnlineProjector, Trainable: true},
		{Module: m.OnlinePredictor, Trainable: true},
		{Prefix: "assistant_backbone.", Module: m.Assistant, Trainable: true},
		{Module: m.AssistantProjector, Trainable: true},
		{Module: m.AssistantPredictor, Trainable: true},
	}
}

// Encoder implements Method: the online backbone.
func (m *DiSiam) Encoder() backbone.Backbone { return m.Online }

// Monitor implements Monitored: the online z_1.
func (m *DiSiam) Monitor() *G.Node { return m.monitor }
