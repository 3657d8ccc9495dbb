// Command fastsiam trains FastSiam (Pototzky et al. 2022; thesis Section
// 3.1.4, Algorithm 4) assembled from its parts: SimSiam's backbone and
// heads over M views of each image, every prediction compared with the
// stop-gradient projections of the other views.
//
//	go run ./examples/fastsiam -views 4
//
// The defaults (512 synthetic images, 2 epochs, 4 views, ResNet-18) run
// in about a minute on two cores.
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
	views := flag.Int("views", 4, "views per image")
	runner.ParseCommandLine("fastsiam", runner.Rules{"views": runner.AtLeast(2)})

	trainSet, err := dataset.Open(*data, dataset.Train)
	check(err)
	test, err := dataset.Open(*data, dataset.Test)
	check(err)
	trainSet, test = dataset.Head(trainSet, *nTrain), dataset.Head(test, *nTest)
	norm := augment.CIFAR10Norm

	bb, err := backbone.New("resnet18", backbone.Config{Seed: 1})
	check(err)
	method := &ssl.FastSiam{
		Backbone:  bb,
		Projector: ssl.NewMLP("projection_head", ssl.SimSiamProjector(bb.FeatureDim(), 2048, 2048, 2), 1),
		Predictor: ssl.NewMLP("prediction_head", ssl.SimSiamPredictor(2048, 512, 2048), 1),
		M:         *views,
		Targets:   ssl.PairwiseTargets, // or ssl.MeanTargets, lightly's form
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
