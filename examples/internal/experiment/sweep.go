package experiment

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/disiam/disiam/internal/cputime"

	"github.com/disiam/disiam/augment"
	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/dataset"
	"github.com/disiam/disiam/eval"
	"github.com/disiam/disiam/examples/internal/runner"
	"github.com/disiam/disiam/knn"
	"github.com/disiam/disiam/report"
	"github.com/disiam/disiam/ssl"
	"github.com/disiam/disiam/train"
)

// Job is one training run of a sweep.
type Job struct {
	// Group and Series label the run in tables and plots (e.g. the
	// backbone and the method, or the batch size and the method).
	Group  string `json:"group"`
	Series string `json:"series"`
	// Plan is the run's stages: one method, or a chain sharing the
	// online backbone.
	Plan []runner.StagePlan `json:"plan"`
	// Backbone and Assistant name the online and assistant networks; the
	// assistant is built only for methods that have one.
	Backbone  string `json:"backbone"`
	Assistant string `json:"assistant,omitempty"`
	Batch     int    `json:"batch"`
	// LR is the base learning rate (0: the method's default).
	LR float64 `json:"lr"`
	// ProjectionLayers of the SimSiam-style projectors (0: 2).
	ProjectionLayers int    `json:"projection_layers,omitempty"`
	Seed             uint64 `json:"seed"`
}

// Method is the job's method, or its chain as -chain spells it.
func (j Job) Method() string { return runner.ChainName(j.Plan) }

// Epochs is the job's length over all stages.
func (j Job) Epochs() int {
	n := 0
	for _, p := range j.Plan {
		n += p.Epochs
	}
	return n
}

// Result is what a Job measured. Accuracies are fractions; NaN where
// nothing was measured.
type Result struct {
	Job
	// Params counts the online backbone's parameters.
	Params int `json:"params"`
	// Initial is the kNN top-1 of the random initialization, with its own
	// BatchNorm statistics (running mean 0, variance 1), as the thesis
	// measures it; InitialBN the same weights' with the statistics
	// re-estimated on the bank (knn.Evaluator.UpdateBN), which a trained
	// network's running statistics approach. For an EfficientNet at
	// small inputs the two differ by tens of points (examples/README.md,
	// "Real images at CPU scale").
	Initial   float64 `json:"initial_top1"`
	InitialBN float64 `json:"initial_top1_bn"`
	// Max is the largest kNN top-1 over training (the initialization
	// excluded), at epoch MaxEpoch: the thesis' "max kNN top-1".
	Max      float64 `json:"max_top1"`
	MaxEpoch int     `json:"max_epoch"`
	// Final and FinalTop5 are the last measurement's.
	Final     float64 `json:"final_top1"`
	FinalTop5 float64 `json:"final_top5"`
	// Seconds is the run's wall time, evaluations included, and
	// CPUSeconds the process's CPU time during it (all threads; 0 where
	// the system does not say), which other jobs on the machine hardly
	// change.
	Seconds    float64 `json:"seconds"`
	CPUSeconds float64 `json:"cpu_seconds"`
	// Note says why a run ended early (a diverged loss).
	Note string `json:"note,omitempty"`
	// Curve lists every kNN measurement, the initialization first.
	Curve []Point `json:"curve"`
	// Resized holds the measurements with the images resized
	// (Sweep.AlsoSizes), one entry per size.
	Resized []Resized `json:"resized,omitempty"`
}

// Resized is a run's kNN curve with the evaluation images resized to
// Size×Size (the thesis' 224×224 upsampling of CIFAR-10, Section 5.3.7).
type Resized struct {
	Size     int     `json:"size"`
	Initial  float64 `json:"initial_top1"`
	Max      float64 `json:"max_top1"`
	MaxEpoch int     `json:"max_epoch"`
	Curve    []Point `json:"curve"`
}

// Point is one kNN measurement of a run: after Epoch epochs (0: the
// initialization), during Stage.
type Point struct {
	Epoch int     `json:"epoch"`
	Stage int     `json:"stage"`
	Top1  float64 `json:"top1"`
	Top5  float64 `json:"top5"`
}

// points converts a training history's evaluations.
func points(evs []train.Evaluation) []Point {
	out := make([]Point, len(evs))
	for i, e := range evs {
		out[i] = Point{Epoch: e.Epoch, Stage: e.Stage, Top1: e.Metrics.Value(knn.MetricTop1), Top5: e.Metrics.Value(knn.MetricTop5)}
	}
	return out
}

// Data is a sweep's images: the pretraining set, and the kNN bank and
// queries (the same training set and the test split for the in-domain
// experiments, another dataset for transfer), with the normalization of
// both the training views and the evaluation.
type Data struct {
	Train, Bank, Query dataset.Dataset
	Norm               augment.Normalize
}

