package detect

import (
	"fmt"
	"math"
)

// Level is one level of the feature pyramid as the anchor generator and
// the target assignment see it.
type Level struct {
	// H, W is the level's map size.
	H, W int
	// StrideY, StrideX are torchvision's anchor strides: the image size
	// integer-divided by the map size (image_size // grid_size). They equal
	// 8·2^l only when the image sides are multiples of 128; a 100×100 input
	// gives strides 7, 14, 25, 50, 100 for maps of 13, 7, 4, 2, 1.
	StrideY, StrideX int
	// Size is the anchor size, 8·2^l for P3..P7. Assignment scales (the
	// centre-sampling radius, the regression ranges) and the box coder use
	// Size, not the stride.
	Size float64
	// Offset is the index of the level's first anchor among all levels.
	Offset int
}

// Len is the number of anchors (positions) of the level.
func (l Level) Len() int { return l.H * l.W }

// AnchorSizes are FCOS's anchor sizes of P3..P7 (one aspect ratio).
var AnchorSizes = []float64{8, 16, 32, 64, 128}

// NewLevels describes the levels of maps with the given sizes ([H, W] per
// level, finest first) for an input of imgH × imgW, with anchor sizes
// sizes[l].
func NewLevels(imgH, imgW int, maps [][2]int, sizes []float64) ([]Level, error) {
	if len(maps) != len(sizes) {
		return nil, fmt.Errorf("detect: %d maps but %d anchor sizes", len(maps), len(sizes))
	}
	var out []Level
	off := 0
	for l, m := range maps {
		if m[0] <= 0 || m[1] <= 0 || m[0] > imgH || m[1] > imgW {
			return nil, fmt.Errorf("detect: level %d: map %dx%d for a %dx%d image", l, m[0], m[1], imgH, imgW)
		}
		out = append(out, Level{H: m[0], W: m[1], StrideY: imgH / m[0], StrideX: imgW / m[1], Size: sizes[l], Offset: off})
		off += m[0] * m[1]
	}
	return out, nil
}

// Anchors returns the anchors of all levels, level by level and row by
// row, as torchvision's AnchorGenerator with one size per level and aspect
// ratio 1: the box round([−s/2, −s/2, s/2, s/2]) shifted by (j·StrideX,
// i·StrideY), so the anchor at row i, column j is centred on (j·StrideX,
// i·StrideY), the top-left corner of its cell, not the cell centre.
func Anchors(levels []Level) []Box {
	var out []Box
	for _, l := range levels {
		h := math.RoundToEven(l.Size / 2) // torch.round: half to even
		for i := 0; i < l.H; i++ {
			y := float64(i * l.StrideY)
			for j := 0; j < l.W; j++ {
				x := float64(j * l.StrideX)
				out = append(out, Box{x - h, y - h, x + h, y + h})
			}
		}
	}
	return out
}
