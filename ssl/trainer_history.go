package ssl

import (
	"fmt"
	"math"
)

// EpochRecord is what the Trainer records about one epoch, one line of
// its metrics file.
type EpochRecord struct {
	Stage  int    `json:"stage"`  // index into Trainer.Stages
	Method string `json:"method"` // the stage's Method.Name()
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
	// ImagesPerSec is the epoch's throughput (an image counts once,
	// whatever the number of views), Seconds its duration without
	// evaluation.
	ImagesPerSec float64 `json:"img_per_s"`
	Seconds      float64 `json:"seconds"`
	// CollapseStd is the mean over the epoch of CollapseStd of the
	// monitored projection (Monitored; both 0 when the method has none),
	// CollapseDim its width: healthy outputs give about
	// 1/sqrt(CollapseDim), collapsed ones 0.
	CollapseStd float64 `json:"collapse_std"`
	CollapseDim int     `json:"collapse_dim"`
	// KNN is the evaluation after the epoch, if one ran.
	KNN *Evaluation `json:"knn,omitempty"`
	// Switched marks the last epoch of a stage ended early by its
	// plateau rule.
	Switched bool `json:"switched,omitempty"`
}

// Evaluation is one online kNN measurement of the encoder.
type Evaluation struct {
	Epoch int     `json:"epoch"` // epochs completed before it (0: at the start)
	Stage int     `json:"stage"`
	Top1  float64 `json:"top1"`
	Top5  float64 `json:"top5"`
}

// History is the record of a training run.
type History struct {
	Epochs []EpochRecord `json:"epochs"`
	// Evaluations lists every kNN measurement in order, including the
	// one at the start (Trainer.EvalAtStart).
	Evaluations []Evaluation `json:"evaluations"`
}

// MaxTop1 returns the best kNN top-1 accuracy measured during training
// and the epoch after which it was measured (the thesis reports the
// maximum, SPEC-NOTES 12); ok is false without evaluations. The start
// evaluation (epoch 0) does not count: it measures the initialization.
func (h *History) MaxTop1() (top1 float64, epoch int, ok bool) {
	for _, e := range h.Evaluations {
		if e.Epoch > 0 && (!ok || e.Top1 > top1) {
			top1, epoch, ok = e.Top1, e.Epoch, true
		}
	}
	return top1, epoch, ok
}

// Final returns the last kNN evaluation, if any.
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

// stageEvals returns the top-1 accuracies measured during stage (after at
// least one of its epochs).
func (h *History) stageValues(stage int, metric PlateauMetric) []float64 {
	var out []float64
	switch metric {
	case PlateauKNN:
		for _, e := range h.Evaluations {
			if e.Stage == stage && e.Epoch > 0 {
				out = append(out, e.Top1)
			}
		}
	case PlateauLoss:
		for _, e := range h.Epochs {
			if e.Stage == stage {
				out = append(out, -e.Loss) // larger is better
			}
		}
	}
	return out
}

// PlateauMetric is what a Plateau rule watches.
type PlateauMetric int

const (
	// PlateauKNN watches the online kNN top-1 accuracy, evaluated every
	// Trainer.EvalEvery epochs (one value per evaluation).
	PlateauKNN PlateauMetric = iota
	// PlateauLoss watches the epoch's mean training loss (one value per
	// epoch; improvement is a decrease).
	PlateauLoss
)

// String returns "knn" or "loss".
func (p PlateauMetric) String() string {
	switch p {
	case PlateauKNN:
		return "knn"
	case PlateauLoss:
		return "loss"
	}
	return fmt.Sprintf("PlateauMetric(%d)", int(p))
}

// Plateau is the rule that ends a chained stage once its method
// "approaches convergence" (thesis Section 3.5, which gives no rule;
// SPEC-NOTES 10). With v_1 … v_n the values of Metric measured during the
// stage so far (larger is better), the stage ends after measurement n when
// n > Patience and
//
//	(max(v_{n-Patience+1} … v_n) - max(v_1 … v_{n-Patience})) / |max(v_1 … v_{n-Patience})| < Threshold,
//
// that is when the last Patience measurements improved the best value by
// less than the relative Threshold. The stage never runs past its Epochs.
type Plateau struct {
	// Patience is the window, in measurements (kNN evaluations, or epochs
	// for PlateauLoss); at least 1.
	Patience int
	// Threshold is the relative improvement below which the stage ends,
	// e.g. 0.01 for 1%.
	Threshold float64
	Metric    PlateauMetric
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
	if p.Patience < 1 || !(p.Threshold >= 0) || (p.Metric != PlateauKNN && p.Metric != PlateauLoss) {
		return fmt.Errorf("ssl: invalid plateau rule %+v (want Patience ≥ 1, Threshold ≥ 0)", *p)
	}
	return nil
}