// OpenData opens the in-domain data of spec: train class-balanced
// training images (0: all) for pretraining and as the kNN bank, test
// class-balanced test images (0: all) as the queries, normalized with the
// training images' channel statistics.
func OpenData(spec string, trainSet, test int) (Data, error) {
	tr, err := runner.OpenBalanced(spec, dataset.Train, trainSet)
	if err != nil {
		return Data{}, err
	}
	te, err := runner.OpenBalanced(spec, dataset.Test, test)
	if err != nil {
		return Data{}, err
	}
	return Data{Train: tr, Bank: tr, Query: te, Norm: runner.ChannelStats(tr)}, nil
}

// Outlined returns d with every image replaced by its outline
// (runner.Outlines) and the normalization measured on the outlined
// training images: the data of -augment shapes.
func (d Data) Outlined() Data {
	o := Data{Train: runner.Outlines{Dataset: d.Train}, Query: runner.Outlines{Dataset: d.Query}}
	o.Bank = o.Train
	if d.Bank != d.Train {
		o.Bank = runner.Outlines{Dataset: d.Bank}
	}
	o.Norm = runner.ChannelStats(o.Train)
	return o
}

// Describe is a one-line summary of d.
func (d Data) Describe() string {
	im := d.Train.Image(0)
	s := fmt.Sprintf("%d training images of %dx%dx%d", d.Train.Len(), im.C, im.H, im.W)
	if d.Bank != d.Train {
		b := d.Bank.Image(0)
		s += fmt.Sprintf("; kNN bank of %d images of %dx%d", d.Bank.Len(), b.H, b.W)
	}
	return s + fmt.Sprintf("; %d kNN queries, %d classes", d.Query.Len(), d.Query.Classes())
}

// Sweep runs jobs over one Data.
type Sweep struct {
	Flags Flags
	Data  Data
	Jobs  []Job
	// EvalSize, if positive, resizes the kNN images to EvalSize×EvalSize
	// (knn.Evaluator.InputSize).
	EvalSize int
	// AlsoSizes lists further evaluation sizes: every measurement is
	// repeated with the images resized to each (Result.Resized). Each
	// costs an evaluation at that size per measurement.
	AlsoSizes []int
	// New builds backbones (nil: backbone.New), see runner.Networks.
	New func(name string, c backbone.Config) (backbone.Backbone, error)
	// Config is stored in runs.json as the sweep's configuration.
	Config any
	// Log receives a line per run (and the trainer's progress lines with
	// Flags.Verbose); nil is silent.
	Log io.Writer
}

// Jobs returns one job per seed of f and template, the seeds outermost
// (an interrupted sweep has whole seeds done), with the template's zero
// Batch, LR and Assistant taken from f.
func (f *Flags) Jobs(templates []Job) []Job {
	var out []Job
	for _, seed := range f.Seeds {
		for _, t := range templates {
			if t.Batch == 0 {
				t.Batch = f.Batch
			}
			if t.LR == 0 {
				t.LR = f.LR
			}
			if t.Assistant == "" {
				t.Assistant = f.Assistant
			}
			t.Seed = seed
			out = append(out, t)
		}
	}
	return out
}

// runsHeader is the first line of runs.csv.
var runsHeader = []string{"group", "series", "method", "backbone", "assistant", "params", "batch", "lr", "projection_layers",
	"seed", "epochs", "initial_top1", "initial_top1_bn", "max_top1", "max_epoch", "final_top1", "final_top5", "seconds", "cpu_seconds", "note"}

func runsRecord(r Result) []string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	return []string{r.Group, r.Series, r.Method(), r.Backbone, r.Assistant, strconv.Itoa(r.Params), strconv.Itoa(r.Batch),
		f(r.LR), strconv.Itoa(r.ProjectionLayers), strconv.FormatUint(r.Seed, 10), strconv.Itoa(r.Epochs()),
		f(r.Initial), f(r.InitialBN), f(r.Max), strconv.Itoa(r.MaxEpoch), f(r.Final), f(r.FinalTop5), strconv.FormatFloat(r.Seconds, 'f', 1, 64), strconv.FormatFloat(r.CPUSeconds, 'f', 1, 64), r.Note}
}

