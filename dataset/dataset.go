package dataset

import "github.com/disiam/disiam/augment"

// Dataset is an indexed, labeled image collection held in memory. Images are
// CHW float32 in [0, 1]; the returned image may share storage with the
// dataset and must not be modified.
type Dataset interface {
	Len() int
	Image(i int) augment.Image
	Label(i int) int
	// Classes is the number of classes; labels are in [0, Classes).
	Classes() int
}
