package backbone

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	weightinit "github.com/disiam/disiam/init"
	"github.com/disiam/disiam/nn"
)

// efficientNetVariant holds torchvision's per-variant settings of
// efficientnet_b0 .. efficientnet_b7.
type efficientNetVariant struct {
	width, depth float64 // channel and layer multipliers
	dropout      float64 // classifier dropout
	bnEps, bnMom float64 // BatchNorm eps and momentum
}

var efficientNetVariants = []efficientNetVariant{
	{1.0, 1.0, 0.2, 1e-5, 0.1},
	{1.0, 1.1, 0.2, 1e-5, 0.1},
	{1.1, 1.2, 0.3, 1e-5, 0.1},
	{1.2, 1.4, 0.3, 1e-5, 0.1},
	{1.4, 1.8, 0.4, 1e-5, 0.1},
	// torchvision builds B5-B7 with BatchNorm2d(eps=0.001, momentum=0.01).
	{1.6, 2.2, 0.4, 1e-3, 0.01},
	{1.8, 2.6, 0.5, 1e-3, 0.01},
	{2.0, 3.1, 0.5, 1e-3, 0.01},
}

// mbConvStage is one row of EfficientNet-B0's stage table before scaling.
type mbConvStage struct {
	expand, kernel, stride, in, out, layers int
}

var efficientNetStages = []mbConvStage{
	{1, 3, 1, 32, 16, 1},
	{6, 3, 2, 16, 24, 2},
	{6, 5, 2, 24, 40, 2},
	{6, 3, 2, 40, 80, 3},
	{6, 5, 1, 80, 112, 3},
	{6, 5, 2, 112, 192, 4},
	{6, 3, 1, 192, 320, 1},
}

// stochasticDepthProb is torchvision's stochastic_depth_prob for all
// EfficientNet-B variants: block k of K drops with probability 0.2*k/K.
const stochasticDepthProb = 0.2

// makeDivisible is torchvision's _make_divisible(v, 8): v rounded to the
// nearest multiple of 8, at least 8, and not below 90% of v.
func makeDivisible(v float64) int {
	const d = 8
	n := max(d, int(v+d/2.0)/d*d)
	if float64(n) < 0.9*v {
		n += d
	}
	return n
}

// EfficientNet is torchvision's EfficientNet-B0..B7 (Tan and Le): features.0
// a 3x3 stride-2 convolution with BatchNorm and SiLU, features.1..7 seven
// stages of MBConv blocks, features.8 a 1x1 convolution to 4x the last
// stage's width with BatchNorm and SiLU, global average pooling, and the
// classifier: dropout ("classifier.0") then a linear layer
// ("classifier.1"). Channel widths are scaled by the variant's width
// multiplier (times Config.WidthMult) and rounded by _make_divisible(·, 8),
// block counts by its depth multiplier rounded up.
type EfficientNet struct {
	Stem   *ConvNormAct // features.0
	Stages [][]*MBConv  // features.1 .. features.7
	Head   *ConvNormAct // features.8
	// Dropout is the classifier's dropout, P 0.2 (B0, B1), 0.3 (B2, B3),
	// 0.4 (B4, B5) or 0.5 (B6, B7), active in Train mode.
	Dropout    *nn.Dropout
	Classifier *nn.Linear // classifier.1

	name string
	last trunkCache
}

// ConvNormAct is torchvision's Conv2dNormActivation: a bias-free
// convolution with "same" padding (kernel-1)/2, BatchNorm, and SiLU if
// Activation is set. Its parameters are NAME.0.weight (the convolution) and
// NAME.1.* (the BatchNorm).
type ConvNormAct struct {
	Conv       *nn.Conv2d
	BN         *nn.BatchNorm
	Activation bool
}

func newConvNormAct(name string, in, out, kernel, stride, groups int, act bool, bn nn.BatchNormConfig) *ConvNormAct {
	bn.Features = out
	return &ConvNormAct{
		Conv: nn.NewConv2d(nn.Join(name, "0"), nn.Conv2dConfig{
			In: in, Out: out, Kernel: kernel, Stride: stride, Padding: (kernel - 1) / 2, Groups: groups,
		}),
		BN:         nn.NewBatchNorm(nn.Join(name, "1"), bn),
		Activation: act,
	}
}

