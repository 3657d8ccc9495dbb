package detect

import (
	"fmt"
	"math"
	"slices"
)

// Camera is a pinhole camera's 3×4 projection matrix, from the camera frame
// (x right, y down, z forward, metres) to pixels: K|0 for an intrinsic
// matrix K, or KITTI's P2, whose 4th column (the offset from the reference
// camera) is not zero. A pixel coordinate u runs from 0 at the left edge of
// the image to W at its right edge, so the centre of pixel column i is
// i + 0.5 (torchvision's and mmdetection's box convention).
type Camera struct {
	P [3][4]float64
}

// NewCamera returns the camera K|0 with K = [[fx, 0, cx], [0, fy, cy],
// [0, 0, 1]].
func NewCamera(fx, fy, cx, cy float64) Camera {
	return Camera{P: [3][4]float64{{fx, 0, cx, 0}, {0, fy, cy, 0}, {0, 0, 1, 0}}}
}

// Fx, Fy, Cx and Cy read the intrinsics of the matrix.
func (c Camera) Fx() float64 { return c.P[0][0] }
func (c Camera) Fy() float64 { return c.P[1][1] }
func (c Camera) Cx() float64 { return c.P[0][2] }
func (c Camera) Cy() float64 { return c.P[1][2] }

// Project maps a point of the camera frame to pixel (u, v) and its depth,
// the third homogeneous coordinate of P·[x, y, z, 1] (mmdetection3d's
// points_cam2img with_depth): z itself for K|0, z + P[2][3] for KITTI's P2
// (a 2.7 mm difference). FCOS3D regresses this depth, so Unproject inverts
// Project exactly.
func (c Camera) Project(p [3]float64) (u, v, depth float64) {
	var h [3]float64
	for r := range 3 {
		h[r] = c.P[r][0]*p[0] + c.P[r][1]*p[1] + c.P[r][2]*p[2] + c.P[r][3]
	}
	return h[0] / h[2], h[1] / h[2], h[2]
}

// Unproject maps pixel (u, v) at depth back to the camera frame: the
// inverse of the 4×4 matrix [P; 0 0 0 1] applied to [u·d, v·d, d, 1], as
// FCOS3D's pts2Dto3D. It panics when P's left 3×3 block is singular (not a
// camera).
func (c Camera) Unproject(u, v, depth float64) [3]float64 {
	b := [3]float64{u*depth - c.P[0][3], v*depth - c.P[1][3], depth - c.P[2][3]}
	m := [3][3]float64{
		{c.P[0][0], c.P[0][1], c.P[0][2]},
		{c.P[1][0], c.P[1][1], c.P[1][2]},
		{c.P[2][0], c.P[2][1], c.P[2][2]},
	}
	det := m[0][0]*(m[1][1]*m[2][2]-m[1][2]*m[2][1]) - m[0][1]*(m[1][0]*m[2][2]-m[1][2]*m[2][0]) + m[0][2]*(m[1][0]*m[2][1]-m[1][1]*m[2][0])
	if det == 0 {
		panic(fmt.Sprintf("detect: camera %v is singular", c.P))
	}
	// Cramer's rule.
	var out [3]float64
	for k := range 3 {
		mk := m
		for r := range 3 {
			mk[r][k] = b[r]
		}
		out[k] = (mk[0][0]*(mk[1][1]*mk[2][2]-mk[1][2]*mk[2][1]) - mk[0][1]*(mk[1][0]*mk[2][2]-mk[1][2]*mk[2][0]) + mk[0][2]*(mk[1][0]*mk[2][1]-mk[1][1]*mk[2][0])) / det
	}
	return out
}

// Resized returns the camera of the image resized by sx horizontally and
// sy vertically: rows 0 and 1 of P scale (fx, cx by sx; fy, cy by sy);
// depths do not change.
func (c Camera) Resized(sx, sy float64) Camera {
	for k := range 4 {
		c.P[0][k] *= sx
		c.P[1][k] *= sy
	}
	return c
}

// Cropped returns the camera of the image cropped at (top, left): pixel
// (u, v) becomes (u − left, v − top), so cx −= left, cy −= top (row 2 of P
// times the offset is taken from rows 0 and 1).
func (c Camera) Cropped(top, left float64) Camera {
	for k := range 4 {
		c.P[0][k] -= left * c.P[2][k]
		c.P[1][k] -= top * c.P[2][k]
	}
	return c
}

// Flipped returns the camera of the image of width w flipped left to right
// for the mirrored scene (points (x, y, z) → (−x, y, z)): pixel u becomes
// w − u. For K|0 this is mmdetection3d's cx → w − cx; for a P with a
// non-zero 4th column P[0][3] also becomes w·P[2][3] − P[0][3], which
// keeps the projection exact.
func (c Camera) Flipped(w float64) Camera {
	var f Camera
	for k := range 4 {
		f.P[0][k] = w*c.P[2][k] - c.P[0][k]
		f.P[1][k] = c.P[1][k]
		f.P[2][k] = c.P[2][k]
	}
	// The scene is mirrored too: column 0 multiplies −x.
	for r := range 3 {
		f.P[r][0] = -f.P[r][0]
	}
	return f
}

