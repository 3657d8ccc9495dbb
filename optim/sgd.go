package optim

import (
	"fmt"

	"gorgonia.org/tensor"

	"github.com/disiam/disiam/nn"
)

// SGDConfig configures SGD exactly as torch.optim.SGD's arguments (the
// learning rate is given to each Step). Zero values are PyTorch's
// defaults: no momentum, no dampening, no weight decay, no Nesterov.
type SGDConfig struct {
	Momentum    float64 // momentum factor μ (thesis: 0.9)
	Dampening   float64 // dampening of the gradient in the momentum buffer
	WeightDecay float64 // L2 penalty added to the gradient (thesis: 1e-4)
	Nesterov    bool    // Nesterov momentum (needs Momentum > 0, Dampening 0)
}

// SimSiamSGD is the optimizer setting of SimSiam, DiSiam and DiSiam+ in
// thesis Section 4.3 (and the SimSiam paper): "Stochastic Gradient Descent
// with a momentum of 0.9 and a weight decay of 10⁻⁴".
var SimSiamSGD = SGDConfig{Momentum: 0.9, WeightDecay: 1e-4}

// SGD is stochastic gradient descent with momentum and weight decay,
// step for step torch.optim.SGD (the single-tensor path of PyTorch 1.13):
//
//	d = g + wd·p
//	b = d at a parameter's first step, else μ·b + (1-dampening)·d
//	d = d + μ·b (Nesterov) or b
//	p = p - lr·d
//
// in float32, with weight decay applied to every parameter it is given
// (BatchNorm and biases included, as in SimSiam's reference code).
type SGD struct {
	cfg SGDConfig
	buffers
}

// NewSGD returns an SGD optimizer over params (typically nn.Trainable of
// the model). It panics on an invalid configuration, a parameter that is
// not float32, or two parameters with the same name (the state is keyed
// by name).
func NewSGD(params []*nn.Param, cfg SGDConfig) *SGD {
	if cfg.Momentum < 0 || cfg.WeightDecay < 0 {
		panic(fmt.Sprintf("optim: NewSGD: invalid config %+v", cfg))
	}
	if cfg.Nesterov && (cfg.Momentum <= 0 || cfg.Dampening != 0) {
		panic("optim: NewSGD: Nesterov momentum requires a momentum and zero dampening")
	}
	return &SGD{cfg: cfg, buffers: newBuffers("SGD", params)}
}

// Config returns the optimizer's configuration.
func (o *SGD) Config() SGDConfig { return o.cfg }

// Step implements Optimizer.
func (o *SGD) Step(lr float64) {
	for i, p := range o.params {
		g := grad("SGD", p)
		if g == nil {
			continue
		}
		o.step(i, p, g, update{wd: float32(o.cfg.WeightDecay)}, lr, o.cfg.Momentum, o.cfg.Dampening, o.cfg.Nesterov)
	}
}

// step updates parameter i; shared by SGD and LARS.
func (b *buffers) step(i int, p *nn.Param, g []float32, u update, lr, momentum, dampening float64, nesterov bool) {
	var buf []float32
	first := false
	if momentum != 0 {
		if b.buf[i] == nil {
			b.buf[i] = make([]float32, len(g))
			first = true
		}
		buf = b.buf[i]
	}
	sgdUpdate(p.Data(), g, buf, u, first, lr, momentum, dampening, nesterov)
}

// LoadState implements Optimizer.
func (o *SGD) LoadState(state map[string]*tensor.Dense) error {
	return o.load("SGD", state)
}
