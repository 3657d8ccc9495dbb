package detect

import (
	"math"
	"math/rand/v2"
	"testing"
)

// kittiP2 is P2 of KITTI object training sequence 000000 (non-zero 4th
// column).
var kittiP2 = Camera{P: [3][4]float64{
	{7.215377e+02, 0, 6.095593e+02, 4.485728e+01},
	{0, 7.215377e+02, 1.728540e+02, 2.163791e-01},
	{0, 0, 1, 2.745884e-03},
}}

var cameras = []struct {
	name string
	cam  Camera
	w, h float64
}{
	{"nuScenes-like K", NewCamera(1266.4, 1266.4, 816.3, 491.5), 1600, 900},
	{"KITTI P2", kittiP2, 1242, 375},
	{"synthetic", NewCamera(0.79*256, 0.79*256, 128, 64), 256, 128},
}

func randObject(rng *rand.Rand) Object {
	return Object{
		Center:   [3]float64{-8 + 16*rng.Float64(), -1 + 2*rng.Float64(), 5 + 40*rng.Float64()},
		Size:     [3]float64{1 + 4*rng.Float64(), 1 + rng.Float64(), 0.5 + 2*rng.Float64()},
		Yaw:      -4 + 8*rng.Float64(),
		Velocity: [2]float64{rng.NormFloat64(), rng.NormFloat64()},
	}
}

func angleDiff(a, b float64) float64 { return math.Abs(LimitPeriod(a-b, 0.5, 2*math.Pi)) }

func TestProjectUnproject(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range cameras {
		t.Run(tc.name, func(t *testing.T) {
			for range 200 {
				p := randObject(rng).Center
				u, v, d := tc.cam.Project(p)
				q := tc.cam.Unproject(u, v, d)
				for k := range 3 {
					if math.Abs(q[k]-p[k]) > 1e-9 {
						t.Fatalf("%v -> (%v %v %v) -> %v", p, u, v, d, q)
					}
				}
			}
		})
	}
	// K|0: depth is z; P2: z + P[2][3].
	if _, _, d := cameras[0].cam.Project([3]float64{1, 2, 10}); d != 10 {
		t.Errorf("K|0 depth %v, want 10", d)
	}
	if _, _, d := kittiP2.Project([3]float64{1, 2, 10}); math.Abs(d-10.002745884) > 1e-12 {
		t.Errorf("P2 depth %v", d)
	}
}

// The FCOS3D round trip: a 3D box becomes the targets (projected centre,
// depth, local yaw, direction bin) and decodes back to itself.
func TestFCOS3DRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tc := range cameras {
		t.Run(tc.name, func(t *testing.T) {
			for range 500 {
				o := randObject(rng)
				u, v, d := tc.cam.Project(o.Center)
				local := LocalYaw(o.Yaw, o.Center)
				bin := DirBin(local, DirOffset)
				// The network regresses local up to the sign of sin: any
				// rot ≡ local (mod π) decodes with the bin.
				rot := local + math.Pi*float64(rng.IntN(3)-1)
				c := tc.cam.Unproject(u, v, d)
				yaw := GlobalYaw(DecodeDir(rot, DirOffset, bin), c)
				if angleDiff(yaw, o.Yaw) > 1e-9 {
					t.Fatalf("yaw %v decoded %v (local %v bin %d)", o.Yaw, yaw, local, bin)
				}
				if tc.cam.P[0][3] == 0 {
					// mmdetection3d's decoding by the ray of the centre column.
					yaw2 := DecodeDir(rot, DirOffset, bin) + tc.cam.RayYaw(u)
					if angleDiff(yaw2, o.Yaw) > 1e-9 {
						t.Fatalf("ray decoding %v, want %v", yaw2, o.Yaw)
					}
				}
			}
		})
	}
}

func TestDirBinAndLimitPeriod(t *testing.T) {
	cases := []struct {
		yaw  float64
		want int
	}{
		{0, 1}, // 0 − π/4 → 7π/4: bin 1
		{math.Pi / 2, 0},
		{math.Pi/4 + 1e-9, 0},
		{math.Pi, 0},
		{5*math.Pi/4 + 1e-9, 1},
		{-math.Pi / 2, 1},
	}
	for _, tc := range cases {
		if got := DirBin(tc.yaw, DirOffset); got != tc.want {
			t.Errorf("DirBin(%v) = %d, want %d", tc.yaw, got, tc.want)
		}
	}
	if v := LimitPeriod(4, 0.5, math.Pi); math.Abs(v-(4-math.Pi)) > 1e-15 {
		t.Errorf("limit_period(4, .5, π) = %v", v)
	}
	if v := LimitPeriod(-0.1, 0, math.Pi); math.Abs(v-(math.Pi-0.1)) > 1e-15 {
		t.Errorf("limit_period(-0.1, 0, π) = %v", v)
	}
}