// Run runs the jobs in order and writes runs.csv, curves.csv and
// runs.json to Flags.Out. It returns the results of the runs that
// finished, with the error that stopped the sweep, if any (a cancelled
// ctx, a failed run).
func (s *Sweep) Run(ctx context.Context) ([]Result, error) {
	if err := os.MkdirAll(s.Flags.Out, 0o755); err != nil {
		return nil, err
	}
	runs, err := report.CreateCSV(filepath.Join(s.Flags.Out, "runs.csv"), runsHeader)
	if err != nil {
		return nil, err
	}
	defer runs.Close()
	curves, err := report.CreateCSV(filepath.Join(s.Flags.Out, "curves.csv"),
		[]string{"group", "series", "seed", "stage", "epoch", "top1", "top5"})
	if err != nil {
		return nil, err
	}
	defer curves.Close()
	var results []Result
	var runErr error
	for i, j := range s.Jobs {
		if err := ctx.Err(); err != nil {
			runErr = err
			break
		}
		r, err := s.run(ctx, j)
		if err != nil {
			runErr = fmt.Errorf("run %d (%s, %s, seed %d): %w", i+1, j.Group, j.Series, j.Seed, err)
			break
		}
		results = append(results, r)
		if err := runs.Add(runsRecord(r)); err != nil {
			return results, err
		}
		for _, e := range r.Curve {
			f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
			if err := curves.Add([]string{r.Group, r.Series, strconv.FormatUint(r.Seed, 10), strconv.Itoa(e.Stage),
				strconv.Itoa(e.Epoch), f(e.Top1), f(e.Top5)}); err != nil {
				return results, err
			}
		}
		if s.Log != nil {
			note := ""
			if r.Note != "" {
				note = " (" + r.Note + ")"
			}
			fmt.Fprintf(s.Log, "[%d/%d] %s | %s | seed %d: kNN top-1 init %s%% (BN statistics re-estimated %s%%), max %s%% (epoch %d), final %s%%, %.1fs (CPU %.1fs)%s\n",
				i+1, len(s.Jobs), j.Group, j.Series, j.Seed, report.Pct(r.Initial), report.Pct(r.InitialBN), report.Pct(r.Max), r.MaxEpoch, report.Pct(r.Final), r.Seconds, r.CPUSeconds, note)
		}
	}
	err = report.WriteJSON(filepath.Join(s.Flags.Out, "runs.json"), struct {
		Config  any      `json:"config"`
		Results []Result `json:"results"`
	}{s.Config, results})
	return results, errors.Join(runErr, err)
}

// run trains and measures one job.
func (s *Sweep) run(ctx context.Context, j Job) (Result, error) {
	start, cpu0 := time.Now(), cputime.Process()
	nets := &runner.Networks{Backbone: j.Backbone, Assistant: j.Assistant, Seed: j.Seed, Views: s.Flags.Views,
		ProjectionLayers: j.ProjectionLayers, HeadDim: s.Flags.HeadDim, New: s.New}
	stages, err := nets.Stages(j.Plan, j.LR, 0, 0)
	if err != nil {
		return Result{}, err
	}
	online, err := nets.Online()
	if err != nil {
		return Result{}, err
	}
	steps := s.Data.Train.Len() / j.Batch
	size := s.Data.Train.Image(0).H
	for i := range stages {
		st := &stages[i]
		switch s.Flags.Optimizer {
		case runner.OptimizerLARS:
			st.Recipe = runner.LARSRecipe(cmp.Or(j.LR, LARSBaseLR), j.Batch, st.Epochs, s.Flags.Warmup, max(steps, 1))
		case runner.OptimizerSGD:
			st.Recipe = runner.SGDRecipe(j.LR, j.Batch, st.Epochs, s.Flags.Warmup, max(steps, 1))
		}
		if s.Flags.Augment == runner.AugmentShapes {
			st.Views = runner.ShapeViews(st.Method.Views(), size, s.Data.Norm)
		}
	}
	ev := &multiEval{main: s.evaluator(s.EvalSize), firstBN: math.NaN()}
	for _, size := range s.AlsoSizes {
		ev.also = append(ev.also, s.evaluator(size))
	}
	ev.got = make([][]knn.Result, len(ev.also))
	defer ev.Close()
	tr := &ssl.Trainer{
		Stages:    stages,
		Data:      s.Data.Train,
		Norm:      s.Data.Norm,
		Workers:   s.Flags.Workers,
		Evaluator: ev,
		Config: train.Config{
			Batch:       j.Batch,
			Accumulate:  s.Flags.Accumulate,
			Seed:        j.Seed,
			EvalEvery:   s.Flags.EvalEvery,
			EvalAtStart: true,
		},
	}
	if s.Flags.Verbose {
		tr.Log = s.Log
	}
	h, err := tr.Run(ctx)
	r := Result{Job: j, Params: countParams(online), Initial: math.NaN(), InitialBN: ev.firstBN, Max: math.NaN(), Final: math.NaN(), FinalTop5: math.NaN()}
	var div *train.DivergedError
	if errors.As(err, &div) {
		r.Note = fmt.Sprintf("diverged at epoch %d (loss %v)", div.Epoch, div.Loss)
	} else if err != nil {
		return Result{}, err
	}
	r.Seconds = time.Since(start).Seconds()
	r.CPUSeconds = (cputime.Process() - cpu0).Seconds()
	if h == nil {
		return r, nil
	}
	r.Curve = points(h.Evaluations)
	for i, size := range s.AlsoSizes {
		r.Resized = append(r.Resized, resized(size, r.Curve, ev.got[i]))
	}
	if init, ok := h.Initial(); ok {
		r.Initial = init.Metrics.Value(knn.MetricTop1)
	}
	if m, epoch, ok := h.Best(knn.MetricTop1); ok {
		r.Max, r.MaxEpoch = m, epoch
	}
	if fin, ok := h.Final(); ok && fin.Epoch > 0 {
		r.Final, r.FinalTop5 = fin.Metrics.Value(knn.MetricTop1), fin.Metrics.Value(knn.MetricTop5)
	}
	return r, nil
}

