package detect

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/augment"
	"github.com/disiam/disiam/eval"
	"github.com/disiam/disiam/internal/parallel"
	"github.com/disiam/disiam/nn"
	"github.com/disiam/disiam/optim"
	"github.com/disiam/disiam/train"
)

// This file fine-tunes FCOS with the shared training loop (package
// train): the data pipeline (Transform, Loader), the objective over
// TrainingGraph, and torchvision's detection recipe (Recipe). The COCO
// mAP evaluator is coco.Evaluator.

// Transform is what torchvision's detection pipeline does to an image and
// its boxes before the model: the reference's random horizontal flip,
// then GeneralizedRCNNTransform's resize, normalization and padding into
// a batch tensor. Zero values are torchvision's defaults where it has
// them.
type Transform struct {
	// MinSize and MaxSize are GeneralizedRCNNTransform's: an h×w image is
	// scaled by s = min(MinSize/min(h, w), MaxSize/max(h, w)) to
	// floor(h·s)×floor(w·s) (bilinear, align_corners False, as
	// F.interpolate with recompute_scale_factor). Both 0 keep every image
	// at its size; one 0 means the other.
	MinSize, MaxSize int
	// Height and Width are the batch tensor's (the graph's) image size;
	// each image lies at the top left, the rest zero after normalization,
	// as batch_images pads. Zero means MaxSize rounded up to a multiple of
	// 32 (size_divisible), which every resized image fits.
	Height, Width int
	// Norm normalizes the [0, 1] images; the zero value means
	// augment.ImageNetNorm, GeneralizedRCNNTransform's image_mean and
	// image_std.
	Norm augment.Normalize
	// HFlip is the probability of a horizontal flip (torchvision's
	// reference: 0.5 for training, 0 for evaluation); the boxes flip with
	// the image: x1, x2 → W − x2, W − x1.
	HFlip float64
	// ScaleJitter, if not zero, multiplies each training image's scale by
	// a factor drawn uniformly from [ScaleJitter[0], ScaleJitter[1]]
	// (multi-scale training). An image larger than the batch tensor is
	// cropped at a random position; boxes are clipped to what remains and
	// dropped when nothing of them does (width or height ≤ MinBoxSide).
	ScaleJitter [2]float64
	// MinBoxSide is the smallest width and height a box keeps after
	// resizing and cropping, in pixels; 0 drops only degenerate boxes
	// (x2 ≤ x1 or y2 ≤ y1).
	MinBoxSide float64
}

// withDefaults fills in the sizes for images of h×w (the first image).
func (t Transform) withDefaults(h, w int) (Transform, error) {
	if t.MinSize == 0 {
		t.MinSize = t.MaxSize
	}
	if t.MaxSize == 0 {
		t.MaxSize = t.MinSize
	}
	if len(t.Norm.Mean) == 0 {
		t.Norm = augment.ImageNetNorm
	}
	if t.Height == 0 && t.Width == 0 {
		if t.MaxSize == 0 {
			t.Height, t.Width = h, w
		} else {
			s := (t.MaxSize + 31) / 32 * 32
			t.Height, t.Width = s, s
		}
	}
	switch {
	case t.MinSize < 0 || t.MaxSize < 0 || t.Height <= 0 || t.Width <= 0:
		return t, fmt.Errorf("detect: transform: MinSize %d, MaxSize %d, Height %d, Width %d", t.MinSize, t.MaxSize, t.Height, t.Width)
	case !(t.HFlip >= 0 && t.HFlip <= 1):
		return t, fmt.Errorf("detect: transform: HFlip probability %v", t.HFlip)
	case t.ScaleJitter != [2]float64{} && !(t.ScaleJitter[0] > 0 && t.ScaleJitter[0] <= t.ScaleJitter[1]):
		return t, fmt.Errorf("detect: transform: ScaleJitter %v, want 0 < lo ≤ hi", t.ScaleJitter)
	case !(t.MinBoxSide >= 0):
		return t, fmt.Errorf("detect: transform: MinBoxSide %v", t.MinBoxSide)
	}
	if err := t.Norm.Validate(); err != nil {
		return t, err
	}
	return t, nil
}

// scale returns the resize factor of an h×w image (1 without resizing).
func (t Transform) scale(h, w int) float64 {
	if t.MinSize == 0 {
		return 1
	}
	lo, hi := float64(min(h, w)), float64(max(h, w))
	return math.Min(float64(t.MinSize)/lo, float64(t.MaxSize)/hi)
}

