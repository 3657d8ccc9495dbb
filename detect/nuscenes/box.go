package nuscenes

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/disiam/disiam/detect"
)

// ErrFormat is wrapped by every error about invalid boxes or files; the
// message names the file, the record and the field.
var ErrFormat = errors.New("invalid nuScenes data")

// DetectionNames are the 10 nuScenes detection classes in the devkit's
// order (configs/detection_cvpr_2019.json).
var DetectionNames = []string{"car", "truck", "bus", "trailer", "construction_vehicle", "pedestrian", "motorcycle", "bicycle", "traffic_cone", "barrier"}

// Classes are the 10 detection classes in mmdetection3d's order, the
// class indices (logit order) of its nuScenes models and of the
// category ids its COCO-mono3d converter writes.
var Classes = []string{"car", "truck", "trailer", "bus", "construction_vehicle", "bicycle", "motorcycle", "pedestrian", "traffic_cone", "barrier"}

// Attributes are the nuScenes attribute names in mmdetection3d's order,
// the attribute indices (attribute_id, FCOS3D's attribute logits); index 8,
// "None", is an object without attribute ("" in the devkit).
var Attributes = []string{"cycle.with_rider", "cycle.without_rider", "pedestrian.moving", "pedestrian.standing", "pedestrian.sitting_lying_down", "vehicle.moving", "vehicle.parked", "vehicle.stopped", "None"}

// DefaultAttribute is the attribute mmdetection3d's nuScenes output
// assigns when an attribute does not fit the class (the devkit rejects
// such pairs); cones and barriers get none.
var DefaultAttribute = map[string]string{
	"car": "vehicle.parked", "pedestrian": "pedestrian.moving", "trailer": "vehicle.parked",
	"truck": "vehicle.parked", "bus": "vehicle.moving", "motorcycle": "cycle.without_rider",
	"construction_vehicle": "vehicle.parked", "bicycle": "cycle.without_rider",
	"barrier": "", "traffic_cone": "",
}

// attrAllowed says whether attr is a nuScenes attribute name or "".
func attrAllowed(attr string) bool {
	return attr == "" || slices.Contains(Attributes[:8], attr)
}

// Box is one ground-truth or predicted box as the devkit's DetectionBox
// holds it, in a right-handed frame with z up (the ego or global frame of
// nuScenes; FromCamera gives one for camera-frame objects).
type Box struct {
	// Sample identifies the sample (the devkit's sample_token).
	Sample string
	// Translation is the box centre, metres.
	Translation [3]float64
	// Size is width, length, height (the devkit's wlh), metres, all > 0.
	Size [3]float64
	// Rotation is the orientation quaternion (w, x, y, z).
	Rotation [4]float64
	// Velocity is (vx, vy) in the same frame, metres per second.
	Velocity [2]float64
	// Name is the detection class (DetectionNames).
	Name string
	// Attribute is the attribute name, "" for none.
	Attribute string
	// Score is a prediction's confidence (ignored for ground truth).
	Score float64
	// Ego is the ego vehicle's (x, y) in the box's frame: the class range
	// filter measures the distance from it. Zero when the boxes are in the
	// ego or camera frame.
	Ego [2]float64
	// NoPoints marks a ground-truth box without lidar or radar points,
	// which the devkit drops.
	NoPoints bool
	// InBikeRack marks a ground-truth bicycle or motorcycle inside a bike
	// rack, which the devkit drops.
	InBikeRack bool
}

// YawQuaternion returns the quaternion (w, x, y, z) of a rotation by yaw
// about the z axis: (cos(yaw/2), 0, 0, sin(yaw/2)).
func YawQuaternion(yaw float64) [4]float64 {
	return [4]float64{math.Cos(yaw / 2), 0, 0, math.Sin(yaw / 2)}
}