// Evaluator returns a kNN evaluator of s.Data at the given input size
// (0: the images' own), with the sweep's k and normalization.
func (s *Sweep) evaluator(size int) *knn.Evaluator {
	return &knn.Evaluator{Train: s.Data.Bank, Test: s.Data.Query, K: s.Flags.K, InputSize: size,
		Norm: s.Data.Norm}
}

// multiEval is an eval.Evaluator measuring with main and, on the side,
// with every evaluator of also (got[i] in the order of the calls); the
// first call also measures with main after re-estimating the BatchNorm
// statistics (knn.Evaluator.UpdateBN) into firstBN.
type multiEval struct {
	main    *knn.Evaluator
	also    []*knn.Evaluator
	got     [][]knn.Result
	firstBN float64
	calls   int
}

func (m *multiEval) Evaluate(ctx context.Context, b backbone.Backbone) (eval.Metrics, error) {
	r, err := m.main.Evaluate(ctx, b)
	if err != nil {
		return r, err
	}
	if m.calls++; m.calls == 1 {
		if _, ok := b.(backbone.BatchNormer); ok {
			m.main.UpdateBN = true
			x, err := m.main.Measure(ctx, b)
			m.main.UpdateBN = false
			if err != nil {
				return r, fmt.Errorf("with re-estimated BatchNorm statistics: %w", err)
			}
			m.firstBN = x.Top1
		}
	}
	for i, e := range m.also {
		x, err := e.Measure(ctx, b)
		if err != nil {
			return r, fmt.Errorf("at %d×%d: %w", e.InputSize, e.InputSize, err)
		}
		m.got[i] = append(m.got[i], x)
	}
	return r, nil
}

func (m *multiEval) Close() error {
	err := m.main.Close()
	for _, e := range m.also {
		err = errors.Join(err, e.Close())
	}
	return err
}

// resized pairs the side measurements at size with the main curve's
// epochs.
func resized(size int, main []Point, got []knn.Result) Resized {
	rs := Resized{Size: size, Initial: math.NaN(), Max: math.NaN()}
	for k := range min(len(main), len(got)) {
		e := main[k]
		e.Top1, e.Top5 = got[k].Top1, got[k].Top5
		rs.Curve = append(rs.Curve, e)
		switch {
		case e.Epoch == 0:
			rs.Initial = e.Top1
		case math.IsNaN(rs.Max) || e.Top1 > rs.Max:
			rs.Max, rs.MaxEpoch = e.Top1, e.Epoch
		}
	}
	return rs
}

// countParams counts a backbone's trainable parameters.
func countParams(b backbone.Backbone) int {
	n := 0
	for _, p := range b.Params() {
		if p.Trainable {
			n += p.Value.Shape().TotalSize()
		}
	}
	return n
}

// MethodTitle is a method's (or chain's) name as the thesis prints it:
// "DiSiam+", "SimCLR → DiSiam".
func MethodTitle(name string) string {
	titles := map[string]string{
		ssl.NameSimCLR: "SimCLR", ssl.NameBYOL: "BYOL", ssl.NameSimSiam: "SimSiam", ssl.NameFastSiam: "FastSiam",
		ssl.NameDYOL: "DYOL", ssl.NameDiSiam: "DiSiam", ssl.NameDiSiamPlus: "DiSiam+", ssl.NameSoftChain: "SoftChain",
	}
	var parts []string
	for _, p := range strings.Split(name, ",") {
		m, _, _ := strings.Cut(p, ":")
		if t, ok := titles[m]; ok {
			m = t
		}
		parts = append(parts, m)
	}
	return strings.Join(parts, " → ")
}

// Prepare returns d as the runs train on it: outlined (Data.Outlined)
// under -augment shapes, as it is otherwise.
func (f *Flags) Prepare(d Data) Data {
	if f.Augment == runner.AugmentShapes {
		return d.Outlined()
	}
	return d
}
