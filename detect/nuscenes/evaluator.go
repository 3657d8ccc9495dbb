package nuscenes

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/disiam/disiam/detect"
	"github.com/disiam/disiam/eval"
)

// AttributeFor returns the attribute name a prediction of class name
// with attribute index attr (Attributes) is submitted with, as
// mmdetection3d's NuScenesMonoDataset.get_attr_name chooses it: the
// predicted attribute when it belongs to the class (vehicle.* for
// vehicles, pedestrian.* for pedestrians, cycle.* for bicycles and
// motorcycles), else DefaultAttribute[name]; cones and barriers get none.
func AttributeFor(name string, attr int) string {
	a := ""
	if attr >= 0 && attr < len(Attributes) {
		a = Attributes[attr]
	}
	prefix := ""
	switch name {
	case "car", "bus", "truck", "trailer", "construction_vehicle":
		prefix = "vehicle."
	case "pedestrian":
		prefix = "pedestrian."
	case "bicycle", "motorcycle":
		prefix = "cycle."
	}
	if prefix != "" && strings.HasPrefix(a, prefix) {
		return a
	}
	return DefaultAttribute[name]
}

// groundAttribute is a ground truth's attribute name ("" for none).
func groundAttribute(attr int) string {
	if attr < 0 || attr >= len(Attributes) || Attributes[attr] == "None" {
		return ""
	}
	return Attributes[attr]
}

// FromObjects converts one image's ground-truth objects (camera frame) to
// Boxes of sample; names maps class indices to detection names. Objects of
// a class without a name ("") are left out (KITTI's DontCare, say).
func FromObjects(sample string, objs []detect.Object, names []string) ([]Box, error) {
	var out []Box
	for k, o := range objs {
		if o.Class < 0 || o.Class >= len(names) {
			return nil, fmt.Errorf("nuscenes: sample %q object %d: class %d has no name (%d names)", sample, k, o.Class, len(names))
		}
		if names[o.Class] == "" {
			continue
		}
		out = append(out, FromCamera(sample, o, names[o.Class], groundAttribute(o.Attr), 0))
	}
	return out, nil
}

// FromDetections converts one image's detections to Boxes of sample, with
// the attribute AttributeFor chooses; detections of a class without a
// name are left out.
func FromDetections(sample string, dets []detect.Detection3D, names []string) ([]Box, error) {
	var out []Box
	for k, d := range dets {
		if d.Class < 0 || d.Class >= len(names) {
			return nil, fmt.Errorf("nuscenes: sample %q detection %d: class %d has no name (%d names)", sample, k, d.Class, len(names))
		}
		if names[d.Class] == "" {
			continue
		}
		out = append(out, FromCamera(sample, d.Object, names[d.Class], AttributeFor(names[d.Class], d.Attr), d.Score))
	}
	return out, nil
}

// SampleName names image i of a dataset for Box.Sample when the dataset
// has no tokens.
func SampleName(i int) string { return fmt.Sprintf("%06d", i) }

// Metric names of Evaluator's results (eval.Metrics).
const (
	MetricNDS = "nds"
	MetricMAP = "map"
)

// MetricsOf turns Metrics into eval.Metrics: nds, map and the mean TP
// errors mATE..mAAE (as "mate", "mase", "maoe", "mave", "maae"; NaN when
// no evaluated class defines them).
func MetricsOf(m *Metrics) eval.Metrics {
	ms := eval.Metrics{{Name: MetricNDS, Value: m.NDS}, {Name: MetricMAP, Value: m.MAP}}
	for i, n := range []string{"mate", "mase", "maoe", "mave", "maae"} {
		ms = append(ms, eval.Metric{Name: n, Value: m.TPErrors[i]})
	}
	return ms
}

// Evaluator measures an FCOS3D detector on a validation set with the
// nuScenes metrics (a train.Evaluator): every image of Data is predicted
// (detect.Predict3D with Input), detections and ground truth are turned
// into Boxes in the camera frame (FromCamera; sample i is SampleName(i)),
// and Evaluate runs with Config.
type Evaluator struct {
	Model *detect.FCOS3D
	Data  detect.Dataset
	Batch int
	Input detect.Input3D
	// Names maps class indices to detection names (nil: the dataset's
	// Classes, which must be nuScenes names, as synth.SyntheticDriving's
	// are).
	Names  []string
	Config Config
	// Last holds the metrics and the detections of the last evaluation.
	Last       *Metrics
	Detections [][]detect.Detection3D
}

// Evaluate implements train.Evaluator.
func (e *Evaluator) Evaluate(ctx context.Context) (eval.Metrics, error) {
	names := e.Names
	if names == nil {
		names = e.Data.Classes()
	}
	dets, err := detect.Predict3D(ctx, e.Model, e.Data, max(e.Batch, 1), e.Input)
	if err != nil {
		return nil, err
	}
	var gt, pred []Box
	for i := range e.Data.Len() {
		g, err := FromObjects(SampleName(i), e.Data.Objects(i), names)
		if err != nil {
			return nil, err
		}
		p, err := FromDetections(SampleName(i), dets[i], names)
		if err != nil {
			return nil, err
		}
		gt, pred = append(gt, g...), append(pred, p...)
	}
	m, err := Evaluate(gt, pred, e.Config)
	if err != nil {
		return nil, err
	}
	e.Last, e.Detections = m, dets
	return MetricsOf(m), nil
}

// PresentClasses returns the detection names of the classes that occur in
// the ground truth, in DetectionNames order: the Config.Classes of a data
// set that has only some of nuScenes' classes.
func PresentClasses(gt []Box) []string {
	var out []string
	for _, n := range DetectionNames {
		if slices.ContainsFunc(gt, func(b Box) bool { return b.Name == n }) {
			out = append(out, n)
		}
	}
	return out
}
