package optim

import (
	"fmt"
	"math"

	"github.com/disiam/disiam/internal/parallel"
	"github.com/disiam/disiam/nn"
)

// EMA moves each target parameter towards its online counterpart,
//
//	target ← τ·target + (1-τ)·online,
//
// the momentum update of BYOL's and DYOL's target networks (thesis
// Algorithm 2 line 11). For DYOL the online counterpart is the assistant
// network ψ, not the online network θ: Algorithm 5 line 15 prints
// ζ ← τζ + (1-τ)θ, but θ's architecture differs from the target's, and
// Section 3.1.5 describes the target as an average of the assistant, so
// DYOL uses ζ ← τζ + (1-τ)ψ. Parameters are paired by position; in
// float32 it computes as lightly's update_momentum (target*τ +
// online*(1-τ), each product rounded). Pass the trainable parameters of both networks (buffers such
// as BatchNorm running statistics are the caller's choice: lightly leaves
// them to the target's own forward passes). It panics if the lists differ
// in length or a pair in shape or dtype.
func EMA(target, online []*nn.Param, tau float64) {
	if len(target) != len(online) {
		panic(fmt.Sprintf("optim: EMA: %d target and %d online parameters", len(target), len(online)))
	}
	t32, o32 := float32(tau), float32(1-tau)
	for i, t := range target {
		o := online[i]
		td, ok1 := t.Value.Data().([]float32)
		od, ok2 := o.Value.Data().([]float32)
		if !ok1 || !ok2 || !t.Shape().Eq(o.Shape()) {
			panic(fmt.Sprintf("optim: EMA: target %q (%v %v) and online %q (%v %v) differ",
				t.Name, t.Value.Dtype(), t.Shape(), o.Name, o.Value.Dtype(), o.Shape()))
		}
		parallel.For(len(td), elemGrain, func(lo, hi int) {
			if useFMA && hi-lo >= 8 {
				n := (hi - lo) / 8 * 8
				emaAVX2(n, &td[lo], &od[lo], t32, o32)
				lo += n
			}
			for j := lo; j < hi; j++ {
				td[j] = float32(td[j]*t32) + float32(od[j]*o32)
			}
		})
	}
}

// MomentumSchedule is BYOL's schedule of the target momentum (BYOL
// Sec. 3.2; the thesis gives none for BYOL and DYOL, so BYOL's own is
// used):
//
//	τ_k = 1 - (1 - Base)·(cos(π k / Steps) + 1)/2,
//
// rising from Base at k = 0 to 1 at k = Steps (1 after). Base is 0.99 for
// CIFAR-scale training and 0.996 at ImageNet scale. Steps must be positive.
type MomentumSchedule struct {
	Base  float64
	Steps int
}

// At implements Schedule.
func (m MomentumSchedule) At(k int) float64 {
	if m.Steps <= 0 {
		panic(fmt.Sprintf("optim: MomentumSchedule: Steps %d, want > 0", m.Steps))
	}
	if k >= m.Steps {
		return 1
	}
	if k < 0 {
		k = 0
	}
	return 1 - (1-m.Base)*(math.Cos(math.Pi*float64(k)/float64(m.Steps))+1)/2
}
