package ssl_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/disiam/disiam/augment"
	"github.com/disiam/disiam/dataset"
	"github.com/disiam/disiam/knn"
	"github.com/disiam/disiam/ssl"
	"github.com/disiam/disiam/train"
)

// learnMethods are the methods of the learning tests over tiny
// backbones with small heads: seconds per method on two cores.
func learnMethods() []methodCase {
	var out []methodCase
	for _, tc := range methodCases() {
		if tc.name != "softchain" {
			out = append(out, tc)
		}
	}
	return out
}

// fashionMNIST returns the first nTrain and nTest images of
// Fashion-MNIST as RGB, or skips the test if it is not installed.
func fashionMNIST(t *testing.T, nTrain, nTest int) (trainSet, test dataset.Dataset) {
	if _, err := os.Stat(dataset.FashionMNISTDir); err != nil {
		t.Skipf("Fashion-MNIST is not installed at %s (apt-get install dataset-fashion-mnist)", dataset.FashionMNISTDir)
	}
	tr, err := dataset.Open("fashion-mnist,rgb", dataset.Train)
	if err != nil {
		t.Fatal(err)
	}
	te, err := dataset.Open("fashion-mnist,rgb", dataset.Test)
	if err != nil {
		t.Fatal(err)
	}
	return dataset.Head(tr, nTrain), dataset.Head(te, nTest)
}

// TestLearning trains every method briefly (8 epochs of 768 images,
// 96 steps, a few seconds) on Fashion-MNIST and requires the best kNN
// top-1 accuracy (k = 50, 300 test images) to rise at least minGain above
// that of the random initialization (measured: +6 to +14 points). The
// embedded synthetic set does not serve here: its per-image random
// background colors let every method tell images apart without learning
// the shapes, and the kNN accuracy on shape labels falls (ResNet-18,
// SimSiam, 10 epochs of 1024 images: 22% at initialization, 12% after).
const minGain = 0.04

func TestLearning(t *testing.T) {
	trainSet, test := fashionMNIST(t, 768, 300)
	norm := augment.FashionMNISTNorm
	for _, tc := range learnMethods() {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			m := tc.build()
			tr := &ssl.Trainer{
				Stages:    []ssl.Stage{{Method: m, Epochs: envInt("EPOCHS", 8), BaseLR: envFloat("LR", 1)}},
				Data:      trainSet,
				Norm:      norm,
				Evaluator: &knn.Evaluator{Train: trainSet, Test: test, K: 50, Norm: norm, BatchSize: 150},
				Config: train.Config{
					Batch:       64,
					Seed:        3,
					EvalEvery:   2,
					EvalAtStart: true,
				},
			}
			if testing.Verbose() && os.Getenv("LOG") != "" {
				tr.Log = os.Stderr
			}
			h, err := tr.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			init, _ := h.Initial()
			best, _, _ := h.Best(knn.MetricTop1)
			t.Logf("%s: kNN top-1 random init %.1f%%, max %.1f%% (%.0fs); losses %.4f", tc.name, 100*init.Metrics.Value(knn.MetricTop1), 100*best, time.Since(start).Seconds(), h.Losses())
			if best < init.Metrics.Value(knn.MetricTop1)+minGain {
				t.Errorf("%s: kNN top-1 %.1f%% after training, %.1f%% at random initialization: want a gain of %.0f points",
					tc.name, 100*best, 100*init.Metrics.Value(knn.MetricTop1), 100*minGain)
			}
		})
	}
}

