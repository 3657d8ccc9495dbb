package synth

import (
	"math"
	"math/rand/v2"
	"slices"

	"github.com/disiam/disiam/augment"
	"github.com/disiam/disiam/detect"
	"github.com/disiam/disiam/detect/nuscenes"
	"github.com/disiam/disiam/internal/parallel"
)

// DrivingConfig sizes SyntheticDriving. The zero value is the default:
// 256 training and 64 test images of 256×128, 2–8 objects each, seed 0.
type DrivingConfig struct {
	Train, Test   int    // images; zero means 256 and 64
	Width, Height int    // image size; zero means 256×128 (512×256 is the larger option)
	MinObjects    int    // zero means 2
	MaxObjects    int    // zero means 8
	Seed          uint64 // generator seed
}

func (c DrivingConfig) withDefaults() DrivingConfig {
	if c.Train == 0 {
		c.Train = 256
	}
	if c.Test == 0 {
		c.Test = 64
	}
	if c.Width == 0 || c.Height == 0 {
		c.Width, c.Height = 256, 128
	}
	if c.MinObjects == 0 {
		c.MinObjects = 2
	}
	if c.MaxObjects == 0 {
		c.MaxObjects = 8
	}
	c.MaxObjects = max(c.MaxObjects, c.MinObjects)
	return c
}

// Scene constants of SyntheticDriving.
const (
	// CameraHeight is the camera's height above the flat ground, metres.
	CameraHeight = 1.5
	// FocalRatio is the focal length over the image width (nuScenes
	// CAM_FRONT: 1266 px over 1600, a 65° horizontal field of view).
	FocalRatio = 0.79
	// Exposure is the shutter time of the motion blur, seconds.
	Exposure = 0.08
	// MinVisible is the least visible fraction of an object that is
	// labelled; MinBoxSide the least side of its 2D box, pixels.
	MinVisible = 0.1
	MinBoxSide = 4.0
)

// drivingClass describes one object class of the scene.
type drivingClass struct {
	name       string
	lmin, lmax float64 // length range, metres
	hmin, hmax float64
	wmin, wmax float64
	vmin, vmax float64 // speed range when moving
	moving     int     // attribute index when moving, −1: never moves
	still      int     // attribute index when still
}

var drivingClasses = []drivingClass{
	{"car", 3.9, 4.8, 1.4, 1.7, 1.6, 2.0, 3, 15, 5, 6},
	{"truck", 6, 9, 2.5, 3.2, 2.2, 2.5, 3, 12, 5, 6},
	{"pedestrian", 0.5, 0.9, 1.6, 1.9, 0.5, 0.8, 0.8, 2, 2, 3},
	{"traffic_cone", 0.4, 0.4, 0.7, 0.7, 0.4, 0.4, 0, 0, -1, 8},
	{"barrier", 0.5, 0.5, 1.0, 1.0, 2.5, 2.5, 0, 0, -1, 8},
}

// DrivingCamera returns the camera of SyntheticDriving images of the given
// size: f = FocalRatio·width, principal point at the image centre, so the
// horizon of the level camera is the middle row.
func DrivingCamera(width, height int) detect.Camera {
	f := FocalRatio * float64(width)
	return detect.NewCamera(f, f, float64(width)/2, float64(height)/2)
}

