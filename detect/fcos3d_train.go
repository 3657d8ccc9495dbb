package detect

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/augment"
	"github.com/disiam/disiam/eval"
	"github.com/disiam/disiam/internal/parallel"
	"github.com/disiam/disiam/nn"
	"github.com/disiam/disiam/optim"
	"github.com/disiam/disiam/train"
)

// This file connects FCOS3D to the shared training loop (package train):
// a data adapter with monocular 3D augmentation (Data3D), the objective
// (Objective3D) and batched prediction over a dataset (Predict3D). The
// geometric pieces (Transform3D, Augment3D) are independent of FCOS3D.

// Transform3D maps an image with its camera and objects to the network
// input: the rectangle rect = (top, left, height, width) of src (partly
// outside src is allowed; that part reads as zero) is resized to outH ×
// outW by bilinear interpolation (augment.ResizedCrop), then flipped left
// to right when flip. The camera and the objects follow exactly
// (camera.go's Crop, Resize and HFlip): the intrinsics shift and scale
// (sx = outW/width, sy = outH/height) and the 2D boxes with them, objects
// whose clipped box is empty are dropped, the 3D state is kept except
// that a flip mirrors it (x → −x, yaw → π − yaw, vx → −vx). Depth never
// changes, so depth targets stay metric under any resize.
func Transform3D(src augment.Image, cam Camera, objs []Object, rect [4]int, flip bool, outH, outW int) (augment.Image, Camera, []Object) {
	top, left, h, w := rect[0], rect[1], rect[2], rect[3]
	dst := augment.NewImage(src.C, outH, outW)
	augment.ResizedCrop(dst, src, top, left, h, w)
	cam, objs = Crop(cam, objs, float64(top), float64(left), float64(h), float64(w))
	cam, objs = Resize(cam, objs, float64(outW)/float64(w), float64(outH)/float64(h))
	if flip {
		augment.HFlip(dst, dst)
		cam, objs = HFlip(cam, objs, float64(outW))
	}
	return dst, cam, objs
}

// Augment3D draws the random part of Transform3D for training: a zoom
// by a factor from Zoom (the source rectangle is the image's size divided
// by it, at a uniformly random position: factors above 1 crop, below 1
// pad) and a horizontal flip with probability Flip. mmdetection3d's
// FCOS3D recipe flips with probability 0.5 and does not zoom. The zero
// value is the identity.
type Augment3D struct {
	Flip float64
	Zoom [2]float64 // zero: no zoom
}

// Sample returns the source rectangle and the flip for an image of srcH
// × srcW.
func (a Augment3D) Sample(rng *rand.Rand, srcH, srcW int) (rect [4]int, flip bool) {
	rect = [4]int{0, 0, srcH, srcW}
	if a.Zoom[0] > 0 && a.Zoom[1] > 0 && !(a.Zoom[0] == 1 && a.Zoom[1] == 1) {
		s := a.Zoom[0] + (a.Zoom[1]-a.Zoom[0])*rng.Float64()
		h, w := max(1, int(math.Round(float64(srcH)/s))), max(1, int(math.Round(float64(srcW)/s)))
		pos := func(src, n int) int {
			lo, hi := min(0, src-n), max(0, src-n)
			return lo + rng.IntN(hi-lo+1)
		}
		rect = [4]int{pos(srcH, h), pos(srcW, w), h, w}
	}
	return rect, a.Flip > 0 && rng.Float64() < a.Flip
}

// Input3D is how images reach the network: resized to H × W (0: the
// dataset's size) and normalized with Norm.
type Input3D struct {
	H, W int
	Norm augment.Normalize
}

func (in Input3D) size(d Dataset) (int, int) {
	if in.H > 0 && in.W > 0 {
		return in.H, in.W
	}
	m := d.Image(0)
	return m.H, m.W
}

// Batch3D is a batch of network inputs: images [N, 3, H, W] (normalized),
// and per image its objects and camera in the input's pixels.
type Batch3D struct {
	N, H, W int
	Images  []float32
	Objects [][]Object
	Cameras []Camera
	// Index[i] is image i's index in the dataset.
	Index []int
}

