package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/examples/internal/experiment/experimenttest"
	"github.com/disiam/disiam/safetensors"
)

// tiny are flags that make a study run in seconds.
var tiny = []string{"-train", "40", "-test", "20", "-epochs", "2", "-batch", "20", "-head-dim", "32", "-knn-k", "10",
	"-backbones", "resnet18-w4", "-assistant", "resnet18-w4", "-seeds", "7,41"}

func TestStudies(t *testing.T) {
	tests := []struct {
		study string
		args  []string
		runs  int
		want  []string
		plots []string
	}{
		{study: "batch", args: []string{"-values", "10,20", "-methods", "simsiam"}, runs: 4,
			want:  []string{"Batch size (thesis Section 5.3.1", "| Batch size | SimSiam |", "| batch 10 |", "| batch 20 |", "## Robustness"},
			plots: []string{"max_top1.png", "std.png", "curves_batch_10.png"}},
		{study: "lr", args: []string{"-values", "0.03,0.06", "-methods", "disiam"}, runs: 4,
			want: []string{"| lr 0.03 |", "| lr 0.06 |"}, plots: []string{"max_top1.png"}},
		{study: "backbone", args: []string{"-values", "resnet18-w4,resnet34-w4", "-methods", "simclr"}, runs: 4,
			want: []string{"| ResNet-18 (width 4) |", "| ResNet-34 (width 4) |"}},
		{study: "arch", args: []string{"-values", "resnet18-w4,efficientnet_b0-x0.1", "-lrs", "0.06", "-methods", "simsiam", "-epochs", "1"}, runs: 4,
			want: []string{"| ResNet-18 (width 4), lr 0.06 |", "Table 5.5", "**ResNet**", "**EfficientNet**", "| SimSiam | EfficientNet-B0 (width ×0.1) | - |"}},
		{study: "assistant", args: []string{"-values", "resnet18-w4,resnet34-w4", "-methods", "disiam"}, runs: 4,
			want: []string{"| assistant ResNet-34 (width 4) |"}},
		{study: "chain", args: []string{"-methods", "simsiam", "-switch", "1"}, runs: 6,
			want:  []string{"| SimCLR → SimSiam |", "| SimSiam |", "| SimCLR |", "| Random Initialization |"},
			plots: []string{"max_top1.png", "curves_ResNet-18_width_4.png"}},
		{study: "projection", args: []string{"-methods", "simsiam"}, runs: 4,
			want: []string{"| 2 layers |", "| 3 layers |"}},
	}
	for _, tc := range tests {
		t.Run(tc.study, func(t *testing.T) {
			dir := t.TempDir()
			args := append(append([]string{"-study", tc.study, "-out", dir}, tiny...), tc.args...)
			if err := run(context.Background(), args, io.Discard, io.Discard); err != nil {
				t.Fatal(err)
			}
			results := experimenttest.Outputs(t, dir, tc.runs, tc.want, tc.plots...)
			if tc.study == "projection" && (results[0].ProjectionLayers != 2 || results[1].ProjectionLayers != 3) {
				t.Errorf("projection layers %d, %d", results[0].ProjectionLayers, results[1].ProjectionLayers)
			}
			if tc.study == "chain" && results[2].Method() != "simclr:1,simsiam:1" {
				t.Errorf("chain plan %q", results[2].Method())
			}
		})
	}
}

func TestPyTorchWeights(t *testing.T) {
	t.Run("no weights", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "out")
		var out bytes.Buffer
		if err := run(context.Background(), []string{"-study", "pytorch-weights", "-out", dir}, &out, io.Discard); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "-weights") || !strings.Contains(out.String(), "skipped") {
			t.Errorf("output does not say what is missing:\n%s", out.String())
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("skipped study wrote %s", dir)
		}
	})
	t.Run("weights", func(t *testing.T) {
		dir := t.TempDir()
		// stand-in for ImageNet weights: a network saved with torchvision names
		b, err := backbone.New("resnet18-w4", backbone.Config{Seed: 99})
		if err != nil {
			t.Fatal(err)
		}
		weights := filepath.Join(dir, "w.safetensors")
		if err := safetensors.SaveModule(weights, b); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, "out")
		args := append(append([]string{"-study", "pytorch-weights", "-out", out}, tiny...),
			"-weights", weights, "-size", "48", "-methods", "disiam+", "-views", "3", "-epochs", "1")
		if err := run(context.Background(), args, io.Discard, io.Discard); err != nil {
			t.Fatal(err)
		}
		results := experimenttest.Outputs(t, out, 2, []string{
			"| Strategy | 32×32 | 48×48 |", "| Random initialization (Kaiming) |", "| PyTorch weights (ImageNet) |",
			"| DiSiam+ (pretrained here, max over training) |",
		}, "pytorch_weights.png")
		for _, r := range results {
			if len(r.Resized) != 1 || r.Resized[0].Size != 48 || len(r.Resized[0].Curve) != len(r.Curve) {
				t.Errorf("resized %+v", r.Resized)
			}
		}
		if _, err := os.Stat(filepath.Join(out, "baselines.json")); err != nil {
			t.Error(err)
		}
		if err := run(context.Background(), append(args, "-backbones", "resnet18-w4,resnet34-w4"), io.Discard, io.Discard); err == nil {
			t.Error("two backbones with one weights file accepted")
		}
		if err := run(context.Background(), append(args, "-backbones", "resnet34-w4"), io.Discard, io.Discard); err == nil {
			t.Error("weights of another architecture loaded")
		}
	})
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"no study", nil},
		{"unknown study", []string{"-study", "nosuch"}},
		{"bad batch", []string{"-study", "batch", "-values", "x"}},
		{"bad lr", []string{"-study", "lr", "-values", "-1"}},
		{"bad assistant", []string{"-study", "assistant", "-values", "resnet19"}},
		{"bad layers", []string{"-study", "projection", "-values", "0"}},
		{"bad lrs", []string{"-study", "arch", "-lrs", "a"}},
		{"switch too long", []string{"-study", "chain", "-switch", "2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append([]string{"-out", t.TempDir()}, tiny...), tc.args...)
			if err := run(context.Background(), args, io.Discard, io.Discard); err == nil {
				t.Error("no error")
			}
		})
	}
}

func TestList(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-list"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, s := range studies {
		if !strings.Contains(out.String(), "-study "+s.name+" -data cifar10:") {
			t.Errorf("no thesis-scale command for %s", s.name)
		}
	}
}