// Forward applies convolution, BatchNorm and the activation.
func (c *ConvNormAct) Forward(x *G.Node) *G.Node {
	y := c.BN.Forward(c.Conv.Forward(x))
	if c.Activation {
		y = nn.SiLU(y)
	}
	return y
}

// Params implements nn.Module.
func (c *ConvNormAct) Params() []*nn.Param { return nn.Modules{c.Conv, c.BN}.Params() }

// SetTraining implements nn.Module.
func (c *ConvNormAct) SetTraining(t bool) { c.BN.SetTraining(t) }

// SqueezeExcitation is torchvision.ops.SqueezeExcitation with SiLU: the
// input's channels are scaled by sigmoid(fc2(silu(fc1(avgpool(x))))), where
// fc1 and fc2 are 1x1 convolutions with bias (weights [squeeze, C, 1, 1]
// and [C, squeeze, 1, 1]), computed as linear maps of the pooled vector.
type SqueezeExcitation struct {
	FC1, FC2 *nn.Conv2d
}

func newSqueezeExcitation(name string, channels, squeeze int) *SqueezeExcitation {
	return &SqueezeExcitation{
		FC1: nn.NewConv2d(nn.Join(name, "fc1"), nn.Conv2dConfig{In: channels, Out: squeeze, Kernel: 1, Bias: true}),
		FC2: nn.NewConv2d(nn.Join(name, "fc2"), nn.Conv2dConfig{In: squeeze, Out: channels, Kernel: 1, Bias: true}),
	}
}

// pointwise applies the 1x1 convolution c to a pooled [N, C] input, in
// float64 accumulation (nn.LinearAcc64Op): the gates' pre-activations are
// sums of up to 1152 terms that largely cancel, and at large activations
// the float32 GEMM's rounding of them, passed through the sigmoid gates of
// every block, was most of the network's float32 error (at 64x64 with
// large weights, 1.5 times PyTorch's; with float64 sums it is at
// PyTorch's level, see TestGolden). The layers are small (C·C/4
// multiply-adds an image), so this costs little.
func pointwise(c *nn.Conv2d, s *G.Node) *G.Node {
	g := s.Graph()
	cfg := c.Config
	w := G.Must(G.Reshape(c.Weight.Node(g), tensor.Shape{cfg.Out, cfg.In}))
	return nn.LinearAcc64Op(s, w, c.Bias.Node(g))
}

// Forward scales the channels of x [N, C, H, W].
func (se *SqueezeExcitation) Forward(x *G.Node) *G.Node {
	s := nn.GlobalAvgPool2d(x)
	s = nn.SiLU(pointwise(se.FC1, s))
	s = nn.Sigmoid(pointwise(se.FC2, s))
	return nn.ScaleChannels(x, s)
}

// Params implements nn.Module.
func (se *SqueezeExcitation) Params() []*nn.Param { return nn.Modules{se.FC1, se.FC2}.Params() }

// SetTraining implements nn.Module (no mode).
func (se *SqueezeExcitation) SetTraining(bool) {}

// MBConv is torchvision's inverted-residual block: a 1x1 expansion
// convolution (absent when the expansion ratio is 1), a k x k depthwise
// convolution with the block's stride, squeeze-and-excitation with
// max(1, in/4) squeeze channels (of the block's input width), and a 1x1
// projection without activation; block.0 .. block.3 in the state_dict.
// With stride 1 and equal input and output widths the block is residual,
// and the branch passes through stochastic depth before the sum.
type MBConv struct {
	Expand    *ConvNormAct // nil when the expansion ratio is 1
	Depthwise *ConvNormAct
	SE        *SqueezeExcitation
	Project   *ConvNormAct
	// StochasticDepth drops the residual branch of whole samples in Train
	// mode ("row" mode); its P grows linearly with the block's index,
	// 0.2*k/K for block k of K. Unused in blocks without a residual.
	StochasticDepth *nn.StochasticDepth
	Residual        bool
}

// Forward implements the block.
func (b *MBConv) Forward(x *G.Node) *G.Node {
	h := x
	if b.Expand != nil {
		h = b.Expand.Forward(h)
	}
	h = b.Depthwise.Forward(h)
	h = b.SE.Forward(h)
	h = b.Project.Forward(h)
	if b.Residual {
		h = nn.Add(b.StochasticDepth.Forward(h), x)
	}
	return h
}

