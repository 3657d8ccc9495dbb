package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/distributed"
	"github.com/disiam/disiam/eval"
	"github.com/disiam/disiam/nn"
	"github.com/disiam/disiam/optim"
	"github.com/disiam/disiam/safetensors"
)

// Objective is the trainable computation of a stage: its forward pass and
// loss, and how a batch reaches the graph's inputs.
type Objective interface {
	// Build adds the inputs, forward pass and scalar loss over a
	// micro-batch of n samples to g and returns the loss. The Loop calls
	// it once per stage (inside nn.Build, so a panic of a layer's shape
	// check becomes an error).
	Build(g *G.ExprGraph, n int) (*G.Node, error)
	// Feed copies part i of k equal parts of b (micro-batch i of a
	// gradient-accumulated step; k is 1 without accumulation) into the
	// inputs Build made.
	Feed(b Batch, i, k int) error
}

// Optional behaviour of an Objective.
type (
	// Starter prepares state when a stage begins, after earlier stages
	// may have changed shared weights (BYOL copies its online network
	// into its EMA target). It is not called when a stage resumes from
	// a checkpoint.
	Starter interface{ Start() }
	// BeforeStepper is called before each optimizer step's forward
	// passes, also after resuming, with the stage's step (from 0) and its
	// total number of steps (a loss whose weights follow a schedule).
	BeforeStepper interface{ BeforeStep(step, total int) }
	// AfterStepper is called after each optimizer step (an EMA update).
	AfterStepper interface{ AfterStep(step, total int) }
	// Observer is asked after every forward and backward run for values
	// to average over the epoch (an SSL method's collapse measure); an
	// error stops training as a divergence.
	Observer interface {
		Observe() (eval.Metrics, error)
	}
)

// Data is a stage's training data: a number of batches per epoch, each an
// optimizer step.
type Data interface {
	StepsPerEpoch() int
	// Epoch starts epoch e, counted from 0 over all stages (the order and
	// augmentations of a seeded loader depend on it).
	Epoch(ctx context.Context, e int) Epoch
}

// Epoch iterates over the batches of one epoch.
type Epoch interface {
	// Next returns the next batch; ok is false at the end or on an error
	// (see Err). A batch is valid until the next call.
	Next() (b Batch, ok bool)
	Err() error
	Close()
}

// Batch is one batch of samples; the Objective knows its concrete type.
type Batch interface {
	// Len is the number of samples (images), for throughput.
	Len() int
}

// Evaluator measures the model a stage trains, whatever it is (an
// encoder's kNN accuracy, a detector's mAP). It may leave the model in
// Eval mode: the Loop switches the stage's parts back to training.
type Evaluator interface {
	Evaluate(ctx context.Context) (eval.Metrics, error)
}

// EvaluatorFunc adapts a function to Evaluator.
type EvaluatorFunc func(ctx context.Context) (eval.Metrics, error)

// Evaluate calls f.
func (f EvaluatorFunc) Evaluate(ctx context.Context) (eval.Metrics, error) { return f(ctx) }

// Recipe is the optimization of one stage: the optimizer and the
// learning-rate schedule.
type Recipe struct {
	// NewOptimizer returns an optimizer over some trainable parameters.
	// The Loop calls it once per trainable part (Parts.NewOptimizer), so
	// that the networks of a model may share parameter names.
	NewOptimizer func(params []*nn.Param) optim.Optimizer
	// Schedule gives the learning rate of the stage's optimizer step k,
	// counted from 0.
	Schedule optim.Schedule
	// ClipGradNorm, if positive, clips the gradients of the stage's
	// trainable parameters, all parts together, to this total 2-norm
	// before every optimizer step (after gradient accumulation), as
	// torch.nn.utils.clip_grad_norm_ does (optim.GradClipper); StepInfo
	// then reports the norm before clipping. 0 does not clip.
	ClipGradNorm float64
}

// Export is a module the Loop saves, with its own parameter names, into
// Config.CheckpointDir at the end of its stage (an SSL method's encoder,
// with torchvision's names).
type Export struct {
	File   string
	Module nn.Module
}

