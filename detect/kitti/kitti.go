package kitti

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/disiam/disiam/detect"
)

// ErrFormat is wrapped by every error about a file's content; the message
// names the file, the line and the field.
var ErrFormat = errors.New("invalid KITTI data")

// Classes are the three classes mmdetection3d trains on KITTI, in its
// class-index order.
var Classes = []string{"Pedestrian", "Cyclist", "Car"}

// Label is one line of a KITTI object label_2 file.
type Label struct {
	// Type is the object type: Car, Van, Truck, Pedestrian,
	// Person_sitting, Cyclist, Tram, Misc or DontCare.
	Type string
	// Truncated is the fraction of the object outside the image, 0..1.
	Truncated float64
	// Occluded is 0 (fully visible), 1 (partly), 2 (largely), 3 (unknown).
	Occluded int
	// Alpha is the observation angle, −π..π.
	Alpha float64
	// Box is the 2D box in the image, x1 y1 x2 y2.
	Box detect.Box
	// H, W, L are the 3D dimensions, metres.
	H, W, L float64
	// Location is the bottom centre in the rectified camera frame.
	Location [3]float64
	// RotationY is the yaw about the camera's y axis, −π..π.
	RotationY float64
	// Score is the confidence of a result file's line (16th field), 0 in
	// ground truth (HasScore false).
	Score    float64
	HasScore bool
}

// Object returns the label as a detect.Object of class index class:
// gravity centre = Location with y − h/2 (KITTI's origin is the bottom
// centre), Size (l, h, w), Yaw = rotation_y, no velocity, Attr −1. Depth
// is the location's z, not a projection through P2.
func (l Label) Object(class int) detect.Object {
	return detect.Object{
		Class:  class,
		Box:    l.Box,
		Center: detect.GravityCenter(l.Location, l.H),
		Size:   [3]float64{l.L, l.H, l.W},
		Yaw:    l.RotationY,
		Attr:   -1,
	}
}

// Objects converts the labels whose Type is one of classes (class index =
// position in classes) and drops the others (DontCare, Misc, ...).
func Objects(labels []Label, classes []string) []detect.Object {
	var out []detect.Object
	for _, l := range labels {
		if k := slices.Index(classes, l.Type); k >= 0 {
			out = append(out, l.Object(k))
		}
	}
	return out
}

// ReadLabels reads a label_2 file.
func ReadLabels(path string) ([]Label, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("kitti: %w", err)
	}
	defer f.Close()
	return DecodeLabels(f, path)
}

// DecodeLabels reads label lines from r (15 fields, or 16 with a score);
// name labels errors. Blank lines are skipped. Numbers must be finite,
// DontCare aside the box must not be degenerate (x2 > x1, y2 > y1) and
// the dimensions must be positive; DontCare regions keep KITTI's −1
// placeholders for their 3D fields.
func DecodeLabels(r io.Reader, name string) ([]Label, error) {
	var out []Label
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) != 15 && len(f) != 16 {
			return nil, fmt.Errorf("kitti: %s: line %d: %d fields, want 15 or 16: %w", name, line, len(f), ErrFormat)
		}
		var v [15]float64
		fields := []string{"", "truncated", "occluded", "alpha", "x1", "y1", "x2", "y2", "h", "w", "l", "x", "y", "z", "rotation_y", "score"}
		for i := 1; i < len(f); i++ {
			x, err := strconv.ParseFloat(f[i], 64)
			if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
				return nil, fmt.Errorf("kitti: %s: line %d: %s %q is not a finite number: %w", name, line, fields[i], f[i], ErrFormat)
			}
			if i < 15 {
				v[i] = x
			}
		}
		l := Label{
			Type: f[0], Truncated: v[1], Occluded: int(v[2]), Alpha: v[3],
			Box: detect.Box{v[4], v[5], v[6], v[7]}, H: v[8], W: v[9], L: v[10],
			Location: [3]float64{v[11], v[12], v[13]}, RotationY: v[14],
		}
		if len(f) == 16 {
			l.Score, l.HasScore = mustFloat(f[15]), true
		}
		if l.Type != "DontCare" {
			if !(l.Box[2] > l.Box[0] && l.Box[3] > l.Box[1]) {
				return nil, fmt.Errorf("kitti: %s: line %d: %s: degenerate box %v: %w", name, line, l.Type, l.Box, ErrFormat)
			}
			if !(l.H > 0 && l.W > 0 && l.L > 0) {
				return nil, fmt.Errorf("kitti: %s: line %d: %s: dimensions h w l = %v %v %v must be positive: %w", name, line, l.Type, l.H, l.W, l.L, ErrFormat)
			}
		}
		out = append(out, l)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("kitti: %s: %w", name, err)
	}
	return out, nil
}

