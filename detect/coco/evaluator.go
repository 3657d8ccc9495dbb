package coco

import (
	"context"
	"fmt"

	"github.com/disiam/disiam/detect"
	"github.com/disiam/disiam/eval"
)

// Metric names of Evaluator, in Eval.Stats' order: "mAP" (AP at IoU
// 0.50:0.95), "mAP50" (the thesis' mAP@0.5), "mAP75", the AP of small,
// medium and large objects, and the average recalls.
var MetricNames = [12]string{"mAP", "mAP50", "mAP75", "mAPs", "mAPm", "mAPl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"}

// Metric names of the two numbers most tables report.
const (
	MetricAP   = "mAP"
	MetricAP50 = "mAP50"
)

// FromDataset returns the ground truth of a detection dataset as a COCO
// dataset: image i has id i+1 and its own size, class k is category k+1
// with the class's name, and an object's area is its box's (the area
// range of a COCO statistic is decided by it). A dataset read by
// OpenImages returns its own annotations instead (their areas are the
// file's).
func FromDataset(ds detect.Dataset) (*Dataset, error) {
	if im, ok := ds.(*Images); ok {
		return im.Dataset, nil
	}
	var cats []Category
	for k, name := range ds.Classes() {
		cats = append(cats, Category{ID: int64(k + 1), Name: name})
	}
	var imgs []Image
	var anns []Annotation
	for i := range ds.Len() {
		img := ds.Image(i)
		imgs = append(imgs, Image{ID: int64(i + 1), Width: img.W, Height: img.H})
		for _, o := range ds.Objects(i) {
			xywh := BoxToXYWH(o.Box)
			anns = append(anns, Annotation{ID: int64(len(anns) + 1), ImageID: int64(i + 1), CategoryID: int64(o.Class + 1),
				BBox: xywh, Area: xywh[2] * xywh[3], IsCrowd: o.Crowd})
		}
	}
	return New("ground truth", imgs, anns, cats)
}

// Evaluator measures a detector's COCO box statistics on a dataset, as a
// train.Evaluator: it runs the model in Eval mode on every image of the
// loader (an evaluation loader: no flip, no shuffle), maps the
// detections back to the images' own pixels (Placement.Original), and
// evaluates them against the ground truth with Evaluate (pycocotools'
// COCOeval). The metrics are the 12 statistics as fractions, named
// MetricNames; a statistic without ground truth (no small objects, say)
// is −1, as pycocotools prints it.
type Evaluator struct {
	Model  *detect.FCOS
	Loader *detect.Loader
	// GT is the ground truth, its images in the loader's dataset order;
	// nil means FromDataset of the loader's dataset.
	GT *Dataset
	// Params are the evaluation's (zero: COCO's).
	Params Params

	pred *detect.Predictor
	last *Eval
}

// Predict runs the detector over the loader's dataset and returns the
// detections in COCO's results format (the images' own pixels).
func (e *Evaluator) Predict(ctx context.Context) ([]Result, error) {
	if e.GT == nil {
		gt, err := FromDataset(e.Loader.Dataset())
		if err != nil {
			return nil, err
		}
		e.GT = gt
	}
	n := e.Loader.Dataset().Len()
	if len(e.GT.Images) != n {
		return nil, fmt.Errorf("coco: evaluator: %d ground-truth images for %d dataset images", len(e.GT.Images), n)
	}
	B := e.Loader.Batch()
	t := e.Loader.Transform()
	if e.pred == nil {
		p, err := e.Model.NewPredictor(B, t.Height, t.Width)
		if err != nil {
			return nil, err
		}
		e.pred = p
	}
	var out []Result
	order := e.Loader.Order(0)
	for lo := 0; lo < n; lo += B {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		idx := order[lo:min(lo+B, n)]
		b := e.Loader.Load(idx, 0)
		x := e.pred.Images().Data().([]float32)
		copy(x, b.Images)
		clear(x[len(b.Images):]) // a last partial batch: zero images, ignored
		dets, err := e.pred.Predict()
		if err != nil {
			return nil, err
		}
		for s, i := range idx {
			ds := make([]detect.Detection, len(dets[s]))
			for j, d := range dets[s] {
				d.Box = b.Placements[s].Original(d.Box)
				ds[j] = d
			}
			rs, err := e.GT.Results(e.GT.Images[i].ID, ds)
			if err != nil {
				return nil, err
			}
			out = append(out, rs...)
		}
	}
	return out, nil
}

// Evaluate implements train.Evaluator.
func (e *Evaluator) Evaluate(ctx context.Context) (eval.Metrics, error) {
	rs, err := e.Predict(ctx)
	if err != nil {
		return nil, err
	}
	ev, err := Evaluate(e.GT, rs, e.Params)
	if err != nil {
		return nil, err
	}
	e.last = ev
	ms := make(eval.Metrics, len(MetricNames))
	for i, name := range MetricNames {
		ms[i] = eval.Metric{Name: name, Value: ev.Stats[i], Percent: true}
	}
	return ms, nil
}

// Last returns the last evaluation (per-class statistics, the precision
// arrays), nil before the first.
func (e *Evaluator) Last() *Eval { return e.last }

// Close releases the compiled inference graph.
func (e *Evaluator) Close() error {
	if e.pred == nil {
		return nil
	}
	err := e.pred.Close()
	e.pred = nil
	return err
}
