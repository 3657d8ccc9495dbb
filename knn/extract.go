package knn

import (
	"errors"
	"fmt"
	"reflect"
	"slices"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/augment"
	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/dataset"
	"github.com/disiam/disiam/internal/parallel"
	"github.com/disiam/disiam/nn"
)

// DefaultBatchSize is the batch size of Extractor and Evaluator when theirs
// is 0.
const DefaultBatchSize = 256

// Extractor computes a backbone's representation of every image of a
// dataset, in Eval mode, batch by batch. The zero value extracts the
// pooled features of images as they are, 256 at a time.
//
// It builds and compiles the backbone's graph once, for a fixed batch of
// BatchSize images of the dataset's image size, pads the last batch with
// zero images (harmless in Eval mode, where every image is computed
// independently) and reuses the compiled program on later calls with the
// same backbone and input shape, so that evaluating during training costs
// no graph construction after the first time. Close releases it. An
// Extractor must not be used by several goroutines at once; change its
// fields only between calls.
type Extractor struct {
	// BatchSize is the number of images per forward pass; 0 means
	// DefaultBatchSize.
	BatchSize int
	// InputSize, if positive, resizes every image to InputSize×InputSize
	// before normalization, by bilinear interpolation with
	// align_corners=False (PyTorch's F.interpolate / torchvision's resize
	// on tensors; antialiased when shrinking), as the thesis does to
	// evaluate ImageNet-pretrained weights on 32×32 images at 224×224. 0
	// keeps the dataset's size.
	InputSize int
	// Mean and Std standardize the images after resizing, (x - Mean[c]) /
	// Std[c] per channel c, as torchvision's Normalize; one value for all
	// channels or one per channel. nil Mean feeds the images unchanged.
	Mean, Std []float32
	// Logits uses the classifier's output, Classify(Features(x)), as the
	// representation instead of the pooled features (the thesis' "with
	// classifier layer" random-initialization runs).
	Logits bool
	// Progress, if not nil, is called after each batch with the number of
	// images done and the dataset size.
	Progress func(done, total int)

	prog *program
}

// program is a compiled feature graph and what it was built for.
type program struct {
	b              backbone.Backbone
	logits         bool
	batch, c, h, w int
	prog           *nn.Program
	in             *tensor.Dense
	out            *G.Node
	dim            int
}

// Close releases the compiled program, if any. The Extractor stays usable.
func (e *Extractor) Close() error {
	if e.prog == nil {
		return nil
	}
	err := e.prog.prog.Close()
	e.prog = nil
	return err
}

func (e *Extractor) batchSize() int {
	if e.BatchSize > 0 {
		return e.BatchSize
	}
	return DefaultBatchSize
}

// inputShape returns the network input's C, H, W for the dataset, checking
// the preprocessing options against it.
func (e *Extractor) inputShape(ds dataset.Dataset) (c, h, w int, err error) {
	img := ds.Image(0)
	c, h, w = img.C, img.H, img.W
	if c <= 0 || h <= 0 || w <= 0 || len(img.Pix) != c*h*w {
		return 0, 0, 0, fmt.Errorf("knn: image 0 has shape %dx%dx%d and %d samples", img.C, img.H, img.W, len(img.Pix))
	}
	if e.InputSize < 0 {
		return 0, 0, 0, fmt.Errorf("knn: InputSize = %d, want >= 0", e.InputSize)
	}
	if e.InputSize > 0 {
		h, w = e.InputSize, e.InputSize
	}
	if len(e.Mean) > 0 || len(e.Std) > 0 {
		if len(e.Mean) != len(e.Std) || (len(e.Mean) != 1 && len(e.Mean) != c) {
			return 0, 0, 0, fmt.Errorf("knn: %d means and %d stds for images of %d channels", len(e.Mean), len(e.Std), c)
		}
		for i, s := range e.Std {
			if !(s > 0) {
				return 0, 0, 0, fmt.Errorf("knn: Std[%d] = %v, want > 0", i, s)
			}
		}
	}
	return c, h, w, nil
}

