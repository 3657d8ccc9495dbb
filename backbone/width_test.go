package backbone

import (
	"fmt"
	"math"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/nn"
)

// TestWidthParamCounts checks parameter counts, feature widths and map
// channels of non-default widths against PyTorch: ResNets built with
// torchvision's blocks and _make_layer with inplanes = Width and stages of
// Width·2^s planes; EfficientNets from torchvision's
// _efficientnet_conf(width_mult=variant·WidthMult); testdata/widths.py
// prints the numbers.
func TestWidthParamCounts(t *testing.T) {
	tests := []struct {
		name    string
		classes int
		params  int
		dim     int
		maps    string
	}{
		{"resnet18-w16", 1000, 831_096, 128, "[32 64 128]"},
		{"resnet18-w16", 10, 703_386, 128, "[32 64 128]"},
		{"resnet18-w8", 10, 177_362, 64, "[16 32 64]"},
		{"resnet18-w32", 10, 2_801_450, 256, "[64 128 256]"},
		{"resnet18-w128", 10, 44_678_282, 1024, "[256 512 1024]"},
		{"resnet34-w16", 10, 1_336_538, 128, "[32 64 128]"},
		{"resnet50-w16", 10, 1_486_106, 512, "[128 256 512]"},
		{"efficientnet_b0-x0.25", 10, 328_956, 320, "[16 32 80]"},
		{"efficientnet_b0-x0.5", 10, 1_077_932, 640, "[24 56 160]"},
		{"efficientnet_b0-x0.75", 10, 2_381_050, 960, "[32 88 240]"},
		{"efficientnet_b0-x2", 10, 15_587_330, 2560, "[80 224 640]"},
		{"efficientnet_b1-x0.5", 10, 1_734_608, 640, "[24 56 160]"},
		{"efficientnet_b3-x0.25", 10, 735_686, 384, "[16 32 96]"},
		{"efficientnet_b3-x0.5", 10, 2_673_346, 768, "[24 64 192]"},
		{"efficientnet_b3-x0.75", 10, 6_231_734, 1152, "[40 104 288]"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/%d", tc.name, tc.classes), func(t *testing.T) {
			b, err := New(tc.name, Config{NoInit: true, Classes: tc.classes})
			if err != nil {
				t.Fatal(err)
			}
			if got := nn.CountParams(b); got != tc.params {
				t.Errorf("%d parameters, want %d", got, tc.params)
			}
			if b.FeatureDim() != tc.dim || fmt.Sprint(b.(Pyramid).MapChannels()) != tc.maps {
				t.Errorf("FeatureDim %d, MapChannels %v; want %d, %s", b.FeatureDim(), b.(Pyramid).MapChannels(), tc.dim, tc.maps)
			}
			if b.Name() != tc.name {
				t.Errorf("Name() = %q", b.Name())
			}
		})
	}
}

// TestWidthConfig checks that Config's width fields and the name suffixes
// build the same network, that default widths keep torchvision's names and
// state_dict, and that contradictions are errors.
func TestWidthConfig(t *testing.T) {
	t.Run("names", func(t *testing.T) {
		tests := []struct {
			name string
			cfg  Config
			want string // Name(), "" for an error
		}{
			{"resnet18", Config{Width: 16}, "resnet18-w16"},
			{"resnet18-w16", Config{Width: 16}, "resnet18-w16"},
			{"resnet18", Config{Width: 64}, "resnet18"},
			{"resnet18-w64", Config{}, "resnet18"},
			{"resnet50", Config{Width: 24}, "resnet50-w24"},
			{"efficientnet_b0", Config{WidthMult: 0.5}, "efficientnet_b0-x0.5"},
			{"efficientnet_b2-x1.25", Config{}, "efficientnet_b2-x1.25"},
			{"efficientnet_b0", Config{WidthMult: 1}, "efficientnet_b0"},
			{"efficientnet_b0-x1", Config{}, "efficientnet_b0"},
			{"resnet18-w16", Config{Width: 32}, ""},
			{"resnet18", Config{Width: -1}, ""},
			{"resnet18", Config{WidthMult: 0.5}, ""},
			{"efficientnet_b0", Config{Width: 16}, ""},
			{"efficientnet_b0-x0.5", Config{WidthMult: 0.25}, ""},
			{"efficientnet_b0", Config{WidthMult: -1}, ""},
			{"efficientnet_b0", Config{WidthMult: math.NaN()}, ""},
			{"resnet18-w0", Config{}, ""},
			{"resnet18-w016", Config{}, ""},
			{"resnet18-16", Config{}, ""},
			{"resnet18-x0.5", Config{}, ""},
			{"resnet18-w16-w16", Config{}, ""},
			{"efficientnet_b0-x0.50", Config{}, ""},
			{"efficientnet_b0-x.5", Config{}, ""},
			{"efficientnet_b0-x0", Config{}, ""},
			{"efficientnet_b0-xInf", Config{}, ""},
			{"efficientnet_b0-w16", Config{}, ""},
			{"resnet19-w16", Config{}, ""},
			{"resnet-w16", Config{}, ""},
		}
		for _, tc := range tests {
			t.Run(fmt.Sprintf("%s/%d/%v", tc.name, tc.cfg.Width, tc.cfg.WidthMult), func(t *testing.T) {
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
				// The name builds the same network again.
				b2, err := New(b.Name(), Config{NoInit: true, Classes: 10})
				if err != nil {
					t.Fatal(err)
				}
				if got, want := shapesOf(b2), shapesOf(b); got != want {
					t.Errorf("New(%q) differs from the network that has that name", b.Name())
				}
			})
		}
	})
	t.Run("default widths are torchvision's", func(t *testing.T) {
		for _, pair := range [][2]Backbone{
			{NewResNet(18, Config{NoInit: true}), NewResNet(18, Config{NoInit: true, Width: DefaultWidth})},
			{NewEfficientNet(1, Config{NoInit: true}), NewEfficientNet(1, Config{NoInit: true, WidthMult: 1})},
		} {
			if pair[0].Name() != pair[1].Name() || shapesOf(pair[0]) != shapesOf(pair[1]) {
				t.Errorf("%s and %s differ", pair[0].Name(), pair[1].Name())
			}
		}
	})
	t.Run("titles", func(t *testing.T) {
		got := []string{Title("resnet18-w16"), Title("efficientnet_b0-x0.5"), Title("resnet34"), Title("resnet19"), Title("resnet18-w")}
		want := []string{"ResNet-18 (width 16)", "EfficientNet-B0 (width ×0.5)", "ResNet-34", "resnet19", "resnet18-w"}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("Title: %q, want %q", got, want)
		}
	})
	t.Run("constructors panic on the other family's field", func(t *testing.T) {
		for name, build := range map[string]func(){
			"resnet width -1":     func() { NewResNet(18, Config{NoInit: true, Width: -1}) },
			"resnet multiplier":   func() { NewResNet(18, Config{NoInit: true, WidthMult: 2}) },
			"efficientnet width":  func() { NewEfficientNet(0, Config{NoInit: true, Width: 16}) },
			"efficientnet mult<0": func() { NewEfficientNet(0, Config{NoInit: true, WidthMult: -0.5}) },
		} {
			func() {
				defer func() {
					if r := recover(); r == nil || !strings.HasPrefix(fmt.Sprint(r), "backbone: ") {
						t.Errorf("%s: recovered %v, want a backbone panic", name, r)
					}
				}()
				build()
			}()
		}
	})
}

