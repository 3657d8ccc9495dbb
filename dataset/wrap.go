package dataset

import (
	"fmt"
	"math/rand/v2"

	"github.com/disiam/disiam/augment"
)

// Subset is the dataset of the images of Base at Indices, in that order.
type Subset struct {
	Base    Dataset
	Indices []int
}

// NewSubset returns the subset of ds at idx; it panics when an index is out
// of range (a programmer mistake: indices come from code, not files).
func NewSubset(ds Dataset, idx []int) *Subset {
	for _, i := range idx {
		if i < 0 || i >= ds.Len() {
			panic(fmt.Sprintf("dataset: Subset: index %d of %d", i, ds.Len()))
		}
	}
	return &Subset{Base: ds, Indices: idx}
}

// Len implements Dataset.
func (s *Subset) Len() int { return len(s.Indices) }

// Image implements Dataset.
func (s *Subset) Image(i int) augment.Image { return s.Base.Image(s.Indices[i]) }

// Label implements Dataset.
func (s *Subset) Label(i int) int { return s.Base.Label(s.Indices[i]) }

// Classes implements Dataset.
func (s *Subset) Classes() int { return s.Base.Classes() }

// DecodeImage implements ImageDecoder.
func (s *Subset) DecodeImage(i int, dst augment.Image) augment.Image {
	return ReadImage(s.Base, s.Indices[i], dst)
}

// ClassNames implements ClassNamer.
func (s *Subset) ClassNames() []string { return classNames(s.Base) }

func classNames(ds Dataset) []string {
	if n, ok := ds.(ClassNamer); ok {
		return n.ClassNames()
	}
	return nil
}

// Head returns the first n images of ds (all of them when n >= Len).
func Head(ds Dataset, n int) Dataset {
	if n >= ds.Len() {
		return ds
	}
	idx := make([]int, max(n, 0))
	for i := range idx {
		idx[i] = i
	}
	return NewSubset(ds, idx)
}

// Permutation returns a uniformly random permutation of [0, n) determined
// by seed alone (PCG seeded through splitmix64, Fisher-Yates).
func Permutation(n int, seed uint64) []int {
	a, b := augment.SampleSeed(seed, -1, -1)
	rng := rand.New(rand.NewPCG(a, b))
	return rng.Perm(n)
}

// Shuffle returns ds in the order Permutation(ds.Len(), seed): a
// deterministic shuffle, e.g. to draw a random subset with Head.
func Shuffle(ds Dataset, seed uint64) *Subset {
	return &Subset{Base: ds, Indices: Permutation(ds.Len(), seed)}
}

// PerClass returns the first n images of each class of ds (fewer where a
// class has fewer), in dataset order: a class-balanced subset.
func PerClass(ds Dataset, n int) *Subset {
	count := make([]int, ds.Classes())
	var idx []int
	for i := range ds.Len() {
		l := ds.Label(i)
		if count[l] < n {
			count[l]++
			idx = append(idx, i)
		}
	}
	return &Subset{Base: ds, Indices: idx}
}

// RGB presents a 1-channel dataset as 3 identical channels (3-channel
// images pass through), so grayscale sets such as Fashion-MNIST feed RGB
// backbones and color augmentations.
type RGB struct {
	Base Dataset
}

// Len implements Dataset.
func (r RGB) Len() int { return r.Base.Len() }

// Label implements Dataset.
func (r RGB) Label(i int) int { return r.Base.Label(i) }

// Classes implements Dataset.
func (r RGB) Classes() int { return r.Base.Classes() }

// ClassNames implements ClassNamer.
func (r RGB) ClassNames() []string { return classNames(r.Base) }

// Image implements Dataset; it allocates for 1-channel images.
func (r RGB) Image(i int) augment.Image { return r.DecodeImage(i, augment.Image{}) }

// DecodeImage implements ImageDecoder: the base image is decoded into the
// first plane of dst and copied to the other two.
func (r RGB) DecodeImage(i int, dst augment.Image) augment.Image {
	if _, ok := r.Base.(ImageDecoder); !ok {
		src := r.Base.Image(i)
		if src.C != 1 {
			return src
		}
		n := src.H * src.W
		if cap(dst.Pix) < 3*n {
			dst.Pix = make([]float32, 3*n)
		}
		dst = augment.Image{C: 3, H: src.H, W: src.W, Pix: dst.Pix[:3*n]}
		for c := range 3 {
			copy(dst.Pix[c*n:], src.Pix[:n])
		}
		return dst
	}
	img := ReadImage(r.Base, i, dst)
	if img.C != 1 {
		return img
	}
	n := img.H * img.W
	if cap(img.Pix) < 3*n {
		p := make([]float32, 3*n)
		copy(p, img.Pix)
		img.Pix = p
	}
	img.Pix = img.Pix[:3*n]
	copy(img.Pix[n:], img.Pix[:n])
	copy(img.Pix[2*n:], img.Pix[:n])
	img.C = 3
	return img
}
