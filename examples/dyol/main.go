// Command dyol trains DYOL (thesis Section 3.1.5, Algorithm 5) assembled
// from its parts: a small online network, an assistant network, and a
// target that is an exponential moving average of the assistant; both
// predictors regress the target's projection of the other view. The
// target averages the assistant ψ, as Section 3.1.5 describes, not the
// online network θ that Algorithm 5 line 15 prints (ζ ← τζ + (1-τ)θ):
// θ's architecture differs from the target's, so it could not be averaged
// into it.
//
//	go run ./examples/dyol -online efficientnet_b0 -assistant resnet34
//
// The defaults (256 synthetic images, 2 epochs, ResNet-18 online,
// ResNet-34 assistant) run in about a minute on two cores.
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
	onlineName := flag.String("online", "resnet18", "online backbone")
	assistantName := flag.String("assistant", "resnet34", "assistant backbone")
	runner.ParseCommandLine("dyol")

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
	target, err := backbone.New(*assistantName, backbone.Config{NoInit: true})
	check(err)
	head := func(name string, in int) *ssl.MLP { return ssl.NewMLP(name, ssl.BYOLProjector(in, 4096, 256), 1) }
	assistantProjector := head("assistant_projection_head", assistant.FeatureDim())
	method := &ssl.DYOL{
		Online:             online,
		OnlineProjector:    head("projection_head", online.FeatureDim()),
		OnlinePredictor:    head("prediction_head", 256),
		Assistant:          assistant,
		AssistantProjector: assistantProjector,
		AssistantPredictor: head("assistant_prediction_head", 256),
		Target:             target,
		TargetProjector:    ssl.NewMLP("target_projection_head", assistantProjector.Blocks(), 1),
	}
	method.Start() // ζ ← ψ

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
