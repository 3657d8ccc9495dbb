package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/detect"
	"github.com/disiam/disiam/detect/coco"
	"github.com/disiam/disiam/safetensors"
)

// tiny are the flags of a training run of a few seconds.
func tiny(out string, extra ...string) []string {
	return append([]string{"-train", "8", "-test", "4", "-size", "64", "-epochs", "2", "-batch", "4",
		"-backbone", "resnet18-w8", "-channels", "32", "-head-convs", "1", "-out", out}, extra...)
}

// writeNpy writes float32 data of shape as a NumPy .npy file (version 1).
func writeNpy(t *testing.T, path string, shape []int, data []float32) {
	t.Helper()
	dims := make([]string, len(shape))
	for i, s := range shape {
		dims[i] = strconv.Itoa(s)
	}
	header := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%s,), }", strings.Join(dims, ", "))
	for (10+len(header)+1)%64 != 0 {
		header += " "
	}
	header += "\n"
	var b bytes.Buffer
	b.WriteString("\x93NUMPY\x01\x00")
	binary.Write(&b, binary.LittleEndian, uint16(len(header)))
	b.WriteString(header)
	binary.Write(&b, binary.LittleEndian, data)
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestTrainPredictEval runs the three modes end to end at a tiny size:
// training from a random and a pretrained backbone (outputs, table,
// plot), prediction with the saved detector (the same detections as the
// library's Predictor), and evaluation of results.
func TestTrainPredictEval(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	// A "pretrained" encoder: a backbone of another seed, saved with
	// torchvision's names as the quickstart saves its encoder.
	b, err := backbone.New("resnet18-w8", backbone.Config{Seed: 77})
	if err != nil {
		t.Fatal(err)
	}
	enc := filepath.Join(dir, "encoder.safetensors")
	if err := safetensors.SaveModule(enc, b); err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	if err := run(context.Background(), tiny(out, "-weights", enc, "-freeze", "auto", "-images", "rgb"), &stdout, &stdout); err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	text := stdout.String()
	for _, want := range []string{"== random initialization ==", "== pretrained (encoder.safetensors) ==", "COCO box statistics on the 4 validation images",
		"| random initialization |", "| pretrained (encoder.safetensors) |", "mAP@0.5 per class", "eval after epoch 2: mAP"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	for _, f := range []string{"detect.png", "results.json", "metrics_random.csv", "metrics_pretrained.csv", "fcos_random.safetensors", "fcos_pretrained.safetensors"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	f, err := os.Open(filepath.Join(out, "detect.png"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(f); err != nil {
		t.Errorf("detect.png: %v", err)
	}
	f.Close()

	// -mode predict with both saved detectors (trainable and frozen BN).
	const n, h, w = 2, 64, 64
	x := make([]float32, n*3*h*w)
	for i := range x {
		x[i] = float32(math.Sin(float64(i) * 0.01))
	}
	npy := filepath.Join(dir, "x.npy")
	writeNpy(t, npy, []int{n, 3, h, w}, x)
	for _, name := range []string{"random", "pretrained"} {
		weights := filepath.Join(out, "fcos_"+name+".safetensors")
		dets := filepath.Join(dir, name+".json")
		stdout.Reset()
		args := []string{"-mode", "predict", "-backbone", "resnet18-w8", "-classes", "10", "-channels", "32", "-head-convs", "1",
			"-weights", weights, "-input", npy, "-output", dets}
		if err := run(context.Background(), args, &stdout, &stdout); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, stdout.String())
		}
		var got []imageDets
		js, err := os.ReadFile(dets)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(js, &got); err != nil || len(got) != n {
			t.Fatalf("%s: %v, %d images", name, err, len(got))
		}
		// The reference: the library's Predictor on the same weights.
		bb, _ := backbone.New("resnet18-w8", backbone.Config{NoInit: true})
		m, err := detect.NewFCOS(bb, detect.Config{Classes: 10, Channels: 32, HeadConvs: 1, NoInit: true, FrozenBN: name == "pretrained"})
		if err != nil {
			t.Fatal(err)
		}
		if err := safetensors.LoadModule(weights, m); err != nil {
			t.Fatal(err)
		}
		p, err := m.NewPredictor(n, h, w)
		if err != nil {
			t.Fatal(err)
		}
		copy(p.Images().Data().([]float32), x)
		want, err := p.Predict()
		p.Close()
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if len(got[i].Boxes) != len(want[i]) || len(got[i].Scores) != len(want[i]) || len(got[i].Labels) != len(want[i]) {
				t.Fatalf("%s image %d: %d detections, want %d", name, i, len(got[i].Boxes), len(want[i]))
			}
			for j, d := range want[i] {
				if got[i].Boxes[j] != [4]float64(d.Box) || got[i].Scores[j] != d.Score || got[i].Labels[j] != d.Class {
					t.Fatalf("%s image %d detection %d: %v %v %v, want %v", name, i, j, got[i].Boxes[j], got[i].Scores[j], got[i].Labels[j], d)
				}
				if j > 0 && d.Score > want[i][j-1].Score {
					t.Fatalf("not in descending score order")
				}
			}
		}
	}

	// -mode eval: perfect results of a small ground truth.
	gt, err := coco.New("gt", []coco.Image{{ID: 1, Width: 100, Height: 100}, {ID: 2, Width: 100, Height: 100}},
		[]coco.Annotation{{ID: 1, ImageID: 1, CategoryID: 3, BBox: [4]float64{10, 10, 20, 30}, Area: 600},
			{ID: 2, ImageID: 2, CategoryID: 5, BBox: [4]float64{0, 0, 50, 50}, Area: 2500}},
		[]coco.Category{{ID: 3, Name: "a"}, {ID: 5, Name: "b"}})
	if err != nil {
		t.Fatal(err)
	}
	gtPath, dtPath := filepath.Join(dir, "gt.json"), filepath.Join(dir, "dt.json")
	gf, _ := os.Create(gtPath)
	if err := gt.Write(gf); err != nil {
		t.Fatal(err)
	}
	gf.Close()
	rs := []coco.Result{{ImageID: 1, CategoryID: 3, BBox: [4]float64{10, 10, 20, 30}, Score: 0.9},
		{ImageID: 2, CategoryID: 5, BBox: [4]float64{0, 0, 50, 25}, Score: 0.8}} // IoU 0.5
	df, _ := os.Create(dtPath)
	if err := coco.WriteResults(df, rs); err != nil {
		t.Fatal(err)
	}
	df.Close()
	stdout.Reset()
	if err := run(context.Background(), []string{"-mode", "eval", "-gt", gtPath, "-results", dtPath}, &stdout, &stdout); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 12 {
		t.Fatalf("%d lines:\n%s", len(lines), stdout.String())
	}
	// AP: class a perfect at every threshold (1), class b only at 0.5
	// (0.1): mean 0.55; AP50 1; AP75 0.5.
	want := map[string]float64{"AP": 0.55, "AP50": 1, "AP75": 0.5}
	for i, l := range lines {
		name, val, ok := strings.Cut(l, " ")
		v, err := strconv.ParseFloat(val, 64)
		if !ok || err != nil || name != coco.StatNames[i] {
			t.Fatalf("line %d: %q", i, l)
		}
		if w, ok := want[name]; ok && math.Abs(v-w) > 1e-6 {
			t.Errorf("%s = %v, want %v", name, v, w)
		}
	}
}

func TestFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-mode", "x"}, `-mode "x"`},
		{[]string{"-mode", "predict", "-input", "x.npy"}, "needs -input, -classes and -weights"},
		{[]string{"-mode", "eval", "-gt", "g.json"}, "needs -gt and -results"},
		{[]string{"-epochs", "0"}, "-epochs 0"},
		{[]string{"-freeze", "all"}, `-freeze "all"`},
		{[]string{"-images", "hsv"}, `-images "hsv"`},
		{[]string{"-channels", "48"}, "-channels 48"},
		{[]string{"-weights", "/nonexistent/enc.safetensors", "-train", "4"}, "-weights"},
		{[]string{"-data", "coco:onlyone", "-weights", "none"}, "coco:IMAGES_DIR,ANNOTATIONS.json"},
	} {
		var out bytes.Buffer
		err := run(context.Background(), tc.args, &out, &out)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
}
