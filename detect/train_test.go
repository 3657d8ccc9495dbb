package detect

import (
	"math"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/nn"
)

// TestGoldenTraining runs the float32 training graph of each golden case
// (forward, the three losses, backward through head, FPN and backbone)
// and compares the losses and parameter gradients with torchvision's
// float64 values.
func TestGoldenTraining(t *testing.T) {
	gf := loadGolden(t)
	for _, tc := range goldenCases(gf) {
		t.Run(tc.name, func(t *testing.T) {
			c, ref := tc.c, &tc.c.F64
			m := goldenModel(t, c)
			g := G.NewGraph()
			x, xt := nn.Input(g, "images", tensor.Float32, c.Shape...)
			copy(xt.Data().([]float32), ruleImages(c))
			tg, err := m.TrainingGraph(x)
			if err != nil {
				t.Fatal(err)
			}
			prog, err := nn.Compile(g, tg.Loss, nn.Trainable(m))
			if err != nil {
				t.Fatal(err)
			}
			defer prog.Close()
			if err := tg.SetTargets(goldenObjects(c)); err != nil {
				t.Fatal(err)
			}
			if err := prog.Run(); err != nil {
				t.Fatal(err)
			}
			lc, lr, lt := tg.Losses()
			for _, l := range []struct {
				name      string
				got, want float64
			}{{"classification", lc, ref.Losses.Classification}, {"bbox_regression", lr, ref.Losses.BBoxRegression},
				{"bbox_ctrness", lt, ref.Losses.BBoxCtrness}, {"sum", prog.Loss(),
					ref.Losses.Classification + ref.Losses.BBoxRegression + ref.Losses.BBoxCtrness}} {
				d := math.Abs(l.got-l.want) / l.want
				if !(d <= 2e-5) {
					t.Errorf("%s = %.9g, torchvision %.9g (rel %.2g)", l.name, l.got, l.want, d)
				}
				t.Logf("%s %.9g, torchvision %.9g, relative error %.2g", l.name, l.got, l.want, d)
			}
			params := map[string]*nn.Param{}
			for _, p := range m.Params() {
				params[p.Name] = p
			}
			for name, want := range ref.GradParams {
				p := params[name]
				if p == nil || p.Grad == nil {
					t.Fatalf("%s: no gradient", name)
				}
				// PyTorch's own float32 run is the yardstick: GroupNorm on
				// 1×1 levels with 2 channels per group is ill-conditioned.
				tol := max(1e-4, 2*relErr(c.F32.GradParams[name], want))
				e := relErr(p.Grad.Data().([]float32), want)
				if !(e <= tol) {
					t.Errorf("d %s: relative error %.3g > %.3g", name, e, tol)
				}
				t.Logf("d %s: relative error %.2g (PyTorch float32 %.2g)", name, e, relErr(c.F32.GradParams[name], want))
			}
			for name, want := range ref.GradParamSums {
				p := params[name]
				if p == nil || p.Grad == nil {
					continue // the other architecture's name
				}
				var s, a float64
				for _, v := range p.Grad.Data().([]float32) {
					s += float64(v)
					a += math.Abs(float64(v))
				}
				// relative to Σ|grad|: the sum may cancel.
				tol := max(1e-4, 2*math.Abs(c.F32.GradParamSums[name]-want)/a)
				if d := math.Abs(s-want) / a; !(d <= tol) {
					t.Errorf("Σ d %s = %.9g, torchvision %.9g (%.2g of Σ|d| > %.2g)", name, s, want, d, tol)
				}
			}
		})
	}
}

