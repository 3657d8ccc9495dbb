package detect

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"

	weightinit "github.com/disiam/disiam/init"
	"github.com/disiam/disiam/nn"
)

// ConvModule is mmcv's ConvModule as FCOS3D's head uses it: a 3×3
// convolution with bias (padding 1), GroupNorm(32) and ReLU, named
// NAME.conv.{weight,bias} and NAME.gn.{weight,bias}.
type ConvModule struct {
	Conv *nn.Conv2d
	GN   *nn.GroupNorm
}

func newConvModule(name string, in, out int) ConvModule {
	return ConvModule{
		Conv: nn.NewConv2d(name+".conv", nn.Conv2dConfig{In: in, Out: out, Kernel: 3, Padding: 1, Bias: true}),
		GN:   nn.NewGroupNorm(name+".gn", 32, out),
	}
}

// Forward returns relu(gn(conv(x))).
func (c ConvModule) Forward(x *G.Node) *G.Node { return nn.ReLU(c.GN.Forward(c.Conv.Forward(x))) }

// Params implements nn.Module.
func (c ConvModule) Params() []*nn.Param { return append(c.Conv.Params(), c.GN.Params()...) }

// SetTraining implements nn.Module (no mode).
func (c ConvModule) SetTraining(bool) {}

func forwardAll(ms []ConvModule, x *G.Node) *G.Node {
	for _, m := range ms {
		x = m.Forward(x)
	}
	return x
}

// Regression groups of FCOS3D's bbox_pred, in mmdetection3d's order
// (group_reg_dims (2, 1, 3, 1, 2)).
const (
	RegOffset = iota // Δu, Δv of the projected centre, in strides
	RegDepth         // depth, metres (exp-decoded)
	RegSize          // l, h, w, metres (exp-decoded)
	RegRot           // local yaw, radians
	RegVelo          // vx, vz, metres per second
)

// RegDims are the channel counts of the regression groups.
var RegDims = [5]int{2, 1, 3, 1, 2}

// Head3D is mmdetection3d's FCOSMono3DHead (fcos_mono3d_head.py on
// anchor_free_mono3d_head.py) with the configuration of
// configs/_base_/models/fcos3d.py, shared by all pyramid levels:
//
//	cls_convs.{0,1}, reg_convs.{0,1}   two ConvModules per tower
//	conv_cls_prev.0 → conv_cls         class logits, from the cls tower
//	conv_reg_prevs.{0..3}.0 → conv_regs.{0..3}
//	                                   offset (2), depth (1), size (3), rotation (1), from the reg tower
//	conv_regs.4                        velocity (2), a 1×1 conv on the reg tower directly
//	conv_dir_cls_prev.0 → conv_dir_cls direction bin logits (2), from the reg tower
//	conv_attr_prev.0 → conv_attr       attribute logits, from the cls tower
//	conv_centerness_prev.0 → conv_centerness
//	                                   centre-ness logit, from the reg tower through a 64-wide ConvModule
//	scales.{l}.{0,1,2}                 per-level learnable Scale(1.0) of offset, depth and size
//
// The predictors (conv_*) are 1×1 convolutions. The branch ConvModules are
// Branch wide (mmdetection3d: 256, the feature width). One departure:
// upstream the last layer of each tower is a modulated deformable
// convolution (dcn_on_last_conv, DCNv2); here it is a plain 3×3
// convolution, so mmdetection3d checkpoints load except for those two
// layers' offset convolutions.
//
// Initialization is mmdetection3d's: every convolution N(0, 0.01²) with
// bias 0, except the biases of conv_cls, conv_dir_cls and conv_attr,
// bias_init_with_prob(0.01) = −log(0.99/0.01); GroupNorm weight 1, bias 0;
// scales 1.
type Head3D struct {
	ClsConvs, RegConvs []ConvModule
	ClsPrev            []ConvModule
	Cls                *nn.Conv2d
	RegPrevs           [5][]ConvModule // RegVelo has none
	Regs               [5]*nn.Conv2d
	DirPrev            []ConvModule
	Dir                *nn.Conv2d
	AttrPrev           []ConvModule
	Attr               *nn.Conv2d // nil without attributes
	CtrPrev            []ConvModule
	Ctr                *nn.Conv2d
	Scales             [][3]*nn.Scale // per level: offset, depth, size

	// ExpClamp, when > 0, clamps the scaled depth and size logits to at
	// most ExpClamp before exp (float32 exp overflows above 88.7). mmdetection3d
	// does not clamp; 0 leaves them alone.
	ExpClamp float64
}

