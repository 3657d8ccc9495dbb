package detect

import (
	"fmt"
	"math"
	"strings"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/nn"
)

// Loss names of FCOS3D, mmdetection3d's loss_dict keys, in the order of
// TrainGraph3D.Losses.
var Loss3DNames = []string{"loss_cls", "loss_offset", "loss_depth", "loss_size", "loss_rotsin", "loss_velo", "loss_dir", "loss_attr", "loss_centerness"}

// TrainGraph3D is FCOS3D's training graph for a fixed batch shape: images
// in, the nine losses and their sum out, with the per-batch targets as
// input tensors that SetTargets fills before each Run.
type TrainGraph3D struct {
	*Outputs3D
	Images *G.Node
	// Loss is the unweighted sum of LossNodes (mmdetection3d's loss
	// weights are all 1), the scalar to compile.
	Loss *G.Node
	// LossNodes are the losses in Loss3DNames order; loss_attr is absent
	// (nil) without an attribute branch.
	LossNodes []*G.Node
	// Targets of the last SetTargets.
	Targets *Targets3D

	tc Target3DConfig
	in map[string]*tensor.Dense
}

// TrainingGraph builds FCOS3D and its losses on the images node x ([N, 3,
// H, W], float32 like the parameters), as FCOSMono3DHead.loss_by_feat
// computes them:
//
//	loss_cls        sigmoid focal loss (α 0.25, γ 2), Σ over points × classes / (positives + images + ε)
//	loss_offset     Σ_pos smooth L1 (β 1/9) × code weights 1, 1 of (Δu, Δv)/stride / (positives + ε)
//	loss_depth      the same of exp-decoded depth in metres, weight 0.2
//	loss_size       the same of exp-decoded (l, h, w) in metres, weights 1
//	loss_rotsin     the same of sin(p − t) (add_sin_difference), weight 1
//	loss_velo       the same of (vx, vz), weights 0.05
//	loss_dir        cross-entropy of the 2 direction bins, / (positives + ε)
//	loss_attr       cross-entropy of the attributes weighted by the centre-ness target, / (Σ weights + ε)
//	loss_centerness BCE with logits against the centre-ness target, mean over positives
//
// (the code weights are Config3D.CodeWeights; ε = 2⁻²³ is mmdetection
// 3.x's weight_reduce_loss epsilon). Positives whose object has no
// attribute (Attr −1) have weight 0 in loss_attr (mmdetection3d knows no
// such objects: nuScenes' have the attribute "None"). A batch without positives
// gives zero for all but loss_cls, as mmdetection3d's sums over an empty
// selection do. Compile with Loss; before each Run copy the batch into x's
// tensor and call SetTargets.
func (m *FCOS3D) TrainingGraph(x *G.Node) (*TrainGraph3D, error) {
	out, err := m.Forward(x)
	if err != nil {
		return nil, err
	}
	return newTrainGraph3D(m.targetConfig(), m.Config.CodeWeights, m.Config.Beta, out, x)
}

// newTrainGraph3D adds the target inputs and the losses of head outputs
// out (of images x) to x's graph.
func newTrainGraph3D(tc Target3DConfig, cw []float64, beta float64, out *Outputs3D, x *G.Node) (*TrainGraph3D, error) {
	g, dt := x.Graph(), x.Dtype()
	n, a := x.Shape()[0], len(out.Points)
	t := &TrainGraph3D{Outputs3D: out, Images: x, tc: tc, in: map[string]*tensor.Dense{}}
	input := func(name string, shape ...int) *G.Node {
		nd, d := nn.Input(g, "fcos3d."+name, dt, shape...)
		t.in[name] = d
		return nd
	}
	cls := input("class", n, a)
	fg := input("foreground", n, a)
	off := input("offset", n, a, 2)
	depth := input("depth", n, a, 1)
	size := input("size", n, a, 3)
	rot := input("rot", n, a, 1)
	velo := input("velo", n, a, 2)
	dir := input("dir", n, a)
	ctr := input("centerness", n, a)
	clsNorm, posNorm, ctrNorm := input("cls_norm", 1), input("pos_norm", 1), input("ctr_norm", 1)
	var attr, attrW, attrNorm *G.Node
	if out.Attr != nil {
		attr, attrW, attrNorm = input("attr", n, a), input("attr_weight", n, a), input("attr_norm", 1)
	}
	// An empty batch until SetTargets.
	t.fill(&Targets3D{NumImages: n}, n*a)
	if err := nn.Build(func() {
		t.LossNodes = []*G.Node{
			SigmoidFocalLoss(out.Cls, cls, clsNorm, FocalAlpha, FocalGamma),
			SmoothL1Loss(out.Offset, off, fg, posNorm, cw[0:2], beta),
			SmoothL1Loss(out.Depth, depth, fg, posNorm, cw[2:3], beta),
			SmoothL1Loss(out.Size, size, fg, posNorm, cw[3:6], beta),
			SinDiffLoss(out.Rot, rot, fg, posNorm, cw[6:7], beta),
			SmoothL1Loss(out.Velo, velo, fg, posNorm, cw[7:9], beta),
			CrossEntropyLoss(out.Dir, dir, fg, posNorm),
			nil,
			BCEWithLogitsLoss(out.Ctr, ctr, fg, ctrNorm),
		}
		if out.Attr != nil {
			t.LossNodes[7] = CrossEntropyLoss(out.Attr, attr, attrW, attrNorm)
		}
		var terms []*G.Node
		for _, l := range t.LossNodes {
			if l != nil {
				terms = append(terms, l)
			}
		}
		t.Loss = nn.Apply(sumScalars{len(terms)}, terms...)
	}); err != nil {
		return nil, err
	}
	return t, nil
}

