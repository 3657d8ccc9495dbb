// Command byol trains BYOL (Grill et al. 2020; thesis Section 3.1.2,
// Algorithm 2) assembled from its parts: an online network (backbone,
// projector, predictor) and a target network (a copy of the backbone and
// projector) moved by an exponential moving average after every step, with
// τ rising from 0.99 to 1 along a cosine; BYOL's two asymmetric views.
//
//	go run ./examples/byol
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
	runner.ParseCommandLine("byol")

	trainSet, err := dataset.Open(*data, dataset.Train)
	check(err)
	test, err := dataset.Open(*data, dataset.Test)
	check(err)
	trainSet, test = dataset.Head(trainSet, *nTrain), dataset.Head(test, *nTest)
	norm := augment.CIFAR10Norm

	// Online network θ and target network ξ of the same architecture; the
	// target starts as a copy (Start) and is never given to the optimizer.
	online, err := backbone.New("resnet18", backbone.Config{Seed: 1})
	check(err)
	target, err := backbone.New("resnet18", backbone.Config{NoInit: true})
	check(err)
	projector := ssl.NewMLP("projection_head", ssl.BYOLProjector(online.FeatureDim(), 4096, 256), 1)
	method := &ssl.BYOL{
		Backbone:        online,
		Projector:       projector,
		Predictor:       ssl.NewMLP("prediction_head", ssl.BYOLPredictor(256, 4096, 256), 1),
		TargetBackbone:  target,
		TargetProjector: ssl.NewMLP("projection_head_momentum", projector.Blocks(), 1),
		BaseMomentum:    0.99,
	}
	method.Start() // ξ ← θ

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
