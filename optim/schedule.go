package optim

import (
	"fmt"
	"math"
)

// Schedule gives a scalar (a learning rate, an EMA momentum) for each step
// k = 0, 1, 2, ... of training. A trainer calls At with its global step
// (per-step schedules) or, through PerEpoch, with the epoch.
type Schedule interface {
	At(k int) float64
}

// Constant is a schedule that always returns its value.
type Constant float64

// At implements Schedule.
func (c Constant) At(int) float64 { return float64(c) }

// Cosine is cosine decay to zero without warmup (Loshchilov & Hutter's
// SGDR without restarts), the schedule of SimSiam, DiSiam and DiSiam+
// (thesis Section 4.3, "decaying to zero over the course of the
// training"):
//
//	lr_k = Base · ½(1 + cos(π k / Steps)),   0 ≤ k < Steps,
//
// SimSiam's reference code (main_simsiam.py adjust_learning_rate, applied
// per epoch). Base at k = 0; 0 for k ≥ Steps. Steps must be positive.
type Cosine struct {
	Base  float64
	Steps int
}

// At implements Schedule.
func (c Cosine) At(k int) float64 {
	if c.Steps <= 0 {
		panic(fmt.Sprintf("optim: Cosine: Steps %d, want > 0", c.Steps))
	}
	return cosineAt(c.Base, k, c.Steps)
}

func cosineAt(base float64, k, steps int) float64 {
	if k >= steps {
		return 0
	}
	if k < 0 {
		k = 0
	}
	return base * 0.5 * (1 + math.Cos(math.Pi*float64(k)/float64(steps)))
}

// WarmupCosine is a linear warmup over the first Warmup steps followed by
// cosine decay to zero over the remaining Steps - Warmup, SimCLR's
// schedule ("linear warmup for the first 10 epochs, and decay the learning
// rate with the cosine decay schedule without restarts", thesis
// Section 4.3):
//
//	lr_k = Base · (k+1)/Warmup                                   k < Warmup
//	lr_k = Base · ½(1 + cos(π (k-Warmup)/(Steps-Warmup)))        Warmup ≤ k < Steps
//
// and 0 for k ≥ Steps. The warmup counts k+1 as lightly's
// CosineWarmupScheduler does, so the first step does not have a zero rate
// and the last warmup step reaches Base (SimCLR's TensorFlow code uses
// k/Warmup, one step later). Steps must exceed Warmup ≥ 0.
type WarmupCosine struct {
	Base          float64
	Warmup, Steps int
}

// At implements Schedule.
func (c WarmupCosine) At(k int) float64 {
	if c.Warmup < 0 || c.Steps <= c.Warmup {
		panic(fmt.Sprintf("optim: WarmupCosine: Warmup %d, Steps %d; want 0 ≤ Warmup < Steps", c.Warmup, c.Steps))
	}
	if k < c.Warmup {
		if k < 0 {
			k = 0
		}
		return c.Base * float64(k+1) / float64(c.Warmup)
	}
	return cosineAt(c.Base, k-c.Warmup, c.Steps-c.Warmup)
}

// PerEpoch turns a schedule over epochs into one over steps: step k uses
// the value of epoch k / StepsPerEpoch, constant within an epoch (SimSiam's
// reference code adjusts its learning rate once per epoch).
type PerEpoch struct {
	Schedule      Schedule
	StepsPerEpoch int
}

// At implements Schedule.
func (p PerEpoch) At(k int) float64 {
	if p.StepsPerEpoch <= 0 {
		panic(fmt.Sprintf("optim: PerEpoch: StepsPerEpoch %d, want > 0", p.StepsPerEpoch))
	}
	return p.Schedule.At(k / p.StepsPerEpoch)
}

// LinearScaledLR returns base·batch/256, the linear scaling rule of
// SimSiam, DiSiam and DiSiam+ (thesis Section 4.3: base 0.03, "scaled
// linearly with the batch size taking 256 as the base batch size").
func LinearScaledLR(base float64, batch int) float64 { return base * float64(batch) / 256 }

// SqrtScaledLR returns base·sqrt(batch), SimCLR's square-root scaling rule
// (thesis Section 4.3: base 0.075).
func SqrtScaledLR(base float64, batch int) float64 { return base * math.Sqrt(float64(batch)) }

// Base learning rates of thesis Section 4.3, before scaling by
// LinearScaledLR or SqrtScaledLR (SimCLR is trained with LARS). Section
// 5.3.2 and Table 5.5 find 0.06 best for DiSiam/DiSiam+ and 0.03 for
// SimSiam on EfficientNet-B0; the defaults follow Section 4.3, and the
// examples expose the learning rate as a flag.
const (
	SimSiamBaseLR = 0.03  // SimSiam, DiSiam, DiSiam+: × batch/256
	SimCLRBaseLR  = 0.075 // SimCLR: × sqrt(batch)
)
