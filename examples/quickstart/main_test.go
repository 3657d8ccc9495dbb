package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/disiam/disiam/augment"
	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/dataset"
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
	if a.Final != b.Final || a.Initial != b.Initial {
		t.Errorf("1 worker: %+v, %+v; 3 workers: %+v, %+v", a.Initial, a.Final, b.Initial, b.Final)
	}
	if la, lb := a.History.Losses(), b.History.Losses(); la[0] != lb[0] || la[1] != lb[1] {
		t.Errorf("losses %v and %v", la, lb)
	}
	c := measure("-optimizer", "sgd", "-epochs", "1")
	if c.Initial != a.Initial {
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
			return c.views == viewsShapes && c.optimizer == optLARS && c.lr == larsBaseLR && c.method == "disiam" && c.out == defaultOut
		}},
		{args: []string{"-optimizer", "sgd"}, check: func(c config) bool { return c.lr == sgdBaseLR }},
		{args: []string{"-optimizer", "sgd", "-lr", "0.03"}, check: func(c config) bool { return c.lr == 0.03 }},
		{args: []string{"-data", "fashion-mnist"}, check: func(c config) bool { return c.views == viewsMethod }},
		{args: []string{"-data", "synthetic,size=48"}, check: func(c config) bool { return c.views == viewsShapes }},
		{args: []string{"-data", "cifar10:/x", "-views", "shapes"}, check: func(c config) bool { return c.views == viewsShapes }},
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

// TestOutlines checks the high-pass view of the images: a linear gradient
// (the synthetic backgrounds) becomes flat gray away from the border, an
// edge keeps its contrast, and every channel holds the same gray.
func TestOutlines(t *testing.T) {
	const n = 32
	grad := &dataset.U8Set{C: 3, H: n, W: n, Pix: make([]uint8, 2*3*n*n), Labels: []int32{0, 1}, NumClasses: 2}
	for c := range 3 {
		for y := range n {
			for x := range n {
				grad.Pix[(c*n+y)*n+x] = uint8(60 + 4*x + c*10) // image 0: horizontal ramp
				v := uint8(40)
				if x >= n/2 {
					v = 220
				}
				grad.Pix[3*n*n+(c*n+y)*n+x] = v // image 1: a vertical edge
			}
		}
	}
	o := outlines{grad}
	ramp, edge := o.Image(0), o.Image(1)
	for y := 10; y < n-10; y++ {
		for x := 10; x < n-10; x++ {
			if v := ramp.Pix[y*n+x]; math.Abs(float64(v)-0.5) > 0.01 {
				t.Fatalf("ramp at (%d, %d): %v, want 0.5", x, y, v)
			}
		}
	}
	if lo, hi := edge.Pix[16*n+n/2-1], edge.Pix[16*n+n/2]; !(lo < 0.3 && hi > 0.7) {
		t.Errorf("edge: %v | %v, want dark | bright", lo, hi)
	}
	for c := 1; c < 3; c++ {
		if !equal(edge.Pix[:n*n], edge.Pix[c*n*n:(c+1)*n*n]) {
			t.Errorf("channel %d differs from channel 0", c)
		}
	}
}

func TestRot90(t *testing.T) {
	const n = 3
	src := augment.Image{C: 2, H: n, W: n, Pix: []float32{
		1, 2, 3, 4, 5, 6, 7, 8, 9,
		10, 20, 30, 40, 50, 60, 70, 80, 90,
	}}
	// torch.rot90(x, k, (1, 2)) of x = arange(1, 10).view(1, 3, 3).
	want := map[int][]float32{
		1: {3, 6, 9, 2, 5, 8, 1, 4, 7},
		2: {9, 8, 7, 6, 5, 4, 3, 2, 1},
		3: {7, 4, 1, 8, 5, 2, 9, 6, 3},
	}
	for k, w := range want {
		dst := augment.NewImage(2, n, n)
		rot90(dst, src, k)
		if !equal(dst.Pix[:9], w) {
			t.Errorf("k=%d: %v, want %v", k, dst.Pix[:9], w)
		}
		for i := range 9 {
			if dst.Pix[9+i] != 10*w[i] {
				t.Errorf("k=%d: second channel %v", k, dst.Pix[9:])
				break
			}
		}
	}
	// The transform draws the four rotations about equally often and
	// never changes the samples.
	counts := map[float32]int{}
	var ws augment.Workspace
	rng := rand.New(rand.NewPCG(1, 2))
	for range 4000 {
		out := ws.Run(randomRot90{}, src, rng)
		counts[out.Pix[0]]++
	}
	for _, corner := range []float32{1, 3, 9, 7} {
		if c := counts[corner]; c < 850 || c > 1150 {
			t.Errorf("corner %v after rotation %d times of 4000", corner, c)
		}
	}
	inv := randomInvert{P: 1}.Apply(augment.Image{C: 1, H: 1, W: 2, Pix: []float32{0.25, 1}}, rng, &ws)
	if !equal(inv.Pix, []float32{0.75, 0}) {
		t.Errorf("inverted: %v", inv.Pix)
	}
}

func equal(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