// Stage is one objective trained for a number of epochs. Stages run in
// order; stages whose parts share modules share their weights, which is
// how a method is chained after another (SimCLR, then DiSiam), or a
// detector fine-tuned after pretraining.
type Stage struct {
	// Name names the stage in logs, records and checkpoints ("disiam").
	Name string
	// Parts are the networks the stage trains and checkpoints.
	Parts     Parts
	Objective Objective
	Data      Data
	// Epochs is the stage's length and the length of its schedule; a
	// Switch rule may end it earlier.
	Epochs int
	Recipe Recipe
	// Evaluator measures the stage's model every Config.EvalEvery epochs
	// and at the end of the stage; nil measures nothing.
	Evaluator Evaluator
	// Switch, if not nil, ends the stage early when its metric reaches a
	// plateau.
	Switch *Plateau
	// Exports are saved at the end of the stage when checkpointing.
	Exports []Export
}

// Config holds what a run's stages share. Zero values are the documented
// defaults.
type Config struct {
	// Batch is the number of samples per optimizer step; required.
	Batch int
	// Accumulate splits each batch into Accumulate micro-batches of
	// Batch/Accumulate samples whose gradients are averaged before one
	// optimizer step (gradient accumulation); 0 or 1 means none.
	// BatchNorm statistics (and an SSL loss' negatives) come from each
	// micro-batch.
	Accumulate int
	// Seed is recorded in the run's identity; the Data and the models
	// use it as their builders decide.
	Seed uint64

	// EvalEvery is the period, in epochs counted over all stages, of the
	// stages' evaluations (they also run at the end of every stage); 0
	// turns evaluation off. EvalAtStart also measures the initial model.
	EvalEvery   int
	EvalAtStart bool

	// CheckpointDir, if set, receives CheckpointFile every
	// CheckpointEvery epochs (0: only at the end of each stage) and at
	// the end of every stage, and the stage's Exports at its end.
	CheckpointDir   string
	CheckpointEvery int
	// Resume continues from CheckpointDir's checkpoint if there is one,
	// else starts afresh. The checkpoint must come from a run of the same
	// identity (see Identity), or Run refuses with an error naming the
	// first setting that differs. That includes the stages' epochs: a
	// run cannot be continued for more epochs, since its learning-rate
	// schedule depends on them. A finished run resumed trains nothing
	// (its exports are written again); temporary files a killed run left
	// behind are removed.
	Resume bool
	// Identity holds every further setting that changes the run's
	// numbers (data, augmentations, model sizes, learning rates, …) as
	// strings; the Loop adds the batch, accumulation, seed and the
	// stages' names and epochs.
	Identity map[string]string

	// Log receives a progress line (epoch, steps, loss, learning rate,
	// img/s, ETA) every LogInterval (0: 10 s, 0.5 s on a terminal, where
	// the line is redrawn in place), a summary per epoch and the
	// evaluations; nil is silent.
	Log         io.Writer
	LogInterval time.Duration
	// MetricsPath, if set, receives one record per epoch (EpochRecord):
	// CSV if it ends in ".csv", JSON Lines otherwise. It is rewritten
	// after every epoch from the history (so a resumed run's file holds
	// the whole run).
	MetricsPath string

	// OnStep, if not nil, is called after every optimizer step;
	// OnEpoch after every epoch once its record, evaluation and
	// checkpoint are done. An error they return stops training and is
	// returned by Run, except Stop, which ends the run early without an
	// error (early stopping).
	OnStep  func(StepInfo) error
	OnEpoch func(EpochRecord) error

	// Comm, if it has more than one rank, trains data-parallel (package
	// distributed): each rank (process) trains a replica on its
	// Batch/(Accumulate·N) samples of every micro-batch, which each
	// stage's Data must deliver (dataset.LoaderConfig.Shards). Rank 0's
	// weights are broadcast at the start; after the backward passes the
	// gradients of the trainable parameters are averaged over the ranks
	// (one all-reduce of them all) and so is the step's loss, before the
	// optimizer step; rank 0 evaluates while the others wait, and rank 0
	// alone logs and writes MetricsPath, checkpoints and exports (every
	// rank reads the checkpoint to resume: CheckpointDir must be shared).
	// Batch, the recipes' learning-rate rules and the run identity are
	// the global batch's, so a run resumes on any number of ranks. The
	// hooks run on every rank and must agree (Stop on one rank alone
	// leaves the others waiting until the Comm's timeout). nil or
	// distributed.Local is one process.
	Comm distributed.Comm
	// SyncBatchNorm makes BatchNorm use the statistics of the global
	// micro-batch, reduced over the ranks (nn.Replica), so that a
	// data-parallel run computes what one process computes; without it
	// each rank normalizes with its own share's statistics.
	SyncBatchNorm bool
}

