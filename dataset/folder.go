package dataset

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	_ "image/gif" // register GIF decoding for image folders
	_ "image/jpeg"
	_ "image/png"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/disiam/disiam/augment"
	"github.com/disiam/disiam/internal/checked"
	"github.com/disiam/disiam/internal/parallel"
)

// folderExts are the file extensions LoadFolder decodes (lower case).
var folderExts = []string{".png", ".jpg", ".jpeg", ".gif"}

// LoadFolder reads an image-folder dataset laid out as torchvision's
// ImageFolder: root/<class>/<...>/<file>.png|jpg|jpeg|gif, classes being the
// sorted names of root's subfolders (labels 0, 1, … in that order) and
// files taken recursively in sorted order; other files are ignored. Every
// image is decoded with the standard library, converted to RGB (alpha
// dropped, as PIL's convert("RGB")), resized to size x size with
// PyTorch's antialiased bilinear filter and stored as 8-bit samples. size
// must be in [1, MaxImageSide], and the set (files x 3 x size x size bytes)
// must fit in the machine's memory; both are checked before allocating.
// Decoding runs on internal/parallel's workers; the result does not depend
// on their number.
func LoadFolder(root string, size int) (*U8Set, error) {
	if err := checkSide("dataset: folder: "+root, size); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("dataset: folder: %w", err)
	}
	var classes []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			classes = append(classes, e.Name())
		}
	}
	if len(classes) == 0 {
		return nil, fmt.Errorf("dataset: folder: %s: no class subfolders (want root/<class>/<image>): %w", root, fs.ErrNotExist)
	}
	var files []string
	var labels []int32
	for ci, c := range classes {
		n0 := len(files)
		err := filepath.WalkDir(filepath.Join(root, c), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && slices.Contains(folderExts, strings.ToLower(filepath.Ext(p))) {
				files = append(files, p)
				labels = append(labels, int32(ci))
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("dataset: folder: %w", err)
		}
		if len(files) == n0 {
			return nil, fmt.Errorf("dataset: folder: %s: class %q has no .png/.jpg/.jpeg/.gif files: %w", root, c, fs.ErrNotExist)
		}
	}
	// Size the set before allocating it: size is at most MaxImageSide, but
	// many files at a large size can still exceed the machine's memory.
	if err := checkSetSize("dataset: folder: "+root, len(files), 3, size, size); err != nil {
		return nil, err
	}
	n := size * size * 3
	s := &U8Set{C: 3, H: size, W: size, Pix: make([]uint8, len(files)*n), Labels: labels, NumClasses: len(classes), Names: classes}
	errs := make([]error, len(files))
	parallel.For(len(files), parallel.Grain(len(files), 4), func(lo, hi int) {
		var ws augment.Workspace
		for i := lo; i < hi; i++ {
			data, err := os.ReadFile(files[i])
			if err != nil {
				errs[i] = fmt.Errorf("dataset: folder: %w", err)
				continue
			}
			if err := DecodeImageFile(s.Pix[i*n:(i+1)*n], data, size, &ws); err != nil {
				errs[i] = fmt.Errorf("dataset: folder: %s: %w", files[i], err)
			}
		}
	})
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return s, nil
}

// DecodeImageFile decodes a PNG, JPEG or GIF file, converts it to RGB and
// resizes it to size x size (antialiased bilinear), writing 3*size*size
// CHW bytes to dst. ws may be nil.
func DecodeImageFile(dst []uint8, data []byte, size int, ws *augment.Workspace) error {
	if ws == nil {
		ws = new(augment.Workspace)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	// Refuse images whose header declares absurd sizes before decoding
	// allocates for them.
	const maxPixels = 1 << 26
	if pixels, ok := checked.Mul(cfg.Width, cfg.Height); !ok || cfg.Width == 0 || cfg.Height == 0 || pixels > maxPixels {
		return fmt.Errorf("%s image of %dx%d pixels: %w", format, cfg.Width, cfg.Height, ErrOversized)
	}
	m, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	b := m.Bounds()
	w, h := b.Dx(), b.Dy()
	src := augment.Image{C: 3, H: h, W: w, Pix: ws.Buffer(3*h*w, nil, nil)}
	plane := h * w
	put := func(i int, r, g, bl uint8) {
		src.Pix[i] = u8ToF32[r]
		src.Pix[plane+i] = u8ToF32[g]
		src.Pix[2*plane+i] = u8ToF32[bl]
	}
	switch im := m.(type) {
	case *image.YCbCr:
		for y := range h {
			for x := range w {
				yi := im.YOffset(b.Min.X+x, b.Min.Y+y)
				ci := im.COffset(b.Min.X+x, b.Min.Y+y)
				r, g, bl := color.YCbCrToRGB(im.Y[yi], im.Cb[ci], im.Cr[ci])
				put(y*w+x, r, g, bl)
			}
		}
	case *image.NRGBA:
		for y := range h {
			for x := range w {
				o := im.PixOffset(b.Min.X+x, b.Min.Y+y)
				put(y*w+x, im.Pix[o], im.Pix[o+1], im.Pix[o+2])
			}
		}
	case *image.Gray:
		for y := range h {
			for x := range w {
				v := im.Pix[im.PixOffset(b.Min.X+x, b.Min.Y+y)]
				put(y*w+x, v, v, v)
			}
		}
	default:
		for y := range h {
			for x := range w {
				c := color.NRGBAModel.Convert(m.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
				put(y*w+x, c.R, c.G, c.B)
			}
		}
	}
	out := src
	if h != size || w != size {
		out = augment.Image{C: 3, H: size, W: size, Pix: ws.Buffer(3*size*size, src.Pix, nil)}
		augment.Rescale(out, src, true)
	}
	for i, v := range out.Pix {
		dst[i] = quantize(v)
	}
	return nil
}

// quantize rounds v*255 to the nearest byte, clamping to [0, 255].
func quantize(v float32) uint8 {
	x := v*255 + 0.5
	if x <= 0 {
		return 0
	}
	if x >= 255 {
		return 255
	}
	return uint8(x)
}