// SyntheticDriving generates a monocular 3D detection set: a pinhole
// camera CameraHeight above flat ground looks level down a road, and each
// image shows MinObjects–MaxObjects cars, trucks, pedestrians, traffic
// cones and barriers with exact 3D labels. Class indices are
// nuscenes.Classes (mmdetection3d's 10 nuScenes classes, of which these 5
// occur) and attribute indices nuscenes.Attributes, so FCOS3D's nuScenes
// head and the nuScenes metrics apply unchanged.
//
// Scene: a sky gradient above the horizon; below it the ground plane,
// asphalt on a three-lane road (whose centre is offset by up to 2 m from
// the camera) with solid edge lines and dashed lane lines, grass beyond,
// and distance haze; these are the ground cues for depth. Objects stand
// on the ground with uniform yaw at depth 4–40 m and lateral position
// ±12 m (so some are truncated by the image border), without overlapping
// in the bird's-eye view. Sizes per class: car l 3.9–4.8, h 1.4–1.7, w
// 1.6–2.0 m; truck 6–9, 2.5–3.2, 2.2–2.5; pedestrian 0.5–0.9, 1.6–1.9,
// 0.5–0.8; traffic cone 0.4, 0.7, 0.4; barrier 0.5, 1.0, 2.5. Half of
// the cars and trucks move (vehicle.moving, 3–15 and 3–12 m/s along their
// heading, else vehicle.parked), half of the pedestrians walk
// (pedestrian.moving, 0.8–2 m/s, else pedestrian.standing); cones and
// barriers have no attribute (index 8, "None").
//
// Rendering is at twice the resolution, box-filtered down: cuboids are
// drawn far to near (painter's algorithm), their camera-facing faces as
// filled convex polygons, Lambert-shaded by a per-image sun with a
// per-object colour; a moving object is drawn at 7 instants across the
// Exposure and averaged, a motion-blur smear proportional to its
// projected velocity that makes speed and attribute visible in one frame.
// An object ID buffer gives each object's visible fraction; objects less
// than MinVisible visible or with a 2D box under MinBoxSide pixels stay in
// the picture but get no label. Mild noise is added.
//
// Labels: Center is the gravity centre, Size (l, h, w), Yaw the global yaw
// (rotation_y), Velocity (vx, vz), Attr the attribute, and Box the 2D box
// as nuScenes' converter computes it (Camera.ImageBox: the bounding box
// of the projected corners' hull within the image). Image i of a split
// depends only on (Seed, split, i); generation runs on internal/parallel's
// workers.
func SyntheticDriving(cfg DrivingConfig, split Split) *detect.Set {
	cfg = cfg.withDefaults()
	n := cfg.Train
	if split != Train {
		n = cfg.Test
	}
	W, H := cfg.Width, cfg.Height
	px := 3 * W * H
	cam := DrivingCamera(W, H)
	s := &detect.Set{C: 3, H: H, W: W, Pix: make([]uint8, n*px), Labels: make([][]detect.Object, n), Cams: make([]detect.Camera, n), Names: nuscenes.Classes, Attrs: nuscenes.Attributes}
	parallel.For(n, 1, func(lo, hi int) {
		sr := augment.NewSampleRand()
		r := newRenderer(W, H)
		for i := lo; i < hi; i++ {
			rng := sr.Seed(cfg.Seed, -20-int(split), i)
			s.Labels[i] = r.scene(s.Pix[i*px:(i+1)*px], cam, cfg, rng)
			s.Cams[i] = cam
		}
	})
	return s
}

// renderer holds one worker's buffers at the supersampled resolution.
type renderer struct {
	W, H   int // output size
	sw, sh int // supersampled size
	img    [3][]float64
	id     []int16
	cov    []float64
	sum    [3][]float64
	mask   []bool // one instant's silhouette
	sharp  []bool // the silhouette at the centre instant
}

func newRenderer(W, H int) *renderer {
	r := &renderer{W: W, H: H, sw: 2 * W, sh: 2 * H}
	n := r.sw * r.sh
	for c := range 3 {
		r.img[c] = make([]float64, n)
		r.sum[c] = make([]float64, n)
	}
	r.id = make([]int16, n)
	r.cov = make([]float64, n)
	r.mask = make([]bool, n)
	r.sharp = make([]bool, n)
	return r
}

type sceneObject struct {
	obj    detect.Object
	color  [3]float64
	sil    int // silhouette pixels (supersampled, in the image)
	seen   int // visible pixels in the ID buffer
	sortBy float64
}

func uniform(rng *rand.Rand, a, b float64) float64 { return a + (b-a)*rng.Float64() }

