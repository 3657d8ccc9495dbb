package backbone

import (
	"fmt"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/nn"
)

// TestStageOutputs checks the stage names and output shapes at 32x32
// (torchvision's: ResNet's stem and layers at strides 4, 4, 8, 16, 32, or
// 1, 1, 2, 4, 8 with the CIFAR stem; EfficientNet-B0's features.0 ..
// features.8 at strides 2, 2, 4, 8, 16, 16, 32, 32, 32), and that the
// trunk is shared with FeatureMaps.
func TestStageOutputs(t *testing.T) {
	tests := []struct {
		name, stages, shapes string
	}{
		{"resnet18-w16", "stem layer1 layer2 layer3 layer4", "(2, 16, 8, 8) (2, 16, 8, 8) (2, 32, 4, 4) (2, 64, 2, 2) (2, 128, 1, 1)"},
		{"resnet18-cifar-w16", "stem layer1 layer2 layer3 layer4", "(2, 16, 32, 32) (2, 16, 32, 32) (2, 32, 16, 16) (2, 64, 8, 8) (2, 128, 4, 4)"},
		{"efficientnet_b0", "features.0 features.1 features.2 features.3 features.4 features.5 features.6 features.7 features.8",
			"(2, 32, 16, 16) (2, 16, 16, 16) (2, 24, 8, 8) (2, 40, 4, 4) (2, 80, 2, 2) (2, 112, 2, 2) (2, 192, 1, 1) (2, 320, 1, 1) (2, 1280, 1, 1)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := New(tc.name, Config{NoInit: true, Classes: 10})
			if err != nil {
				t.Fatal(err)
			}
			g := G.NewGraph()
			x, _ := nn.Input(g, "x", tensor.Float32, 2, 3, 32, 32)
			var names []string
			var outs, maps []*G.Node
			if err := nn.Build(func() {
				names, outs = b.(Staged).StageOutputs(x)
				maps = b.(Pyramid).FeatureMaps(x)
			}); err != nil {
				t.Fatal(err)
			}
			var shapes []string
			for _, o := range outs {
				shapes = append(shapes, fmt.Sprint(o.Shape()))
			}
			if got := strings.Join(names, " "); got != tc.stages {
				t.Errorf("names %q, want %q", got, tc.stages)
			}
			if got := strings.Join(shapes, " "); got != tc.shapes {
				t.Errorf("shapes %s, want %s", got, tc.shapes)
			}
			if last := maps[len(maps)-1]; last != outs[len(outs)-1] && last != outs[len(outs)-2] {
				t.Error("FeatureMaps' C5 is none of the last two stage outputs: the trunk is not shared")
			}
		})
	}
}