// shapesOf lists a network's parameter names and shapes.
func shapesOf(b Backbone) string {
	var s strings.Builder
	for _, p := range b.Params() {
		fmt.Fprintf(&s, "%s %v\n", p.Name, p.Value.Shape())
	}
	return s.String()
}

// TestNarrowResNetLayers checks the layers of ResNet-18 at width 16
// against torchvision's shapes (stem of 16 channels, downsample 1x1
// convolutions at the start of layer2..4).
func TestNarrowResNetLayers(t *testing.T) {
	shapes := shapesOf(NewResNet(18, Config{NoInit: true, Width: 16, Classes: 10}))
	for _, want := range []string{
		"conv1.weight (16, 3, 7, 7)",
		"bn1.running_mean (16)",
		"layer1.1.conv2.weight (16, 16, 3, 3)",
		"layer2.0.conv1.weight (32, 16, 3, 3)",
		"layer2.0.downsample.0.weight (32, 16, 1, 1)",
		"layer4.1.conv2.weight (128, 128, 3, 3)",
		"fc.weight (10, 128)",
	} {
		if !strings.Contains(shapes, want+"\n") {
			t.Errorf("no %q in\n%s", want, shapes)
		}
	}
	if strings.Contains(shapes, "layer1.0.downsample") {
		t.Error("layer1.0 has a downsample at width 16")
	}
}

// TestNarrowForward runs forward and backward of narrow networks (Train
// mode, batch statistics) on a CIFAR-sized batch and checks the output
// shapes and that every trunk parameter gets a finite, non-zero gradient.
func TestNarrowForward(t *testing.T) {
	for _, name := range []string{"resnet18-w16", "resnet50-w8", "efficientnet_b0-x0.25"} {
		t.Run(name, func(t *testing.T) {
			b, err := New(name, Config{Classes: 10, Seed: 3})
			if err != nil {
				t.Fatal(err)
			}
			g := G.NewGraph()
			x, xv := nn.Input(g, "x", tensor.Float32, 4, 3, 32, 32)
			pix := xv.Data().([]float32)
			for i := range pix {
				pix[i] = float32(math.Sin(float64(i) * 0.37))
			}
			var f *G.Node
			var maps []*G.Node
			if err := nn.Build(func() {
				f = b.Features(x)
				maps = b.(Pyramid).FeatureMaps(x)
			}); err != nil {
				t.Fatal(err)
			}
			loss := G.Must(G.Sum(G.Must(G.Square(f))))
			params := nn.Trainable(b)
			prog, err := nn.Compile(g, loss, params)
			if err != nil {
				t.Fatal(err)
			}
			defer prog.Close()
			if err := prog.Run(); err != nil {
				t.Fatal(err)
			}
			if got, want := fmt.Sprint(f.Shape()), fmt.Sprint(tensor.Shape{4, b.FeatureDim()}); got != want {
				t.Errorf("features %s, want %s", got, want)
			}
			for i, m := range maps {
				want := fmt.Sprint(tensor.Shape{4, b.(Pyramid).MapChannels()[i], down(32, 3+i), down(32, 3+i)})
				if got := fmt.Sprint(m.Shape()); got != want {
					t.Errorf("map %d is %s, want %s", i, got, want)
				}
			}
			if l := prog.Loss(); !(l > 0) || math.IsInf(l, 0) {
				t.Fatalf("loss %v", l)
			}
			zero := 0
			for _, p := range params {
				if strings.HasPrefix(p.Name, "fc.") || strings.HasPrefix(p.Name, "classifier.") {
					continue
				}
				var norm float64
				for _, v := range p.Grad.Data().([]float32) {
					norm += float64(v) * float64(v)
				}
				if math.IsNaN(norm) || math.IsInf(norm, 0) {
					t.Errorf("%s: gradient norm %v", p.Name, norm)
				}
				if norm == 0 {
					zero++
				}
			}
			if zero > 0 {
				t.Errorf("%d trunk parameters got a zero gradient", zero)
			}
		})
	}
}
