package ssl_test

import (
	"context"
	"fmt"

	"github.com/disiam/disiam/augment"
	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/dataset"
	"github.com/disiam/disiam/ssl"
	"github.com/disiam/disiam/train"
)

// DiSiam assembled from its parts: an EfficientNet-B0 online network and a
// ResNet-34 assistant, each with SimSiam's heads (the thesis' main
// setting). Parts gives each network's state_dict prefix.
func ExampleDiSiam() {
	online, _ := backbone.New("efficientnet_b0", backbone.Config{Seed: 1})
	assistant, _ := backbone.New("resnet34", backbone.Config{Seed: 2})
	projector := func(name string, in int) ssl.Head {
		return ssl.NewMLP(name, ssl.SimSiamProjector(in, 2048, 2048, 2), 1)
	}
	predictor := func(name string) ssl.Head { return ssl.NewMLP(name, ssl.SimSiamPredictor(2048, 512, 2048), 1) }
	m := &ssl.DiSiam{
		Online:             online,
		OnlineProjector:    projector("projection_head", online.FeatureDim()),
		OnlinePredictor:    predictor("prediction_head"),
		Assistant:          assistant,
		AssistantProjector: projector("assistant_projection_head", assistant.FeatureDim()),
		AssistantPredictor: predictor("assistant_prediction_head"),
		M:                  2,
	}
	fmt.Println(m.Name(), m.Views(), "views, encoder", m.Encoder().Name())
	for _, p := range m.Parts() {
		fmt.Printf("%q: %s ... (trainable %v)\n", p.Prefix, p.Module.Params()[0].Name, p.Trainable)
	}
	// Output:
	// disiam 2 views, encoder efficientnet_b0
	// "backbone.": features.0.0.weight ... (trainable true)
	// "": projection_head.layers.0.weight ... (trainable true)
	// "": prediction_head.layers.0.weight ... (trainable true)
	// "assistant_backbone.": conv1.weight ... (trainable true)
	// "": assistant_projection_head.layers.0.weight ... (trainable true)
	// "": assistant_prediction_head.layers.0.weight ... (trainable true)
}

// Chaining (thesis Section 3.5): SimCLR, then SimSiam, sharing one
// ResNet-18; the Trainer runs the stages in order, each with its own
// optimizer and schedule (thesis Section 4.3), and records every epoch.
func ExampleTrainer() {
	cfg := dataset.SyntheticConfig{Train: 32, Test: 16}
	trainSet := dataset.Synthetic(cfg, dataset.Train)
	bb, _ := backbone.New("resnet18", backbone.Config{Seed: 1})
	trainer := &ssl.Trainer{
		Stages: []ssl.Stage{
			{Method: ssl.NewSimCLR(bb, 1), Epochs: 1},
			{Method: ssl.NewSimSiam(bb, 2), Epochs: 1},
		},
		Data: trainSet,
		Norm: augment.CIFAR10Norm,
		Config: train.Config{
			Batch: 16,
			Seed:  1,
		},
	}
	history, err := trainer.Run(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, e := range history.Epochs {
		fmt.Printf("epoch %d: stage %d (%s), %d steps, lr %.4f\n", e.Epoch, e.Stage, e.Name, e.Steps, e.LR)
	}
	// Output:
	// epoch 1: stage 0 (simclr), 2 steps, lr 0.3000
	// epoch 2: stage 1 (simsiam), 2 steps, lr 0.0019
}
