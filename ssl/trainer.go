package ssl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/augment"
	"github.com/disiam/disiam/dataset"
	"github.com/disiam/disiam/distributed"
	"github.com/disiam/disiam/eval"
	"github.com/disiam/disiam/nn"
	"github.com/disiam/disiam/train"
)

// EncoderFile is the file the Trainer writes into CheckpointDir at the
// end of every stage: the online encoder alone, with torchvision's
// state_dict names, what detectors and the kNN evaluation load. The
// checkpoint itself is train.CheckpointFile.
const EncoderFile = "encoder.safetensors"

// CheckpointFile is the checkpoint the Trainer writes into CheckpointDir
// (train.CheckpointFile): everything needed to resume.
const CheckpointFile = train.CheckpointFile

// Stage is one method trained for a number of epochs. A Trainer runs its
// stages in order; stages whose methods share a backbone value share its
// weights, which is how the thesis chains SimCLR before a negative-free
// method (Section 3.5): build the SimCLR and DiSiam methods over the same
// online backbone and list them as two stages.
type Stage struct {
	Method Method
	// Epochs is the stage's length, and the length of its learning-rate
	// schedule; a Switch rule may end it earlier.
	Epochs int
	// Views are the Method.Views() per-view transforms; nil means
	// DefaultViews for the method at the dataset's image size with
	// Trainer.Norm.
	Views augment.Views
	// Recipe is the stage's optimizer and schedule; nil means
	// DefaultRecipe with BaseLR.
	Recipe *Recipe
	// BaseLR is the unscaled learning rate for DefaultRecipe (0: the
	// thesis' default for the method).
	BaseLR float64
	// Switch, if not nil, ends the stage early when its metric reaches a
	// plateau (train.Plateau; the thesis switches when the first method
	// "approaches convergence" without a rule); nil runs all Epochs.
	Switch *Plateau
}

// Plateau is the rule that ends a chained stage early (train.Plateau).
type Plateau = train.Plateau

// Trainer trains the stages of a run over a dataset with the shared loop
// of package train: the epoch loop over augmented multi-view batches
// (dataset.Loader), optimizer steps with the stage's schedule, evaluation
// of the online encoder, a representation-collapse monitor, progress and
// metrics, checkpoints and exact resumption. Set the fields and call Run;
// zero values are the documented defaults. The embedded train.Config
// holds what is not SSL-specific: Batch (required), Accumulate, Seed,
// EvalEvery, EvalAtStart, CheckpointDir, CheckpointEvery, Resume,
// Identity, Log, MetricsPath and the OnStep/OnEpoch hooks.
//
// Results depend only on the fields (and the dataset), never on timing or
// the number of goroutines: the loader draws every augmentation from
// (Seed, epoch, image), the kernels are deterministic, and resuming from a
// checkpoint restores every piece of state (weights, BatchNorm
// statistics, optimizer buffers, EMA targets, step counters, dropout and
// stochastic-depth counters), so a resumed run computes the same losses
// as an uninterrupted one.
type Trainer struct {
	// Stages run in order; at least one.
	Stages []Stage
	// Data is the training set (labels unused).
	Data dataset.Dataset
	// Norm is the normalization the default views end with (e.g.
	// augment.CIFAR10Norm); use the same in the Evaluator.
	Norm augment.Normalize
	// Workers is the loader's number of goroutines (0: GOMAXPROCS); it
	// never changes results.
	Workers int
	// Evaluator measures the online encoder of the current stage every
	// EvalEvery epochs and at the end of every stage (knn.Evaluator: the
	// thesis' kNN accuracy); nil or EvalEvery 0 turns evaluation off.
	Evaluator eval.Evaluator
	// Collapse, if not nil, watches the collapse monitor after every
	// epoch and warns (or stops) when the online embedding collapses.
	Collapse *CollapseRule

	train.Config
}

// CollapseRule is what the Trainer does when the monitored embedding
// collapses: the epoch's mean CollapseStd times sqrt(D) (about 1 for
// healthy, isotropic outputs; 0 for outputs collapsed to a constant
// vector, the failure of SimSiam the SimSiam paper's Figure 2 shows) falls
// below Threshold. It warns in the log; with Stop it also ends training
// with a *CollapsedError. Methods without a monitored embedding are not
// watched.
type CollapseRule struct {
	// Threshold is the normalized collapse measure below which the
	// embedding counts as collapsed; 0 means 0.1.
	Threshold float64
	Stop      bool
}

// CollapsedError reports a collapsed embedding (CollapseRule.Stop).
type CollapsedError struct {
	Method string
	Epoch  int
	// Value is the epoch's CollapseStd·sqrt(D), Threshold the rule's.
	Value, Threshold float64
}

func (e *CollapsedError) Error() string {
	return fmt.Sprintf("ssl: %s collapsed after epoch %d: collapse std·√d %.4f < %g (the embedding is nearly constant; try another learning rate, stronger augmentations or a method with negatives)",
		e.Method, e.Epoch, e.Value, e.Threshold)
}

