package detect

import (
	"fmt"
	"strings"

	G "gorgonia.org/gorgonia"

	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/nn"
)

// Config configures an FCOS detector. Zero values mean torchvision's
// defaults (models/detection/fcos.py).
type Config struct {
	// Classes is the number of class logits (0-based labels). torchvision's
	// COCO models use 91, index 0 unused.
	Classes int
	// Channels is the width of the FPN and the head (0: 256). GroupNorm
	// needs a multiple of 32; 32 or 64 make CPU tests and small data sets
	// fast.
	Channels int
	// HeadConvs is the number of conv-GroupNorm-ReLU layers of each head
	// tower (0: 4).
	HeadConvs int
	// FrozenBN freezes every BatchNorm of the backbone, as torchvision does
	// with FrozenBatchNorm2d for a pretrained backbone: the layers always
	// normalize with their running statistics (Eval mode, whatever
	// SetTraining says), their weight and bias get no gradient
	// (Trainable false), and num_batches_tracked is left out of Params, as
	// FrozenBatchNorm2d's state_dict leaves it out, so torchvision's
	// fcos_resnet50_fpn COCO checkpoint loads strictly.
	FrozenBN bool
	// FrozenStages freezes the backbone's first stages (Trainable false),
	// 5 − torchvision's trainable_backbone_layers: 0 trains everything
	// (the default, and torchvision's choice without pretrained weights); 2
	// is torchvision's default with a pretrained ResNet (conv1, bn1 and
	// layer1 frozen); 1 freezes bn1 only, as torchvision's trainable 4 does;
	// 3, 4, 5 add layer2, layer3, layer4. For an EfficientNet the stages
	// are, in order, features.0–1 (stride 2), features.2, features.3,
	// features.4–5 and features.6–7, and FrozenStages freezes the first
	// ones. Other backbones support only 0.
	FrozenStages int
	// Seed seeds the initialization of the FPN and the head (the backbone
	// comes initialized or loaded).
	Seed uint64
	// NoInit leaves the FPN and head parameters zero (GroupNorm weight 1),
	// for loading a checkpoint.
	NoInit bool

	// CenterSamplingRadius is the assignment's radius in anchor sizes (0:
	// 1.5), used when Assigner is nil.
	CenterSamplingRadius float64
	// Assigner chooses each anchor's target (nil: FCOS's CenterSampling).
	Assigner Assigner

	// ScoreThresh (0: 0.2), TopK per level (0: 1000), NMSThresh (0: 0.6)
	// and DetectionsPerImage (0: 100) configure Postprocess.
	ScoreThresh        float64
	TopK               int
	NMSThresh          float64
	DetectionsPerImage int
}

func (c Config) withDefaults() Config {
	if c.Channels == 0 {
		c.Channels = 256
	}
	if c.HeadConvs == 0 {
		c.HeadConvs = 4
	}
	if c.CenterSamplingRadius == 0 {
		c.CenterSamplingRadius = 1.5
	}
	if c.Assigner == nil {
		c.Assigner = CenterSampling{Radius: c.CenterSamplingRadius}
	}
	if c.ScoreThresh == 0 {
		c.ScoreThresh = 0.2
	}
	if c.TopK == 0 {
		c.TopK = 1000
	}
	if c.NMSThresh == 0 {
		c.NMSThresh = 0.6
	}
	if c.DetectionsPerImage == 0 {
		c.DetectionsPerImage = 100
	}
	return c
}

// pyramid is what FCOS needs of a backbone: multi-scale maps C3..C5 with
// their widths (backbone.Backbone's FeatureMaps and MapChannels).
type pyramid interface {
	FeatureMaps(x *G.Node) []*G.Node
	MapChannels() []int
}

// FCOS is torchvision's FCOS detector (Tian et al., fully convolutional
// one-stage detection) on any backbone that offers a feature pyramid:
// backbone maps C3..C5 → FPN with P6/P7 (strides 8..128) → FCOSHead, with
// torchvision's anchors, target assignment, losses and postprocessing.
//
// Its state_dict is torchvision's: backbone.body.* (the backbone without
// its classifier, as IntermediateLayerGetter keeps it), backbone.fpn.* and
// head.*, so torchvision FCOS checkpoints load with strict names through
// package safetensors and the golden rule seeds the same names.
type FCOS struct {
	Config   Config // with defaults filled in
	Backbone nn.Module
	FPN      *FPN
	Head     *Head

	pyr       pyramid
	body      []*nn.Param // the backbone's parameters in the state_dict
	frozenBNs []*nn.BatchNorm
	training  bool
}

