package nn

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Conv2dConfig configures a Conv2d layer exactly like torch.nn.Conv2d.
// Zero Stride and Dilation mean 1; Groups 0 means 1; Groups == In == Out
// is a depthwise convolution.
type Conv2dConfig struct {
	In, Out  int // channels
	Kernel   int // square kernel size
	Stride   int
	Padding  int
	Dilation int
	Groups   int
	Bias     bool
}

func (c Conv2dConfig) norm() Conv2dConfig {
	if c.Stride == 0 {
		c.Stride = 1
	}
	if c.Dilation == 0 {
		c.Dilation = 1
	}
	if c.Groups == 0 {
		c.Groups = 1
	}
	return c
}

// Conv2d is a 2-D convolution layer over NCHW input with parameters
// NAME.weight of shape [Out, In/Groups, Kernel, Kernel] and, with Bias,
// NAME.bias of shape [Out].
type Conv2d struct {
	Config Conv2dConfig
	Weight *Param
	Bias   *Param // nil without bias
}

// NewConv2d returns a zero-initialized convolution named name (the
// state_dict prefix, e.g. "layer1.0.conv1"); initialize it with package
// weightinit. It panics on an invalid configuration.
func NewConv2d(name string, cfg Conv2dConfig) *Conv2d {
	cfg = cfg.norm()
	if cfg.In <= 0 || cfg.Out <= 0 || cfg.Kernel <= 0 || cfg.In%cfg.Groups != 0 || cfg.Out%cfg.Groups != 0 {
		panic(fmt.Sprintf("nn: NewConv2d(%q): invalid config %+v", name, cfg))
	}
	c := &Conv2d{Config: cfg, Weight: NewParam(Join(name, "weight"), true, cfg.Out, cfg.In/cfg.Groups, cfg.Kernel, cfg.Kernel)}
	if cfg.Bias {
		c.Bias = NewParam(Join(name, "bias"), true, cfg.Out)
	}
	return c
}

// Forward returns the convolution of x ([N, In, H, W]).
func (c *Conv2d) Forward(x *G.Node) *G.Node {
	cfg := c.Config
	y := Conv2dOp(x, c.Weight.Node(x.Graph()), cfg.Stride, cfg.Padding, cfg.Dilation, cfg.Groups)
	if c.Bias != nil {
		y = AddChannelBias(y, c.Bias.Node(x.Graph()))
	}
	return y
}

// Params implements Module.
func (c *Conv2d) Params() []*Param {
	if c.Bias != nil {
		return []*Param{c.Weight, c.Bias}
	}
	return []*Param{c.Weight}
}

// SetTraining implements Module (a convolution has no mode).
func (c *Conv2d) SetTraining(bool) {}

// Linear is a fully connected layer, y = x Wᵀ + b, with parameters
// NAME.weight [Out, In] and NAME.bias [Out], as torch.nn.Linear.
type Linear struct {
	In, Out int
	Weight  *Param
	Bias    *Param // nil without bias
}

// NewLinear returns a zero-initialized linear layer named name.
func NewLinear(name string, in, out int, bias bool) *Linear {
	if in <= 0 || out <= 0 {
		panic(fmt.Sprintf("nn: NewLinear(%q): invalid sizes %d -> %d", name, in, out))
	}
	l := &Linear{In: in, Out: out, Weight: NewParam(Join(name, "weight"), true, out, in)}
	if bias {
		l.Bias = NewParam(Join(name, "bias"), true, out)
	}
	return l
}

// Forward maps x ([N, In]) to [N, Out].
func (l *Linear) Forward(x *G.Node) *G.Node {
	g := x.Graph()
	var b *G.Node
	if l.Bias != nil {
		b = l.Bias.Node(g)
	}
	return LinearOp(x, l.Weight.Node(g), b)
}

// Params implements Module.
func (l *Linear) Params() []*Param {
	if l.Bias != nil {
		return []*Param{l.Weight, l.Bias}
	}
	return []*Param{l.Weight}
}

