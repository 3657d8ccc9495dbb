package dataset

import (
	"math"
	"math/rand/v2"

	"github.com/disiam/disiam/augment"
	"github.com/disiam/disiam/internal/parallel"
)

// SyntheticClasses are the class names of the synthetic set: the kind of
// shape drawn. Every class is symmetric under a left-right flip, so the
// augmentations never turn one class into another.
var SyntheticClasses = []string{"disk", "square", "triangle", "plus", "ring", "diamond", "cross", "frame", "stripes", "checker"}

// SyntheticConfig sizes the synthetic set. The zero value is the default
// set: 5000 training and 1000 test images of 32 x 32, seed 0.
type SyntheticConfig struct {
	Train int    // training images; zero means 5000
	Test  int    // test images; zero means 1000
	Size  int    // image side; zero means 32
	Seed  uint64 // generator seed; the splits draw from different streams
}

func (c SyntheticConfig) withDefaults() SyntheticConfig {
	if c.Train == 0 {
		c.Train = 5000
	}
	if c.Test == 0 {
		c.Test = 1000
	}
	if c.Size == 0 {
		c.Size = 32
	}
	return c
}

// Synthetic generates the embedded dataset: 3 x Size x Size RGB images in
// 10 balanced classes (image i has label i mod 10). Each image is one
// anti-aliased shape (SyntheticClasses) whose color, position and scale are
// random, on a plain mid-gray background with mild gray noise. The class is
// the shape alone: color, position and scale are nuisances independent of
// the label, and the shape keeps a luminance contrast of at least 0.25
// with the background, so it survives grayscale conversion.
//
// The shape's color is a nuisance that two augmented views of an image
// share (color jitter keeps most of a hue), so with the usual views an SSL
// method can match views by color before it looks at the shape; training
// on the shapes' outlines with inversion and rotation views removes that
// shortcut (the example programs' -augment shapes). An earlier version
// drew random color gradients as backgrounds, a stronger shared shortcut:
// do not compare numbers across the change. Image i of a split depends
// only on (Seed, split, i); generation runs on internal/parallel's workers
// at a few microseconds per image.
func Synthetic(cfg SyntheticConfig, split Split) *U8Set {
	cfg = cfg.withDefaults()
	n := cfg.Train
	if split != Train {
		n = cfg.Test
	}
	side := cfg.Size
	px := 3 * side * side
	s := &U8Set{C: 3, H: side, W: side, Pix: make([]uint8, n*px), Labels: make([]int32, n), NumClasses: len(SyntheticClasses), Names: SyntheticClasses}
	parallel.For(n, parallel.Grain(n, 64), func(lo, hi int) {
		sr := augment.NewSampleRand()
		for i := lo; i < hi; i++ {
			label := i % len(SyntheticClasses)
			s.Labels[i] = int32(label)
			rng := sr.Seed(cfg.Seed, -2-int(split), i)
			drawSynthetic(s.Pix[i*px:(i+1)*px], side, label, rng)
		}
	})
	return s
}

func lum(c [3]float64) float64 { return 0.2989*c[0] + 0.587*c[1] + 0.114*c[2] }

func randColor(rng *rand.Rand) [3]float64 {
	return [3]float64{rng.Float64(), rng.Float64(), rng.Float64()}
}

// Background gray level of the synthetic images and the least luminance
// contrast a shape keeps against it.
const (
	syntheticGray     = 0.5
	syntheticContrast = 0.25
)

// drawSynthetic renders one image of class label into dst (CHW bytes).
func drawSynthetic(dst []uint8, side, label int, rng *rand.Rand) {
	fg := randColor(rng)
	for tries := 0; math.Abs(lum(fg)-syntheticGray) < syntheticContrast; tries++ {
		if tries == 64 {
			// Push the shape's luminance away from the background's.
			bright := lum(fg) > syntheticGray
			for c := range fg {
				if bright {
					fg[c] = 0.8 + 0.2*fg[c]
				} else {
					fg[c] *= 0.2
				}
			}
			break
		}
		fg = randColor(rng)
	}
	fs := float64(side)
	r := (0.25 + 0.2*rng.Float64()) * fs
	cx := r + (fs-2*r)*rng.Float64()
	cy := r + (fs-2*r)*rng.Float64()
	plane := side * side
	for y := range side {
		for x := range side {
			noise := 0.06 * (rng.Float64() - 0.5)
			d := shapeSDF(label, (float64(x)+0.5-cx)/r, (float64(y)+0.5-cy)/r) * r
			a := min(max(0.5-d, 0), 1)
			for c := range 3 {
				val := a*fg[c] + (1-a)*(syntheticGray+noise)
				dst[c*plane+y*side+x] = uint8(min(max(math.Round(val*255), 0), 255))
			}
		}
	}
}

// box is the signed distance from (x, y) to the axis-aligned box of half
// sides bx, by centred at the origin.
func box(x, y, bx, by float64) float64 {
	qx, qy := math.Abs(x)-bx, math.Abs(y)-by
	return math.Hypot(max(qx, 0), max(qy, 0)) + min(max(qx, qy), 0)
}

// shapeSDF is the signed distance (negative inside) from (x, y), in units
// of the shape's radius, to the shape of class k; shapes fit in [-1, 1]^2
// with y pointing down.
func shapeSDF(k int, x, y float64) float64 {
	const s2 = math.Sqrt2
	switch k {
	case 0: // disk
		return math.Hypot(x, y) - 0.9
	case 1: // square
		return box(x, y, 0.8, 0.8)
	case 2: // triangle, apex up: A(0, -0.95), B(-0.95, 0.75), C(0.95, 0.75)
		l := math.Hypot(1.7, 0.95)
		left := ((x-0)*-1.7 + (y+0.95)*-0.95) / l
		right := ((x-0)*1.7 + (y+0.95)*-0.95) / l
		return max(y-0.75, left, right)
	case 3: // plus
		return min(box(x, y, 0.9, 0.28), box(x, y, 0.28, 0.9))
	case 4: // ring
		return math.Abs(math.Hypot(x, y)-0.65) - 0.25
	case 5: // diamond
		return (math.Abs(x) + math.Abs(y) - 0.95) / s2
	case 6: // cross (an X)
		qx, qy := (x+y)/s2, (y-x)/s2
		return min(box(qx, qy, 1.0, 0.22), box(qx, qy, 0.22, 1.0))
	case 7: // frame (hollow square)
		return math.Abs(box(x, y, 0.72, 0.72)) - 0.18
	case 8: // three horizontal stripes in a square
		v := y + 0.9
		local := v - 0.6*math.Floor(v/0.6) - 0.3
		return max(box(x, y, 0.9, 0.9), math.Abs(local)-0.15)
	default: // 3 x 3 checkerboard, corners filled
		u, v := (x+0.9)/0.6, (y+0.9)/0.6
		i, j := math.Floor(u), math.Floor(v)
		fu, fv := u-i, v-j
		e := min(fu, 1-fu, fv, 1-fv) * 0.6
		if int(i+j)%2 != 0 {
			return max(box(x, y, 0.9, 0.9), e)
		}
		return max(box(x, y, 0.9, 0.9), -e)
	}
}
