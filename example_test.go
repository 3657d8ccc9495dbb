package disiam_test

import (
	"context"
	"fmt"

	"github.com/disiam/disiam/augment"
	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/dataset"
	"github.com/disiam/disiam/knn"
	"github.com/disiam/disiam/nn"
	"github.com/disiam/disiam/safetensors"
	"github.com/disiam/disiam/ssl"
	"github.com/disiam/disiam/train"
)

// The packages together, at toy size: the synthetic set (dataset), a
// narrow ResNet-18 online network and a narrow ResNet-34 assistant
// (backbone), DiSiam with SimSiam's heads (ssl), trained for two epochs
// by the Trainer with the thesis' optimization (optim) on SimSiam's views
// (augment), measured by the kNN evaluator (knn) before and after every
// epoch, and the encoder's state_dict as PyTorch names it (safetensors).
// go run ./examples/quickstart is the same at a size that learns.
func Example() {
	data := dataset.SyntheticConfig{Train: 64, Test: 32}
	trainSet, test := dataset.Synthetic(data, dataset.Train), dataset.Synthetic(data, dataset.Test)
	online, _ := backbone.New("resnet18-w8", backbone.Config{Seed: 1})
	assistant, _ := backbone.New("resnet34-w8", backbone.Config{Seed: 2})
	method := ssl.NewDiSiam(online, assistant, 3)
	norm := augment.CIFAR10Norm
	trainer := &ssl.Trainer{
		Stages:    []ssl.Stage{{Method: method, Epochs: 2, BaseLR: 0.06}},
		Data:      trainSet,
		Norm:      norm,
		Evaluator: &knn.Evaluator{Train: trainSet, Test: test, Norm: norm},
		Config: train.Config{
			Batch:       32,
			Seed:        1,
			EvalEvery:   1,
			EvalAtStart: true,
		},
	}
	history, err := trainer.Run(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s: online %s (%d parameters), assistant %s\n", method.Name(),
		backbone.Title(online.Name()), nn.CountParams(online), backbone.Title(assistant.Name()))
	for _, e := range history.Epochs {
		fmt.Printf("epoch %d: %d steps so far, lr %.4f, kNN measured: %v\n", e.Epoch, e.Steps, e.LR, e.Eval != nil)
	}
	fmt.Println(len(history.Evaluations), "kNN evaluations")
	sd, _ := safetensors.StateDict(online)
	fmt.Println(len(sd.Names()), "tensors, the first", sd.Names()[0])
	// Output:
	// disiam: online ResNet-18 (width 8) (241712 parameters), assistant ResNet-34 (width 8)
	// epoch 1: 2 steps so far, lr 0.0075, kNN measured: true
	// epoch 2: 4 steps so far, lr 0.0037, kNN measured: true
	// 3 kNN evaluations
	// 122 tensors, the first conv1.weight
}
