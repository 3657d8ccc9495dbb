package detect

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"

	"github.com/disiam/disiam/nn"
)

// Config3D configures an FCOS3D detector. Zero values mean
// mmdetection3d's configuration (configs/_base_/models/fcos3d.py) for
// nuScenes.
type Config3D struct {
	// Classes is the number of class logits (0: 10, nuScenes' classes in
	// mmdetection3d's order, nuscenes.Classes); Attrs the number of
	// attribute logits (0: 9, nuscenes.Attributes; −1: no attribute
	// branch, as for KITTI).
	Classes, Attrs int
	// Channels is the width of the FPN and the towers (0: 256); Branch the
	// width of the branch ConvModules (0: Channels); CtrChannels the width
	// of the centre-ness ConvModule (0: 64); StackedConvs the number of
	// ConvModules per tower (0: 2). Widths are multiples of 32.
	Channels, Branch, CtrChannels, StackedConvs int
	// FrozenBN and FrozenStages freeze the backbone's BatchNorms and first
	// stages as Config's (mmdetection3d's FCOS3D: frozen_stages 1, BN
	// requires_grad False, norm_eval True with a pretrained ResNet-101).
	FrozenBN     bool
	FrozenStages int
	// Seed seeds the FPN and head initialization; NoInit leaves them
	// zero for loading a checkpoint.
	Seed   uint64
	NoInit bool
	// InitDepth and InitSize, when > 0, set the initial biases of the
	// depth and size predictors to log(InitDepth) and log(InitSize[k]),
	// so that the untrained head predicts typical values instead of
	// mmdetection3d's exp(0) = 1 m. With depths of 20 m and sizes of
	// several metres, the smooth L1 losses' gradient of about 1 per
	// positive moves the log-depth bias by little more than the learning
	// rate per step, so short trainings (the examples, the overfitting
	// test) start from the data's typical depth and size; 0 keeps
	// mmdetection3d's initialization.
	InitDepth float64
	InitSize  [3]float64
	// ExpClamp, when > 0, clamps the depth and size logits before exp
	// (Head3D.ExpClamp); 0, mmdetection3d's choice, does not.
	ExpClamp float64

	// Radius is the centre-sampling radius in strides (0: 1.5); Alpha the
	// centre-ness sharpness (0: 2.5).
	Radius, Alpha float64
	// CodeWeights weight offset (2), depth, size (3), rotation and
	// velocity (2) in the regression losses (nil: [1, 1, 0.2, 1, 1, 1, 1,
	// 0.05, 0.05]; the fine-tuning stage raises the depth weight to 1).
	CodeWeights []float64
	// Beta is the smooth L1 losses' β (0: 1/9).
	Beta float64

	// Test-time settings (test_cfg): NMSPre points per level by
	// max σ(cls)·σ(centre-ness) (0: 1000), ScoreThresh (0: 0.05), the BEV
	// NMS IoU threshold NMSThresh (0: 0.8) and MaxPerImage (0: 200).
	NMSPre      int
	ScoreThresh float64
	NMSThresh   float64
	MaxPerImage int
}

// DefaultCodeWeights are FCOS3D's code_weight.
var DefaultCodeWeights = []float64{1, 1, 0.2, 1, 1, 1, 1, 0.05, 0.05}

func (c Config3D) withDefaults() Config3D {
	if c.Classes == 0 {
		c.Classes = 10
	}
	if c.Attrs == 0 {
		c.Attrs = 9
	}
	if c.Attrs < 0 {
		c.Attrs = 0
	}
	if c.Channels == 0 {
		c.Channels = 256
	}
	if c.Branch == 0 {
		c.Branch = c.Channels
	}
	if c.CtrChannels == 0 {
		c.CtrChannels = 64
	}
	if c.StackedConvs == 0 {
		c.StackedConvs = 2
	}
	if c.Radius == 0 {
		c.Radius = 1.5
	}
	if c.Alpha == 0 {
		c.Alpha = 2.5
	}
	if c.CodeWeights == nil {
		c.CodeWeights = DefaultCodeWeights
	}
	if c.Beta == 0 {
		c.Beta = 1.0 / 9
	}
	if c.NMSPre == 0 {
		c.NMSPre = 1000
	}
	if c.ScoreThresh == 0 {
		c.ScoreThresh = 0.05
	}
	if c.NMSThresh == 0 {
		c.NMSThresh = 0.8
	}
	if c.MaxPerImage == 0 {
		c.MaxPerImage = 200
	}
	return c
}

