// Command transfer reproduces thesis Section 5.4 (Figure 5.31): SimSiam,
// SimCLR, DiSiam and DiSiam+ pretrained on one image collection (COCO
// 2017 in the thesis, at 224×224) and evaluated by kNN (k = 200,
// τ = 0.1) on another (a 10-class ImageNet subset, Imagenette): the bank
// is the evaluation set's training split, the queries its val split. The
// pretraining images' labels are never used, so a flat collection such as
// COCO's works once it sits in one subfolder.
//
// Usage:
//
//	go run ./examples/transfer -data folder:PRETRAIN_DIR,size=N -eval folder:EVAL_DIR,size=N [flags]
//
// PRETRAIN_DIR holds images in subfolders (PRETRAIN_DIR/train/<any>/ or
// PRETRAIN_DIR/<any>/; for COCO: mkdir -p coco/train && ln -s
// /data/coco/train2017 coco/train/images), EVAL_DIR holds
// EVAL_DIR/train/<class>/ and EVAL_DIR/val/<class>/ (Imagenette's
// layout). Any dataset spec works for either (go doc ./dataset Open).
//
// Without -data and -eval the command runs a demonstration on generated
// folders: it writes PNGs of the embedded synthetic set, drawn from two
// different seeds, to -out/demo/pretrain (one unlabeled folder) and
// -out/demo/eval (train/ and val/ by class), and transfers between them.
// The demonstration trains as the other experiments' small defaults do
// (experiment.Small: the shapes' outlines with shape views, LARS, the
// narrow ResNet-18 "resnet18-w16" as online network and assistant, heads
// of width 512, 24 epochs of batch 64) on 2,000 pretraining images, with
// a bank of 2,000 and 1,000 queries of 32×32, seeds 7 and 41: about 20
// minutes on two cores (examples/README.md has the measured numbers).
// The thesis' setting (250 epochs on COCO's 118k images
// at 224×224, batch 1024 by gradient accumulation) is
//
//	go run -tags openblas ./examples/transfer -data folder:/data/coco,size=224 \
//	    -eval folder:/data/imagenette2,size=224 -train 0 -bank 0 -test 0 \
//	    -epochs 250 -batch 1024 -accumulate 8 -head-dim 0 \
//	    -backbones efficientnet_b0,resnet18 -assistant resnet34 -seeds 7,41 -knn-every 10 -out transfer-coco
//
// Outputs, in -out: runs.csv, curves.csv and runs.json, results.md (per
// backbone, max kNN top-1 on the evaluation set, mean ± std over seeds,
// with the random-initialization row), max_top1.png (Figure 5.31) and
// curves_<backbone>.png.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/dataset"
	"github.com/disiam/disiam/examples/internal/experiment"
	"github.com/disiam/disiam/examples/internal/runner"
)

// options are the parsed command line.
type options struct {
	experiment.Flags
	// Eval is the evaluation dataset spec, Bank its training images used
	// as the kNN bank (class-balanced; 0: all).
	Eval string `json:"eval"`
	Bank int    `json:"bank"`
	// Demo is set when the command generated its own folders.
	Demo bool `json:"demo"`
}

func defaults() options {
	f := experiment.Small()
	f.Data = "" // the generated demo folders
	f.Seeds = []uint64{7, 41}
	f.Methods = []string{"simsiam", "simclr", "disiam", "disiam+"}
	f.Out = "transfer-out"
	return options{Flags: f, Bank: 2000}
}

