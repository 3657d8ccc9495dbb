package augment

// Image is one image in CHW layout with float32 samples, normally in
// [0, 1]: the sample of channel c at (x, y) is Pix[(c*H+y)*W+x].
type Image struct {
	C, H, W int
	Pix     []float32
}

// NewImage returns a zeroed image.
func NewImage(c, h, w int) Image { return Image{C: c, H: h, W: w, Pix: make([]float32, c*h*w)} }
