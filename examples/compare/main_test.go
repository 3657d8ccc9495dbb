package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/disiam/disiam/examples/internal/experiment"
	"github.com/disiam/disiam/examples/internal/experiment/experimenttest"
	"github.com/disiam/disiam/examples/internal/runner"
)

// tiny are flags that make a comparison run in seconds.
var tiny = []string{"-train", "40", "-test", "20", "-epochs", "2", "-batch", "20", "-head-dim", "32", "-knn-k", "10",
	"-assistant", "resnet18-w4", "-seeds", "7,41"}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	args := append([]string{"-out", dir, "-backbones", "resnet18-w4,resnet34-w4", "-methods", "simclr,disiam"}, tiny...)
	var out bytes.Buffer
	if err := run(context.Background(), args, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	results := experimenttest.Outputs(t, dir, 8, []string{
		"# Method comparison (thesis Section 5.2, Table 5.4)",
		"**ResNet-18 (width 4)**", "**ResNet-34 (width 4)**", "| Random Initialization |", "| SimCLR |", "| DiSiam |",
	}, "max_top1.png", "curves_ResNet-18_width_4.png", "curves_ResNet-34_width_4.png")
	for _, r := range results {
		if r.Epochs() != 2 || r.Batch != 20 || len(r.Curve) != 3 {
			t.Errorf("%s/%s seed %d: epochs %d batch %d, %d measurements", r.Group, r.Series, r.Seed, r.Epochs(), r.Batch, len(r.Curve))
		}
	}
	if !strings.Contains(out.String(), "[8/8]") {
		t.Errorf("no progress line for the last run:\n%s", out.String())
	}

	// A third seed of one cell run apart, then both folders merged.
	dir2, merged := t.TempDir(), t.TempDir()
	more := append(append([]string{"-out", dir2, "-backbones", "resnet18-w4", "-methods", "simclr"}, tiny...), "-seeds", "923")
	if err := run(context.Background(), more, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run(context.Background(), []string{"-merge", dir + "," + dir2, "-out", merged}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	got, _, err := experiment.ReadRuns(merged)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 9 {
		t.Fatalf("merged %d runs, want 9", len(got))
	}
	for i, r := range results {
		if g := got[i]; g.Max != r.Max || g.Seed != r.Seed || fmt.Sprint(g.Curve) != fmt.Sprint(r.Curve) || g.Initial != r.Initial {
			t.Errorf("run %d read back as %+v, was %+v", i, g, r)
		}
	}
	md := out.String()
	for _, f := range []string{"max_top1.png", "curves_ResNet-18_width_4.png", "results.md"} {
		if _, err := os.Stat(filepath.Join(merged, f)); err != nil {
			t.Error(err)
		}
	}
	for _, w := range []string{"9 runs merged from", "**ResNet-18 (width 4)**", "| Random Initialization |", "3 plots"} {
		if !strings.Contains(md, w) {
			t.Errorf("merged report lacks %q:\n%s", w, md)
		}
	}
	// SimCLR on ResNet-18 now has three seeds, DiSiam two.
	if !strings.Contains(md, " | 3 |") || !strings.Contains(md, " | 2 |") {
		t.Errorf("merged report's seed counts:\n%s", md)
	}
	if err := run(context.Background(), []string{"-merge", t.TempDir(), "-out", merged}, io.Discard, io.Discard); err == nil {
		t.Error("-merge of a folder without runs.json: no error")
	}
}

func TestFlagErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"unknown method", []string{"-methods", "simsam"}},
		{"unknown backbone", []string{"-backbones", "resnet19"}},
		{"argument", []string{"extra"}},
		{"bad data", []string{"-data", "nosuch:"}},
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

// TestRecipe checks that -data fashion-mnist takes the CPU recipe
// (runner.FashionMNIST, with both backbones of Table 5.4), that flags given
// on the command line win, and that -recipe none and thesis do what they
// say.
func TestRecipe(t *testing.T) {
	r := runner.FashionMNIST
	tests := []struct {
		args                []string
		backbones, opt, aug string
		epochs, train, head int
		lr                  float64
	}{
		{[]string{"-data", "fashion-mnist"}, r.EfficientNet + "," + r.Backbone, runner.OptimizerLARS, runner.AugmentMethod, r.Epochs, r.Train, r.HeadDim, r.LR},
		{[]string{"-data", "fashion-mnist", "-epochs", "5", "-backbones", "resnet18-w8"}, "resnet18-w8", runner.OptimizerLARS, runner.AugmentMethod, 5, r.Train, r.HeadDim, r.LR},
		{[]string{"-data", "fashion-mnist", "-recipe", "none"}, experiment.SmallResNet, runner.OptimizerThesis, runner.AugmentMethod, 24, 2000, 512, 0},
		{[]string{"-data", "fashion-mnist", "-recipe", "thesis"}, experiment.SmallResNet, runner.OptimizerThesis, runner.AugmentMethod, 24, 2000, 0, 0},
		{[]string{"-data", "synthetic"}, experiment.SmallResNet, runner.OptimizerLARS, runner.AugmentShapes, 24, 2000, 512, 0},
	}
	for _, tc := range tests {
		f, err := parse(tc.args, io.Discard)
		if err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		got := []any{strings.Join(f.Backbones, ","), f.Optimizer, f.Augment, f.Epochs, f.Train, f.HeadDim, f.LR}
		want := []any{tc.backbones, tc.opt, tc.aug, tc.epochs, tc.train, tc.head, tc.lr}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%q: got %v, want %v", tc.args, got, want)
		}
	}
	if _, err := parse([]string{"-recipe", "fast"}, io.Discard); err == nil {
		t.Error("-recipe fast: no error")
	}
	// Each method runs the recipe's epochs for it; -epochs sets them all.
	for _, tc := range []struct {
		args []string
		want func(method string) int
	}{
		{[]string{"-data", "fashion-mnist"}, r.EpochsFor},
		{[]string{"-data", "fashion-mnist", "-epochs", "5"}, func(string) int { return 5 }},
	} {
		f, err := parse(tc.args, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range f.MethodJobs() {
			if m := j.Plan[0].Method; j.Plan[0].Epochs != tc.want(m) || j.Epochs() != tc.want(m) {
				t.Errorf("%q: %s runs %d epochs, want %d", tc.args, m, j.Plan[0].Epochs, tc.want(m))
			}
		}
	}
}