func (r *renderer) scene(dst []uint8, cam detect.Camera, cfg DrivingConfig, rng *rand.Rand) []detect.Object {
	// Per-image lighting and palette.
	sunAz, sunEl := uniform(rng, -math.Pi, math.Pi), uniform(rng, 0.3, 1.1)
	sun := [3]float64{math.Cos(sunEl) * math.Sin(sunAz), -math.Sin(sunEl), math.Cos(sunEl) * math.Cos(sunAz)}
	roadX := uniform(rng, -2, 2)
	dashPhase := uniform(rng, 0, 6)
	asphalt := 0.25 + 0.12*rng.Float64()
	grass := [3]float64{uniform(rng, 0.2, 0.35), uniform(rng, 0.35, 0.5), uniform(rng, 0.15, 0.25)}
	skyTop := [3]float64{uniform(rng, 0.3, 0.5), uniform(rng, 0.5, 0.7), uniform(rng, 0.85, 1)}
	haze := [3]float64{0.78, 0.83, 0.88}

	// Objects, placed without BEV overlap.
	count := cfg.MinObjects + rng.IntN(cfg.MaxObjects-cfg.MinObjects+1)
	var objs []sceneObject
	var rects []detect.Rect
	for range count {
		ci := rng.IntN(len(drivingClasses))
		dc := drivingClasses[ci]
		for try := 0; try < 30; try++ {
			l, h, w := uniform(rng, dc.lmin, dc.lmax), uniform(rng, dc.hmin, dc.hmax), uniform(rng, dc.wmin, dc.wmax)
			x, z := uniform(rng, -12, 12), uniform(rng, 4, 40)
			yaw := uniform(rng, -math.Pi, math.Pi)
			o := detect.Object{
				Class:  slicesIndex(nuscenes.Classes, dc.name),
				Center: [3]float64{x, CameraHeight - h/2, z},
				Size:   [3]float64{l, h, w},
				Yaw:    yaw,
				Attr:   dc.still,
			}
			rect := detect.BEV(o)
			rect.L += 0.6
			rect.W += 0.6
			clash := false
			for _, q := range rects {
				if detect.RectIntersection(rect, q) > 0 {
					clash = true
					break
				}
			}
			if clash {
				continue
			}
			if dc.moving >= 0 && rng.IntN(2) == 0 {
				speed := uniform(rng, dc.vmin, dc.vmax)
				o.Velocity = [2]float64{speed * math.Cos(yaw), -speed * math.Sin(yaw)}
				o.Attr = dc.moving
			}
			objs = append(objs, sceneObject{obj: o, color: objectColor(dc.name, rng), sortBy: math.Hypot(x, z)})
			rects = append(rects, rect)
			break
		}
	}

	// Background.
	scam := cam.Resized(2, 2)
	f, cx, cy := scam.Fx(), scam.Cx(), scam.Cy()
	for v := range r.sh {
		yc := float64(v) + 0.5
		for u := range r.sw {
			i := v*r.sw + u
			var col [3]float64
			if yc <= cy {
				t := yc / cy
				for c := range 3 {
					col[c] = skyTop[c] + (haze[c]-skyTop[c])*t*t
				}
			} else {
				Z := f * CameraHeight / (yc - cy)
				X := (float64(u) + 0.5 - cx) * Z / f
				dx := X - roadX
				ad := math.Abs(dx)
				switch {
				case ad < 5.25:
					g := asphalt
					// Solid edges at ±5.1 m, dashed lane lines at ±1.75 m.
					if ad > 5.0 || (math.Abs(ad-1.75) < 0.08 && math.Mod(Z+dashPhase, 6) < 3) {
						g = 0.85
					}
					col = [3]float64{g, g, g * 1.03}
				default:
					col = grass
				}
				fog := 1 - math.Exp(-Z/90)
				for c := range 3 {
					col[c] += (haze[c] - col[c]) * fog
				}
			}
			for c := range 3 {
				r.img[c][i] = col[c]
			}
			r.id[i] = -1
		}
	}

	// Objects far to near.
	order := make([]int, len(objs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case objs[a].sortBy > objs[b].sortBy:
			return -1
		case objs[a].sortBy < objs[b].sortBy:
			return 1
		}
		return 0
	})
	for _, oi := range order {
		r.drawObject(&objs[oi], int16(oi), scam, sun)
	}
	for _, idv := range r.id {
		if idv >= 0 {
			objs[idv].seen++
		}
	}

	// Downsample 2×2, add noise, quantize.
	plane := r.W * r.H
	for y := range r.H {
		for x := range r.W {
			noise := 0.012 * rng.NormFloat64()
			for c := range 3 {
				i0 := 2*y*r.sw + 2*x
				v := (r.img[c][i0] + r.img[c][i0+1] + r.img[c][i0+r.sw] + r.img[c][i0+r.sw+1]) / 4
				dst[c*plane+y*r.W+x] = uint8(min(max(math.Round((v+noise)*255), 0), 255))
			}
		}
	}

	var labels []detect.Object
	for _, so := range objs {
		if so.sil == 0 || float64(so.seen) < MinVisible*float64(so.sil) {
			continue
		}
		b, ok := cam.ImageBox(so.obj, float64(r.W), float64(r.H))
		if !ok || b.Width() < MinBoxSide || b.Height() < MinBoxSide {
			continue
		}
		o := so.obj
		o.Box = b
		labels = append(labels, o)
	}
	return labels
}

