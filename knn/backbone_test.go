package knn

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/disiam/disiam/augment"
	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/nn/nntest"
)

// TestExtractResNet18MatchesPyTorch extracts torchvision's ResNet-18 (weights
// and input by the golden rule) through a padded batch and compares with
// PyTorch's eval-mode features and logits (testdata/resnet18_32.json, those
// of backbone/testdata/resnet18_32.json rounded to 7 significant digits):
// max abs error / max abs value ≤ 1e-4.
func TestExtractResNet18MatchesPyTorch(t *testing.T) {
	raw, err := os.ReadFile("testdata/resnet18_32.json")
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Model      string  `json:"model"`
		WeightGain float64 `json:"weight_gain"`
		Input      struct {
			Name  string `json:"name"`
			Shape []int  `json:"shape"`
		} `json:"input"`
		Features [][]float64 `json:"eval_features"`
		Logits   [][]float64 `json:"eval_logits"`
	}
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	net, err := backbone.New(g.Model, backbone.Config{NoInit: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range net.Params() {
		if v := nntest.RuleTensorValues(p.Name, p.Shape(), g.WeightGain); v != nil {
			copy(p.Data(), v)
		}
	}
	n, c, h, w := g.Input.Shape[0], g.Input.Shape[1], g.Input.Shape[2], g.Input.Shape[3]
	r := nntest.RuleValues(g.Input.Name, n*c*h*w)
	ds := &imageSet{classes: 1}
	for i := range n {
		img := augment.NewImage(c, h, w)
		for j := range img.Pix {
			img.Pix[j] = float32(r[i*c*h*w+j])
		}
		ds.imgs = append(ds.imgs, img)
		ds.labels = append(ds.labels, 0)
	}
	for _, tc := range []struct {
		name   string
		logits bool
		want   [][]float64
	}{
		{"features", false, g.Features},
		{"logits", true, g.Logits},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := &Extractor{BatchSize: 3, Logits: tc.logits}
			defer e.Close()
			got, dim, err := e.Extract(net, ds)
			if err != nil {
				t.Fatal(err)
			}
			if dim != len(tc.want[0]) {
				t.Fatalf("dim %d, want %d", dim, len(tc.want[0]))
			}
			var maxErr, maxAbs float64
			for i, row := range tc.want {
				for j, v := range row {
					maxErr = max(maxErr, math.Abs(float64(got[i*dim+j])-v))
					maxAbs = max(maxAbs, math.Abs(v))
				}
			}
			t.Logf("max abs error %.3g, max abs value %.3g", maxErr, maxAbs)
			if !(maxErr <= 1e-4*maxAbs) {
				t.Errorf("max abs error %.3g > 1e-4 × %.3g", maxErr, maxAbs)
			}
		})
	}
}
