package nuscenes

import (
	"math"
	"slices"

	"github.com/disiam/disiam/detect"
)

// BEVIoU is the IoU of the two boxes' rotated bird's-eye-view rectangles.
func BEVIoU(a, b Box) float64 { return detect.RectIoU(a.Rect(), b.Rect()) }

// IoU3D is the 3D IoU of two boxes: the BEV intersection times the overlap
// of the vertical extents (centre z ± h/2) over the union of the volumes.
func IoU3D(a, b Box) float64 {
	in := detect.RectIntersection(a.Rect(), b.Rect())
	lo := math.Max(a.Translation[2]-a.Size[2]/2, b.Translation[2]-b.Size[2]/2)
	hi := math.Min(a.Translation[2]+a.Size[2]/2, b.Translation[2]+b.Size[2]/2)
	in *= math.Max(hi-lo, 0)
	u := a.Size[0]*a.Size[1]*a.Size[2] + b.Size[0]*b.Size[1]*b.Size[2] - in
	if u <= 0 {
		return 0
	}
	return in / u
}

// IoUMetrics are the results of EvaluateIoU.
type IoUMetrics struct {
	Thresholds []float64
	// AP[c][t] is the AP of DetectionNames[c] at Thresholds[t]; NaN for a
	// class without ground truth.
	AP [][]float64
	// MAP[t] averages AP[·][t] over the classes with ground truth (NaN if
	// there are none): mAP@0.25, mAP@0.5, ...
	MAP []float64
}

// EvaluateIoU computes IoU-based AP, the mAP@0.25/0.5 of mmdetection3d's
// indoor_eval (ScanNet, SUN RGB-D) with a caller-chosen IoU (BEVIoU or
// IoU3D). Per class, predictions are taken by descending score (stable:
// ties in input order); each finds the ground truth of its sample with
// the highest IoU, matched or not. It is a true positive when that IoU
// exceeds the threshold and the ground truth is still unmatched, else a
// false positive (a duplicate on a matched ground truth counts as false,
// not as a match to the next best). AP is the area under the
// precision–recall curve after making precision non-increasing from the
// right (VOC's "area" AP). The class range filter of cfg applies, as in
// Evaluate; the other Config fields are not used. Inputs are checked as
// in Evaluate.
func EvaluateIoU(gt, pred []Box, thresholds []float64, iou func(a, b Box) float64, cfg Config) (*IoUMetrics, error) {
	cfg.DistThs, cfg.DistThTP = []float64{0}, 0
	for i, b := range gt {
		if err := b.Check(false); err != nil {
			return nil, errorf("ground truth", i, b, err)
		}
	}
	for i, b := range pred {
		if err := b.Check(true); err != nil {
			return nil, errorf("prediction", i, b, err)
		}
	}
	gs, ps := group(gt).filter(cfg, true), group(pred).filter(cfg, false)
	m := &IoUMetrics{Thresholds: slices.Clone(thresholds), AP: make([][]float64, len(DetectionNames)), MAP: make([]float64, len(thresholds))}
	nClasses := 0
	for c, name := range DetectionNames {
		m.AP[c] = make([]float64, len(thresholds))
		npos := 0
		for _, b := range gs.all() {
			if b.Name == name {
				npos++
			}
		}
		if npos == 0 {
			for t := range thresholds {
				m.AP[c][t] = math.NaN()
			}
			continue
		}
		nClasses++
		var preds []Box
		for _, b := range ps.all() {
			if b.Name == name {
				preds = append(preds, b)
			}
		}
		slices.SortStableFunc(preds, func(a, b Box) int {
			switch {
			case a.Score > b.Score:
				return -1
			case a.Score < b.Score:
				return 1
			}
			return 0
		})
		for t, thr := range thresholds {
			taken := map[*Box]bool{}
			tp := make([]float64, len(preds))
			fp := make([]float64, len(preds))
			for d, p := range preds {
				best, bestIoU := (*Box)(nil), math.Inf(-1)
				list := gs.boxes[p.Sample]
				for j := range list {
					if list[j].Name != name {
						continue
					}
					if v := iou(p, list[j]); v > bestIoU {
						best, bestIoU = &list[j], v
					}
				}
				if best != nil && bestIoU > thr && !taken[best] {
					tp[d] = 1
					taken[best] = true
				} else {
					fp[d] = 1
				}
			}
			m.AP[c][t] = areaAP(tp, fp, npos)
		}
	}
	for t := range thresholds {
		if nClasses == 0 {
			m.MAP[t] = math.NaN()
			continue
		}
		var s float64
		for c := range DetectionNames {
			if !math.IsNaN(m.AP[c][t]) {
				s += m.AP[c][t]
			}
		}
		m.MAP[t] = s / float64(nClasses)
	}
	return m, nil
}

// areaAP is VOC's area AP of a ranked list of TP/FP flags.
func areaAP(tp, fp []float64, npos int) float64 {
	n := len(tp)
	mrec := make([]float64, n+2)
	mpre := make([]float64, n+2)
	var ctp, cfp float64
	for i := range n {
		ctp += tp[i]
		cfp += fp[i]
		mrec[i+1] = ctp / float64(npos)
		mpre[i+1] = ctp / math.Max(ctp+cfp, 0x1p-52)
	}
	mrec[n+1] = 1
	for i := n + 1; i > 0; i-- {
		mpre[i-1] = math.Max(mpre[i-1], mpre[i])
	}
	var ap float64
	for i := 0; i+1 < len(mrec); i++ {
		if mrec[i+1] != mrec[i] {
			ap += (mrec[i+1] - mrec[i]) * mpre[i+1]
		}
	}
	return ap
}
