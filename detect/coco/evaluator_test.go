package coco

import (
	"context"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/detect"
	"github.com/disiam/disiam/detect/synth"
)

// FromDataset's ground truth evaluated against itself is perfect.
func TestFromDatasetPerfect(t *testing.T) {
	set := synth.SyntheticShapes(synth.ShapesConfig{Train: 6, Test: 1, Size: 64, Seed: 2}, synth.Train)
	gt, err := FromDataset(set)
	if err != nil {
		t.Fatal(err)
	}
	if len(gt.Images) != 6 || len(gt.Categories) != len(set.Names) || gt.Categories[3].Name != set.Names[3] {
		t.Fatalf("%d images, categories %v", len(gt.Images), gt.Categories)
	}
	var rs []Result
	for i := range set.Len() {
		var dets []detect.Detection
		for _, o := range set.Objects(i) {
			dets = append(dets, detect.Detection{Box: o.Box, Score: 0.9, Class: o.Class})
		}
		r, err := gt.Results(gt.Images[i].ID, dets)
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r...)
	}
	ev, err := Evaluate(gt, rs, Params{})
	if err != nil {
		t.Fatal(err)
	}
	if ev.Stats[0] != 1 || ev.Stats[1] != 1 {
		t.Errorf("perfect detections: AP %v, AP50 %v", ev.Stats[0], ev.Stats[1])
	}
}

// tinyFCOS is a random narrow detector whose classification prior is
// raised so that it detects things (scores above 0.2).
func tinyFCOS(t *testing.T, classes int) *detect.FCOS {
	m, err := detect.NewFCOS(backbone.NewResNet(18, backbone.Config{Width: 8, Seed: 1}), detect.Config{Classes: classes, Channels: 32, HeadConvs: 1, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Params() {
		if p.Name == "head.classification_head.cls_logits.bias" {
			for i := range p.Data() {
				p.Data()[i] = 2
			}
		}
	}
	return m
}

// The Evaluator predicts every image (a last partial batch included),
// maps the boxes back to the images' own pixels, and gives the same
// results whatever the batch size.
func TestEvaluatorPredicts(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	set := synth.SyntheticShapes(synth.ShapesConfig{Train: 5, Test: 1, Size: 48, Seed: 3}, synth.Train)
	m := tinyFCOS(t, len(set.Names))
	predict := func(batch int) ([]Result, *Evaluator) {
		l, err := detect.NewLoader(set, detect.LoaderConfig{Batch: batch, Transform: detect.Transform{MinSize: 64, MaxSize: 64}})
		if err != nil {
			t.Fatal(err)
		}
		ev := &Evaluator{Model: m, Loader: l}
		rs, err := ev.Predict(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return rs, ev
	}
	a, ev := predict(2)
	defer ev.Close()
	b, ev1 := predict(1)
	defer ev1.Close()
	if len(a) == 0 {
		t.Fatal("no detections")
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("batch 2 and batch 1 give different results (%d and %d detections)", len(a), len(b))
	}
	seen := map[int64]bool{}
	for _, r := range a {
		seen[r.ImageID] = true
		x, y, w, h := r.BBox[0], r.BBox[1], r.BBox[2], r.BBox[3]
		if x < 0 || y < 0 || w < 0 || h < 0 || x+w > 48+1e-9 || y+h > 48+1e-9 {
			t.Fatalf("box %v outside the 48×48 image", r.BBox)
		}
	}
	if len(seen) != 5 {
		t.Errorf("detections for %d of 5 images", len(seen))
	}
	ms, err := ev.Evaluate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 12 || ms[0].Name != MetricAP || ms[1].Name != MetricAP50 || ev.Last() == nil {
		t.Errorf("metrics %v", ms)
	}
}

// OpenImages reads JPEG/PNG files and checks them against the
// annotations; Image returns the pixels as ToTensor would.
func TestOpenImages(t *testing.T) {
	dir := t.TempDir()
	img := image.NewNRGBA(image.Rect(0, 0, 5, 3))
	for y := range 3 {
		for x := range 5 {
			img.Set(x, y, color.NRGBA{R: uint8(10 * x), G: uint8(50 * y), B: 200, A: 255})
		}
	}
	f, err := os.Create(filepath.Join(dir, "a.png"))
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.WriteFile(filepath.Join(dir, "bad.png"), []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	write := func(images string) string {
		p := filepath.Join(dir, "ann.json")
		js := `{"images": [` + images + `], "annotations": [{"id": 1, "image_id": 1, "category_id": 7, "bbox": [1, 0, 2, 2]}], "categories": [{"id": 7, "name": "thing"}]}`
		if err := os.WriteFile(p, []byte(js), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	set, err := OpenImages(dir, write(`{"id": 1, "file_name": "a.png", "width": 5, "height": 3}`))
	if err != nil {
		t.Fatal(err)
	}
	got := set.Image(0)
	if got.C != 3 || got.H != 3 || got.W != 5 || got.Pix[1*5+4] != 40.0/255 || got.Pix[15+2*5] != 100.0/255 || got.Pix[30] != 200.0/255 {
		t.Errorf("image %dx%dx%d %v", got.C, got.H, got.W, got.Pix)
	}
	if set.Len() != 1 || set.Objects(0)[0].Box != (detect.Box{1, 0, 3, 2}) || set.Classes()[0] != "thing" {
		t.Errorf("objects %v, classes %v", set.Objects(0), set.Classes())
	}
	var _ detect.Dataset = set
	for _, tc := range []struct{ images, want string }{
		{`{"id": 1, "file_name": "missing.png"}`, "images[0] (id 1)"},
		{`{"id": 1, "file_name": "bad.png"}`, "bad.png"},
		{`{"id": 1, "file_name": "a.png", "width": 6, "height": 3}`, "is a 5x3 png, the annotations say 6x3"},
	} {
		_, err := OpenImages(dir, write(tc.images))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.images, err, tc.want)
		}
	}
}
