package augment

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"unsafe"
)

// Transform is one (possibly random) augmentation step.
//
// Apply returns the transformed image. It may overwrite img.Pix, so img must
// be owned by the caller (never a dataset's storage: Workspace.Run makes the
// copy), and it may return img itself or storage taken from ws. It draws all
// randomness from rng and keeps no reference to img, rng or ws.
type Transform interface {
	Apply(img Image, rng *rand.Rand, ws *Workspace) Image
}

// Validator is implemented by transforms whose parameters can be invalid.
// Validate(t) checks a whole pipeline before it runs.
type Validator interface {
	Validate() error
}

// Validate reports the first invalid parameter in t, descending into
// Compose, RandomApply and Views. Transforms that do not implement Validator
// are assumed valid.
func Validate(t Transform) error {
	if t == nil {
		return errors.New("augment: nil transform")
	}
	if v, ok := t.(Validator); ok {
		return v.Validate()
	}
	return nil
}

// Workspace holds the buffers a pipeline reuses from one image to the next,
// so that augmenting an image allocates nothing once the buffers have grown
// to the largest size seen. The zero value is ready to use. A Workspace is
// not safe for concurrent use: give each goroutine its own.
type Workspace struct {
	bufs [][]float32
	ints []int32
	wts  []float32
	row  []float32
	kern []float32
}

// Run applies t to a copy of src (src is left untouched) and returns the
// result, which lives in w's storage and stays valid until the next call
// that uses w.
func (w *Workspace) Run(t Transform, src Image, rng *rand.Rand) Image {
	n := src.C * src.H * src.W
	if len(src.Pix) != n {
		panic(fmt.Sprintf("augment: image %dx%dx%d has %d samples, want %d", src.C, src.H, src.W, len(src.Pix), n))
	}
	buf := w.Buffer(n, src.Pix, nil)
	copy(buf, src.Pix)
	return t.Apply(Image{C: src.C, H: src.H, W: src.W, Pix: buf}, rng, w)
}

// Buffer returns a slice of n samples from w's storage that shares no memory
// with avoid1 or avoid2 (either may be nil). Its contents are unspecified. It
// is meant for Transform implementations that cannot work in place.
func (w *Workspace) Buffer(n int, avoid1, avoid2 []float32) []float32 {
	for i, b := range w.bufs {
		if overlaps(b, avoid1) || overlaps(b, avoid2) {
			continue
		}
		if cap(b) < n {
			b = make([]float32, n)
			w.bufs[i] = b
		}
		return b[:n]
	}
	b := make([]float32, n)
	w.bufs = append(w.bufs, b)
	return b
}

// indices returns reusable scratch of n int32 and m float32.
func (w *Workspace) indices(n, m int) ([]int32, []float32) {
	if cap(w.ints) < n {
		w.ints = make([]int32, n)
	}
	if cap(w.wts) < m {
		w.wts = make([]float32, m)
	}
	return w.ints[:n], w.wts[:m]
}

// rowBuf returns reusable scratch of n float32, distinct from indices'.
func (w *Workspace) rowBuf(n int) []float32 {
	if cap(w.row) < n {
		w.row = make([]float32, n)
	}
	return w.row[:n]
}

// kernBuf returns reusable scratch of n float32 for filter taps.
func (w *Workspace) kernBuf(n int) []float32 {
	if cap(w.kern) < n {
		w.kern = make([]float32, n)
	}
	return w.kern[:n]
}

// overlaps reports whether a and b (to their capacity) share memory.
func overlaps(a, b []float32) bool {
	if cap(a) == 0 || cap(b) == 0 {
		return false
	}
	a0 := uintptr(unsafe.Pointer(unsafe.SliceData(a)))
	b0 := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	a1 := a0 + uintptr(cap(a))*4
	b1 := b0 + uintptr(cap(b))*4
	return a0 < b1 && b0 < a1
}

// Compose applies its transforms in order, like torchvision's Compose.
type Compose []Transform

// Apply implements Transform.
func (c Compose) Apply(img Image, rng *rand.Rand, ws *Workspace) Image {
	for _, t := range c {
		img = t.Apply(img, rng, ws)
	}
	return img
}

// Validate implements Validator.
func (c Compose) Validate() error {
	for i, t := range c {
		if err := Validate(t); err != nil {
			return fmt.Errorf("augment: Compose[%d]: %w", i, err)
		}
	}
	return nil
}

