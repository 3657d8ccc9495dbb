package main

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/safetensors"
)

// TestDetect3D runs the program end to end at a tiny size, from a random
// and from a "pretrained" backbone file, checks what it prints and
// writes, and scores the submission it wrote with -mode eval: the same
// NDS as the training run's evaluation.
func TestDetect3D(t *testing.T) {
	dir := t.TempDir()
	weights := filepath.Join(dir, "encoder.safetensors")
	if err := safetensors.SaveModule(weights, backbone.NewResNet(18, backbone.Config{Width: 4, Seed: 9})); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	args := []string{"-train", "8", "-test", "4", "-epochs", "1", "-batch", "4", "-channels", "32", "-draw", "2",
		"-backbone", "resnet18-w4", "-weights", weights, "-out", out}
	var stdout bytes.Buffer
	outs, err := fineTune(context.Background(), mustFlags(t, args), &stdout)
	if err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	text := stdout.String()
	for _, want := range []string{"== random backbone ==", "== pretrained backbone (" + weights + ") ==", "mAP", "NDS", "traffic_cone", "wrote " + out} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if len(outs) != 2 {
		t.Fatalf("%d models", len(outs))
	}
	for _, f := range []string{"detect3d-random.safetensors", "detect3d-pretrained.safetensors", "metrics-random.csv", "metrics-pretrained.csv", "submission.json"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	for _, f := range []string{"detections.png", "bev.png"} {
		r, err := os.Open(filepath.Join(out, f))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(r)
		r.Close()
		if err != nil || img.Bounds().Dx() < 200 {
			t.Errorf("%s: %v, %v", f, err, img.Bounds())
		}
	}
	// The saved detector loads into a fresh one.
	m := outs[1].model
	if err := safetensors.LoadModule(filepath.Join(out, "detect3d-pretrained.safetensors"), m); err != nil {
		t.Error(err)
	}

	var ev bytes.Buffer
	if err := run(context.Background(), []string{"-mode", "eval", "-results", filepath.Join(out, "submission.json"), "-gt", "synthetic", "-test", "4"}, &ev, &ev); err != nil {
		t.Fatalf("%v\n%s", err, ev.String())
	}
	want := outs[1].metrics
	if !strings.Contains(ev.String(), want.String()) {
		t.Errorf("eval mode printed\n%s\nthe training run's evaluation was\n%s", ev.String(), want)
	}
}

func mustFlags(t *testing.T, args []string) config {
	t.Helper()
	c, err := flags(args, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-mode", "predict"}, {"-mode", "eval"}, {"-channels", "48"}, {"-train", "4", "-batch", "8"}, {"-lr", "0"}, {"-stacked", "0"}, {"-depth-weight", "-1"}, {"extra"},
	} {
		if _, err := flags(args, &bytes.Buffer{}); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
	var buf bytes.Buffer
	err := run(context.Background(), []string{"-mode", "eval", "-results", "x.json", "-gt", "lidar:x"}, &buf, &buf)
	if err == nil || !strings.Contains(err.Error(), "synthetic, kitti:DIR or mono3d:FILE.json") {
		t.Errorf("bad -gt: %v", err)
	}
}
