package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/safetensors"
)

// TestEvaluate evaluates a narrow ResNet-18 loaded from a file on a few
// hundred synthetic images and checks the report and the files.
func TestEvaluate(t *testing.T) {
	dir := t.TempDir()
	b, err := backbone.New("resnet18-w8", backbone.Config{Seed: 2, Classes: 10})
	if err != nil {
		t.Fatal(err)
	}
	w := filepath.Join(dir, "enc.safetensors")
	if err := safetensors.SaveModule(w, b); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	var stdout bytes.Buffer
	err = run(context.Background(), []string{"-backbone", "resnet18-w8", "-weights", w, "-data", "synthetic,train=300,test=150,size=16",
		"-knn-k", "20", "-trimap", "150", "-probe-sweep", "1e-4,1e-2", "-out", out}, &stdout, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(stdout.String())
	for _, want := range []string{"kNN (k=20, τ=0.1): top-1", "linear probe (standardize", "effective rank", "TriMap of 150"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	raw, err := os.ReadFile(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r results
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	if r.Train != 300 || r.Test != 150 || len(r.KNN.PerClass) != 10 || len(r.Linear.PerClass) != 10 || r.TriMap == nil || r.Dim != 64 {
		t.Errorf("results.json: %+v", r)
	}
	if r.Linear.Lambda != 1e-4 && r.Linear.Lambda != 1e-2 {
		t.Errorf("probe λ %v is not a candidate", r.Linear.Lambda)
	}
	for _, f := range []string{"trimap.png", "spectrum.png", "results.md"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
}

// TestRandomInit runs without -weights and without a picture.
func TestRandomInit(t *testing.T) {
	var stdout bytes.Buffer
	err := run(context.Background(), []string{"-backbone", "resnet18-w8", "-data", "synthetic,train=100,test=50,size=16", "-knn-k", "10", "-trimap", "0"}, &stdout, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "random initialization (seed 0)") || strings.Contains(stdout.String(), "TriMap") {
		t.Errorf("output:\n%s", stdout.String())
	}
	if err := run(context.Background(), []string{"-probe-norm", "zscore"}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "zscore") {
		t.Errorf("bad -probe-norm: %v", err)
	}
}
