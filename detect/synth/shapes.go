package synth

import (
	"math"
	"math/rand/v2"
	"slices"

	"github.com/disiam/disiam/augment"
	"github.com/disiam/disiam/dataset"
	"github.com/disiam/disiam/detect"
	"github.com/disiam/disiam/internal/parallel"
)

// Split selects the training or the test images of a synthetic set; the
// two draw from different random streams.
type Split int

const (
	Train Split = iota
	Test
)

// ShapesConfig sizes SyntheticShapes. The zero value is the default: 512
// training and 128 test images of 256×256, 2–6 shapes each, seed 0.
type ShapesConfig struct {
	Train, Test int    // images; zero means 512 and 128
	Size        int    // image side; zero means 256
	MinShapes   int    // zero means 2
	MaxShapes   int    // zero means 6
	Seed        uint64 // generator seed
}

func (c ShapesConfig) withDefaults() ShapesConfig {
	if c.Train == 0 {
		c.Train = 512
	}
	if c.Test == 0 {
		c.Test = 128
	}
	if c.Size == 0 {
		c.Size = 256
	}
	if c.MinShapes == 0 {
		c.MinShapes = 2
	}
	if c.MaxShapes == 0 {
		c.MaxShapes = 6
	}
	c.MaxShapes = max(c.MaxShapes, c.MinShapes)
	return c
}

// SyntheticShapes generates a 2D detection set: 3×Size×Size RGB images,
// each with MinShapes–MaxShapes anti-aliased shapes of dataset's synthetic
// set (classes dataset.SyntheticClasses, the shape kinds) on a vertical
// colour gradient with mild noise. A shape's colour keeps a luminance
// contrast of at least 0.25 with the background under it.
//
// Shape sizes are log-uniform from 8 pixels to 0.9·Size, so objects fall
// on every FPN level the image size allows: torchvision's FCOS assigns an
// object to P3–P7 by max(l, t, r, b) against 64, 128, 256 and 512 pixels,
// which at Size 256 reaches P3–P5, at 512 P6 and at 640 or more P7.
// Shapes are drawn largest first; a shape that would hide more than half
// of an earlier one is placed again (up to 20 tries, then left out).
//
// Each label's box is the tight pixel box of the pixels whose centre lies
// inside the shape. Image i of a split depends only on (Seed, split, i);
// generation runs on internal/parallel's workers.
func SyntheticShapes(cfg ShapesConfig, split Split) *detect.Set {
	cfg = cfg.withDefaults()
	n := cfg.Train
	if split != Train {
		n = cfg.Test
	}
	side := cfg.Size
	px := 3 * side * side
	s := &detect.Set{C: 3, H: side, W: side, Pix: make([]uint8, n*px), Labels: make([][]detect.Object, n), Names: dataset.SyntheticClasses}
	parallel.For(n, parallel.Grain(n, 8), func(lo, hi int) {
		sr := augment.NewSampleRand()
		for i := lo; i < hi; i++ {
			rng := sr.Seed(cfg.Seed, -10-int(split), i)
			s.Labels[i] = drawShapes(s.Pix[i*px:(i+1)*px], side, cfg, rng)
		}
	})
	return s
}

type placed struct {
	class   int
	r, x, y float64
	color   [3]float64
	box     detect.Box
}

func lum(c [3]float64) float64 { return 0.2989*c[0] + 0.587*c[1] + 0.114*c[2] }

// shapeBox is the tight pixel box of the pixel centres inside the shape.
func shapeBox(p placed, side int) (detect.Box, bool) {
	x0, x1 := max(int(p.x-p.r)-1, 0), min(int(p.x+p.r)+1, side-1)
	y0, y1 := max(int(p.y-p.r)-1, 0), min(int(p.y+p.r)+1, side-1)
	b := detect.Box{math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)}
	for y := y0; y <= y1; y++ {
		for x := x0; x <= x1; x++ {
			if dataset.ShapeSDF(p.class, (float64(x)+0.5-p.x)/p.r, (float64(y)+0.5-p.y)/p.r) <= 0 {
				b[0], b[1] = math.Min(b[0], float64(x)), math.Min(b[1], float64(y))
				b[2], b[3] = math.Max(b[2], float64(x+1)), math.Max(b[3], float64(y+1))
			}
		}
	}
	return b, b[2] > b[0]
}

func drawShapes(dst []uint8, side int, cfg ShapesConfig, rng *rand.Rand) []detect.Object {
	fs := float64(side)
	// Background: a vertical gradient between two mid grays.
	top, bot := 0.35+0.3*rng.Float64(), 0.35+0.3*rng.Float64()
	bgAt := func(y float64) float64 { return top + (bot-top)*y/fs }
	count := cfg.MinShapes + rng.IntN(cfg.MaxShapes-cfg.MinShapes+1)
	sides := make([]float64, count)
	for k := range sides {
		sides[k] = math.Exp(math.Log(8) + rng.Float64()*(math.Log(0.9*fs)-math.Log(8)))
	}
	slices.SortFunc(sides, func(a, b float64) int {
		switch {
		case a > b:
			return -1
		case a < b:
			return 1
		}
		return 0
	})
	var shapes []placed
	for _, sd := range sides {
		class := rng.IntN(len(dataset.SyntheticClasses))
		for try := 0; try < 20; try++ {
			p := placed{class: class, r: sd / 2}
			p.x = p.r + (fs-2*p.r)*rng.Float64()
			p.y = p.r + (fs-2*p.r)*rng.Float64()
			b, ok := shapeBox(p, side)
			if !ok {
				continue
			}
			p.box = b
			hides := false
			for _, q := range shapes {
				iw := math.Min(b[2], q.box[2]) - math.Max(b[0], q.box[0])
				ih := math.Min(b[3], q.box[3]) - math.Max(b[1], q.box[1])
				if iw > 0 && ih > 0 && iw*ih > 0.5*q.box.Area() {
					hides = true
					break
				}
			}
			if hides {
				continue
			}
			bg := bgAt(p.y)
			for {
				p.color = [3]float64{rng.Float64(), rng.Float64(), rng.Float64()}
				if math.Abs(lum(p.color)-bg) >= 0.25 {
					break
				}
			}
			shapes = append(shapes, p)
			break
		}
	}
	plane := side * side
	img := make([]float64, 3*plane)
	for y := range side {
		g := bgAt(float64(y) + 0.5)
		for x := range side {
			noise := 0.04 * (rng.Float64() - 0.5)
			for c := range 3 {
				img[c*plane+y*side+x] = g + noise
			}
		}
	}
	objs := make([]detect.Object, 0, len(shapes))
	for _, p := range shapes {
		x0, x1 := max(int(p.x-p.r)-1, 0), min(int(p.x+p.r)+1, side-1)
		y0, y1 := max(int(p.y-p.r)-1, 0), min(int(p.y+p.r)+1, side-1)
		for y := y0; y <= y1; y++ {
			for x := x0; x <= x1; x++ {
				d := dataset.ShapeSDF(p.class, (float64(x)+0.5-p.x)/p.r, (float64(y)+0.5-p.y)/p.r) * p.r
				a := min(max(0.5-d, 0), 1)
				if a == 0 {
					continue
				}
				for c := range 3 {
					i := c*plane + y*side + x
					img[i] = a*p.color[c] + (1-a)*img[i]
				}
			}
		}
		objs = append(objs, detect.Object{Class: p.class, Box: p.box, Attr: -1})
	}
	for i, v := range img {
		dst[i] = uint8(min(max(math.Round(v*255), 0), 255))
	}
	return objs
}
