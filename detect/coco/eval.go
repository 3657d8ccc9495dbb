package coco

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/disiam/disiam/internal/parallel"
)

// StatNames names the 12 entries of Eval.Stats, in pycocotools' order.
var StatNames = [12]string{"AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"}

// Params are the evaluation parameters that can differ from COCO's. The
// zero value is COCO's default; IoU and recall thresholds are always
// COCO's (0.5:0.05:0.95 and 0:0.01:1, computed as numpy.linspace does).
type Params struct {
	// MaxDets are the three detection limits per image and category,
	// ascending; zero means {1, 10, 100}. AP uses the last, AR each.
	MaxDets [3]int
	// AreaRanges are the inclusive [min, max] object areas of "all",
	// "small", "medium" and "large"; zero means {[0, 1e10], [0, 32²],
	// [32², 96²], [96², 1e10]}.
	AreaRanges [4][2]float64
}

func (p Params) withDefaults() Params {
	if p.MaxDets == [3]int{} {
		p.MaxDets = [3]int{1, 10, 100}
	}
	if p.AreaRanges == [4][2]float64{} {
		p.AreaRanges = [4][2]float64{{0, 1e10}, {0, 32 * 32}, {32 * 32, 96 * 96}, {96 * 96, 1e10}}
	}
	return p
}

// Linspace returns n evenly spaced numbers from a to b inclusive, computed
// as numpy.linspace does: i·((b−a)/(n−1)) + a, the last set to b. The
// difference matters: (0.95−0.5)/9 is not 0.45/9 in floating point, and
// COCO's IoU threshold 0.85 is 0.85 only with numpy's arithmetic.
func Linspace(a, b float64, n int) []float64 {
	out := make([]float64, n)
	if n == 1 {
		out[0] = a
		return out
	}
	step := (b - a) / float64(n-1)
	for i := range out {
		out[i] = float64(i)*step + a
	}
	out[n-1] = b
	return out
}

// Eval holds an evaluation's accumulated precision and recall and the
// summary statistics. Entries of −1 mark settings without ground truth,
// as in pycocotools.
type Eval struct {
	Params           Params    // with defaults filled in
	IoUThresholds    []float64 // T = 10
	RecallThresholds []float64 // R = 101
	// Classes is K, the number of categories (class indices 0..K−1).
	Classes int
	// Stats are the 12 numbers COCOeval.summarize prints (StatNames).
	Stats [12]float64

	precision []float64 // [T][R][K][A][M]
	recall    []float64 // [T][K][A][M]
}

// Precision returns the interpolated precision at IoU threshold t, recall
// threshold r, class k, area range a and detection limit m (indices into
// IoUThresholds, RecallThresholds, classes, Params.AreaRanges,
// Params.MaxDets), or −1 when class k has no ground truth in that range.
func (e *Eval) Precision(t, r, k, a, m int) float64 {
	R, K := len(e.RecallThresholds), e.Classes
	return e.precision[(((t*R+r)*K+k)*4+a)*3+m]
}

// Recall returns the maximum recall at IoU threshold t, class k, area
// range a and detection limit m, or −1 without ground truth.
func (e *Eval) Recall(t, k, a, m int) float64 {
	return e.recall[((t*e.Classes+k)*4+a)*3+m]
}

// ClassStats returns the 12 statistics restricted to class k (AP of one
// category is ClassStats(k)[0], the figure detectron2 tabulates).
func (e *Eval) ClassStats(k int) [12]float64 {
	return e.summarize(k)
}

// String formats Stats as pycocotools' summarize prints them.
func (e *Eval) String() string {
	var b strings.Builder
	type line struct {
		ap   bool
		iou  string
		area string
		md   int
	}
	md := e.Params.MaxDets
	lines := []line{
		{true, "0.50:0.95", "all", md[2]}, {true, "0.50", "all", md[2]}, {true, "0.75", "all", md[2]},
		{true, "0.50:0.95", "small", md[2]}, {true, "0.50:0.95", "medium", md[2]}, {true, "0.50:0.95", "large", md[2]},
		{false, "0.50:0.95", "all", md[0]}, {false, "0.50:0.95", "all", md[1]}, {false, "0.50:0.95", "all", md[2]},
		{false, "0.50:0.95", "small", md[2]}, {false, "0.50:0.95", "medium", md[2]}, {false, "0.50:0.95", "large", md[2]},
	}
	for i, l := range lines {
		title, typ := "Average Precision", "(AP)"
		if !l.ap {
			title, typ = "Average Recall", "(AR)"
		}
		fmt.Fprintf(&b, " %-18s %s @[ IoU=%-9s | area=%6s | maxDets=%3d ] = %0.3f\n", title, typ, l.iou, l.area, l.md, e.Stats[i])
	}
	return b.String()
}