// SetTraining implements Module (a linear layer has no mode).
func (l *Linear) SetTraining(bool) {}

// BatchNormConfig configures a BatchNorm layer. Zero values mean PyTorch's
// defaults: Eps 1e-5, Momentum 0.1.
type BatchNormConfig struct {
	Features int
	Eps      float64
	Momentum float64
	// NoAffine drops weight and bias (affine=False, as in the last layer
	// of SimSiam's projector).
	NoAffine bool
}

// BatchNorm normalizes over the batch (and spatial) dimensions per channel,
// for [N, C] input (BatchNorm1d) or [N, C, H, W] input (BatchNorm2d), with
// PyTorch's semantics. In Train mode it uses the batch statistics and
// updates the running statistics as running = (1-m)*running + m*batch,
// with the unbiased batch variance for running_var, and increments
// num_batches_tracked, each time the graph runs. In Eval mode it uses the
// running statistics. Parameters: NAME.weight, NAME.bias (unless NoAffine)
// and the buffers NAME.running_mean, NAME.running_var and
// NAME.num_batches_tracked (int64), all part of the state.
type BatchNorm struct {
	Config            BatchNormConfig
	Weight, Bias      *Param // nil with NoAffine
	RunningMean       *Param
	RunningVar        *Param
	NumBatchesTracked *Param // int64 scalar-shaped [] in PyTorch; here shape [1]
	// Training selects batch statistics (true) or running statistics. It
	// is read each time the graph runs.
	Training bool
}

// NewBatchNorm returns a BatchNorm layer named name with weight 1, bias 0,
// running_mean 0 and running_var 1, in Train mode.
func NewBatchNorm(name string, cfg BatchNormConfig) *BatchNorm {
	if cfg.Features <= 0 {
		panic(fmt.Sprintf("nn: NewBatchNorm(%q): invalid features %d", name, cfg.Features))
	}
	if cfg.Eps == 0 {
		cfg.Eps = 1e-5
	}
	if cfg.Momentum == 0 {
		cfg.Momentum = 0.1
	}
	c := cfg.Features
	b := &BatchNorm{Config: cfg, Training: true,
		RunningMean: NewParam(Join(name, "running_mean"), false, c),
		RunningVar:  NewParam(Join(name, "running_var"), false, c),
		NumBatchesTracked: &Param{Name: Join(name, "num_batches_tracked"),
			Value: tensor.New(tensor.WithShape(1), tensor.Of(tensor.Int64))},
	}
	fill(b.RunningVar.Data(), 1)
	if !cfg.NoAffine {
		b.Weight = NewParam(Join(name, "weight"), true, c)
		b.Bias = NewParam(Join(name, "bias"), true, c)
		fill(b.Weight.Data(), 1)
	}
	return b
}

// NewBatchNorm2d is NewBatchNorm with PyTorch's defaults, for NCHW input.
func NewBatchNorm2d(name string, features int) *BatchNorm {
	return NewBatchNorm(name, BatchNormConfig{Features: features})
}

// NewBatchNorm1d is NewBatchNorm with PyTorch's defaults, for [N, C] input.
func NewBatchNorm1d(name string, features int) *BatchNorm {
	return NewBatchNorm(name, BatchNormConfig{Features: features})
}

// Params implements Module: weight, bias, running_mean, running_var,
// num_batches_tracked, in PyTorch's state_dict order.
func (b *BatchNorm) Params() []*Param {
	var ps []*Param
	if b.Weight != nil {
		ps = append(ps, b.Weight, b.Bias)
	}
	return append(ps, b.RunningMean, b.RunningVar, b.NumBatchesTracked)
}

// SetTraining implements Module.
func (b *BatchNorm) SetTraining(t bool) { b.Training = t }

func fill(d []float32, v float32) {
	for i := range d {
		d[i] = v
	}
}
