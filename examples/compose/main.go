// Command compose is the README's "compose DiSiam yourself" program: DiSiam
// assembled from its parts in plain code, with the thesis' main networks
// (an EfficientNet-B0 online network and a ResNet-34 assistant, each with
// SimSiam's projector and predictor), trained by ssl.Trainer with online
// kNN evaluation, the encoder saved as safetensors.
//
// Usage:
//
//	go run ./examples/compose                       # 1 epoch of 512 synthetic images, under a minute
//	go run ./examples/compose -data cifar10:/data/cifar-10-batches-bin -train 0 -test 0 -epochs 800 -batch 512
//
// Full-size networks and heads are slow on a CPU: DiSiam with these two
// networks trains at 20 to 40 images per second on two cores, depending
// on the load (bench/ssl.md). The quickstart (go run
// ./examples/quickstart) uses narrow networks to show learning in
// minutes. TestReadmeSnippet keeps README.md's snippet equal to
// the body of trainDiSiam below.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"

	"github.com/disiam/disiam/augment"
	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/dataset"
	"github.com/disiam/disiam/examples/internal/runner"
	"github.com/disiam/disiam/knn"
	"github.com/disiam/disiam/safetensors"
	"github.com/disiam/disiam/ssl"
	"github.com/disiam/disiam/train"
)

func main() {
	data := flag.String("data", "synthetic", "dataset spec (go doc ./dataset Open)")
	nTrain := flag.Int("train", 512, "training images (0: all)")
	nTest := flag.Int("test", 200, "kNN query images (0: all)")
	epochs := flag.Int("epochs", 1, "epochs")
	batch := flag.Int("batch", 64, "images per step")
	out := flag.String("out", "compose-out", "directory for encoder.safetensors")
	runner.ParseCommandLine("compose")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := func() error {
		trainSet, err := runner.OpenSplit(*data, dataset.Train, *nTrain)
		if err != nil {
			return err
		}
		test, err := runner.OpenSplit(*data, dataset.Test, *nTest)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(*out, 0o755); err != nil {
			return err
		}
		return trainDiSiam(ctx, trainSet, test, *epochs, *batch, filepath.Join(*out, "encoder.safetensors"))
	}()
	if err != nil {
		fmt.Fprintln(os.Stderr, "compose:", err)
		os.Exit(1)
	}
}

// trainDiSiam pretrains EfficientNet-B0 with a ResNet-34 assistant on
// train, measures kNN top-1 on test after every epoch and saves the
// encoder to path. Its body is README.md's snippet.
func trainDiSiam(ctx context.Context, trainSet, test dataset.Dataset, epochs, batch int, path string) error {
	// README snippet begin
	online := backbone.NewEfficientNet(0, backbone.Config{Seed: 1})
	assistant := backbone.NewResNet(34, backbone.Config{Seed: 2})
	// SimSiam's heads on both networks: projector in-2048-2048, predictor 2048-512-2048.
	heads := func(prefix string, in int) (projector, predictor ssl.Head) {
		return ssl.NewMLP(prefix+"projection_head", ssl.SimSiamProjector(in, 2048, 2048, 2), 3),
			ssl.NewMLP(prefix+"prediction_head", ssl.SimSiamPredictor(2048, 512, 2048), 4)
	}
	op, oq := heads("", online.FeatureDim())
	ap, aq := heads("assistant_", assistant.FeatureDim())
	method := &ssl.DiSiam{Online: online, OnlineProjector: op, OnlinePredictor: oq,
		Assistant: assistant, AssistantProjector: ap, AssistantPredictor: aq, M: 2} // M views: DiSiam+ for M > 2
	norm := augment.CIFAR10Norm
	trainer := &ssl.Trainer{
		Stages: []ssl.Stage{{Method: method, Epochs: epochs, BaseLR: 0.06}}, // lr 0.06·batch/256, cosine
		Data:   trainSet, Norm: norm,
		Evaluator: &knn.Evaluator{Train: trainSet, Test: test, Norm: norm}, // k 200, τ 0.1
		Config:    train.Config{Batch: batch, Seed: 1, Log: os.Stdout, EvalEvery: 1, EvalAtStart: true},
	}
	history, err := trainer.Run(ctx)
	if err != nil {
		return err
	}
	best, epoch, _ := history.Best(knn.MetricTop1)
	fmt.Printf("kNN top-1: %.1f%% after epoch %d\n", 100*best, epoch)
	return safetensors.SaveModule(path, online) // torchvision's state_dict names
	// README snippet end
}