// RandomApply applies Transform with probability P, like torchvision's
// RandomApply (which applies when a uniform draw u in [0, 1) has u <= p).
// It draws one number per image, then whatever Transform draws.
type RandomApply struct {
	// P is the probability of applying Transform; zero means
	// torchvision's default 0.5 (leave the step out to never apply it).
	P         float64
	Transform Transform
}

// Apply implements Transform.
func (r RandomApply) Apply(img Image, rng *rand.Rand, ws *Workspace) Image {
	if rng.Float64() > prob(r.P, 0.5) {
		return img
	}
	return r.Transform.Apply(img, rng, ws)
}

// Validate implements Validator.
func (r RandomApply) Validate() error {
	if err := checkProb("RandomApply", r.P); err != nil {
		return err
	}
	if err := Validate(r.Transform); err != nil {
		return fmt.Errorf("augment: RandomApply: %w", err)
	}
	return nil
}

func prob(p, def float64) float64 {
	if p == 0 {
		return def
	}
	return p
}

func checkProb(name string, p float64) error {
	if !(p >= 0 && p <= 1) {
		return fmt.Errorf("augment: %s: probability %v outside [0, 1]", name, p)
	}
	return nil
}

// Views is a multi-view augmentation: view j of an image is Views[j]
// applied to a fresh copy of the image. All views of one image draw from the
// same per-sample random stream, view 0 first, so they are independent
// draws yet reproducible from (seed, epoch, index).
type Views []Transform

// MultiView returns m views that all use t: M = 2 for SimSiam and DiSiam,
// M > 2 for FastSiam and DiSiam+ (thesis Section 3.4).
func MultiView(m int, t Transform) Views {
	if m < 1 {
		panic(fmt.Sprintf("augment: MultiView: %d views", m))
	}
	v := make(Views, m)
	for i := range v {
		v[i] = t
	}
	return v
}

// Validate checks every view.
func (v Views) Validate() error {
	if len(v) == 0 {
		return errors.New("augment: Views: no views")
	}
	for j, t := range v {
		if err := Validate(t); err != nil {
			return fmt.Errorf("augment: view %d: %w", j, err)
		}
	}
	return nil
}

// Identity returns its input; it is the transform of an evaluation view
// that needs no change.
type Identity struct{}

// Apply implements Transform.
func (Identity) Apply(img Image, _ *rand.Rand, _ *Workspace) Image { return img }

// SampleRand hands out the random stream of one sample. Every random choice
// made for image index of epoch epoch under seed comes from
// Seed(seed, epoch, index), a PCG generator seeded from splitmix64 hashes of
// the three numbers, so augmentations never depend on which goroutine
// processes which image, or in which order. Reseeding allocates nothing.
// A SampleRand is not safe for concurrent use.
type SampleRand struct {
	pcg rand.PCG
	r   *rand.Rand
}

// NewSampleRand returns a SampleRand; call Seed before drawing.
func NewSampleRand() *SampleRand {
	s := &SampleRand{}
	s.r = rand.New(&s.pcg)
	return s
}

// Seed resets the stream to the one of (seed, epoch, index) and returns it.
func (s *SampleRand) Seed(seed uint64, epoch, index int) *rand.Rand {
	a, b := SampleSeed(seed, epoch, index)
	s.pcg.Seed(a, b)
	return s.r
}

// SampleSeed returns the two PCG seed words of (seed, epoch, index).
func SampleSeed(seed uint64, epoch, index int) (uint64, uint64) {
	h := SplitMix64(seed)
	h = SplitMix64(h ^ uint64(int64(epoch)))
	h = SplitMix64(h ^ uint64(int64(index)))
	return h, SplitMix64(h ^ 0x6a09e667f3bcc909)
}

// SplitMix64 is one step of Vigna's splitmix64 hash: it maps x to a
// well-mixed 64-bit value (the same function as the golden value rule).
func SplitMix64(x uint64) uint64 {
	x += 0x9E3779B97F4A7C15
	z := (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// uniform returns a uniform draw from [lo, hi), like torch's uniform_.
func uniform(rng *rand.Rand, lo, hi float64) float64 {
	return lo + (hi-lo)*rng.Float64()
}