// summarize computes the 12 statistics over all classes (k < 0) or one.
func (e *Eval) summarize(k int) [12]float64 {
	t50 := slices.Index(e.IoUThresholds, 0.5)
	t75 := slices.Index(e.IoUThresholds, 0.75)
	T, R := len(e.IoUThresholds), len(e.RecallThresholds)
	mean := func(ap bool, t, a, m int) float64 {
		var sum float64
		n := 0
		for ti := range T {
			if t >= 0 && ti != t {
				continue
			}
			for kk := range e.Classes {
				if k >= 0 && kk != k {
					continue
				}
				if ap {
					for r := range R {
						if v := e.Precision(ti, r, kk, a, m); v > -1 {
							sum += v
							n++
						}
					}
				} else if v := e.Recall(ti, kk, a, m); v > -1 {
					sum += v
					n++
				}
			}
		}
		if n == 0 {
			return -1
		}
		return sum / float64(n)
	}
	return [12]float64{
		mean(true, -1, 0, 2), mean(true, t50, 0, 2), mean(true, t75, 0, 2),
		mean(true, -1, 1, 2), mean(true, -1, 2, 2), mean(true, -1, 3, 2),
		mean(false, -1, 0, 0), mean(false, -1, 0, 1), mean(false, -1, 0, 2),
		mean(false, -1, 1, 2), mean(false, -1, 2, 2), mean(false, -1, 3, 2),
	}
}

// imgEval is evaluateImg's result for one (class, area range, image).
type imgEval struct {
	scores   []float64 // detections by descending score, at most maxDets[2]
	matched  [][]bool  // [T][D] matched to a ground truth
	dtIgnore [][]bool  // [T][D]
	gtIgnore []bool    // [G]
}

