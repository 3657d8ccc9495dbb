package detect

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/nn"
)

// HeadValues3D are the head's outputs for a batch as plain values, laid
// out as HeadOutputs3D's nodes ([N, A, k] row-major).
type HeadValues3D struct {
	N, A, Classes, Attrs                                int
	Cls, Offset, Depth, Size, Rot, Velo, Dir, Attr, Ctr []float64
}

// Values copies the head outputs of the last Run of a graph built by
// Forward.
func (o *Outputs3D) Values() *HeadValues3D {
	s := o.Cls.Shape()
	v := &HeadValues3D{N: s[0], A: s[1], Classes: s[2],
		Cls: float64s(o.Cls), Offset: float64s(o.Offset), Depth: float64s(o.Depth), Size: float64s(o.Size),
		Rot: float64s(o.Rot), Velo: float64s(o.Velo), Dir: float64s(o.Dir), Ctr: float64s(o.Ctr)}
	if o.Attr != nil {
		v.Attrs, v.Attr = o.Attr.Shape()[2], float64s(o.Attr)
	}
	return v
}

// Regression returns the regression of point a of image i (Dir the
// argmax of the direction logits, the first on ties).
func (v *HeadValues3D) Regression(i, a int) Regression3D {
	r := i*v.A + a
	var out Regression3D
	copy(out.Offset[:], v.Offset[2*r:2*r+2])
	out.Depth = v.Depth[r]
	copy(out.Size[:], v.Size[3*r:3*r+3])
	out.Rot = v.Rot[r]
	copy(out.Velo[:], v.Velo[2*r:2*r+2])
	if v.Dir[2*r+1] > v.Dir[2*r] {
		out.Dir = 1
	}
	return out
}

func argmax(x []float64) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// Postprocess3D turns head outputs into 3D detections, per image, as
// FCOSMono3DHead._predict_by_feat_single does (test_cfg: nms_pre,
// score_thr, nms_thr, max_per_img; use_rotate_nms):
//
//  1. per level, the NMSPre points with the highest max_c σ(cls_c)·σ(ctr)
//     (ties by index);
//  2. each decoded with the image's camera (DecodeRegression3D: centre
//     point − offset·stride unprojected at the depth, direction bin and
//     local-to-global yaw), its attribute the argmax of the attribute
//     logits;
//  3. per class, the candidates with σ(cls_c)·σ(ctr) > ScoreThresh (the
//     score, centre-ness included), rotated bird's-eye-view NMS (NMSBEV,
//     IoU > NMSThresh suppressed);
//  4. the kept boxes of all classes by descending score, at most
//     MaxPerImage.
//
// Each detection's Box is its 3D box's image box (Camera.ImageBox; the
// projected centre's pixel when the box misses the image). cams[i] is
// image i's camera, imgH × imgW the network input's size.
func (c Config3D) Postprocess3D(v *HeadValues3D, levels []Level3D, points [][2]float64, cams []Camera, imgH, imgW int) ([][]Detection3D, error) {
	c = c.withDefaults()
	if len(points) != v.A || len(cams) != v.N || len(v.Cls) != v.N*v.A*v.Classes || len(v.Ctr) != v.N*v.A {
		return nil, fmt.Errorf("detect: postprocess3d: %d points, %d cameras for head outputs of N %d, A %d, C %d", len(points), len(cams), v.N, v.A, v.Classes)
	}
	nc := v.Classes
	out := make([][]Detection3D, v.N)
	for i := 0; i < v.N; i++ {
		var cands []Detection3D
		var probs [][]float64 // per candidate: σ(cls_c)·σ(ctr)
		for _, l := range levels {
			type cand struct {
				a     int
				score float64
			}
			cs := make([]cand, 0, l.Len())
			for a := l.Offset; a < l.Offset+l.Len(); a++ {
				r := i*v.A + a
				pc := sigmoid(v.Ctr[r])
				best := 0.0
				for k := range nc {
					best = math.Max(best, sigmoid(v.Cls[r*nc+k])*pc)
				}
				cs = append(cs, cand{a, best})
			}
			slices.SortStableFunc(cs, func(x, y cand) int { return cmp.Compare(y.score, x.score) })
			cs = cs[:min(len(cs), c.NMSPre)]
			for _, cd := range cs {
				r := i*v.A + cd.a
				o := DecodeRegression3D(points[cd.a], l.Stride, v.Regression(i, cd.a), cams[i])
				if v.Attr != nil {
					o.Attr = argmax(v.Attr[r*v.Attrs : (r+1)*v.Attrs])
				}
				pc := sigmoid(v.Ctr[r])
				p := make([]float64, nc)
				for k := range nc {
					p[k] = sigmoid(v.Cls[r*nc+k]) * pc
				}
				cands = append(cands, Detection3D{Object: o})
				probs = append(probs, p)
			}
		}
		var dets []Detection3D
		for k := range nc {
			var idx []int
			var rects []Rect
			var scores []float64
			for j, p := range probs {
				if p[k] > c.ScoreThresh {
					idx = append(idx, j)
					rects = append(rects, BEV(cands[j].Object))
					scores = append(scores, p[k])
				}
			}
			for _, q := range NMSBEV(rects, scores, c.NMSThresh) {
				d := cands[idx[q]]
				d.Class, d.Score = k, scores[q]
				dets = append(dets, d)
			}
		}
		slices.SortStableFunc(dets, func(x, y Detection3D) int { return cmp.Compare(y.Score, x.Score) })
		dets = dets[:min(len(dets), c.MaxPerImage)]
		for j := range dets {
			dets[j].Box = imageBoxOr(cams[i], dets[j].Object, imgW, imgH)
		}
		out[i] = dets
	}
	return out, nil
}

