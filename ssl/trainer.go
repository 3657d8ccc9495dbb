package ssl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"time"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/augment"
	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/dataset"
	"github.com/disiam/disiam/knn"
	"github.com/disiam/disiam/nn"
	"github.com/disiam/disiam/optim"
	"github.com/disiam/disiam/safetensors"
)

// Evaluator measures an encoder's representation; *knn.Evaluator (k = 200,
// τ = 0.1, thesis Section 4.4) is the one the thesis uses. Evaluate may
// leave the backbone in Eval mode: the Trainer switches it back.
type Evaluator interface {
	Evaluate(b backbone.Backbone) (knn.Result, error)
}

// Stage is one method trained for a number of epochs. A Trainer runs its
// stages in order; stages whose methods share a backbone value share its
// weights, which is how the thesis chains SimCLR before a negative-free
// method (Section 3.5): build the SimCLR and DiSiam methods over the same
// online backbone and list them as two stages.
type Stage struct {
	Method Method
	// Epochs is the stage's length, and the length of its learning-rate
	// schedule; a Plateau rule may end it earlier.
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
	// plateau (SPEC-NOTES 10); nil runs all Epochs.
	Switch *Plateau
}

// Trainer trains the stages of a run over a dataset: the epoch loop over
// augmented multi-view batches (dataset.Loader), optimizer steps with the
// stage's schedule, online kNN evaluation, a representation-collapse
// monitor, progress and metrics, checkpoints and exact resumption. Set the
// fields and call Run. Zero values are the documented defaults.
//
// Every step copies a batch into the graph built once per stage by
// Method.Loss, runs forward and backward, checks that the loss is finite,
// steps the optimizer with the scheduled learning rate and calls
// Method.AfterStep. Results depend only on the fields (and the dataset),
// never on timing or the number of goroutines: the loader draws every
// augmentation from (Seed, epoch, image), the kernels are deterministic,
// and resuming from a checkpoint restores every piece of state (weights,
// BatchNorm statistics, optimizer buffers, EMA targets, step counters,
// dropout and stochastic-depth counters), so a resumed run computes the
// same losses as an uninterrupted one.
type Trainer struct {
	// Stages run in order; at least one.
	Stages []Stage
	// Data is the training set (labels unused).
	Data dataset.Dataset
	// Norm is the normalization the default views end with (e.g.
	// augment.CIFAR10Norm); use the same in the Evaluator.
	Norm augment.Normalize
	// Batch is the number of images per optimizer step; required.
	Batch int
	// Accumulate splits each batch into Accumulate micro-batches of
	// Batch/Accumulate images whose gradients are averaged before one
	// optimizer step (gradient accumulation, thesis Section 4.3 for COCO);
	// 0 or 1 means none. BatchNorm statistics and NT-Xent negatives come
	// from each micro-batch.
	Accumulate int
	// Seed determines the epoch orders and augmentations (the networks'
	// initialization is the caller's, from the seeds given to their
	// constructors).
	Seed uint64
	// Workers is the loader's number of goroutines (0: GOMAXPROCS); it
	// never changes results.
	Workers int

	// Evaluator measures the encoder every EvalEvery epochs (counted over
	// all stages) and at the end of every stage; nil or EvalEvery 0 turns
	// evaluation off. EvalAtStart also measures the initial weights.
	Evaluator   Evaluator
	EvalEvery   int
	EvalAtStart bool

	// CheckpointDir, if set, receives CheckpointFile every CheckpointEvery
	// epochs (0: only at the end of each stage) and at the end of every
	// stage, written atomically, and EncoderFile at the end of every stage.
	CheckpointDir   string
	CheckpointEvery int
	// Resume continues from CheckpointDir's checkpoint if there is one
	// (with the same Stages, Batch and Seed), else starts afresh.
	Resume bool

	// Log receives a progress line (epoch, steps, loss, learning rate,
	// img/s, ETA) every LogInterval (0: 10 s), a summary per epoch and
	// the evaluations; nil is silent. On a terminal the progress line is
	// redrawn in place.
	Log         io.Writer
	LogInterval time.Duration
	// MetricsPath, if set, receives one record per epoch (EpochRecord):
	// CSV if it ends in ".csv", JSON Lines otherwise. It is rewritten from
	// the checkpoint's history on Resume.
	MetricsPath string
	// AfterEpoch, if not nil, is called after each epoch once its record,
	// evaluation and checkpoint are done; an error it returns stops
	// training and is returned by Run (custom logging, early stopping).
	AfterEpoch func(EpochRecord) error
}