// check applies the rule to an epoch record, writing a warning to log.
func (c *CollapseRule) check(r train.EpochRecord, log io.Writer) error {
	v, ok := r.Observed.Get(ObservedCollapseNorm)
	if c == nil || !ok {
		return nil
	}
	th := c.Threshold
	if th == 0 {
		th = 0.1
	}
	if v >= th {
		return nil
	}
	if log != nil {
		fmt.Fprintf(log, "warning: %s collapse after epoch %d: collapse std·√d %.4f < %g\n", r.Name, r.Epoch, v, th)
	}
	if c.Stop {
		return &CollapsedError{Method: r.Name, Epoch: r.Epoch, Value: v, Threshold: th}
	}
	return nil
}

// DefaultViews returns the augmentations the thesis trains m with
// (Section 4.3) for images of side size, ending with norm: the method's
// own if it implements ViewsProvider (SimCLR's views for SimCLR and
// SoftChain, BYOL's two asymmetric views for BYOL and DYOL), otherwise
// Views() copies of SimSiam's view (SimSiam, FastSiam, DiSiam, DiSiam+).
func DefaultViews(m Method, size int, norm augment.Normalize) augment.Views {
	if p, ok := m.(ViewsProvider); ok {
		return p.DefaultViews(size, norm)
	}
	return augment.MultiView(m.Views(), augment.SimSiamView(size, norm))
}

// StepsPerEpoch returns the number of optimizer steps per epoch: the
// number of full batches of Data (the last partial batch is dropped).
func (t *Trainer) StepsPerEpoch() int {
	if t.Batch <= 0 || t.Data == nil {
		return 0
	}
	return t.Data.Len() / t.Batch
}

// Loop returns the train.Loop that Run runs: one train.Stage per Stage,
// each with its loader, objective, recipe, evaluator and encoder export.
// Use it to run the stages with further options of package train.
func (t *Trainer) Loop() (*train.Loop, error) {
	switch {
	case len(t.Stages) == 0:
		return nil, errors.New("ssl: trainer: no stages")
	case t.Data == nil || t.Data.Len() == 0:
		return nil, errors.New("ssl: trainer: no training data")
	case t.Batch <= 0:
		return nil, fmt.Errorf("ssl: trainer: batch size %d", t.Batch)
	case t.Data.Len() < t.Batch:
		return nil, fmt.Errorf("ssl: trainer: %d images make no batch of %d", t.Data.Len(), t.Batch)
	}
	if v, ok := t.Evaluator.(eval.Validator); ok {
		if err := v.Validate(); err != nil {
			return nil, fmt.Errorf("ssl: trainer: evaluator: %w", err)
		}
	}
	l := &train.Loop{Config: t.Config}
	l.Identity = map[string]string{}
	for k, v := range t.Identity {
		l.Identity[k] = v
	}
	img := t.Data.Image(0)
	l.Identity["data.images"] = fmt.Sprintf("%d of %dx%dx%d", t.Data.Len(), img.C, img.H, img.W)
	for i, s := range t.Stages {
		if err := s.validate(); err != nil {
			return nil, fmt.Errorf("ssl: trainer: stage %d: %w", i, err)
		}
		m := s.Method
		views := s.Views
		if views == nil {
			views = DefaultViews(m, img.H, t.Norm)
		} else if len(views) != m.Views() {
			return nil, fmt.Errorf("ssl: trainer: stage %d: %d view transforms for %s, which takes %d views", i, len(views), m.Name(), m.Views())
		}
		comm := distributed.Or(t.Comm)
		loader, err := dataset.NewLoader(t.Data, dataset.LoaderConfig{
			BatchSize: t.Batch, Views: views, Shuffle: true, DropLast: true, Seed: t.Seed, Workers: t.Workers,
			Shards: comm.Size(), Shard: comm.Rank(), MicroBatches: max(t.Accumulate, 1),
		})
		if err != nil {
			return nil, fmt.Errorf("ssl: trainer: stage %d: %w", i, err)
		}
		recipe := s.Recipe
		if recipe == nil {
			rc := DefaultRecipe(m, RecipeConfig{Batch: t.Batch, Epochs: s.Epochs, StepsPerEpoch: loader.Len(), BaseLR: s.BaseLR})
			recipe = &rc
		} else {
			l.Identity["stage"+strconv.Itoa(i)+".recipe"] = "custom"
		}
		if s.BaseLR != 0 {
			l.Identity["stage"+strconv.Itoa(i)+".base_lr"] = strconv.FormatFloat(s.BaseLR, 'g', -1, 64)
		}
		st := train.Stage{
			Name: m.Name(), Parts: m.Parts(), Epochs: s.Epochs, Recipe: *recipe, Switch: s.Switch,
			Objective: &objective{m: m, shapes: loader.Shapes(), comm: t.Comm},
			Data:      loaderData{loader},
			Exports:   []train.Export{{File: EncoderFile, Module: m.Encoder()}},
		}
		if t.Evaluator != nil {
			ev, enc := t.Evaluator, m.Encoder()
			st.Evaluator = train.EvaluatorFunc(func(ctx context.Context) (eval.Metrics, error) { return ev.Evaluate(ctx, enc) })
		}
		l.Stages = append(l.Stages, st)
	}
	if t.Collapse != nil {
		if !(t.Collapse.Threshold >= 0) {
			return nil, fmt.Errorf("ssl: trainer: collapse threshold %v", t.Collapse.Threshold)
		}
		rule, next, log := t.Collapse, l.OnEpoch, l.Log
		l.OnEpoch = func(r train.EpochRecord) error {
			if err := rule.check(r, log); err != nil {
				return err
			}
			if next != nil {
				return next(r)
			}
			return nil
		}
	}
	if err := l.Validate(); err != nil {
		return nil, fmt.Errorf("ssl: trainer: %w", err)
	}
	return l, nil
}