// NewHead3D returns an FCOS3D head named prefix ("bbox_head") for
// channels-wide pyramid levels, with stacked tower layers, branch-wide
// branch ConvModules, a ctrChannels-wide centre-ness ConvModule, classes
// class logits, attrs attribute logits (0: no attribute branch) and
// levels per-level scales, initialized from seed unless noInit. channels,
// branch and ctrChannels must be multiples of 32 (GroupNorm's groups).
func NewHead3D(prefix string, channels, stacked, branch, ctrChannels, classes, attrs, levels int, seed uint64, noInit bool) *Head3D {
	if channels <= 0 || channels%32 != 0 || branch <= 0 || branch%32 != 0 || ctrChannels <= 0 || ctrChannels%32 != 0 ||
		classes <= 0 || attrs < 0 || stacked < 0 || levels <= 0 {
		panic(fmt.Sprintf("detect: NewHead3D: channels %d, branch %d, centre-ness %d (want positive multiples of 32), %d classes, %d attributes, %d tower layers, %d levels",
			channels, branch, ctrChannels, classes, attrs, stacked, levels))
	}
	h := &Head3D{}
	for i := range stacked {
		h.ClsConvs = append(h.ClsConvs, newConvModule(fmt.Sprintf("%s.cls_convs.%d", prefix, i), channels, channels))
	}
	for i := range stacked {
		h.RegConvs = append(h.RegConvs, newConvModule(fmt.Sprintf("%s.reg_convs.%d", prefix, i), channels, channels))
	}
	pred := func(name string, in, out int) *nn.Conv2d {
		return nn.NewConv2d(name, nn.Conv2dConfig{In: in, Out: out, Kernel: 1, Bias: true})
	}
	h.ClsPrev = []ConvModule{newConvModule(prefix+".conv_cls_prev.0", channels, branch)}
	h.Cls = pred(prefix+".conv_cls", branch, classes)
	for g, d := range RegDims {
		in := channels
		if g != RegVelo {
			h.RegPrevs[g] = []ConvModule{newConvModule(fmt.Sprintf("%s.conv_reg_prevs.%d.0", prefix, g), channels, branch)}
			in = branch
		}
		h.Regs[g] = pred(fmt.Sprintf("%s.conv_regs.%d", prefix, g), in, d)
	}
	h.DirPrev = []ConvModule{newConvModule(prefix+".conv_dir_cls_prev.0", channels, branch)}
	h.Dir = pred(prefix+".conv_dir_cls", branch, 2)
	if attrs > 0 {
		h.AttrPrev = []ConvModule{newConvModule(prefix+".conv_attr_prev.0", channels, branch)}
		h.Attr = pred(prefix+".conv_attr", branch, attrs)
	}
	h.CtrPrev = []ConvModule{newConvModule(prefix+".conv_centerness_prev.0", channels, ctrChannels)}
	h.Ctr = pred(prefix+".conv_centerness", ctrChannels, 1)
	for l := range levels {
		var s [3]*nn.Scale
		for k := range s {
			s[k] = nn.NewScale(fmt.Sprintf("%s.scales.%d.%d", prefix, l, k), 1)
		}
		h.Scales = append(h.Scales, s)
	}
	if !noInit {
		weightinit.Scheme{Conv: weightinit.Normal{Std: 0.01}, ConvBias: weightinit.Constant{}}.Apply(h, seed)
		b := float32(-math.Log((1 - PriorProbability) / PriorProbability))
		for _, c := range []*nn.Conv2d{h.Cls, h.Dir, h.Attr} {
			if c == nil {
				continue
			}
			for i := range c.Bias.Data() {
				c.Bias.Data()[i] = b
			}
		}
	}
	return h
}

