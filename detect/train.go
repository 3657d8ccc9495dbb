package detect

import (
	"fmt"
	"math"
	"strings"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/nn"
)

// Focal loss parameters of FCOS (torchvision's defaults).
const (
	FocalAlpha = 0.25
	FocalGamma = 2.0
)

// Targets are the per-batch inputs of FCOS's losses, computed in plain Go
// from the annotations by BuildTargets.
type Targets struct {
	// Matched holds, per image and anchor, the index of the assigned object
	// among the image's objects, or −1 (background). Crowd objects are never
	// assigned; indices refer to the objects as given.
	Matched [][]int
	// Class is the target class of each anchor ([N·A], −1: background);
	// Boxes the target box ([N·A·4], zero on background); Foreground 1 or
	// 0 ([N·A]); Ctrness the centre-ness target ([N·A], zero on
	// background): sqrt(min(l, r)/max(l, r) · min(t, b)/max(t, b)) of the
	// encoded target box.
	Class, Boxes, Foreground, Ctrness []float64
	// NumForeground counts the foreground anchors of the whole batch;
	// the losses are divided by max(1, NumForeground).
	NumForeground int
}

// BuildTargets assigns the objects of each image (objects[i] for image i)
// to the anchors with a and fills the loss targets, as torchvision's
// FCOS.compute_loss and FCOSHead.compute_loss do. Crowd objects are left
// out, as torchvision's COCO reference drops them. An object with a
// degenerate box or a class outside [0, classes) is an error that names
// the image and the object. preds, the current model's head outputs for
// the batch, reaches the assigner (AssignInput.Predictions); FCOS's
// CenterSampling needs none, so it may be nil.
func BuildTargets(a Assigner, levels []Level, anchors []Box, objects [][]Object, classes int, preds *HeadOutputs) (*Targets, error) {
	na := len(anchors)
	n := len(objects)
	t := &Targets{Matched: make([][]int, n), Class: make([]float64, n*na), Boxes: make([]float64, 4*n*na),
		Foreground: make([]float64, n*na), Ctrness: make([]float64, n*na)}
	for i, objs := range objects {
		var keep []Object
		var index []int
		for k, o := range objs {
			if o.Class < 0 || o.Class >= classes {
				return nil, fmt.Errorf("detect: targets: image %d, object %d: class %d outside [0, %d)", i, k, o.Class, classes)
			}
			if !o.Box.Valid() {
				return nil, fmt.Errorf("detect: targets: image %d, object %d: degenerate box %v (want finite, x2 > x1, y2 > y1)", i, k, o.Box)
			}
			if o.Crowd {
				continue
			}
			keep = append(keep, o)
			index = append(index, k)
		}
		m, err := a.Assign(AssignInput{Anchors: anchors, Levels: levels, Objects: keep, Predictions: preds, Image: i})
		if err != nil {
			return nil, fmt.Errorf("detect: targets: image %d: %w", i, err)
		}
		if len(m) != na {
			return nil, fmt.Errorf("detect: targets: image %d: assigner returned %d matches for %d anchors", i, len(m), na)
		}
		t.Matched[i] = make([]int, na)
		for j, g := range m {
			r := i*na + j
			t.Class[r] = -1
			t.Matched[i][j] = -1
			if g < 0 {
				continue
			}
			if g >= len(keep) {
				return nil, fmt.Errorf("detect: targets: image %d: assigner matched anchor %d to object %d of %d", i, j, g, len(keep))
			}
			o := keep[g]
			t.Matched[i][j] = index[g]
			t.Class[r] = float64(o.Class)
			t.Foreground[r] = 1
			t.NumForeground++
			// torchvision's boxes and anchors are float32.
			b := Box{float64(float32(o.Box[0])), float64(float32(o.Box[1])), float64(float32(o.Box[2])), float64(float32(o.Box[3]))}
			copy(t.Boxes[4*r:4*r+4], b[:])
			e := EncodeLTRB(anchors[j], b)
			t.Ctrness[r] = math.Sqrt(math.Min(e[0], e[2]) / math.Max(e[0], e[2]) * math.Min(e[1], e[3]) / math.Max(e[1], e[3]))
		}
	}
	return t, nil
}

// Normalizer is 1/max(1, NumForeground), the factor of every loss.
func (t *Targets) Normalizer() float64 { return 1 / math.Max(1, float64(t.NumForeground)) }

// TrainGraph is FCOS's training graph for a fixed batch shape: images in,
// the three losses and their sum out, with the per-batch targets as input
// tensors that SetTargets fills before each Run.
type TrainGraph struct {
	*Outputs
	// Images is the input node [N, 3, H, W] the graph was built on.
	Images *G.Node
	// Loss is classification + bbox_regression + bbox_ctrness (unweighted),
	// the scalar to compile with nn.Compile(g, Loss, nn.Trainable(model)).
	Loss                                        *G.Node
	Classification, BBoxRegression, BBoxCtrness *G.Node
	// Targets of the last SetTargets.
	Targets *Targets
	// Predictions, when set, are passed to the assigner by SetTargets (see
	// AssignInput.Predictions): a prediction-aware assigner needs the head
	// outputs of the current weights on the batch, from a forward pass run
	// before SetTargets (a Predictor's Outputs().Values(), say).
	Predictions *HeadOutputs

	model                                    *FCOS
	classT, boxT, fgT, ctrT, normT, anchorsT *tensor.Dense
}

