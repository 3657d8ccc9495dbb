package detect

import (
	"fmt"
	"math"
)

// Strides3D are FCOS3D's strides of P3..P7, and RegressRanges3D the
// ranges of max(l, t, r, b) (the distances from a point to the sides of
// an object's 2D box) each level learns, both ends inclusive
// (mmdetection3d's FCOSMono3DHead defaults; 1e8 is its INF).
var (
	Strides3D       = []float64{8, 16, 32, 64, 128}
	RegressRanges3D = [][2]float64{{-1, 48}, {48, 96}, {96, 192}, {192, 384}, {384, 1e8}}
)

// Level3D is one pyramid level as FCOS3D's assignment sees it.
type Level3D struct {
	// H, W is the map size; Stride the level's stride (8·2^l, whatever
	// the image size, as mmdetection's MlvlPointGenerator).
	H, W   int
	Stride float64
	// Range is the level's regress range (both ends inclusive).
	Range [2]float64
	// Offset is the index of the level's first point among all levels.
	Offset int
}

// Len is the number of points of the level.
func (l Level3D) Len() int { return l.H * l.W }

// NewLevels3D describes FCOS3D's levels for maps of the given sizes
// ([H, W] per level, finest first) with Strides3D and RegressRanges3D.
func NewLevels3D(maps [][2]int) ([]Level3D, error) {
	if len(maps) != len(Strides3D) {
		return nil, fmt.Errorf("detect: FCOS3D: %d pyramid levels, want %d", len(maps), len(Strides3D))
	}
	var out []Level3D
	off := 0
	for l, m := range maps {
		if m[0] <= 0 || m[1] <= 0 {
			return nil, fmt.Errorf("detect: FCOS3D: level %d: map %dx%d", l, m[0], m[1])
		}
		out = append(out, Level3D{H: m[0], W: m[1], Stride: Strides3D[l], Range: RegressRanges3D[l], Offset: off})
		off += m[0] * m[1]
	}
	return out, nil
}

// Points3D returns the points of all levels, level by level and row by
// row: the point of row i, column j of a level of stride s is (j·s +
// s/2, i·s + s/2), the centre of its cell (mmdetection's
// MlvlPointGenerator with offset 0.5; torchvision's FCOS anchors sit on
// the cell's corner instead).
func Points3D(levels []Level3D) [][2]float64 {
	var out [][2]float64
	for _, l := range levels {
		h := math.Floor(l.Stride / 2)
		for i := 0; i < l.H; i++ {
			for j := 0; j < l.W; j++ {
				out = append(out, [2]float64{float64(j)*l.Stride + h, float64(i)*l.Stride + h})
			}
		}
	}
	return out
}

// Regression3D is what FCOS3D regresses at one point, in the units of
// its training targets: Offset = (point − projected centre)/stride, Depth
// the projected centre's depth (Camera.Project's), Size (l, h, w), Rot
// the local yaw (LocalYaw), Velo (vx, vz), Dir the direction bin
// (DirBin(Rot, DirOffset)).
type Regression3D struct {
	Offset [2]float64
	Depth  float64
	Size   [3]float64
	Rot    float64
	Velo   [2]float64
	Dir    int
}

// EncodeTarget3D returns the regression target of object o for a point
// of the given stride, with o's centre projected by cam: mmdetection3d's
// _get_target_single (v1.x: local yaw yaw − atan2(x, z)) with
// norm_on_bbox (offsets in strides).
func EncodeTarget3D(point [2]float64, stride float64, o Object, cam Camera) Regression3D {
	u, v, d := cam.Project(o.Center)
	rot := LocalYaw(o.Yaw, o.Center)
	return Regression3D{
		Offset: [2]float64{(point[0] - u) / stride, (point[1] - v) / stride},
		Depth:  d,
		Size:   o.Size,
		Rot:    rot,
		Velo:   o.Velocity,
		Dir:    DirBin(rot, DirOffset),
	}
}

// DecodeRegression3D turns a point's regression into a 3D box, as
// FCOS3D's test-time decoding does: the projected centre is point −
// Offset·stride, the centre Unproject(u, v, Depth), the yaw
// DecodeDir(Rot, DirOffset, Dir) (mmdetection3d's decode_yaw) turned from
// local to global by the centre's ray angle atan2(x, z) and wrapped into
// [−π, π). mmdetection3d adds atan2(u − cx, fx) instead, the same angle
// for a camera K|0 (nuScenes); for a P with a non-zero fourth column
// (KITTI's P2) only atan2(x, z) inverts the target's local yaw exactly.
// Class, Attr and Box are left for the caller.
func DecodeRegression3D(point [2]float64, stride float64, r Regression3D, cam Camera) Object {
	u, v := point[0]-r.Offset[0]*stride, point[1]-r.Offset[1]*stride
	c := cam.Unproject(u, v, r.Depth)
	yaw := GlobalYaw(DecodeDir(r.Rot, DirOffset, r.Dir), c)
	return Object{Center: c, Size: r.Size, Yaw: LimitPeriod(yaw, 0.5, 2*math.Pi), Velocity: r.Velo, Attr: -1}
}

