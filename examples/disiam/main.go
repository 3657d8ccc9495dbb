// Command disiam trains DiSiam (thesis Section 3.3, Algorithm 6)
// assembled from its parts: an online network (EfficientNet-B0 in the
// thesis' main setting) and an assistant network (ResNet-34), each with a
// SimSiam projector and predictor; the targets are the assistant's own
// projections behind a stop-gradient (weight sharing instead of an EMA),
// and the loss averages the online and assistant terms (Eq. 3.5). The
// online encoder is the result.
//
//	go run -tags openblas ./examples/disiam
//
// The defaults (256 synthetic images, 2 epochs, base learning rate 0.06,
// the best of thesis Section 5.3.2) run in about a minute on two cores.
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
	nTrain := flag.Int("train", 256, "training images")
	nTest := flag.Int("test", 200, "kNN query images")
	epochs := flag.Int("epochs", 2, "epochs")
	batch := flag.Int("batch", 64, "batch size")
	onlineName := flag.String("online", "efficientnet_b0", "online backbone")
	assistantName := flag.String("assistant", "resnet34", "assistant backbone")
	lr := flag.Float64("lr", 0.06, "base learning rate (× batch/256)")
	runner.ParseCommandLine("disiam")

	trainSet, err := dataset.Open(*data, dataset.Train)
	check(err)
	test, err := dataset.Open(*data, dataset.Test)
	check(err)
	trainSet, test = dataset.Head(trainSet, *nTrain), dataset.Head(test, *nTest)
	norm := augment.CIFAR10Norm

	online, err := backbone.New(*onlineName, backbone.Config{Seed: 1})
	check(err)
	assistant, err := backbone.New(*assistantName, backbone.Config{Seed: 2})
	check(err)
	projector := func(name string, in int) *ssl.MLP {
		return ssl.NewMLP(name, ssl.SimSiamProjector(in, 2048, 2048, 2), 1)
	}
	predictor := func(name string) *ssl.MLP { return ssl.NewMLP(name, ssl.SimSiamPredictor(2048, 512, 2048), 1) }
	method := &ssl.DiSiam{
		Online:             online,
		OnlineProjector:    projector("projection_head", online.FeatureDim()),
		OnlinePredictor:    predictor("prediction_head"),
		Assistant:          assistant,
		AssistantProjector: projector("assistant_projection_head", assistant.FeatureDim()),
		AssistantPredictor: predictor("assistant_prediction_head"),
		M:                  2,
	}

	eval := &knn.Evaluator{Train: trainSet, Test: test, Norm: norm}
	trainer := &ssl.Trainer{
		Stages:    []ssl.Stage{{Method: method, Epochs: *epochs, BaseLR: *lr}},
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
