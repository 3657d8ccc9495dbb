package ssl

import (
	"fmt"
	"strconv"

	G "gorgonia.org/gorgonia"

	weightinit "github.com/disiam/disiam/init"
	"github.com/disiam/disiam/nn"
)

// Head is a projection or prediction head: a module mapping [N, in]
// embeddings (a backbone's features, or a projection) to [N, out].
// Forward adds the head to x's graph; call it once per view (the views
// share the head's parameters, and BatchNorm layers see each view as its
// own batch, as in PyTorch). Train and Eval mode are switched with
// SetTraining.
type Head interface {
	nn.Module
	Forward(x *G.Node) *G.Node
}

// Norm is a block's normalization after its linear layer.
type Norm int

const (
	NoNorm            Norm = iota // no normalization
	BatchNorm                     // BatchNorm1d with learnable weight and bias
	BatchNormNoAffine             // BatchNorm1d(affine=False): normalization only
)

// String returns the constant's name.
func (n Norm) String() string {
	switch n {
	case NoNorm:
		return "none"
	case BatchNorm:
		return "batchnorm"
	case BatchNormNoAffine:
		return "batchnorm(affine=false)"
	}
	return "Norm(" + strconv.Itoa(int(n)) + ")"
}

// Activation is a block's non-linearity after its normalization.
type Activation int

const (
	NoActivation Activation = iota // identity
	ReLU                           // max(0, x)
)

// String returns the constant's name.
func (a Activation) String() string {
	switch a {
	case NoActivation:
		return "none"
	case ReLU:
		return "relu"
	}
	return "Activation(" + strconv.Itoa(int(a)) + ")"
}

// Block is one layer of an MLP head: Linear(In, Out, bias=Bias), then
// Norm, then Activation — one tuple of lightly's ProjectionHead blocks.
// lightly drops the bias exactly where a batch norm follows (it would be
// cancelled by the normalization); the presets do the same.
type Block struct {
	In, Out    int
	Bias       bool
	Norm       Norm
	Activation Activation
}

// MLP is a head built from blocks. Its parameters are named as the
// state_dict of lightly's ProjectionHead, whose nn.Sequential numbers the
// Linear, BatchNorm1d and ReLU modules consecutively:
//
//	NAME.layers.0.weight        Linear of block 0 [Out, In] (and .bias)
//	NAME.layers.1.weight        its BatchNorm1d (.bias, .running_mean,
//	                            .running_var, .num_batches_tracked)
//	                            (layers.2 is the ReLU, which has no parameters)
//	NAME.layers.3.weight        Linear of block 1, and so on,
//
// so a PyTorch model holding the head as attribute NAME (lightly's
// examples: projection_head, prediction_head) has the same keys.
type MLP struct {
	name    string
	blocks  []Block
	linears []*nn.Linear
	norms   []*nn.BatchNorm // nil where a block has none
}

// NewMLP returns an MLP head named name (the state_dict prefix) with the
// given blocks, initialized as PyTorch initializes nn.Linear and
// nn.BatchNorm1d on construction (weightinit.PyTorch(): weights and biases
// U(±1/sqrt(in)), BatchNorm weight 1 and bias 0), drawing from seed; a
// weightinit.Scheme can re-initialize it. It starts in Train mode. It
// panics on an empty block list, non-positive sizes, or a block whose In
// differs from the previous block's Out.
func NewMLP(name string, blocks []Block, seed uint64) *MLP {
	if len(blocks) == 0 {
		panic(fmt.Sprintf("ssl: NewMLP(%q): no blocks", name))
	}
	m := &MLP{name: name, blocks: append([]Block(nil), blocks...)}
	idx := 0
	for i, b := range blocks {
		if b.In <= 0 || b.Out <= 0 {
			panic(fmt.Sprintf("ssl: NewMLP(%q): block %d has sizes %d -> %d", name, i, b.In, b.Out))
		}
		if i > 0 && b.In != blocks[i-1].Out {
			panic(fmt.Sprintf("ssl: NewMLP(%q): block %d takes %d features, block %d gives %d", name, i, b.In, i-1, blocks[i-1].Out))
		}
		m.linears = append(m.linears, nn.NewLinear(layerName(name, idx), b.In, b.Out, b.Bias))
		idx++
		var bn *nn.BatchNorm
		switch b.Norm {
		case NoNorm:
		case BatchNorm, BatchNormNoAffine:
			bn = nn.NewBatchNorm(layerName(name, idx), nn.BatchNormConfig{Features: b.Out, NoAffine: b.Norm == BatchNormNoAffine})
			idx++
		default:
			panic(fmt.Sprintf("ssl: NewMLP(%q): block %d: unknown %v", name, i, b.Norm))
		}
		m.norms = append(m.norms, bn)
		switch b.Activation {
		case NoActivation:
		case ReLU:
			idx++
		default:
			panic(fmt.Sprintf("ssl: NewMLP(%q): block %d: unknown %v", name, i, b.Activation))
		}
	}
	weightinit.PyTorch().Apply(m, seed)
	return m
}

