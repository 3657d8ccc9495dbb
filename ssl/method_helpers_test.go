package ssl_test

import (
	"fmt"
	"os"
	"strconv"

	G "gorgonia.org/gorgonia"

	weightinit "github.com/disiam/disiam/init"
	"github.com/disiam/disiam/nn"
)

// tinyNet is a small convolutional backbone for fast method and trainer
// tests: stride-2 3x3 convolutions with BatchNorm and ReLU, a residual
// 3x3 block behind stochastic depth (so that checkpoints must restore a
// random layer's counter), global average pooling. It implements
// backbone.Backbone with torchvision-like names.
type tinyNet struct {
	name   string
	convs  []*nn.Conv2d
	bns    []*nn.BatchNorm
	res    *nn.Conv2d
	resBN  *nn.BatchNorm
	Depth  *nn.StochasticDepth
	fc     *nn.Linear
	width  int
	trunks map[*G.Node]*G.Node
}

// newTinyNet returns a tinyNet with the given channel widths, initialized
// by torchvision's ResNet scheme from seed.
func newTinyNet(seed uint64, widths ...int) *tinyNet {
	n := &tinyNet{name: fmt.Sprintf("tiny%v", widths), trunks: map[*G.Node]*G.Node{}}
	in := 3
	for i, w := range widths {
		n.convs = append(n.convs, nn.NewConv2d(fmt.Sprintf("conv%d", i+1), nn.Conv2dConfig{In: in, Out: w, Kernel: 3, Stride: 2, Padding: 1}))
		n.bns = append(n.bns, nn.NewBatchNorm2d(fmt.Sprintf("bn%d", i+1), w))
		in = w
	}
	n.res = nn.NewConv2d("res.conv", nn.Conv2dConfig{In: in, Out: in, Kernel: 3, Padding: 1})
	n.resBN = nn.NewBatchNorm2d("res.bn", in)
	n.Depth = nn.NewStochasticDepth(0.2, seed^0x5eed)
	n.fc = nn.NewLinear("fc", in, 10, true)
	n.width = in
	weightinit.ResNet().Apply(n, seed)
	return n
}

func (n *tinyNet) Name() string    { return n.name }
func (n *tinyNet) FeatureDim() int { return n.width }

func (n *tinyNet) trunk(x *G.Node) *G.Node {
	if y, ok := n.trunks[x]; ok {
		return y
	}
	h := x
	for i, c := range n.convs {
		h = nn.ReLU(n.bns[i].Forward(c.Forward(h)))
	}
	h = nn.ReLU(nn.Add(n.Depth.Forward(n.resBN.Forward(n.res.Forward(h))), h))
	n.trunks[x] = h
	return h
}

func (n *tinyNet) Features(x *G.Node) *G.Node      { return nn.GlobalAvgPool2d(n.trunk(x)) }
func (n *tinyNet) Classify(f *G.Node) *G.Node      { return n.fc.Forward(f) }
func (n *tinyNet) FeatureMaps(x *G.Node) []*G.Node { return []*G.Node{n.trunk(x)} }
func (n *tinyNet) MapChannels() []int              { return []int{n.width} }
func (n *tinyNet) ClassifierParams() []*nn.Param   { return n.fc.Params() }
func (n *tinyNet) SetTraining(t bool)              { n.allModules().SetTraining(t); n.Depth.SetTraining(t) }
func (n *tinyNet) Params() []*nn.Param             { return n.allModules().Params() }
func (n *tinyNet) allModules() nn.Modules {
	var ms nn.Modules
	for i, c := range n.convs {
		ms = append(ms, c, n.bns[i])
	}
	return append(ms, n.res, n.resBN, n.fc)
}

func envInt(k string, d int) int {
	if v, err := strconv.Atoi(os.Getenv(k)); err == nil {
		return v
	}
	return d
}

func envFloat(k string, d float64) float64 {
	if v, err := strconv.ParseFloat(os.Getenv(k), 64); err == nil {
		return v
	}
	return d
}
