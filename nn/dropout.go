package nn

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/internal/parallel"
)

// splitmix64 is the mixing function of the mask generator (see
// "Determinism" in the package documentation) and of the golden value rule.
func splitmix64(x uint64) uint64 {
	x += 0x9E3779B97F4A7C15
	z := x
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

func maskKey(seed, counter uint64) uint64 { return splitmix64(splitmix64(seed) + counter) }

// keep reports whether index i survives under key with drop probability p.
func keep(key uint64, i int, p float64) bool {
	return float64(splitmix64(key+uint64(i))>>11)*0x1p-53 >= p
}

// Dropout zeroes each element of its input with probability P in Train mode
// and scales the survivors by 1/(1-P) (torch.nn.Dropout); in Eval mode, or
// with P == 0, it is the identity. P == 1 zeroes everything. Masks are
// deterministic: see "Determinism" in the package documentation.
type Dropout struct {
	P    float64 // drop probability in [0, 1]
	Seed uint64
	// Counter is the number of masks drawn so far: one per Train-mode run
	// of each application with P > 0. Save it with a checkpoint and
	// restore it to resume with the same masks.
	Counter uint64
	// Training enables dropout; it is read each time the graph runs.
	Training bool
}

// NewDropout returns a Dropout layer in Train mode. It panics unless
// 0 <= p <= 1.
func NewDropout(p float64, seed uint64) *Dropout {
	checkP("NewDropout", p)
	return &Dropout{P: p, Seed: seed, Training: true}
}

func checkP(what string, p float64) {
	if !(p >= 0 && p <= 1) {
		panic(fmt.Sprintf("nn: %s: probability %v outside [0, 1]", what, p))
	}
}

// Forward applies dropout to x (any shape).
func (d *Dropout) Forward(x *G.Node) *G.Node {
	checkP("Dropout", d.P)
	return Apply(&maskKernel{dims: x.Dims(), drop: d, offset: replicaOf(x.Graph()).Offset}, x)
}

// Params implements Module: dropout has no parameters.
func (d *Dropout) Params() []*Param { return nil }

// SetTraining implements Module.
func (d *Dropout) SetTraining(t bool) { d.Training = t }

// StochasticDepth drops whole samples of a residual branch:
// torchvision.ops.StochasticDepth(p, mode="row"). In Train mode each sample
// n of its input [N, ...] is kept with probability 1-P and then scaled by
// 1/(1-P), or zeroed; in Eval mode, or with P == 0, it is the identity.
// P == 1 zeroes everything. Masks are deterministic: see "Determinism" in
// the package documentation (index i is the sample).
type StochasticDepth struct {
	P    float64 // drop probability in [0, 1]
	Seed uint64
	// Counter is the number of masks drawn so far: one per Train-mode run
	// of each application with P > 0. Save it with a checkpoint and
	// restore it to resume with the same masks.
	Counter uint64
	// Training enables the drop; it is read each time the graph runs.
	Training bool
}

// NewStochasticDepth returns a StochasticDepth layer in Train mode. It
// panics unless 0 <= p <= 1.
func NewStochasticDepth(p float64, seed uint64) *StochasticDepth {
	checkP("NewStochasticDepth", p)
	return &StochasticDepth{P: p, Seed: seed, Training: true}
}

// Forward applies stochastic depth to x [N, ...].
func (s *StochasticDepth) Forward(x *G.Node) *G.Node {
	checkP("StochasticDepth", s.P)
	if x.Dims() < 1 {
		panic("nn: StochasticDepth: input is a scalar")
	}
	return Apply(&maskKernel{dims: x.Dims(), depth: s, offset: replicaOf(x.Graph()).Offset}, x)
}

// Params implements Module: stochastic depth has no parameters.
func (s *StochasticDepth) Params() []*Param { return nil }

// SetTraining implements Module.
func (s *StochasticDepth) SetTraining(t bool) { s.Training = t }

// maskKernel is one application of a Dropout (drop != nil) or
// StochasticDepth layer. y = x * mask * scale; the backward pass reuses the
// mask of the forward pass of the same run.
type maskKernel struct {
	dims  int
	drop  *Dropout
	depth *StochasticDepth
	// offset is the global index of the first sample (Replica.Offset).
	offset int

	// Set by each forward run.
	active bool   // a mask was applied
	key    uint64 // its key
	p      float64
	rows   int // the input's leading dimension (samples)
}

func (k *maskKernel) Name() string {
	if k.drop != nil {
		return fmt.Sprintf("Dropout(p=%g)", k.drop.P)
	}
	return fmt.Sprintf("StochasticDepth(p=%g)", k.depth.P)
}
func (k *maskKernel) InDims() []int                                    { return []int{k.dims} }
func (k *maskKernel) OutShape(in []tensor.Shape) (tensor.Shape, error) { return in[0].Clone(), nil }
func (k *maskKernel) DiffWRT() []bool                                  { return []bool{true} }
func (k *maskKernel) Grad(in G.Nodes, out, dy *G.Node) (G.Nodes, error) {
	return G.Nodes{Apply(maskGradKernel{fwd: k}, dy, out)}, nil
}

func (k *maskKernel) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	if err := checkDense(in); err != nil {
		return err
	}
	var p float64
	var seed uint64
	var counter *uint64
	var training bool
	if k.drop != nil {
		p, seed, counter, training = k.drop.P, k.drop.Seed, &k.drop.Counter, k.drop.Training
	} else {
		p, seed, counter, training = k.depth.P, k.depth.Seed, &k.depth.Counter, k.depth.Training
	}
	if !(p >= 0 && p <= 1) {
		return fmt.Errorf("probability %v outside [0, 1]", p)
	}
	k.active = training && p > 0
	if k.active {
		k.key, k.p = maskKey(seed, *counter), p
		*counter++
	}
	if in[0].Shape().Dims() > 0 {
		k.rows = in[0].Shape()[0]
	}
	switch y := out.Data().(type) {
	case []float32:
		k.apply(y, asSlice[float32](in[0]))
	case []float64:
		k.apply(y, asSlice[float64](in[0]))
	default:
		return errDtype(out)
	}
	return nil
}