// Placement records how an image reached the batch tensor, to map
// detections back to the image's own pixels.
type Placement struct {
	// ScaleX and ScaleY are resized size / original size per axis (the
	// ratios torchvision's resize_boxes uses); OffX and OffY the crop's
	// top-left corner in the resized image; Flipped whether it was
	// mirrored; H and W the original size.
	ScaleX, ScaleY, OffX, OffY float64
	Flipped                    bool
	H, W                       int
}

// Original maps a box of the batch tensor back to the original image's
// pixels (torchvision's transform.postprocess), clipped to the image.
func (p Placement) Original(b Box) Box {
	o := Box{(b[0] + p.OffX) / p.ScaleX, (b[1] + p.OffY) / p.ScaleY, (b[2] + p.OffX) / p.ScaleX, (b[3] + p.OffY) / p.ScaleY}
	if p.Flipped {
		o[0], o[2] = float64(p.W)-o[2], float64(p.W)-o[0]
	}
	return o.Clip(float64(p.H), float64(p.W))
}

// apply transforms img and its objects into dst (3×Height×Width), drawing
// the flip and the jitter from rng when given (nil: evaluation, no
// randomness). It returns the objects that remain and the placement.
func (t Transform) apply(dst []float32, img augment.Image, objs []Object, rng interface{ Float64() float64 }) ([]Object, Placement) {
	pl := Placement{H: img.H, W: img.W}
	src := img
	if rng != nil && t.HFlip > 0 && rng.Float64() < t.HFlip {
		f := augment.NewImage(img.C, img.H, img.W)
		augment.HFlip(f, img)
		src, pl.Flipped = f, true
	}
	s := t.scale(img.H, img.W)
	if rng != nil && t.ScaleJitter != [2]float64{} {
		s *= t.ScaleJitter[0] + (t.ScaleJitter[1]-t.ScaleJitter[0])*rng.Float64()
	}
	oh, ow := img.H, img.W
	if s != 1 {
		oh, ow = max(int(math.Floor(float64(img.H)*s)), 1), max(int(math.Floor(float64(img.W)*s)), 1)
	}
	pl.ScaleX, pl.ScaleY = float64(ow)/float64(img.W), float64(oh)/float64(img.H)
	res := src
	if oh != img.H || ow != img.W {
		res = augment.NewImage(img.C, oh, ow)
		augment.Rescale(res, src, false)
	}
	// Crop to the batch tensor at a random position when larger.
	var top, left int
	if rng != nil {
		if oh > t.Height {
			top = int(rng.Float64() * float64(oh-t.Height+1))
		}
		if ow > t.Width {
			left = int(rng.Float64() * float64(ow-t.Width+1))
		}
	}
	pl.OffX, pl.OffY = float64(left), float64(top)
	augment.Standardize(res, res, t.Norm.Mean, t.Norm.Std)
	for i := range dst {
		dst[i] = 0
	}
	ch, cw := min(oh-top, t.Height), min(ow-left, t.Width)
	for c := range 3 {
		sc := c
		if res.C == 1 {
			sc = 0
		}
		for y := range ch {
			row := res.Pix[(sc*oh+top+y)*ow+left:]
			copy(dst[(c*t.Height+y)*t.Width:(c*t.Height+y)*t.Width+cw], row[:cw])
		}
	}
	out := make([]Object, 0, len(objs))
	for _, o := range objs {
		b := o.Box
		if pl.Flipped {
			b[0], b[2] = float64(img.W)-b[2], float64(img.W)-b[0]
		}
		b = Box{b[0]*pl.ScaleX - pl.OffX, b[1]*pl.ScaleY - pl.OffY, b[2]*pl.ScaleX - pl.OffX, b[3]*pl.ScaleY - pl.OffY}
		b = b.Clip(float64(ch), float64(cw))
		if !(b.Width() > t.MinBoxSide && b.Height() > t.MinBoxSide) {
			continue
		}
		o.Box = b
		out = append(out, o)
	}
	return out, pl
}

// LoaderConfig configures a Loader.
type LoaderConfig struct {
	// Batch is the number of images per batch; required.
	Batch int
	// Transform prepares each image; set HFlip (0.5) for training.
	Transform Transform
	// Shuffle visits the images in a new order every epoch, drawn from
	// (Seed, epoch); DropLast drops a last partial batch. Training sets
	// both; evaluation neither.
	Shuffle, DropLast bool
	// Seed determines the orders and every flip, jitter and crop.
	Seed uint64
}

