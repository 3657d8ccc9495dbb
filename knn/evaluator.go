package knn

import (
	"context"
	"errors"
	"fmt"

	"github.com/disiam/disiam/augment"
	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/dataset"
	"github.com/disiam/disiam/eval"
)

// Evaluator measures a backbone's representation with the weighted kNN
// classifier of thesis Section 4.4: the representations of Train form the
// bank, those of Test are classified. Set the fields once and call Evaluate
// whenever a measurement is wanted: every N epochs during training (the
// bank and the queries are re-extracted from the current weights each time,
// with the compiled graph reused) or once for a backbone loaded from a
// checkpoint. The zero values of the numeric fields are the thesis'
// settings. An Evaluator must not be used by several goroutines at once.
type Evaluator struct {
	// Train is the bank's dataset, Test the queries'; both required, with
	// the same number of classes.
	Train, Test dataset.Dataset
	// K and Tau configure the classifier (0 means 200 and 0.1).
	K   int
	Tau float64
	// Norm standardizes the images after resizing, as torchvision's
	// Normalize (use the training views' normalization, e.g.
	// augment.CIFAR10Norm); the zero value feeds the images unchanged.
	Norm augment.Normalize
	// BatchSize, InputSize and Logits configure the extraction as the
	// fields of Extractor do.
	BatchSize int
	InputSize int
	Logits    bool
	// UpdateBN re-estimates b's BatchNorm statistics on Train before each
	// measurement (Extractor.UpdateBatchNorm: PreciseBN, PyTorch's
	// torch.optim.swa_utils.update_bn) and puts b's own back afterwards,
	// so that the measurement does not depend on how far the running
	// statistics have converged; a backbone without BatchNorm layers is an
	// error. Off, b is measured with the statistics it has, as the thesis
	// does.
	UpdateBN bool
	// Progress, if not nil, is called after each extracted batch with the
	// stage ("train" for the bank, "test" for the queries), the images done
	// and the stage's total.
	Progress func(stage string, done, total int)

	ex Extractor
}

// Metric names of Evaluate's results.
const (
	MetricTop1 = "knn_top1"
	MetricTop5 = "knn_top5"
)

// Evaluate implements eval.Evaluator: Measure's top-1 and top-5
// accuracies as MetricTop1 and MetricTop5.
func (e *Evaluator) Evaluate(ctx context.Context, b backbone.Backbone) (eval.Metrics, error) {
	r, err := e.Measure(ctx, b)
	if err != nil {
		return nil, err
	}
	return eval.Metrics{{Name: MetricTop1, Value: r.Top1, Percent: true}, {Name: MetricTop5, Value: r.Top5, Percent: true}}, nil
}

// Measure extracts the representations of Train and Test with b in Eval
// mode (with UpdateBN, after re-estimating its BatchNorm statistics on
// Train), classifies Test against Train and returns the result. It leaves b
// in Eval mode: call b.SetTraining(true) before training it further.
// Cancelling ctx stops it between the extractions with ctx's error.
func (e *Evaluator) Measure(ctx context.Context, b backbone.Backbone) (Result, error) {
	cfg, err := Config{K: e.K, Tau: e.Tau}.norm()
	if err != nil {
		return Result{}, err
	}
	e.ex.BatchSize, e.ex.InputSize, e.ex.Mean, e.ex.Std, e.ex.Logits = e.BatchSize, e.InputSize, e.Norm.Mean, e.Norm.Std, e.Logits
	if e.UpdateBN && e.Train != nil { // ExtractSplits reports a missing split
		restore, err := e.ex.UpdateBatchNorm(b, e.Train)
		if err != nil {
			return Result{}, err
		}
		defer restore()
	}
	bank, queries, dim, err := ExtractSplits(ctx, &e.ex, b, e.Train, e.Test, e.Progress)
	if err != nil {
		return Result{}, err
	}
	classes := e.Train.Classes()
	c, err := newClassifier(bank, dim, Labels(e.Train), classes, cfg)
	if err != nil {
		return Result{}, fmt.Errorf("%w (train set)", err)
	}
	res, err := c.Evaluate(queries, Labels(e.Test))
	if err != nil {
		return Result{}, fmt.Errorf("%w (test set)", err)
	}
	return res, nil
}

// Close releases the compiled extraction program. The Evaluator stays
// usable.
func (e *Evaluator) Close() error { return e.ex.Close() }

// ExtractSplits extracts the representations of a train and a test split
// with ex and b (in Eval mode), for an evaluator that fits on one and
// measures on the other (the kNN evaluation, the linear probe). Both
// splits are required and must have the same number of classes; errors
// name the split. progress, if not nil, is called after each batch with
// the split ("train" or "test"), the images done and the split's total.
// Cancelling ctx stops it between the splits with ctx's error.
func ExtractSplits(ctx context.Context, ex *Extractor, b backbone.Backbone, train, test dataset.Dataset,
	progress func(split string, done, total int)) (trainF, testF []float32, dim int, err error) {
	if train == nil || test == nil {
		return nil, nil, 0, errors.New("knn: an evaluator needs Train and Test datasets")
	}
	if a, t := train.Classes(), test.Classes(); a != t {
		return nil, nil, 0, fmt.Errorf("knn: Train has %d classes, Test %d", a, t)
	}
	extract := func(split string, ds dataset.Dataset) ([]float32, int, error) {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		ex.Progress = nil
		if progress != nil {
			ex.Progress = func(done, total int) { progress(split, done, total) }
		}
		f, dim, err := ex.Extract(b, ds)
		if err != nil {
			return nil, 0, fmt.Errorf("%w (%s set)", err, split)
		}
		return f, dim, nil
	}
	if trainF, dim, err = extract("train", train); err != nil {
		return nil, nil, 0, err
	}
	if testF, _, err = extract("test", test); err != nil {
		return nil, nil, 0, err
	}
	return trainF, testF, dim, nil
}