func parse(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("transfer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := defaults()
	o.Register(fs)
	fs.StringVar(&o.Eval, "eval", "", "evaluation dataset spec: its train split is the kNN bank, its test (val) split the queries (empty with -data empty: a generated demo)")
	fs.IntVar(&o.Bank, "bank", o.Bank, "kNN bank images of the evaluation set's train split, class-balanced (0: all)")
	if err := runner.Parse(fs, args, experiment.Rules, runner.Rules{"data": runner.OptionalDataSpec}); err != nil {
		return nil, err
	}
	if err := o.ApplyRecipe(fs, false); err != nil {
		return nil, err
	}
	if (o.Data == "") != (o.Eval == "") {
		return nil, errors.New("give both -data (pretraining) and -eval (evaluation), or neither for the demo")
	}
	if o.Bank < 0 {
		return nil, errors.New("-bank must be >= 0")
	}
	if o.Data == "" {
		// The demo folders hold synthetic images: train them as -data
		// synthetic would be.
		if o.Augment == runner.AugmentAuto {
			o.Augment = runner.AugmentShapes
		}
		if o.Optimizer == experiment.OptimizerAuto {
			o.Optimizer = runner.OptimizerLARS
		}
	}
	return &o, o.Check()
}

// open returns the pretraining images (-train of -data's train split)
// and the kNN bank and queries of -eval, normalized with the pretraining
// images' statistics.
func open(o *options) (experiment.Data, error) {
	train, err := runner.OpenSplit(o.Data, dataset.Train, o.Train)
	if err != nil {
		return experiment.Data{}, fmt.Errorf("-data: %w", err)
	}
	bank, err := runner.OpenBalanced(o.Eval, dataset.Train, o.Bank)
	if err != nil {
		return experiment.Data{}, fmt.Errorf("-eval: %w", err)
	}
	query, err := runner.OpenBalanced(o.Eval, dataset.Test, o.Test)
	if err != nil {
		return experiment.Data{}, fmt.Errorf("-eval: %w", err)
	}
	return experiment.Data{Train: train, Bank: bank, Query: query, Norm: runner.ChannelStats(train)}, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	if o.Data == "" {
		o.Demo = true
		if o.Data, o.Eval, err = writeDemo(filepath.Join(o.Out, "demo"), o.Train, o.Bank, o.Test); err != nil {
			return fmt.Errorf("demo folders: %w", err)
		}
		fmt.Fprintf(stdout, "transfer: demo: generated folders %s (pretraining) and %s (evaluation)\n", o.Data, o.Eval)
	}
	data, err := open(o)
	if err != nil {
		return err
	}
	data = o.Prepare(data)
	fmt.Fprintf(stdout, "transfer: pretrain on %s, evaluate on %s: %s; %s, batch %d; seeds %v\n",
		o.Data, o.Eval, data.Describe(), o.EpochsText(), o.Batch, o.Seeds)
	sw := &experiment.Sweep{Flags: o.Flags, Data: data, Jobs: o.MethodJobs(), Config: o, Log: stdout}
	results, runErr := sw.Run(ctx)
	if len(results) == 0 {
		return runErr
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Transfer: pretraining on one collection, kNN on another (thesis Section 5.4, Figure 5.31)\n\n")
	if o.Demo {
		fmt.Fprintf(&b, "Demonstration on generated folders (the synthetic set from two seeds), not COCO and ImageNet.\n\n")
	}
	fmt.Fprintf(&b, "Pretraining `%s`, evaluation `%s`: %s. Assistant of DiSiam/DiSiam+: %s. %s, batch %d, head width %d (0: 2048), kNN k = %d, seeds %v. %s\n\n",
		o.Data, o.Eval, data.Describe(), backbone.Title(o.Assistant), o.EpochsText(), o.Batch, o.HeadDim, o.K, o.Seeds, o.Describe())
	plots, err := experiment.MethodsReport(&b, o.Out, experiment.NewGrid(results),
		experiment.MethodsFigure{Title: "Max kNN top-1 after transfer", Chance: experiment.Chance(data.Query.Classes())}, o.NoPlots)
	if err != nil {
		return errors.Join(runErr, err)
	}
	return errors.Join(runErr, experiment.WriteResults(stdout, o.Out, b.String(), plots))
}

func main() { runner.Main("transfer", run) }
