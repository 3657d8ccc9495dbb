// Command simclr trains SimCLR (Chen et al. 2020; thesis Section 3.1.1,
// Algorithm 1) assembled from its parts: a backbone, SimCLR's projection
// head and the NT-Xent loss over two views, with LARS and a warmup-cosine
// schedule (ssl.DefaultRecipe, thesis Section 4.3), trained by ssl.Trainer.
//
//	go run ./examples/simclr
//
// The defaults (512 synthetic images, 2 epochs, ResNet-18) run in about a
// minute on two cores.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"

	"github.com/disiam/disiam/augment"
	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/dataset"
	"github.com/disiam/disiam/examples/internal/runner"
	"github.com/disiam/disiam/knn"
	"github.com/disiam/disiam/ssl"
	"github.com/disiam/disiam/train"
)

func main() {
	data := flag.String("data", "synthetic", "dataset spec (see dataset.Open; add ,rgb for 1-channel sets)")
	nTrain := flag.Int("train", 512, "training images")
	nTest := flag.Int("test", 200, "kNN query images")
	epochs := flag.Int("epochs", 2, "epochs")
	batch := flag.Int("batch", 64, "batch size")
	runner.ParseCommandLine("simclr")

	trainSet, err := dataset.Open(*data, dataset.Train)
	check(err)
	test, err := dataset.Open(*data, dataset.Test)
	check(err)
	trainSet, test = dataset.Head(trainSet, *nTrain), dataset.Head(test, *nTest)
	norm := augment.CIFAR10Norm

	// Backbone f and projector g: z = g(f(x)); the loss is NT-Xent with
	// τ = 0.5 over the 2N projections of a batch (ssl.NTXent).
	bb, err := backbone.New("resnet18", backbone.Config{Seed: 1})
	check(err)
	method := &ssl.SimCLR{
		Backbone:    bb,
		Projector:   ssl.NewMLP("projection_head", ssl.SimCLRProjector(bb.FeatureDim(), 2048, 128), 1),
		Temperature: 0.5,
	}

	eval := &knn.Evaluator{Train: trainSet, Test: test, Norm: norm}
	trainer := &ssl.Trainer{
		Stages:    []ssl.Stage{{Method: method, Epochs: *epochs}},
		Data:      trainSet,
		Norm:      norm,
		Evaluator: eval,
		Config: train.Config{
			Batch:       *batch,
			Seed:        1,
			EvalEvery:   1,
			EvalAtStart: true,
			Log:         os.Stdout,
		},
	}
	history, err := trainer.Run(context.Background())
	check(err)
	init, _ := history.Initial()
	best, epoch, _ := history.Best(knn.MetricTop1)
	fmt.Printf("kNN top-1: random initialization %.1f%%, best %.1f%% (epoch %d)\n", 100*init.Metrics.Value(knn.MetricTop1), 100*best, epoch)
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
