package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func tiny(out string, extra ...string) []string {
	return append([]string{"-methods", "simsiam", "-pretrain-images", "64", "-pretrain-epochs", "1", "-pretrain-batch", "32",
		"-backbone", "resnet18-w8", "-assistant", "resnet18-w8", "-head-dim", "32",
		"-train", "8", "-test", "4", "-size", "64", "-epochs", "1", "-batch", "4", "-channels", "32", "-head-convs", "1",
		"-out", out}, extra...)
}

// TestStudy pretrains one method, fine-tunes it and the random
// initialization, and checks the table and the files; a
// second run reuses the saved encoder.
func TestStudy(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	out := filepath.Join(t.TempDir(), "out")
	var stdout bytes.Buffer
	if err := run(context.Background(), tiny(out, "-seeds", "1"), &stdout, &stdout); err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	text := stdout.String()
	for _, want := range []string{"SimSiam: pretrained 1 epochs on 64 images", "[2/2]", "| Method | mAP@0.5 (%) |",
		"| Random Initialization |", "| SimSiam |", "wrote results.md, runs.csv, runs.json, map50.png and curves.png"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	for _, f := range []string{"encoder_simsiam.safetensors", "runs.csv", "runs.json", "results.md", "map50.png", "curves.png"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	csv, _ := os.ReadFile(filepath.Join(out, "runs.csv"))
	if n := strings.Count(string(csv), "\n"); n != 3 {
		t.Errorf("runs.csv has %d lines, want 3:\n%s", n, csv)
	}
	stdout.Reset()
	if err := run(context.Background(), tiny(out, "-seeds", "3"), &stdout, &stdout); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "SimSiam: reusing") {
		t.Errorf("the encoder was not reused:\n%s", stdout.String())
	}
}

func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-methods", "moco"}, `unknown method "moco"`},
		{[]string{"-encoders", "simclr"}, "want method=FILE"},
		{[]string{"-seeds", "x"}, "-seeds"},
		{[]string{"-epochs", "0"}, "must be positive"},
		{[]string{"-freeze", "x"}, `-freeze "x"`},
		{[]string{"-methods", "simclr", "-encoders", "disiam=x.safetensors"}, `-encoders names "disiam"`},
	} {
		var out bytes.Buffer
		err := run(context.Background(), tc.args, &out, &out)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
}
