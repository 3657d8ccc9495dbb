package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"image/png"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/examples/internal/runner"
	"github.com/disiam/disiam/safetensors"
)

// tiny are the flags of a quickstart run of a few seconds: narrow
// networks, small heads, 64 images.
func tiny(out string, extra ...string) []string {
	return append([]string{"-train", "64", "-test", "32", "-epochs", "2", "-batch", "32", "-head-dim", "32",
		"-backbone", "resnet18-w4", "-assistant", "resnet18-w8", "-out", out}, extra...)
}

// TestQuickstart runs the program end to end at a tiny size and checks
// what it prints and writes: both accuracies, the encoder (loadable into
// the online architecture), the plot and the metrics.
func TestQuickstart(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	var stdout bytes.Buffer
	if err := run(context.Background(), tiny(out), &stdout, &stdout); err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	text := stdout.String()
	for _, want := range []string{
		"DiSiam; online ResNet-18 (width 4)", "assistant ResNet-18 (width 8)", "LARS", "views: the shapes' outlines",
		"random initialization", "DiSiam, 2 epochs", "top-1", filepath.Join(out, "encoder.safetensors"),
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}

	b, err := backbone.New("resnet18-w4", backbone.Config{NoInit: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := safetensors.LoadModule(filepath.Join(out, "encoder.safetensors"), b); err != nil {
		t.Errorf("encoder: %v", err)
	}

	f, err := os.Open(filepath.Join(out, "knn.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("knn.png: %v", err)
	}
	if r := img.Bounds(); r.Dx() < 300 || r.Dy() < 200 {
		t.Errorf("knn.png is %v", r)
	}

	mf, err := os.Open(filepath.Join(out, "metrics.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer mf.Close()
	rows, err := csv.NewReader(mf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Errorf("metrics.csv has %d rows, want a header and 2 epochs", len(rows))
	}
}

// TestQuickstartDeterministic checks that a run's numbers depend on the
// seed only, not on the number of loader goroutines, and that the
// initialization is measured on the same images whatever the training.
func TestQuickstartDeterministic(t *testing.T) {
	measure := func(args ...string) *result {
		t.Helper()
		c, err := flags(tiny(t.TempDir(), args...), nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := quickstart(context.Background(), c, &bytes.Buffer{})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	a, b := measure("-workers", "1"), measure("-workers", "3")
	if !reflect.DeepEqual(a.Final, b.Final) || !reflect.DeepEqual(a.Initial, b.Initial) {
		t.Errorf("1 worker: %+v, %+v; 3 workers: %+v, %+v", a.Initial, a.Final, b.Initial, b.Final)
	}
	if la, lb := a.History.Losses(), b.History.Losses(); la[0] != lb[0] || la[1] != lb[1] {
		t.Errorf("losses %v and %v", la, lb)
	}
	c := measure("-optimizer", "sgd", "-epochs", "1")
	if !reflect.DeepEqual(c.Initial, a.Initial) {
		t.Errorf("initialization measured %+v, then %+v", a.Initial, c.Initial)
	}
}

func TestFlags(t *testing.T) {
	tests := []struct {
		args  []string
		check func(c config) bool
		bad   bool
	}{
		{args: nil, check: func(c config) bool {
			return c.views == runner.AugmentShapes && c.optimizer == optLARS && c.lr == larsBaseLR && c.method == "disiam" && c.out == defaultOut
		}},
		{args: []string{"-optimizer", "sgd"}, check: func(c config) bool { return c.lr == sgdBaseLR }},
		{args: []string{"-optimizer", "sgd", "-lr", "0.03"}, check: func(c config) bool { return c.lr == 0.03 }},
		{args: []string{"-data", "fashion-mnist"}, check: func(c config) bool {
			r := runner.FashionMNIST
			return c.views == runner.AugmentMethod && c.backbone == r.Backbone && c.assistant == r.Assistant &&
				c.epochs == r.Epochs && c.train == r.Train && c.test == r.Test && c.batch == r.Batch && c.lr == r.LR && c.optimizer == optLARS
		}},
		{args: []string{"-data", "fashion-mnist", "-method", "disiam+"}, check: func(c config) bool {
			return c.epochs == runner.FashionMNIST.EpochsFor("disiam+")
		}},
		{args: []string{"-data", "fashion-mnist", "-method", "disiam+", "-epochs", "3"}, check: func(c config) bool { return c.epochs == 3 }},
		{args: []string{"-data", "fashion-mnist", "-epochs", "3", "-backbone", "resnet18-w16"}, check: func(c config) bool {
			return c.epochs == 3 && c.backbone == "resnet18-w16" && c.assistant == runner.FashionMNIST.Assistant
		}},
		{args: []string{"-data", "fashion-mnist", "-recipe", "none"}, check: func(c config) bool {
			return c.backbone == "resnet18-w16" && c.epochs == 24 && c.train == 2000
		}},
		{args: []string{"-data", "fashion-mnist", "-recipe", "thesis"}, check: func(c config) bool {
			return c.optimizer == optSGD && c.lr == sgdBaseLR && c.warmup == 0 && c.hd == 0 && c.backbone == "resnet18-w16"
		}},
		{args: []string{"-recipe", "fast"}, bad: true},
		{args: []string{"-data", "synthetic,size=48"}, check: func(c config) bool { return c.views == runner.AugmentShapes }},
		{args: []string{"-data", "cifar10:/x", "-views", "shapes"}, check: func(c config) bool { return c.views == runner.AugmentShapes }},
		{args: []string{"-optimizer", "adam"}, bad: true},
		{args: []string{"-views", "strong"}, bad: true},
		{args: []string{"-epochs", "0"}, bad: true},
		{args: []string{"-lr", "-1"}, bad: true},
		{args: []string{"extra"}, bad: true},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			c, err := flags(tc.args, &bytes.Buffer{})
			if tc.bad {
				if err == nil {
					t.Errorf("accepted: %+v", c)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Errorf("%+v", c)
			}
		})
	}
}

func TestQuickstartErrors(t *testing.T) {
	for name, args := range map[string][]string{
		"no batch":        {"-train", "16", "-batch", "32", "-out", t.TempDir()},
		"unknown method":  {"-method", "mocov3", "-train", "64", "-out", t.TempDir()},
		"unknown data":    {"-data", "imagenet", "-out", t.TempDir()},
		"unknown network": {"-backbone", "vit_b_16", "-out", t.TempDir()},
	} {
		if err := run(context.Background(), args, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