// Params implements nn.Module, in state_dict order.
func (b *MBConv) Params() []*nn.Param {
	ms := nn.Modules{}
	if b.Expand != nil {
		ms = append(ms, b.Expand)
	}
	return append(ms, b.Depthwise, b.SE, b.Project).Params()
}

// SetTraining implements nn.Module.
func (b *MBConv) SetTraining(t bool) {
	if b.Expand != nil {
		b.Expand.SetTraining(t)
	}
	b.Depthwise.SetTraining(t)
	b.Project.SetTraining(t)
	b.StochasticDepth.SetTraining(t)
}

// NewEfficientNet builds EfficientNet-B<variant>, variant 0..7, its widths
// multiplied by cfg.WidthMult (0: 1), initialized as torchvision
// initializes it (weightinit.EfficientNet) unless cfg.NoInit. It starts in
// Train mode. It panics on another variant, a negative or non-finite
// WidthMult, or a Width (ResNet's).
func NewEfficientNet(variant int, cfg Config) *EfficientNet {
	if variant < 0 || variant >= len(efficientNetVariants) {
		panic(fmt.Sprintf("backbone: no EfficientNet-B%d (have B0..B%d)", variant, len(efficientNetVariants)-1))
	}
	if cfg.Width != 0 || cfg.WidthMult < 0 || math.IsNaN(cfg.WidthMult) || math.IsInf(cfg.WidthMult, 0) {
		panic(fmt.Sprintf("backbone: EfficientNet-B%d with Config.Width %d, WidthMult %v (an EfficientNet takes WidthMult >= 0 only)", variant, cfg.Width, cfg.WidthMult))
	}
	v := efficientNetVariants[variant]
	bn := nn.BatchNormConfig{Eps: v.bnEps, Momentum: v.bnMom}
	width := v.width
	e := &EfficientNet{name: fmt.Sprintf("efficientnet_b%d", variant)}
	if cfg.WidthMult != 0 && cfg.WidthMult != 1 {
		width *= cfg.WidthMult
		e.name += "-x" + formatMult(cfg.WidthMult)
	}
	ch := func(c int) int { return makeDivisible(float64(c) * width) }

	stages := make([]mbConvStage, len(efficientNetStages))
	total := 0
	for i, s := range efficientNetStages {
		s.in, s.out = ch(s.in), ch(s.out)
		s.layers = int(math.Ceil(float64(s.layers) * v.depth))
		stages[i] = s
		total += s.layers
	}
	e.Stem = newConvNormAct("features.0", 3, stages[0].in, 3, 2, 1, true, bn)
	id := 0
	for i, s := range stages {
		var stage []*MBConv
		for j := range s.layers {
			in, stride := s.in, s.stride
			if j > 0 {
				in, stride = s.out, 1
			}
			name := fmt.Sprintf("features.%d.%d", i+1, j)
			sd := stochasticDepthProb * float64(id) / float64(total)
			stage = append(stage, newMBConv(name, in, s.out, s.expand, s.kernel, stride, sd, cfg.Seed, bn))
			id++
		}
		e.Stages = append(e.Stages, stage)
	}
	last := stages[len(stages)-1].out
	e.Head = newConvNormAct(fmt.Sprintf("features.%d", len(stages)+1), last, 4*last, 1, 1, 1, true, bn)
	e.Dropout = nn.NewDropout(v.dropout, seedFor(cfg.Seed, "classifier.0"))
	e.Classifier = nn.NewLinear("classifier.1", 4*last, cfg.classes(), true)
	if !cfg.NoInit {
		weightinit.EfficientNet().Apply(e, cfg.Seed)
	}
	return e
}

func newMBConv(name string, in, out, expand, kernel, stride int, sdProb float64, seed uint64, bn nn.BatchNormConfig) *MBConv {
	exp := makeDivisible(float64(in * expand))
	b := &MBConv{
		Residual:        stride == 1 && in == out,
		StochasticDepth: nn.NewStochasticDepth(sdProb, seedFor(seed, name+".stochastic_depth")),
	}
	k := 0
	part := func() string {
		s := fmt.Sprintf("%s.block.%d", name, k)
		k++
		return s
	}
	if exp != in {
		b.Expand = newConvNormAct(part(), in, exp, 1, 1, 1, true, bn)
	}
	b.Depthwise = newConvNormAct(part(), exp, exp, kernel, stride, exp, true, bn)
	b.SE = newSqueezeExcitation(part(), exp, max(1, in/4))
	b.Project = newConvNormAct(part(), exp, out, 1, 1, 1, false, bn)
	return b
}