// Loader turns a Dataset into batches of transformed images and their
// objects: a train.Data for the shared loop. Image i of epoch e is
// transformed with randomness drawn from (Seed, e, i) only
// (augment.SampleRand), images are prepared in parallel on
// internal/parallel's workers, and batches come in order, so the batches
// do not depend on the number of goroutines.
type Loader struct {
	ds      Dataset
	cfg     LoaderConfig
	tr      Transform
	classes int
}

// NewLoader checks ds and cfg and returns a Loader. Every annotation is
// checked up front: a class outside the dataset's classes or a degenerate
// box (not finite, x2 ≤ x1 or y2 ≤ y1) is an error naming the image and
// the object (torchvision asserts on it deep inside training).
func NewLoader(ds Dataset, cfg LoaderConfig) (*Loader, error) {
	n := ds.Len()
	switch {
	case cfg.Batch <= 0:
		return nil, fmt.Errorf("detect: loader: batch size %d", cfg.Batch)
	case n == 0:
		return nil, fmt.Errorf("detect: loader: empty dataset")
	case cfg.DropLast && n < cfg.Batch:
		return nil, fmt.Errorf("detect: loader: %d images make no batch of %d", n, cfg.Batch)
	}
	img := ds.Image(0)
	tr, err := cfg.Transform.withDefaults(img.H, img.W)
	if err != nil {
		return nil, err
	}
	classes := len(ds.Classes())
	for i := range n {
		for k, o := range ds.Objects(i) {
			if o.Class < 0 || o.Class >= classes {
				return nil, fmt.Errorf("detect: %s image %d, object %d: class %d outside [0, %d)", datasetName(ds), i, k, o.Class, classes)
			}
			if !o.Box.Valid() {
				return nil, fmt.Errorf("detect: %s image %d, object %d: degenerate box %v (want finite, x2 > x1, y2 > y1)", datasetName(ds), i, k, o.Box)
			}
		}
	}
	return &Loader{ds: ds, cfg: cfg, tr: tr, classes: classes}, nil
}

// datasetName is the dataset's Name() if it has one ("dataset" else).
func datasetName(ds Dataset) string {
	if d, ok := ds.(interface{ Name() string }); ok && d.Name() != "" {
		return d.Name() + ":"
	}
	return "dataset"
}

// Transform returns the transform with its defaults filled in.
func (l *Loader) Transform() Transform { return l.tr }

// Dataset returns the dataset the loader reads.
func (l *Loader) Dataset() Dataset { return l.ds }

// Batch is the batch size.
func (l *Loader) Batch() int { return l.cfg.Batch }

// StepsPerEpoch implements train.Data: the number of batches per epoch.
func (l *Loader) StepsPerEpoch() int {
	n := l.ds.Len()
	if l.cfg.DropLast {
		return n / l.cfg.Batch
	}
	return (n + l.cfg.Batch - 1) / l.cfg.Batch
}

// Order returns the dataset indices in the order epoch e visits them.
func (l *Loader) Order(e int) []int {
	n := l.ds.Len()
	if !l.cfg.Shuffle {
		o := make([]int, n)
		for i := range o {
			o[i] = i
		}
		return o
	}
	a, b := augment.SampleSeed(l.cfg.Seed, e, -1)
	return rand.New(rand.NewPCG(a, b)).Perm(n)
}

// Batch is a batch of transformed images with their objects.
type Batch struct {
	// Images is float32 [Len, 3, H, W].
	Images []float32
	H, W   int
	// Objects[b] are image b's objects in batch-tensor pixels (crowds
	// kept), Indices[b] its dataset index, Placements[b] how it was
	// placed.
	Objects    [][]Object
	Indices    []int
	Placements []Placement
}

// Len implements train.Batch.
func (b *Batch) Len() int { return len(b.Indices) }

// Epoch implements train.Data.
func (l *Loader) Epoch(ctx context.Context, e int) train.Epoch {
	return &loaderEpoch{l: l, ctx: ctx, e: e, order: l.Order(e)}
}

// Load prepares the batch of dataset indices idx for epoch e (the
// randomness of epoch e; evaluation loaders have none).
func (l *Loader) Load(idx []int, e int) *Batch {
	t := l.tr
	px := 3 * t.Height * t.Width
	b := &Batch{Images: make([]float32, len(idx)*px), H: t.Height, W: t.Width,
		Objects: make([][]Object, len(idx)), Indices: append([]int(nil), idx...), Placements: make([]Placement, len(idx))}
	random := t.HFlip > 0 || t.ScaleJitter != [2]float64{}
	parallel.For(len(idx), 1, func(lo, hi int) {
		sr := augment.NewSampleRand()
		for s := lo; s < hi; s++ {
			i := idx[s]
			var rng interface{ Float64() float64 }
			if random {
				rng = sr.Seed(l.cfg.Seed, e, i)
			}
			b.Objects[s], b.Placements[s] = t.apply(b.Images[s*px:(s+1)*px], l.ds.Image(i), l.ds.Objects(i), rng)
		}
	})
	return b
}

