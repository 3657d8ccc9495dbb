package detect

import (
	"math"
	"slices"
)

// Rect is a rotated rectangle in a plane, the bird's-eye view (BEV) of a 3D
// box: centre (X, Y), side L along the direction (cos Angle, sin Angle) and
// side W across it.
type Rect struct {
	X, Y, L, W, Angle float64
}

// BEV returns the bird's-eye view of an object in the camera frame, on the
// ground plane's (x, z) axes: centre (x, z), length l along the heading and
// width w. KITTI's rotation_y turns the heading from the x axis towards −z
// (the heading is (cos yaw, −sin yaw) in (x, z)), so Angle = −Yaw.
func BEV(o Object) Rect {
	return Rect{X: o.Center[0], Y: o.Center[2], L: o.Size[0], W: o.Size[2], Angle: -o.Yaw}
}

// Corners returns the rectangle's corners counter-clockwise (in a frame
// whose y axis is 90° counter-clockwise from x), starting at front left.
func (r Rect) Corners() [4][2]float64 {
	c, s := math.Cos(r.Angle), math.Sin(r.Angle)
	hl, hw := r.L/2, r.W/2
	var p [4][2]float64
	for i, d := range [4][2]float64{{hl, hw}, {-hl, hw}, {-hl, -hw}, {hl, -hw}} {
		p[i] = [2]float64{r.X + c*d[0] - s*d[1], r.Y + s*d[0] + c*d[1]}
	}
	return p
}

// Area returns L·W.
func (r Rect) Area() float64 { return r.L * r.W }

// polygonArea is the shoelace area of a simple polygon (positive for
// counter-clockwise order).
func polygonArea(p [][2]float64) float64 {
	var a float64
	for i := range p {
		j := (i + 1) % len(p)
		a += p[i][0]*p[j][1] - p[j][0]*p[i][1]
	}
	return a / 2
}

// RectIntersection returns the area of the intersection of two rotated
// rectangles: a's polygon is clipped by each edge of b in turn
// (Sutherland–Hodgman; both are convex and counter-clockwise), and the
// clipped polygon's area is the shoelace formula's.
func RectIntersection(a, b Rect) float64 {
	if a.L <= 0 || a.W <= 0 || b.L <= 0 || b.W <= 0 {
		return 0
	}
	// Far apart: no overlap (also skips the clipping for most pairs).
	ra := math.Hypot(a.L, a.W) / 2
	rb := math.Hypot(b.L, b.W) / 2
	if math.Hypot(a.X-b.X, a.Y-b.Y) >= ra+rb {
		return 0
	}
	ca, cb := a.Corners(), b.Corners()
	poly := make([][2]float64, 0, 8)
	poly = append(poly, ca[:]...)
	next := make([][2]float64, 0, 8)
	for i := range 4 {
		p, q := cb[i], cb[(i+1)%4]
		ex, ey := q[0]-p[0], q[1]-p[1]
		// side > 0: left of the edge p→q, inside a counter-clockwise polygon.
		side := func(v [2]float64) float64 { return ex*(v[1]-p[1]) - ey*(v[0]-p[0]) }
		next = next[:0]
		for j := range poly {
			cur, nxt := poly[j], poly[(j+1)%len(poly)]
			sc, sn := side(cur), side(nxt)
			if sc >= 0 {
				next = append(next, cur)
			}
			if (sc >= 0) != (sn >= 0) {
				t := sc / (sc - sn)
				next = append(next, [2]float64{cur[0] + t*(nxt[0]-cur[0]), cur[1] + t*(nxt[1]-cur[1])})
			}
		}
		poly, next = next, poly
		if len(poly) < 3 {
			return 0
		}
	}
	return math.Max(polygonArea(poly), 0)
}

// RectIoU returns the intersection over union of two rotated rectangles,
// 0 when both are empty.
func RectIoU(a, b Rect) float64 {
	in := RectIntersection(a, b)
	u := a.Area() + b.Area() - in
	if u <= 0 {
		return 0
	}
	return in / u
}

// IoU3D returns the 3D IoU of two objects in the camera frame: the BEV
// intersection times the overlap of their vertical extents (gravity
// centre y ± h/2), over the union of the volumes.
func IoU3D(a, b Object) float64 {
	in := RectIntersection(BEV(a), BEV(b))
	top := math.Max(a.Center[1]-a.Size[1]/2, b.Center[1]-b.Size[1]/2)
	bot := math.Min(a.Center[1]+a.Size[1]/2, b.Center[1]+b.Size[1]/2)
	in *= math.Max(bot-top, 0)
	va := a.Size[0] * a.Size[1] * a.Size[2]
	vb := b.Size[0] * b.Size[1] * b.Size[2]
	u := va + vb - in
	if u <= 0 {
		return 0
	}
	return in / u
}

// NMSBEV is non-maximum suppression on rotated bird's-eye-view rectangles
// (mmcv's nms_rotated, used by FCOS3D's test-time box merging): rectangles
// are visited by descending score (stable: ties in index order), and a
// rectangle is dropped when its IoU with an already kept one exceeds thr.
// It returns the kept indices in that order. It panics when the lengths of
// rects and scores differ.
func NMSBEV(rects []Rect, scores []float64, thr float64) []int {
	if len(rects) != len(scores) {
		panic("detect: NMSBEV: rects and scores differ in length")
	}
	order := make([]int, len(rects))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case scores[a] > scores[b]:
			return -1
		case scores[a] < scores[b]:
			return 1
		}
		return 0
	})
	var keep []int
	for _, i := range order {
		ok := true
		for _, k := range keep {
			if RectIoU(rects[i], rects[k]) > thr {
				ok = false
				break
			}
		}
		if ok {
			keep = append(keep, i)
		}
	}
	return keep
}