// Yaw returns the heading of the box about z, in (−π, π]: the angle of the
// rotated x axis projected on the xy plane, as the devkit's quaternion_yaw.
func (b Box) Yaw() float64 {
	q := b.Rotation
	n := math.Sqrt(q[0]*q[0] + q[1]*q[1] + q[2]*q[2] + q[3]*q[3])
	w, x, y, z := q[0]/n, q[1]/n, q[2]/n, q[3]/n
	return math.Atan2(2*(x*y+w*z), w*w+x*x-y*y-z*z)
}

// EgoDist returns the BEV distance from the ego position to the centre.
func (b Box) EgoDist() float64 {
	dx, dy := b.Translation[0]-b.Ego[0], b.Translation[1]-b.Ego[1]
	return math.Sqrt(dx*dx + dy*dy)
}

// Rect returns the box's bird's-eye view: centre (x, y), length along the
// heading, width across it.
func (b Box) Rect() detect.Rect {
	return detect.Rect{X: b.Translation[0], Y: b.Translation[1], L: b.Size[1], W: b.Size[0], Angle: b.Yaw()}
}

// FromCamera converts an object in the camera frame (x right, y down, z
// forward, gravity centre, size l h w, KITTI rotation_y, velocity (vx,
// vz)) to a Box in the right-handed frame x forward, y left, z up whose
// origin is the camera: translation (z, −x, −y), size (w, l, h), yaw
// −rotation_y − π/2 (mmdetection3d's camera-to-lidar convention), velocity
// (vz, −vx). Distances, sizes and yaw differences are those of the camera
// frame's ground plane (x, z), which is how camera-only data without ego
// poses (KITTI, synthetic scenes) is evaluated. name and attribute are
// the class and attribute names; score is kept for predictions.
func FromCamera(sample string, o detect.Object, name, attribute string, score float64) Box {
	return Box{
		Sample:      sample,
		Translation: [3]float64{o.Center[2], -o.Center[0], -o.Center[1]},
		Size:        [3]float64{o.Size[2], o.Size[0], o.Size[1]},
		Rotation:    YawQuaternion(-o.Yaw - math.Pi/2),
		Velocity:    [2]float64{o.Velocity[1], -o.Velocity[0]},
		Name:        name,
		Attribute:   attribute,
		Score:       score,
	}
}

// Check validates a box as the devkit's DetectionBox does: a known class,
// a known attribute (or none), finite numbers, sizes > 0 and a
// finite score. pred says whether the score is checked.
func (b Box) Check(pred bool) error {
	if !slices.Contains(DetectionNames, b.Name) {
		return fmt.Errorf("detection_name %q is not a nuScenes detection class: %w", b.Name, ErrFormat)
	}
	if !attrAllowed(b.Attribute) {
		return fmt.Errorf("attribute_name %q is not a nuScenes attribute: %w", b.Attribute, ErrFormat)
	}
	finite := func(field string, v []float64) error {
		for i, x := range v {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return fmt.Errorf("%s[%d] = %v: %w", field, i, x, ErrFormat)
			}
		}
		return nil
	}
	if err := finite("translation", b.Translation[:]); err != nil {
		return err
	}
	if err := finite("size", b.Size[:]); err != nil {
		return err
	}
	if err := finite("rotation", b.Rotation[:]); err != nil {
		return err
	}
	if err := finite("velocity", b.Velocity[:]); err != nil {
		return err
	}
	for i, s := range b.Size {
		if s <= 0 {
			return fmt.Errorf("size[%d] = %v, must be > 0: %w", i, s, ErrFormat)
		}
	}
	if b.Rotation == [4]float64{} {
		return fmt.Errorf("rotation is the zero quaternion: %w", ErrFormat)
	}
	if pred && (math.IsNaN(b.Score) || math.IsInf(b.Score, 0)) {
		return fmt.Errorf("detection_score %v: %w", b.Score, ErrFormat)
	}
	return nil
}

func errorf(what string, i int, b Box, err error) error {
	return fmt.Errorf("nuscenes: %s %d (sample %q): %w", what, i, b.Sample, err)
}