// Evaluate compares detections with the ground truth exactly as
// pycocotools' COCOeval(gt, dt, "bbox") with default parameters does
// (evaluate, accumulate, summarize), over all images of gt and all its
// categories:
//
//   - Per image and category, detections are sorted by descending score
//     (stable) and cut to the largest detection limit. A ground truth is
//     ignored when it is a crowd or its area lies outside the area range;
//     ignored ones are sorted last. IoU is the box IoU of the xywh boxes,
//     except that for a crowd ground truth the union is the detection's
//     area.
//   - At each IoU threshold t, each detection in score order takes the
//     ground truth of highest IoU ≥ min(t, 1−1e-10) that is not yet
//     matched (crowds may match many times), preferring regular ground
//     truths: once one is matched, ignored ones are not considered; a later
//     one with equal IoU wins. A detection matched to an ignored ground
//     truth, or unmatched with an area outside the range, is ignored.
//   - Per category, area range and detection limit, the detections of all
//     images (ascending image id) are stably sorted by descending score;
//     recall = TP/(non-ignored ground truths), precision =
//     TP/(TP+FP+2.22e-16) made non-increasing from the right, sampled at
//     the first index whose recall reaches each recall threshold, 0 past
//     the end. A category without ground truth in the range is −1.
//   - Stats average every entry above −1.
//
// Results must refer to images and categories of gt; anything else is an
// error (pycocotools rejects unknown images and silently skips unknown
// categories, which usually hides a class-index/category-id mix-up).
// Detections' areas are width·height, as COCO.loadRes sets them.
func Evaluate(gt *Dataset, results []Result, p Params) (*Eval, error) {
	p = p.withDefaults()
	if !(p.MaxDets[0] > 0 && p.MaxDets[0] <= p.MaxDets[1] && p.MaxDets[1] <= p.MaxDets[2]) {
		return nil, fmt.Errorf("coco: MaxDets %v must be positive and ascending", p.MaxDets)
	}
	K := len(gt.Categories)
	e := &Eval{
		Params:           p,
		IoUThresholds:    Linspace(0.5, 0.95, 10),
		RecallThresholds: Linspace(0, 1, 101),
		Classes:          K,
	}
	// Images in ascending id order, as COCOeval's params.imgIds.
	order := make([]int, len(gt.Images))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch ia, ib := gt.Images[a].ID, gt.Images[b].ID; {
		case ia < ib:
			return -1
		case ia > ib:
			return 1
		}
		return 0
	})
	I := len(order)
	pos := make([]int, I) // image index -> position in order
	for j, i := range order {
		pos[i] = j
	}
	// Ground truths and detections per (class, image position).
	gts := make([][]int, K*I)
	for i := range gt.Images {
		for _, a := range gt.byImage[i] {
			k := gt.catIndex[gt.Annotations[a].CategoryID]
			gts[k*I+pos[i]] = append(gts[k*I+pos[i]], a)
		}
	}
	dts := make([][]int, K*I)
	for j, r := range results {
		if err := checkResult(r); err != nil {
			return nil, fmt.Errorf("coco: results[%d]: %w", j, err)
		}
		i, ok := gt.imgIndex[r.ImageID]
		if !ok {
			return nil, fmt.Errorf("coco: results[%d]: image_id %d is not in %s: %w", j, r.ImageID, gt.name, ErrFormat)
		}
		k, ok := gt.catIndex[r.CategoryID]
		if !ok {
			return nil, fmt.Errorf("coco: results[%d]: category_id %d is not in %s: %w", j, r.CategoryID, gt.name, ErrFormat)
		}
		dts[k*I+pos[i]] = append(dts[k*I+pos[i]], j)
	}

	T, R := len(e.IoUThresholds), len(e.RecallThresholds)
	e.precision = make([]float64, T*R*K*4*3)
	e.recall = make([]float64, T*K*4*3)
	for i := range e.precision {
		e.precision[i] = -1
	}
	for i := range e.recall {
		e.recall[i] = -1
	}
	// Classes are independent: each writes only its own entries.
	parallel.For(K, 1, func(lo, hi int) {
		evals := make([]*imgEval, 4*I)
		for k := lo; k < hi; k++ {
			for ii := range I {
				g, d := gts[k*I+ii], dts[k*I+ii]
				if len(g) == 0 && len(d) == 0 {
					for a := range 4 {
						evals[a*I+ii] = nil
					}
					continue
				}
				dSorted, ious := computeIoU(gt, results, g, d, p.MaxDets[2])
				for a := range 4 {
					evals[a*I+ii] = evaluateImg(gt, results, g, dSorted, ious, p.AreaRanges[a], p.MaxDets[2], e.IoUThresholds)
				}
			}
			e.accumulate(k, evals, I)
		}
	})
	e.Stats = e.summarize(-1)
	return e, nil
}

// computeIoU sorts the detections d by descending score (stable), cuts
// them to maxDet and returns them with their IoUs [D][G] against g in file
// order (maskApi.c's bbIou).
func computeIoU(gt *Dataset, results []Result, g, d []int, maxDet int) ([]int, [][]float64) {
	d = slices.Clone(d)
	slices.SortStableFunc(d, func(a, b int) int {
		switch sa, sb := results[a].Score, results[b].Score; {
		case sa > sb:
			return -1
		case sa < sb:
			return 1
		}
		return 0
	})
	if len(d) > maxDet {
		d = d[:maxDet]
	}
	ious := make([][]float64, len(d))
	for di, dj := range d {
		ious[di] = make([]float64, len(g))
		D := results[dj].BBox
		da := D[2] * D[3]
		for gi, gj := range g {
			ann := gt.Annotations[gj]
			G := ann.BBox
			w := math.Min(D[2]+D[0], G[2]+G[0]) - math.Max(D[0], G[0])
			if w <= 0 {
				continue
			}
			h := math.Min(D[3]+D[1], G[3]+G[1]) - math.Max(D[1], G[1])
			if h <= 0 {
				continue
			}
			in := w * h
			u := da + G[2]*G[3] - in
			if ann.IsCrowd {
				u = da
			}
			ious[di][gi] = in / u
		}
	}
	return d, ious
}

