package optim

import (
	"fmt"
	"sort"
)

// MultiStep is step decay, torch.optim.lr_scheduler.MultiStepLR: the
// rate is Base multiplied by Gamma once for every milestone reached,
//
//	lr_k = Base · Gamma^(number of milestones m ≤ k),
//
// a milestone listed twice counting twice, as PyTorch's Counter of
// milestones does. Milestones are in the schedule's own unit: steps, or
// epochs inside PerEpoch (torchvision's detection recipe decays at epochs
// 16 and 22 of 26 with Gamma 0.1).
type MultiStep struct {
	Base       float64
	Milestones []int
	Gamma      float64
}

// At implements Schedule.
func (m MultiStep) At(k int) float64 {
	if !sort.IntsAreSorted(m.Milestones) {
		panic(fmt.Sprintf("optim: MultiStep: milestones %v are not ascending", m.Milestones))
	}
	lr := m.Base
	for _, ms := range m.Milestones {
		if ms > k {
			break
		}
		lr *= m.Gamma
	}
	return lr
}

// LinearWarmup multiplies a schedule by the factor of
// torch.optim.lr_scheduler.LinearLR with end factor 1,
//
//	f_k = StartFactor + (1 − StartFactor) · min(k, Steps)/Steps,
//
// so the rate climbs linearly from StartFactor·lr_0 and equals the
// underlying schedule from step Steps on. torchvision's detection
// reference warms up with StartFactor 1e-3 over min(1000, steps per
// epoch − 1) iterations of the first epoch, its MultiStepLR (per epoch)
// running underneath:
//
//	optim.LinearWarmup{
//		Schedule:    optim.PerEpoch{Schedule: optim.MultiStep{Base: 0.01, Milestones: []int{16, 22}, Gamma: 0.1}, StepsPerEpoch: spe},
//		StartFactor: 1e-3, Steps: min(1000, spe-1),
//	}
//
// PyTorch updates the rate multiplicatively (the chainable form); this
// closed form agrees with it to rounding (relative 1e-15). Steps 0 means
// no warmup.
type LinearWarmup struct {
	Schedule    Schedule
	StartFactor float64
	Steps       int
}

// At implements Schedule.
func (w LinearWarmup) At(k int) float64 {
	if w.Steps < 0 || w.StartFactor < 0 || w.StartFactor > 1 {
		panic(fmt.Sprintf("optim: LinearWarmup: StartFactor %v, Steps %d; want 0 ≤ StartFactor ≤ 1, Steps ≥ 0", w.StartFactor, w.Steps))
	}
	lr := w.Schedule.At(k)
	if k >= w.Steps {
		return lr
	}
	k = max(k, 0)
	return lr * (w.StartFactor + (1-w.StartFactor)*float64(k)/float64(w.Steps))
}
