package detect

import (
	"fmt"
	"math"
)

// AssignInput is what an Assigner sees of one image.
type AssignInput struct {
	// Anchors are the image's anchors, level by level (see Anchors).
	Anchors []Box
	// Levels says which anchors belong to which level.
	Levels []Level
	// Objects are the boxes to learn from (crowd objects already removed).
	Objects []Object
	// Predictions are the current model's head outputs for the batch and
	// Image this image's index in it, for prediction-aware assigners
	// (DeFCN's POTO matches by classification score × IoU). nil unless the
	// caller of BuildTargets passed them; CenterSampling ignores them.
	Predictions *HeadOutputs
	Image       int
}

// Assigner chooses, for every anchor of an image, the object it learns
// from: Assign returns one index into in.Objects per anchor, or −1 for
// background. FCOS uses CenterSampling; a one-to-one assignment such as
// DeFCN's POTO (prediction-aware, NMS-free) implements the same interface.
type Assigner interface {
	Assign(in AssignInput) ([]int, error)
}

// CenterSampling is torchvision FCOS's assignment (FCOS.compute_loss). An
// anchor of size s (level l) centred on (x, y) may learn object g with
// box [x0, y0, x1, y1] and centre c when
//
//  1. max(|x − cx|, |y − cy|) < Radius·s (centre sampling),
//  2. min(l, t, r, b) > 0 with (l, t, r, b) = (x − x0, y − y0, x1 − x, y1 − y)
//     (the centre lies inside the box),
//  3. 4s < max(l, t, r, b) < 8s, with no lower bound on the first level and
//     no upper bound on the last (each level serves one scale range);
//
// of several candidates it takes the one of smallest area: the argmax of
// match·(1e8 − area), the first one on ties, and −1 when that value is below
// 1e-5. All arithmetic is float32, as torchvision's with float32 boxes, so
// areas that differ by less than float32's resolution at 1e8 (8 px²) tie.
// Every comparison is strict: an anchor exactly Radius·s from the centre,
// on the box border or exactly at a range bound does not match. An image
// without objects gets −1 everywhere.
type CenterSampling struct {
	// Radius in anchor sizes; 0 means 1.5.
	Radius float64
}

// Assign implements Assigner.
func (c CenterSampling) Assign(in AssignInput) ([]int, error) {
	radius := float32(c.Radius)
	if radius == 0 {
		radius = 1.5
	}
	out := make([]int, len(in.Anchors))
	for i := range out {
		out[i] = -1
	}
	if len(in.Objects) == 0 {
		return out, nil
	}
	n := 0
	for _, l := range in.Levels {
		n += l.Len()
	}
	if n != len(in.Anchors) {
		return nil, fmt.Errorf("detect: assign: levels cover %d anchors, got %d", n, len(in.Anchors))
	}
	type gt struct{ x0, y0, x1, y1, cx, cy, key float32 }
	gts := make([]gt, len(in.Objects))
	for k, o := range in.Objects {
		b := o.Box
		if !b.Valid() {
			return nil, fmt.Errorf("detect: assign: object %d: degenerate box %v (want x2 > x1, y2 > y1)", k, b)
		}
		x0, y0, x1, y1 := float32(b[0]), float32(b[1]), float32(b[2]), float32(b[3])
		area := (x1 - x0) * (y1 - y0)
		gts[k] = gt{x0, y0, x1, y1, (x0 + x1) / 2, (y0 + y1) / 2, float32(1e8) - area}
	}
	inf := float32(math.Inf(1))
	for li, l := range in.Levels {
		for a := l.Offset; a < l.Offset+l.Len(); a++ {
			an := in.Anchors[a]
			ax0, ay0, ax1, ay1 := float32(an[0]), float32(an[1]), float32(an[2]), float32(an[3])
			x, y := (ax0+ax1)/2, (ay0+ay1)/2
			size := ax1 - ax0
			lo, hi := size*4, size*8
			if li == 0 {
				lo = 0
			}
			if li == len(in.Levels)-1 {
				hi = inf
			}
			best, bestV := -1, float32(0)
			for k, g := range gts {
				if max(abs32(x-g.cx), abs32(y-g.cy)) >= radius*size {
					continue
				}
				l, t, r, b := x-g.x0, y-g.y0, g.x1-x, g.y1-y
				if min(l, t, r, b) <= 0 {
					continue
				}
				if m := max(l, t, r, b); !(m > lo && m < hi) {
					continue
				}
				if g.key > bestV {
					best, bestV = k, g.key
				}
			}
			if best >= 0 && bestV >= 1e-5 {
				out[a] = best
			}
		}
	}
	return out, nil
}

func abs32(v float32) float32 { return float32(math.Abs(float64(v))) }
