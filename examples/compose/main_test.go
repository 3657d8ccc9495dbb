package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/dataset"
	"github.com/disiam/disiam/safetensors"
)

// TestReadmeSnippet checks that README.md's "compose DiSiam yourself"
// snippet is the body of trainDiSiam, so the README shows code that
// compiles and runs.
func TestReadmeSnippet(t *testing.T) {
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, body, ok := strings.Cut(string(src), "\t// README snippet begin\n")
	body, _, ok2 := strings.Cut(body, "\t// README snippet end\n")
	if !ok || !ok2 {
		t.Fatal("main.go has no README snippet markers")
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
		lines = append(lines, strings.TrimPrefix(l, "\t"))
	}
	snippet := strings.Join(lines, "\n") + "\n"
	if !strings.Contains(string(readme), "```go\n"+snippet+"```\n") {
		t.Errorf("README.md does not contain trainDiSiam's body as a go block; want:\n%s", snippet)
	}
}

// TestTrainDiSiam runs the snippet on a few synthetic images (one step of
// batch 8) and loads the saved encoder back into an EfficientNet-B0.
func TestTrainDiSiam(t *testing.T) {
	cfg := dataset.SyntheticConfig{Train: 16, Test: 8}
	train, test := dataset.Synthetic(cfg, dataset.Train), dataset.Synthetic(cfg, dataset.Test)
	path := filepath.Join(t.TempDir(), "encoder.safetensors")
	if err := trainDiSiam(context.Background(), train, test, 1, 8, path); err != nil {
		t.Fatal(err)
	}
	if err := safetensors.LoadModule(path, backbone.NewEfficientNet(0, backbone.Config{NoInit: true})); err != nil {
		t.Fatal(err)
	}
}