// StepInfo describes an optimizer step that just finished.
type StepInfo struct {
	Stage int
	// Epoch counts over all stages from 1; Step is the stage's step,
	// from 0, of Total.
	Epoch, Step, Total int
	// Loss is the step's loss (the mean over its micro-batches), LR its
	// learning rate.
	Loss, LR float64
	// GradNorm is the gradients' total 2-norm before clipping when the
	// stage's Recipe clips (ClipGradNorm), else 0.
	GradNorm float64
}

// Stop, returned by a hook, ends training early without an error.
var Stop = errors.New("train: stop")

// Loop trains Stages in order with the shared Config: the epoch loop over
// the stage's Data, forward and backward passes of the graph its
// Objective builds (compiled once per stage), gradient accumulation,
// optimizer steps on the Recipe's schedule, evaluation, progress and
// metrics, a check that the loss and the weights stay finite, atomic
// checkpoints and exact resumption, and the OnStep/OnEpoch hooks.
//
// Results depend only on the stages and the configuration, never on
// timing or the number of goroutines; a resumed run restores every piece
// of state (weights, BatchNorm statistics, optimizer buffers, step
// counters, dropout and stochastic-depth counters) and so computes the
// same losses as an uninterrupted one.
type Loop struct {
	Stages []Stage
	Config
}

// DivergedError reports a non-finite loss, observation or weight:
// training stopped, and no checkpoint holds the non-finite state.
type DivergedError struct {
	Stage int
	Name  string
	// Epoch (from 1, over all stages) and Step (the stage's optimizer
	// step, from 0) locate the batch or the epoch's end.
	Epoch, Step int
	// Loss is the loss when it was not finite.
	Loss float64
	// Tensor names the parameter, buffer or optimizer buffer that holds
	// a non-finite value (by state_dict key), with the element's Index;
	// or the observed value ("observed collapse_std"); empty when the
	// loss diverged.
	Tensor string
	Index  int
}

func (e *DivergedError) Error() string {
	if e.Tensor != "" {
		return fmt.Sprintf("train: %s diverged: %s is not finite (element %d) at epoch %d, step %d (stage %d); the last good checkpoint is kept; try a lower learning rate",
			e.Name, e.Tensor, e.Index, e.Epoch, e.Step, e.Stage)
	}
	return fmt.Sprintf("train: %s diverged: loss %v at epoch %d, step %d (stage %d); try a lower learning rate",
		e.Name, e.Loss, e.Epoch, e.Step, e.Stage)
}

func (l *Loop) accumulate() int { return max(l.Accumulate, 1) }

func (l *Loop) evaluates(s Stage) bool { return s.Evaluator != nil && l.EvalEvery > 0 }