// TestTargetsErrors checks that bad annotations are errors naming the
// image and the object, that crowd objects are not assigned and that an
// image without objects is all background with a finite loss.
func TestTargetsErrors(t *testing.T) {
	levels, _ := NewLevels(64, 64, [][2]int{{8, 8}, {4, 4}, {2, 2}, {1, 1}, {1, 1}}, AnchorSizes)
	anchors := Anchors(levels)
	ok := Object{Class: 1, Box: Box{4, 4, 40, 30}}
	for _, tc := range []struct {
		objs [][]Object
		want string
	}{
		{[][]Object{{ok}, {ok, {Class: 3, Box: Box{0, 0, 5, 5}}}}, "image 1, object 1: class 3"},
		{[][]Object{{{Class: 0, Box: Box{10, 10, 10, 20}}}}, "image 0, object 0: degenerate"},
		{[][]Object{{{Class: 0, Box: Box{10, math.NaN(), 30, 20}}}}, "image 0, object 0: degenerate"},
	} {
		_, err := BuildTargets(CenterSampling{}, levels, anchors, tc.objs, 3, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want %q", err, tc.want)
		}
	}
	crowd := ok
	crowd.Crowd = true
	tg, err := BuildTargets(CenterSampling{}, levels, anchors, [][]Object{{crowd, ok}, {}}, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for j, v := range tg.Matched[0] {
		if v == 0 {
			t.Fatalf("anchor %d matched the crowd object", j)
		}
		if v == 1 {
			n++
		}
	}
	for _, v := range tg.Matched[1] {
		if v != -1 {
			t.Fatal("an image without objects has a foreground anchor")
		}
	}
	if n == 0 || n != tg.NumForeground {
		t.Fatalf("%d anchors matched the object, NumForeground %d", n, tg.NumForeground)
	}
}

// TestEmptyBatchLoss runs a batch without any object (torchvision crashed
// on it before PR #5267): the losses are finite, the box losses zero and
// every gradient finite.
func TestEmptyBatchLoss(t *testing.T) {
	b := backbone.NewResNet(18, backbone.Config{Width: 8, Seed: 1})
	m, err := NewFCOS(b, Config{Classes: 2, Channels: 32, HeadConvs: 1, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	g := G.NewGraph()
	x, xt := nn.Input(g, "images", tensor.Float32, 2, 3, 64, 64)
	for i := range xt.Data().([]float32) {
		xt.Data().([]float32)[i] = float32(math.Sin(float64(i)))
	}
	tg, err := m.TrainingGraph(x)
	if err != nil {
		t.Fatal(err)
	}
	prog, err := nn.Compile(g, tg.Loss, nn.Trainable(m))
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	if err := tg.SetTargets([][]Object{{}, nil}); err != nil {
		t.Fatal(err)
	}
	if err := prog.Run(); err != nil {
		t.Fatal(err)
	}
	if err := tg.CheckFinite(); err != nil {
		t.Fatal(err)
	}
	lc, lr, lt := tg.Losses()
	if !(lc > 0) || math.IsInf(lc, 0) || lr != 0 || lt != 0 {
		t.Fatalf("losses %v %v %v, want finite classification and zero box losses", lc, lr, lt)
	}
	for _, p := range nn.Trainable(m) {
		for _, v := range p.Grad.Data().([]float32) {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("%s: non-finite gradient", p.Name)
			}
		}
	}
}

// recordingAssigner matches nothing and records what it was given.
type recordingAssigner struct{ seen *[]AssignInput }

func (r recordingAssigner) Assign(in AssignInput) ([]int, error) {
	*r.seen = append(*r.seen, in)
	out := make([]int, len(in.Anchors))
	for i := range out {
		out[i] = -1
	}
	return out, nil
}

// TestAssignerPlumbing checks that a custom Assigner sees every image in
// order, without its crowd objects, with the predictions passed in.
func TestAssignerPlumbing(t *testing.T) {
	levels, _ := NewLevels(64, 64, [][2]int{{8, 8}, {4, 4}, {2, 2}, {1, 1}, {1, 1}}, AnchorSizes)
	anchors := Anchors(levels)
	var seen []AssignInput
	preds := &HeadOutputs{N: 2}
	objs := [][]Object{{{Class: 0, Box: Box{1, 1, 9, 9}, Crowd: true}, {Class: 1, Box: Box{2, 2, 30, 30}}}, {}}
	tg, err := BuildTargets(recordingAssigner{&seen}, levels, anchors, objs, 2, preds)
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2 || seen[0].Image != 0 || seen[1].Image != 1 || seen[0].Predictions != preds ||
		len(seen[0].Objects) != 1 || seen[0].Objects[0].Class != 1 || len(seen[1].Objects) != 0 {
		t.Fatalf("assigner saw %+v", seen)
	}
	if tg.NumForeground != 0 || tg.Normalizer() != 1 {
		t.Fatalf("NumForeground %d, normalizer %v", tg.NumForeground, tg.Normalizer())
	}
}
