package coco

import (
	"fmt"
	"image"
	_ "image/jpeg" // COCO's and OpenImages' images
	_ "image/png"
	"os"
	"path/filepath"

	"github.com/disiam/disiam/augment"
	"github.com/disiam/disiam/detect"
)

// Images is a COCO-format dataset with its image files: a detect.Dataset
// for fine-tuning and evaluation. Image i is Images[i] of the annotations,
// read from Dir/file_name and decoded with Go's image/jpeg or image/png
// each time it is asked for (RGB in [0, 1], CHW; grayscale images are
// repeated in the three channels). Class k is the k-th category by id.
type Images struct {
	*Dataset
	Dir string
}

// OpenImages reads the annotations file and checks every image it lists:
// the file must exist in dir, be a JPEG or PNG, and have the width and
// height the annotations give (when they give one). An error names the
// file and the image record.
func OpenImages(dir, annotations string) (*Images, error) {
	d, err := Read(annotations)
	if err != nil {
		return nil, err
	}
	for i, im := range d.Images {
		path := filepath.Join(dir, im.FileName)
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("coco: %s: images[%d] (id %d): %w", annotations, i, im.ID, err)
		}
		cfg, format, err := image.DecodeConfig(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("coco: %s: images[%d] (id %d): %s: %w (want a JPEG or PNG file)", annotations, i, im.ID, path, err)
		}
		if (im.Width != 0 && cfg.Width != im.Width) || (im.Height != 0 && cfg.Height != im.Height) {
			return nil, fmt.Errorf("coco: %s: images[%d] (id %d): %s is a %dx%d %s, the annotations say %dx%d: %w",
				annotations, i, im.ID, path, cfg.Width, cfg.Height, format, im.Width, im.Height, ErrFormat)
		}
		d.Images[i].Width, d.Images[i].Height = cfg.Width, cfg.Height
	}
	return &Images{Dataset: d, Dir: dir}, nil
}

// Len implements detect.Dataset.
func (m *Images) Len() int { return len(m.Images) }

// Image implements detect.Dataset. A file that fails to decode (it was
// checked when the set was opened) panics with its name.
func (m *Images) Image(i int) augment.Image {
	im := m.Images[i]
	path := filepath.Join(m.Dir, im.FileName)
	f, err := os.Open(path)
	if err != nil {
		panic(fmt.Sprintf("coco: image %d: %v", im.ID, err))
	}
	defer f.Close()
	src, _, err := image.Decode(f)
	if err != nil {
		panic(fmt.Sprintf("coco: image %d: %s: %v", im.ID, path, err))
	}
	return FromImage(src)
}

// FromImage converts a decoded image to CHW RGB float32 in [0, 1]
// (8-bit values / 255, as torchvision's ToTensor).
func FromImage(src image.Image) augment.Image {
	b := src.Bounds()
	h, w := b.Dy(), b.Dx()
	out := augment.NewImage(3, h, w)
	plane := h * w
	for y := range h {
		for x := range w {
			r, g, bl, _ := src.At(b.Min.X+x, b.Min.Y+y).RGBA()
			j := y*w + x
			out.Pix[j] = float32(r>>8) / 255
			out.Pix[plane+j] = float32(g>>8) / 255
			out.Pix[2*plane+j] = float32(bl>>8) / 255
		}
	}
	return out
}

// Camera implements detect.Dataset: COCO images have no calibration.
func (m *Images) Camera(int) detect.Camera { return detect.NewCamera(1, 1, 0, 0) }
