package ssl_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/disiam/disiam/augment"
	"github.com/disiam/disiam/dataset"
	"github.com/disiam/disiam/knn"
	"github.com/disiam/disiam/nn"
	"github.com/disiam/disiam/safetensors"
	"github.com/disiam/disiam/ssl"
	"github.com/disiam/disiam/train"
)

// A small task for the trainer tests: 96 synthetic images of 16×16.
func trainerData() (trainSet, test dataset.Dataset, norm augment.Normalize) {
	cfg := dataset.SyntheticConfig{Train: 96, Test: 40, Size: 16, Seed: 5}
	return dataset.Synthetic(cfg, dataset.Train), dataset.Synthetic(cfg, dataset.Test),
		augment.Normalize{Mean: []float32{0.5}, Std: []float32{0.25}}
}

// resumeMethods build methods whose state is all the kinds a checkpoint
// must restore: weights, BatchNorm statistics, optimizer momenta, a
// stochastic-depth counter (tinyNet with P > 0), EMA targets (BYOL).
func resumeMethods() map[string]func() ssl.Method {
	return map[string]func() ssl.Method{
		"simsiam": func() ssl.Method {
			proj, pred := tSimSiamHeads("", 16)
			return &ssl.SimSiam{Backbone: newTinyNet(1, 8, 16), Projector: proj, Predictor: pred}
		},
		"byol": func() ssl.Method {
			proj, pred := tBYOLHeads("", 16)
			m := &ssl.BYOL{Backbone: newTinyNet(1, 8, 16), Projector: proj, Predictor: pred, TargetBackbone: newTinyNet(2, 8, 16),
				TargetProjector: ssl.NewMLP("projection_head_momentum", proj.Blocks(), 0)}
			m.Start()
			return m
		},
	}
}

func TestResumeIsExact(t *testing.T) {
	trainSet, test, norm := trainerData()
	for name, build := range resumeMethods() {
		t.Run(name, func(t *testing.T) {
			run := func(m ssl.Method, dir string, epochs int, resume bool) *train.History {
				tr := &ssl.Trainer{
					Stages:    []ssl.Stage{{Method: m, Epochs: 3}},
					Data:      trainSet,
					Norm:      norm,
					Evaluator: &knn.Evaluator{Train: trainSet, Test: test, K: 10, Norm: norm},
					Config: train.Config{
						Batch:           32,
						Seed:            11,
						EvalEvery:       1,
						CheckpointDir:   dir,
						CheckpointEvery: 1,
						Resume:          resume,
					},
				}
				if epochs < 3 {
					tr.OnEpoch = func(r train.EpochRecord) error {
						if r.Epoch == epochs {
							return errStop
						}
						return nil
					}
				}
				h, err := tr.Run(context.Background())
				if epochs < 3 {
					if !errors.Is(err, errStop) {
						t.Fatalf("interrupted run: %v", err)
					}
					return h
				}
				if err != nil {
					t.Fatal(err)
				}
				return h
			}
			straightM := build()
			straight := run(straightM, t.TempDir(), 3, false)

			dir := t.TempDir()
			run(build(), dir, 1, false)
			_, err := os.Stat(filepath.Join(dir, ssl.CheckpointFile))
			if err != nil {
				t.Fatal(err)
			}
			resumedM := build()
			resumed := run(resumedM, dir, 3, true)

			if len(resumed.Epochs) != 3 || len(straight.Epochs) != 3 {
				t.Fatalf("%d and %d epochs recorded", len(straight.Epochs), len(resumed.Epochs))
			}
			for i := range 3 {
				if a, b := straight.Epochs[i].Loss, resumed.Epochs[i].Loss; a != b {
					t.Errorf("epoch %d: loss %v straight, %v resumed", i+1, a, b)
				}
				if a, b := straight.Evaluations[i].Metrics.Value(knn.MetricTop1), resumed.Evaluations[i].Metrics.Value(knn.MetricTop1); a != b {
					t.Errorf("epoch %d: kNN %v straight, %v resumed", i+1, a, b)
				}
			}
			for i, p := range straightM.Parts().Params() {
				q := resumedM.Parts().Params()[i]
				if !sameValues(p, q) {
					t.Errorf("%s differs after resuming", p.Name)
				}
			}
		})
	}
}