// compile returns the program for b and the given input shape, reusing the
// cached one when it matches.
func (e *Extractor) compile(b backbone.Backbone, batch, c, h, w int) (*program, error) {
	if p := e.prog; p != nil && sameBackbone(p.b, b) && p.logits == e.Logits && p.batch == batch && p.c == c && p.h == h && p.w == w {
		return p, nil
	}
	if err := e.Close(); err != nil {
		return nil, fmt.Errorf("knn: releasing the previous program: %w", err)
	}
	cl, ok := b.(backbone.Classifier)
	if e.Logits && !ok {
		return nil, fmt.Errorf("knn: Logits: %s has no classifier (backbone.Classifier)", b.Name())
	}
	g := G.NewGraph()
	x, in := nn.Input(g, "knn_input", tensor.Float32, batch, c, h, w)
	var out *G.Node
	err := nn.Build(func() {
		out = b.Features(x)
		if e.Logits {
			out = cl.Classify(out)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("knn: %s on %dx%dx%d input: %w", b.Name(), c, h, w, err)
	}
	s := out.Shape()
	if len(s) != 2 || s[0] != batch || s[1] <= 0 {
		return nil, fmt.Errorf("knn: %s: representation of shape %v for a batch of %d, want [%d, D]", b.Name(), s, batch, batch)
	}
	prog, err := nn.Compile(g, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("knn: %s: %w", b.Name(), err)
	}
	e.prog = &program{b: b, logits: e.Logits, batch: batch, c: c, h: h, w: w, prog: prog, in: in, out: out, dim: s[1]}
	return e.prog, nil
}

// Extract switches b to Eval mode and returns the representation of every
// image of ds, row-major (ds.Len()×dim), and its width dim. b is left in
// Eval mode: call b.SetTraining(true) before training it further. All
// images must have the size of the first.
func (e *Extractor) Extract(b backbone.Backbone, ds dataset.Dataset) (features []float32, dim int, err error) {
	n := ds.Len()
	if n == 0 {
		return nil, 0, errors.New("knn: empty dataset")
	}
	if e.BatchSize < 0 {
		return nil, 0, fmt.Errorf("knn: BatchSize = %d, want >= 0", e.BatchSize)
	}
	c, h, w, err := e.inputShape(ds)
	if err != nil {
		return nil, 0, err
	}
	batch := e.batchSize()
	b.SetTraining(false)
	p, err := e.compile(b, batch, c, h, w)
	if err != nil {
		return nil, 0, err
	}
	features = make([]float32, n*p.dim)
	ld := e.newLoader(p, ds)
	for lo := 0; lo < n; lo += batch {
		m := min(batch, n-lo)
		if err := ld.load(lo, m); err != nil {
			return nil, 0, err
		}
		if err := p.prog.Run(); err != nil {
			return nil, 0, fmt.Errorf("knn: %s: images %d-%d: %w", b.Name(), lo, lo+m-1, err)
		}
		out, ok := p.out.Value().(*tensor.Dense)
		if !ok {
			return nil, 0, fmt.Errorf("knn: %s: representation is a %T", b.Name(), p.out.Value())
		}
		od, ok := out.Data().([]float32)
		if !ok || len(od) != batch*p.dim {
			return nil, 0, fmt.Errorf("knn: %s: representation holds %T of %d values, want %d float32", b.Name(), out.Data(), out.Shape().TotalSize(), batch*p.dim)
		}
		copy(features[lo*p.dim:], od[:m*p.dim])
		if e.Progress != nil {
			e.Progress(lo+m, n)
		}
	}
	return features, p.dim, nil
}

// UpdateBatchNorm re-estimates the running statistics of every BatchNorm
// layer of b from the images of ds, as torch.optim.swa_utils.update_bn
// (and fvcore's PreciseBN) do: it resets them (mean 0, variance 1,
// num_batches_tracked 0), runs b over ds batch by batch with the
// BatchNorm layers in Train mode, every batch weighing equally
// (PyTorch's momentum=None, a cumulative average of the batch means and
// unbiased variances), and restores each layer's momentum. Only the
// BatchNorm layers train: stochastic depth and dropout stay in Eval mode,
// so the statistics are those of the network that evaluation runs and no
// random state advances. A last batch shorter than BatchSize is skipped
// when ds holds a full one (zero padding would bias the statistics);
// a dataset smaller than BatchSize is one batch of all its images.
//
// It leaves b in Eval mode and returns a function that puts back the
// statistics b had before (for measuring with re-estimated statistics in
// the middle of a training run). A random initialization's running
// statistics (mean 0, variance 1) or those of the first training steps
// (momentum 0.1 keeps 0.9^t of the initial variance after t steps) can
// be far from the data's; for EfficientNet's depthwise layers at small
// inputs by orders of magnitude, and re-estimating them changes an
// evaluation of such a network completely (examples/README.md, "Real
// images at CPU scale").
func (e *Extractor) UpdateBatchNorm(b backbone.Backbone, ds dataset.Dataset) (restore func(), err error) {
	bn, ok := b.(backbone.BatchNormer)
	if !ok {
		return nil, fmt.Errorf("knn: %s has no BatchNorm layers to update (backbone.BatchNormer)", b.Name())
	}
	n := ds.Len()
	if n == 0 {
		return nil, errors.New("knn: empty dataset")
	}
	if e.BatchSize < 0 {
		return nil, fmt.Errorf("knn: BatchSize = %d, want >= 0", e.BatchSize)
	}
	c, h, w, err := e.inputShape(ds)
	if err != nil {
		return nil, err
	}
	batch := min(e.batchSize(), n)
	b.SetTraining(false)
	p, err := e.compile(b, batch, c, h, w)
	if err != nil {
		return nil, err
	}
	layers := bn.BatchNorms()
	type saved struct {
		mean, vr []float32
		tracked  int64
	}
	old := make([]saved, len(layers))
	for i, l := range layers {
		old[i] = saved{slices.Clone(l.RunningMean.Data()), slices.Clone(l.RunningVar.Data()), l.NumBatchesTracked.Value.Data().([]int64)[0]}
	}
	restore = func() {
		for i, l := range layers {
			copy(l.RunningMean.Data(), old[i].mean)
			copy(l.RunningVar.Data(), old[i].vr)
			l.NumBatchesTracked.Value.Data().([]int64)[0] = old[i].tracked
		}
	}
	momentum := make([]float64, len(layers))
	for i, l := range layers {
		momentum[i] = l.Config.Momentum
		clear(l.RunningMean.Data())
		for j := range l.RunningVar.Data() {
			l.RunningVar.Data()[j] = 1
		}
		l.NumBatchesTracked.Value.Data().([]int64)[0] = 0
		l.SetTraining(true)
	}
	defer func() {
		for i, l := range layers {
			l.Config.Momentum = momentum[i]
			l.SetTraining(false)
		}
		if err != nil {
			restore()
		}
	}()
	ld := e.newLoader(p, ds)
	for k, lo := 0, 0; lo+batch <= n; k, lo = k+1, lo+batch {
		if err := ld.load(lo, batch); err != nil {
			return nil, err
		}
		for _, l := range layers {
			l.Config.Momentum = 1 / float64(k+1)
		}
		if err := p.prog.Run(); err != nil {
			return nil, fmt.Errorf("knn: %s: updating BatchNorm statistics on images %d-%d: %w", b.Name(), lo, lo+batch-1, err)
		}
	}
	return restore, nil
}

// loader fills a program's input with normalized batches of a dataset.
type loader struct {
	e    *Extractor
	p    *program
	ds   dataset.Dataset
	src0 augment.Image
	in   []float32
	per  int
	bufs []augment.Image
}

func (e *Extractor) newLoader(p *program, ds dataset.Dataset) *loader {
	return &loader{e: e, p: p, ds: ds, src0: ds.Image(0), in: p.in.Data().([]float32), per: p.c * p.h * p.w,
		bufs: make([]augment.Image, p.batch)}
}

// load puts images lo..lo+m-1 of the dataset, resized and standardized,
// into the first m slots of the input and zeros into the rest (the
// padding of a last, short batch).
func (l *loader) load(lo, m int) error {
	e, p, src0 := l.e, l.p, l.src0
	bad := make([]error, m)
	parallel.For(m, 1, func(j, _ int) {
		dst := augment.Image{C: p.c, H: p.h, W: p.w, Pix: l.in[j*l.per : (j+1)*l.per]}
		img := dataset.ReadImage(l.ds, lo+j, l.bufs[j])
		l.bufs[j] = img
		if img.C != src0.C || img.H != src0.H || img.W != src0.W || len(img.Pix) != img.C*img.H*img.W {
			bad[j] = fmt.Errorf("knn: image %d has shape %dx%dx%d, image 0 %dx%dx%d", lo+j, img.C, img.H, img.W, src0.C, src0.H, src0.W)
			return
		}
		if e.InputSize > 0 && (img.H != p.h || img.W != p.w) {
			augment.Rescale(dst, img, p.h < img.H || p.w < img.W)
		} else {
			copy(dst.Pix, img.Pix)
		}
		if len(e.Mean) > 0 {
			augment.Standardize(dst, dst, e.Mean, e.Std)
		}
	})
	if err := errors.Join(bad...); err != nil {
		return err
	}
	clear(l.in[m*l.per:])
	return nil
}

// sameBackbone reports whether a and b are the same backbone value (false
// for a non-comparable dynamic type, which a == b would panic on).
func sameBackbone(a, b backbone.Backbone) bool {
	ta, tb := reflect.TypeOf(a), reflect.TypeOf(b)
	return ta == tb && ta.Comparable() && a == b
}

// Labels returns the labels of ds in order.
func Labels(ds dataset.Dataset) []int {
	out := make([]int, ds.Len())
	for i := range out {
		out[i] = ds.Label(i)
	}
	return out
}