// apply sets y = x * mask * scale with the mask of the last forward run
// (x itself when inactive).
func (k *maskKernel) apply(y, x any) {
	switch y := y.(type) {
	case []float32:
		applyMask(k, y, x.([]float32))
	case []float64:
		applyMask(k, y, x.([]float64))
	}
}

func applyMask[T floating](k *maskKernel, y, x []T) {
	if !k.active {
		copy(y, x)
		return
	}
	// PyTorch multiplies by a noise tensor holding 1/(1-p) (computed in the
	// tensor's dtype) or 0; p == 1 gives x*0.
	var scale T
	if k.p < 1 {
		scale = 1 / T(1-k.p)
	}
	if k.depth != nil {
		rows := k.rows
		if rows == 0 {
			return
		}
		n := len(x) / rows
		parallel.For(rows, parallel.Grain(rows, max(1, 1<<14/max(n, 1))), func(lo, hi int) {
			for r := lo; r < hi; r++ {
				f := T(0)
				if keep(k.key, k.offset+r, k.p) {
					f = scale
				}
				yr, xr := y[r*n:(r+1)*n], x[r*n:(r+1)*n]
				for i, v := range xr {
					yr[i] = v * f
				}
			}
		})
		return
	}
	// Element i of sample n is element offset·(len(x)/rows) + i of the
	// global batch.
	base := 0
	if k.offset != 0 && k.rows > 0 {
		base = k.offset * (len(x) / k.rows)
	}
	parallel.For(len(x), elemGrain(len(x)), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			f := T(0)
			if keep(k.key, base+i, k.p) {
				f = scale
			}
			y[i] = x[i] * f
		}
	})
}

// maskGradKernel computes dx = dy * mask * scale with the mask of its
// forward kernel's last run: inputs (dy, y), y so that it runs after the
// forward pass.
type maskGradKernel struct{ fwd *maskKernel }

func (k maskGradKernel) Name() string  { return k.fwd.Name() + "Grad" }
func (k maskGradKernel) InDims() []int { return []int{k.fwd.dims, k.fwd.dims} }
func (k maskGradKernel) OutShape(in []tensor.Shape) (tensor.Shape, error) {
	return sameShapes(in)
}
func (k maskGradKernel) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	if err := checkDense(in); err != nil {
		return err
	}
	switch dx := out.Data().(type) {
	case []float32:
		k.fwd.apply(dx, asSlice[float32](in[0]))
	case []float64:
		k.fwd.apply(dx, asSlice[float64](in[0]))
	default:
		return errDtype(out)
	}
	return nil
}
