package detect

import (
	"encoding/json"
	"math"
	"os"
	"sync"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/nn"
	"github.com/disiam/disiam/nn/nntest"
)

// goldenDets is one image's postprocess_detections result.
type goldenDets struct {
	Boxes  [][]float64
	Scores []float64
	Labels []float64
}

// goldenRun is one dtype's results of a case of testdata/fcos_golden.json
// (golden_detect.py); fields other than Losses are float64 only.
type goldenRun struct {
	Losses struct {
		Classification float64
		BBoxRegression float64 `json:"bbox_regression"`
		BBoxCtrness    float64 `json:"bbox_ctrness"`
	}
	FPNShapes          [][]int              `json:"fpn_shapes"`
	FPNSums            []float64            `json:"fpn_sums"`
	FPNAbsSums         []float64            `json:"fpn_abs_sums"`
	FPNSamples         [][]float64          `json:"fpn_samples"`
	ClsLogits          []float64            `json:"cls_logits"`
	BBoxRegression     []float64            `json:"bbox_regression"`
	BBoxCtrness        []float64            `json:"bbox_ctrness"`
	Anchors            [][]float64          `json:"anchors"`
	NumAnchorsPerLevel []int                `json:"num_anchors_per_level"`
	StateDict          [][2]any             `json:"state_dict"`
	MatchedIdxs        [][]float64          `json:"matched_idxs"`
	GradCls            []float64            `json:"grad_cls_logits"`
	GradReg            []float64            `json:"grad_bbox_regression"`
	GradCtr            []float64            `json:"grad_bbox_ctrness"`
	GradParams         map[string][]float64 `json:"grad_params"`
	GradParamSums      map[string]float64   `json:"grad_param_sums"`
	PostprocessModel   []goldenDets         `json:"postprocess_model"`
	PostprocessRule    []goldenDets         `json:"postprocess_rule"`
}

type goldenCase struct {
	Arch       string
	Channels   int
	Classes    int
	Input      string
	Shape      []int
	WeightGain float64 `json:"weight_gain"`
	Targets    []struct {
		Boxes  [][]float64
		Labels []int
	}
	F64 goldenRun `json:"f64"`
	F32 goldenRun `json:"f32"`
}

type goldenFile struct {
	R18x128    goldenCase `json:"r18_128"`
	R18x100    goldenCase `json:"r18_100"`
	EffB0x128  goldenCase `json:"effb0_128"`
	Standalone struct {
		Focal struct{ X, T, Loss, Grad []float64 }
		GIoU  struct {
			Boxes1, Boxes2, Grad1, Grad2 [][]float64
			Loss                         []float64
		}
		BCE struct{ X, T, Loss, Grad []float64 }
		NMS struct {
			Boxes       [][]float64
			Scores      []float64
			Labels      []int
			BoxIoU      [][]float64      `json:"box_iou"`
			Keep        map[string][]int `json:"keep"`
			BatchedKeep map[string][]int `json:"batched_keep"`
		}
		Coder struct {
			Anchors, GT, Encoded, Decoded, Clipped [][]float64
		}
		ParamCounts map[string]int `json:"param_counts"`
		// fcos_resnet50_fpn with FrozenBatchNorm2d: the COCO checkpoint's keys
		ResNet50FrozenBNStateDict [][2]any `json:"resnet50_frozenbn_state_dict"`
	}
}

var golden = sync.OnceValues(func() (*goldenFile, error) {
	data, err := os.ReadFile("testdata/fcos_golden.json")
	if err != nil {
		return nil, err
	}
	var g goldenFile
	return &g, json.Unmarshal(data, &g)
})

