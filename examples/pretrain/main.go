// Command pretrain trains a backbone with one of disiam's self-supervised
// methods, or a chain of them, and reports the online kNN accuracy
// (k = 200, τ = 0.1, thesis Section 4.4) on the test split: the maximum
// over training, as the thesis reports it, and the final value, next to
// the accuracy of the random initialization.
//
// Usage:
//
//	go run ./examples/pretrain [flags]
//	go run -tags openblas ./examples/pretrain -method disiam -backbone efficientnet_b0 -assistant resnet34
//	go run ./examples/pretrain -chain simclr:2,disiam -epochs 4
//	go run ./examples/pretrain -data cifar10:/data/cifar-10-batches-bin -train 0 -test 0 -epochs 800 -batch 512 -out run1
//
// The defaults train SimSiam on 512 images of the embedded synthetic set
// for 3 epochs, a few minutes on two cores. They show the machinery, not
// learning: the synthetic images' random colors let every method tell
// images apart without learning their shapes, and the kNN accuracy on the
// shape labels does not rise. -data fashion-mnist (installed with
// dataset-fashion-mnist) or CIFAR-10 show learning, given enough steps. -out DIR writes checkpoints
// (DIR/checkpoint.safetensors, every -checkpoint-every epochs and at the
// end of each stage), the encoder (DIR/encoder.safetensors, torchvision
// names) and the metrics (DIR/metrics.jsonl); -resume continues an
// interrupted run from DIR exactly.
//
// Every flag is checked before anything is loaded or built (the shared
// rules of the examples' runner: counts ≥ 0, positive epochs and batch,
// a finite learning rate ≥ 0, k ≥ 1, -views only for fastsiam and
// disiam+, chains no longer than -epochs, a parseable -data spec, ...);
// a rejected command line exits with status 2 and a message naming the
// flag, a failed run with status 1. Each checkpoint records the flags
// that change the run's numbers (all but -out, -resume, -workers and
// -checkpoint-every), and -resume refuses to continue a run with any of
// them changed, naming the flag: a resumed run is the same run. That
// includes -epochs: the cosine schedule depends on the epoch count, so a
// finished run cannot be extended.
//
// Optimization follows thesis Section 4.3 (ssl.DefaultRecipe): SGD with
// momentum 0.9, weight decay 1e-4, learning rate -lr × batch/256 (default
// base 0.03) and cosine decay for every method but SimCLR, which uses LARS,
// -lr × sqrt(batch) (default base 0.075) and a 10-epoch warmup.
//
// # Data-parallel training
//
// Built with -tags mpi (Open MPI: apt-get install openmpi-bin
// libopenmpi-dev), the same command runs data-parallel under mpirun, on
// one host or several:
//
//	go build -tags mpi -o pretrain ./examples/pretrain
//	mpirun -np 4 ./pretrain -distributed -batch 512 -out run1
//	mpirun -np 8 --hostfile hosts ./pretrain -distributed -batch 1024 -out /shared/run1
//
// -distributed (on by default when a launcher's variables are set) opens
// MPI's world: each rank trains a replica on its -batch/N images of every
// batch (-batch is the global batch, so the learning-rate rules and the
// run identity do not change with N), with gradients averaged over the
// ranks once per step and BatchNorm statistics synchronized over the
// global batch (-sync-bn, default on), and SimCLR's negatives gathered
// from every rank: N ranks compute what one process computes, to float32
// rounding. Rank 0 evaluates, logs and writes -out, which must be on a
// filesystem every host sees for -resume (any number of ranks can
// resume). -mpi-timeout bounds every wait for the other ranks (it must
// exceed rank 0's kNN evaluation). Without -tags mpi, a process started
// by mpirun stops with an error instead of training alone.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/dataset"
	"github.com/disiam/disiam/distributed"
	"github.com/disiam/disiam/examples/internal/runner"
	"github.com/disiam/disiam/knn"
	"github.com/disiam/disiam/ssl"
	"github.com/disiam/disiam/train"
)