// Validate checks the configuration and the stages without running
// anything.
func (l *Loop) Validate() error {
	switch {
	case len(l.Stages) == 0:
		return errors.New("train: no stages")
	case l.Batch <= 0:
		return fmt.Errorf("train: batch size %d", l.Batch)
	case l.Accumulate < 0 || (l.Accumulate > 1 && l.Batch%l.Accumulate != 0):
		return fmt.Errorf("train: batch %d cannot be split into %d micro-batches", l.Batch, l.Accumulate)
	case l.EvalEvery < 0 || l.CheckpointEvery < 0:
		return fmt.Errorf("train: EvalEvery %d, CheckpointEvery %d", l.EvalEvery, l.CheckpointEvery)
	case l.Resume && l.CheckpointDir == "":
		return errors.New("train: Resume needs a CheckpointDir")
	case distributed.Distributed(l.Comm) && l.Batch%(l.accumulate()*l.Comm.Size()) != 0:
		return fmt.Errorf("train: batch %d cannot be split into %d micro-batches over %d ranks", l.Batch, l.accumulate(), l.Comm.Size())
	}
	for i, s := range l.Stages {
		switch {
		case s.Objective == nil || s.Data == nil || len(s.Parts) == 0:
			return fmt.Errorf("train: stage %d (%s): needs Parts, an Objective and Data", i, s.Name)
		case s.Epochs <= 0:
			return fmt.Errorf("train: stage %d (%s): %d epochs", i, s.Name, s.Epochs)
		case s.Recipe.NewOptimizer == nil || s.Recipe.Schedule == nil:
			return fmt.Errorf("train: stage %d (%s): the Recipe needs NewOptimizer and Schedule", i, s.Name)
		case !(s.Recipe.ClipGradNorm >= 0) || math.IsInf(s.Recipe.ClipGradNorm, 0):
			return fmt.Errorf("train: stage %d (%s): Recipe.ClipGradNorm %v, want a finite value ≥ 0", i, s.Name, s.Recipe.ClipGradNorm)
		case s.Data.StepsPerEpoch() <= 0:
			return fmt.Errorf("train: stage %d (%s): the data make no batch of %d", i, s.Name, l.Batch)
		}
		if err := checkSchedule(s.Recipe.Schedule, s.Epochs*s.Data.StepsPerEpoch()); err != nil {
			return fmt.Errorf("train: stage %d (%s): %w", i, s.Name, err)
		}
		if err := s.Switch.validate(); err != nil {
			return fmt.Errorf("train: stage %d (%s): %w", i, s.Name, err)
		}
		if s.Switch != nil && s.Switch.Metric != MetricLoss && !l.evaluates(s) {
			return fmt.Errorf("train: stage %d (%s): a plateau rule on an evaluated metric needs an Evaluator and EvalEvery > 0", i, s.Name)
		}
		if _, err := s.Parts.Keyed(); err != nil {
			return fmt.Errorf("train: stage %d (%s): %w", i, s.Name, err)
		}
	}
	return nil
}

// identity returns the run's identity: Config.Identity and the loop's own
// settings.
func (l *Loop) identity() map[string]string {
	id := map[string]string{}
	for k, v := range l.Identity {
		id[k] = v
	}
	id["batch"] = strconv.Itoa(l.Batch)
	id["accumulate"] = strconv.Itoa(l.accumulate())
	id["seed"] = strconv.FormatUint(l.Seed, 10)
	var stages []string
	for i, s := range l.Stages {
		stages = append(stages, fmt.Sprintf("%s:%d", s.Name, s.Epochs))
		if s.Recipe.ClipGradNorm > 0 {
			id["stage"+strconv.Itoa(i)+".clip_grad_norm"] = strconv.FormatFloat(s.Recipe.ClipGradNorm, 'g', -1, 64)
		}
	}
	id["stages"] = strings.Join(stages, ",")
	if distributed.Distributed(l.Comm) && !l.SyncBatchNorm {
		// BatchNorm's statistics come from each rank's share: the
		// numbers depend on it (with SyncBatchNorm they do not, and a
		// run resumes on any number of ranks).
		id["batchnorm_samples"] = strconv.Itoa(l.Batch / (l.accumulate() * l.Comm.Size()))
	}
	return id
}

// sameIdentity returns an error naming the first setting (in sorted
// order) in which a checkpoint's identity differs from this run's.
func sameIdentity(path string, saved, now map[string]string) error {
	keys := map[string]bool{}
	for k := range saved {
		keys[k] = true
	}
	for k := range now {
		keys[k] = true
	}
	if err := sameStages(path, saved["stages"], now["stages"]); err != nil {
		return err
	}
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	show := func(m map[string]string, k string) string {
		if v, ok := m[k]; ok {
			return strconv.Quote(v)
		}
		return "unset"
	}
	for _, k := range names {
		a, aok := saved[k]
		b, bok := now[k]
		if aok != bok || a != b {
			return fmt.Errorf("train: resume: %s was written by a run with %s = %s; this run has %s = %s (resume with the original settings, or start afresh in another directory)",
				path, k, show(saved, k), k, show(now, k))
		}
	}
	return nil
}