func layerName(prefix string, i int) string { return nn.Join(prefix, "layers."+strconv.Itoa(i)) }

// Blocks returns a copy of the head's blocks.
func (m *MLP) Blocks() []Block { return append([]Block(nil), m.blocks...) }

// InDim is the number of input features.
func (m *MLP) InDim() int { return m.blocks[0].In }

// OutDim is the number of output features.
func (m *MLP) OutDim() int { return m.blocks[len(m.blocks)-1].Out }

// Forward implements Head: x [N, InDim] to [N, OutDim].
func (m *MLP) Forward(x *G.Node) *G.Node {
	if x.Dims() != 2 || x.Shape()[1] != m.InDim() {
		panic(fmt.Sprintf("ssl: MLP %q: input %v, want [N, %d]", m.name, x.Shape(), m.InDim()))
	}
	for i, b := range m.blocks {
		x = m.linears[i].Forward(x)
		if m.norms[i] != nil {
			x = m.norms[i].Forward(x)
		}
		if b.Activation == ReLU {
			x = nn.ReLU(x)
		}
	}
	return x
}

// Params implements nn.Module, in state_dict order.
func (m *MLP) Params() []*nn.Param {
	var ps []*nn.Param
	for i, l := range m.linears {
		ps = append(ps, l.Params()...)
		if m.norms[i] != nil {
			ps = append(ps, m.norms[i].Params()...)
		}
	}
	return ps
}

// SetTraining implements nn.Module: BatchNorm layers use batch statistics
// in Train mode and running statistics in Eval mode.
func (m *MLP) SetTraining(training bool) {
	for _, bn := range m.norms {
		if bn != nil {
			bn.SetTraining(training)
		}
	}
}

// The presets below return the blocks of each paper's heads, to pass to
// NewMLP (or to edit first: heads are data). Sizes follow lightly's
// arguments (input, hidden, output).

// SimSiamProjector returns SimSiam's projection MLP with the given number
// of layers (≥ 2): "The projection MLP (in f) has BN applied to each
// fully-connected (fc) layer, including its output fc. Its output fc has
// no ReLU. The hidden fc is 2048-d. This MLP has 3 layers." (Chen & He,
// "Exploring Simple Siamese Representation Learning", CVPR 2021, Sec. 4;
// its CIFAR-10 experiments use 2 layers). Thesis Figure 5.32 finds 2
// layers better than 3 for SimSiam, DiSiam and DiSiam+ (as BYOL did), and
// peers/bench.py uses 2 (in, 2048, 2048). Blocks:
//
//	(in → hidden,  BN, ReLU, no bias) × (layers-1), hidden → hidden after the first
//	(hidden → out, BN(affine=False), no ReLU, no bias)
//
// as lightly's SimSiamProjectionHead and SimSiam's reference code
// (facebookresearch/simsiam builder.py: BatchNorm1d(dim, affine=False),
// the output fc's bias frozen "as it is followed by BN"). peers/bench.py's
// mlp keeps the last BatchNorm affine (2·out more parameters, same
// compute); this preset follows the paper's code and lightly, whose
// normalization-only output layer is part of what is being reproduced.
func SimSiamProjector(in, hidden, out, layers int) []Block {
	if layers < 2 {
		panic(fmt.Sprintf("ssl: SimSiamProjector: %d layers, want ≥ 2", layers))
	}
	var bs []Block
	d := in
	for i := 0; i < layers-1; i++ {
		bs = append(bs, Block{In: d, Out: hidden, Norm: BatchNorm, Activation: ReLU})
		d = hidden
	}
	return append(bs, Block{In: d, Out: out, Norm: BatchNormNoAffine})
}