type config struct {
	method, chain, backbone, assistant, data, out string
	train, test, epochs, batch, views, knnEvery   int
	accumulate, ckptEvery, workers, knnK          int
	patience                                      int
	threshold, lr                                 float64
	seed                                          uint64
	resume, evalStart                             bool
	distributed, syncBN                           bool
	mpiTimeout                                    time.Duration
	// identity is the run's identity from the flags (runner.Identity).
	identity map[string]string
}

func main() { runner.Main("pretrain", run) }

// flags parses and validates the command line.
func flags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("pretrain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.method, "method", ssl.NameSimSiam, "method: "+strings.Join(runner.Methods, "|"))
	fs.StringVar(&c.chain, "chain", "", "chained stages sharing the encoder, e.g. simclr:2,disiam (a stage without :EPOCHS gets the rest of -epochs); overrides -method")
	fs.IntVar(&c.patience, "switch-patience", 0, "end a chained stage early when the kNN top-1 improved by less than -switch-threshold over this many evaluations (0: fixed epochs)")
	fs.Float64Var(&c.threshold, "switch-threshold", 0.01, "relative kNN improvement below which a chained stage ends (with -switch-patience)")
	fs.StringVar(&c.backbone, "backbone", "resnet18", "online backbone: "+strings.Join(backbone.Names(), ", "))
	fs.StringVar(&c.assistant, "assistant", "resnet18", "assistant backbone of dyol, disiam, disiam+ (the thesis' main setting: resnet34 with efficientnet_b0 online)")
	fs.StringVar(&c.data, "data", "synthetic", "dataset spec ("+strings.ReplaceAll(dataset.SpecUsage, "\n", "; ")+")")
	fs.IntVar(&c.train, "train", 512, "training images (the first N of the train split; 0: all)")
	fs.IntVar(&c.test, "test", 200, "kNN query images (the first N of the test split; 0: all); the training images form the bank")
	fs.IntVar(&c.epochs, "epochs", 3, "epochs (in total over a chain)")
	fs.IntVar(&c.batch, "batch", 64, "images per optimizer step")
	fs.IntVar(&c.accumulate, "accumulate", 1, "micro-batches per step (gradient accumulation; must divide -batch)")
	fs.IntVar(&c.views, "views", 0, "views per image for fastsiam and disiam+ (0: 4)")
	fs.Float64Var(&c.lr, "lr", 0, "base learning rate before batch scaling (0: 0.03, SimCLR 0.075; thesis Section 5.3.2 finds 0.06 best for DiSiam on EfficientNet-B0)")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of the weights and augmentations")
	fs.IntVar(&c.knnEvery, "knn-every", 1, "evaluate the kNN accuracy every N epochs (0: only at the end)")
	fs.IntVar(&c.knnK, "knn-k", 200, "neighbours of the kNN classifier")
	fs.BoolVar(&c.evalStart, "eval-start", true, "evaluate the random initialization first")
	fs.StringVar(&c.out, "out", "", "directory for checkpoints, encoder and metrics (empty: none)")
	fs.IntVar(&c.ckptEvery, "checkpoint-every", 1, "write a checkpoint every N epochs (with -out; 0: only at the end of each stage)")
	fs.BoolVar(&c.resume, "resume", false, "continue the run in -out (with the same flags)")
	fs.IntVar(&c.workers, "workers", 0, "data-loading goroutines (0: GOMAXPROCS)")
	launch, _ := distributed.FromEnv()
	fs.BoolVar(&c.distributed, "distributed", launch.Launcher != "", "train data-parallel over MPI's ranks (build with -tags mpi; default: on when started by mpirun or srun)")
	fs.BoolVar(&c.syncBN, "sync-bn", true, "with -distributed: BatchNorm statistics of the global batch (off: of each rank's share)")
	fs.DurationVar(&c.mpiTimeout, "mpi-timeout", distributed.DefaultTimeout, "with -distributed: how long a rank waits for the others before it stops with an error")
	rules := runner.Rules{"mpi-timeout": func(v runner.Values, name string) error {
		if d, err := time.ParseDuration(v.String(name)); err != nil || d <= 0 {
			return fmt.Errorf("must be a positive duration")
		}
		return nil
	}}
	if err := runner.Parse(fs, args, rules); err != nil {
		return c, err
	}
	// Where the ranks run does not change the numbers (the train loop
	// records what does: the per-rank BatchNorm share without -sync-bn).
	c.identity = runner.Identity(fs, "distributed", "mpi-timeout", "sync-bn")
	return c, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := flags(args, stderr)
	if err != nil {
		return err
	}
	return pretrain(ctx, c, stdout)
}

