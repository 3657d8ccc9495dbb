package main

import (
	"bytes"
	"context"
	"io"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/safetensors"
)

func TestFlags(t *testing.T) {
	tests := []struct {
		args []string
		ok   bool
	}{
		{nil, true},
		{[]string{"-passes", "31,300"}, true},
		{[]string{"-passes", "300,31"}, false},
		{[]string{"-passes", "0"}, false},
		{[]string{"-passes", "x"}, false},
		{[]string{"-backbones", ""}, false},
		{[]string{"-probe", "1"}, false},
		{[]string{"-probe", "600", "-queries", "500"}, false},
		{[]string{"-size", "0"}, false},
		{[]string{"extra"}, false},
		{[]string{"-weights", "x.safetensors"}, false},
		{[]string{"-weights", "x.safetensors", "-backbones", "resnet18"}, true},
	}
	for _, tc := range tests {
		_, err := flags(tc.args, io.Discard)
		if (err == nil) != tc.ok {
			t.Errorf("%q: error %v, want ok %v", tc.args, err, tc.ok)
		}
	}
}

// TestBiasCorrect checks the corrected running statistics against the
// average of the batch statistics they came from: after t updates with
// momentum m from mean 0 and variance 1, running = (1-m)^t·init +
// Σ m(1-m)^(t-i)·batch_i; with equal batch statistics the corrected value
// is exactly that statistic. It also checks the restore.
func TestBiasCorrect(t *testing.T) {
	b := backbone.NewResNet(18, backbone.Config{Width: 8, NoInit: true})
	for _, tc := range []struct {
		t          int
		mean, vari float64
	}{{31, 0.5, 1e-4}, {1, -2, 3}, {200, 0.1, 0.04}} {
		for _, bn := range b.BatchNorms() {
			m := bn.Config.Momentum
			rm, rv := bn.RunningMean.Data(), bn.RunningVar.Data()
			for i := range rm {
				mean, vari := 0.0, 1.0
				for range tc.t {
					mean = (1-m)*mean + m*tc.mean
					vari = (1-m)*vari + m*tc.vari
				}
				rm[i], rv[i] = float32(mean), float32(vari)
			}
			bn.NumBatchesTracked.Value.Data().([]int64)[0] = int64(tc.t)
		}
		before := append([]float32(nil), b.BN1.RunningVar.Data()...)
		restore := biasCorrect(b)
		for _, bn := range b.BatchNorms() {
			gm, gv := float64(bn.RunningMean.Data()[0]), float64(bn.RunningVar.Data()[0])
			if math.Abs(gm-tc.mean) > 1e-5*math.Max(1, math.Abs(tc.mean)) || math.Abs(gv-tc.vari) > 2e-3*tc.vari+1e-6 {
				t.Fatalf("t=%d: corrected mean %g, var %g; want %g, %g", tc.t, gm, gv, tc.mean, tc.vari)
			}
		}
		restore()
		if got := b.BN1.RunningVar.Data(); got[0] != before[0] {
			t.Errorf("t=%d: restore left running_var %g, want %g", tc.t, got[0], before[0])
		}
	}
}

func TestStageOf(t *testing.T) {
	names := []string{"features.0", "features.1", "features.10"}
	for param, want := range map[string]int{
		"features.1.0.block.1.1.running_var": 1,
		"features.10.1.running_var":          2,
		"features.0.1.running_var":           0,
		"classifier.1.weight":                -1,
	} {
		if got := stageOf(names, param); got != want {
			t.Errorf("stageOf(%q) = %d, want %d", param, got, want)
		}
	}
	if got := stageOf([]string{"stem", "layer1"}, "bn1.running_var"); got != 0 {
		t.Errorf("ResNet bn1: stage %d, want 0", got)
	}
}

// TestRunSmall runs the study on a few synthetic images and checks the
// report's parts and the mechanism at its smallest: after 5 train-mode
// passes an EfficientNet's depthwise BatchNorms keep about 0.9^5 = 0.59 of
// their initial running variance.
func TestRunSmall(t *testing.T) {
	var out bytes.Buffer
	c, err := flags([]string{"-data", "synthetic", "-backbones", "efficientnet_b0-x0.25,resnet18-w8",
		"-bank", "64", "-queries", "32", "-probe", "16", "-batch", "16", "-passes", "5"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := bnstats(context.Background(), c, &out); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{"== EfficientNet-B0 (width ×0.25)", "== ResNet-18 (width 8)", "5, corrected",
		"features.8    1x1", "layer4        1x1", "0.5905 after 5"} {
		if !strings.Contains(s, want) {
			t.Errorf("no %q in\n%s", want, s)
		}
	}
	// The depthwise BatchNorms of the 1x1 stage: 0.9^5 of the initial 1
	// plus 0.41 of a batch variance of order 1e-4.
	for _, line := range strings.Split(s, "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "features.6" {
			if !strings.HasPrefix(f[1], "0.59") {
				t.Errorf("features.6: depthwise running_var %s after 5 passes, want 0.59...", f[1])
			}
			return
		}
	}
	t.Errorf("no running_var row of features.6 in\n%s", s)
}

// TestWeights runs the study on a network loaded from a file: the loaded
// measurement is the saved network's.
func TestWeights(t *testing.T) {
	file := filepath.Join(t.TempDir(), "enc.safetensors")
	b := backbone.NewResNet(18, backbone.Config{Width: 4, Seed: 3})
	if err := safetensors.SaveModule(file, b); err != nil {
		t.Fatal(err)
	}
	c, err := flags([]string{"-data", "synthetic", "-backbones", "resnet18-w4", "-weights", file,
		"-bank", "32", "-queries", "16", "-probe", "16", "-batch", "8", "-passes", "2"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := bnstats(context.Background(), c, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"enc.safetensors)", "loaded ", "loaded, corr.", "2, corrected"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in\n%s", want, out.String())
		}
	}
}
