package dataset

import (
	"fmt"

	"github.com/disiam/disiam/augment"
)

// ImageDecoder is implemented by datasets that store compact samples
// (8-bit pixels) and can convert image i into a caller-owned image without
// allocating. The Loader uses it so that a worker reuses one buffer for all
// its images.
type ImageDecoder interface {
	// DecodeImage writes image i into dst.Pix, reallocating it only when
	// its capacity is too small, and returns the image.
	DecodeImage(i int, dst augment.Image) augment.Image
}

// ClassNamer is implemented by datasets that know their class names.
type ClassNamer interface {
	// ClassNames returns Classes() names, label order.
	ClassNames() []string
}

// ReadImage returns image i of ds. When ds implements ImageDecoder the
// image is decoded into dst's storage (grown if needed); otherwise it is
// ds.Image(i), which may share the dataset's storage. Either way the caller
// must treat the result as read-only unless it owns dst.
func ReadImage(ds Dataset, i int, dst augment.Image) augment.Image {
	if d, ok := ds.(ImageDecoder); ok {
		return d.DecodeImage(i, dst)
	}
	return ds.Image(i)
}

// u8ToF32 maps a byte b to float32(b) / 255, the value torchvision's
// ToTensor produces (a float32 division).
var u8ToF32 = func() (t [256]float32) {
	for i := range t {
		t[i] = float32(i) / 255
	}
	return t
}()

// U8Set is an in-memory dataset of 8-bit images of one size, the form every
// file format in this package decodes to. Image i occupies
// Pix[i*C*H*W : (i+1)*C*H*W] in CHW order (channel planes, rows top to
// bottom); sample value b reads as b / 255.
type U8Set struct {
	C, H, W    int
	Pix        []uint8
	Labels     []int32
	NumClasses int
	Names      []string // class names, nil when unknown
}

// Len implements Dataset.
func (s *U8Set) Len() int { return len(s.Labels) }

// Label implements Dataset.
func (s *U8Set) Label(i int) int { return int(s.Labels[i]) }

// Classes implements Dataset.
func (s *U8Set) Classes() int { return s.NumClasses }

// ClassNames implements ClassNamer (nil when unknown).
func (s *U8Set) ClassNames() []string { return s.Names }

// Image implements Dataset; it allocates a new image.
func (s *U8Set) Image(i int) augment.Image { return s.DecodeImage(i, augment.Image{}) }

// DecodeImage implements ImageDecoder.
func (s *U8Set) DecodeImage(i int, dst augment.Image) augment.Image {
	n := s.C * s.H * s.W
	if i < 0 || i >= len(s.Labels) {
		panic(fmt.Sprintf("dataset: image %d of %d", i, len(s.Labels)))
	}
	if cap(dst.Pix) < n {
		dst.Pix = make([]float32, n)
	}
	dst.C, dst.H, dst.W, dst.Pix = s.C, s.H, s.W, dst.Pix[:n]
	for j, b := range s.Pix[i*n : (i+1)*n] {
		dst.Pix[j] = u8ToF32[b]
	}
	return dst
}

// check validates the set's invariants; name prefixes errors.
func (s *U8Set) check(name string) error {
	n := s.C * s.H * s.W
	switch {
	case s.C <= 0 || s.H <= 0 || s.W <= 0:
		return fmt.Errorf("%s: image shape %dx%dx%d: %w", name, s.C, s.H, s.W, ErrCorrupt)
	case len(s.Pix) != n*len(s.Labels):
		return fmt.Errorf("%s: %d pixel bytes for %d images of %d: %w", name, len(s.Pix), len(s.Labels), n, ErrCorrupt)
	}
	for i, l := range s.Labels {
		if l < 0 || int(l) >= s.NumClasses {
			return fmt.Errorf("%s: record %d: label %d outside [0, %d): %w", name, i, l, s.NumClasses, ErrCorrupt)
		}
	}
	return nil
}