// evaluateImg is COCOeval.evaluateImg for one image, class and area range;
// d is already sorted and cut, ious is [len(d)][len(g)].
func evaluateImg(gt *Dataset, results []Result, g, d []int, ious [][]float64, aRng [2]float64, maxDet int, thrs []float64) *imgEval {
	G := len(g)
	ign := make([]bool, G)
	for gi, gj := range g {
		ann := gt.Annotations[gj]
		ign[gi] = ann.IsCrowd || ann.Area < aRng[0] || ann.Area > aRng[1]
	}
	// Regular ground truths first, then ignored ones, stable.
	gtind := make([]int, 0, G)
	for gi := range G {
		if !ign[gi] {
			gtind = append(gtind, gi)
		}
	}
	for gi := range G {
		if ign[gi] {
			gtind = append(gtind, gi)
		}
	}
	if len(d) > maxDet {
		d = d[:maxDet]
	}
	D := len(d)
	ev := &imgEval{
		scores:   make([]float64, D),
		matched:  make([][]bool, len(thrs)),
		dtIgnore: make([][]bool, len(thrs)),
		gtIgnore: make([]bool, G),
	}
	crowd := make([]bool, G)
	for j, gi := range gtind {
		ev.gtIgnore[j] = ign[gi]
		crowd[j] = gt.Annotations[g[gi]].IsCrowd
	}
	for di, dj := range d {
		ev.scores[di] = results[dj].Score
	}
	gtm := make([]bool, G)
	for t, thr := range thrs {
		clear(gtm)
		matched := make([]bool, D)
		dtIg := make([]bool, D)
		if G > 0 && D > 0 {
			for di := range D {
				iou := math.Min(thr, 1-1e-10)
				m := -1
				for j, gi := range gtind {
					if gtm[j] && !crowd[j] {
						continue
					}
					if m > -1 && !ev.gtIgnore[m] && ev.gtIgnore[j] {
						break
					}
					if ious[di][gi] < iou {
						continue
					}
					iou = ious[di][gi]
					m = j
				}
				if m == -1 {
					continue
				}
				dtIg[di] = ev.gtIgnore[m]
				matched[di] = true
				gtm[m] = true
			}
		}
		for di, dj := range d {
			b := results[dj].BBox
			area := b[2] * b[3]
			if !matched[di] && (area < aRng[0] || area > aRng[1]) {
				dtIg[di] = true
			}
		}
		ev.matched[t], ev.dtIgnore[t] = matched, dtIg
	}
	return ev
}

// accumulate is COCOeval.accumulate for class k; evals holds the image
// evaluations [area][image position].
func (e *Eval) accumulate(k int, evals []*imgEval, I int) {
	T, R, K := len(e.IoUThresholds), len(e.RecallThresholds), e.Classes
	type entry struct {
		score float64
		img   int // index into E
		det   int
	}
	for a := range 4 {
		for m, maxDet := range e.Params.MaxDets {
			var E []*imgEval
			for ii := range I {
				if ev := evals[a*I+ii]; ev != nil {
					E = append(E, ev)
				}
			}
			if len(E) == 0 {
				continue
			}
			var dets []entry
			npig := 0
			for ei, ev := range E {
				for di := range min(maxDet, len(ev.scores)) {
					dets = append(dets, entry{ev.scores[di], ei, di})
				}
				for _, ig := range ev.gtIgnore {
					if !ig {
						npig++
					}
				}
			}
			if npig == 0 {
				continue
			}
			slices.SortStableFunc(dets, func(x, y entry) int {
				switch {
				case x.score > y.score:
					return -1
				case x.score < y.score:
					return 1
				}
				return 0
			})
			nd := len(dets)
			rc := make([]float64, nd)
			pr := make([]float64, nd)
			for t := range T {
				var tp, fp float64
				for j, de := range dets {
					ev := E[de.img]
					if !ev.dtIgnore[t][de.det] {
						if ev.matched[t][de.det] {
							tp++
						} else {
							fp++
						}
					}
					rc[j] = tp / float64(npig)
					pr[j] = tp / (fp + tp + 0x1p-52)
				}
				if nd > 0 {
					e.recall[((t*K+k)*4+a)*3+m] = rc[nd-1]
				} else {
					e.recall[((t*K+k)*4+a)*3+m] = 0
				}
				for i := nd - 1; i > 0; i-- {
					if pr[i] > pr[i-1] {
						pr[i-1] = pr[i]
					}
				}
				pi := 0
				for r, thr := range e.RecallThresholds {
					for pi < nd && rc[pi] < thr {
						pi++
					}
					q := 0.0
					if pi < nd {
						q = pr[pi]
					}
					e.precision[(((t*R+r)*K+k)*4+a)*3+m] = q
				}
			}
		}
	}
}
