package optim

import (
	"fmt"
	"math"
	"sort"

	"gorgonia.org/tensor"

	"github.com/disiam/disiam/internal/parallel"
	"github.com/disiam/disiam/nn"
)

// Optimizer updates parameters in place from their gradients.
type Optimizer interface {
	// Step applies one update with learning rate lr to every parameter
	// whose Grad is not nil (a parameter without a gradient is left
	// alone, as PyTorch skips p.grad None).
	Step(lr float64)
	// State returns a copy of the optimizer's per-parameter buffers keyed
	// by parameter name, each shaped like its parameter. Parameters that
	// have not been stepped yet have no entry.
	State() map[string]*tensor.Dense
	// LoadState replaces the buffers with copies of state (as returned by
	// State), so that training resumes exactly. It returns an error naming
	// an unknown parameter or a wrong shape or dtype, and then leaves the
	// optimizer unchanged.
	LoadState(state map[string]*tensor.Dense) error
}

// elemGrain is the number of elements a parallel chunk updates.
const elemGrain = 1 << 14

// buffers is the per-parameter state shared by SGD and LARS: one momentum
// buffer per parameter, created at its first step.
type buffers struct {
	params []*nn.Param
	index  map[string]int
	buf    [][]float32 // nil until the parameter's first step
}

func newBuffers(who string, params []*nn.Param) buffers {
	b := buffers{params: append([]*nn.Param(nil), params...), index: map[string]int{}, buf: make([][]float32, len(params))}
	for i, p := range params {
		if p == nil || p.Value == nil {
			panic(fmt.Sprintf("optim: %s: parameter %d is nil", who, i))
		}
		if p.Value.Dtype() != tensor.Float32 {
			panic(fmt.Sprintf("optim: %s: parameter %q is %v, want float32", who, p.Name, p.Value.Dtype()))
		}
		if _, dup := b.index[p.Name]; dup {
			panic(fmt.Sprintf("optim: %s: two parameters named %q (state is keyed by name; give the modules distinct prefixes)", who, p.Name))
		}
		b.index[p.Name] = i
	}
	return b
}

// grad returns p's gradient as float32, or nil.
func grad(who string, p *nn.Param) []float32 {
	if p.Grad == nil {
		return nil
	}
	g, ok := p.Grad.Data().([]float32)
	if !ok || len(g) != p.Numel() {
		panic(fmt.Sprintf("optim: %s: gradient of %q is %v %v, want float32 %v", who, p.Name, p.Grad.Dtype(), p.Grad.Shape(), p.Shape()))
	}
	return g
}

func (b *buffers) State() map[string]*tensor.Dense {
	out := map[string]*tensor.Dense{}
	for i, p := range b.params {
		if b.buf[i] == nil {
			continue
		}
		out[p.Name] = tensor.New(tensor.WithShape(p.Shape().Clone()...), tensor.WithBacking(append([]float32(nil), b.buf[i]...)))
	}
	return out
}

func (b *buffers) load(who string, state map[string]*tensor.Dense) error {
	names := make([]string, 0, len(state))
	for k := range state {
		names = append(names, k)
	}
	sort.Strings(names)
	next := make([][]float32, len(b.params))
	for _, name := range names {
		t := state[name]
		i, ok := b.index[name]
		if !ok {
			return fmt.Errorf("optim: %s: load state: unknown parameter %q", who, name)
		}
		p := b.params[i]
		if t == nil || t.Dtype() != tensor.Float32 || !t.Shape().Eq(p.Shape()) {
			var got string
			if t != nil {
				got = fmt.Sprintf("%v %v", t.Dtype(), t.Shape())
			}
			return fmt.Errorf("optim: %s: load state: %q is %s, want float32 %v", who, name, got, p.Shape())
		}
		next[i] = append([]float32(nil), t.Data().([]float32)...)
	}
	b.buf = next
	return nil
}

