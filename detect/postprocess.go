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

// HeadOutputs are the head's outputs for a batch as plain values, laid
// out as Head.Forward's nodes.
type HeadOutputs struct {
	N, A, Classes int
	Cls           []float64 // [N, A, Classes] class logits
	Reg           []float64 // [N, A, 4] box distances in anchor sizes
	Ctr           []float64 // [N, A] centre-ness logits
}

// Values copies the head outputs of the last Run of a graph built by
// Forward.
func (o *Outputs) Values() *HeadOutputs {
	s := o.Cls.Shape()
	h := &HeadOutputs{N: s[0], A: s[1], Classes: s[2]}
	h.Cls, h.Reg, h.Ctr = float64s(o.Cls), float64s(o.Reg), float64s(o.Ctr)
	return h
}

func float64s(n *G.Node) []float64 {
	switch d := n.Value().Data().(type) {
	case []float32:
		out := make([]float64, len(d))
		for i, v := range d {
			out[i] = float64(v)
		}
		return out
	case []float64:
		return append([]float64(nil), d...)
	}
	panic(fmt.Sprintf("detect: node %v holds %T", n, n.Value()))
}

// Postprocess turns head outputs into detections, per image, as
// torchvision's FCOS.postprocess_detections does. For each level:
//
//  1. score = sqrt(σ(cls)·σ(ctr)) for every anchor a and class c (index
//     a·C + c), keeping the scores > ScoreThresh;
//  2. the TopK highest of them (ties by index), the anchor idx / C and
//     the class idx % C;
//  3. the box decoded from the anchor ([cx − l·w, cy − t·h, cx + r·w,
//     cy + b·h]) and clipped to the imgW × imgH image.
//
// The levels' candidates are then concatenated, class-wise NMS (BatchedNMS,
// IoU > NMSThresh suppressed) keeps the best, and the first
// DetectionsPerImage of them, by descending score, are the image's
// detections. Labels are 0-based logit indices.
func (c Config) Postprocess(h *HeadOutputs, levels []Level, anchors []Box, imgH, imgW int) ([][]Detection, error) {
	c = c.withDefaults()
	if len(anchors) != h.A || len(h.Cls) != h.N*h.A*h.Classes || len(h.Reg) != 4*h.N*h.A || len(h.Ctr) != h.N*h.A {
		return nil, fmt.Errorf("detect: postprocess: %d anchors, head outputs %d/%d/%d values for N %d, A %d, C %d",
			len(anchors), len(h.Cls), len(h.Reg), len(h.Ctr), h.N, h.A, h.Classes)
	}
	nc := h.Classes
	out := make([][]Detection, h.N)
	for i := 0; i < h.N; i++ {
		var boxes []Box
		var scores []float64
		var labels []int
		for _, l := range levels {
			type cand struct {
				idx   int
				score float64
			}
			var cs []cand
			for a := l.Offset; a < l.Offset+l.Len(); a++ {
				r := i*h.A + a
				pc := sigmoid(h.Ctr[r])
				for k := 0; k < nc; k++ {
					s := math.Sqrt(sigmoid(h.Cls[r*nc+k]) * pc)
					if s > c.ScoreThresh {
						cs = append(cs, cand{(a-l.Offset)*nc + k, s})
					}
				}
			}
			slices.SortStableFunc(cs, func(x, y cand) int { return cmp.Compare(y.score, x.score) })
			cs = cs[:min(len(cs), c.TopK)]
			for _, cd := range cs {
				a := l.Offset + cd.idx/nc
				r := i*h.A + a
				b := DecodeLTRB(anchors[a], [4]float64(h.Reg[4*r:4*r+4]))
				boxes = append(boxes, b.Clip(float64(imgH), float64(imgW)))
				scores = append(scores, cd.score)
				labels = append(labels, cd.idx%nc)
			}
		}
		keep := BatchedNMS(boxes, scores, labels, c.NMSThresh)
		keep = keep[:min(len(keep), c.DetectionsPerImage)]
		dets := make([]Detection, len(keep))
		for j, k := range keep {
			dets[j] = Detection{Box: boxes[k], Score: scores[k], Class: labels[k]}
		}
		out[i] = dets
	}
	return out, nil
}

// Predictor runs the detector in Eval mode on batches of a fixed shape.
type Predictor struct {
	model  *FCOS
	prog   *nn.Program
	out    *Outputs
	images *tensor.Dense
	h, w   int
}

// NewPredictor builds and compiles the inference graph for batches of n
// images of h × w (float32 [n, 3, h, w], already resized and normalized as
// the model expects: torchvision's transform is not part of the model).
func (m *FCOS) NewPredictor(n, h, w int) (*Predictor, error) {
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
	return &Predictor{model: m, prog: prog, out: out, images: xt, h: h, w: w}, nil
}

// Images is the input tensor [n, 3, h, w]: copy a batch into its Data()
// before Predict.
func (p *Predictor) Images() *tensor.Dense { return p.images }

// Outputs is the inference graph's head.
func (p *Predictor) Outputs() *Outputs { return p.out }

// Predict runs the detector on the batch in Images, in Eval mode (the
// model's mode is restored afterwards), and returns each image's
// detections in torchvision's order (descending score).
func (p *Predictor) Predict() ([][]Detection, error) {
	if p.model.training {
		p.model.SetTraining(false)
		defer p.model.SetTraining(true)
	}
	if err := p.prog.Run(); err != nil {
		return nil, err
	}
	return p.model.Config.Postprocess(p.out.Values(), p.out.Levels, p.out.Anchors, p.h, p.w)
}

// Close releases the compiled graph.
func (p *Predictor) Close() error { return p.prog.Close() }
