package optim

import (
	"fmt"
	"math"

	"gorgonia.org/tensor"

	"github.com/disiam/disiam/internal/parallel"
	"github.com/disiam/disiam/nn"
)

// LARSConfig configures LARS. Zero TrustCoefficient and Eps mean lightly's
// defaults; a nil Exclude excludes the rank-1 parameters.
type LARSConfig struct {
	Momentum    float64 // momentum factor μ (SimCLR: 0.9)
	Dampening   float64 // dampening of the gradient in the momentum buffer
	WeightDecay float64 // L2 penalty of adapted parameters (SimCLR: 1e-6)
	Nesterov    bool    // Nesterov momentum (needs Momentum > 0, Dampening 0)
	// TrustCoefficient η of the layer-wise rate (default 0.001).
	TrustCoefficient float64
	// Eps is added to the rate's denominator (default 1e-8).
	Eps float64
	// Exclude selects the parameters that get neither weight decay nor
	// the layer-wise rate, only momentum SGD. Default: parameters of rank
	// 1, i.e. biases and BatchNorm weights and biases, as SimCLR excludes
	// "batch_normalization" and "bias" variables and lightly's benchmarks
	// put them in a weight-decay-0 group.
	Exclude func(p *nn.Param) bool
}

// SimCLRLARS is the optimizer setting of SimCLR in thesis Section 4.3:
// "LARS with a momentum of 0.9 and a weight decay of 10⁻⁶", trust
// coefficient 0.001, BatchNorm and bias parameters excluded.
var SimCLRLARS = LARSConfig{Momentum: 0.9, WeightDecay: 1e-6}

// LARS is layer-wise adaptive rate scaling (You et al. 2017, "Large batch
// training of convolutional networks") in the form lightly uses for SimCLR
// (lightly/utils/lars.py, from PyTorch Lightning Bolts). For a parameter p
// that is not excluded, with ‖·‖ the L2 norm over the whole tensor:
//
//	if ‖p‖ ≠ 0 and ‖g‖ ≠ 0 (and weight decay ≠ 0):
//	    r = η·‖p‖ / (‖g‖ + wd·‖p‖ + eps)
//	    d = (g + wd·p)·r
//	else d = g
//
// then the momentum SGD update of SGD with d in place of the gradient and
// the scheduled learning rate lr. Excluded parameters take the plain
// momentum SGD step with d = g. Note the quirk kept from lightly: where a
// norm is zero neither the rate nor the weight decay is applied. The norms
// are accumulated in float64 and rounded to float32, PyTorch's are float32
// reductions, so updates agree with lightly's to float32 rounding (not
// bit for bit). SimCLR's original TensorFlow LARS differs in where the
// learning rate enters the momentum (v = μv + lr·r·d), which matters only
// while the learning rate changes.
type LARS struct {
	cfg LARSConfig
	buffers
}

// NewLARS returns a LARS optimizer over params. It panics on an invalid
// configuration, a parameter that is not float32, or two parameters with
// the same name.
func NewLARS(params []*nn.Param, cfg LARSConfig) *LARS {
	if cfg.Momentum < 0 || cfg.WeightDecay < 0 || cfg.TrustCoefficient < 0 || cfg.Eps < 0 {
		panic(fmt.Sprintf("optim: NewLARS: invalid config %+v", cfg))
	}
	if cfg.Nesterov && (cfg.Momentum <= 0 || cfg.Dampening != 0) {
		panic("optim: NewLARS: Nesterov momentum requires a momentum and zero dampening")
	}
	if cfg.TrustCoefficient == 0 {
		cfg.TrustCoefficient = 0.001
	}
	if cfg.Eps == 0 {
		cfg.Eps = 1e-8
	}
	if cfg.Exclude == nil {
		cfg.Exclude = ExcludeRank1
	}
	return &LARS{cfg: cfg, buffers: newBuffers("LARS", params)}
}

// ExcludeRank1 reports whether p has rank 1 (a bias or a BatchNorm weight
// or bias): LARS's default exclusion.
func ExcludeRank1(p *nn.Param) bool { return p.Shape().Dims() == 1 }

// Config returns the optimizer's configuration, defaults filled in.
func (o *LARS) Config() LARSConfig { return o.cfg }

// Step implements Optimizer.
func (o *LARS) Step(lr float64) {
	c := o.cfg
	for i, p := range o.params {
		g := grad("LARS", p)
		if g == nil {
			continue
		}
		var u update
		if c.WeightDecay != 0 && !c.Exclude(p) {
			pn, gn := norm32(p.Data()), norm32(g)
			if pn != 0 && gn != 0 {
				// lars_lr = p_norm / (g_norm + p_norm*wd + eps) * trust, each
				// operation a float32 tensor operation in PyTorch.
				den := (gn + float32(pn*float32(c.WeightDecay))) + float32(c.Eps)
				u = update{wd: float32(c.WeightDecay), scale: float32(pn/den) * float32(c.TrustCoefficient), scaled: true}
			}
		}
		o.step(i, p, g, u, lr, c.Momentum, c.Dampening, c.Nesterov)
	}
}

// norm32 returns the L2 norm of x, accumulated in float64 per chunk and
// combined in chunk order (independent of the number of workers).
func norm32(x []float32) float32 {
	parts := make([]float64, parallel.Chunks(len(x), elemGrain))
	parallel.For(len(x), elemGrain, func(lo, hi int) {
		var s float64
		for _, v := range x[lo:hi] {
			s += float64(v) * float64(v)
		}
		parts[lo/elemGrain] = s
	})
	var s float64
	for _, v := range parts {
		s += v
	}
	return float32(math.Sqrt(s))
}

// LoadState implements Optimizer.
func (o *LARS) LoadState(state map[string]*tensor.Dense) error {
	return o.load("LARS", state)
}