// NewFCOS builds FCOS on b, which must offer FeatureMaps and MapChannels
// (every ResNet and EfficientNet of package backbone does). The detector
// takes b over: it renames b's parameters to their FCOS state_dict names
// (ResNet "layer1.0.conv1.weight" becomes "backbone.body.layer1.0.conv1.weight",
// EfficientNet "features.3.0.block.0.0.weight" becomes
// "backbone.body.3.0.block.0.0.weight"), so load pretrained backbone
// weights before calling NewFCOS, and use b only through the detector
// afterwards. The classifier (fc, classifier.1) and EfficientNet's
// features.8, which the pyramid does not use, are left out of Params. The
// detector starts in Train mode.
func NewFCOS(b nn.Module, cfg Config) (*FCOS, error) {
	pyr, ok := b.(pyramid)
	if !ok {
		return nil, fmt.Errorf("detect: NewFCOS: backbone %T has no FeatureMaps/MapChannels", b)
	}
	if cfg.Classes <= 0 {
		return nil, fmt.Errorf("detect: NewFCOS: Config.Classes %d, want > 0", cfg.Classes)
	}
	cfg = cfg.withDefaults()
	if cfg.Channels%32 != 0 || cfg.Channels < 0 || cfg.HeadConvs < 0 {
		return nil, fmt.Errorf("detect: NewFCOS: Config.Channels %d (want a multiple of 32, GroupNorm's groups), HeadConvs %d", cfg.Channels, cfg.HeadConvs)
	}
	if cfg.FrozenStages < 0 || cfg.FrozenStages > 5 {
		return nil, fmt.Errorf("detect: NewFCOS: Config.FrozenStages %d, want 0..5", cfg.FrozenStages)
	}
	m := &FCOS{Config: cfg, Backbone: b, pyr: pyr, training: true}
	var err error
	if m.body, m.frozenBNs, err = adoptBackbone(b, "backbone.body.", cfg.FrozenBN, cfg.FrozenStages); err != nil {
		return nil, fmt.Errorf("detect: NewFCOS: %w", err)
	}
	m.FPN = NewFPN("backbone.fpn", pyr.MapChannels(), cfg.Channels, true, cfg.Seed, cfg.NoInit)
	m.Head = NewHead("head", cfg.Channels, cfg.Classes, cfg.HeadConvs, cfg.Seed^0x68656164, cfg.NoInit)
	return m, nil
}

// adoptBackbone takes b over for a detector: it renames b's parameters to
// prefix + their name (EfficientNet's "features." dropped, as
// IntermediateLayerGetter names them), freezes its BatchNorms (frozenBN)
// and first stages (frozenStages, see Config.FrozenStages), and returns
// the parameters of the detector's state_dict (without the classifier,
// EfficientNet's features.8 and, with frozenBN, num_batches_tracked) and
// the frozen BatchNorms. FCOS uses prefix "backbone.body." (torchvision),
// FCOS3D "backbone." (mmdetection).
func adoptBackbone(b nn.Module, prefix string, frozenBN bool, frozenStages int) (body []*nn.Param, frozen []*nn.BatchNorm, err error) {

	// The body: every parameter except the classifier (and features.8).
	skip := map[*nn.Param]bool{}
	if c, ok := b.(interface{ ClassifierParams() []*nn.Param }); ok {
		for _, p := range c.ClassifierParams() {
			skip[p] = true
		}
	}
	eff, isEff := b.(*backbone.EfficientNet)
	if isEff {
		for _, p := range eff.Head.Params() {
			skip[p] = true
		}
	}
	_, isRes := b.(*backbone.ResNet)
	if frozenStages > 0 && !isEff && !isRes {
		return nil, nil, fmt.Errorf("Config.FrozenStages %d needs a ResNet or an EfficientNet, not %T", frozenStages, b)
	}
	train := trainablePrefixes(isEff, frozenStages)
	nbt := map[*nn.Param]bool{}
	if frozenBN {
		bns, ok := b.(backbone.BatchNormer)
		if !ok {
			return nil, nil, fmt.Errorf("Config.FrozenBN needs a backbone with BatchNorms(), not %T", b)
		}
		for _, bn := range bns.BatchNorms() {
			bn.Training = false
			if bn.Weight != nil {
				bn.Weight.Trainable, bn.Bias.Trainable = false, false
			}
			nbt[bn.NumBatchesTracked] = true
			frozen = append(frozen, bn)
		}
	}
	for _, p := range b.Params() {
		if strings.HasPrefix(p.Name, "backbone.") {
			return nil, nil, fmt.Errorf("backbone parameter %q is already named for a detector (a backbone serves one detector)", p.Name)
		}
	}
	for _, p := range b.Params() {
		if skip[p] {
			continue
		}
		if train != nil && p.Trainable && !hasAnyPrefix(p.Name, train) {
			p.Trainable = false
		}
		name := p.Name
		if isEff {
			name = strings.TrimPrefix(name, "features.")
		}
		p.Name = prefix + name
		if !nbt[p] {
			body = append(body, p)
		}
	}
	return body, frozen, nil
}