func slicesIndex(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	panic("synth: unknown class " + v)
}

func objectColor(name string, rng *rand.Rand) [3]float64 {
	switch name {
	case "traffic_cone":
		return [3]float64{uniform(rng, 0.9, 1), uniform(rng, 0.35, 0.5), uniform(rng, 0, 0.1)}
	case "barrier":
		if rng.IntN(2) == 0 {
			g := uniform(rng, 0.7, 0.9)
			return [3]float64{g, g, g * 0.95}
		}
		return [3]float64{uniform(rng, 0.75, 0.95), uniform(rng, 0.05, 0.2), uniform(rng, 0.05, 0.2)}
	case "pedestrian":
		return [3]float64{uniform(rng, 0.05, 0.5), uniform(rng, 0.05, 0.5), uniform(rng, 0.05, 0.6)}
	case "truck":
		if rng.IntN(2) == 0 {
			g := uniform(rng, 0.75, 0.95)
			return [3]float64{g, g, g}
		}
	}
	// A saturated colour: random hue, value 0.35–0.95.
	h, v := rng.Float64()*6, uniform(rng, 0.35, 0.95)
	sat := uniform(rng, 0.4, 0.9)
	k := func(n float64) float64 {
		kk := math.Mod(n+h, 6)
		return v - v*sat*math.Max(0, math.Min(math.Min(kk, 4-kk), 1))
	}
	return [3]float64{k(5), k(3), k(1)}
}

// faces lists the corner indices of each cuboid face (detect.Corners
// order): front, back, top, bottom and the two sides.
var faces = [6][4]int{{4, 5, 6, 7}, {0, 1, 2, 3}, {0, 1, 5, 4}, {3, 2, 6, 7}, {1, 2, 6, 5}, {0, 3, 7, 4}}

const nearPlane = 0.1