func mustFloat(s string) float64 {
	x, _ := strconv.ParseFloat(s, 64)
	return x
}

// Calib holds a KITTI object calib file: the four rectified projection
// matrices (P2 is the left colour camera of the images), the rectifying
// rotation and the lidar-to-camera transform.
type Calib struct {
	P           [4]detect.Camera
	R0Rect      [3][3]float64
	TrVeloToCam [3][4]float64
}

// ReadCalib reads a calib file.
func ReadCalib(path string) (Calib, error) {
	f, err := os.Open(path)
	if err != nil {
		return Calib{}, fmt.Errorf("kitti: %w", err)
	}
	defer f.Close()
	return DecodeCalib(f, path)
}

// DecodeCalib reads "KEY: numbers" lines; P0-P3 (12 numbers each) are
// required, R0_rect (9) and Tr_velo_to_cam (12) read when present; other
// keys are ignored. name labels errors.
func DecodeCalib(r io.Reader, name string) (Calib, error) {
	var c Calib
	seen := map[string]bool{}
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		key, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			if strings.TrimSpace(key) == "" {
				continue
			}
			return Calib{}, fmt.Errorf("kitti: %s: line %d: no \"KEY:\": %w", name, line, ErrFormat)
		}
		key = strings.TrimSpace(key)
		want := map[string]int{"P0": 12, "P1": 12, "P2": 12, "P3": 12, "R0_rect": 9, "Tr_velo_to_cam": 12}[key]
		if want == 0 {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != want {
			return Calib{}, fmt.Errorf("kitti: %s: line %d: %s has %d numbers, want %d: %w", name, line, key, len(f), want, ErrFormat)
		}
		v := make([]float64, want)
		for i, s := range f {
			x, err := strconv.ParseFloat(s, 64)
			if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
				return Calib{}, fmt.Errorf("kitti: %s: line %d: %s[%d] %q is not a finite number: %w", name, line, key, i, s, ErrFormat)
			}
			v[i] = x
		}
		seen[key] = true
		switch key {
		case "R0_rect":
			for i := range 9 {
				c.R0Rect[i/3][i%3] = v[i]
			}
		case "Tr_velo_to_cam":
			for i := range 12 {
				c.TrVeloToCam[i/4][i%4] = v[i]
			}
		default:
			k := int(key[1] - '0')
			for i := range 12 {
				c.P[k].P[i/4][i%4] = v[i]
			}
		}
	}
	if err := sc.Err(); err != nil {
		return Calib{}, fmt.Errorf("kitti: %s: %w", name, err)
	}
	for _, k := range []string{"P0", "P1", "P2", "P3"} {
		if !seen[k] {
			return Calib{}, fmt.Errorf("kitti: %s: no %s: %w", name, k, ErrFormat)
		}
	}
	return c, nil
}

// ReadSample reads sample id (e.g. "000123") of a KITTI object split
// directory (training/ or testing/): calib/ID.txt and, when present,
// label_2/ID.txt. It returns the camera P2 and the labels (nil for the
// test split).
func ReadSample(dir, id string) (detect.Camera, []Label, error) {
	c, err := ReadCalib(filepath.Join(dir, "calib", id+".txt"))
	if err != nil {
		return detect.Camera{}, nil, err
	}
	lp := filepath.Join(dir, "label_2", id+".txt")
	if _, err := os.Stat(lp); errors.Is(err, os.ErrNotExist) {
		return c.P[2], nil, nil
	}
	labels, err := ReadLabels(lp)
	return c.P[2], labels, err
}
