package backbone

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	weightinit "github.com/disiam/disiam/init"
	"github.com/disiam/disiam/nn"
)

var resnetDepths = []int{18, 34, 50, 101, 152}

// resnetLayers are the blocks per stage (torchvision's `layers`).
var resnetLayers = map[int][4]int{
	18:  {2, 2, 2, 2},
	34:  {3, 4, 6, 3},
	50:  {3, 4, 6, 3},
	101: {3, 4, 23, 3},
	152: {3, 8, 36, 3},
}

// ResNet is torchvision's ResNet (He et al., v1.5: the stride of a
// bottleneck sits on its 3x3 convolution): the ImageNet stem conv1 (7x7,
// stride 2, padding 3, no bias), bn1, ReLU and a 3x3 stride-2 max-pool,
// four stages layer1..layer4 of BasicBlocks (ResNet-18/34) or Bottlenecks
// (ResNet-50/101/152) with 64, 128, 256, 512 base channels and strides 1,
// 2, 2, 2, global average pooling and the classifier fc. The stem is kept
// at every input size, also 32x32, as in the thesis (Section 4.5), unless
// Config.CIFARStem replaces it by a 3x3 stride-1 conv1 without max-pool
// (the small-image ResNet of lightly's and solo-learn's CIFAR-10
// benchmarks; the stride of the network falls from 32 to 8).
// Config.Width narrows (or widens) every layer: a stem of Width channels
// and stages of Width, 2·Width, 4·Width, 8·Width base channels.
type ResNet struct {
	Conv1  *nn.Conv2d
	BN1    *nn.BatchNorm
	Layers [4][]ResBlock // layer1 .. layer4
	FC     *nn.Linear

	name      string
	expansion int
	width     int  // base channels of layer1
	cifar     bool // CIFAR stem: 3x3 stride-1 conv1, no max-pool
	last      trunkCache
}

// ResBlock is a residual block of a ResNet stage: *BasicBlock or
// *Bottleneck.
type ResBlock interface {
	nn.Module
	// Forward maps the block's input [N, C, H, W] to its output.
	Forward(x *G.Node) *G.Node
}

// Downsample is the projection shortcut of the first block of a stage
// whose stride or width changes: a 1x1 convolution with the block's stride
// ("downsample.0") and BatchNorm ("downsample.1").
type Downsample struct {
	Conv *nn.Conv2d
	BN   *nn.BatchNorm
}

func newDownsample(name string, in, out, stride int) *Downsample {
	return &Downsample{
		Conv: nn.NewConv2d(nn.Join(name, "0"), nn.Conv2dConfig{In: in, Out: out, Kernel: 1, Stride: stride}),
		BN:   nn.NewBatchNorm2d(nn.Join(name, "1"), out),
	}
}

// Forward implements the shortcut.
func (d *Downsample) Forward(x *G.Node) *G.Node { return d.BN.Forward(d.Conv.Forward(x)) }

// Params implements nn.Module.
func (d *Downsample) Params() []*nn.Param { return nn.Modules{d.Conv, d.BN}.Params() }

// SetTraining implements nn.Module.
func (d *Downsample) SetTraining(t bool) { d.BN.SetTraining(t) }

// BasicBlock is ResNet-18/34's block: relu(bn2(conv2(relu(bn1(conv1(x))))) +
// shortcut(x)), both convolutions 3x3, the first with the block's stride.
type BasicBlock struct {
	Conv1, Conv2 *nn.Conv2d
	BN1, BN2     *nn.BatchNorm
	Downsample   *Downsample // nil: identity shortcut
}

func newBasicBlock(name string, in, planes, stride int) *BasicBlock {
	b := &BasicBlock{
		Conv1: nn.NewConv2d(nn.Join(name, "conv1"), nn.Conv2dConfig{In: in, Out: planes, Kernel: 3, Stride: stride, Padding: 1}),
		BN1:   nn.NewBatchNorm2d(nn.Join(name, "bn1"), planes),
		Conv2: nn.NewConv2d(nn.Join(name, "conv2"), nn.Conv2dConfig{In: planes, Out: planes, Kernel: 3, Padding: 1}),
		BN2:   nn.NewBatchNorm2d(nn.Join(name, "bn2"), planes),
	}
	if stride != 1 || in != planes {
		b.Downsample = newDownsample(nn.Join(name, "downsample"), in, planes, stride)
	}
	return b
}

// Forward implements ResBlock.
func (b *BasicBlock) Forward(x *G.Node) *G.Node {
	out := nn.ReLU(b.BN1.Forward(b.Conv1.Forward(x)))
	out = b.BN2.Forward(b.Conv2.Forward(out))
	id := x
	if b.Downsample != nil {
		id = b.Downsample.Forward(x)
	}
	return nn.ReLU(nn.Add(out, id))
}

