package backbone

import (
	"fmt"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/nn"
)

// down returns the size after k stride-2 stages of torchvision's layers
// (3x3/5x5/7x7 "same" padding and the stem max-pool all give ceil(h/2)).
func down(h, k int) int {
	for range k {
		h = (h + 1) / 2
	}
	return h
}

// TestShapes builds (without running) every architecture's graph at the
// thesis' input sizes and checks the shapes of features, logits and
// feature maps.
func TestShapes(t *testing.T) {
	sizes := [][2]int{{32, 32}, {224, 224}, {360, 640}, {1, 1}}
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			b, err := New(name, Config{NoInit: true, Classes: 10})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := len(b.(Pyramid).MapChannels()), 3; got != want {
				t.Fatalf("%d map channels", got)
			}
			for _, hw := range sizes {
				g := G.NewGraph()
				x, _ := nn.Input(g, "x", tensor.Float32, 2, 3, hw[0], hw[1])
				var f, l *G.Node
				var maps []*G.Node
				if err := nn.Build(func() {
					f = b.Features(x)
					l = b.(Classifier).Classify(f)
					maps = b.(Pyramid).FeatureMaps(x)
				}); err != nil {
					t.Fatalf("%v: %v", hw, err)
				}
				if got, want := fmt.Sprint(f.Shape()), fmt.Sprint(tensor.Shape{2, b.FeatureDim()}); got != want {
					t.Errorf("%v: features %s, want %s", hw, got, want)
				}
				if got := fmt.Sprint(l.Shape()); got != "(2, 10)" {
					t.Errorf("%v: logits %s, want (2, 10)", hw, got)
				}
				for i, m := range maps {
					k := 3 + i // strides 8, 16, 32
					want := fmt.Sprint(tensor.Shape{2, b.(Pyramid).MapChannels()[i], down(hw[0], k), down(hw[1], k)})
					if got := fmt.Sprint(m.Shape()); got != want {
						t.Errorf("%v: feature map %d is %s, want %s", hw, i, got, want)
					}
				}
			}
		})
	}
}

func TestMapChannels(t *testing.T) {
	tests := []struct {
		name string
		dim  int
		maps string
	}{
		{"resnet18", 512, "[128 256 512]"},
		{"resnet50", 2048, "[512 1024 2048]"},
		{"efficientnet_b0", 1280, "[40 112 320]"},
		{"efficientnet_b7", 2560, "[80 224 640]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := New(tc.name, Config{NoInit: true})
			if b.FeatureDim() != tc.dim || fmt.Sprint(b.(Pyramid).MapChannels()) != tc.maps {
				t.Errorf("FeatureDim %d, MapChannels %v; want %d, %s", b.FeatureDim(), b.(Pyramid).MapChannels(), tc.dim, tc.maps)
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	b := NewResNet(18, Config{NoInit: true})
	g := G.NewGraph()
	x, _ := nn.Input(g, "x", tensor.Float32, 2, 1, 32, 32)
	err := nn.Build(func() { b.Features(x) })
	if err == nil || err.Error() != "backbone: resnet18: input (2, 1, 32, 32), want [N, 3, H, W]" {
		t.Errorf("error %v", err)
	}
}

// TestFeaturesAndMapsShareTheTrunk checks that Features and FeatureMaps on
// one input build the trunk once.
func TestFeaturesAndMapsShareTheTrunk(t *testing.T) {
	b := NewEfficientNet(0, Config{NoInit: true})
	g := G.NewGraph()
	x, _ := nn.Input(g, "x", tensor.Float32, 1, 3, 32, 32)
	b.FeatureMaps(x)
	n := len(g.AllNodes())
	b.Features(x)
	if added := len(g.AllNodes()) - n; added > 2 {
		t.Errorf("Features after FeatureMaps added %d nodes; the trunk was rebuilt", added)
	}
}
