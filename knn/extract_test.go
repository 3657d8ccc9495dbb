package knn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/augment"
	"github.com/disiam/disiam/nn"
	"github.com/disiam/disiam/nn/nntest"
)

// tinyNet is a small Backbone built from nn layers: conv 3x3 -> BatchNorm
// -> ReLU -> global average pooling, and a linear classifier.
type tinyNet struct {
	conv     *nn.Conv2d
	bn       *nn.BatchNorm
	fc       *nn.Linear
	training bool
}

func newTinyNet(in, width, classes int) *tinyNet {
	t := &tinyNet{
		conv:     nn.NewConv2d("conv1", nn.Conv2dConfig{In: in, Out: width, Kernel: 3, Padding: 1}),
		bn:       nn.NewBatchNorm2d("bn1", width),
		fc:       nn.NewLinear("fc", width, classes, true),
		training: true,
	}
	for _, p := range t.Params() {
		if v := nntest.RuleTensorValues(p.Name, p.Shape(), 1); v != nil {
			copy(p.Data(), v)
		}
	}
	return t
}

func (t *tinyNet) Name() string    { return "tiny" }
func (t *tinyNet) FeatureDim() int { return t.conv.Config.Out }
func (t *tinyNet) Features(x *G.Node) *G.Node {
	return nn.GlobalAvgPool2d(nn.ReLU(t.bn.Forward(t.conv.Forward(x))))
}
func (t *tinyNet) Classify(f *G.Node) *G.Node { return t.fc.Forward(f) }
func (t *tinyNet) FeatureMaps(x *G.Node) []*G.Node {
	return []*G.Node{nn.ReLU(t.bn.Forward(t.conv.Forward(x)))}
}
func (t *tinyNet) MapChannels() []int { return []int{t.conv.Config.Out} }
func (t *tinyNet) Params() []*nn.Param {
	return nn.Modules{t.conv, t.bn, t.fc}.Params()
}
func (t *tinyNet) SetTraining(tr bool) { t.training = tr; t.bn.SetTraining(tr) }

// identityNet's representation is its input, flattened: it exposes the
// Extractor's preprocessing.
type identityNet struct{ c, h, w int }

func (n identityNet) Name() string                    { return "identity" }
func (n identityNet) FeatureDim() int                 { return n.c * n.h * n.w }
func (n identityNet) Features(x *G.Node) *G.Node      { return nn.Flatten(x) }
func (n identityNet) Classify(f *G.Node) *G.Node      { return f }
func (n identityNet) FeatureMaps(x *G.Node) []*G.Node { return []*G.Node{x} }
func (n identityNet) MapChannels() []int              { return []int{n.c} }
func (n identityNet) Params() []*nn.Param             { return nil }
func (n identityNet) SetTraining(bool)                {}

// imageSet is an in-memory Dataset of float images.
type imageSet struct {
	imgs    []augment.Image
	labels  []int
	classes int
}

func (s *imageSet) Len() int                  { return len(s.imgs) }
func (s *imageSet) Image(i int) augment.Image { return s.imgs[i] }
func (s *imageSet) Label(i int) int           { return s.labels[i] }
func (s *imageSet) Classes() int              { return s.classes }

// ruleImages returns n images c×h×w with values (r+1)/2 of the golden rule
// for name, labels i % classes.
func ruleImages(name string, n, c, h, w, classes int) *imageSet {
	v := nntest.RuleValues(name, n*c*h*w)
	s := &imageSet{classes: classes}
	per := c * h * w
	for i := range n {
		img := augment.NewImage(c, h, w)
		for j := range per {
			img.Pix[j] = float32((v[i*per+j] + 1) / 2)
		}
		s.imgs = append(s.imgs, img)
		s.labels = append(s.labels, i%classes)
	}
	return s
}