// Len implements train.Batch.
func (b *Batch3D) Len() int { return b.N }

// LoadBatch3D prepares images idx of d as a Batch3D: each through
// Transform3D with the rectangle and flip aug(i) chooses for it (nil: the
// whole image, no flip), then normalized. Images are prepared in parallel;
// the result does not depend on the number of workers.
func LoadBatch3D(d Dataset, idx []int, in Input3D, aug func(i int, h, w int) ([4]int, bool)) *Batch3D {
	h, w := in.size(d)
	b := &Batch3D{N: len(idx), H: h, W: w, Images: make([]float32, len(idx)*3*h*w),
		Objects: make([][]Object, len(idx)), Cameras: make([]Camera, len(idx)), Index: append([]int(nil), idx...)}
	parallel.For(len(idx), 1, func(lo, hi int) {
		for j := lo; j < hi; j++ {
			src := d.Image(idx[j])
			rect, flip := [4]int{0, 0, src.H, src.W}, false
			if aug != nil {
				rect, flip = aug(idx[j], src.H, src.W)
			}
			img, cam, objs := Transform3D(src, d.Camera(idx[j]), d.Objects(idx[j]), rect, flip, h, w)
			img = in.Norm.Apply(img, nil, nil)
			copy(b.Images[j*3*h*w:(j+1)*3*h*w], img.Pix)
			b.Objects[j], b.Cameras[j] = objs, cam
		}
	})
	return b
}

// Data3D is a detection dataset as train.Data: shuffled batches of Batch
// images per epoch (the last partial batch dropped), each image augmented
// by Aug with randomness drawn from (Seed, epoch, image), so epochs are
// reproducible and independent of the number of workers.
type Data3D struct {
	Set   Dataset
	Batch int
	Seed  uint64
	Aug   Augment3D
	Input Input3D
}

// StepsPerEpoch implements train.Data.
func (d *Data3D) StepsPerEpoch() int {
	if d.Batch <= 0 {
		return 0
	}
	return d.Set.Len() / d.Batch
}

// Epoch implements train.Data.
func (d *Data3D) Epoch(ctx context.Context, e int) train.Epoch {
	a, b := augment.SampleSeed(d.Seed, e, -1)
	perm := rand.New(rand.NewPCG(a, b)).Perm(d.Set.Len())
	return &epoch3D{d: d, ctx: ctx, e: e, perm: perm}
}

type epoch3D struct {
	d    *Data3D
	ctx  context.Context
	e, k int
	perm []int
	err  error
}

func (ep *epoch3D) Next() (train.Batch, bool) {
	if ep.err = ep.ctx.Err(); ep.err != nil {
		return nil, false
	}
	d := ep.d
	if (ep.k+1)*d.Batch > len(ep.perm) {
		return nil, false
	}
	idx := ep.perm[ep.k*d.Batch : (ep.k+1)*d.Batch]
	ep.k++
	return LoadBatch3D(d.Set, idx, d.Input, func(i, h, w int) ([4]int, bool) {
		return d.Aug.Sample(augment.NewSampleRand().Seed(d.Seed, ep.e, i), h, w)
	}), true
}

func (ep *epoch3D) Err() error { return ep.err }
func (ep *epoch3D) Close()     {}

// Objective3D is FCOS3D's training as a train.Objective: Build adds the
// detector and its losses for micro-batches of n images of H × W, Feed
// copies a Batch3D's images and sets its targets. It reports the nine
// losses as observed metrics (averaged per epoch).
type Objective3D struct {
	Model *FCOS3D
	H, W  int

	tg  *TrainGraph3D
	buf []float32
}

// Build implements train.Objective.
func (o *Objective3D) Build(g *G.ExprGraph, n int) (*G.Node, error) {
	x, xt := nn.Input(g, "images", tensor.Float32, n, 3, o.H, o.W)
	tg, err := o.Model.TrainingGraph(x)
	if err != nil {
		return nil, err
	}
	o.tg, o.buf = tg, xt.Data().([]float32)
	return tg.Loss, nil
}