// run is the state of one call to Run.
type run struct {
	l     *Loop
	ctx   context.Context
	hist  *History
	epoch int // epochs completed over all stages
	log   *progress
	id    map[string]string
	par   *parallel // nil for one process
}

// Run trains the stages and returns the history; on an error the history
// so far is returned with it. Cancelling ctx stops training between
// batches with ctx's error.
func (l *Loop) Run(ctx context.Context) (*History, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	r := &run{l: l, ctx: ctx, hist: &History{}, log: newProgress(l.Log, l.LogInterval), id: l.identity(), par: newParallel(l.Config)}
	if !r.par.lead() {
		r.log = newProgress(nil, 0) // rank 0 reports
	}
	if err := r.par.checkIdentity(r.id); err != nil {
		return nil, err
	}
	if err := r.par.broadcast(l.Stages); err != nil {
		return nil, err
	}
	var ckpt *safetensors.File
	var st *state
	if l.Resume {
		l.removeStale()
		var err error
		if ckpt, st, err = readCheckpoint(l.CheckpointDir); err != nil {
			return nil, err
		}
		if st != nil {
			path := filepath.Join(l.CheckpointDir, CheckpointFile)
			if err := sameIdentity(path, st.Identity, r.id); err != nil {
				return nil, err
			}
			if st.Stage < 0 || st.Stage >= len(l.Stages) || l.Stages[st.Stage].Name != st.Name {
				return nil, fmt.Errorf("train: resume: %s holds stage %d (%s), which this run does not have", path, st.Stage, st.Name)
			}
			r.hist, r.epoch = st.History, st.Epoch
			if st.StageDone && st.Stage == len(l.Stages)-1 {
				r.log.printf("the run in %s is complete (%d epochs): nothing to train\n", l.CheckpointDir, st.Epoch)
			} else {
				r.log.printf("resuming %s (stage %d) after epoch %d from %s\n", st.Name, st.Stage, st.Epoch, path)
			}
		} else {
			r.log.printf("no checkpoint in %s: starting afresh\n", l.CheckpointDir)
		}
	}
	first := 0
	if st != nil {
		first = st.Stage
	}
	if st == nil && l.EvalAtStart && l.evaluates(l.Stages[0]) {
		if err := r.evaluate(0); err != nil {
			return r.hist, err
		}
	}
	for si := first; si < len(l.Stages); si++ {
		var res *stageResume
		if st != nil && si == st.Stage {
			opt, err := restore(l.Stages[si].Parts, ckpt, st)
			if err != nil {
				return r.hist, err
			}
			if st.StageDone {
				// The exports follow the stage's last checkpoint; write
				// them again in case the run stopped between the two.
				if err := r.export(si); err != nil {
					return r.hist, err
				}
				continue // the next stage starts from the restored weights
			}
			res = &stageResume{epoch: st.StageEpoch, step: st.Step, opt: opt}
		}
		if err := r.stage(si, res); err != nil {
			if errors.Is(err, Stop) {
				return r.hist, nil
			}
			return r.hist, err
		}
	}
	return r.hist, nil
}

// stageResume is where a resumed stage continues.
type stageResume struct {
	epoch, step int
	opt         map[string]*tensor.Dense
}

// compiled is a stage's compiled graph and optimizer.
type compiled struct {
	prog      *nn.Program
	opt       optim.Optimizer
	accum     *optim.Accumulator
	clip      *optim.GradClipper
	trainable []*nn.Param
}

