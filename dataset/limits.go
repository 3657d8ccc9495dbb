package dataset

import (
	"fmt"

	"github.com/disiam/disiam/internal/checked"
)

// MaxImageSide is the largest image side a size option, LoadFolder or
// Synthetic accepts: 8192, whose square is the 2^26 pixels DecodeImageFile
// accepts from an image header. One 8192 x 8192 RGB image takes 192 MiB
// as bytes and 768 MiB as float32, far beyond what training on a set of
// such images could hold.
const MaxImageSide = 8192

// memoryLimit is the most bytes of pixels a set may take: the machine's
// physical memory where the system reports it (Linux), else 1 TiB. An
// allocation beyond physical memory cannot succeed, and the Go runtime
// reports running out of memory as a fatal error that no caller can
// handle, so the size is checked before allocating.
var memoryLimit = func() int {
	if m := physicalMemory(); m > 0 {
		return m
	}
	return 1 << 40
}()

// checkSetSize returns an error unless n images of c x h x w bytes fit in
// an int and in memoryLimit; what names the set in the error.
func checkSetSize(what string, n, c, h, w int) error {
	size, ok := checked.Product(n, c, h, w)
	if !ok {
		return fmt.Errorf("%s: %d images of %dx%dx%d: the size overflows an int: %w", what, n, c, h, w, ErrOversized)
	}
	if size > memoryLimit {
		return fmt.Errorf("%s: %d images of %dx%dx%d need %d bytes, more than the %d bytes of memory of this machine: %w", what, n, c, h, w, size, memoryLimit, ErrOversized)
	}
	return nil
}

// checkSide returns an error unless 1 <= side <= MaxImageSide.
func checkSide(what string, side int) error {
	if side < 1 || side > MaxImageSide {
		return fmt.Errorf("%s: image size %d outside [1, %d]: %w", what, side, MaxImageSide, ErrOversized)
	}
	return nil
}
