package train_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/eval"
	"github.com/disiam/disiam/nn"
	"github.com/disiam/disiam/optim"
	"github.com/disiam/disiam/train"
)

// A least-squares task: t = x·A for a fixed A, learned by a Linear layer.
const (
	nIn, nOut, nSamples = 6, 3, 48
)

type pairs struct{ x, t []float32 }

func newPairs() pairs {
	var p pairs
	for i := range nSamples * nIn {
		p.x = append(p.x, float32(math.Sin(float64(i)*0.7)))
	}
	for i := range nSamples {
		for o := range nOut {
			var s float64
			for j := range nIn {
				s += float64(p.x[i*nIn+j]) * math.Cos(float64(j*nOut+o))
			}
			p.t = append(p.t, float32(s))
		}
	}
	return p
}

// batch is a set of sample indices.
type batch []int

func (b batch) Len() int { return len(b) }

// data visits the samples in an order that depends on the epoch only.
type data struct{ batch int }

func (d data) StepsPerEpoch() int { return nSamples / d.batch }
func (d data) Epoch(_ context.Context, e int) train.Epoch {
	order := make([]int, nSamples)
	for i := range order {
		order[i] = (i*7 + e*5) % nSamples
	}
	return &epoch{order: order, batch: d.batch}
}

type epoch struct {
	order []int
	batch int
	next  int
}

func (e *epoch) Next() (train.Batch, bool) {
	if e.next+e.batch > len(e.order) {
		return nil, false
	}
	b := batch(e.order[e.next : e.next+e.batch])
	e.next += e.batch
	return b, true
}
func (e *epoch) Err() error { return nil }
func (e *epoch) Close()     {}

// regression is the objective: mean squared error of Linear(x) against t.
type regression struct {
	p         pairs
	lin       *nn.Linear
	x, t      []float32
	poison    int // AfterStep writes a NaN into the weight at this step (0: never)
	stepsSeen int
}

func newRegression() *regression {
	return &regression{p: newPairs(), lin: nn.NewLinear("head", nIn, nOut, true)}
}

func (r *regression) Build(g *G.ExprGraph, n int) (*G.Node, error) {
	x, xd := nn.Input(g, "x", tensor.Float32, n, nIn)
	t, td := nn.Input(g, "t", tensor.Float32, n, nOut)
	r.x, r.t = xd.Data().([]float32), td.Data().([]float32)
	d := G.Must(G.Sub(r.lin.Forward(x), t))
	return G.Must(G.Mean(G.Must(G.Square(d)))), nil
}

func (r *regression) Feed(b train.Batch, i, k int) error {
	idx := b.(batch)
	n := len(idx) / k
	for s, j := range idx[i*n : (i+1)*n] {
		copy(r.x[s*nIn:(s+1)*nIn], r.p.x[j*nIn:(j+1)*nIn])
		copy(r.t[s*nOut:(s+1)*nOut], r.p.t[j*nOut:(j+1)*nOut])
	}
	return nil
}

func (r *regression) AfterStep(step, total int) {
	r.stepsSeen++
	if r.poison > 0 && step == r.poison {
		r.lin.Params()[0].Data()[4] = float32(math.NaN())
	}
}

// mse evaluates the model on all samples.
func (r *regression) Evaluate(context.Context) (eval.Metrics, error) {
	w, b := r.lin.Params()[0].Data(), r.lin.Params()[1].Data()
	var s float64
	for i := range nSamples {
		for o := range nOut {
			y := float64(b[o])
			for j := range nIn {
				y += float64(r.p.x[i*nIn+j]) * float64(w[o*nIn+j])
			}
			d := y - float64(r.p.t[i*nOut+o])
			s += d * d
		}
	}
	return eval.Metrics{{Name: "mse", Value: s / (nSamples * nOut)}}, nil
}

func loop(r *regression, epochs int, cfg train.Config) *train.Loop {
	return &train.Loop{
		Stages: []train.Stage{{
			Name: "regression", Parts: train.Parts{{Prefix: "model.", Module: r.lin, Trainable: true}},
			Objective: r, Data: data{batch: cfg.Batch}, Epochs: epochs, Evaluator: r,
			Recipe: train.Recipe{
				NewOptimizer: func(ps []*nn.Param) optim.Optimizer {
					return optim.NewSGD(ps, optim.SGDConfig{Momentum: 0.9})
				},
				Schedule: optim.Cosine{Base: 0.1, Steps: epochs * nSamples / cfg.Batch},
			},
			Exports: []train.Export{{File: "head.safetensors", Module: r.lin}},
		}},
		Config: cfg,
	}
}