var errStop = errors.New("stop")

func sameValues(p, q *nn.Param) bool {
	switch a := p.Value.Data().(type) {
	case []float32:
		b := q.Value.Data().([]float32)
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
				return false
			}
		}
	case []int64:
		b := q.Value.Data().([]int64)
		for i := range a {
			if a[i] != b[i] {
				return false
			}
		}
	}
	return true
}

// nanSet is a dataset whose images hold NaN: the first loss is NaN.
type nanSet struct{ dataset.Dataset }

func (s nanSet) Image(i int) augment.Image {
	img := s.Dataset.Image(i)
	pix := append([]float32(nil), img.Pix...)
	pix[0] = float32(math.NaN())
	img.Pix = pix
	return img
}

func TestDivergenceStops(t *testing.T) {
	trainSet, _, norm := trainerData()
	m := resumeMethods()["simsiam"]()
	tr := &ssl.Trainer{Stages: []ssl.Stage{{Method: m, Epochs: 2}}, Data: nanSet{trainSet}, Norm: norm, Config: train.Config{Batch: 32, Seed: 1}}
	_, err := tr.Run(context.Background())
	var de *train.DivergedError
	if !errors.As(err, &de) {
		t.Fatalf("err = %v, want a DivergedError", err)
	}
	if de.Epoch != 1 || de.Step != 0 || de.Name != "simsiam" || !math.IsNaN(de.Loss) {
		t.Errorf("DivergedError %+v", *de)
	}
	if !strings.Contains(err.Error(), "epoch 1, step 0") {
		t.Errorf("message %q does not locate the step", err)
	}
}