// TrainingGraph builds the detector and its losses on the images node x
// ([N, 3, H, W], float32 like the parameters) in x's graph: torchvision's
// compute_loss, with
//
//	classification  = SigmoidFocalLoss(cls, classes, α 0.25, γ 2) / max(1, num_fg)
//	bbox_regression = Σ_fg GIoU loss(decode(reg), box) / max(1, num_fg)
//	bbox_ctrness    = Σ_fg BCEWithLogits(ctr, centre-ness target) / max(1, num_fg)
//
// num_fg counting the foreground anchors of the whole batch. Compile it
// once with the returned Loss; before each Run copy the batch into x's
// tensor and call SetTargets.
func (m *FCOS) TrainingGraph(x *G.Node) (*TrainGraph, error) {
	out, err := m.Forward(x)
	if err != nil {
		return nil, err
	}
	g := x.Graph()
	n, a := x.Shape()[0], len(out.Anchors)
	dt := x.Dtype()
	t := &TrainGraph{Outputs: out, Images: x, model: m}
	var cls, box, fg, ctr, norm, anc *G.Node
	cls, t.classT = nn.Input(g, "fcos.target_class", dt, n, a)
	box, t.boxT = nn.Input(g, "fcos.target_boxes", dt, n, a, 4)
	fg, t.fgT = nn.Input(g, "fcos.foreground", dt, n, a)
	ctr, t.ctrT = nn.Input(g, "fcos.target_ctrness", dt, n, a)
	norm, t.normT = nn.Input(g, "fcos.normalizer", dt, 1)
	anc, t.anchorsT = nn.Input(g, "fcos.anchors", dt, a, 4)
	for i, b := range out.Anchors {
		for k := range 4 {
			setAt(t.anchorsT, 4*i+k, b[k])
		}
	}
	setAt(t.normT, 0, 1)
	for i := 0; i < n*a; i++ {
		setAt(t.classT, i, -1)
	}
	if err := nn.Build(func() {
		t.Classification = SigmoidFocalLoss(out.Cls, cls, norm, FocalAlpha, FocalGamma)
		t.BBoxRegression = GIoULoss(out.Reg, anc, box, fg, norm)
		t.BBoxCtrness = BCEWithLogitsLoss(out.Ctr, ctr, fg, norm)
		t.Loss = nn.Apply(sumScalars{3}, t.Classification, t.BBoxRegression, t.BBoxCtrness)
	}); err != nil {
		return nil, err
	}
	return t, nil
}

// setAt sets element i of a float32 or float64 tensor.
func setAt(t *tensor.Dense, i int, v float64) {
	switch d := t.Data().(type) {
	case []float32:
		d[i] = float32(v)
	case []float64:
		d[i] = v
	}
}

func fill(t *tensor.Dense, v []float64) {
	switch d := t.Data().(type) {
	case []float32:
		for i, x := range v {
			d[i] = float32(x)
		}
	case []float64:
		copy(d, v)
	}
}

// SetTargets assigns objects[i], the annotations of image i of the next
// batch, and fills the graph's target inputs (see BuildTargets). It
// returns an error, and changes nothing, on bad annotations.
func (t *TrainGraph) SetTargets(objects [][]Object) error {
	n := t.Images.Shape()[0]
	if len(objects) != n {
		return fmt.Errorf("detect: SetTargets: %d images of objects for a batch of %d", len(objects), n)
	}
	tg, err := BuildTargets(t.model.Config.Assigner, t.Levels, t.Anchors, objects, t.model.Config.Classes, t.Predictions)
	if err != nil {
		return err
	}
	fill(t.classT, tg.Class)
	fill(t.boxT, tg.Boxes)
	fill(t.fgT, tg.Foreground)
	fill(t.ctrT, tg.Ctrness)
	setAt(t.normT, 0, tg.Normalizer())
	t.Targets = tg
	return nil
}

// Losses returns the three losses of the last Run.
func (t *TrainGraph) Losses() (classification, bboxRegression, bboxCtrness float64) {
	return nn.ScalarValue(t.Classification), nn.ScalarValue(t.BBoxRegression), nn.ScalarValue(t.BBoxCtrness)
}

// CheckFinite returns an error naming the losses of the last Run that are
// NaN or infinite (an exploding start: too high a learning rate without
// warm-up, or a bad annotation), nil when all are finite.
func (t *TrainGraph) CheckFinite() error {
	c, r, x := t.Losses()
	var bad []string
	for _, l := range []struct {
		name string
		v    float64
	}{{"classification", c}, {"bbox_regression", r}, {"bbox_ctrness", x}} {
		if math.IsNaN(l.v) || math.IsInf(l.v, 0) {
			bad = append(bad, fmt.Sprintf("%s = %v", l.name, l.v))
		}
	}
	if bad != nil {
		return fmt.Errorf("detect: non-finite loss: %s", strings.Join(bad, ", "))
	}
	return nil
}