// BottomCenter returns the centre of an object's bottom face (KITTI's and
// mmdetection3d's box origin (0.5, 1, 0.5)): the gravity centre moved down
// by h/2 (y points down).
func BottomCenter(o Object) [3]float64 {
	return [3]float64{o.Center[0], o.Center[1] + o.Size[1]/2, o.Center[2]}
}

// GravityCenter returns the gravity centre of a box whose bottom centre is
// b and height h: y − h/2.
func GravityCenter(b [3]float64, h float64) [3]float64 {
	return [3]float64{b[0], b[1] - h/2, b[2]}
}

// LimitPeriod is mmdetection3d's limit_period: v − floor(v/period +
// offset)·period, which maps v into [−offset·period, (1−offset)·period).
func LimitPeriod(v, offset, period float64) float64 {
	return v - math.Floor(v/period+offset)*period
}

// LocalYaw returns the yaw relative to the ray through the centre (x, z),
// the angle a single image shows (KITTI's alpha convention, mmdetection3d
// 1.x's FCOS3D target): yaw − atan2(x, z).
func LocalYaw(yaw float64, center [3]float64) float64 {
	return yaw - math.Atan2(center[0], center[2])
}

// GlobalYaw inverts LocalYaw given the centre: local + atan2(x, z).
func GlobalYaw(local float64, center [3]float64) float64 {
	return local + math.Atan2(center[0], center[2])
}

// RayYaw returns atan2(u − cx, fx), the ray angle of pixel column u that
// FCOS3D adds to the decoded local yaw. For K|0 it equals atan2(x, z) of
// every point that projects to column u; with a non-zero P[0][3] (KITTI's
// P2) it differs from it by about P[0][3]/(fx·z), and GlobalYaw with the
// unprojected centre is the exact inverse.
func (c Camera) RayYaw(u float64) float64 {
	return math.Atan2(u-c.Cx(), c.Fx())
}

// DirOffset is FCOS3D's direction offset π/4: the two direction bins split
// the local yaw at π/4 and 5π/4.
const DirOffset = math.Pi / 4

// DirBin is mmdetection3d's get_direction_target with two bins:
// floor(LimitPeriod(yaw − offset, 0, 2π)/π), clamped to {0, 1}.
func DirBin(yaw, offset float64) int {
	b := int(math.Floor(LimitPeriod(yaw-offset, 0, 2*math.Pi) / math.Pi))
	return min(max(b, 0), 1)
}

// DecodeDir is mmdetection3d's decode_yaw before the ray angle:
// LimitPeriod(rot − offset, 0, π) + offset + π·bin. For rot = yaw and bin =
// DirBin(yaw, offset) it returns yaw up to a multiple of 2π.
func DecodeDir(rot, offset float64, bin int) float64 {
	return LimitPeriod(rot-offset, 0, math.Pi) + offset + math.Pi*float64(bin)
}

// Corners returns the 8 corners of an object's 3D box in the camera frame,
// in mmdetection3d's CameraInstance3DBoxes.corners order: with (dx, dy,
// dz) ∈ {0, 1}³ relative to the bottom centre scaled by (l, h, w) and
// shifted by (½, 1, ½), the order is (0,0,0) (0,0,1) (0,1,1) (0,1,0)
// (1,0,0) (1,0,1) (1,1,1) (1,1,0); corners are rotated by yaw about y so
// that the length axis points along (cos yaw, 0, −sin yaw).
func Corners(o Object) [8][3]float64 {
	b := BottomCenter(o)
	c, s := math.Cos(o.Yaw), math.Sin(o.Yaw)
	var out [8][3]float64
	for i, d := range [8][3]float64{{0, 0, 0}, {0, 0, 1}, {0, 1, 1}, {0, 1, 0}, {1, 0, 0}, {1, 0, 1}, {1, 1, 1}, {1, 1, 0}} {
		x := (d[0] - 0.5) * o.Size[0]
		y := (d[1] - 1) * o.Size[1]
		z := (d[2] - 0.5) * o.Size[2]
		out[i] = [3]float64{b[0] + c*x + s*z, b[1] + y, b[2] - s*x + c*z}
	}
	return out
}

// ImageBox returns the 2D box of an object as nuScenes' and
// mmdetection3d's converters compute it: the corners in front of the
// camera (z > 0) are projected, and the box is the bounding box of their
// convex hull intersected with the image [0, width] × [0, height]. ok is
// false when no corner is in front or the hull misses the image.
func (c Camera) ImageBox(o Object, width, height float64) (b Box, ok bool) {
	var pts [][2]float64
	for _, p := range Corners(o) {
		if p[2] > 0 {
			u, v, _ := c.Project(p)
			pts = append(pts, [2]float64{u, v})
		}
	}
	if len(pts) == 0 {
		return Box{}, false
	}
	poly := convexHull(pts)
	poly = clipRect(poly, 0, 0, width, height)
	if len(poly) == 0 {
		return Box{}, false
	}
	b = Box{math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)}
	for _, p := range poly {
		b[0], b[1] = math.Min(b[0], p[0]), math.Min(b[1], p[1])
		b[2], b[3] = math.Max(b[2], p[0]), math.Max(b[3], p[1])
	}
	return b, b[2] > b[0] && b[3] > b[1]
}

