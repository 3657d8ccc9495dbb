// Command disiamplus trains DiSiam+ (thesis Section 3.4, Algorithm 7):
// DiSiam over M views of each image, every prediction of the online and
// the assistant network compared with the stop-gradient assistant
// projections of the other views (1/(M(M-1)) over the ordered pairs).
//
//	go run -tags openblas ./examples/disiamplus -views 4
//
// The defaults (192 synthetic images, 2 epochs, 4 views, EfficientNet-B0
// online, ResNet-34 assistant) run in about a minute on two cores.
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
	nTrain := flag.Int("train", 192, "training images")
	nTest := flag.Int("test", 200, "kNN query images")
	epochs := flag.Int("epochs", 2, "epochs")
	batch := flag.Int("batch", 64, "batch size")
	onlineName := flag.String("online", "efficientnet_b0", "online backbone")
	assistantName := flag.String("assistant", "resnet34", "assistant backbone")
	views := flag.Int("views", 4, "views per image")
	lr := flag.Float64("lr", 0.06, "base learning rate (× batch/256)")
	runner.ParseCommandLine("disiamplus", runner.Rules{"views": runner.AtLeast(2)})

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
	method := ssl.NewDiSiamPlus(online, assistant, *views, 1) // heads as in examples/disiam
	method.Targets = ssl.PairwiseTargets                      // Algorithm 7; MeanTargets is lightly's FastSiam form

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