// Assign3D is FCOS3D's assignment (mmdetection3d's _get_target_single
// with center_sampling): a point (x, y) of a level of stride s may learn
// object g, whose centre projects to (u, v), when
//
//  1. |x − u| < radius·s and |y − v| < radius·s (strictly inside the
//     square around the projected 3D centre; there is no inside-the-2D-box
//     test, so a truncated object whose centre lies outside the image
//     still gets points near the border),
//  2. max(x − x1, y − y1, x2 − x, y2 − y) of g's 2D box lies within the
//     level's Range, both ends included;
//
// of several candidates it takes the one whose projected centre is
// nearest ((x − u)² + (y − v)², the first on ties). It returns one index
// into objs per point, −1 for background. centers are the objects'
// projected centres. Arithmetic is float64 (mmdetection3d's float32 can
// decide differently only within float32 rounding of a bound).
func Assign3D(levels []Level3D, points [][2]float64, objs []Object, centers [][2]float64, radius float64) []int {
	out := make([]int, len(points))
	for i := range out {
		out[i] = -1
	}
	for _, l := range levels {
		rs := radius * l.Stride
		for a := l.Offset; a < l.Offset+l.Len(); a++ {
			x, y := points[a][0], points[a][1]
			best, bestD := -1, math.Inf(1)
			for k, o := range objs {
				dx, dy := x-centers[k][0], y-centers[k][1]
				if !(rs-math.Abs(dx) > 0 && rs-math.Abs(dy) > 0) {
					continue
				}
				b := o.Box
				m := max(x-b[0], y-b[1], b[2]-x, b[3]-y)
				if !(m >= l.Range[0] && m <= l.Range[1]) {
					continue
				}
				if d := math.Sqrt(dx*dx + dy*dy); d < bestD {
					best, bestD = k, d
				}
			}
			out[a] = best
		}
	}
	return out
}

// Targets3D are the per-batch inputs of FCOS3D's losses, per point of
// every image (index i·A + a), computed in plain Go by BuildTargets3D.
type Targets3D struct {
	// Matched holds, per image and point, the index of the assigned
	// object among the image's objects, or −1.
	Matched [][]int
	// Class is the target class (−1: background); Foreground 1 or 0.
	Class, Foreground []float64
	// Offset [·, 2], Depth, Size [·, 3], Rot, Velo [·, 2]: the regression
	// targets (Regression3D), zero on background.
	Offset, Depth, Size, Rot, Velo []float64
	// Dir is the direction bin (−1 on background); Attr the attribute
	// (−1: background or none) and AttrWeight the attribute loss' weight,
	// the centre-ness target where the object has an attribute, else 0.
	Dir, Attr, AttrWeight []float64
	// Ctr is the centre-ness target exp(−α·‖point − centre‖/(1.414·radius·stride)).
	Ctr []float64
	// NumPositive counts the positive points of the batch, NumImages its
	// images.
	NumPositive, NumImages int
}

// avgEps is mmdetection 3.x's weight_reduce_loss epsilon, float32's
// machine epsilon, added to every avg_factor.
const avgEps = 1.1920928955078125e-07

// ClsNormalizer is 1/(positives + images + ε), the classification loss'
// factor (mmdetection3d's avg_factor num_pos + num_imgs; mmdetection 3.x
// adds ε = 2⁻²³ to every avg_factor).
func (t *Targets3D) ClsNormalizer() float64 {
	return 1 / (float64(t.NumPositive+t.NumImages) + avgEps)
}

// PosNormalizer is 1/(positives + ε), the factor of the regression and
// direction losses (1 without positives, when they are empty sums).
func (t *Targets3D) PosNormalizer() float64 {
	if t.NumPositive == 0 {
		return 1
	}
	return 1 / (float64(t.NumPositive) + avgEps)
}

// CtrNormalizer is 1/positives, the centre-ness loss' mean (no
// avg_factor, so no ε; 1 without positives).
func (t *Targets3D) CtrNormalizer() float64 { return 1 / math.Max(1, float64(t.NumPositive)) }

// AttrNormalizer is 1/(Σ AttrWeight + ε) (1 when nothing has an
// attribute, an empty sum).
func (t *Targets3D) AttrNormalizer() float64 {
	var s float64
	for _, w := range t.AttrWeight {
		s += w
	}
	if s == 0 {
		return 1
	}
	return 1 / (s + avgEps)
}