// SimSiamPredictor returns SimSiam's prediction MLP, a bottleneck (2048 →
// 512 → 2048 in the paper): "The prediction MLP (h) has BN applied to its
// hidden fc layers. Its output fc does not have BN (...) or ReLU. This MLP
// has 2 layers." (Chen & He, CVPR 2021, Sec. 4). Blocks:
//
//	(in → hidden, BN, ReLU, no bias), (hidden → out, bias)
//
// as lightly's SimSiamPredictionHead and the reference code's
// nn.Linear(pred_dim, dim) (peers/bench.py drops that bias too; one vector
// of out values).
func SimSiamPredictor(in, hidden, out int) []Block {
	return []Block{
		{In: in, Out: hidden, Norm: BatchNorm, Activation: ReLU},
		{In: hidden, Out: out, Bias: true},
	}
}

// SimCLRProjector returns SimCLR's projection head: "We use a MLP with one
// hidden layer to obtain z_i = g(h_i) = W⁽²⁾σ(W⁽¹⁾h_i) where σ is a ReLU
// non-linearity." (Chen et al., "A Simple Framework for Contrastive
// Learning of Visual Representations", ICML 2020, Sec. 2.1), with biases,
// no batch norm, hidden 2048 and output 128 as peers/bench.py
// (nn.Linear(d, 2048), ReLU, nn.Linear(2048, 128)). Blocks:
//
//	(in → hidden, bias, ReLU), (hidden → out, bias)
func SimCLRProjector(in, hidden, out int) []Block {
	return []Block{
		{In: in, Out: hidden, Bias: true, Activation: ReLU},
		{In: hidden, Out: out, Bias: true},
	}
}

// BYOLProjector returns BYOL's projection MLP: "This MLP consists in a
// linear layer with output size 4096 followed by batch normalization,
// rectified linear units (ReLU), and a final linear layer with output
// dimension 256." (Grill et al., "Bootstrap Your Own Latent", NeurIPS
// 2020, Sec. 3.3). Blocks, as lightly's BYOLProjectionHead:
//
//	(in → hidden, BN, ReLU, no bias), (hidden → out, bias)
func BYOLProjector(in, hidden, out int) []Block {
	return []Block{
		{In: in, Out: hidden, Norm: BatchNorm, Activation: ReLU},
		{In: hidden, Out: out, Bias: true},
	}
}

// BYOLPredictor returns BYOL's prediction MLP, which "uses the same
// architecture as g_θ" (BYOL, Sec. 3.3): BYOLProjector's blocks with the
// projection's size as input (256 → 4096 → 256), as lightly's
// BYOLPredictionHead. DYOL uses the same heads.
func BYOLPredictor(in, hidden, out int) []Block { return BYOLProjector(in, hidden, out) }

// Head sizes of the papers, for the presets' arguments.
const (
	SimSiamHidden          = 2048 // SimSiam projector hidden and output width
	SimSiamPredictorHidden = 512  // SimSiam predictor bottleneck
	SimCLRHidden           = 2048 // SimCLR projector hidden width (bench.py)
	SimCLROut              = 128  // SimCLR projection width
	BYOLHidden             = 4096 // BYOL projector and predictor hidden width
	BYOLOut                = 256  // BYOL projection width
)