func (r *run) compile(si int) (*compiled, error) {
	s := r.l.Stages[si]
	micro := r.l.Batch / (r.l.accumulate() * r.par.size())
	g := G.NewGraph()
	var loss *G.Node
	var berr error
	nn.SetReplica(g, r.par.replica(micro))
	err := nn.Build(func() { loss, berr = s.Objective.Build(g, micro) })
	nn.ClearReplica(g)
	if err != nil || berr != nil {
		return nil, fmt.Errorf("train: stage %d: building %s: %w", si, s.Name, errors.Join(err, berr))
	}
	trainable := s.Parts.Trainable()
	prog, err := nn.Compile(g, loss, trainable)
	if err != nil {
		return nil, fmt.Errorf("train: stage %d: %w", si, err)
	}
	opt, err := s.Parts.NewOptimizer(s.Recipe.NewOptimizer)
	if err != nil {
		prog.Close()
		return nil, fmt.Errorf("train: stage %d: %w", si, err)
	}
	c := &compiled{prog: prog, opt: opt, trainable: trainable}
	if s.Recipe.ClipGradNorm > 0 {
		c.clip = &optim.GradClipper{MaxNorm: s.Recipe.ClipGradNorm}
	}
	if r.l.accumulate() > 1 {
		c.accum = optim.NewAccumulator(trainable)
	}
	return c, nil
}

// stage runs stage si from its start or from res.
func (r *run) stage(si int, res *stageResume) error {
	l := r.l
	s := l.Stages[si]
	c, err := r.compile(si)
	if err != nil {
		return err
	}
	defer c.prog.Close()
	startEpoch, step := 0, 0
	if res != nil {
		if err := c.opt.LoadState(res.opt); err != nil {
			return fmt.Errorf("train: resume: %w", err)
		}
		startEpoch, step = res.epoch, res.step
	} else if st, ok := s.Objective.(Starter); ok {
		st.Start()
	}
	s.Parts.SetTraining(true)
	spe := s.Data.StepsPerEpoch()
	total := s.Epochs * spe
	acc := l.accumulate()
	accText := ""
	if acc > 1 {
		accText = fmt.Sprintf(", accumulated over %d micro-batches of %d", acc, l.Batch/acc)
	}
	r.log.printf("stage %d: %s, %d epochs of %d steps, batch %d%s\n", si, s.Name, s.Epochs, spe, l.Batch, accText)

	for e := startEpoch; e < s.Epochs; e++ {
		rec, err := r.epochLoop(si, e, c, &step, total)
		if err != nil {
			return err
		}
		r.epoch++
		last := e == s.Epochs-1
		// Nothing non-finite is evaluated, recorded as good or saved.
		if err := checkFinite(s.Parts, c.opt, &DivergedError{Stage: si, Name: s.Name, Epoch: r.epoch, Step: step - 1}); err != nil {
			return err
		}
		if l.evaluates(s) && (r.epoch%l.EvalEvery == 0 || last) {
			if err := r.evaluate(si); err != nil {
				return err
			}
			rec.Eval = r.lastEval()
		}
		switched := false
		if !last && s.Switch != nil {
			// Rank 0 alone holds the evaluations: it decides.
			if switched, err = r.par.agree(r.par.lead() && s.Switch.reached(r.switchValues(si, rec))); err != nil {
				return err
			}
		}
		if switched {
			rec.Switched = true
			if rec.Eval == nil && l.evaluates(s) {
				if err := r.evaluate(si); err != nil {
					return err
				}
				rec.Eval = r.lastEval()
			}
			r.log.printf("stage %d: %s plateau reached after epoch %d: switching\n", si, r.switchMetric(si), e+1)
			last = true
		}
		r.hist.Epochs = append(r.hist.Epochs, rec)
		r.log.epochSummary(rec, s.Epochs)
		if l.MetricsPath != "" && r.par.lead() {
			if err := writeMetrics(l.MetricsPath, r.hist); err != nil {
				return err
			}
		}
		if l.CheckpointDir != "" && r.par.lead() && (last || (l.CheckpointEvery > 0 && r.epoch%l.CheckpointEvery == 0)) {
			st := state{Stage: si, Name: s.Name, StageEpoch: e + 1, StageDone: last, Step: step,
				Epoch: r.epoch, Identity: r.id, History: r.hist}
			if err := writeCheckpoint(l.CheckpointDir, s.Parts, c.opt, st); err != nil {
				return err
			}
			if last {
				if err := r.export(si); err != nil {
					return err
				}
			}
		}
		if l.OnEpoch != nil {
			if err := l.OnEpoch(rec); err != nil {
				return err
			}
		}
		if last {
			break
		}
	}
	return nil
}

