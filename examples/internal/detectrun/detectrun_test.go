package detectrun

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/safetensors"
)

// cocoDir writes n 20×16 PNGs with one box each and their annotations.
func cocoDir(t *testing.T, n int) (string, string) {
	dir := t.TempDir()
	var imgs, anns []string
	for i := range n {
		m := image.NewGray(image.Rect(0, 0, 20, 16))
		for j := range m.Pix {
			m.Pix[j] = uint8(10 * i)
		}
		m.Set(3, 4, color.Gray{Y: 255})
		name := fmt.Sprintf("%d.png", i)
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		png.Encode(f, m)
		f.Close()
		imgs = append(imgs, fmt.Sprintf(`{"id": %d, "file_name": %q, "width": 20, "height": 16}`, i+1, name))
		anns = append(anns, fmt.Sprintf(`{"id": %d, "image_id": %d, "category_id": 1, "bbox": [2, 3, 5, 6]}`, i+1, i+1))
	}
	ann := filepath.Join(dir, "ann.json")
	js := `{"images": [` + strings.Join(imgs, ",") + `], "annotations": [` + strings.Join(anns, ",") + `], "categories": [{"id": 1, "name": "dot"}]}`
	if err := os.WriteFile(ann, []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, ann
}

func TestOpenData(t *testing.T) {
	d, err := OpenData("synthetic", 6, 3, 32, 1)
	if err != nil || d.Train.Len() != 6 || d.Val.Len() != 3 || d.Train.Image(0).H != 32 {
		t.Fatalf("synthetic: %v", err)
	}
	dir, ann := cocoDir(t, 10)
	d, err = OpenData("coco:"+dir+","+ann, 0, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	// A tenth held out: the last image.
	if d.Train.Len() != 9 || d.Val.Len() != 1 || d.Val.Image(0).Pix[0] != 90.0/255 || d.Val.Objects(0)[0].Box[0] != 2 {
		t.Errorf("held out: %d + %d images", d.Train.Len(), d.Val.Len())
	}
	d, err = OpenData("coco:"+dir+","+ann+","+dir+","+ann, 0, 0, 0, 0)
	if err != nil || d.Train.Len() != 10 || d.Val.Len() != 10 {
		t.Errorf("with a validation pair: %v", err)
	}
	o, err := d.WithOutlines()
	if err != nil || o.ValGT == nil || o.Train.Objects(3)[0] != d.Train.Objects(3)[0] || o.Train.Image(0).Pix[0] == d.Train.Image(0).Pix[0] {
		t.Errorf("outlines: %v", err)
	}
	for _, spec := range []string{"imagenet", "coco:" + dir, "coco:" + dir + "," + ann + ",x"} {
		if _, err := OpenData(spec, 1, 1, 32, 0); err == nil {
			t.Errorf("%q: no error", spec)
		}
	}
	if _, err := OpenData("coco:"+dir+","+ann, 0, 10, 0, 0); err == nil {
		t.Error("holding out every image: no error")
	}
}

// NewModel freezes as -freeze says.
func TestNewModelFreeze(t *testing.T) {
	enc := filepath.Join(t.TempDir(), "enc.safetensors")
	b, _ := backbone.New("resnet18-w8", backbone.Config{Seed: 3})
	if err := safetensors.SaveModule(enc, b); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		freeze, weights string
		frozen          bool
	}{
		{"auto", "", false}, {"auto", enc, true}, {"none", enc, false}, {"torchvision", "", true},
	} {
		m, err := NewModel(Options{Backbone: "resnet18-w8", Weights: tc.weights, Freeze: tc.freeze, Channels: 32, HeadConvs: 1}, 3)
		if err != nil {
			t.Fatal(err)
		}
		if m.Config.FrozenBN != tc.frozen || (m.Config.FrozenStages == 2) != tc.frozen {
			t.Errorf("freeze %s, weights %q: FrozenBN %v, stages %d", tc.freeze, tc.weights, m.Config.FrozenBN, m.Config.FrozenStages)
		}
		if tc.weights != "" {
			want := b.Params()[0].Data()[5]
			if got := m.Params()[0].Data()[5]; got != want {
				t.Errorf("weights not loaded: %v, want %v", got, want)
			}
		}
	}
	if _, err := NewModel(Options{Backbone: "resnet18-w8", Freeze: "all", Channels: 32, HeadConvs: 1}, 3); err == nil {
		t.Error("freeze all: no error")
	}
}