// perImage computes the representation of one preprocessed image with a
// batch-1 graph of b in Eval mode.
func perImage(t *testing.T, b *tinyNet, img augment.Image, logits bool) []float32 {
	t.Helper()
	b.SetTraining(false)
	g := G.NewGraph()
	x, in := nn.Input(g, "x", tensor.Float32, 1, img.C, img.H, img.W)
	out := b.Features(x)
	if logits {
		out = b.Classify(out)
	}
	copy(in.Data().([]float32), img.Pix)
	prog, err := nn.Compile(g, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	if err := prog.Run(); err != nil {
		t.Fatal(err)
	}
	return slices.Clone(out.Value().Data().([]float32))
}

func TestExtractMatchesPerImage(t *testing.T) {
	const n, classes = 7, 3
	ds := ruleImages("knn_extract", n, 3, 6, 5, classes)
	mean, std := []float32{0.5, 0.4, 0.3}, []float32{0.2, 0.25, 0.3}
	for _, tc := range []struct {
		name      string
		batch     int
		inputSize int
		norm      bool
		logits    bool
	}{
		{"batch 1", 1, 0, false, false},
		{"batch 3 padded", 3, 0, true, false},
		{"batch 7", 7, 0, true, true},
		{"batch 16 padded upsampled", 16, 9, true, false},
		{"downsampled logits", 4, 4, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			net := newTinyNet(3, 4, 5)
			// Non-trivial running statistics, so that Eval mode shows.
			for i, p := range [][]float32{net.bn.RunningMean.Data(), net.bn.RunningVar.Data()} {
				for j := range p {
					p[j] = float32(0.1*float64(j+1)) + float32(i)
				}
			}
			e := &Extractor{BatchSize: tc.batch, InputSize: tc.inputSize, Logits: tc.logits}
			if tc.norm {
				e.Mean, e.Std = mean, std
			}
			var calls [][2]int
			e.Progress = func(done, total int) { calls = append(calls, [2]int{done, total}) }
			feats, dim, err := e.Extract(net, ds)
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			if net.training {
				t.Error("backbone left in Train mode")
			}
			wantDim := 4
			if tc.logits {
				wantDim = 5
			}
			if dim != wantDim || len(feats) != n*dim {
				t.Fatalf("dim %d, %d values; want %d, %d", dim, len(feats), wantDim, n*wantDim)
			}
			for i := range n {
				img := ds.imgs[i]
				if tc.inputSize > 0 {
					dst := augment.NewImage(3, tc.inputSize, tc.inputSize)
					augment.Rescale(dst, img, tc.inputSize < img.H)
					img = dst
				} else {
					img = augment.Image{C: img.C, H: img.H, W: img.W, Pix: slices.Clone(img.Pix)}
				}
				if tc.norm {
					augment.Standardize(img, img, mean, std)
				}
				want := perImage(t, net, img, tc.logits)
				got := feats[i*dim : (i+1)*dim]
				for j := range want {
					if math.Abs(float64(got[j]-want[j])) > 1e-6*(1+math.Abs(float64(want[j]))) {
						t.Fatalf("image %d: representation %v, want %v", i, got, want)
					}
				}
			}
			var wantCalls [][2]int
			for done := tc.batch; ; done += tc.batch {
				wantCalls = append(wantCalls, [2]int{min(done, n), n})
				if done >= n {
					break
				}
			}
			if !slices.Equal(calls, wantCalls) {
				t.Errorf("progress calls %v, want %v", calls, wantCalls)
			}
		})
	}
}

// TestExtractPreprocessingMatchesPyTorch checks resizing and
// standardization against F.interpolate and Normalize (testdata/extract.json,
// from testdata/gen_extract.py).
func TestExtractPreprocessingMatchesPyTorch(t *testing.T) {
	raw, err := os.ReadFile("testdata/extract.json")
	if err != nil {
		t.Fatal(err)
	}
	var fx struct {
		Mean, Std []float32
		Cases     []struct {
			Name  string
			Shape []int
			Size  int
			Out   []float64
		}
	}
	if err := json.Unmarshal(raw, &fx); err != nil {
		t.Fatal(err)
	}
	for _, tc := range fx.Cases {
		t.Run(tc.Name, func(t *testing.T) {
			n, c, h, w := tc.Shape[0], tc.Shape[1], tc.Shape[2], tc.Shape[3]
			ds := ruleImages(tc.Name, n, c, h, w, 1)
			e := &Extractor{BatchSize: 3, InputSize: tc.Size, Mean: fx.Mean, Std: fx.Std}
			got, dim, err := e.Extract(identityNet{c, tc.Size, tc.Size}, ds)
			if err != nil {
				t.Fatal(err)
			}
			if dim != c*tc.Size*tc.Size || len(got) != len(tc.Out) {
				t.Fatalf("dim %d, %d values; want %d values", dim, len(got), len(tc.Out))
			}
			for i, want := range tc.Out {
				if math.Abs(float64(got[i])-want) > 1e-5 {
					t.Fatalf("value %d: %v, PyTorch %v", i, got[i], want)
				}
			}
		})
	}
}

func TestExtractReusesProgram(t *testing.T) {
	ds := ruleImages("knn_reuse", 5, 3, 4, 4, 2)
	net := newTinyNet(3, 4, 2)
	e := &Extractor{BatchSize: 2}
	defer e.Close()
	f1, _, err := e.Extract(net, ds)
	if err != nil {
		t.Fatal(err)
	}
	p := e.prog
	// Weights change in place between evaluations, as during training.
	net.conv.Weight.Data()[0] += 0.5
	f2, _, err := e.Extract(net, ds)
	if err != nil {
		t.Fatal(err)
	}
	if e.prog != p {
		t.Error("program rebuilt for the same backbone")
	}
	if slices.Equal(f1, f2) {
		t.Error("representation did not follow the weight update")
	}
	if _, _, err := e.Extract(newTinyNet(3, 4, 2), ds); err != nil {
		t.Fatal(err)
	}
	if e.prog == p {
		t.Error("program reused for another backbone")
	}
}