func TestLoopLearnsAndRecords(t *testing.T) {
	dir := t.TempDir()
	r := newRegression()
	var steps int
	l := loop(r, 6, train.Config{Batch: 8, EvalEvery: 2, EvalAtStart: true, CheckpointDir: dir,
		MetricsPath: filepath.Join(dir, "metrics.csv"), OnStep: func(train.StepInfo) error { steps++; return nil }})
	h, err := l.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if steps != 36 || r.stepsSeen != 36 || len(h.Epochs) != 6 {
		t.Fatalf("%d OnStep calls, %d AfterStep calls, %d epochs; want 36, 36, 6", steps, r.stepsSeen, len(h.Epochs))
	}
	first, _ := h.Initial()
	last, _ := h.Final()
	if last.Metrics.Value("mse") > first.Metrics.Value("mse")/10 {
		t.Errorf("mse %v -> %v: the loop did not learn", first.Metrics, last.Metrics)
	}
	if len(h.Evaluations) != 4 { // start, after epochs 2, 4, 6
		t.Errorf("%d evaluations, want 4", len(h.Evaluations))
	}
	b, err := os.ReadFile(filepath.Join(dir, "metrics.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 7 || lines[0] != "stage,name,epoch,stage_epoch,steps,loss,lr,samples_per_s,seconds,mse,switched" ||
		!strings.HasPrefix(lines[1], "0,regression,1,1,6,") || strings.Count(lines[1], ",,") != 1 {
		t.Errorf("metrics file:\n%s", b)
	}
	for _, f := range []string{train.CheckpointFile, "head.safetensors"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
}

// A run stopped after two epochs and resumed computes the same losses
// and weights as an uninterrupted one, with gradient accumulation.
func TestResumeIsExact(t *testing.T) {
	cfg := train.Config{Batch: 8, Accumulate: 2, EvalEvery: 1, CheckpointEvery: 1, Identity: map[string]string{"task": "regression"}}
	straight := newRegression()
	cfg.CheckpointDir = t.TempDir()
	want, err := loop(straight, 5, cfg).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	cfg.CheckpointDir = t.TempDir()
	stopped := cfg
	stopped.OnEpoch = func(r train.EpochRecord) error {
		if r.Epoch == 2 {
			return errors.New("interrupted")
		}
		return nil
	}
	if _, err := loop(newRegression(), 5, stopped).Run(context.Background()); err == nil || err.Error() != "interrupted" {
		t.Fatalf("err %v", err)
	}
	resumed := newRegression()
	cfg.Resume = true
	got, err := loop(resumed, 5, cfg).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got.Losses()) != fmt.Sprint(want.Losses()) {
		t.Errorf("losses %v, want %v", got.Losses(), want.Losses())
	}
	for i, p := range straight.lin.Params() {
		if fmt.Sprint(p.Data()) != fmt.Sprint(resumed.lin.Params()[i].Data()) {
			t.Errorf("%s differs after resuming", p.Name)
		}
	}
	// The finished run resumes to nothing, and a run with another
	// identity is refused with the field named.
	if h, err := loop(newRegression(), 5, cfg).Run(context.Background()); err != nil || len(h.Epochs) != 5 {
		t.Errorf("resuming a finished run: %v, %d epochs", err, len(h.Epochs))
	}
	for _, tc := range []struct {
		change func(*train.Config) int
		want   string
	}{
		{func(c *train.Config) int { c.Identity = map[string]string{"task": "other"}; return 5 }, `task = "regression"; this run has task = "other"`},
		{func(c *train.Config) int { c.Batch = 16; return 5 }, `batch = "8"; this run has batch = "16"`},
		{func(c *train.Config) int { return 7 }, "written by a run of regression:5 epochs; this run asks for regression:7"},
	} {
		c := cfg
		epochs := tc.change(&c)
		_, err := loop(newRegression(), epochs, c).Run(context.Background())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("err %v, want it to contain %q", err, tc.want)
		}
	}
}

// A weight that becomes NaN stops training with the tensor named, and the
// last checkpoint stays the good one.
func TestNonFiniteWeightStops(t *testing.T) {
	dir := t.TempDir()
	r := newRegression()
	r.poison = 11 // the last step of epoch 2: no loss sees it before the epoch ends
	_, err := loop(r, 4, train.Config{Batch: 8, CheckpointDir: dir, CheckpointEvery: 1}).Run(context.Background())
	var d *train.DivergedError
	if !errors.As(err, &d) || d.Tensor != "model.head.weight" || d.Index != 4 || d.Epoch != 2 {
		t.Fatalf("err %v, want a DivergedError naming model.head.weight element 4 at epoch 2", err)
	}
	// Resuming starts from the good checkpoint of epoch 1.
	h, err := loop(newRegression(), 4, train.Config{Batch: 8, CheckpointDir: dir, CheckpointEvery: 1, Resume: true}).Run(context.Background())
	if err != nil || len(h.Epochs) != 4 || h.Epochs[1].Epoch != 2 {
		t.Fatalf("resume after divergence: %v", err)
	}
}

func TestStopHook(t *testing.T) {
	l := loop(newRegression(), 3, train.Config{Batch: 8, OnStep: func(s train.StepInfo) error {
		if s.Epoch == 2 && s.Step == 7 {
			return train.Stop
		}
		return nil
	}})
	h, err := l.Run(context.Background())
	if err != nil || len(h.Epochs) != 1 {
		t.Fatalf("Stop: err %v, %d epochs recorded; want nil, 1", err, len(h.Epochs))
	}
}

func TestValidate(t *testing.T) {
	ok := func() *train.Loop { return loop(newRegression(), 2, train.Config{Batch: 8}) }
	for _, tc := range []struct {
		name   string
		change func(*train.Loop)
		want   string
	}{
		{"no stages", func(l *train.Loop) { l.Stages = nil }, "no stages"},
		{"batch", func(l *train.Loop) { l.Batch = 0 }, "batch size 0"},
		{"accumulate", func(l *train.Loop) { l.Accumulate = 3 }, "cannot be split into 3"},
		{"resume", func(l *train.Loop) { l.Resume = true }, "Resume needs a CheckpointDir"},
		{"epochs", func(l *train.Loop) { l.Stages[0].Epochs = 0 }, "0 epochs"},
		{"recipe", func(l *train.Loop) { l.Stages[0].Recipe.Schedule = nil }, "NewOptimizer and Schedule"},
		{"plateau", func(l *train.Loop) { l.Stages[0].Switch = &train.Plateau{Patience: 1} }, "needs an Evaluator and EvalEvery"},
		{"bad plateau", func(l *train.Loop) { l.Stages[0].Switch = &train.Plateau{Patience: 0, Metric: train.MetricLoss} }, "invalid plateau"},
		{"clip", func(l *train.Loop) { l.Stages[0].Recipe.ClipGradNorm = -1 }, "ClipGradNorm -1"},
		{"clip NaN", func(l *train.Loop) { l.Stages[0].Recipe.ClipGradNorm = math.NaN() }, "ClipGradNorm NaN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := ok()
			tc.change(l)
			if err := l.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate = %v, want %q", err, tc.want)
			}
		})
	}
	if err := ok().Validate(); err != nil {
		t.Errorf("valid loop: %v", err)
	}
}