// trainablePrefixes returns the name prefixes of the stages that stay
// trainable with frozen first stages (nil: everything trains), as
// torchvision's _resnet_fpn_extractor selects them.
func trainablePrefixes(eff bool, frozen int) []string {
	if frozen == 0 {
		return nil
	}
	if eff {
		units := [][]string{{"features.6.", "features.7."}, {"features.4.", "features.5."},
			{"features.3."}, {"features.2."}, {"features.0.", "features.1."}}
		var out []string
		for _, u := range units[:5-frozen] {
			out = append(out, u...)
		}
		return append(out, "\x00") // never empty, so that frozen 5 freezes all
	}
	// torchvision: ["layer4", "layer3", "layer2", "layer1", "conv1"][:trainable],
	// plus "bn1" only when all 5 train.
	return append([]string{"layer4.", "layer3.", "layer2.", "layer1.", "conv1."}[:5-frozen], "\x00")
}

func hasAnyPrefix(s string, ps []string) bool {
	for _, p := range ps {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// Params implements nn.Module: backbone.body.*, backbone.fpn.*, head.*, in
// torchvision's state_dict order.
func (m *FCOS) Params() []*nn.Param {
	out := append([]*nn.Param(nil), m.body...)
	out = append(out, m.FPN.Params()...)
	return append(out, m.Head.Params()...)
}

// SetTraining implements nn.Module. Frozen BatchNorms stay in Eval mode.
func (m *FCOS) SetTraining(t bool) {
	m.training = t
	m.Backbone.SetTraining(t)
	for _, bn := range m.frozenBNs {
		bn.Training = false
	}
}

// Training reports the mode SetTraining last set.
func (m *FCOS) Training() bool { return m.training }

// Pyramid returns the FPN's levels P3..P7 for images x [N, 3, H, W].
func (m *FCOS) Pyramid(x *G.Node) []*G.Node {
	return m.FPN.Forward(m.pyr.FeatureMaps(x))
}

// Outputs is the head's part of a graph: the node outputs of Head.Forward
// and the levels they cover.
type Outputs struct {
	Pyramid       []*G.Node // P3..P7
	Cls, Reg, Ctr *G.Node   // [N, A, Classes], [N, A, 4], [N, A, 1]
	Levels        []Level
	Anchors       []Box // the anchors of one image (all images share them)
}

// Forward builds the detector's graph for images x [N, 3, H, W]: pyramid,
// head, and the levels and anchors of an H×W input.
func (m *FCOS) Forward(x *G.Node) (*Outputs, error) {
	var out Outputs
	var ps []*G.Node
	if err := nn.Build(func() {
		if x.Dims() != 4 || x.Shape()[1] != 3 {
			panic(fmt.Sprintf("detect: FCOS: input %v, want [N, 3, H, W]", x.Shape()))
		}
		ps = m.Pyramid(x)
		out.Pyramid = ps
		out.Cls, out.Reg, out.Ctr = m.Head.Forward(ps)
	}); err != nil {
		return nil, err
	}
	if len(ps) != len(AnchorSizes) {
		return nil, fmt.Errorf("detect: FCOS: %d pyramid levels, want %d", len(ps), len(AnchorSizes))
	}
	maps := make([][2]int, len(ps))
	for i, p := range ps {
		maps[i] = [2]int{p.Shape()[2], p.Shape()[3]}
	}
	s := x.Shape()
	lv, err := NewLevels(s[2], s[3], maps, AnchorSizes)
	if err != nil {
		return nil, err
	}
	out.Levels, out.Anchors = lv, Anchors(lv)
	return &out, nil
}