// Classes is the number of class logits; Attrs the number of attribute
// logits (0 without the branch).
func (h *Head3D) Classes() int { return h.Cls.Config.Out }
func (h *Head3D) Attrs() int {
	if h.Attr == nil {
		return 0
	}
	return h.Attr.Config.Out
}

// HeadOutputs3D are the head's outputs as graph nodes, flattened level by
// level, then row by row ([N, A, k] with A the number of points of all
// levels), the regression already decoded as FCOS3DBBoxCoder.decode does
// in training: Offset = s0·o (in strides), Depth = exp(s1·d), Size =
// exp(s2·z), Rot and Velo as predicted.
type HeadOutputs3D struct {
	Cls, Offset, Depth, Size, Rot, Velo, Dir, Attr, Ctr *G.Node // Attr nil without attributes
}

// Forward applies the head to the levels (finest first; at most as many
// as it has scales).
func (h *Head3D) Forward(levels []*G.Node) *HeadOutputs3D {
	if len(levels) > len(h.Scales) {
		panic(fmt.Sprintf("detect: Head3D: %d levels, %d scales", len(levels), len(h.Scales)))
	}
	var cls, dir, attr, ctr []*G.Node
	var reg [5][]*G.Node
	for l, x := range levels {
		c := forwardAll(h.ClsConvs, x)
		r := forwardAll(h.RegConvs, x)
		cls = append(cls, h.Cls.Forward(forwardAll(h.ClsPrev, c)))
		for g := range RegDims {
			v := h.Regs[g].Forward(forwardAll(h.RegPrevs[g], r))
			switch g {
			case RegOffset:
				v = h.Scales[l][0].Forward(v)
			case RegDepth:
				v = h.expClamp(h.Scales[l][1].Forward(v))
			case RegSize:
				v = h.expClamp(h.Scales[l][2].Forward(v))
			}
			reg[g] = append(reg[g], v)
		}
		dir = append(dir, h.Dir.Forward(forwardAll(h.DirPrev, r)))
		if h.Attr != nil {
			attr = append(attr, h.Attr.Forward(forwardAll(h.AttrPrev, c)))
		}
		ctr = append(ctr, h.Ctr.Forward(forwardAll(h.CtrPrev, r)))
	}
	o := &HeadOutputs3D{
		Cls: nn.FlattenLevels(cls...), Dir: nn.FlattenLevels(dir...), Ctr: nn.FlattenLevels(ctr...),
		Offset: nn.FlattenLevels(reg[RegOffset]...), Depth: nn.FlattenLevels(reg[RegDepth]...),
		Size: nn.FlattenLevels(reg[RegSize]...), Rot: nn.FlattenLevels(reg[RegRot]...), Velo: nn.FlattenLevels(reg[RegVelo]...),
	}
	if h.Attr != nil {
		o.Attr = nn.FlattenLevels(attr...)
	}
	return o
}

func (h *Head3D) expClamp(x *G.Node) *G.Node {
	if h.ExpClamp > 0 {
		x = ClampMax(x, h.ExpClamp)
	}
	return nn.Exp(x)
}

// Params implements nn.Module in mmdetection3d's state_dict order.
func (h *Head3D) Params() []*nn.Param {
	var ms nn.Modules
	add := func(cs []ConvModule) {
		for _, c := range cs {
			ms = append(ms, c)
		}
	}
	add(h.ClsConvs)
	add(h.RegConvs)
	add(h.ClsPrev)
	ms = append(ms, h.Cls)
	for g := range h.RegPrevs {
		add(h.RegPrevs[g])
	}
	for _, c := range h.Regs {
		ms = append(ms, c)
	}
	add(h.DirPrev)
	ms = append(ms, h.Dir)
	if h.Attr != nil {
		add(h.AttrPrev)
		ms = append(ms, h.Attr)
	}
	add(h.CtrPrev)
	ms = append(ms, h.Ctr)
	for _, s := range h.Scales {
		for _, k := range s {
			ms = append(ms, k)
		}
	}
	return ms.Params()
}

// SetTraining implements nn.Module (GroupNorm has no mode).
func (h *Head3D) SetTraining(bool) {}
