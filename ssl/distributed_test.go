package ssl_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/disiam/disiam/distributed"
	"github.com/disiam/disiam/ssl"
	"github.com/disiam/disiam/train"
)

// distMethods are the methods of the data-parallel tests, on tiny
// backbones with stochastic depth (P = 0.2, whose masks must follow the
// global sample index): SimCLR needs the gathered negatives and the
// synchronized BatchNorm to match one process, DiSiam only the latter.
func distMethods() map[string]func() ssl.Method {
	return map[string]func() ssl.Method{
		"simclr": func() ssl.Method {
			return &ssl.SimCLR{Backbone: newTinyNet(1, 8, 16), Projector: ssl.NewMLP("projection_head", ssl.SimCLRProjector(16, tHid, 32), 5)}
		},
		"disiam": func() ssl.Method {
			on, as := newTinyNet(1, 8, 16), newTinyNet(2, 8, 24)
			op, oq := tSimSiamHeads("", 16)
			ap, aq := tSimSiamHeads("assistant_", 24)
			return &ssl.DiSiam{Online: on, OnlineProjector: op, OnlinePredictor: oq, Assistant: as, AssistantProjector: ap, AssistantPredictor: aq, M: 2}
		},
	}
}

// distRun is one rank's (or the single process's) run: its per-step
// losses and its final model.
type distRun struct {
	losses []float64
	model  ssl.Method
	hist   *train.History
	err    error
}

// trainRanks trains build()'s method for epochs epochs with the global
// batch on n ranks of an in-process group (n = 1: one process without a
// Comm) and returns every rank's run. cfg adjusts the trainer.
func trainRanks(t *testing.T, build func() ssl.Method, n, epochs int, cfg func(*ssl.Trainer)) []distRun {
	t.Helper()
	trainSet, _, norm := trainerData()
	var comms []distributed.Comm
	if n > 1 {
		comms = distributed.NewGroup(n, time.Minute)
	}
	runs := make([]distRun, n)
	var wg sync.WaitGroup
	for r := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := build()
			tr := &ssl.Trainer{
				Stages:  []ssl.Stage{{Method: m, Epochs: epochs}},
				Data:    trainSet,
				Norm:    norm,
				Workers: 1,
				Config:  train.Config{Batch: 16, Seed: 3},
			}
			if n > 1 {
				tr.Comm, tr.SyncBatchNorm = comms[r], true
			}
			tr.OnStep = func(s train.StepInfo) error {
				runs[r].losses = append(runs[r].losses, s.Loss)
				return nil
			}
			if cfg != nil {
				cfg(tr)
			}
			runs[r].model = m
			runs[r].hist, runs[r].err = tr.Run(context.Background())
			if comms != nil && runs[r].err != nil {
				comms[r].Close()
			}
		}()
	}
	wg.Wait()
	return runs
}

// modelDiff returns the largest |a-b|/(1+|b|) over the float32 values of
// two models' parameters and buffers, and whether their int64 buffers
// (num_batches_tracked) agree.
func modelDiff(a, b ssl.Method) (float64, bool) {
	pa, pb := a.Parts().Params(), b.Parts().Params()
	worst, same := 0.0, true
	for i, p := range pa {
		switch x := p.Value.Data().(type) {
		case []float32:
			y := pb[i].Value.Data().([]float32)
			for j := range x {
				worst = math.Max(worst, math.Abs(float64(x[j])-float64(y[j]))/(1+math.Abs(float64(y[j]))))
			}
		case []int64:
			same = same && sameValues(p, pb[i])
		}
	}
	return worst, same
}

// Float32 reduction-order tolerances of the data-parallel equivalence
// (12 steps): the ranks sum the batch's gradients, BatchNorm statistics
// and the loss in another order than one process, which changes the last
// bits; those differences grow slowly over the steps.
const (
	distLossTol   = 1e-5 // per step, relative to 1+|loss|
	distWeightTol = 1e-5 // max over all weights, relative to 1+|w|
)

// TestDataParallelMatchesOneProcess trains SimCLR and DiSiam for two
// epochs (12 steps) on 2 ranks with batch 8 each and on one process with
// batch 16: the losses of every step and the final weights and BatchNorm
// statistics agree to float32 reduction-order tolerance, and the ranks'
// models are identical. Without the synchronized BatchNorm (or SimCLR's
// gathered negatives) they do not.
func TestDataParallelMatchesOneProcess(t *testing.T) {
	for name, build := range distMethods() {
		t.Run(name, func(t *testing.T) {
			one := trainRanks(t, build, 1, 2, nil)[0]
			if one.err != nil {
				t.Fatal(one.err)
			}
			two := trainRanks(t, build, 2, 2, nil)
			for r, run := range two {
				if run.err != nil {
					t.Fatalf("rank %d: %v", r, run.err)
				}
				if len(run.losses) != len(one.losses) {
					t.Fatalf("rank %d: %d steps, want %d", r, len(run.losses), len(one.losses))
				}
				worst := 0.0
				for k, l := range run.losses {
					worst = math.Max(worst, math.Abs(l-one.losses[k])/(1+math.Abs(one.losses[k])))
				}
				if worst > distLossTol {
					t.Errorf("rank %d: losses differ from one process's by up to %.3g (relative to 1+|loss|)\n2 ranks: %v\n1 process: %v", r, worst, run.losses, one.losses)
				}
				d, same := modelDiff(run.model, one.model)
				if d > distWeightTol || !same {
					t.Errorf("rank %d: weights differ from one process's by up to %.3g (num_batches_tracked equal: %v)", r, d, same)
				}
				t.Logf("rank %d: max relative difference of the losses %.2g, of the weights %.2g", r, worst, d)
			}
			if d, _ := modelDiff(two[0].model, two[1].model); d != 0 {
				t.Errorf("the ranks' weights differ by %.3g", d)
			}
			// The check can fail: per-rank statistics (and, for SimCLR,
			// local negatives) give other numbers.
			unsynced := trainRanks(t, build, 2, 1, func(tr *ssl.Trainer) {
				tr.SyncBatchNorm = false
			})
			if unsynced[0].err != nil {
				t.Fatal(unsynced[0].err)
			}
			worst := 0.0
			for k, l := range unsynced[0].losses {
				worst = math.Max(worst, math.Abs(l-one.losses[k])/(1+math.Abs(one.losses[k])))
			}
			if worst < 100*distLossTol {
				t.Errorf("without SyncBatchNorm the losses differ by only %.3g", worst)
			}
		})
	}
}

