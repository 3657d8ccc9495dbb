package detect

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"

	weightinit "github.com/disiam/disiam/init"
	"github.com/disiam/disiam/nn"
)

// Head is torchvision's FCOSHead: two towers of Convs × (3×3 convolution
// with bias, GroupNorm(32), ReLU), shared by all pyramid levels, then
//
//	classification_head.cls_logits   3×3 conv to Classes logits
//	regression_head.bbox_reg         3×3 conv to 4 distances, then ReLU
//	regression_head.bbox_ctrness     3×3 conv to 1 centre-ness logit
//
// the last two on the regression tower. Unlike the FCOS paper and
// mmdetection there is no learnable per-level Scale. Initialization:
// weights N(0, 0.01²), biases 0, except the cls_logits bias, which is
// −log((1 − 0.01)/0.01) = −4.59512 so that every class starts at
// probability 0.01 (the prior that keeps the focal loss from exploding in
// the first iterations).
type Head struct {
	ClsConvs, RegConvs []*nn.Conv2d
	ClsNorms, RegNorms []*nn.GroupNorm
	ClsLogits          *nn.Conv2d
	BBoxReg            *nn.Conv2d
	BBoxCtrness        *nn.Conv2d
}

// PriorProbability is the initial class probability of the head's
// classifier.
const PriorProbability = 0.01

// NewHead returns an FCOS head named prefix ("head") for channels-wide
// levels, classes logits and convs tower layers (torchvision: 4), its
// parameters named as torchvision's state_dict
// (prefix.classification_head.conv.{0,1,3,4,...}, .cls_logits,
// prefix.regression_head.conv..., .bbox_reg, .bbox_ctrness), initialized
// from seed unless noInit. channels must be a multiple of 32 (GroupNorm's
// groups).
func NewHead(prefix string, channels, classes, convs int, seed uint64, noInit bool) *Head {
	if channels <= 0 || channels%32 != 0 || classes <= 0 || convs < 0 {
		panic(fmt.Sprintf("detect: NewHead: %d channels (want a positive multiple of 32), %d classes, %d convs", channels, classes, convs))
	}
	h := &Head{}
	conv := func(name string, out int) *nn.Conv2d {
		return nn.NewConv2d(name, nn.Conv2dConfig{In: channels, Out: out, Kernel: 3, Padding: 1, Bias: true})
	}
	for _, tower := range []string{"classification_head", "regression_head"} {
		for i := range convs {
			c := conv(fmt.Sprintf("%s.%s.conv.%d", prefix, tower, 3*i), channels)
			g := nn.NewGroupNorm(fmt.Sprintf("%s.%s.conv.%d", prefix, tower, 3*i+1), 32, channels)
			if tower == "classification_head" {
				h.ClsConvs, h.ClsNorms = append(h.ClsConvs, c), append(h.ClsNorms, g)
			} else {
				h.RegConvs, h.RegNorms = append(h.RegConvs, c), append(h.RegNorms, g)
			}
		}
	}
	h.ClsLogits = conv(prefix+".classification_head.cls_logits", classes)
	h.BBoxReg = conv(prefix+".regression_head.bbox_reg", 4)
	h.BBoxCtrness = conv(prefix+".regression_head.bbox_ctrness", 1)
	if !noInit {
		weightinit.Scheme{Conv: weightinit.Normal{Std: 0.01}, ConvBias: weightinit.Constant{}}.Apply(h, seed)
		b := float32(-math.Log((1 - PriorProbability) / PriorProbability))
		for i := range h.ClsLogits.Bias.Data() {
			h.ClsLogits.Bias.Data()[i] = b
		}
	}
	return h
}

// Classes is the number of class logits.
func (h *Head) Classes() int { return h.ClsLogits.Config.Out }

// Forward applies the head to every level (finest first) and returns the
// outputs flattened level by level, then row by row, as torchvision does:
// class logits [N, A, Classes], box distances [N, A, 4] (after the ReLU, in
// units of the anchor size) and centre-ness logits [N, A, 1], with A the
// number of positions of all levels.
func (h *Head) Forward(levels []*G.Node) (cls, reg, ctr *G.Node) {
	var cs, rs, ts []*G.Node
	for _, x := range levels {
		c, r := x, x
		for i := range h.ClsConvs {
			c = nn.ReLU(h.ClsNorms[i].Forward(h.ClsConvs[i].Forward(c)))
		}
		for i := range h.RegConvs {
			r = nn.ReLU(h.RegNorms[i].Forward(h.RegConvs[i].Forward(r)))
		}
		cs = append(cs, h.ClsLogits.Forward(c))
		rs = append(rs, nn.ReLU(h.BBoxReg.Forward(r)))
		ts = append(ts, h.BBoxCtrness.Forward(r))
	}
	return nn.FlattenLevels(cs...), nn.FlattenLevels(rs...), nn.FlattenLevels(ts...)
}

// Params implements nn.Module in torchvision's state_dict order.
func (h *Head) Params() []*nn.Param {
	var ms nn.Modules
	for i := range h.ClsConvs {
		ms = append(ms, h.ClsConvs[i], h.ClsNorms[i])
	}
	ms = append(ms, h.ClsLogits)
	for i := range h.RegConvs {
		ms = append(ms, h.RegConvs[i], h.RegNorms[i])
	}
	ms = append(ms, h.BBoxReg, h.BBoxCtrness)
	return ms.Params()
}

// SetTraining implements nn.Module (GroupNorm has no mode).
func (h *Head) SetTraining(bool) {}