type loaderEpoch struct {
	l     *Loader
	ctx   context.Context
	e     int
	order []int
	next  int
	err   error
}

func (e *loaderEpoch) Next() (train.Batch, bool) {
	if e.err != nil || e.next >= e.l.StepsPerEpoch() {
		return nil, false
	}
	if err := e.ctx.Err(); err != nil {
		e.err = err
		return nil, false
	}
	B := e.l.cfg.Batch
	lo := e.next * B
	idx := e.order[lo:min(lo+B, len(e.order))]
	e.next++
	return e.l.Load(idx, e.e), true
}

func (e *loaderEpoch) Err() error { return e.err }
func (e *loaderEpoch) Close()     {}

// Objective is FCOS's training objective for the shared loop
// (train.Objective): Build makes TrainingGraph on an images input of the
// loader's size, Feed copies a Batch's images and sets its targets. It
// reports the three losses, averaged per epoch, as observed metrics
// (classification, bbox_regression, bbox_ctrness, torchvision's loss
// names).
type Objective struct {
	Model *FCOS
	// H and W are the images' size (the Loader's Transform).
	H, W int

	tg     *TrainGraph
	images []float32
	idx    []int
}

// NewObjective returns the objective of m on the loader's batches.
func NewObjective(m *FCOS, l *Loader) *Objective {
	return &Objective{Model: m, H: l.tr.Height, W: l.tr.Width}
}

// Graph is the training graph of the last Build.
func (o *Objective) Graph() *TrainGraph { return o.tg }

// Build implements train.Objective.
func (o *Objective) Build(g *G.ExprGraph, n int) (*G.Node, error) {
	x, xt := nn.Input(g, "images", tensor.Float32, n, 3, o.H, o.W)
	tg, err := o.Model.TrainingGraph(x)
	if err != nil {
		return nil, err
	}
	o.tg, o.images = tg, xt.Data().([]float32)
	return tg.Loss, nil
}

// Feed implements train.Objective.
func (o *Objective) Feed(b train.Batch, i, k int) error {
	db, ok := b.(*Batch)
	if !ok {
		return fmt.Errorf("detect: objective: batch of type %T", b)
	}
	n := len(db.Indices) / k
	if len(db.Indices) != n*k || db.H != o.H || db.W != o.W || len(o.images) != n*3*o.H*o.W {
		return fmt.Errorf("detect: objective: batch of %d images of %dx%d for micro-batches of %d images of %dx%d", len(db.Indices), db.H, db.W, len(o.images)/(3*o.H*o.W), o.H, o.W)
	}
	px := 3 * o.H * o.W
	copy(o.images, db.Images[i*n*px:(i+1)*n*px])
	o.idx = db.Indices[i*n : (i+1)*n]
	if err := o.tg.SetTargets(db.Objects[i*n : (i+1)*n]); err != nil {
		return fmt.Errorf("%w (dataset images %v)", err, o.idx)
	}
	return nil
}

// Observed metric names of the Objective: torchvision's loss names.
const (
	LossClassification = "classification"
	LossBBoxRegression = "bbox_regression"
	LossBBoxCtrness    = "bbox_ctrness"
)

// Observe implements train.Observer: the three losses of the last run. A
// non-finite one is an error naming it and the batch's dataset images.
func (o *Objective) Observe() (eval.Metrics, error) {
	if err := o.tg.CheckFinite(); err != nil {
		return nil, fmt.Errorf("%w (dataset images %v)", err, o.idx)
	}
	c, r, x := o.tg.Losses()
	return eval.Metrics{{Name: LossClassification, Value: c}, {Name: LossBBoxRegression, Value: r}, {Name: LossBBoxCtrness, Value: x}}, nil
}

