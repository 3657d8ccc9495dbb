package backbone

import (
	"encoding/json"
	"math"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/disiam/disiam/safetensors"
)

// TestPyTorchCrossCheck exchanges weights with PyTorch in both directions
// through .safetensors files (testdata/crosscheck.py): networks built and
// initialized here load into torchvision with load_state_dict(strict=True),
// and torchvision networks (own initialization, running statistics after a
// training-mode forward) load here; in both directions the eval-mode
// logits on the same input agree within 1e-4 (max abs error / max abs
// value). resnet18-cifar (the CIFAR stem) goes to torchvision's resnet18
// with conv1 a 3x3 stride-1 convolution and the max-pool an Identity. It is skipped without /usr/bin/python3 and PyTorch.
func TestPyTorchCrossCheck(t *testing.T) {
	const py = "/usr/bin/python3"
	if testing.Short() {
		t.Skip("-short: skipping the PyTorch cross-check")
	}
	if err := exec.Command(py, "-c", "import torch, torchvision").Run(); err != nil {
		t.Skipf("no PyTorch at %s: %v", py, err)
	}
	dir := t.TempDir()
	shape := []int{2, 3, 32, 32}
	x := ruleInput("input", 2*3*32*32)
	in := &safetensors.File{}
	if err := in.Set("x", safetensors.FromFloat32(shape, x)); err != nil {
		t.Fatal(err)
	}
	if err := safetensors.WriteFile(filepath.Join(dir, "input.safetensors"), in); err != nil {
		t.Fatal(err)
	}
	ours := map[string][]float32{}
	for _, name := range []string{"resnet18", "resnet18-cifar", "efficientnet_b0"} {
		b, err := New(name, Config{Classes: 10, Seed: 7})
		if err != nil {
			t.Fatal(err)
		}
		if err := safetensors.SaveModule(filepath.Join(dir, "go_"+name+".safetensors"), b); err != nil {
			t.Fatal(err)
		}
		b.SetTraining(false)
		_, ours["go_"+name+".safetensors"] = run(t, b, shape, x, true)
	}
	out, err := exec.Command(py, "testdata/crosscheck.py", dir).Output()
	if err != nil {
		t.Fatalf("crosscheck.py: %v\n%s", err, out)
	}
	var theirs map[string][]float64
	if err := json.Unmarshal(out, &theirs); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for _, name := range []string{"efficientnet_b0", "resnet34"} {
		file := "torch_" + name + ".safetensors"
		b, err := New(name, Config{Classes: 10, NoInit: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := safetensors.LoadModule(filepath.Join(dir, file), b); err != nil {
			t.Fatal(err)
		}
		for _, p := range b.Params() {
			if p.Name == "features.0.1.num_batches_tracked" || p.Name == "bn1.num_batches_tracked" {
				if v := p.Value.Data().([]int64)[0]; v != 1 {
					t.Errorf("%s: %s = %d, want 1", file, p.Name, v)
				}
			}
		}
		b.SetTraining(false)
		_, ours[file] = run(t, b, shape, x, true)
	}
	if len(theirs) != len(ours) {
		t.Fatalf("PyTorch returned %d results, want %d", len(theirs), len(ours))
	}
	for file, got := range ours {
		want := theirs[file]
		var num, den float64
		for i, w := range want {
			num = math.Max(num, math.Abs(float64(got[i])-w))
			den = math.Max(den, math.Abs(w))
		}
		if len(want) != len(got) || !(num/den <= 1e-4) {
			t.Errorf("%s: logits differ from PyTorch's: relative error %.3g (%d vs %d values)", file, num/den, len(got), len(want))
		} else {
			t.Logf("%s: relative error %.2g", file, num/den)
		}
	}
}