func TestExtractErrors(t *testing.T) {
	good := ruleImages("knn_err", 3, 3, 4, 4, 2)
	mixed := ruleImages("knn_err", 3, 3, 4, 4, 2)
	mixed.imgs[2] = augment.NewImage(3, 5, 4)
	gray := ruleImages("knn_err", 3, 1, 4, 4, 2)
	for _, tc := range []struct {
		name string
		e    Extractor
		ds   *imageSet
		want string
	}{
		{"empty", Extractor{}, &imageSet{classes: 1}, "empty dataset"},
		{"image sizes", Extractor{BatchSize: 2}, mixed, "image 2 has shape 3x5x4, image 0 3x4x4"},
		{"mean count", Extractor{Mean: []float32{1, 2}, Std: []float32{1, 2}}, good, "2 means and 2 stds for images of 3 channels"},
		{"std zero", Extractor{Mean: []float32{0}, Std: []float32{0}}, good, "Std[0] = 0"},
		{"negative batch", Extractor{BatchSize: -1}, good, "BatchSize = -1"},
		{"negative size", Extractor{InputSize: -2}, good, "InputSize = -2"},
		{"channels", Extractor{}, gray, "tiny on 1x4x4 input"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := tc.e.Extract(newTinyNet(3, 4, 2), tc.ds)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestEvaluator(t *testing.T) {
	train := ruleImages("knn_eval_train", 40, 3, 6, 6, 4)
	test := ruleImages("knn_eval_test", 13, 3, 6, 6, 4)
	net := newTinyNet(3, 8, 4)
	var stages []string
	ev := &Evaluator{Train: train, Test: test, K: 5, BatchSize: 16, InputSize: 8,
		Norm:     augment.Normalize{Mean: []float32{0.5}, Std: []float32{0.25}},
		Progress: func(stage string, done, total int) { stages = append(stages, fmt.Sprint(stage, done, "/", total)) }}
	defer ev.Close()
	got, err := ev.Measure(context.Background(), net)
	if err != nil {
		t.Fatal(err)
	}
	ex := &Extractor{BatchSize: 16, InputSize: 8, Mean: []float32{0.5}, Std: []float32{0.25}}
	defer ex.Close()
	bank, dim, err := ex.Extract(net, train)
	if err != nil {
		t.Fatal(err)
	}
	q, _, err := ex.Extract(net, test)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Evaluate(bank, Labels(train), q, Labels(test), dim, 4, Config{K: 5})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || !slices.Equal(got.PerClass, want.PerClass) {
		t.Errorf("Evaluate = %+v, want %+v", got, want)
	}
	wantStages := []string{"train16/40", "train32/40", "train40/40", "test13/13"}
	if !slices.Equal(stages, wantStages) {
		t.Errorf("progress %v, want %v", stages, wantStages)
	}
	// A second evaluation of unchanged weights gives the same result.
	again, err := ev.Measure(context.Background(), net)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprintf("%+v", again) != fmt.Sprintf("%+v", got) {
		t.Errorf("second Evaluate = %+v, first %+v", again, got)
	}

	ms, err := ev.Evaluate(context.Background(), net)
	if err != nil {
		t.Fatal(err)
	}
	if ms.String() != fmt.Sprintf("knn_top1 %.2f%%  knn_top5 %.2f%%", 100*want.Top1, 100*want.Top5) {
		t.Errorf("Evaluate = %v, want the accuracies of %v", ms, want)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ev.Evaluate(ctx, net); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Evaluate returned %v", err)
	}

	mixed := ruleImages("x", 2, 3, 6, 6, 4)
	mixed.imgs[1] = augment.NewImage(3, 5, 5)
	for _, tc := range []struct {
		name string
		ev   Evaluator
		want string
	}{
		{"no test", Evaluator{Train: train}, "needs Train and Test"},
		{"classes", Evaluator{Train: train, Test: ruleImages("x", 2, 3, 6, 6, 3)}, "Train has 4 classes, Test 3"},
		{"tau", Evaluator{Train: train, Test: test, Tau: -1}, "Tau = -1"},
		{"test images", Evaluator{Train: train, Test: mixed}, "image 1 has shape 3x5x5, image 0 3x6x6 (test set)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.ev.Evaluate(context.Background(), net)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