// Name implements Backbone: "efficientnet_b0" etc., "efficientnet_b0-x0.5"
// with a Config.WidthMult other than 1 (New accepts both forms).
func (e *EfficientNet) Name() string { return e.name }

// FeatureDim implements Backbone: the width of features.8 (1280 for B0,
// 2560 for B7).
func (e *EfficientNet) FeatureDim() int { return e.Head.Conv.Config.Out }

// MapChannels implements Backbone: the widths of the stages ending at
// strides 8, 16 and 32 (features.3, features.5, features.7: 40, 112, 320
// for B0).
func (e *EfficientNet) MapChannels() []int {
	var out []int
	for _, s := range []int{2, 4, 6} {
		st := e.Stages[s]
		out = append(out, st[len(st)-1].Project.Conv.Config.Out)
	}
	return out
}

// trunk returns the outputs of features.0 .. features.8.
func (e *EfficientNet) trunk(x *G.Node) []*G.Node {
	return e.last.get(x, func() []*G.Node {
		checkInput(e.name, x)
		h := e.Stem.Forward(x)
		out := []*G.Node{h}
		for _, stage := range e.Stages {
			for _, b := range stage {
				h = b.Forward(h)
			}
			out = append(out, h)
		}
		return append(out, e.Head.Forward(h))
	})
}

// Features implements Backbone: global average pool of features.8.
func (e *EfficientNet) Features(x *G.Node) *G.Node {
	t := e.trunk(x)
	return nn.GlobalAvgPool2d(t[len(t)-1])
}

// FeatureMaps implements Backbone: the outputs of features.3, features.5
// and features.7 (strides 8, 16, 32), as EfficientDet takes them.
func (e *EfficientNet) FeatureMaps(x *G.Node) []*G.Node {
	t := e.trunk(x)
	return []*G.Node{t[3], t[5], t[7]}
}

// StageOutputs implements Staged: the outputs of features.0 (the stem),
// features.1 .. features.7 (the MBConv stages) and features.8 (the head
// convolution), named "features.0" .. "features.8".
func (e *EfficientNet) StageOutputs(x *G.Node) ([]string, []*G.Node) {
	t := e.trunk(x)
	names := make([]string, len(t))
	for i := range t {
		names[i] = fmt.Sprintf("features.%d", i)
	}
	return names, append([]*G.Node(nil), t...)
}

// Classify implements Backbone: dropout, then classifier.1.
func (e *EfficientNet) Classify(features *G.Node) *G.Node {
	return e.Classifier.Forward(e.Dropout.Forward(features))
}

// ClassifierParams returns classifier.1's parameters
// (weightinit.Classifier).
func (e *EfficientNet) ClassifierParams() []*nn.Param { return e.Classifier.Params() }

// Params implements nn.Module, in torchvision's state_dict order.
func (e *EfficientNet) Params() []*nn.Param {
	ms := nn.Modules{e.Stem}
	for _, stage := range e.Stages {
		for _, b := range stage {
			ms = append(ms, b)
		}
	}
	return append(ms, e.Head, e.Classifier).Params()
}

// SetTraining implements nn.Module: batch statistics, stochastic depth and
// dropout in Train mode; running statistics and identities in Eval mode.
func (e *EfficientNet) SetTraining(t bool) {
	e.Stem.SetTraining(t)
	for _, stage := range e.Stages {
		for _, b := range stage {
			b.SetTraining(t)
		}
	}
	e.Head.SetTraining(t)
	e.Dropout.SetTraining(t)
}

// BatchNorms returns every BatchNorm layer, in state_dict order.
func (e *EfficientNet) BatchNorms() []*nn.BatchNorm {
	out := []*nn.BatchNorm{e.Stem.BN}
	for _, stage := range e.Stages {
		for _, b := range stage {
			if b.Expand != nil {
				out = append(out, b.Expand.BN)
			}
			out = append(out, b.Depthwise.BN, b.Project.BN)
		}
	}
	return append(out, e.Head.BN)
}

// Blocks returns the MBConv blocks in order (features.1.0 first).
func (e *EfficientNet) Blocks() []*MBConv {
	var out []*MBConv
	for _, stage := range e.Stages {
		out = append(out, stage...)
	}
	return out
}
