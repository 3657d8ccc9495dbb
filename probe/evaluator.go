package probe

import (
	"context"
	"errors"
	"fmt"

	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/dataset"
	"github.com/disiam/disiam/eval"
	"github.com/disiam/disiam/knn"
)

// Evaluator measures a backbone's representation with the linear probe:
// the representations of Train (extracted once per call, in Eval mode)
// train the classifier, those of Test are classified. It implements
// eval.Evaluator, so a training loop can run it every N epochs next to
// knn.Evaluator. An Evaluator must not be used by several goroutines at
// once.
type Evaluator struct {
	// Train and Test are the probe's datasets; both required, with the
	// same number of classes (at least 2).
	Train, Test dataset.Dataset
	// Config holds the probe's hyper-parameters.
	Config Config
	// BatchSize, InputSize, Mean, Std and Logits configure the extraction
	// as the fields of knn.Extractor do.
	BatchSize int
	InputSize int
	Mean, Std []float32
	Logits    bool
	// Progress, if not nil, is called after each extracted batch with the
	// stage ("train" or "test"), the images done and the stage's total.
	Progress func(stage string, done, total int)

	ex knn.Extractor
}

// Evaluate measures b and returns linear_top1 and linear_top5. It leaves
// b in Eval mode.
func (e *Evaluator) Evaluate(ctx context.Context, b backbone.Backbone) (eval.Metrics, error) {
	r, err := e.Measure(ctx, b)
	if err != nil {
		return nil, err
	}
	return r.Metrics(), nil
}

// Measure extracts the representations of Train and Test with b, fits the
// probe on Train's and evaluates it on Test's, with per-class accuracies.
// It leaves b in Eval mode.
func (e *Evaluator) Measure(ctx context.Context, b backbone.Backbone) (Result, error) {
	if e.Train == nil || e.Test == nil {
		return Result{}, errors.New("probe: Evaluator needs Train and Test datasets")
	}
	classes := e.Train.Classes()
	if tc := e.Test.Classes(); tc != classes {
		return Result{}, fmt.Errorf("probe: Train has %d classes, Test %d", classes, tc)
	}
	e.ex.BatchSize, e.ex.InputSize, e.ex.Mean, e.ex.Std, e.ex.Logits = e.BatchSize, e.InputSize, e.Mean, e.Std, e.Logits
	extract := func(stage string, ds dataset.Dataset) ([]float32, int, error) {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		e.ex.Progress = nil
		if e.Progress != nil {
			e.ex.Progress = func(done, total int) { e.Progress(stage, done, total) }
		}
		f, dim, err := e.ex.Extract(b, ds)
		if err != nil {
			return nil, 0, fmt.Errorf("probe: %w (%s set)", err, stage)
		}
		return f, dim, nil
	}
	train, dim, err := extract("train", e.Train)
	if err != nil {
		return Result{}, err
	}
	test, _, err := extract("test", e.Test)
	if err != nil {
		return Result{}, err
	}
	c, err := Fit(ctx, train, dim, knn.Labels(e.Train), classes, e.Config)
	if err != nil {
		return Result{}, fmt.Errorf("%w (train set)", err)
	}
	r, err := c.Evaluate(test, knn.Labels(e.Test))
	if err != nil {
		return Result{}, fmt.Errorf("%w (test set)", err)
	}
	return r, nil
}

// Close releases the compiled extraction program. The Evaluator stays
// usable.
func (e *Evaluator) Close() error { return e.ex.Close() }

var _ eval.Evaluator = (*Evaluator)(nil)