// RecipeConfig configures Recipe. Zero values are torchvision's
// detection reference (references/detection: train.py, engine.py).
type RecipeConfig struct {
	// LR is the learning rate (0: 0.01·Batch/16, the reference's 0.01
	// at 16 images per step scaled linearly).
	LR    float64
	Batch int
	// Epochs and StepsPerEpoch fix the schedule; required.
	Epochs, StepsPerEpoch int
	// Milestones are the epochs (from 0) at which the rate is multiplied
	// by Gamma (0: 0.1); nil means the reference's 16 and 22 of 26 scaled
	// to Epochs (round(16/26·Epochs), round(22/26·Epochs)).
	Milestones []int
	Gamma      float64
	// Momentum (0: 0.9) and WeightDecay (0: 1e-4) of SGD; a negative
	// value means none.
	Momentum, WeightDecay float64
	// WarmupFactor (0: 1e-3) and WarmupIters (0: min(1000,
	// StepsPerEpoch − 1); negative: no warm-up) are the linear warm-up's.
	WarmupFactor float64
	WarmupIters  int
	// ClipGradNorm, if positive, clips the gradients' total norm
	// (train.Recipe.ClipGradNorm).
	ClipGradNorm float64
}

// Recipe returns torchvision's detection training recipe as a
// train.Recipe: SGD (momentum 0.9, weight decay 1e-4 on every trainable
// parameter, as the reference with norm_weight_decay None), a linear
// warm-up by a factor rising from 1e-3 over the first iterations
// (LinearLR), and ×0.1 at the milestone epochs (MultiStepLR).
func Recipe(c RecipeConfig) (train.Recipe, error) {
	if c.Epochs <= 0 || c.StepsPerEpoch <= 0 {
		return train.Recipe{}, fmt.Errorf("detect: recipe: %d epochs of %d steps", c.Epochs, c.StepsPerEpoch)
	}
	if c.LR == 0 {
		if c.Batch <= 0 {
			return train.Recipe{}, fmt.Errorf("detect: recipe: no LR and batch %d", c.Batch)
		}
		c.LR = 0.01 * float64(c.Batch) / 16
	}
	ms := c.Milestones
	if ms == nil {
		ms = []int{int(math.Round(16.0 / 26 * float64(c.Epochs))), int(math.Round(22.0 / 26 * float64(c.Epochs)))}
	}
	for i, m := range ms {
		if m < 0 || (i > 0 && m < ms[i-1]) {
			return train.Recipe{}, fmt.Errorf("detect: recipe: milestones %v, want ascending epochs ≥ 0", ms)
		}
	}
	or := func(v, d float64) float64 {
		switch {
		case v == 0:
			return d
		case v < 0:
			return 0
		}
		return v
	}
	gamma := or(c.Gamma, 0.1)
	sgd := optim.SGDConfig{Momentum: or(c.Momentum, 0.9), WeightDecay: or(c.WeightDecay, 1e-4)}
	factor := or(c.WarmupFactor, 1e-3)
	warm := c.WarmupIters
	switch {
	case warm == 0:
		warm = min(1000, c.StepsPerEpoch-1)
	case warm < 0:
		warm = 0
	}
	if !(c.LR > 0) || factor > 1 || !(c.ClipGradNorm >= 0) {
		return train.Recipe{}, fmt.Errorf("detect: recipe: LR %v, warm-up factor %v, ClipGradNorm %v", c.LR, factor, c.ClipGradNorm)
	}
	return train.Recipe{
		NewOptimizer: func(ps []*nn.Param) optim.Optimizer { return optim.NewSGD(ps, sgd) },
		Schedule: optim.LinearWarmup{
			Schedule:    optim.PerEpoch{Schedule: optim.MultiStep{Base: c.LR, Milestones: ms, Gamma: gamma}, StepsPerEpoch: c.StepsPerEpoch},
			StartFactor: factor, Steps: warm,
		},
		ClipGradNorm: c.ClipGradNorm,
	}, nil
}

// Identity describes the settings of a fine-tuning run that change its
// numbers, for train.Config.Identity (checkpoints refuse to resume under
// other settings).
func Identity(m *FCOS, l *Loader, c RecipeConfig) map[string]string {
	t := l.tr
	id := map[string]string{
		"detect.classes":   fmt.Sprint(m.Config.Classes),
		"detect.channels":  fmt.Sprint(m.Config.Channels),
		"detect.headconvs": fmt.Sprint(m.Config.HeadConvs),
		"detect.frozen":    fmt.Sprintf("bn=%v stages=%d", m.Config.FrozenBN, m.Config.FrozenStages),
		"detect.transform": fmt.Sprintf("min %d max %d %dx%d flip %g jitter %v minbox %g norm %v/%v", t.MinSize, t.MaxSize, t.Height, t.Width, t.HFlip, t.ScaleJitter, t.MinBoxSide, t.Norm.Mean, t.Norm.Std),
		"detect.data":      fmt.Sprintf("%d images, classes %s", l.ds.Len(), strings.Join(l.ds.Classes(), ",")),
		"detect.recipe":    fmt.Sprintf("%+v", c),
	}
	return id
}