// fma32 returns a*b + c rounded once to float32, as PyTorch's vectorized
// CPU kernels compute x.add(y, alpha=a) (fmadd) and as the FMA instruction
// of update_amd64.s does. The product of two float32 values is exact in
// float64; the sum is rounded to float64 with round-to-odd (the rounding
// error, exact by Knuth's TwoSum, decides whether to step to the odd
// neighbour), and a round-to-odd result with 29 bits to spare rounds to
// float32 exactly as the exact sum would, so no double rounding remains.
func fma32(a, b, c float32) float32 {
	p, c64 := float64(a)*float64(b), float64(c)
	s := p + c64
	bv := s - p
	err := (p - (s - bv)) + (c64 - bv)
	if bits := math.Float64bits(s); err != 0 && bits&1 == 0 {
		if (err > 0) == (s > 0) {
			bits++
		} else {
			bits--
		}
		s = math.Float64frombits(bits)
	}
	return float32(s)
}

// update is the decayed, rescaled gradient of one parameter, in
// PyTorch's float32 order of operations:
//
//	d = g                       (no weight decay)
//	d = g + wd*p                (d_p.add(p, alpha=wd); wd ≠ 0)
//	d = (g + wd*p) * scale      (LARS: d_p *= lars_lr; scaled)
type update struct {
	wd     float32
	scale  float32
	scaled bool
}

// sgdUpdate applies PyTorch's SGD update to one parameter p with gradient
// g, in float32:
//
//	d   = u(g, p)                         (see update)
//	buf = d                               first step
//	buf = momentum*buf + (1-dampening)*d  later steps
//	d   = d + momentum*buf (Nesterov) or buf
//	p   = p - lr*d
//
// buf is nil when momentum is 0. g is not modified.
func sgdUpdate(p, g, buf []float32, u update, first bool, lr, momentum, dampening float64, nesterov bool) {
	m32, damp32, lr32 := float32(momentum), float32(1-dampening), float32(-lr)
	parallel.For(len(p), elemGrain, func(lo, hi int) {
		pp, gg := p[lo:hi], g[lo:hi]
		switch {
		case buf == nil:
			for i := range pp {
				pp[i] = fma32(lr32, u.grad(gg[i], pp[i]), pp[i])
			}
		case first:
			bb := buf[lo:hi]
			if useFMA && !nesterov && len(pp) >= 8 {
				n := len(pp) / 8 * 8
				sgdMomentumAVX2(n, &pp[0], &gg[0], &bb[0], u.wd, u.scaleOr1(), 0, 0, lr32, true)
				pp, gg, bb = pp[n:], gg[n:], bb[n:]
			}
			for i := range pp {
				d := u.grad(gg[i], pp[i])
				bb[i] = d
				if nesterov {
					d = fma32(m32, d, d)
				}
				pp[i] = fma32(lr32, d, pp[i])
			}
		case nesterov:
			bb := buf[lo:hi]
			for i := range pp {
				d := u.grad(gg[i], pp[i])
				bb[i] = fma32(damp32, d, bb[i]*m32)
				pp[i] = fma32(lr32, fma32(m32, bb[i], d), pp[i])
			}
		default: // PyTorch's default path: momentum, no Nesterov
			bb := buf[lo:hi]
			if useFMA && len(pp) >= 8 {
				// The same operations, eight lanes at a time.
				n := len(pp) / 8 * 8
				sgdMomentumAVX2(n, &pp[0], &gg[0], &bb[0], u.wd, u.scaleOr1(), m32, damp32, lr32, false)
				pp, gg, bb = pp[n:], gg[n:], bb[n:]
			}
			for i := range pp {
				bb[i] = fma32(damp32, u.grad(gg[i], pp[i]), bb[i]*m32)
				pp[i] = fma32(lr32, bb[i], pp[i])
			}
		}
	})
}

// scaleOr1 is the factor of the update direction: 1 (exact) when unscaled.
func (u update) scaleOr1() float32 {
	if u.scaled {
		return u.scale
	}
	return 1
}

// grad returns the update direction of one element with gradient g and
// value p.
func (u update) grad(g, p float32) float32 {
	if u.wd != 0 {
		g = fma32(u.wd, p, g)
	}
	if u.scaled {
		g *= u.scale
	}
	return g
}