// FCOS3D is mmdetection3d's FCOS3D (Wang et al., fully convolutional
// one-stage monocular 3D detection) on any backbone that offers a feature
// pyramid: backbone maps C3..C5 → FPN with P6/P7 (strides 8..128) →
// FCOSMono3DHead (Head3D), with its point assignment by the projected 3D
// centre, targets, losses and test-time decoding.
//
// Its state_dict follows mmdetection's naming: backbone.* (the backbone's
// torchvision names: ResNet and mmdetection's ResNet agree),
// neck.lateral_convs.{i}.conv.*, neck.fpn_convs.{i}.conv.* (i = 0..4, 3
// and 4 being the P6 and P7 convolutions) and bbox_head.*.
type FCOS3D struct {
	Config   Config3D // with defaults filled in
	Backbone nn.Module
	FPN      *FPN
	Head     *Head3D

	pyr       pyramid
	body      []*nn.Param
	frozenBNs []*nn.BatchNorm
	training  bool
}

// NewFCOS3D builds FCOS3D on b (a ResNet or EfficientNet of package
// backbone, or anything with FeatureMaps and MapChannels). Like NewFCOS it
// takes b over and renames its parameters (ResNet "layer1.0.conv1.weight"
// becomes "backbone.layer1.0.conv1.weight"), so load pretrained weights
// into b first. The FPN is the same computation as FCOS's (torchvision's
// FeaturePyramidNetwork with LastLevelP6P7, which is mmdetection's FPN
// with start_level 1, add_extra_convs "on_output" and
// relu_before_extra_convs), under mmdetection's names. The detector
// starts in Train mode.
func NewFCOS3D(b nn.Module, cfg Config3D) (*FCOS3D, error) {
	pyr, ok := b.(pyramid)
	if !ok {
		return nil, fmt.Errorf("detect: NewFCOS3D: backbone %T has no FeatureMaps/MapChannels", b)
	}
	if cfg.Classes < 0 {
		return nil, fmt.Errorf("detect: NewFCOS3D: Config3D.Classes %d", cfg.Classes)
	}
	cfg = cfg.withDefaults()
	for _, w := range []int{cfg.Channels, cfg.Branch, cfg.CtrChannels} {
		if w <= 0 || w%32 != 0 {
			return nil, fmt.Errorf("detect: NewFCOS3D: widths %d, %d, %d (Channels, Branch, CtrChannels): want multiples of 32, GroupNorm's groups", cfg.Channels, cfg.Branch, cfg.CtrChannels)
		}
	}
	if len(cfg.CodeWeights) != 9 {
		return nil, fmt.Errorf("detect: NewFCOS3D: %d code weights, want 9", len(cfg.CodeWeights))
	}
	if cfg.FrozenStages < 0 || cfg.FrozenStages > 5 {
		return nil, fmt.Errorf("detect: NewFCOS3D: Config3D.FrozenStages %d, want 0..5", cfg.FrozenStages)
	}
	m := &FCOS3D{Config: cfg, Backbone: b, pyr: pyr, training: true}
	var err error
	if m.body, m.frozenBNs, err = adoptBackbone(b, "backbone.", cfg.FrozenBN, cfg.FrozenStages); err != nil {
		return nil, fmt.Errorf("detect: NewFCOS3D: %w", err)
	}
	m.FPN = NewFPN("neck", pyr.MapChannels(), cfg.Channels, true, cfg.Seed, cfg.NoInit)
	m.FPN.renameMMDet("neck")
	m.Head = NewHead3D("bbox_head", cfg.Channels, cfg.StackedConvs, cfg.Branch, cfg.CtrChannels, cfg.Classes, cfg.Attrs,
		len(Strides3D), cfg.Seed^0x68656164, cfg.NoInit)
	m.Head.ExpClamp = cfg.ExpClamp
	if !cfg.NoInit {
		if cfg.InitDepth < 0 || cfg.InitSize[0] < 0 || cfg.InitSize[1] < 0 || cfg.InitSize[2] < 0 {
			return nil, fmt.Errorf("detect: NewFCOS3D: InitDepth %v, InitSize %v: want ≥ 0", cfg.InitDepth, cfg.InitSize)
		}
		if cfg.InitDepth > 0 {
			m.Head.Regs[RegDepth].Bias.Data()[0] = float32(math.Log(cfg.InitDepth))
		}
		for k, v := range cfg.InitSize {
			if v > 0 {
				m.Head.Regs[RegSize].Bias.Data()[k] = float32(math.Log(v))
			}
		}
	}
	return m, nil
}