// Feed implements train.Objective.
func (o *Objective3D) Feed(b train.Batch, i, k int) error {
	bb, ok := b.(*Batch3D)
	if !ok {
		return fmt.Errorf("detect: FCOS3D objective: batch of type %T", b)
	}
	n := bb.N / k
	if bb.H != o.H || bb.W != o.W || n*k != bb.N || len(o.buf) != n*3*o.H*o.W {
		return fmt.Errorf("detect: FCOS3D objective: batch of %d %dx%d images in %d parts for a graph of %dx%d", bb.N, bb.H, bb.W, k, o.H, o.W)
	}
	copy(o.buf, bb.Images[i*len(o.buf):(i+1)*len(o.buf)])
	if err := o.tg.SetTargets(bb.Objects[i*n:(i+1)*n], bb.Cameras[i*n:(i+1)*n]); err != nil {
		return fmt.Errorf("batch images %v: %w", bb.Index[i*n:(i+1)*n], err)
	}
	return nil
}

// Observe implements train.Observer: the losses of the last run.
func (o *Objective3D) Observe() (eval.Metrics, error) {
	var ms eval.Metrics
	for i, v := range o.tg.Losses() {
		if o.tg.LossNodes[i] != nil {
			ms = append(ms, eval.Metric{Name: Loss3DNames[i], Value: v})
		}
	}
	return ms, nil
}

// Predict3D runs the detector over every image of d (batches of batch
// images, the last one padded) prepared by in (no augmentation) and
// returns each image's detections, decoded with the camera of the network
// input. The boxes are those of the input; with a resized input, Box and
// the cameras differ from the dataset's, the 3D state does not.
func Predict3D(ctx context.Context, m *FCOS3D, d Dataset, batch int, in Input3D) ([][]Detection3D, error) {
	h, w := in.size(d)
	p, err := m.NewPredictor(batch, h, w)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	out := make([][]Detection3D, d.Len())
	for s := 0; s < d.Len(); s += batch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		idx := make([]int, batch)
		for j := range idx {
			idx[j] = min(s+j, d.Len()-1)
		}
		b := LoadBatch3D(d, idx, in, nil)
		copy(p.Images().Data().([]float32), b.Images)
		dets, err := p.Predict(b.Cameras)
		if err != nil {
			return nil, err
		}
		for j := range idx {
			if s+j < d.Len() {
				out[s+j] = dets[j]
			}
		}
	}
	return out, nil
}

// ClipGradNorm wraps an optimizer so that each Step first rescales the
// gradients of params as torch.nn.utils.clip_grad_norm_(params, maxNorm)
// does: with the total L2 norm N of all gradients (summed in float64, in
// parameter order), every gradient is multiplied by maxNorm/(N + 1e-6)
// when that factor is below 1. FCOS3D clips at 35 (mmdetection3d's
// optim_wrapper grad_clip); without clipping, the exp-decoded depth and
// size can blow up in the first iterations.
func ClipGradNorm(opt optim.Optimizer, params []*nn.Param, maxNorm float64) optim.Optimizer {
	return &clipped{Optimizer: opt, params: params, max: maxNorm}
}

type clipped struct {
	optim.Optimizer
	params []*nn.Param
	max    float64
	// lastNorm is the total gradient norm before the last step's clipping.
	lastNorm float64
}

func (c *clipped) Step(lr float64) {
	var s float64
	for _, p := range c.params {
		if p.Grad == nil {
			continue
		}
		for _, v := range p.Grad.Data().([]float32) {
			s += float64(v) * float64(v)
		}
	}
	c.lastNorm = math.Sqrt(s)
	if f := c.max / (c.lastNorm + 1e-6); f < 1 {
		for _, p := range c.params {
			if p.Grad == nil {
				continue
			}
			g := p.Grad.Data().([]float32)
			for i := range g {
				g[i] = float32(float64(g[i]) * f)
			}
		}
	}
	c.Optimizer.Step(lr)
}
