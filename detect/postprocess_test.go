package detect

import (
	"math"
	"testing"

	"github.com/disiam/disiam/nn/nntest"
)

// goldenLevels returns a golden case's levels and anchors.
func goldenLevels(t *testing.T, c *goldenCase) ([]Level, []Box) {
	t.Helper()
	var maps [][2]int
	for _, s := range c.F64.FPNShapes {
		maps = append(maps, [2]int{s[2], s[3]})
	}
	levels, err := NewLevels(c.Shape[2], c.Shape[3], maps, AnchorSizes)
	if err != nil {
		t.Fatal(err)
	}
	return levels, Anchors(levels)
}

// compareDets fails unless got equals torchvision's detections: the same
// count, labels and order, boxes and scores within tol (absolute for
// scores, relative to the image size for boxes).
func compareDets(t *testing.T, what string, got []Detection, want goldenDets, tol float64) {
	t.Helper()
	if len(got) != len(want.Scores) {
		t.Fatalf("%s: %d detections, torchvision %d", what, len(got), len(want.Scores))
	}
	for j, d := range got {
		if d.Class != int(want.Labels[j]) || math.Abs(d.Score-want.Scores[j]) > tol {
			t.Fatalf("%s: detection %d: class %d score %.9g, torchvision %v %.9g", what, j, d.Class, d.Score, want.Labels[j], want.Scores[j])
		}
		for k := range 4 {
			if math.Abs(d.Box[k]-want.Boxes[j][k]) > tol*128 {
				t.Fatalf("%s: detection %d: box %v, torchvision %v", what, j, d.Box, want.Boxes[j])
			}
		}
	}
}

// TestGoldenPostprocessRule runs Postprocess on rule-generated head
// outputs (exact in float64) and compares with torchvision's
// postprocess_detections: 100 detections per image, in order.
func TestGoldenPostprocessRule(t *testing.T) {
	c := &loadGolden(t).R18x128
	levels, anchors := goldenLevels(t, c)
	n, a, nc := c.Shape[0], len(anchors), c.Classes
	h := &HeadOutputs{N: n, A: a, Classes: nc,
		Cls: nntest.RuleValues("pp_cls_logits", n*a*nc), Reg: nntest.RuleValues("pp_bbox_regression", n*a*4),
		Ctr: nntest.RuleValues("pp_bbox_ctrness", n*a)}
	for i := range h.Cls {
		h.Cls[i] *= 4
	}
	for i := range h.Reg {
		h.Reg[i] = 2 * (h.Reg[i] + 1)
	}
	for i := range h.Ctr {
		h.Ctr[i] *= 4
	}
	dets, err := Config{}.Postprocess(h, levels, anchors, c.Shape[2], c.Shape[3])
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range dets {
		compareDets(t, "image "+string(rune('0'+i)), d, c.F64.PostprocessRule[i], 1e-12)
	}
}

// TestGoldenPredict runs the float32 inference path (Predictor: Eval
// mode, postprocessing) of each golden model and compares the detections
// with torchvision's postprocess_detections of its float64 head outputs.
func TestGoldenPredict(t *testing.T) {
	gf := loadGolden(t)
	for _, tc := range goldenCases(gf) {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.c
			m := goldenModel(t, c)
			m.SetTraining(true) // Predict switches to Eval mode itself
			p, err := m.NewPredictor(c.Shape[0], c.Shape[2], c.Shape[3])
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			copy(p.Images().Data().([]float32), ruleImages(c))
			dets, err := p.Predict()
			if err != nil {
				t.Fatal(err)
			}
			if !m.Training() {
				t.Fatal("Predict left the model in Eval mode")
			}
			for i, d := range dets {
				compareDets(t, tc.name+" image "+string(rune('0'+i)), d, c.F64.PostprocessModel[i], 2e-5)
			}
		})
	}
}

