package synth

import (
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/disiam/disiam/detect"
	"github.com/disiam/disiam/internal/parallel"
)

// preview tiles the first n images of a set with their 2D boxes (and, for
// 3D sets, the projected 3D box corners) drawn in.
func preview(s *detect.Set, n, cols int) *image.RGBA {
	rows := (n + cols - 1) / cols
	out := image.NewRGBA(image.Rect(0, 0, cols*(s.W+4), rows*(s.H+4)))
	plane := s.W * s.H
	for k := range n {
		ox, oy := (k%cols)*(s.W+4), (k/cols)*(s.H+4)
		pix := s.Pix[k*3*plane : (k+1)*3*plane]
		for y := range s.H {
			for x := range s.W {
				out.Set(ox+x, oy+y, color.RGBA{pix[y*s.W+x], pix[plane+y*s.W+x], pix[2*plane+y*s.W+x], 255})
			}
		}
		set := func(x, y int, c color.RGBA) {
			if x >= 0 && y >= 0 && x < s.W && y < s.H {
				out.Set(ox+x, oy+y, c)
			}
		}
		for _, o := range s.Labels[k] {
			b := o.Box
			c := color.RGBA{255, 255, 0, 255}
			for x := int(b[0]); x < int(math.Ceil(b[2])); x++ {
				set(x, int(b[1]), c)
				set(x, int(math.Ceil(b[3]))-1, c)
			}
			for y := int(b[1]); y < int(math.Ceil(b[3])); y++ {
				set(int(b[0]), y, c)
				set(int(math.Ceil(b[2]))-1, y, c)
			}
			if s.Cams != nil {
				u, v, _ := s.Cams[k].Project(o.Center)
				for d := -1; d <= 1; d++ {
					set(int(u)+d, int(v), color.RGBA{255, 0, 255, 255})
					set(int(u), int(v)+d, color.RGBA{255, 0, 255, 255})
				}
			}
		}
	}
	return out
}

// TestPreview writes preview PNGs to $SYNTH_PREVIEW (skipped without it).
func TestPreview(t *testing.T) {
	dir := os.Getenv("SYNTH_PREVIEW")
	if dir == "" {
		t.Skip("set SYNTH_PREVIEW=DIR to write preview images")
	}
	for name, s := range map[string]*detect.Set{
		"driving.png": SyntheticDriving(DrivingConfig{Train: 8}, Train),
		"shapes.png":  SyntheticShapes(ShapesConfig{Train: 6}, Train),
	} {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		cols := 2
		if err := png.Encode(f, preview(s, min(s.Len(), 8), cols)); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
}

func TestDrivingDeterministicAndConsistent(t *testing.T) {
	cfg := DrivingConfig{Train: 6, Test: 6, Seed: 7}
	a := SyntheticDriving(cfg, Train)
	old := parallel.Workers
	parallel.Workers = 1
	b := SyntheticDriving(cfg, Train)
	parallel.Workers = old
	if string(a.Pix) != string(b.Pix) {
		t.Fatal("images depend on the number of workers")
	}
	if c := SyntheticDriving(cfg, Test); string(c.Pix) == string(a.Pix) {
		t.Error("test split equals the training split")
	}
	cam := DrivingCamera(256, 128)
	labelled := 0
	for i := range a.Len() {
		if a.Camera(i) != cam {
			t.Fatalf("image %d camera %v", i, a.Camera(i))
		}
		if len(a.Labels[i]) != len(b.Labels[i]) {
			t.Fatalf("image %d: labels depend on the number of workers", i)
		}
		for j, o := range a.Labels[i] {
			labelled++
			if o != b.Labels[i][j] {
				t.Fatalf("image %d: labels depend on the number of workers", i)
			}
			name := a.Names[o.Class]
			if math.Abs(detect.BottomCenter(o)[1]-CameraHeight) > 1e-12 {
				t.Errorf("%s not on the ground: bottom y %v", name, detect.BottomCenter(o)[1])
			}
			box, ok := cam.ImageBox(o, 256, 128)
			if !ok || box != o.Box || o.Box.Width() < MinBoxSide || o.Box.Height() < MinBoxSide {
				t.Errorf("%s: box %v, recomputed %v %v", name, o.Box, box, ok)
			}
			attr := a.Attrs[o.Attr]
			moving := o.Velocity != [2]float64{}
			switch name {
			case "car", "truck":
				if moving != (attr == "vehicle.moving") || (!moving && attr != "vehicle.parked") {
					t.Errorf("%s attr %s velocity %v", name, attr, o.Velocity)
				}
			case "pedestrian":
				if moving != (attr == "pedestrian.moving") || (!moving && attr != "pedestrian.standing") {
					t.Errorf("%s attr %s velocity %v", name, attr, o.Velocity)
				}
			case "traffic_cone", "barrier":
				if moving || attr != "None" {
					t.Errorf("%s attr %s velocity %v", name, attr, o.Velocity)
				}
			default:
				t.Errorf("unexpected class %s", name)
			}
			if moving {
				// Velocity points along the heading (cos yaw, −sin yaw).
				sp := math.Hypot(o.Velocity[0], o.Velocity[1])
				if math.Abs(o.Velocity[0]-sp*math.Cos(o.Yaw)) > 1e-9 || math.Abs(o.Velocity[1]+sp*math.Sin(o.Yaw)) > 1e-9 {
					t.Errorf("velocity %v not along yaw %v", o.Velocity, o.Yaw)
				}
			}
		}
	}
	if labelled < 6 {
		t.Errorf("only %d labelled objects in 6 images", labelled)
	}
}

// The sky is above the horizon (the middle row) and darker asphalt or
// grass below it, on average.
func TestDrivingScene(t *testing.T) {
	s := SyntheticDriving(DrivingConfig{Train: 4}, Train)
	plane := s.W * s.H
	for i := range 4 {
		img := s.Image(i)
		blueTop, blueBottom := 0.0, 0.0
		for x := range s.W {
			blueTop += float64(img.Pix[2*plane+2*s.W+x])
			blueBottom += float64(img.Pix[2*plane+(s.H-3)*s.W+x])
		}
		if blueTop < blueBottom+0.2*float64(s.W) {
			t.Errorf("image %d: sky blue %v, ground blue %v", i, blueTop/float64(s.W), blueBottom/float64(s.W))
		}
	}
}

func TestShapes(t *testing.T) {
	cfg := ShapesConfig{Train: 24, Seed: 1}
	a := SyntheticShapes(cfg, Train)
	old := parallel.Workers
	parallel.Workers = 1
	b := SyntheticShapes(cfg, Train)
	parallel.Workers = old
	if string(a.Pix) != string(b.Pix) {
		t.Fatal("images depend on the number of workers")
	}
	var small, large bool
	for i := range a.Len() {
		if n := len(a.Labels[i]); n < 1 || n > 6 {
			t.Errorf("image %d: %d shapes", i, n)
		}
		for _, o := range a.Labels[i] {
			bx := o.Box
			if bx[0] < 0 || bx[1] < 0 || bx[2] > 256 || bx[3] > 256 || bx.Width() <= 0 || bx.Height() <= 0 || o.Class < 0 || o.Class >= len(a.Names) {
				t.Errorf("image %d: object %+v", i, o)
			}
			// torchvision FCOS levels: max(l, t, r, b) at the centre is half
			// the larger side.
			half := math.Max(bx.Width(), bx.Height()) / 2
			small = small || half < 32
			large = large || half > 64
		}
	}
	if !small || !large {
		t.Errorf("sizes do not span the FPN levels: small %v large %v", small, large)
	}
}
