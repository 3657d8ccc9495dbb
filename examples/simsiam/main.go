// Command simsiam trains SimSiam (Chen & He 2021; thesis Section 3.1.3,
// Algorithm 3) assembled from its parts in plain code, the way lightly's
// examples do: a backbone, a projection head, a prediction head, the
// symmetric negative cosine loss with stop-gradient targets, SGD with a
// cosine schedule, and a training loop over two augmented views. It prints
// the kNN accuracy (thesis Section 4.4) before and after training.
//
//	go run ./examples/simsiam
//	go run -tags openblas ./examples/simsiam -data fashion-mnist,rgb -train 4096 -epochs 5
//
// The defaults (512 synthetic images, 2 epochs, ResNet-18 at 32x32) run in
// about a minute on two cores. The other examples (simclr, byol, fastsiam,
// dyol, disiam, disiamplus) build their method from parts the same way and
// hand the loop to ssl.Trainer.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/augment"
	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/dataset"
	"github.com/disiam/disiam/examples/internal/runner"
	"github.com/disiam/disiam/knn"
	"github.com/disiam/disiam/nn"
	"github.com/disiam/disiam/optim"
	"github.com/disiam/disiam/ssl"
)

func main() {
	data := flag.String("data", "synthetic", "dataset spec (see dataset.Open)")
	nTrain := flag.Int("train", 512, "training images")
	nTest := flag.Int("test", 200, "kNN query images")
	epochs := flag.Int("epochs", 2, "epochs")
	batch := flag.Int("batch", 64, "batch size")
	runner.ParseCommandLine("simsiam")

	// Data: two SimSiam views of every training image.
	train, err := dataset.Open(*data, dataset.Train)
	check(err)
	test, err := dataset.Open(*data, dataset.Test)
	check(err)
	train, test = dataset.Head(train, *nTrain), dataset.Head(test, *nTest)
	img := train.Image(0)
	norm := augment.CIFAR10Norm
	loader, err := dataset.NewLoader(train, dataset.LoaderConfig{
		BatchSize: *batch, Views: augment.MultiView(2, augment.SimSiamView(img.H, norm)),
		Shuffle: true, DropLast: true, Seed: 1,
	})
	check(err)

	// Model: backbone f, projector g (2 layers of 2048, the CIFAR setting)
	// and predictor q (2048-512-2048 bottleneck).
	bb, err := backbone.New("resnet18", backbone.Config{Seed: 1})
	check(err)
	projector := ssl.NewMLP("projection_head", ssl.SimSiamProjector(bb.FeatureDim(), 2048, 2048, 2), 1)
	predictor := ssl.NewMLP("prediction_head", ssl.SimSiamPredictor(2048, 512, 2048), 1)

	// One training step as a graph: two views in, the loss out.
	g := G.NewGraph()
	x1, in1 := nn.Input(g, "view1", tensor.Float32, *batch, img.C, img.H, img.W)
	x2, in2 := nn.Input(g, "view2", tensor.Float32, *batch, img.C, img.H, img.W)
	z1 := projector.Forward(bb.Features(x1))
	z2 := projector.Forward(bb.Features(x2))
	p1, p2 := predictor.Forward(z1), predictor.Forward(z2)
	// ½D(p1, sg(z2)) + ½D(p2, sg(z1)): SymmetricD applies the stop-gradient
	// to the projections z.
	loss := ssl.SymmetricD(p1, p2, z1, z2)
	params := nn.Trainable(nn.Modules{bb, projector, predictor})
	prog, err := nn.Compile(g, loss, params)
	check(err)
	defer prog.Close()

	// SGD, momentum 0.9, weight decay 1e-4, lr 0.03·batch/256 decayed by a
	// cosine over the epochs (thesis Section 4.3).
	opt := optim.NewSGD(params, optim.SimSiamSGD)
	schedule := optim.Cosine{Base: optim.LinearScaledLR(optim.SimSiamBaseLR, *batch), Steps: *epochs}

	eval := &knn.Evaluator{Train: train, Test: test, Norm: norm}
	res, err := eval.Measure(context.Background(), bb)
	check(err)
	fmt.Println("random initialization: kNN", res)

	bb.SetTraining(true) // the evaluation left the backbone in Eval mode
	for epoch := range *epochs {
		lr := schedule.At(epoch)
		ep := loader.Epoch(context.Background(), epoch)
		for b, ok := ep.Next(); ok; b, ok = ep.Next() {
			copy(in1.Data().([]float32), b.Views[0])
			copy(in2.Data().([]float32), b.Views[1])
			check(prog.Run()) // forward and backward: every param's Grad
			opt.Step(lr)
			std, _ := ssl.CollapseStd(z1.Value().(*tensor.Dense))
			fmt.Printf("epoch %d step %d: loss %.4f  lr %.4f  collapse std %.4f (healthy ≈ %.4f)\n",
				epoch+1, b.Number+1, prog.Loss(), lr, std, 1/math.Sqrt(2048))
		}
		check(ep.Err())
		res, err := eval.Measure(context.Background(), bb)
		check(err)
		fmt.Printf("after epoch %d: kNN %v\n", epoch+1, res)
		bb.SetTraining(true)
	}
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