// DivergedError reports a non-finite loss: training stopped.
type DivergedError struct {
	Stage  int
	Method string
	// Epoch (from 1, over all stages) and Step (the stage's optimizer
	// step, from 0) locate the batch; Loss is the value.
	Epoch, Step int
	Loss        float64
}

func (e *DivergedError) Error() string {
	return fmt.Sprintf("ssl: %s diverged: loss %v at epoch %d, step %d (stage %d); try a lower learning rate",
		e.Method, e.Loss, e.Epoch, e.Step, e.Stage)
}

// DefaultViews returns the augmentations the thesis trains each method
// with (Section 4.3): SimCLR's views for SimCLR and SoftChain (color
// strength 0.5 at 32×32 and below, as SimCLR's CIFAR-10 runs, 1 above),
// BYOL's two asymmetric views for BYOL and DYOL, and Views() copies of
// SimSiam's view for SimSiam, FastSiam, DiSiam and DiSiam+ (and any other
// method); each of side size, ending with norm.
func DefaultViews(m Method, size int, norm augment.Normalize) augment.Views {
	switch m.(type) {
	case *SimCLR, *SoftChain:
		s := 1.0
		if size <= 32 {
			s = 0.5
		}
		return augment.MultiView(m.Views(), augment.SimCLRView(size, s, norm))
	case *BYOL, *DYOL:
		return augment.BYOLViews(size, norm)
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

func (t *Trainer) validate() error {
	switch {
	case len(t.Stages) == 0:
		return errors.New("ssl: trainer: no stages")
	case t.Data == nil || t.Data.Len() == 0:
		return errors.New("ssl: trainer: no training data")
	case t.Batch <= 0:
		return fmt.Errorf("ssl: trainer: batch size %d", t.Batch)
	case t.Data.Len() < t.Batch:
		return fmt.Errorf("ssl: trainer: %d images make no batch of %d", t.Data.Len(), t.Batch)
	case t.Accumulate < 0 || (t.Accumulate > 1 && t.Batch%t.Accumulate != 0):
		return fmt.Errorf("ssl: trainer: batch %d cannot be split into %d micro-batches", t.Batch, t.Accumulate)
	case t.EvalEvery < 0 || t.CheckpointEvery < 0:
		return fmt.Errorf("ssl: trainer: EvalEvery %d, CheckpointEvery %d", t.EvalEvery, t.CheckpointEvery)
	case t.Resume && t.CheckpointDir == "":
		return errors.New("ssl: trainer: Resume needs a CheckpointDir")
	}
	for i, s := range t.Stages {
		if s.Method == nil || s.Epochs <= 0 {
			return fmt.Errorf("ssl: trainer: stage %d: needs a Method and Epochs > 0", i)
		}
		if s.Views != nil && len(s.Views) != s.Method.Views() {
			return fmt.Errorf("ssl: trainer: stage %d: %d view transforms for %s, which takes %d views", i, len(s.Views), s.Method.Name(), s.Method.Views())
		}
		if err := s.Switch.validate(); err != nil {
			return fmt.Errorf("ssl: trainer: stage %d: %w", i, err)
		}
		if s.Switch != nil && s.Switch.Metric == PlateauKNN && !t.evaluates() {
			return fmt.Errorf("ssl: trainer: stage %d: a kNN plateau rule needs an Evaluator and EvalEvery > 0", i)
		}
		if _, err := keyed(s.Method.Parts()); err != nil {
			return fmt.Errorf("ssl: trainer: stage %d: %w", i, err)
		}
	}
	return nil
}

func (t *Trainer) evaluates() bool { return t.Evaluator != nil && t.EvalEvery > 0 }

func (t *Trainer) accumulate() int { return max(t.Accumulate, 1) }

// run is the state of one call to Run.
type run struct {
	t       *Trainer
	ctx     context.Context
	hist    *History
	epoch   int // epochs completed over all stages
	log     *progress
	metrics *metricsWriter
}

// Run trains the stages and returns the history; on an error the history
// so far is returned with it. Cancelling ctx stops training between
// batches with ctx's error.
func (t *Trainer) Run(ctx context.Context) (*History, error) {
	if err := t.validate(); err != nil {
		return nil, err
	}
	r := &run{t: t, ctx: ctx, hist: &History{}, log: newProgress(t.Log, t.LogInterval)}
	var ckpt *safetensors.File
	var st *trainerState
	if t.Resume {
		var err error
		if ckpt, st, err = readCheckpoint(t.CheckpointDir); err != nil {
			return nil, err
		}
		if st != nil {
			if err := t.checkResume(st); err != nil {
				return nil, err
			}
			r.hist, r.epoch = st.History, st.Epoch
			r.log.printf("resuming %s (stage %d) after epoch %d from %s\n", st.Method, st.Stage, st.Epoch, filepath.Join(t.CheckpointDir, CheckpointFile))
		} else {
			r.log.printf("no checkpoint in %s: starting afresh\n", t.CheckpointDir)
		}
	}
	if t.MetricsPath != "" {
		mw, err := newMetricsWriter(t.MetricsPath, r.hist.Epochs)
		if err != nil {
			return r.hist, err
		}
		defer mw.close()
		r.metrics = mw
	}
	first := 0
	if st != nil {
		first = st.Stage
	}
	if st == nil && t.EvalAtStart && t.evaluates() {
		if err := r.evaluate(0, t.Stages[0].Method); err != nil {
			return r.hist, err
		}
	}
	for si := first; si < len(t.Stages); si++ {
		var resume *stageResume
		if st != nil && si == st.Stage {
			opt, err := restore(t.Stages[si].Method, ckpt, st)
			if err != nil {
				return r.hist, err
			}
			if st.StageDone {
				continue // the next stage starts from the restored weights
			}
			resume = &stageResume{epoch: st.StageEpoch, step: st.Step, opt: opt}
		}
		if err := r.stage(si, resume); err != nil {
			return r.hist, err
		}
	}
	return r.hist, nil
}

func (t *Trainer) checkResume(st *trainerState) error {
	if st.Stage < 0 || st.Stage >= len(t.Stages) {
		return fmt.Errorf("ssl: resume: checkpoint is at stage %d, the trainer has %d", st.Stage, len(t.Stages))
	}
	if name := t.Stages[st.Stage].Method.Name(); name != st.Method {
		return fmt.Errorf("ssl: resume: checkpoint holds %s for stage %d, the trainer has %s", st.Method, st.Stage, name)
	}
	if st.Batch != t.Batch || st.Seed != t.Seed {
		return fmt.Errorf("ssl: resume: checkpoint was trained with batch %d, seed %d; the trainer has batch %d, seed %d", st.Batch, st.Seed, t.Batch, t.Seed)
	}
	return nil
}

// stageResume is where a resumed stage continues.
type stageResume struct {
	epoch, step int
	opt         map[string]*tensor.Dense
}

// stage runs stage si from its start or from resume.
func (r *run) stage(si int, resume *stageResume) error {
	t := r.t
	s := t.Stages[si]
	m := s.Method
	views := s.Views
	if views == nil {
		img := t.Data.Image(0)
		views = DefaultViews(m, img.H, t.Norm)
	}
	loader, err := dataset.NewLoader(t.Data, dataset.LoaderConfig{
		BatchSize: t.Batch, Views: views, Shuffle: true, DropLast: true, Seed: t.Seed, Workers: t.Workers,
	})
	if err != nil {
		return fmt.Errorf("ssl: trainer: stage %d: %w", si, err)
	}
	spe := loader.Len()
	recipe := s.Recipe
	if recipe == nil {
		rc := DefaultRecipe(m, RecipeConfig{Batch: t.Batch, Epochs: s.Epochs, StepsPerEpoch: spe, BaseLR: s.BaseLR})
		recipe = &rc
	}
	if recipe.NewOptimizer == nil || recipe.Schedule == nil {
		return fmt.Errorf("ssl: trainer: stage %d: Recipe needs NewOptimizer and Schedule", si)
	}

	// The graph: one input per view, of a micro-batch.
	acc := t.accumulate()
	micro := t.Batch / acc
	g := G.NewGraph()
	inputs := make([]*G.Node, len(loader.Shapes()))
	bufs := make([][]float32, len(inputs))
	for j, sh := range loader.Shapes() {
		n, d := nn.Input(g, fmt.Sprintf("view%d", j), tensor.Float32, micro, sh[0], sh[1], sh[2])
		inputs[j], bufs[j] = n, d.Data().([]float32)
	}
	var loss *G.Node
	if err := nn.Build(func() { loss = m.Loss(inputs) }); err != nil {
		return fmt.Errorf("ssl: trainer: stage %d: building %s: %w", si, m.Name(), err)
	}
	var monitor *G.Node
	if mo, ok := m.(Monitored); ok {
		monitor = mo.Monitor()
	}
	prog, err := nn.Compile(g, loss, m.Trainable())
	if err != nil {
		return fmt.Errorf("ssl: trainer: stage %d: %w", si, err)
	}
	defer prog.Close()
	opt, err := NewOptimizer(m, recipe.NewOptimizer)
	if err != nil {
		return fmt.Errorf("ssl: trainer: stage %d: %w", si, err)
	}
	var accum *optim.Accumulator
	if acc > 1 {
		accum = optim.NewAccumulator(m.Trainable())
	}

	startEpoch, step := 0, 0
	if resume != nil {
		if err := opt.LoadState(resume.opt); err != nil {
			return fmt.Errorf("ssl: resume: %w", err)
		}
		startEpoch, step = resume.epoch, resume.step
	} else if sm, ok := m.(Starter); ok {
		sm.Start()
	}
	m.SetTraining(true)
	total := s.Epochs * spe
	r.log.printf("stage %d: %s, %d epochs of %d steps, batch %d (%d views)%s\n", si, m.Name(), s.Epochs, spe, t.Batch, len(inputs), accumText(acc, micro))

	for e := startEpoch; e < s.Epochs; e++ {
		rec, err := r.epochLoop(si, e, loader, prog, opt, accum, recipe.Schedule, inputs, bufs, monitor, &step, total)
		if err != nil {
			return err
		}
		r.epoch++
		last := e == s.Epochs-1
		if t.evaluates() && (r.epoch%t.EvalEvery == 0 || last) {
			if err := r.evaluate(si, m); err != nil {
				return err
			}
			ev := r.hist.Evaluations[len(r.hist.Evaluations)-1]
			rec.KNN = &ev
		}
		if !last && s.Switch.reached(append(r.hist.stageValues(si, s.Switch.metric()), r.pending(rec, s.Switch)...)) {
			rec.Switched = true
			if rec.KNN == nil && t.evaluates() {
				if err := r.evaluate(si, m); err != nil {
					return err
				}
				ev := r.hist.Evaluations[len(r.hist.Evaluations)-1]
				rec.KNN = &ev
			}
			r.log.printf("stage %d: %s plateau reached after epoch %d: switching\n", si, s.Switch.Metric, e+1)
			last = true
		}
		r.hist.Epochs = append(r.hist.Epochs, rec)
		r.log.epochSummary(rec, s.Epochs)
		if r.metrics != nil {
			if err := r.metrics.write(rec); err != nil {
				return err
			}
		}
		if t.CheckpointDir != "" && (last || (t.CheckpointEvery > 0 && r.epoch%t.CheckpointEvery == 0)) {
			st := trainerState{Stage: si, Method: m.Name(), StageEpoch: e + 1, StageDone: last, Step: step,
				Epoch: r.epoch, Seed: t.Seed, Batch: t.Batch, History: r.hist}
			if err := writeCheckpoint(t.CheckpointDir, m, opt, st); err != nil {
				return err
			}
			if last {
				if err := safetensors.SaveModule(filepath.Join(t.CheckpointDir, EncoderFile), m.Encoder()); err != nil {
					return fmt.Errorf("ssl: trainer: %w", err)
				}
			}
		}
		if t.AfterEpoch != nil {
			if err := t.AfterEpoch(rec); err != nil {
				return err
			}
		}
		if last {
			break
		}
	}
	return nil
}

func accumText(acc, micro int) string {
	if acc == 1 {
		return ""
	}
	return fmt.Sprintf(", accumulated over %d micro-batches of %d", acc, micro)
}

// metric returns the rule's metric (PlateauKNN for a nil rule).
func (p *Plateau) metric() PlateauMetric {
	if p == nil {
		return PlateauKNN
	}
	return p.Metric
}

// pending returns the values of the epoch record not yet in the history
// that the rule watches: its loss for PlateauLoss (kNN evaluations are
// already recorded).
func (r *run) pending(rec EpochRecord, p *Plateau) []float64 {
	if p != nil && p.Metric == PlateauLoss {
		return []float64{-rec.Loss}
	}
	return nil
}

// evaluate measures the encoder of m and records it.
func (r *run) evaluate(stage int, m Method) error {
	start := time.Now()
	res, err := r.t.Evaluator.Evaluate(m.Encoder())
	m.SetTraining(true)
	if err != nil {
		return fmt.Errorf("ssl: trainer: evaluation after epoch %d: %w", r.epoch, err)
	}
	ev := Evaluation{Epoch: r.epoch, Stage: stage, Top1: res.Top1, Top5: res.Top5}
	r.hist.Evaluations = append(r.hist.Evaluations, ev)
	maxText := ""
	if best, _, ok := r.hist.MaxTop1(); ok {
		maxText = fmt.Sprintf("max %.2f%%, ", 100*best)
	}
	r.log.printf("knn after epoch %d: top-1 %.2f%%  top-5 %.2f%%  (%s%.1fs)\n", r.epoch, 100*res.Top1, 100*res.Top5, maxText, time.Since(start).Seconds())
	return nil
}

// epochLoop runs one epoch (stage epoch e) and returns its record.
func (r *run) epochLoop(si, e int, loader *dataset.Loader, prog *nn.Program, opt optim.Optimizer, accum *optim.Accumulator,
	sched optim.Schedule, inputs []*G.Node, bufs [][]float32, monitor *G.Node, step *int, total int) (EpochRecord, error) {
	t := r.t
	m := t.Stages[si].Method
	ep := loader.Epoch(r.ctx, r.epoch)
	defer ep.Close()
	acc := t.accumulate()
	start := time.Now()
	var lossSum, stdSum float64
	var runs, stdDim int
	var lr float64
	spe := loader.Len()
	images := 0
	sm, scheduled := m.(Scheduled)
	for b := range batches(ep) {
		if scheduled {
			sm.BeforeStep(*step, total)
		}
		for mi := range acc {
			for j, buf := range bufs {
				n := len(buf)
				copy(buf, b.Views[j][mi*n:(mi+1)*n])
			}
			if err := prog.Run(); err != nil {
				return EpochRecord{}, fmt.Errorf("ssl: trainer: epoch %d, step %d: %w", r.epoch+1, *step, err)
			}
			l := prog.Loss()
			if !finite(l) {
				return EpochRecord{}, &DivergedError{Stage: si, Method: m.Name(), Epoch: r.epoch + 1, Step: *step, Loss: l}
			}
			lossSum += l
			runs++
			if monitor != nil {
				z, ok := monitor.Value().(*tensor.Dense)
				if ok && z.Shape()[0] >= 2 {
					sd, err := CollapseStd(z)
					if err != nil { // the projection holds NaN or Inf
						return EpochRecord{}, &DivergedError{Stage: si, Method: m.Name(), Epoch: r.epoch + 1, Step: *step, Loss: math.NaN()}
					}
					stdSum += sd
					stdDim = z.Shape()[1]
				}
			}
			if accum != nil {
				accum.Add()
			}
		}
		if accum != nil {
			accum.Finish()
		}
		lr = sched.At(*step)
		opt.Step(lr)
		m.AfterStep(*step, total)
		*step++
		images += b.Size
		r.log.step(r.epoch+1, e+1, t.Stages[si].Epochs, b.Number+1, spe, lossSum/float64(runs), lr, images, start, total-*step, t.Batch)
	}
	if err := ep.Err(); err != nil {
		return EpochRecord{}, fmt.Errorf("ssl: trainer: epoch %d: %w", r.epoch+1, err)
	}
	if runs == 0 {
		return EpochRecord{}, fmt.Errorf("ssl: trainer: epoch %d had no batch", r.epoch+1)
	}
	secs := time.Since(start).Seconds()
	rec := EpochRecord{
		Stage: si, Method: m.Name(), Epoch: r.epoch + 1, StageEpoch: e + 1, Steps: *step,
		Loss: lossSum / float64(runs), LR: lr, ImagesPerSec: float64(images) / secs, Seconds: secs,
	}
	if stdDim > 0 {
		rec.CollapseStd, rec.CollapseDim = stdSum/float64(runs), stdDim
	}
	return rec, nil
}

// batches iterates over an epoch's batches.
func batches(ep *dataset.Epoch) func(yield func(*dataset.Batch) bool) {
	return func(yield func(*dataset.Batch) bool) {
		for {
			b, ok := ep.Next()
			if !ok || !yield(b) {
				return
			}
		}
	}
}