// With Recipe.ClipGradNorm every step moves the weights (plain SGD, no
// momentum) by lr times a gradient of norm at most ClipGradNorm, the norm
// before clipping is reported, and the clipping enters the run's identity.
func TestLoopClipsGradients(t *testing.T) {
	r := newRegression()
	const lr, maxNorm = 0.1, 0.01
	l := loop(r, 2, train.Config{Batch: 8})
	l.Stages[0].Recipe = train.Recipe{
		NewOptimizer: func(ps []*nn.Param) optim.Optimizer { return optim.NewSGD(ps, optim.SGDConfig{}) },
		Schedule:     optim.Constant(lr),
		ClipGradNorm: maxNorm,
	}
	prev := func() []float64 {
		var out []float64
		for _, p := range r.lin.Params() {
			for _, v := range p.Data() {
				out = append(out, float64(v))
			}
		}
		return out
	}
	before := prev()
	clipped := 0
	l.OnStep = func(s train.StepInfo) error {
		now := prev()
		var d float64
		for i := range now {
			d += (now[i] - before[i]) * (now[i] - before[i])
		}
		if step := math.Sqrt(d); step > lr*maxNorm*(1+1e-5) {
			t.Errorf("step %d moved the weights by %g > lr·max norm %g (grad norm %g)", s.Step, step, lr*maxNorm, s.GradNorm)
		}
		if !(s.GradNorm > 0) {
			t.Errorf("step %d: grad norm %v", s.Step, s.GradNorm)
		}
		if s.GradNorm > maxNorm {
			clipped++
		}
		before = now
		return nil
	}
	if _, err := l.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if clipped == 0 {
		t.Error("no step was clipped: the test does not test clipping")
	}
}