// fill copies targets into the input tensors (zeros and −1 labels for an
// empty tg).
func (t *TrainGraph3D) fill(tg *Targets3D, rows int) {
	vec := func(v []float64, n int, bg float64) []float64 {
		if v != nil {
			return v
		}
		out := make([]float64, n)
		for i := range out {
			out[i] = bg
		}
		return out
	}
	fill(t.in["class"], vec(tg.Class, rows, -1))
	fill(t.in["foreground"], vec(tg.Foreground, rows, 0))
	fill(t.in["offset"], vec(tg.Offset, 2*rows, 0))
	fill(t.in["depth"], vec(tg.Depth, rows, 0))
	fill(t.in["size"], vec(tg.Size, 3*rows, 0))
	fill(t.in["rot"], vec(tg.Rot, rows, 0))
	fill(t.in["velo"], vec(tg.Velo, 2*rows, 0))
	fill(t.in["dir"], vec(tg.Dir, rows, -1))
	fill(t.in["centerness"], vec(tg.Ctr, rows, 0))
	setAt(t.in["cls_norm"], 0, tg.ClsNormalizer())
	setAt(t.in["pos_norm"], 0, tg.PosNormalizer())
	setAt(t.in["ctr_norm"], 0, tg.CtrNormalizer())
	if d, ok := t.in["attr"]; ok {
		fill(d, vec(tg.Attr, rows, -1))
		fill(t.in["attr_weight"], vec(tg.AttrWeight, rows, 0))
		setAt(t.in["attr_norm"], 0, tg.AttrNormalizer())
	}
}

// SetTargets assigns objects[i], the annotations of image i of the next
// batch as seen by cams[i] (the camera of the network's input, after any
// resize or flip), and fills the graph's target inputs (BuildTargets3D).
// It returns an error, and changes nothing, on bad annotations.
func (t *TrainGraph3D) SetTargets(objects [][]Object, cams []Camera) error {
	n := t.Images.Shape()[0]
	if len(objects) != n || len(cams) != n {
		return fmt.Errorf("detect: SetTargets: %d images of objects and %d cameras for a batch of %d", len(objects), len(cams), n)
	}
	tg, err := BuildTargets3D(t.tc, t.Levels, t.Points, objects, cams)
	if err != nil {
		return err
	}
	t.fill(tg, n*len(t.Points))
	t.Targets = tg
	return nil
}

// Losses returns the losses of the last Run in Loss3DNames order (NaN for
// an absent attribute loss).
func (t *TrainGraph3D) Losses() []float64 {
	out := make([]float64, len(t.LossNodes))
	for i, l := range t.LossNodes {
		out[i] = math.NaN()
		if l != nil {
			out[i] = nn.ScalarValue(l)
		}
	}
	return out
}

// CheckFinite returns an error naming the losses of the last Run that are
// NaN or infinite, nil when all are finite.
func (t *TrainGraph3D) CheckFinite() error {
	var bad []string
	for i, v := range t.Losses() {
		if t.LossNodes[i] != nil && (math.IsNaN(v) || math.IsInf(v, 0)) {
			bad = append(bad, fmt.Sprintf("%s = %v", Loss3DNames[i], v))
		}
	}
	if bad != nil {
		return fmt.Errorf("detect: non-finite loss: %s", strings.Join(bad, ", "))
	}
	return nil
}