func TestCorners(t *testing.T) {
	o := Object{Center: [3]float64{1, 2, 3}, Size: [3]float64{4, 1.5, 2}, Yaw: 0.7}
	c := Corners(o)
	var mean [3]float64
	for _, p := range c {
		for k := range 3 {
			mean[k] += p[k] / 8
		}
	}
	for k := range 3 {
		if math.Abs(mean[k]-o.Center[k]) > 1e-12 {
			t.Fatalf("corner mean %v, want the gravity centre %v", mean, o.Center)
		}
	}
	// Corners 4..7 are the front (+l/2 along (cos yaw, 0, −sin yaw)).
	front := [3]float64{(c[4][0] + c[5][0] + c[6][0] + c[7][0]) / 4, 0, (c[4][2] + c[5][2] + c[6][2] + c[7][2]) / 4}
	want := [3]float64{o.Center[0] + 2*math.Cos(0.7), 0, o.Center[2] - 2*math.Sin(0.7)}
	if math.Abs(front[0]-want[0]) > 1e-12 || math.Abs(front[2]-want[2]) > 1e-12 {
		t.Errorf("front centre %v, want %v", front, want)
	}
	// Bottom corners (dy = 1: corners 2, 3, 6, 7) lie at y + h/2; dy = 0
	// is the top (y points down).
	for _, i := range []int{2, 3, 6, 7} {
		if math.Abs(c[i][1]-2.75) > 1e-12 {
			t.Errorf("corner %d y %v, want 2.75", i, c[i][1])
		}
	}
	if b := BottomCenter(o); b[1] != 2.75 || GravityCenter(b, 1.5) != o.Center {
		t.Errorf("bottom %v", b)
	}
}

func projectCorners(c Camera, o Object) [8][2]float64 {
	var out [8][2]float64
	for i, p := range Corners(o) {
		u, v, _ := c.Project(p)
		out[i] = [2]float64{u, v}
	}
	return out
}

// Flip, resize and crop change the camera and the objects together, so
// the projected corners move exactly as the pixels do.
func TestTransformsKeepProjection(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, tc := range cameras {
		t.Run(tc.name, func(t *testing.T) {
			for range 100 {
				o := randObject(rng)
				b, ok := tc.cam.ImageBox(o, tc.w, tc.h)
				if !ok {
					continue
				}
				o.Box = b
				objs := []Object{o}
				pc := projectCorners(tc.cam, o)

				fc, fo := HFlip(tc.cam, objs, tc.w)
				fp := projectCorners(fc, fo[0])
				for i := range 8 {
					// Corner order mirrors too, so compare as sets by u → w − u.
					found := false
					for j := range 8 {
						if math.Abs(fp[j][0]-(tc.w-pc[i][0])) < 1e-9 && math.Abs(fp[j][1]-pc[i][1]) < 1e-9 {
							found = true
						}
					}
					if !found {
						t.Fatalf("flip: corner %v has no mirror in %v", pc[i], fp)
					}
				}
				if fb, _ := fc.ImageBox(fo[0], tc.w, tc.h); math.Abs(fb[0]-fo[0].Box[0]) > 1e-9 || math.Abs(fb[2]-fo[0].Box[2]) > 1e-9 {
					t.Fatalf("flipped 2D box %v, recomputed %v", fo[0].Box, fb)
				}
				// Flipping twice is the identity.
				ffc, ffo := HFlip(fc, fo, tc.w)
				for r := range 3 {
					for k := range 4 {
						if math.Abs(ffc.P[r][k]-tc.cam.P[r][k]) > 1e-9 {
							t.Fatalf("double flip camera %v", ffc.P)
						}
					}
				}
				if angleDiff(ffo[0].Yaw, o.Yaw) > 1e-12 || ffo[0].Center != o.Center {
					t.Fatalf("double flip object %+v", ffo[0])
				}

				rc, ro := Resize(tc.cam, objs, 0.5, 0.75)
				rp := projectCorners(rc, ro[0])
				for i := range 8 {
					if math.Abs(rp[i][0]-0.5*pc[i][0]) > 1e-9 || math.Abs(rp[i][1]-0.75*pc[i][1]) > 1e-9 {
						t.Fatalf("resize: corner %v -> %v", pc[i], rp[i])
					}
				}
				u, v, d := tc.cam.Project(o.Center)
				ru, rv, rd := rc.Project(o.Center)
				if math.Abs(ru-0.5*u) > 1e-9 || math.Abs(rv-0.75*v) > 1e-9 || rd != d {
					t.Fatalf("resize centre (%v %v %v) -> (%v %v %v)", u, v, d, ru, rv, rd)
				}

				cc, _ := Crop(tc.cam, objs, 10, 20, tc.h-10, tc.w-20)
				cp := projectCorners(cc, o)
				for i := range 8 {
					if math.Abs(cp[i][0]-(pc[i][0]-20)) > 1e-9 || math.Abs(cp[i][1]-(pc[i][1]-10)) > 1e-9 {
						t.Fatalf("crop: corner %v -> %v", pc[i], cp[i])
					}
				}
			}
		})
	}
}

func TestImageBox(t *testing.T) {
	cam := NewCamera(100, 100, 50, 50)
	o := Object{Center: [3]float64{0, 0, 10}, Size: [3]float64{2, 2, 2}}
	b, ok := cam.ImageBox(o, 100, 100)
	// Nearest face at z = 9: ±1 m → ±100/9 px.
	if !ok || math.Abs(b[0]-(50-100.0/9)) > 1e-9 || math.Abs(b[3]-(50+100.0/9)) > 1e-9 {
		t.Errorf("box %v %v", b, ok)
	}
	// Truncated on the right: clipped to the image.
	o.Center[0] = 5.5
	b, ok = cam.ImageBox(o, 100, 100)
	if !ok || b[2] != 100 {
		t.Errorf("truncated box %v %v", b, ok)
	}
	// Behind the camera.
	o.Center = [3]float64{0, 0, -10}
	if _, ok := cam.ImageBox(o, 100, 100); ok {
		t.Error("box behind the camera")
	}
	// Straddling the image plane: only the corners in front count.
	o.Center = [3]float64{0, 0, 0.5}
	if b, ok := cam.ImageBox(o, 100, 100); !ok || b != (Box{0, 0, 100, 100}) {
		t.Errorf("straddling box %v %v", b, ok)
	}
}
