package optim

import (
	"fmt"

	"gorgonia.org/tensor"

	"github.com/disiam/disiam/internal/parallel"
	"github.com/disiam/disiam/nn"
)

// Accumulator simulates a large batch with several smaller ones (thesis
// Section 4.3 uses it for COCO): after each micro-batch's backward pass,
// Add adds every parameter's Grad to a running sum; Finish then points each
// parameter's Grad at the mean over the micro-batches, ready for an
// optimizer Step.
//
// With a loss that is a mean over samples and k micro-batches of equal
// size, the mean of the k gradients is the gradient of the large batch's
// mean loss; it is not identical where samples interact within a batch:
// BatchNorm statistics and NT-Xent negatives come from each micro-batch.
type Accumulator struct {
	params []*nn.Param
	sum    [][]float32
	mean   []*tensor.Dense
	seen   []bool
	n      int
}

// NewAccumulator returns an accumulator for params (float32).
func NewAccumulator(params []*nn.Param) *Accumulator {
	a := &Accumulator{params: append([]*nn.Param(nil), params...)}
	a.sum = make([][]float32, len(params))
	a.mean = make([]*tensor.Dense, len(params))
	a.seen = make([]bool, len(params))
	for i, p := range params {
		if p.Value.Dtype() != tensor.Float32 {
			panic(fmt.Sprintf("optim: NewAccumulator: parameter %q is %v, want float32", p.Name, p.Value.Dtype()))
		}
		a.sum[i] = make([]float32, p.Numel())
		a.mean[i] = tensor.New(tensor.WithShape(p.Shape().Clone()...), tensor.Of(tensor.Float32))
	}
	return a
}

// Add adds the current gradients (those of the last Program.Run) to the
// sums; a parameter whose Grad is nil contributes zero.
func (a *Accumulator) Add() {
	for i, p := range a.params {
		g := grad("Accumulator", p)
		if g == nil {
			continue
		}
		s := a.sum[i]
		first := !a.seen[i]
		a.seen[i] = true
		parallel.For(len(s), elemGrain, func(lo, hi int) {
			if first {
				copy(s[lo:hi], g[lo:hi])
				return
			}
			for j := lo; j < hi; j++ {
				s[j] += g[j]
			}
		})
	}
	a.n++
}

// Count returns the number of micro-batches added since the last Finish.
func (a *Accumulator) Count() int { return a.n }

// Finish sets each parameter's Grad to the mean of the gradients added
// since the last Finish (sum/count; a tensor the accumulator owns, valid
// until the next Finish) and starts a new accumulation. Parameters that
// never had a gradient keep a nil Grad. It returns the number of
// micro-batches averaged and panics if there were none.
func (a *Accumulator) Finish() int {
	if a.n == 0 {
		panic("optim: Accumulator.Finish without Add")
	}
	inv := 1 / float32(a.n)
	for i, p := range a.params {
		if !a.seen[i] {
			p.Grad = nil
			continue
		}
		s, m := a.sum[i], a.mean[i].Data().([]float32)
		if a.n == 1 {
			copy(m, s)
		} else {
			parallel.For(len(s), elemGrain, func(lo, hi int) {
				for j := lo; j < hi; j++ {
					m[j] = s[j] * inv
				}
			})
		}
		p.Grad = a.mean[i]
		a.seen[i] = false
	}
	n := a.n
	a.n = 0
	return n
}