// drawObject renders one object (with motion blur) over the image and
// claims its sharp silhouette in the ID buffer.
func (r *renderer) drawObject(so *sceneObject, id int16, scam detect.Camera, sun [3]float64) {
	o := so.obj
	K := 1
	if o.Velocity != [2]float64{} {
		K = 7
	}
	clear(r.cov)
	for c := range 3 {
		clear(r.sum[c])
	}
	clear(r.sharp)
	x0, y0, x1, y1 := r.sw, r.sh, 0, 0 // region touched
	for k := range K {
		t := 0.0
		if K > 1 {
			t = Exposure * (float64(k)/float64(K-1) - 0.5)
		}
		ok := o
		ok.Center[0] += o.Velocity[0] * t
		ok.Center[2] += o.Velocity[1] * t
		corners := detect.Corners(ok)
		clear(r.mask)
		for _, fc := range faces {
			var poly [][3]float64
			var fcen [3]float64
			for _, ci := range fc {
				poly = append(poly, corners[ci])
				for d := range 3 {
					fcen[d] += corners[ci][d] / 4
				}
			}
			nrm := [3]float64{fcen[0] - ok.Center[0], fcen[1] - ok.Center[1], fcen[2] - ok.Center[2]}
			if nrm[0]*fcen[0]+nrm[1]*fcen[1]+nrm[2]*fcen[2] >= 0 {
				continue // facing away
			}
			ln := math.Sqrt(nrm[0]*nrm[0] + nrm[1]*nrm[1] + nrm[2]*nrm[2])
			lambert := math.Max(0, -(nrm[0]*sun[0]+nrm[1]*sun[1]+nrm[2]*sun[2])/ln)
			shade := 0.45 + 0.55*lambert
			col := [3]float64{so.color[0] * shade, so.color[1] * shade, so.color[2] * shade}
			poly = clipNear(poly)
			if len(poly) < 3 {
				continue
			}
			p2 := make([][2]float64, len(poly))
			for j, p := range poly {
				u, v, _ := scam.Project(p)
				p2[j] = [2]float64{u, v}
			}
			bx0, by0, bx1, by1 := r.fill(p2, col)
			x0, y0, x1, y1 = min(x0, bx0), min(y0, by0), max(x1, bx1), max(y1, by1)
		}
		if k == K/2 {
			copy(r.sharp, r.mask)
		}
	}
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			i := y*r.sw + x
			if r.cov[i] > 0 {
				a := r.cov[i] / float64(K)
				for c := range 3 {
					r.img[c][i] = r.img[c][i]*(1-a) + r.sum[c][i]/float64(K)
				}
			}
			if r.sharp[i] {
				r.id[i] = id
				so.sil++
			}
		}
	}
}

// fill rasterizes a convex polygon: every pixel whose centre is inside
// gets the colour (once per instant) in the accumulation buffers. It
// returns the pixel region it scanned.
func (r *renderer) fill(p [][2]float64, col [3]float64) (x0, y0, x1, y1 int) {
	minx, miny, maxx, maxy := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, q := range p {
		minx, miny = math.Min(minx, q[0]), math.Min(miny, q[1])
		maxx, maxy = math.Max(maxx, q[0]), math.Max(maxy, q[1])
	}
	x0, y0 = max(int(math.Floor(minx)), 0), max(int(math.Floor(miny)), 0)
	x1, y1 = min(int(math.Ceil(maxx))+1, r.sw), min(int(math.Ceil(maxy))+1, r.sh)
	if x0 >= x1 || y0 >= y1 {
		return r.sw, r.sh, 0, 0
	}
	var area float64
	for j := range p {
		k := (j + 1) % len(p)
		area += p[j][0]*p[k][1] - p[k][0]*p[j][1]
	}
	sign := 1.0
	if area < 0 {
		sign = -1
	}
	for y := y0; y < y1; y++ {
		yc := float64(y) + 0.5
		for x := x0; x < x1; x++ {
			xc := float64(x) + 0.5
			inside := true
			for j := range p {
				k := (j + 1) % len(p)
				e := (p[k][0]-p[j][0])*(yc-p[j][1]) - (p[k][1]-p[j][1])*(xc-p[j][0])
				if e*sign < 0 {
					inside = false
					break
				}
			}
			i := y*r.sw + x
			if inside && !r.mask[i] {
				r.mask[i] = true
				r.cov[i]++
				for c := range 3 {
					r.sum[c][i] += col[c]
				}
			}
		}
	}
	return x0, y0, x1, y1
}

// clipNear clips a 3D polygon to z ≥ nearPlane.
func clipNear(poly [][3]float64) [][3]float64 {
	var out [][3]float64
	for j := range poly {
		cur, nxt := poly[j], poly[(j+1)%len(poly)]
		fc, fn := cur[2]-nearPlane, nxt[2]-nearPlane
		if fc >= 0 {
			out = append(out, cur)
		}
		if (fc >= 0) != (fn >= 0) {
			t := fc / (fc - fn)
			out = append(out, [3]float64{cur[0] + t*(nxt[0]-cur[0]), cur[1] + t*(nxt[1]-cur[1]), nearPlane})
		}
	}
	return out
}