func loadGolden(t testing.TB) *goldenFile {
	t.Helper()
	g, err := golden()
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// goldenModel builds the case's detector with every state_dict tensor set
// by the golden rule, in Eval mode.
func goldenModel(t testing.TB, c *goldenCase) *FCOS {
	t.Helper()
	b, err := backbone.New(c.Arch, backbone.Config{NoInit: true})
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewFCOS(b, Config{Classes: c.Classes, Channels: c.Channels, NoInit: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Params() {
		if v := nntest.RuleTensorValues(p.Name, p.Shape(), c.WeightGain); v != nil {
			copy(p.Data(), v)
		}
	}
	m.SetTraining(false)
	return m
}

// ruleImages is the case's input by the golden rule.
func ruleImages(c *goldenCase) []float32 {
	n := 1
	for _, s := range c.Shape {
		n *= s
	}
	r := nntest.RuleValues(c.Input, n)
	out := make([]float32, n)
	for i, v := range r {
		out[i] = float32(v)
	}
	return out
}

// relErr is max|got − want| / max|want|.
func relErr[T float32 | float64](got []T, want []float64) float64 {
	if len(got) != len(want) {
		return math.Inf(1)
	}
	var num, den float64
	for i, w := range want {
		num = math.Max(num, math.Abs(float64(got[i])-w))
		den = math.Max(den, math.Abs(w))
	}
	return num / den
}

func f32s(n *G.Node) []float32 { return n.Value().Data().([]float32) }

// sample takes every ⌊len/k⌋-th value, k of them at most, as
// golden_detect.py's sample does.
func sample(v []float32, k int) []float32 {
	step := max(1, len(v)/k)
	var out []float32
	for i := 0; i < len(v) && len(out) < k; i += step {
		out = append(out, v[i])
	}
	return out
}

// TestGoldenForward compares the pyramid, the head outputs, the anchors
// and the state_dict names with torchvision 0.14's FCOS (float64
// reference, weights and inputs by the golden rule) for a ResNet-18 body
// at 128×128 (256 channels) and 100×100 (64 channels) and an
// EfficientNet-B0 body at 128×128 (64 channels).
func TestGoldenForward(t *testing.T) {
	gf := loadGolden(t)
	for _, tc := range []struct {
		name string
		c    *goldenCase
	}{{"r18_128", &gf.R18x128}, {"r18_100", &gf.R18x100}, {"effb0_128", &gf.EffB0x128}} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.c
			m := goldenModel(t, c)
			checkStateDict(t, m, c.F64.StateDict)
			g := G.NewGraph()
			x, xt := nn.Input(g, "images", tensor.Float32, c.Shape...)
			copy(xt.Data().([]float32), ruleImages(c))
			out, err := m.Forward(x)
			if err != nil {
				t.Fatal(err)
			}
			prog, err := nn.Compile(g, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer prog.Close()
			if err := prog.Run(); err != nil {
				t.Fatal(err)
			}
			ref := &c.F64
			for l, p := range out.Pyramid {
				if got := []int(p.Shape()); !equalInts(got, ref.FPNShapes[l]) {
					t.Fatalf("level %d shape %v, torchvision %v", l, got, ref.FPNShapes[l])
				}
				v := f32s(p)
				var s, a float64
				for _, e := range v {
					s += float64(e)
					a += math.Abs(float64(e))
				}
				if d := math.Abs(a-ref.FPNAbsSums[l]) / ref.FPNAbsSums[l]; d > 1e-5 {
					t.Errorf("level %d: sum |P| %.9g, torchvision %.9g (rel %.2g)", l, a, ref.FPNAbsSums[l], d)
				}
				if d := math.Abs(s-ref.FPNSums[l]) / ref.FPNAbsSums[l]; d > 1e-6 {
					t.Errorf("level %d: sum P %.9g, torchvision %.9g", l, s, ref.FPNSums[l])
				}
				if e := relErr(sample(v, 97), ref.FPNSamples[l]); e > 1e-5 {
					t.Errorf("level %d: samples relative error %.3g", l, e)
				}
			}
			for _, o := range []struct {
				name string
				got  []float32
				want []float64
			}{{"cls_logits", f32s(out.Cls), ref.ClsLogits}, {"bbox_regression", f32s(out.Reg), ref.BBoxRegression},
				{"bbox_ctrness", f32s(out.Ctr), ref.BBoxCtrness}} {
				e := relErr(o.got, o.want)
				if e > 5e-5 {
					t.Errorf("%s: relative error %.3g > 5e-5", o.name, e)
				}
				t.Logf("%s: max abs error / max abs value %.2g", o.name, e)
			}
			for l, lv := range out.Levels {
				if lv.Len() != ref.NumAnchorsPerLevel[l] {
					t.Fatalf("level %d: %d anchors, torchvision %d", l, lv.Len(), ref.NumAnchorsPerLevel[l])
				}
			}
			if len(out.Anchors) != len(ref.Anchors) {
				t.Fatalf("%d anchors, torchvision %d", len(out.Anchors), len(ref.Anchors))
			}
			for i, a := range out.Anchors {
				if !equalBox(a, ref.Anchors[i]) {
					t.Fatalf("anchor %d = %v, torchvision %v", i, a, ref.Anchors[i])
				}
			}
		})
	}
}

// checkStateDict compares m's parameter names, order and shapes with
// torchvision's state_dict (whose num_batches_tracked is 0-dimensional).
func checkStateDict(t *testing.T, m *FCOS, want [][2]any) {
	t.Helper()
	ps := m.Params()
	if len(ps) != len(want) {
		t.Fatalf("%d state_dict entries, torchvision %d", len(ps), len(want))
	}
	for i, p := range ps {
		name := want[i][0].(string)
		var shape []int
		for _, s := range want[i][1].([]any) {
			shape = append(shape, int(s.(float64)))
		}
		if len(shape) == 0 {
			shape = []int{1}
		}
		if p.Name != name || !equalInts(p.Shape(), shape) {
			t.Fatalf("state_dict entry %d: %s %v, torchvision %s %v", i, p.Name, p.Shape(), name, shape)
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func equalBox(b Box, w []float64) bool {
	return len(w) == 4 && b[0] == w[0] && b[1] == w[1] && b[2] == w[2] && b[3] == w[3]
}
