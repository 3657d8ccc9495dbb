package probe

import (
	"context"
	"fmt"

	"github.com/disiam/disiam/augment"
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
	// Norm standardizes the images (as knn.Evaluator's Norm); BatchSize,
	// InputSize and Logits configure the extraction as the fields of
	// knn.Extractor do.
	Norm      augment.Normalize
	BatchSize int
	InputSize int
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
	e.ex.BatchSize, e.ex.InputSize, e.ex.Mean, e.ex.Std, e.ex.Logits = e.BatchSize, e.InputSize, e.Norm.Mean, e.Norm.Std, e.Logits
	train, test, dim, err := knn.ExtractSplits(ctx, &e.ex, b, e.Train, e.Test, e.Progress)
	if err != nil {
		return Result{}, fmt.Errorf("probe: %w", err)
	}
	classes := e.Train.Classes()
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