// imageBoxOr returns the image box of o, or the one-pixel box at its
// projected centre when the box misses the image.
func imageBoxOr(cam Camera, o Object, w, h int) Box {
	if b, ok := cam.ImageBox(o, float64(w), float64(h)); ok {
		return b
	}
	u, v, _ := cam.Project(o.Center)
	return Box{u - 0.5, v - 0.5, u + 0.5, v + 0.5}
}

// Predictor3D runs FCOS3D in Eval mode on batches of a fixed shape.
type Predictor3D struct {
	model  *FCOS3D
	prog   *nn.Program
	out    *Outputs3D
	images *tensor.Dense
	h, w   int
}

// NewPredictor builds and compiles the inference graph for batches of n
// images of h × w (float32 [n, 3, h, w], resized and normalized as the
// model was trained).
func (m *FCOS3D) NewPredictor(n, h, w int) (*Predictor3D, error) {
	g := G.NewGraph()
	x, xt := nn.Input(g, "images", tensor.Float32, n, 3, h, w)
	out, err := m.Forward(x)
	if err != nil {
		return nil, err
	}
	prog, err := nn.Compile(g, nil, nil)
	if err != nil {
		return nil, err
	}
	return &Predictor3D{model: m, prog: prog, out: out, images: xt, h: h, w: w}, nil
}

// Images is the input tensor [n, 3, h, w].
func (p *Predictor3D) Images() *tensor.Dense { return p.images }

// Outputs is the inference graph's head.
func (p *Predictor3D) Outputs() *Outputs3D { return p.out }

// Predict runs the detector on the batch in Images in Eval mode (the
// model's mode is restored afterwards) and decodes each image's
// detections with its camera (cams[i], the camera of the network input).
func (p *Predictor3D) Predict(cams []Camera) ([][]Detection3D, error) {
	if p.model.training {
		p.model.SetTraining(false)
		defer p.model.SetTraining(true)
	}
	if err := p.prog.Run(); err != nil {
		return nil, err
	}
	return p.model.Config.Postprocess3D(p.out.Values(), p.out.Levels, p.out.Points, cams, p.h, p.w)
}

// Close releases the compiled graph.
func (p *Predictor3D) Close() error { return p.prog.Close() }