// convexHull is Andrew's monotone chain, counter-clockwise; fewer than 3
// distinct points come back as they are (deduplicated).
func convexHull(pts [][2]float64) [][2]float64 {
	p := slices.Clone(pts)
	slices.SortFunc(p, func(a, b [2]float64) int {
		switch {
		case a[0] != b[0]:
			if a[0] < b[0] {
				return -1
			}
			return 1
		case a[1] < b[1]:
			return -1
		case a[1] > b[1]:
			return 1
		}
		return 0
	})
	p = slices.Compact(p)
	if len(p) < 3 {
		return p
	}
	cross := func(o, a, b [2]float64) float64 { return (a[0]-o[0])*(b[1]-o[1]) - (a[1]-o[1])*(b[0]-o[0]) }
	h := make([][2]float64, 0, 2*len(p))
	for _, q := range p {
		for len(h) >= 2 && cross(h[len(h)-2], h[len(h)-1], q) <= 0 {
			h = h[:len(h)-1]
		}
		h = append(h, q)
	}
	lo := len(h) + 1
	for i := len(p) - 2; i >= 0; i-- {
		q := p[i]
		for len(h) >= lo && cross(h[len(h)-2], h[len(h)-1], q) <= 0 {
			h = h[:len(h)-1]
		}
		h = append(h, q)
	}
	return h[:len(h)-1]
}

// clipRect clips a convex polygon (or a point or segment) to the
// rectangle [x0, x1] × [y0, y1] (Sutherland–Hodgman against the four
// half-planes).
func clipRect(poly [][2]float64, x0, y0, x1, y1 float64) [][2]float64 {
	planes := []func(p [2]float64) float64{
		func(p [2]float64) float64 { return p[0] - x0 },
		func(p [2]float64) float64 { return x1 - p[0] },
		func(p [2]float64) float64 { return p[1] - y0 },
		func(p [2]float64) float64 { return y1 - p[1] },
	}
	for _, f := range planes {
		var out [][2]float64
		n := len(poly)
		for j := range n {
			cur, nxt := poly[j], poly[(j+1)%n]
			fc, fn := f(cur), f(nxt)
			if fc >= 0 {
				out = append(out, cur)
			}
			if n > 1 && (fc >= 0) != (fn >= 0) {
				t := fc / (fc - fn)
				out = append(out, [2]float64{cur[0] + t*(nxt[0]-cur[0]), cur[1] + t*(nxt[1]-cur[1])})
			}
		}
		poly = out
		if len(poly) == 0 {
			return nil
		}
	}
	return poly
}

// Resize returns the camera and objects of an image resized by sx
// horizontally and sy vertically: intrinsics and 2D boxes scale, the 3D
// state (centre, depth, size, yaw) does not. The inputs are left alone.
func Resize(c Camera, objs []Object, sx, sy float64) (Camera, []Object) {
	out := slices.Clone(objs)
	for i := range out {
		b := &out[i].Box
		b[0], b[1], b[2], b[3] = b[0]*sx, b[1]*sy, b[2]*sx, b[3]*sy
	}
	return c.Resized(sx, sy), out
}

// Crop returns the camera and objects of the crop of height×width pixels
// at (top, left): intrinsics shift, 2D boxes shift and are clipped to the
// crop, and objects whose clipped box is empty are dropped; the 3D state
// does not change.
func Crop(c Camera, objs []Object, top, left, height, width float64) (Camera, []Object) {
	var out []Object
	for _, o := range objs {
		b := Box{
			math.Max(o.Box[0]-left, 0), math.Max(o.Box[1]-top, 0),
			math.Min(o.Box[2]-left, width), math.Min(o.Box[3]-top, height),
		}
		if b[2] <= b[0] || b[3] <= b[1] {
			continue
		}
		o.Box = b
		out = append(out, o)
	}
	return c.Cropped(top, left), out
}

// HFlip returns the camera and objects of an image of the given width
// flipped left to right (mmdetection3d's RandomFlip3D): u → width − u for
// the camera (Flipped) and the 2D boxes, and the mirrored 3D scene: x →
// −x, yaw → π − yaw, vx → −vx.
func HFlip(c Camera, objs []Object, width float64) (Camera, []Object) {
	out := slices.Clone(objs)
	for i := range out {
		o := &out[i]
		o.Box[0], o.Box[2] = width-o.Box[2], width-o.Box[0]
		o.Center[0] = -o.Center[0]
		o.Yaw = math.Pi - o.Yaw
		o.Velocity[0] = -o.Velocity[0]
	}
	return c.Flipped(width), out
}