// renameMMDet gives the FPN's parameters mmdetection's FPN names:
// inner_blocks.i.0 → lateral_convs.i.conv, layer_blocks.i.0 →
// fpn_convs.i.conv, extra_blocks.p6/p7 → fpn_convs.{n, n+1}.conv.
func (f *FPN) renameMMDet(prefix string) {
	set := func(c *nn.Conv2d, name string) {
		c.Weight.Name = name + ".weight"
		if c.Bias != nil {
			c.Bias.Name = name + ".bias"
		}
	}
	for i, c := range f.Inner {
		set(c, fmt.Sprintf("%s.lateral_convs.%d.conv", prefix, i))
	}
	for i, c := range f.Layer {
		set(c, fmt.Sprintf("%s.fpn_convs.%d.conv", prefix, i))
	}
	if f.P6 != nil {
		set(f.P6, fmt.Sprintf("%s.fpn_convs.%d.conv", prefix, len(f.Layer)))
		set(f.P7, fmt.Sprintf("%s.fpn_convs.%d.conv", prefix, len(f.Layer)+1))
	}
}

// Params implements nn.Module: backbone.*, neck.*, bbox_head.*, in
// mmdetection's state_dict order (the neck's lateral convolutions, then
// its output convolutions).
func (m *FCOS3D) Params() []*nn.Param {
	out := append([]*nn.Param(nil), m.body...)
	for _, c := range m.FPN.Inner {
		out = append(out, c.Params()...)
	}
	for _, c := range m.FPN.Layer {
		out = append(out, c.Params()...)
	}
	if m.FPN.P6 != nil {
		out = append(out, m.FPN.P6.Params()...)
		out = append(out, m.FPN.P7.Params()...)
	}
	return append(out, m.Head.Params()...)
}

// SetTraining implements nn.Module. Frozen BatchNorms stay in Eval mode.
func (m *FCOS3D) SetTraining(t bool) {
	m.training = t
	m.Backbone.SetTraining(t)
	for _, bn := range m.frozenBNs {
		bn.Training = false
	}
}

// Training reports the mode SetTraining last set.
func (m *FCOS3D) Training() bool { return m.training }

// Outputs3D is the detector's part of a graph: the head's nodes and the
// levels and points of the input size.
type Outputs3D struct {
	*HeadOutputs3D
	Pyramid []*G.Node
	Levels  []Level3D
	Points  [][2]float64 // of one image (all images share them)
}

// Forward builds the detector's graph for images x [N, 3, H, W].
func (m *FCOS3D) Forward(x *G.Node) (*Outputs3D, error) {
	out := &Outputs3D{}
	if err := nn.Build(func() {
		if x.Dims() != 4 || x.Shape()[1] != 3 {
			panic(fmt.Sprintf("detect: FCOS3D: input %v, want [N, 3, H, W]", x.Shape()))
		}
		out.Pyramid = m.FPN.Forward(m.pyr.FeatureMaps(x))
		if len(out.Pyramid) != len(Strides3D) {
			panic(fmt.Sprintf("detect: FCOS3D: %d pyramid levels, want %d", len(out.Pyramid), len(Strides3D)))
		}
		out.HeadOutputs3D = m.Head.Forward(out.Pyramid)
	}); err != nil {
		return nil, err
	}
	maps := make([][2]int, len(out.Pyramid))
	for i, p := range out.Pyramid {
		maps[i] = [2]int{p.Shape()[2], p.Shape()[3]}
	}
	lv, err := NewLevels3D(maps)
	if err != nil {
		return nil, err
	}
	out.Levels, out.Points = lv, Points3D(lv)
	return out, nil
}

func (m *FCOS3D) targetConfig() Target3DConfig {
	return Target3DConfig{Classes: m.Config.Classes, Attrs: m.Config.Attrs, Radius: m.Config.Radius, Alpha: m.Config.Alpha}
}