// TestDataParallelResumeOnOtherRanks interrupts a 2-rank run after its
// first epoch and resumes it on one process, then the other way round:
// the second epoch's losses match an uninterrupted single-process run.
func TestDataParallelResumeOnOtherRanks(t *testing.T) {
	build := distMethods()["disiam"]
	one := trainRanks(t, build, 1, 2, nil)[0]
	if one.err != nil {
		t.Fatal(one.err)
	}
	for _, tc := range []struct{ first, second int }{{2, 1}, {1, 2}} {
		t.Run(fmt.Sprintf("%d-then-%d", tc.first, tc.second), func(t *testing.T) {
			dir := t.TempDir()
			ckpt := func(stop bool, resume bool) func(*ssl.Trainer) {
				return func(tr *ssl.Trainer) {
					tr.CheckpointDir, tr.CheckpointEvery, tr.Resume = dir, 1, resume
					if stop {
						tr.OnEpoch = func(r train.EpochRecord) error { return errStop }
					}
				}
			}
			for r, run := range trainRanks(t, build, tc.first, 2, ckpt(true, false)) {
				if !errors.Is(run.err, errStop) {
					t.Fatalf("first part, rank %d: %v", r, run.err)
				}
			}
			for r, run := range trainRanks(t, build, tc.second, 2, ckpt(false, true)) {
				if run.err != nil {
					t.Fatalf("resumed, rank %d: %v", r, run.err)
				}
				steps := len(run.losses)
				if steps != len(one.losses)/2 {
					t.Fatalf("resumed, rank %d: %d steps, want %d", r, steps, len(one.losses)/2)
				}
				for k, l := range run.losses {
					want := one.losses[len(one.losses)-steps+k]
					if math.Abs(l-want) > distLossTol*(1+math.Abs(want)) {
						t.Errorf("resumed, rank %d, step %d: loss %v, want %v", r, k, l, want)
					}
				}
				if d, same := modelDiff(run.model, one.model); d > distWeightTol || !same {
					t.Errorf("resumed, rank %d: weights differ by %.3g", r, d)
				}
			}
		})
	}
}

// TestDataParallelRankFailure stops one rank mid-run (it returns an
// error, as a crashed process would stop calling): the other rank's
// training fails with a timeout error instead of hanging.
func TestDataParallelRankFailure(t *testing.T) {
	build := distMethods()["disiam"]
	trainSet, _, norm := trainerData()
	comms := distributed.NewGroup(2, 2*time.Second)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	start := time.Now()
	for r := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := &ssl.Trainer{
				Stages: []ssl.Stage{{Method: build(), Epochs: 2}}, Data: trainSet, Norm: norm, Workers: 1,
				Config: train.Config{Batch: 16, Seed: 3, Comm: comms[r], SyncBatchNorm: true},
			}
			tr.OnStep = func(s train.StepInfo) error {
				if r == 1 && s.Step == 2 {
					return errStop // rank 1 dies after its third step
				}
				return nil
			}
			_, errs[r] = tr.Run(context.Background())
		}()
	}
	wg.Wait()
	if !errors.Is(errs[1], errStop) {
		t.Fatalf("rank 1: %v", errs[1])
	}
	// The error passes through gorgonia's VM, which keeps its text only.
	if errs[0] == nil || !strings.Contains(errs[0].Error(), distributed.ErrTimeout.Error()) {
		t.Fatalf("rank 0: %v, want a timeout", errs[0])
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Fatalf("rank 0 gave up after %v", d)
	}
	t.Logf("rank 0: %v", errs[0])
}

// TestDataParallelSettingsMustAgree starts two ranks with different seeds:
// both stop at once with an error instead of training different runs.
func TestDataParallelSettingsMustAgree(t *testing.T) {
	runs := trainRanks(t, distMethods()["disiam"], 2, 1, func(tr *ssl.Trainer) {
		if tr.Comm.Rank() == 1 {
			tr.Seed = 4
		}
	})
	for r, run := range runs {
		if run.err == nil || !strings.Contains(run.err.Error(), "other settings") {
			t.Errorf("rank %d: %v, want an error about the settings", r, run.err)
		}
	}
	// A global batch that the ranks cannot share is refused before
	// anything runs.
	runs = trainRanks(t, distMethods()["disiam"], 3, 1, nil)
	for r, run := range runs {
		if run.err == nil || !strings.Contains(run.err.Error(), "cannot be split") {
			t.Errorf("3 ranks, batch 16, rank %d: %v", r, run.err)
		}
	}
}