// Run trains the stages and returns the history; on an error the history
// so far is returned with it. Cancelling ctx stops training between
// batches with ctx's error. A non-finite loss, collapse measure or weight
// stops training with a *train.DivergedError.
func (t *Trainer) Run(ctx context.Context) (*train.History, error) {
	l, err := t.Loop()
	if err != nil {
		return nil, err
	}
	return l.Run(ctx)
}

// loaderData adapts a dataset.Loader to train.Data.
type loaderData struct{ l *dataset.Loader }

func (d loaderData) StepsPerEpoch() int { return d.l.Len() }
func (d loaderData) Epoch(ctx context.Context, e int) train.Epoch {
	return loaderEpoch{d.l.Epoch(ctx, e)}
}

type loaderEpoch struct{ *dataset.Epoch }

func (e loaderEpoch) Next() (train.Batch, bool) {
	b, ok := e.Epoch.Next()
	if !ok {
		return nil, false
	}
	return b, true
}

// Observed metric names of the collapse monitor (train.EpochRecord's
// Observed): the epoch's mean CollapseStd of the monitored projection,
// and the same times sqrt(D), about 1 for healthy outputs and 0 for
// collapsed ones.
const (
	ObservedCollapseStd  = "collapse_std"
	ObservedCollapseNorm = "collapse_std_sqrt_d"
)

// objective is a Method as a train.Objective: one input per view.
type objective struct {
	m       Method
	comm    distributed.Comm
	shapes  [][3]int
	bufs    [][]float32
	monitor *G.Node
}

func (o *objective) Build(g *G.ExprGraph, n int) (*G.Node, error) {
	inputs := make([]*G.Node, len(o.shapes))
	o.bufs = make([][]float32, len(o.shapes))
	for j, sh := range o.shapes {
		x, d := nn.Input(g, fmt.Sprintf("view%d", j), tensor.Float32, n, sh[0], sh[1], sh[2])
		inputs[j], o.bufs[j] = x, d.Data().([]float32)
	}
	if g, ok := o.m.(Gatherer); ok && distributed.Distributed(o.comm) {
		g.UseComm(o.comm)
	}
	loss := o.m.Loss(inputs)
	o.monitor = nil
	if mo, ok := o.m.(Monitored); ok {
		o.monitor = mo.Monitor()
	}
	return loss, nil
}

func (o *objective) Feed(b train.Batch, i, k int) error {
	db, ok := b.(*dataset.Batch)
	if !ok {
		return fmt.Errorf("ssl: batch of type %T", b)
	}
	for j, buf := range o.bufs {
		n := len(buf)
		if len(db.Views[j]) != n*k {
			return fmt.Errorf("ssl: view %d holds %d values, want %d", j, len(db.Views[j]), n*k)
		}
		copy(buf, db.Views[j][i*n:(i+1)*n])
	}
	return nil
}

func (o *objective) Start() {
	if s, ok := o.m.(Starter); ok {
		s.Start()
	}
}

func (o *objective) BeforeStep(step, total int) {
	if s, ok := o.m.(Scheduled); ok {
		s.BeforeStep(step, total)
	}
}

func (o *objective) AfterStep(step, total int) {
	if s, ok := o.m.(Stepper); ok {
		s.AfterStep(step, total)
	}
}

// Observe returns the collapse measure of the monitored projection (none
// for a one-sample micro-batch).
func (o *objective) Observe() (eval.Metrics, error) {
	if o.monitor == nil {
		return nil, nil
	}
	z, ok := o.monitor.Value().(*tensor.Dense)
	if !ok || z.Shape()[0] < 2 {
		return nil, nil
	}
	sd, err := CollapseStd(z)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ObservedCollapseStd, err)
	}
	return eval.Metrics{
		{Name: ObservedCollapseStd, Value: sd},
		{Name: ObservedCollapseNorm, Value: sd * math.Sqrt(float64(z.Shape()[1]))},
	}, nil
}
