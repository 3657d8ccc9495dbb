//go:build mpi

package ssl_test

import (
	"context"
	"math"
	"os"
	"testing"
	"time"

	"github.com/disiam/disiam/distributed"
	"github.com/disiam/disiam/ssl"
	"github.com/disiam/disiam/train"
)

// The MPI equivalence test runs under mpirun (see .ci/run):
//
//	go test -c -tags mpi -o ssl.test ./ssl
//	mpirun -np 2 ./ssl.test -test.run MPI
//
// Outside mpirun it skips.

var world distributed.Comm

func TestMain(m *testing.M) {
	if l, err := distributed.FromEnv(); err == nil && l.Launcher != "" {
		c, err := distributed.Open(distributed.Options{Timeout: time.Minute})
		if err != nil {
			println(err.Error())
			os.Exit(2)
		}
		world = c
	}
	code := m.Run()
	if world != nil {
		if err := world.Close(); err != nil && code == 0 {
			println(err.Error())
			code = 1
		}
	}
	os.Exit(code)
}

// TestMPIDataParallelMatchesOneProcess is TestDataParallelMatchesOneProcess
// over Open MPI: the N ranks of mpirun, each with batch 16/N, against one
// process with batch 16 (computed on every rank), for SimCLR with gathered
// negatives and DiSiam, both with SyncBatchNorm, over 12 steps. It also
// checks that every rank ends with rank 0's weights, bit for bit.
func TestMPIDataParallelMatchesOneProcess(t *testing.T) {
	if world == nil {
		t.Skip("not started by mpirun")
	}
	if 16%world.Size() != 0 {
		t.Skipf("%d ranks do not divide the batch of 16", world.Size())
	}
	trainSet, _, norm := trainerData()
	for _, name := range []string{"simclr", "disiam"} {
		build := distMethods()[name]
		t.Run(name, func(t *testing.T) {
			one := trainRanks(t, build, 1, 2, nil)[0]
			if one.err != nil {
				t.Fatal(one.err)
			}
			m := build()
			var losses []float64
			tr := &ssl.Trainer{
				Stages: []ssl.Stage{{Method: m, Epochs: 2}}, Data: trainSet, Norm: norm, Workers: 1,
				Config: train.Config{Batch: 16, Seed: 3, Comm: world, SyncBatchNorm: true,
					OnStep: func(s train.StepInfo) error { losses = append(losses, s.Loss); return nil }},
			}
			if _, err := tr.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			if len(losses) != len(one.losses) {
				t.Fatalf("%d steps, want %d", len(losses), len(one.losses))
			}
			worst := 0.0
			for k, l := range losses {
				worst = math.Max(worst, math.Abs(l-one.losses[k])/(1+math.Abs(one.losses[k])))
			}
			d, same := modelDiff(m, one.model)
			t.Logf("rank %d of %d: max relative difference of the losses %.2g, of the weights %.2g", world.Rank(), world.Size(), worst, d)
			if worst > distLossTol {
				t.Errorf("losses differ from one process's by up to %.3g\nMPI: %v\none process: %v", worst, losses, one.losses)
			}
			if d > distWeightTol || !same {
				t.Errorf("weights differ from one process's by up to %.3g (num_batches_tracked equal: %v)", d, same)
			}
			// Every rank holds rank 0's weights exactly.
			var mine []float32
			for _, p := range m.Parts().Params() {
				if d, ok := p.Value.Data().([]float32); ok {
					mine = append(mine, d...)
				}
			}
			root := append([]float32(nil), mine...)
			if err := world.Broadcast(root, 0); err != nil {
				t.Fatal(err)
			}
			for i := range mine {
				if math.Float32bits(mine[i]) != math.Float32bits(root[i]) {
					t.Fatalf("rank %d: weight %d is %v, rank 0's %v", world.Rank(), i, mine[i], root[i])
				}
			}
		})
	}
}