func TestChain(t *testing.T) {
	trainSet, test, norm := trainerData()
	bb := newTinyNet(1, 8, 16)
	simclr := &ssl.SimCLR{Backbone: bb, Projector: ssl.NewMLP("projection_head", ssl.SimCLRProjector(16, tHid, 32), 5)}
	proj, pred := tSimSiamHeads("", 16)
	simsiam := &ssl.SimSiam{Backbone: bb, Projector: proj, Predictor: pred}
	dir := t.TempDir()
	var seen []train.EpochRecord
	tr := &ssl.Trainer{
		Stages: []ssl.Stage{
			// A loss plateau rule that always fires once it can: the
			// first stage ends after Patience+1 = 2 of its 5 epochs.
			{Method: simclr, Epochs: 5, Switch: &ssl.Plateau{Patience: 1, Threshold: math.Inf(1), Metric: train.MetricLoss}},
			{Method: simsiam, Epochs: 2},
		},
		Data:      trainSet,
		Norm:      norm,
		Evaluator: &knn.Evaluator{Train: trainSet, Test: test, K: 10, Norm: norm},
		Config: train.Config{
			Batch:         32,
			Seed:          2,
			EvalEvery:     3,
			EvalAtStart:   true,
			CheckpointDir: dir,
			MetricsPath:   filepath.Join(dir, "metrics.csv"),
			OnEpoch:       func(r train.EpochRecord) error { seen = append(seen, r); return nil },
		},
	}
	h, err := tr.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	type rec struct {
		stage, epoch, stageEpoch int
		method                   string
		knn, switched            bool
	}
	want := []rec{
		{0, 1, 1, "simclr", false, false},
		{0, 2, 2, "simclr", true, true}, // plateau: evaluated and switched
		{1, 3, 1, "simsiam", true, false},
		{1, 4, 2, "simsiam", true, false}, // end of the stage
	}
	if len(h.Epochs) != len(want) || len(seen) != len(want) {
		t.Fatalf("%d epochs recorded, %d seen; want %d", len(h.Epochs), len(seen), len(want))
	}
	for i, w := range want {
		r := h.Epochs[i]
		got := rec{r.Stage, r.Epoch, r.StageEpoch, r.Name, r.Eval != nil, r.Switched}
		if got != w {
			t.Errorf("epoch record %d = %+v, want %+v", i, got, w)
		}
		if r.Steps != w.stageEpoch*3 {
			t.Errorf("epoch record %d: %d steps, want %d", i, r.Steps, w.stageEpoch*3)
		}
	}
	if len(h.Evaluations) != 4 || h.Evaluations[0].Epoch != 0 {
		t.Errorf("evaluations %+v", h.Evaluations)
	}
	if _, ok := h.Initial(); !ok {
		t.Error("no initial evaluation")
	}
	// The metrics file has a header and one row per epoch.
	b, err := os.ReadFile(tr.MetricsPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "stage,name,epoch") || !strings.HasPrefix(lines[2], "0,simclr,2,2,6,") {
		t.Errorf("metrics file:\n%s", b)
	}
	// The encoder file holds the shared backbone with its own names.
	enc, err := safetensors.ReadFile(filepath.Join(dir, ssl.EncoderFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := enc.Get("conv1.weight"); !ok {
		t.Errorf("encoder file keys %v", enc.Names())
	}
	// Resuming the finished run trains nothing and keeps the history.
	tr.Resume, tr.OnEpoch = true, nil
	h2, err := tr.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(h2.Epochs) != 4 || h2.Epochs[3].Loss != h.Epochs[3].Loss {
		t.Errorf("resumed finished run: %d epochs", len(h2.Epochs))
	}
}

// A checkpoint written when a stage ends resumes into the next stage.
func TestResumeAtStageBoundary(t *testing.T) {
	trainSet, _, norm := trainerData()
	build := func() *ssl.Trainer {
		bb := newTinyNet(1, 8, 16)
		simclr := &ssl.SimCLR{Backbone: bb, Projector: ssl.NewMLP("projection_head", ssl.SimCLRProjector(16, tHid, 32), 5)}
		proj, pred := tSimSiamHeads("", 16)
		return &ssl.Trainer{
			Stages: []ssl.Stage{{Method: simclr, Epochs: 1}, {Method: &ssl.SimSiam{Backbone: bb, Projector: proj, Predictor: pred}, Epochs: 1}},
			Data:   trainSet,
			Norm:   norm,
			Config: train.Config{
				Batch: 32,
				Seed:  2,
			},
		}
	}
	straight, err := build().Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tr := build()
	tr.CheckpointDir = dir
	tr.OnEpoch = func(train.EpochRecord) error { return errStop }
	if _, err := tr.Run(context.Background()); !errors.Is(err, errStop) {
		t.Fatal(err)
	}
	tr = build()
	tr.CheckpointDir, tr.Resume = dir, true
	resumed, err := tr.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(resumed.Epochs) != 2 || resumed.Epochs[1].Name != "simsiam" || resumed.Epochs[1].Loss != straight.Epochs[1].Loss {
		t.Errorf("resumed %+v\nstraight %+v", resumed.Epochs, straight.Epochs)
	}
}

func TestTrainerErrors(t *testing.T) {
	trainSet, _, norm := trainerData()
	m := resumeMethods()["simsiam"]()
	cases := []struct {
		name string
		tr   ssl.Trainer
		want string
	}{
		{"no stages", ssl.Trainer{Data: trainSet, Config: train.Config{Batch: 8}}, "no stages"},
		{"no data", ssl.Trainer{Stages: []ssl.Stage{{Method: m, Epochs: 1}}, Config: train.Config{Batch: 8}}, "no training data"},
		{"batch", ssl.Trainer{Stages: []ssl.Stage{{Method: m, Epochs: 1}}, Data: trainSet}, "batch size"},
		{"batch too large", ssl.Trainer{Stages: []ssl.Stage{{Method: m, Epochs: 1}}, Data: trainSet, Config: train.Config{Batch: 1000}}, "no batch"},
		{"accumulate", ssl.Trainer{Stages: []ssl.Stage{{Method: m, Epochs: 1}}, Data: trainSet, Config: train.Config{Batch: 32, Accumulate: 3}}, "micro-batches"},
		{"epochs", ssl.Trainer{Stages: []ssl.Stage{{Method: m}}, Data: trainSet, Config: train.Config{Batch: 32}}, "Epochs"},
		{"views", ssl.Trainer{Stages: []ssl.Stage{{Method: m, Epochs: 1, Views: augment.Views{augment.Identity{}}}}, Data: trainSet, Config: train.Config{Batch: 32}}, "view transforms"},
		{"knn plateau without evaluator", ssl.Trainer{Stages: []ssl.Stage{{Method: m, Epochs: 1, Switch: &ssl.Plateau{Patience: 1}}}, Data: trainSet, Config: train.Config{Batch: 32}}, "Evaluator"},
		{"bad plateau", ssl.Trainer{Stages: []ssl.Stage{{Method: m, Epochs: 1, Switch: &ssl.Plateau{}}}, Data: trainSet, Config: train.Config{Batch: 32}}, "plateau"},
		{"resume without dir", ssl.Trainer{Stages: []ssl.Stage{{Method: m, Epochs: 1}}, Data: trainSet, Config: train.Config{Batch: 32, Resume: true}}, "CheckpointDir"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.tr.Norm = norm
			_, err := tc.tr.Run(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestAccumulate(t *testing.T) {
	trainSet, _, norm := trainerData()
	tr := &ssl.Trainer{
		Stages: []ssl.Stage{{Method: resumeMethods()["simsiam"](), Epochs: 1}},
		Data:   trainSet,
		Norm:   norm,
		Config: train.Config{
			Batch:      32,
			Accumulate: 2,
			Seed:       1,
		},
	}
	h, err := tr.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if r := h.Epochs[0]; r.Steps != 3 || !(r.Loss > -1 && r.Loss < 1) {
		t.Errorf("accumulated epoch %+v, want 3 optimizer steps (96 images, batch 32)", r)
	}
}

// The losses depend on the seed only, not on the number of loader
// goroutines; another seed gives other losses.
func TestTrainerDeterministic(t *testing.T) {
	trainSet, _, norm := trainerData()
	losses := func(workers int, seed uint64) []float64 {
		tr := &ssl.Trainer{
			Stages:  []ssl.Stage{{Method: resumeMethods()["byol"](), Epochs: 2}},
			Data:    trainSet,
			Norm:    norm,
			Workers: workers,
			Config: train.Config{
				Batch: 32,
				Seed:  seed,
			},
		}
		h, err := tr.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return h.Losses()
	}
	a, b, c := losses(1, 4), losses(3, 4), losses(2, 5)
	for i := range a {
		if a[i] != b[i] {
			t.Errorf("epoch %d: loss %v with 1 worker, %v with 3", i+1, a[i], b[i])
		}
	}
	if a[0] == c[0] {
		t.Error("seeds 4 and 5 gave the same loss")
	}
}

// The collapse rule warns, and stops when asked, once the embedding's
// normalized collapse measure falls below its threshold.
func TestCollapseRule(t *testing.T) {
	trainSet, _, norm := trainerData()
	for _, stop := range []bool{false, true} {
		var log bytes.Buffer
		m := resumeMethods()["simsiam"]()
		tr := &ssl.Trainer{
			Stages: []ssl.Stage{{Method: m, Epochs: 2}},
			Data:   trainSet, Norm: norm,
			// Every healthy embedding is below 2: the rule must fire.
			Collapse: &ssl.CollapseRule{Threshold: 2, Stop: stop},
			Config:   train.Config{Batch: 32, Seed: 1, Log: &log},
		}
		h, err := tr.Run(context.Background())
		var ce *ssl.CollapsedError
		if stop {
			if !errors.As(err, &ce) || ce.Epoch != 1 || len(h.Epochs) != 1 {
				t.Errorf("Stop: err %v after %d epochs, want a CollapsedError after epoch 1", err, len(h.Epochs))
			}
		} else if err != nil || len(h.Epochs) != 2 {
			t.Errorf("warn only: err %v after %d epochs", err, len(h.Epochs))
		}
		if !strings.Contains(log.String(), "warning: simsiam collapse after epoch 1") {
			t.Errorf("no warning in the log:\n%s", log.String())
		}
	}
	bad := &ssl.Trainer{Stages: []ssl.Stage{{Method: resumeMethods()["simsiam"](), Epochs: 1}}, Data: trainSet, Norm: norm,
		Collapse: &ssl.CollapseRule{Threshold: math.NaN()}, Config: train.Config{Batch: 32}}
	if _, err := bad.Run(context.Background()); err == nil {
		t.Error("a NaN threshold was accepted")
	}
}
