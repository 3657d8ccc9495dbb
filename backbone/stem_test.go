package backbone

import (
	"fmt"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/nn"
)

// TestCIFARStem checks ResNets with the CIFAR stem against PyTorch
// (testdata/widths.py builds them from torchvision's blocks with conv1 a
// 3x3 stride-1 convolution and the max-pool an Identity): parameter
// counts, conv1's shape, the shapes of layer2..layer4's outputs at 32x32
// and 28x28, and that every other parameter keeps the ImageNet stem's
// name and shape.
func TestCIFARStem(t *testing.T) {
	tests := []struct {
		name     string
		classes  int
		params   int
		conv1    string
		maps32   string // FeatureMaps' shapes at 32x32, batch 2
		maps28   string // and at 28x28
		imagenet string // the same network with the ImageNet stem
	}{
		{"resnet18-cifar", 1000, 11_681_832, "(64, 3, 3, 3)", "[(2, 128, 16, 16) (2, 256, 8, 8) (2, 512, 4, 4)]", "[(2, 128, 14, 14) (2, 256, 7, 7) (2, 512, 4, 4)]", "resnet18"},
		{"resnet18-cifar", 10, 11_173_962, "(64, 3, 3, 3)", "[(2, 128, 16, 16) (2, 256, 8, 8) (2, 512, 4, 4)]", "[(2, 128, 14, 14) (2, 256, 7, 7) (2, 512, 4, 4)]", "resnet18"},
		{"resnet18-cifar-w16", 10, 701_466, "(16, 3, 3, 3)", "[(2, 32, 16, 16) (2, 64, 8, 8) (2, 128, 4, 4)]", "[(2, 32, 14, 14) (2, 64, 7, 7) (2, 128, 4, 4)]", "resnet18-w16"},
		{"resnet34-cifar-w16", 10, 1_334_618, "(16, 3, 3, 3)", "[(2, 32, 16, 16) (2, 64, 8, 8) (2, 128, 4, 4)]", "[(2, 32, 14, 14) (2, 64, 7, 7) (2, 128, 4, 4)]", "resnet34-w16"},
		{"resnet50-cifar-w16", 10, 1_484_186, "(16, 3, 3, 3)", "[(2, 128, 16, 16) (2, 256, 8, 8) (2, 512, 4, 4)]", "[(2, 128, 14, 14) (2, 256, 7, 7) (2, 512, 4, 4)]", "resnet50-w16"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/%d", tc.name, tc.classes), func(t *testing.T) {
			b, err := New(tc.name, Config{NoInit: true, Classes: tc.classes})
			if err != nil {
				t.Fatal(err)
			}
			if b.Name() != tc.name {
				t.Errorf("Name() = %q", b.Name())
			}
			if got := nn.CountParams(b); got != tc.params {
				t.Errorf("%d parameters, want %d", got, tc.params)
			}
			ref, err := New(tc.imagenet, Config{NoInit: true, Classes: tc.classes})
			if err != nil {
				t.Fatal(err)
			}
			// conv1.weight is the first entry of the state_dict.
			imagenetConv1 := fmt.Sprintf("conv1.weight %v\n", ref.Params()[0].Value.Shape())
			want := strings.Replace(shapesOf(ref), imagenetConv1, "conv1.weight "+tc.conv1+"\n", 1)
			if !strings.HasPrefix(want, "conv1.weight "+tc.conv1) {
				t.Fatalf("%s's state_dict starts %q", tc.imagenet, imagenetConv1)
			}
			if got := shapesOf(b); got != want {
				t.Errorf("state_dict differs from %s's but for conv1.weight %s:\n%s\nwant\n%s", tc.imagenet, tc.conv1, got, want)
			}
			for _, size := range []int{32, 28} {
				g := G.NewGraph()
				x, _ := nn.Input(g, "x", tensor.Float32, 2, 3, size, size)
				var maps []*G.Node
				var f *G.Node
				if err := nn.Build(func() {
					maps = b.(Pyramid).FeatureMaps(x)
					f = b.Features(x)
				}); err != nil {
					t.Fatal(err)
				}
				var shapes []string
				for _, m := range maps {
					shapes = append(shapes, fmt.Sprint(m.Shape()))
				}
				wantMaps := tc.maps32
				if size == 28 {
					wantMaps = tc.maps28
				}
				if got := "[" + strings.Join(shapes, " ") + "]"; got != wantMaps {
					t.Errorf("%dx%d: maps %s, want %s", size, size, got, wantMaps)
				}
				if got, want := fmt.Sprint(f.Shape()), fmt.Sprint(tensor.Shape{2, b.FeatureDim()}); got != want {
					t.Errorf("%dx%d: features %s, want %s", size, size, got, want)
				}
			}
		})
	}
}

// TestCIFARStemNames checks the names New accepts with the stem suffix,
// Config.CIFARStem, the titles, and the errors.
func TestCIFARStemNames(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // Name(), "" for an error
	}{
		{"resnet18-cifar", Config{}, "resnet18-cifar"},
		{"resnet18", Config{CIFARStem: true}, "resnet18-cifar"},
		{"resnet18-cifar", Config{CIFARStem: true}, "resnet18-cifar"},
		{"resnet18-cifar-w16", Config{}, "resnet18-cifar-w16"},
		{"resnet18-cifar", Config{Width: 16}, "resnet18-cifar-w16"},
		{"resnet18-w16", Config{CIFARStem: true}, "resnet18-cifar-w16"},
		{"resnet18-cifar-w64", Config{}, "resnet18-cifar"},
		{"resnet152-cifar-w8", Config{}, "resnet152-cifar-w8"},
		{"resnet18-w16-cifar", Config{}, ""},
		{"resnet18-cifar-cifar", Config{}, ""},
		{"resnet18-cifar-", Config{}, ""},
		{"resnet18-cifarw16", Config{}, ""},
		{"resnet18-CIFAR", Config{}, ""},
		{"resnet18-cifar-w16", Config{Width: 32}, ""},
		{"efficientnet_b0-cifar", Config{}, ""},
		{"efficientnet_b0", Config{CIFARStem: true}, ""},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/%+v", tc.name, tc.cfg), func(t *testing.T) {
			cfg := tc.cfg
			cfg.NoInit, cfg.Classes = true, 10
			b, err := New(tc.name, cfg)
			if tc.want == "" {
				if err == nil || !strings.HasPrefix(err.Error(), "backbone: ") {
					t.Fatalf("got %v, want a backbone error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if b.Name() != tc.want {
				t.Errorf("Name() = %q, want %q", b.Name(), tc.want)
			}
			b2, err := New(b.Name(), Config{NoInit: true, Classes: 10})
			if err != nil {
				t.Fatal(err)
			}
			if shapesOf(b2) != shapesOf(b) {
				t.Errorf("New(%q) differs from the network that has that name", b.Name())
			}
		})
	}
	got := []string{Title("resnet18-cifar"), Title("resnet18-cifar-w16"), Title("resnet18-w16-cifar")}
	want := []string{"ResNet-18 (CIFAR stem)", "ResNet-18 (CIFAR stem, width 16)", "resnet18-w16-cifar"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Title: %q, want %q", got, want)
	}
}