// Params implements nn.Module, in state_dict order.
func (b *BasicBlock) Params() []*nn.Param {
	ms := nn.Modules{b.Conv1, b.BN1, b.Conv2, b.BN2}
	if b.Downsample != nil {
		ms = append(ms, b.Downsample)
	}
	return ms.Params()
}

// SetTraining implements nn.Module.
func (b *BasicBlock) SetTraining(t bool) {
	b.BN1.SetTraining(t)
	b.BN2.SetTraining(t)
	if b.Downsample != nil {
		b.Downsample.SetTraining(t)
	}
}

// Bottleneck is ResNet-50/101/152's block: 1x1 conv to planes channels,
// 3x3 conv with the block's stride, 1x1 conv to 4*planes channels, each
// followed by BatchNorm, ReLU after the first two and after the residual
// sum.
type Bottleneck struct {
	Conv1, Conv2, Conv3 *nn.Conv2d
	BN1, BN2, BN3       *nn.BatchNorm
	Downsample          *Downsample // nil: identity shortcut
}

func newBottleneck(name string, in, planes, stride int) *Bottleneck {
	out := 4 * planes
	b := &Bottleneck{
		Conv1: nn.NewConv2d(nn.Join(name, "conv1"), nn.Conv2dConfig{In: in, Out: planes, Kernel: 1}),
		BN1:   nn.NewBatchNorm2d(nn.Join(name, "bn1"), planes),
		Conv2: nn.NewConv2d(nn.Join(name, "conv2"), nn.Conv2dConfig{In: planes, Out: planes, Kernel: 3, Stride: stride, Padding: 1}),
		BN2:   nn.NewBatchNorm2d(nn.Join(name, "bn2"), planes),
		Conv3: nn.NewConv2d(nn.Join(name, "conv3"), nn.Conv2dConfig{In: planes, Out: out, Kernel: 1}),
		BN3:   nn.NewBatchNorm2d(nn.Join(name, "bn3"), out),
	}
	if stride != 1 || in != out {
		b.Downsample = newDownsample(nn.Join(name, "downsample"), in, out, stride)
	}
	return b
}

// Forward implements ResBlock.
func (b *Bottleneck) Forward(x *G.Node) *G.Node {
	out := nn.ReLU(b.BN1.Forward(b.Conv1.Forward(x)))
	out = nn.ReLU(b.BN2.Forward(b.Conv2.Forward(out)))
	out = b.BN3.Forward(b.Conv3.Forward(out))
	id := x
	if b.Downsample != nil {
		id = b.Downsample.Forward(x)
	}
	return nn.ReLU(nn.Add(out, id))
}

// Params implements nn.Module, in state_dict order.
func (b *Bottleneck) Params() []*nn.Param {
	ms := nn.Modules{b.Conv1, b.BN1, b.Conv2, b.BN2, b.Conv3, b.BN3}
	if b.Downsample != nil {
		ms = append(ms, b.Downsample)
	}
	return ms.Params()
}

// SetTraining implements nn.Module.
func (b *Bottleneck) SetTraining(t bool) {
	for _, bn := range []*nn.BatchNorm{b.BN1, b.BN2, b.BN3} {
		bn.SetTraining(t)
	}
	if b.Downsample != nil {
		b.Downsample.SetTraining(t)
	}
}

// NewResNet builds ResNet-depth, depth one of 18, 34, 50, 101, 152, with
// cfg.Width base channels (0: 64) and the stem cfg.CIFARStem chooses,
// initialized as torchvision initializes it (weightinit.ResNet) unless
// cfg.NoInit. It starts in Train mode. It panics on another depth, a
// negative Width or a WidthMult (EfficientNet's).
func NewResNet(depth int, cfg Config) *ResNet {
	layers, ok := resnetLayers[depth]
	if !ok {
		panic(fmt.Sprintf("backbone: no ResNet-%d (have %v)", depth, resnetDepths))
	}
	if cfg.Width < 0 || cfg.WidthMult != 0 {
		panic(fmt.Sprintf("backbone: ResNet-%d with Config.Width %d, WidthMult %v (a ResNet takes Width >= 0 only)", depth, cfg.Width, cfg.WidthMult))
	}
	width := cfg.Width
	if width == 0 {
		width = DefaultWidth
	}
	stem := nn.Conv2dConfig{In: 3, Out: width, Kernel: 7, Stride: 2, Padding: 3}
	if cfg.CIFARStem {
		stem = nn.Conv2dConfig{In: 3, Out: width, Kernel: 3, Stride: 1, Padding: 1}
	}
	r := &ResNet{
		name:      fmt.Sprintf("resnet%d", depth),
		expansion: 1,
		width:     width,
		cifar:     cfg.CIFARStem,
		Conv1:     nn.NewConv2d("conv1", stem),
		BN1:       nn.NewBatchNorm2d("bn1", width),
	}
	if cfg.CIFARStem {
		r.name += "-cifar"
	}
	if width != DefaultWidth {
		r.name += fmt.Sprintf("-w%d", width)
	}
	if depth >= 50 {
		r.expansion = 4
	}
	in := width
	for s, n := range layers {
		planes := width << s
		stride := 1
		if s > 0 {
			stride = 2
		}
		for i := range n {
			name := fmt.Sprintf("layer%d.%d", s+1, i)
			st := 1
			if i == 0 {
				st = stride
			}
			if r.expansion == 1 {
				r.Layers[s] = append(r.Layers[s], newBasicBlock(name, in, planes, st))
			} else {
				r.Layers[s] = append(r.Layers[s], newBottleneck(name, in, planes, st))
			}
			in = planes * r.expansion
		}
	}
	r.FC = nn.NewLinear("fc", in, cfg.classes(), true)
	if !cfg.NoInit {
		weightinit.ResNet().Apply(r, cfg.Seed)
	}
	return r
}