// export saves stage si's Exports into the checkpoint directory.
func (r *run) export(si int) error {
	if r.l.CheckpointDir == "" {
		return nil
	}
	for _, ex := range r.l.Stages[si].Exports {
		if err := safetensors.SaveModule(filepath.Join(r.l.CheckpointDir, ex.File), ex.Module); err != nil {
			return fmt.Errorf("train: %w", err)
		}
	}
	return nil
}

// switchMetric is the metric stage si's plateau rule watches.
func (r *run) switchMetric(si int) string {
	m := r.l.Stages[si].Switch.Metric
	if m == "" {
		for _, e := range r.hist.Evaluations {
			if len(e.Metrics) > 0 {
				return e.Metrics[0].Name
			}
		}
	}
	return m
}

// switchValues returns the values stage si's plateau rule judges, with
// the loss of rec (not yet in the history) for MetricLoss.
func (r *run) switchValues(si int, rec EpochRecord) []float64 {
	m := r.switchMetric(si)
	v := r.hist.stageValues(si, m)
	if m == MetricLoss {
		v = append(v, -rec.Loss)
	}
	return v
}

// lastEval returns the metrics of the last evaluation (nil on the ranks
// that do not evaluate).
func (r *run) lastEval() eval.Metrics {
	if len(r.hist.Evaluations) == 0 || !r.par.lead() {
		return nil
	}
	return r.hist.Evaluations[len(r.hist.Evaluations)-1].Metrics
}

// evaluate measures stage si's model and records it. In a data-parallel
// run rank 0 evaluates while the others wait.
func (r *run) evaluate(si int) error {
	if !r.par.lead() {
		return r.par.wait("evaluation")
	}
	if err := r.evaluateHere(si); err != nil {
		return err
	}
	return r.par.wait("evaluation")
}

func (r *run) evaluateHere(si int) error {
	s := r.l.Stages[si]
	start := time.Now()
	ms, err := s.Evaluator.Evaluate(r.ctx)
	s.Parts.SetTraining(true)
	if err != nil {
		return fmt.Errorf("train: evaluation after epoch %d: %w", r.epoch, err)
	}
	ms = slices.Clone(ms)
	r.hist.Evaluations = append(r.hist.Evaluations, Evaluation{Epoch: r.epoch, Stage: si, Metrics: ms})
	best := ""
	if len(ms) > 0 {
		if v, _, ok := r.hist.Best(ms[0].Name); ok {
			best = eval.Metric{Name: "max", Value: v, Percent: ms[0].Percent}.String() + ", "
		}
	}
	r.log.printf("eval after epoch %d: %s  (%s%.1fs)\n", r.epoch, ms, best, time.Since(start).Seconds())
	return nil
}