// TestLearningLong is the learning test with the thesis' networks and
// heads, gated behind DISIAM_LONG=1 (minutes per method on two cores):
// ResNet-18 online (EfficientNet-B0 with DISIAM_ONLINE=efficientnet_b0),
// ResNet-18 assistant (DISIAM_ASSISTANT), 2048 training and 500 test
// images of Fashion-MNIST (DISIAM_DATA=synthetic for the synthetic set),
// EPOCHS epochs (6), base learning rate LR (0.03, thesis Section 4.3;
// SimCLR LR_SIMCLR, default its own 0.075), methods DISIAM_METHODS (all).
// It requires the gain of TestLearning on Fashion-MNIST, where a random
// ResNet-18 is already a strong baseline (64.2% kNN top-1). Measured on the
// shared 2-core machine (-tags openblas, 6 epochs = 192 steps): SimSiam
// 64.2% -> 69.0% (passes), DiSiam 64.2% -> 66.0% (fails the 4-point gain);
// with LR=0.3: DiSiam 68.4% after epoch 1 then falling, SimSiam 65.2%,
// SimCLR (LARS, 0.075) 63.4%. Full-size networks need longer runs than
// this test's default to beat that baseline clearly.
func TestLearningLong(t *testing.T) {
	if os.Getenv("DISIAM_LONG") != "1" {
		t.Skip("set DISIAM_LONG=1 to run the learning test with full-size networks")
	}
	var trainSet, test dataset.Dataset
	norm := augment.FashionMNISTNorm
	synthetic := os.Getenv("DISIAM_DATA") == "synthetic"
	if synthetic {
		cfg := dataset.SyntheticConfig{Train: 2048, Test: 500}
		trainSet, test, norm = dataset.Synthetic(cfg, dataset.Train), dataset.Synthetic(cfg, dataset.Test), augment.CIFAR10Norm
	} else {
		trainSet, test = fashionMNIST(t, 2048, 500)
	}
	name := func(env, def string) string {
		if v := os.Getenv(env); v != "" {
			return v
		}
		return def
	}
	only := os.Getenv("DISIAM_METHODS")
	for _, mname := range []string{"simclr", "byol", "simsiam", "fastsiam", "dyol", "disiam", "disiam+"} {
		t.Run(mname, func(t *testing.T) {
			if only != "" && !strings.Contains(","+only+",", ","+mname+",") {
				t.Skip("not in DISIAM_METHODS")
			}
			start := time.Now()
			online := mustBackbone(name("DISIAM_ONLINE", "resnet18"), 1)
			anet := name("DISIAM_ASSISTANT", "resnet18")
			var m ssl.Method
			switch mname {
			case "simclr":
				m = ssl.NewSimCLR(online, 1)
			case "byol":
				m = ssl.NewBYOL(online, mustBackbone(online.Name(), 9), 1)
			case "simsiam":
				m = ssl.NewSimSiam(online, 1)
			case "fastsiam":
				m = ssl.NewFastSiam(online, 4, 1)
			case "dyol":
				m = ssl.NewDYOL(online, mustBackbone(anet, 2), mustBackbone(anet, 9), 1)
			case "disiam":
				m = ssl.NewDiSiam(online, mustBackbone(anet, 2), 1)
			case "disiam+":
				m = ssl.NewDiSiamPlus(online, mustBackbone(anet, 2), 4, 1)
			}
			lr := envFloat("LR", 0.03)
			if mname == "simclr" {
				lr = envFloat("LR_SIMCLR", 0) // LARS: SimCLR's own 0.075·sqrt(batch)
			}
			tr := &ssl.Trainer{
				Stages:    []ssl.Stage{{Method: m, Epochs: envInt("EPOCHS", 6), BaseLR: lr}},
				Data:      trainSet,
				Norm:      norm,
				Evaluator: &knn.Evaluator{Train: trainSet, Test: test, Norm: norm},
				Config: train.Config{
					Batch:       64,
					Seed:        3,
					EvalEvery:   1,
					EvalAtStart: true,
				},
			}
			if testing.Verbose() {
				tr.Log = os.Stderr
			}
			h, err := tr.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			init, _ := h.Initial()
			best, at, _ := h.Best(knn.MetricTop1)
			fin, _ := h.Final()
			t.Logf("%s (%s): kNN top-1 random init %.1f%%, max %.1f%% (epoch %d), final %.1f%%, %.0fs",
				mname, online.Name(), 100*init.Metrics.Value(knn.MetricTop1), 100*best, at, 100*fin.Metrics.Value(knn.MetricTop1), time.Since(start).Seconds())
			if !synthetic && best < init.Metrics.Value(knn.MetricTop1)+minGain {
				t.Errorf("kNN top-1 %.1f%% after training, %.1f%% at random initialization", 100*best, 100*init.Metrics.Value(knn.MetricTop1))
			}
		})
	}
}