// Target3DConfig holds the assignment settings of BuildTargets3D.
type Target3DConfig struct {
	Classes, Attrs int
	// Radius is the centre-sampling radius in strides (1.5); Alpha the
	// centre-ness sharpness (2.5).
	Radius, Alpha float64
}

// BuildTargets3D assigns the objects of each image (objects[i], seen by
// cams[i]) to the points (Assign3D) and fills the loss targets as
// mmdetection3d's FCOSMono3DHead.get_targets does. Crowd objects are left
// out. An object with a degenerate 2D box, a class outside [0, Classes),
// an attribute outside [−1, Attrs), a non-finite or non-positive size, a
// non-finite yaw or velocity, or a centre that does not project in front
// of the camera is an error naming the image and the object.
func BuildTargets3D(cfg Target3DConfig, levels []Level3D, points [][2]float64, objects [][]Object, cams []Camera) (*Targets3D, error) {
	if len(cams) != len(objects) {
		return nil, fmt.Errorf("detect: targets: %d cameras for %d images", len(cams), len(objects))
	}
	na, n := len(points), len(objects)
	t := &Targets3D{Matched: make([][]int, n), NumImages: n,
		Class: make([]float64, n*na), Foreground: make([]float64, n*na),
		Offset: make([]float64, 2*n*na), Depth: make([]float64, n*na), Size: make([]float64, 3*n*na),
		Rot: make([]float64, n*na), Velo: make([]float64, 2*n*na),
		Dir: make([]float64, n*na), Attr: make([]float64, n*na), AttrWeight: make([]float64, n*na),
		Ctr: make([]float64, n*na)}
	stride := make([]float64, na)
	for _, l := range levels {
		for a := l.Offset; a < l.Offset+l.Len(); a++ {
			stride[a] = l.Stride
		}
	}
	for i, objs := range objects {
		var keep []Object
		var index []int
		var centers [][2]float64
		for k, o := range objs {
			if err := checkObject3D(o, cams[i], cfg); err != nil {
				return nil, fmt.Errorf("detect: targets: image %d, object %d: %w", i, k, err)
			}
			if o.Crowd {
				continue
			}
			u, v, _ := cams[i].Project(o.Center)
			keep, index, centers = append(keep, o), append(index, k), append(centers, [2]float64{u, v})
		}
		m := Assign3D(levels, points, keep, centers, cfg.Radius)
		t.Matched[i] = make([]int, na)
		for a, g := range m {
			r := i*na + a
			t.Class[r], t.Dir[r], t.Attr[r], t.Matched[i][a] = -1, -1, -1, -1
			if g < 0 {
				continue
			}
			o := keep[g]
			t.Matched[i][a] = index[g]
			t.Class[r], t.Foreground[r] = float64(o.Class), 1
			t.NumPositive++
			e := EncodeTarget3D(points[a], stride[a], o, cams[i])
			copy(t.Offset[2*r:2*r+2], e.Offset[:])
			t.Depth[r] = e.Depth
			copy(t.Size[3*r:3*r+3], e.Size[:])
			t.Rot[r] = e.Rot
			copy(t.Velo[2*r:2*r+2], e.Velo[:])
			t.Dir[r] = float64(e.Dir)
			dist := math.Hypot(e.Offset[0]*stride[a], e.Offset[1]*stride[a])
			t.Ctr[r] = math.Exp(-cfg.Alpha * dist / (1.414 * cfg.Radius * stride[a]))
			if o.Attr >= 0 {
				t.Attr[r], t.AttrWeight[r] = float64(o.Attr), t.Ctr[r]
			}
		}
	}
	return t, nil
}

func checkObject3D(o Object, cam Camera, cfg Target3DConfig) error {
	if o.Class < 0 || o.Class >= cfg.Classes {
		return fmt.Errorf("class %d outside [0, %d)", o.Class, cfg.Classes)
	}
	if !o.Box.Valid() {
		return fmt.Errorf("degenerate box %v (want finite, x2 > x1, y2 > y1)", o.Box)
	}
	if o.Attr < -1 || o.Attr >= max(cfg.Attrs, 0) && o.Attr != -1 {
		return fmt.Errorf("attribute %d outside [-1, %d)", o.Attr, cfg.Attrs)
	}
	for _, s := range o.Size {
		if !(s > 0) || math.IsInf(s, 0) {
			return fmt.Errorf("size %v (want finite and > 0)", o.Size)
		}
	}
	if !finite(o.Yaw, o.Velocity[0], o.Velocity[1], o.Center[0], o.Center[1], o.Center[2]) {
		return fmt.Errorf("non-finite centre %v, yaw %v or velocity %v", o.Center, o.Yaw, o.Velocity)
	}
	if _, _, d := cam.Project(o.Center); !(d > 0) {
		return fmt.Errorf("centre %v projects to depth %v (behind the camera)", o.Center, d)
	}
	return nil
}

func finite(vs ...float64) bool {
	for _, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}
