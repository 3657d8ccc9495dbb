package detect

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	weightinit "github.com/disiam/disiam/init"
	"github.com/disiam/disiam/nn"
)

// FPN is torchvision's FeaturePyramidNetwork (ops/feature_pyramid_network.py)
// with, optionally, its LastLevelP6P7 extra block, as FCOS and RetinaNet use
// it. For inputs C3..C5 (finest first) it computes
//
//	last = inner[-1](C5);  P5 = layer[-1](last)
//	for i = len−2 .. 0:  last = inner[i](Ci) + nearest_resize(last, size(Ci));  Pi = layer[i](last)
//	P6 = p6(P5);  P7 = p7(relu(P6))          (ExtraP6P7)
//
// where inner_blocks.i.0 are 1×1 convolutions and layer_blocks.i.0 3×3
// convolutions (padding 1), p6 and p7 3×3 convolutions with stride 2 and
// padding 1, all with bias and without normalization or activation. The
// nearest resize is nn.UpsampleNearest, PyTorch's float32 index rule, so
// odd sizes (a 13×13 C3 under a 7×7 C4) pick the rows torchvision picks.
// LastLevelP6P7 reads P5 (not C5) because its input and output widths are
// equal (torchvision's use_P5). mmdetection's FPN with start_level 1,
// add_extra_convs "on_output" and relu_before_extra_convs is the same
// computation.
type FPN struct {
	Inner, Layer []*nn.Conv2d
	P6, P7       *nn.Conv2d // nil without ExtraP6P7
}

// NewFPN returns an FPN named prefix ("backbone.fpn") over inputs with the
// given channel counts, out channels wide, with the P6/P7 block when
// extraP6P7. Its parameters are prefix.inner_blocks.i.0.{weight,bias},
// prefix.layer_blocks.i.0.{weight,bias} and prefix.extra_blocks.p6/p7,
// initialized as torchvision does (kaiming_uniform_(a=1): U(±sqrt(3/fan_in)),
// bias 0) from seed, unless noInit.
func NewFPN(prefix string, in []int, out int, extraP6P7 bool, seed uint64, noInit bool) *FPN {
	if len(in) == 0 || out <= 0 {
		panic(fmt.Sprintf("detect: NewFPN: inputs %v, %d channels", in, out))
	}
	f := &FPN{}
	for i, c := range in {
		f.Inner = append(f.Inner, nn.NewConv2d(fmt.Sprintf("%s.inner_blocks.%d.0", prefix, i),
			nn.Conv2dConfig{In: c, Out: out, Kernel: 1, Bias: true}))
	}
	for i := range in {
		f.Layer = append(f.Layer, nn.NewConv2d(fmt.Sprintf("%s.layer_blocks.%d.0", prefix, i),
			nn.Conv2dConfig{In: out, Out: out, Kernel: 3, Padding: 1, Bias: true}))
	}
	if extraP6P7 {
		cfg := nn.Conv2dConfig{In: out, Out: out, Kernel: 3, Stride: 2, Padding: 1, Bias: true}
		f.P6 = nn.NewConv2d(prefix+".extra_blocks.p6", cfg)
		f.P7 = nn.NewConv2d(prefix+".extra_blocks.p7", cfg)
	}
	if !noInit {
		weightinit.Scheme{Conv: weightinit.KaimingUniform{Mode: weightinit.FanIn, Gain: 1},
			ConvBias: weightinit.Constant{}}.Apply(f, seed)
	}
	return f
}

// Forward maps the backbone's maps (finest first) to the pyramid, finest
// first: P3..P5, then P6 and P7 with ExtraP6P7.
func (f *FPN) Forward(maps []*G.Node) []*G.Node {
	if len(maps) != len(f.Inner) {
		panic(fmt.Sprintf("detect: FPN: %d input maps, want %d", len(maps), len(f.Inner)))
	}
	n := len(maps)
	last := f.Inner[n-1].Forward(maps[n-1])
	out := make([]*G.Node, n)
	out[n-1] = f.Layer[n-1].Forward(last)
	for i := n - 2; i >= 0; i-- {
		lat := f.Inner[i].Forward(maps[i])
		s := lat.Shape()
		last = nn.Add(lat, nn.UpsampleNearest(last, s[2], s[3]))
		out[i] = f.Layer[i].Forward(last)
	}
	if f.P6 != nil {
		p6 := f.P6.Forward(out[n-1])
		p7 := f.P7.Forward(nn.ReLU(p6))
		out = append(out, p6, p7)
	}
	return out
}

// Params implements nn.Module in torchvision's state_dict order.
func (f *FPN) Params() []*nn.Param {
	var ms nn.Modules
	for _, c := range f.Inner {
		ms = append(ms, c)
	}
	for _, c := range f.Layer {
		ms = append(ms, c)
	}
	if f.P6 != nil {
		ms = append(ms, f.P6, f.P7)
	}
	return ms.Params()
}

// SetTraining implements nn.Module (the FPN has no mode).
func (f *FPN) SetTraining(bool) {}
