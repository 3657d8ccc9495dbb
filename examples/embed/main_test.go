package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"codeberg.org/sbinet/npyio/npy"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/augment"
	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/dataset"
	"github.com/disiam/disiam/nn"
	"github.com/disiam/disiam/safetensors"
)

func quiet(string, ...any) {}

// direct runs b in Eval mode on x [n, 3, h, w] in one batch.
func direct(t *testing.T, b backbone.Backbone, x []float32, n, h, w int, logits bool) []float32 {
	t.Helper()
	b.SetTraining(false)
	g := G.NewGraph()
	in, buf := nn.Input(g, "x", tensor.Float32, n, 3, h, w)
	copy(buf.Data().([]float32), x)
	y := b.Features(in)
	if logits {
		y = b.(backbone.Classifier).Classify(y)
	}
	prog, err := nn.Compile(g, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	if err := prog.Run(); err != nil {
		t.Fatal(err)
	}
	return append([]float32(nil), y.Value().Data().([]float32)...)
}

func readNpy[T float32 | int64](t *testing.T, path string) ([]int, []T) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := npy.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var v []T
	if err := r.Read(&v); err != nil {
		t.Fatal(err)
	}
	return r.Header.Descr.Shape, v
}

func close32(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		d := a[i] - b[i]
		if d < 0 {
			d = -d
		}
		if d > 1e-5*(1+max(a[i], -a[i])) {
			return false
		}
	}
	return true
}

// An .npy input in batches with a partial last batch gives what one
// forward pass over all images gives, with random and with loaded weights.
func TestInputNpy(t *testing.T) {
	dir := t.TempDir()
	const n, h, w = 5, 32, 40
	x := make([]float32, n*3*h*w)
	for i := range x {
		x[i] = float32((i*7919)%1000)/500 - 1
	}
	in := filepath.Join(dir, "x.npy")
	// npy.Write of a flat slice gives shape (len,); write [N][3][H][W] instead.
	arr := make([][][][]float32, n)
	for i := range arr {
		arr[i] = make([][][]float32, 3)
		for c := range 3 {
			arr[i][c] = make([][]float32, h)
			for y := range h {
				off := ((i*3+c)*h + y) * w
				arr[i][c][y] = x[off : off+w]
			}
		}
	}
	if err := writeNpy(in, arr); err != nil {
		t.Fatal(err)
	}

	ref, _ := backbone.New("efficientnet_b0", backbone.Config{Seed: 3, Classes: 7})
	want := direct(t, ref, x, n, h, w, false)
	wantLogits := direct(t, ref, x, n, h, w, true)
	weights := filepath.Join(dir, "w.safetensors")
	if err := safetensors.SaveModule(weights, ref); err != nil {
		t.Fatal(err)
	}
	// The same backbone saved without its classifier.
	noHead := filepath.Join(dir, "nohead.safetensors")
	f, _ := safetensors.StateDict(ref)
	f.Delete("classifier.1.weight")
	f.Delete("classifier.1.bias")
	if err := safetensors.WriteFile(noHead, f); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		o    options
		want []float32
		dim  int
	}{
		{"random init", options{backbone: "efficientnet_b0", seed: 3, classes: 7}, want, 1280},
		{"weights", options{backbone: "efficientnet_b0", weights: weights}, want, 1280},
		{"weights logits", options{backbone: "efficientnet_b0", weights: weights, logits: true}, wantLogits, 7},
		{"weights without classifier", options{backbone: "efficientnet_b0", weights: noHead}, want, 1280},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.o
			o.input, o.output, o.batch, o.normalize = in, filepath.Join(dir, "out.npy"), 2, "none"
			if err := run(o, quiet); err != nil {
				t.Fatal(err)
			}
			shape, got := readNpy[float32](t, o.output)
			if !slices.Equal(shape, []int{n, tc.dim}) || !close32(got, tc.want) {
				t.Errorf("output %v differs from a direct forward pass", shape)
			}
		})
	}
	o := options{backbone: "efficientnet_b0", weights: noHead, logits: true, input: in, output: filepath.Join(dir, "o.npy"), batch: 2, normalize: "none"}
	if err := run(o, quiet); err == nil || !strings.Contains(err.Error(), "missing: classifier.1.weight") {
		t.Errorf("-logits without classifier weights: error %v", err)
	}
}

// A dataset spec is resized, normalized, embedded and labeled.
func TestData(t *testing.T) {
	dir := t.TempDir()
	o := options{backbone: "resnet18", data: "synthetic,test=6,size=24", split: "test", size: 32, normalize: "cifar10",
		output: filepath.Join(dir, "f.npy"), labels: filepath.Join(dir, "l.npy"), batch: 4, seed: 1}
	if err := run(o, quiet); err != nil {
		t.Fatal(err)
	}
	shape, got := readNpy[float32](t, o.output)
	lshape, labels := readNpy[int64](t, o.labels)
	ds, err := dataset.Open(o.data, dataset.Test)
	if err != nil {
		t.Fatal(err)
	}
	var x []float32
	var ws augment.Workspace
	for i := range ds.Len() {
		img := ws.Run(augment.EvalView(32, augment.CIFAR10Norm), ds.Image(i), nil)
		x = append(x, img.Pix...)
		if labels[i] != int64(ds.Label(i)) {
			t.Errorf("label %d = %d, want %d", i, labels[i], ds.Label(i))
		}
	}
	b, _ := backbone.New("resnet18", backbone.Config{Seed: 1})
	want := direct(t, b, x, 6, 32, 32, false)
	if !slices.Equal(shape, []int{6, 512}) || !slices.Equal(lshape, []int{6}) || !close32(got, want) {
		t.Errorf("features %v, labels %v: differ from a direct forward pass", shape, lshape)
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "o.npy")
	bad := filepath.Join(dir, "bad.npy")
	if err := writeNpy(bad, [][]float32{{1, 2}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		o    options
		want string
	}{
		{"no source", options{backbone: "resnet18", output: out, batch: 1, normalize: "none"}, "exactly one of -input and -data"},
		{"two sources", options{backbone: "resnet18", input: bad, data: "synthetic", output: out, batch: 1, normalize: "none"}, "exactly one"},
		{"unknown backbone", options{backbone: "vgg16", data: "synthetic", output: out, batch: 1, normalize: "none"}, "unknown architecture"},
		{"unknown normalize", options{backbone: "resnet18", data: "synthetic", output: out, batch: 1, normalize: "coco"}, "unknown -normalize"},
		{"bad input shape", options{backbone: "resnet18", input: bad, output: out, batch: 1, normalize: "none"}, "want a C-order [N, 3, H, W]"},
		{"missing weights", options{backbone: "resnet18", weights: filepath.Join(dir, "nope.safetensors"), data: "synthetic", output: out, batch: 1, normalize: "none"}, "no such file"},
		{"labels without data", options{backbone: "resnet18", input: bad, output: out, labels: out, batch: 1, normalize: "none"}, "want a C-order"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := run(tc.o, quiet)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}