// TestStandaloneBoxes compares box_iou, nms, batched_nms, the box coder and
// clip_boxes_to_image with torchvision.
func TestStandaloneBoxes(t *testing.T) {
	s := loadGolden(t).Standalone
	boxes := make([]Box, len(s.NMS.Boxes))
	for i, b := range s.NMS.Boxes {
		boxes[i] = Box{b[0], b[1], b[2], b[3]}
	}
	iou := BoxIoU(boxes[:12], boxes[12:20])
	for i := range iou {
		for j := range iou[i] {
			if math.Abs(iou[i][j]-s.NMS.BoxIoU[i][j]) > 1e-12 {
				t.Fatalf("IoU(%d, %d) = %.15g, torchvision %.15g", i, 12+j, iou[i][j], s.NMS.BoxIoU[i][j])
			}
		}
	}
	th := map[string]float64{"0.3": 0.3, "0.5": 0.5, "0.6": 0.6}
	for k, want := range s.NMS.Keep {
		if got := NMS(boxes, s.NMS.Scores, th[k]); !equalInts(got, want) {
			t.Errorf("NMS(%s) = %v, torchvision %v", k, got, want)
		}
	}
	for k, want := range s.NMS.BatchedKeep {
		if got := BatchedNMS(boxes, s.NMS.Scores, s.NMS.Labels, th[k]); !equalInts(got, want) {
			t.Errorf("BatchedNMS(%s) = %v, torchvision %v", k, got, want)
		}
	}
	if len(s.NMS.Keep["0.3"]) >= len(s.NMS.Keep["0.6"]) || len(s.NMS.Keep["0.6"]) == len(boxes) {
		t.Fatalf("NMS cases suppress nothing: %v", s.NMS.Keep)
	}
	co := s.Coder
	for i := range co.Anchors {
		a := Box(co.Anchors[i])
		g := Box(co.GT[i])
		e := EncodeLTRB(a, g)
		d := DecodeLTRB(a, e)
		c := g.Clip(100, 90)
		for k := range 4 {
			if math.Abs(e[k]-co.Encoded[i][k]) > 1e-12 || math.Abs(d[k]-co.Decoded[i][k]) > 1e-12 || c[k] != co.Clipped[i][k] {
				t.Fatalf("box %d: encode %v decode %v clip %v, torchvision %v %v %v", i, e, d, c, co.Encoded[i], co.Decoded[i], co.Clipped[i])
			}
		}
	}
}

// TestNMSCases checks NMS on hand-made boxes: the strict threshold, empty
// boxes (IoU NaN suppresses nothing), ties in index order and classes kept
// apart by BatchedNMS.
func TestNMSCases(t *testing.T) {
	// IoU of boxes 0 and 1 is exactly 0.5 (intersection 20, union 40).
	boxes := []Box{{0, 0, 3, 10}, {1, 0, 4, 10}, {20, 20, 20, 20}, {20, 20, 20, 20}, {0, 0, 3, 10}}
	for _, tc := range []struct {
		scores  []float64
		classes []int
		thr     float64
		want    []int
	}{
		{[]float64{0.9, 0.8, 0.5, 0.4, 0.3}, nil, 0.5, []int{0, 1, 2, 3}},
		{[]float64{0.9, 0.8, 0.5, 0.4, 0.3}, nil, 0.49, []int{0, 2, 3}},
		{[]float64{0.5, 0.8, 0.5, 0.4, 0.8}, nil, 0.49, []int{1, 2, 3}},
		{[]float64{0.9, 0.8, 0.5, 0.4, 0.95}, []int{0, 1, 0, 0, 0}, 0.3, []int{4, 1, 2, 3}},
	} {
		var got []int
		if tc.classes == nil {
			got = NMS(boxes, tc.scores, tc.thr)
		} else {
			got = BatchedNMS(boxes, tc.scores, tc.classes, tc.thr)
		}
		if !equalInts(got, tc.want) {
			t.Errorf("scores %v classes %v thr %v: keep %v, want %v", tc.scores, tc.classes, tc.thr, got, tc.want)
		}
	}
}