// pretrain trains the run c describes.
func pretrain(ctx context.Context, c config, stdout io.Writer) (err error) {
	comm := distributed.Comm(distributed.Local{})
	if c.distributed {
		if comm, err = distributed.Open(distributed.Options{Timeout: c.mpiTimeout, Force: true}); err != nil {
			return err
		}
		defer func() {
			if cerr := comm.Close(); err == nil {
				err = cerr
			}
		}()
	}
	if comm.Rank() != 0 {
		stdout = io.Discard // rank 0 reports; the others print only their errors
	}
	plan, err := runner.ParseStages(c.method, c.chain, c.epochs)
	if err != nil {
		return fmt.Errorf("-chain %q: %w", c.chain, err)
	}
	trainSet, err := runner.OpenSplit(c.data, dataset.Train, c.train)
	if err != nil {
		return err
	}
	test, err := runner.OpenSplit(c.data, dataset.Test, c.test)
	if err != nil {
		return err
	}
	norm := runner.ChannelStats(trainSet)
	fmt.Fprintf(stdout, "data %s: %d training and %d test images of %dx%dx%d, %d classes; normalization mean %.3f std %.3f\n",
		c.data, trainSet.Len(), test.Len(), trainSet.Image(0).C, trainSet.Image(0).H, trainSet.Image(0).W, trainSet.Classes(), norm.Mean, norm.Std)
	if comm.Size() > 1 {
		fmt.Fprintf(stdout, "data-parallel over %d ranks: %d images per rank and step of %d, BatchNorm statistics %s\n",
			comm.Size(), c.batch/comm.Size(), c.batch, map[bool]string{true: "synchronized", false: "per rank"}[c.syncBN])
	}
	nets := &runner.Networks{Backbone: c.backbone, Assistant: c.assistant, Seed: c.seed, Views: c.views}
	stages, err := nets.Stages(plan, c.lr, c.patience, c.threshold)
	if err != nil {
		return err
	}
	ev := &knn.Evaluator{Train: trainSet, Test: test, K: c.knnK, Norm: norm}
	defer ev.Close()
	tr := &ssl.Trainer{
		Stages:    stages,
		Data:      trainSet,
		Norm:      norm,
		Workers:   c.workers,
		Evaluator: ev,
		Config: train.Config{
			Batch:         c.batch,
			Accumulate:    c.accumulate,
			Seed:          c.seed,
			EvalEvery:     max(c.knnEvery, 0),
			EvalAtStart:   c.evalStart,
			Log:           stdout,
			Identity:      c.identity,
			Comm:          comm,
			SyncBatchNorm: c.syncBN,
		},
	}
	if c.knnEvery == 0 {
		tr.EvalEvery = math.MaxInt32 // only at the end of each stage
	}
	if c.out != "" {
		tr.CheckpointDir, tr.CheckpointEvery, tr.Resume = c.out, c.ckptEvery, c.resume
		tr.MetricsPath = filepath.Join(c.out, "metrics.jsonl")
		if err := os.MkdirAll(c.out, 0o755); err != nil {
			return err
		}
	}
	h, err := tr.Run(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	if init, ok := h.Initial(); ok {
		fmt.Fprintf(stdout, "kNN top-1 of the random initialization: %.2f%%\n", 100*init.Metrics.Value(knn.MetricTop1))
	}
	if best, epoch, ok := h.Best(knn.MetricTop1); ok {
		fin, _ := h.Final()
		fmt.Fprintf(stdout, "kNN top-1 max %.2f%% (after epoch %d), final %.2f%% (top-5 %.2f%%) on %d test images\n",
			100*best, epoch, 100*fin.Metrics.Value(knn.MetricTop1), 100*fin.Metrics.Value(knn.MetricTop5), test.Len())
	}
	if c.out != "" {
		fmt.Fprintf(stdout, "encoder: %s\n", filepath.Join(c.out, ssl.EncoderFile))
	}
	return nil
}
