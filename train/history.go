package train

import (
	"fmt"
	"math"

	"github.com/disiam/disiam/eval"
)

// EpochRecord is what the Loop records about one epoch, one line of its
// metrics file.
type EpochRecord struct {
	Stage int    `json:"stage"` // index into Loop.Stages
	Name  string `json:"name"`  // the stage's Name (an SSL method's name)
	// Epoch counts epochs over all stages, from 1; StageEpoch within the
	// stage, from 1.
	Epoch      int `json:"epoch"`
	StageEpoch int `json:"stage_epoch"`
	// Steps is the number of optimizer steps the stage has taken so far.
	Steps int `json:"steps"`
	// Loss is the mean training loss over the epoch's micro-batches.
	Loss float64 `json:"loss"`
	// LR is the learning rate of the epoch's last step.
	LR float64 `json:"lr"`
	// SamplesPerSec is the epoch's throughput (an image counts once,
	// whatever the number of its views), Seconds its duration without
	// evaluation.
	SamplesPerSec float64 `json:"samples_per_s"`
	Seconds       float64 `json:"seconds"`
	// Observed holds the epoch means of what the stage's Objective
	// observes after every run (Observer), such as an SSL method's
	// collapse measure.
	Observed eval.Metrics `json:"observed,omitempty"`
	// Eval is the evaluation after the epoch, if one ran.
	Eval eval.Metrics `json:"eval,omitempty"`
	// Switched marks the last epoch of a stage ended early by its
	// plateau rule.
	Switched bool `json:"switched,omitempty"`
}

// Evaluation is one measurement of the model during training.
type Evaluation struct {
	// Epoch is the number of epochs completed before it (0: at the
	// start), Stage the stage it belongs to.
	Epoch   int          `json:"epoch"`
	Stage   int          `json:"stage"`
	Metrics eval.Metrics `json:"metrics"`
}

// History is the record of a training run.
type History struct {
	Epochs []EpochRecord `json:"epochs"`
	// Evaluations lists every measurement in order, including the one at
	// the start (Config.EvalAtStart).
	Evaluations []Evaluation `json:"evaluations"`
}

// Best returns the largest value of the named metric measured during
// training and the epoch after which it was measured; ok is false when
// it was never measured. The start evaluation (epoch 0) does not count:
// it measures the initialization. The thesis reports this maximum of the
// kNN accuracy over training.
func (h *History) Best(metric string) (value float64, epoch int, ok bool) {
	for _, e := range h.Evaluations {
		v, has := e.Metrics.Get(metric)
		if has && e.Epoch > 0 && (!ok || v > value) {
			value, epoch, ok = v, e.Epoch, true
		}
	}
	return value, epoch, ok
}

// Final returns the last evaluation, if any.
func (h *History) Final() (Evaluation, bool) {
	if len(h.Evaluations) == 0 {
		return Evaluation{}, false
	}
	return h.Evaluations[len(h.Evaluations)-1], true
}

// Initial returns the evaluation of the initial weights (epoch 0), if it
// was measured.
func (h *History) Initial() (Evaluation, bool) {
	if len(h.Evaluations) > 0 && h.Evaluations[0].Epoch == 0 {
		return h.Evaluations[0], true
	}
	return Evaluation{}, false
}

// Losses returns the mean loss of every epoch, in order.
func (h *History) Losses() []float64 {
	out := make([]float64, len(h.Epochs))
	for i, e := range h.Epochs {
		out[i] = e.Loss
	}
	return out
}

// Values returns the values of the named metric in order: for MetricLoss
// the loss of every epoch, otherwise every evaluation that measured it
// (the start evaluation included).
func (h *History) Values(metric string) []float64 {
	var out []float64
	if metric == MetricLoss {
		return h.Losses()
	}
	for _, e := range h.Evaluations {
		if v, ok := e.Metrics.Get(metric); ok {
			out = append(out, v)
		}
	}
	return out
}

// stageValues returns the values a plateau rule on metric sees during
// stage, larger is better: the evaluations after at least one of the
// stage's epochs, or the negated epoch losses.
func (h *History) stageValues(stage int, metric string) []float64 {
	var out []float64
	if metric == MetricLoss {
		for _, e := range h.Epochs {
			if e.Stage == stage {
				out = append(out, -e.Loss)
			}
		}
		return out
	}
	for _, e := range h.Evaluations {
		if v, ok := e.Metrics.Get(metric); ok && e.Stage == stage && e.Epoch > 0 {
			out = append(out, v)
		}
	}
	return out
}

// MetricLoss names the epoch's mean training loss for a Plateau rule
// (improvement is a decrease).
const MetricLoss = "loss"

// Plateau is a rule that ends a stage once its metric stops improving:
// the thesis chains SimCLR before a negative-free method and switches
// when the first "approaches convergence" (Section 3.5), without saying
// how that is decided; this is the rule the library uses. With v_1 … v_n
// the values of Metric measured during the stage so far (larger is
// better; the negated loss for MetricLoss), the stage ends after
// measurement n when n > Patience and
//
//	(max(v_{n-Patience+1} … v_n) - max(v_1 … v_{n-Patience})) / |max(v_1 … v_{n-Patience})| < Threshold,
//
// that is when the last Patience measurements improved the best value by
// less than the relative Threshold. The stage never runs past its Epochs.
type Plateau struct {
	// Patience is the window, in measurements (evaluations, or epochs
	// for MetricLoss); at least 1.
	Patience int
	// Threshold is the relative improvement below which the stage ends,
	// e.g. 0.01 for 1%.
	Threshold float64
	// Metric is the name of an evaluated metric ("knn_top1"), or
	// MetricLoss; "" means the first metric the stage's evaluator
	// reports.
	Metric string
}

// reached applies the rule to the values measured so far.
func (p *Plateau) reached(v []float64) bool {
	n := len(v)
	if p == nil || n <= p.Patience {
		return false
	}
	before, recent := math.Inf(-1), math.Inf(-1)
	for i, x := range v {
		if i < n-p.Patience {
			before = max(before, x)
		} else {
			recent = max(recent, x)
		}
	}
	if before == 0 {
		return recent <= 0
	}
	return (recent-before)/math.Abs(before) < p.Threshold
}

func (p *Plateau) validate() error {
	if p == nil {
		return nil
	}
	if p.Patience < 1 || !(p.Threshold >= 0) {
		return fmt.Errorf("invalid plateau rule %+v (want Patience ≥ 1, Threshold ≥ 0)", *p)
	}
	return nil
}
