package detect

import (
	"fmt"

	"github.com/disiam/disiam/augment"
)

// Dataset is an indexed detection dataset: images with their annotated
// objects and cameras. It is read-only; implementations are safe for
// concurrent use, so loaders may call them from several goroutines.
type Dataset interface {
	// Len is the number of images.
	Len() int
	// Image returns image i, CHW float32 in [0, 1]. It may share storage
	// with the dataset: treat it as read-only.
	Image(i int) augment.Image
	// Objects returns image i's annotated objects (class indices into
	// Classes). The slice must not be modified.
	Objects(i int) []Object
	// Camera returns image i's camera. 2D-only datasets return the
	// identity-like K|0 with focal length 1 at the origin; only 3D
	// detection reads it.
	Camera(i int) Camera
	// Classes returns the class names, class-index order.
	Classes() []string
}

// Set is an in-memory Dataset of 8-bit images of one size: image i is
// Pix[i·C·H·W : (i+1)·C·H·W] in CHW order, sample b reading as b/255 (as
// torchvision's ToTensor).
type Set struct {
	C, H, W int
	Pix     []uint8
	// Labels[i] are image i's objects.
	Labels [][]Object
	// Cams[i] is image i's camera; nil means NewCamera(1, 1, 0, 0) for
	// every image (a 2D-only set).
	Cams []Camera
	// Names are the class names; Attrs the attribute names (index Attr),
	// nil without attributes.
	Names, Attrs []string
}

// Len implements Dataset.
func (s *Set) Len() int { return len(s.Labels) }

// Image implements Dataset; it allocates a new image.
func (s *Set) Image(i int) augment.Image {
	n := s.C * s.H * s.W
	if i < 0 || i >= len(s.Labels) {
		panic(fmt.Sprintf("detect: image %d of %d", i, len(s.Labels)))
	}
	m := augment.NewImage(s.C, s.H, s.W)
	for j, b := range s.Pix[i*n : (i+1)*n] {
		m.Pix[j] = float32(b) / 255
	}
	return m
}

// Objects implements Dataset.
func (s *Set) Objects(i int) []Object { return s.Labels[i] }

// Camera implements Dataset.
func (s *Set) Camera(i int) Camera {
	if s.Cams == nil {
		return NewCamera(1, 1, 0, 0)
	}
	return s.Cams[i]
}

// Classes implements Dataset.
func (s *Set) Classes() []string { return s.Names }