// Name implements Backbone: "resnet18" etc., with "-cifar" for the CIFAR
// stem and "-w16" for a Config.Width other than 64 ("resnet18-cifar-w16";
// New accepts every form).
func (r *ResNet) Name() string { return r.name }

// FeatureDim implements Backbone: 512 for ResNet-18/34, 2048 for the
// bottleneck ResNets (8·Width and 32·Width in general).
func (r *ResNet) FeatureDim() int { return 8 * r.width * r.expansion }

// MapChannels implements Backbone: the widths of C3, C4, C5.
func (r *ResNet) MapChannels() []int {
	c := r.width * r.expansion
	return []int{2 * c, 4 * c, 8 * c}
}

// trunk builds (once per input node) the stem and the four stages and
// returns their outputs: the stem's (after the max-pool, if any), then
// layer1's .. layer4's.
func (r *ResNet) trunk(x *G.Node) []*G.Node {
	return r.last.get(x, func() []*G.Node {
		checkInput(r.name, x)
		h := nn.ReLU(r.BN1.Forward(r.Conv1.Forward(x)))
		if !r.cifar {
			h = nn.MaxPool2d(h, 3, 2, 1)
		}
		out := []*G.Node{h}
		for _, blocks := range r.Layers {
			for _, b := range blocks {
				h = b.Forward(h)
			}
			out = append(out, h)
		}
		return out
	})
}

// Features implements Backbone: global average pool of layer4's output.
func (r *ResNet) Features(x *G.Node) *G.Node { return nn.GlobalAvgPool2d(r.trunk(x)[4]) }

// FeatureMaps implements Backbone: C3, C4, C5, the outputs of layer2,
// layer3 and layer4 (strides 8, 16, 32; 2, 4, 8 with the CIFAR stem).
func (r *ResNet) FeatureMaps(x *G.Node) []*G.Node { return append([]*G.Node(nil), r.trunk(x)[2:]...) }

// StageOutputs implements Staged: the outputs of the stem (after its max-pool),
// layer1, layer2, layer3 and layer4, named "stem", "layer1" .. "layer4".
func (r *ResNet) StageOutputs(x *G.Node) ([]string, []*G.Node) {
	return []string{"stem", "layer1", "layer2", "layer3", "layer4"}, append([]*G.Node(nil), r.trunk(x)...)
}

// Classify implements Backbone: fc.
func (r *ResNet) Classify(features *G.Node) *G.Node { return r.FC.Forward(features) }

// ClassifierParams returns fc's parameters (weightinit.Classifier).
func (r *ResNet) ClassifierParams() []*nn.Param { return r.FC.Params() }

// Params implements nn.Module, in torchvision's state_dict order.
func (r *ResNet) Params() []*nn.Param {
	ms := nn.Modules{r.Conv1, r.BN1}
	for _, blocks := range r.Layers {
		for _, b := range blocks {
			ms = append(ms, b)
		}
	}
	return append(ms, r.FC).Params()
}

// SetTraining implements nn.Module: BatchNorm uses batch statistics in
// Train mode and running statistics in Eval mode.
func (r *ResNet) SetTraining(t bool) {
	r.BN1.SetTraining(t)
	for _, blocks := range r.Layers {
		for _, b := range blocks {
			b.SetTraining(t)
		}
	}
}

// BatchNorms returns every BatchNorm layer, in state_dict order: for
// switching only them to Train mode (batch statistics) or freezing them.
func (r *ResNet) BatchNorms() []*nn.BatchNorm {
	out := []*nn.BatchNorm{r.BN1}
	for _, blocks := range r.Layers {
		for _, b := range blocks {
			var ds *Downsample
			switch b := b.(type) {
			case *BasicBlock:
				out = append(out, b.BN1, b.BN2)
				ds = b.Downsample
			case *Bottleneck:
				out = append(out, b.BN1, b.BN2, b.BN3)
				ds = b.Downsample
			}
			if ds != nil {
				out = append(out, ds.BN)
			}
		}
	}
	return out
}
