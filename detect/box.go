package detect

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// This file holds the plain-Go box arithmetic of torchvision.ops: IoU, NMS,
// class-wise NMS, generalized IoU, clipping, and FCOS's box coder. None of
// it is differentiable; the training graph has its own fused kernels.

// Valid reports whether b is finite with x2 > x1 and y2 > y1 (torchvision
// asserts this of every training box).
func (b Box) Valid() bool {
	for _, v := range b {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return b[2] > b[0] && b[3] > b[1]
}

// Center returns the box centre ((x1+x2)/2, (y1+y2)/2).
func (b Box) Center() (x, y float64) { return (b[0] + b[2]) / 2, (b[1] + b[3]) / 2 }

// Clip clamps b to the image [0, w] × [0, h], as
// torchvision.ops.clip_boxes_to_image(b, (h, w)).
func (b Box) Clip(h, w float64) Box {
	return Box{clamp(b[0], 0, w), clamp(b[1], 0, h), clamp(b[2], 0, w), clamp(b[3], 0, h)}
}

func clamp(v, lo, hi float64) float64 { return math.Min(math.Max(v, lo), hi) }

// intersection returns the area of a ∩ b (0 when disjoint).
func intersection(a, b Box) float64 {
	w := math.Min(a[2], b[2]) - math.Max(a[0], b[0])
	h := math.Min(a[3], b[3]) - math.Max(a[1], b[1])
	if w <= 0 || h <= 0 {
		return 0
	}
	return w * h
}

// IoU returns the intersection over union of a and b, with areas
// (x2−x1)(y2−y1) and no +1 (torchvision.ops.box_iou); NaN when both are
// empty.
func IoU(a, b Box) float64 {
	inter := intersection(a, b)
	return inter / (a.Area() + b.Area() - inter)
}

// BoxIoU returns the matrix IoU(a[i], b[j]) (torchvision.ops.box_iou).
func BoxIoU(a, b []Box) [][]float64 {
	out := make([][]float64, len(a))
	for i, x := range a {
		out[i] = make([]float64, len(b))
		for j, y := range b {
			out[i][j] = IoU(x, y)
		}
	}
	return out
}

// GIoU returns the generalized IoU of a and b as
// torchvision.ops.generalized_box_iou_loss computes it (loss = 1 − GIoU):
// IoU − (area_c − union)/area_c over the smallest enclosing box c, both
// divisions with eps 1e-7 added to the denominator.
func GIoU(a, b Box) float64 {
	var inter float64
	if w, h := math.Min(a[2], b[2])-math.Max(a[0], b[0]), math.Min(a[3], b[3])-math.Max(a[1], b[1]); w > 0 && h > 0 {
		inter = w * h
	}
	union := a.Area() + b.Area() - inter
	c := (math.Max(a[2], b[2]) - math.Min(a[0], b[0])) * (math.Max(a[3], b[3]) - math.Min(a[1], b[1]))
	return inter/(union+giouEps) - (c-union)/(c+giouEps)
}

// giouEps is generalized_box_iou_loss's eps.
const giouEps = 1e-7

// scoreOrder returns the indices of scores sorted by descending score,
// ties by ascending index (torchvision does not fix the order of ties).
func scoreOrder(scores []float64, idx []int) []int {
	if idx == nil {
		idx = make([]int, len(scores))
		for i := range idx {
			idx[i] = i
		}
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(scores[b], scores[a]) })
	return idx
}

// NMS is torchvision.ops.nms: it visits the boxes by descending score and
// keeps a box unless a kept box overlaps it with IoU > iouThresh. It
// returns the kept indices by descending score. Boxes with equal scores are
// visited in index order.
func NMS(boxes []Box, scores []float64, iouThresh float64) []int {
	if len(boxes) != len(scores) {
		panic(fmt.Sprintf("detect: NMS: %d boxes, %d scores", len(boxes), len(scores)))
	}
	return nmsIdx(boxes, scoreOrder(scores, nil), iouThresh)
}

// nmsIdx runs NMS over the boxes listed in order (already sorted).
func nmsIdx(boxes []Box, order []int, iouThresh float64) []int {
	suppressed := make([]bool, len(order))
	var keep []int
	for a, i := range order {
		if suppressed[a] {
			continue
		}
		keep = append(keep, i)
		bi, ai := boxes[i], boxes[i].Area()
		for b := a + 1; b < len(order); b++ {
			if suppressed[b] {
				continue
			}
			j := order[b]
			inter := intersection(bi, boxes[j])
			// NaN (two empty boxes) suppresses nothing, as in torchvision.
			if inter/(ai+boxes[j].Area()-inter) > iouThresh {
				suppressed[b] = true
			}
		}
	}
	return keep
}

// BatchedNMS is torchvision.ops.batched_nms: NMS within each class
// separately (boxes of different classes never suppress each other), the
// kept indices of all classes sorted by descending score (ties by index).
// This is torchvision's per-class ("vanilla") path; its coordinate-offset
// path, used for fewer than 4,000 coordinates, gives the same result up to
// float rounding of the IoU.
func BatchedNMS(boxes []Box, scores []float64, classes []int, iouThresh float64) []int {
	if len(boxes) != len(scores) || len(boxes) != len(classes) {
		panic(fmt.Sprintf("detect: BatchedNMS: %d boxes, %d scores, %d classes", len(boxes), len(scores), len(classes)))
	}
	byClass := map[int][]int{}
	var order []int
	for i, c := range classes {
		if _, ok := byClass[c]; !ok {
			order = append(order, c)
		}
		byClass[c] = append(byClass[c], i)
	}
	var keep []int
	for _, c := range order {
		keep = append(keep, nmsIdx(boxes, scoreOrder(scores, byClass[c]), iouThresh)...)
	}
	slices.Sort(keep)
	return scoreOrder(scores, keep)
}

// EncodeLTRB is FCOS's box coder (torchvision's BoxLinearCoder with
// normalize_by_size): the distances from the anchor's centre to the left,
// top, right and bottom sides of gt, divided by the anchor's width and
// height.
func EncodeLTRB(anchor, gt Box) [4]float64 {
	cx, cy := anchor.Center()
	w, h := anchor.Width(), anchor.Height()
	return [4]float64{(cx - gt[0]) / w, (cy - gt[1]) / h, (gt[2] - cx) / w, (gt[3] - cy) / h}
}

// DecodeLTRB inverts EncodeLTRB: [cx − l·w, cy − t·h, cx + r·w, cy + b·h].
func DecodeLTRB(anchor Box, rel [4]float64) Box {
	cx, cy := anchor.Center()
	w, h := anchor.Width(), anchor.Height()
	return Box{cx - rel[0]*w, cy - rel[1]*h, cx + rel[2]*w, cy + rel[3]*h}
}