// epochLoop runs stage epoch e and returns its record.
func (r *run) epochLoop(si, e int, c *compiled, step *int, total int) (EpochRecord, error) {
	l := r.l
	s := l.Stages[si]
	ep := s.Data.Epoch(r.ctx, r.epoch)
	defer ep.Close()
	acc := l.accumulate()
	start := time.Now()
	var lossSum float64
	var obsSum eval.Metrics
	runs, samples, batches := 0, 0, 0
	var lr float64
	spe := s.Data.StepsPerEpoch()
	before, _ := s.Objective.(BeforeStepper)
	after, _ := s.Objective.(AfterStepper)
	observer, _ := s.Objective.(Observer)
	diverged := func(loss float64, tensor string) error {
		return &DivergedError{Stage: si, Name: s.Name, Epoch: r.epoch + 1, Step: *step, Loss: loss, Tensor: tensor}
	}
	local := l.Batch / r.par.size()
	for {
		b, ok := ep.Next()
		if !ok {
			break
		}
		if r.par != nil && b.Len() != local {
			return EpochRecord{}, fmt.Errorf("train: epoch %d, step %d: rank %d got %d samples, want its %d of the batch of %d (shard the data by rank, e.g. dataset.LoaderConfig.Shards)",
				r.epoch+1, *step, r.par.rank(), b.Len(), local, l.Batch)
		}
		if before != nil {
			before.BeforeStep(*step, total)
		}
		var stepLoss float64
		for mi := range acc {
			if err := s.Objective.Feed(b, mi, acc); err != nil {
				return EpochRecord{}, fmt.Errorf("train: epoch %d, step %d: %w", r.epoch+1, *step, err)
			}
			if err := c.prog.Run(); err != nil {
				return EpochRecord{}, fmt.Errorf("train: epoch %d, step %d: %w", r.epoch+1, *step, err)
			}
			loss := c.prog.Loss()
			if r.par == nil {
				if !finite(loss) {
					return EpochRecord{}, diverged(loss, "")
				}
				lossSum += loss
			}
			stepLoss += loss
			runs++
			if observer != nil {
				ms, err := observer.Observe()
				if err != nil {
					return EpochRecord{}, diverged(loss, "an observed value ("+err.Error()+")")
				}
				obsSum = addMetrics(obsSum, ms)
			}
			if c.accum != nil {
				c.accum.Add()
			}
		}
		if c.accum != nil {
			c.accum.Finish()
		}
		if r.par != nil {
			// The step's loss and gradient are the means over the ranks.
			var err error
			if stepLoss, err = r.par.meanLoss(stepLoss); err != nil {
				return EpochRecord{}, err
			}
			if !finite(stepLoss) {
				return EpochRecord{}, diverged(stepLoss/float64(acc), "")
			}
			lossSum += stepLoss
			if err := r.par.averageGradients(s.Parts.Trainable()); err != nil {
				return EpochRecord{}, err
			}
		}
		var gradNorm float64
		if c.clip != nil {
			gradNorm = c.clip.Clip(c.trainable)
		}
		lr = s.Recipe.Schedule.At(*step)
		c.opt.Step(lr)
		if after != nil {
			after.AfterStep(*step, total)
		}
		*step++
		batches++
		samples += b.Len() * r.par.size()
		if l.OnStep != nil {
			if err := l.OnStep(StepInfo{Stage: si, Epoch: r.epoch + 1, Step: *step - 1, Total: total, Loss: stepLoss / float64(acc), LR: lr, GradNorm: gradNorm}); err != nil {
				return EpochRecord{}, err
			}
		}
		r.log.step(r.epoch+1, e+1, s.Epochs, batches, spe, lossSum/float64(runs), lr, samples, start, total-*step)
	}
	if err := ep.Err(); err != nil {
		return EpochRecord{}, fmt.Errorf("train: epoch %d: %w", r.epoch+1, err)
	}
	if runs == 0 {
		return EpochRecord{}, fmt.Errorf("train: epoch %d had no batch", r.epoch+1)
	}
	if err := r.par.meanMetrics(obsSum); err != nil {
		return EpochRecord{}, err
	}
	secs := time.Since(start).Seconds()
	for i := range obsSum {
		obsSum[i].Value /= float64(runs)
	}
	return EpochRecord{
		Stage: si, Name: s.Name, Epoch: r.epoch + 1, StageEpoch: e + 1, Steps: *step,
		Loss: lossSum / float64(runs), LR: lr, SamplesPerSec: float64(samples) / secs, Seconds: secs, Observed: obsSum,
	}, nil
}

// addMetrics adds ms to sum by name (the first call copies ms).
func addMetrics(sum, ms eval.Metrics) eval.Metrics {
	if sum == nil {
		return slices.Clone(ms)
	}
	for _, m := range ms {
		found := false
		for i := range sum {
			if sum[i].Name == m.Name {
				sum[i].Value += m.Value
				found = true
				break
			}
		}
		if !found {
			sum = append(sum, m)
		}
	}
	return sum
}
