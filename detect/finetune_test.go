package detect

import (
	"context"
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/disiam/disiam/augment"
	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/internal/parallel"
	"github.com/disiam/disiam/train"
)

// markedSet is a Set of h×w images, each with one object whose box is
// painted 1 on a 0 background in every channel, so that a transform's
// pixels and boxes can be checked against each other.
func markedSet(n, h, w int, boxes []Box) *Set {
	s := &Set{C: 3, H: h, W: w, Pix: make([]uint8, n*3*h*w), Names: []string{"a", "b"}}
	for i := range n {
		b := boxes[i%len(boxes)]
		s.Labels = append(s.Labels, []Object{{Class: i % 2, Box: b, Attr: -1}})
		for c := range 3 {
			for y := int(b[1]); y < int(b[3]); y++ {
				for x := int(b[0]); x < int(b[2]); x++ {
					s.Pix[((i*3+c)*h+y)*w+x] = 255
				}
			}
		}
	}
	return s
}

// identityNorm leaves [0, 1] values as they are.
var identityNorm = augment.Normalize{Mean: []float32{0}, Std: []float32{1}}

// paintedBox returns the box of channel 0's pixels above 0.5 of image s
// of a batch (H×W).
func paintedBox(b *Batch, s int) Box {
	box := Box{math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)}
	plane := b.H * b.W
	img := b.Images[s*3*plane : s*3*plane+plane]
	for y := range b.H {
		for x := range b.W {
			if img[y*b.W+x] > 0.5 {
				box = Box{math.Min(box[0], float64(x)), math.Min(box[1], float64(y)), math.Max(box[2], float64(x+1)), math.Max(box[3], float64(y+1))}
			}
		}
	}
	return box
}

// TestTransformMovesBoxes checks flip, resize (torchvision's
// min_size/max_size rule), padding, normalization and crops: the boxes
// follow the painted pixels, and Placement.Original maps them back.
func TestTransformMovesBoxes(t *testing.T) {
	boxes := []Box{{4, 8, 20, 24}, {40, 10, 60, 30}}
	set := markedSet(6, 32, 64, boxes)
	cases := []struct {
		name string
		tr   Transform
		h, w int // batch tensor
		// scale of the boxes (no jitter)
		scale float64
	}{
		{"as is", Transform{Norm: identityNorm}, 32, 64, 1},
		{"flip", Transform{Norm: identityNorm, HFlip: 1}, 32, 64, 1},
		{"upscale", Transform{MinSize: 64, MaxSize: 128, Norm: identityNorm}, 128, 128, 2},
		{"max size wins", Transform{MinSize: 64, MaxSize: 96, Norm: identityNorm, HFlip: 1}, 96, 96, 1.5},
		{"downscale", Transform{MinSize: 16, MaxSize: 32, Norm: identityNorm}, 32, 32, 0.5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l, err := NewLoader(set, LoaderConfig{Batch: 2, Transform: tc.tr, Seed: 3})
			if err != nil {
				t.Fatal(err)
			}
			b := l.Load([]int{0, 1}, 0)
			if b.H != tc.h || b.W != tc.w {
				t.Fatalf("batch %dx%d, want %dx%d", b.H, b.W, tc.h, tc.w)
			}
			for s := range 2 {
				orig := boxes[s]
				want := Box{orig[0] * tc.scale, orig[1] * tc.scale, orig[2] * tc.scale, orig[3] * tc.scale}
				if tc.tr.HFlip == 1 {
					W := 64 * tc.scale
					want[0], want[2] = W-want[2], W-want[0]
				}
				got := b.Objects[s][0].Box
				for k := range 4 {
					if math.Abs(got[k]-want[k]) > 1e-9 {
						t.Fatalf("image %d: box %v, want %v", s, got, want)
					}
				}
				// The painted pixels agree with the box to a pixel
				// (bilinear resizing blurs the edges).
				pb := paintedBox(b, s)
				for k := range 4 {
					if math.Abs(pb[k]-want[k]) > 1 {
						t.Errorf("image %d: painted %v, box %v", s, pb, want)
						break
					}
				}
				back := b.Placements[s].Original(got)
				for k := range 4 {
					if math.Abs(back[k]-orig[k]) > 1e-9 {
						t.Errorf("image %d: mapped back to %v, want %v", s, back, orig)
						break
					}
				}
				// Padding is zero after normalization.
				plane := b.H * b.W
				if v := b.Images[s*3*plane+plane-1]; tc.h*tc.w > int(32*tc.scale*64*tc.scale) && v != 0 {
					t.Errorf("padding %v", v)
				}
			}
		})
	}
}

// ImageNet normalization as torchvision's GeneralizedRCNNTransform: (x −
// mean)/std per channel; the padding stays 0.
func TestTransformNormalizes(t *testing.T) {
	set := markedSet(1, 16, 16, []Box{{0, 0, 8, 8}})
	l, err := NewLoader(set, LoaderConfig{Batch: 1, Transform: Transform{Height: 32, Width: 32}})
	if err != nil {
		t.Fatal(err)
	}
	b := l.Load([]int{0}, 0)
	m, s := augment.ImageNetNorm.Mean, augment.ImageNetNorm.Std
	for c := range 3 {
		plane := b.Images[c*32*32 : (c+1)*32*32]
		if got, want := plane[0], (1-m[c])/s[c]; got != want {
			t.Errorf("channel %d: box pixel %v, want %v", c, got, want)
		}
		if got, want := plane[9*32+9], (0-m[c])/s[c]; got != want {
			t.Errorf("channel %d: background %v, want %v", c, got, want)
		}
		if plane[20*32+20] != 0 {
			t.Errorf("channel %d: padding %v", c, plane[20*32+20])
		}
	}
}

// A scale jitter that enlarges the image crops it to the batch tensor;
// boxes cut off entirely are dropped, the others clipped.
func TestTransformCropDropsBoxes(t *testing.T) {
	set := markedSet(1, 32, 32, []Box{{1, 1, 5, 5}})
	set.Labels[0] = append(set.Labels[0], Object{Class: 1, Box: Box{26, 26, 31, 31}, Attr: -1})
	l, err := NewLoader(set, LoaderConfig{Batch: 1, Transform: Transform{Height: 32, Width: 32, ScaleJitter: [2]float64{3, 3}, Norm: identityNorm}, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	dropped, kept := 0, 0
	for e := range 20 {
		b := l.Load([]int{0}, e)
		p := b.Placements[0]
		if p.ScaleX != 3 || p.OffX < 0 || p.OffX > 96-32 || p.OffY > 96-32 {
			t.Fatalf("epoch %d: placement %+v", e, p)
		}
		for _, o := range b.Objects[0] {
			if !o.Box.Valid() || o.Box[0] < 0 || o.Box[2] > 32 || o.Box[3] > 32 {
				t.Fatalf("epoch %d: box %v outside the image", e, o.Box)
			}
		}
		dropped += 2 - len(b.Objects[0])
		kept += len(b.Objects[0])
	}
	if dropped == 0 || kept == 0 {
		t.Errorf("over 20 crops %d boxes dropped, %d kept", dropped, kept)
	}
}

// The batches depend only on the seed and the epoch: not on the number
// of goroutines, and the shuffled order changes with the epoch.
func TestLoaderDeterministic(t *testing.T) {
	set := markedSet(10, 32, 32, []Box{{2, 2, 20, 12}, {10, 4, 30, 30}, {0, 0, 32, 32}})
	cfg := LoaderConfig{Batch: 4, Transform: Transform{MinSize: 40, MaxSize: 40, HFlip: 0.5, ScaleJitter: [2]float64{0.8, 1.2}}, Shuffle: true, DropLast: true, Seed: 9}
	epoch := func(workers, e int) []*Batch {
		old := parallel.Workers
		parallel.Workers = workers
		defer func() { parallel.Workers = old }()
		l, err := NewLoader(set, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if l.StepsPerEpoch() != 2 {
			t.Fatalf("%d steps per epoch, want 2", l.StepsPerEpoch())
		}
		ep := l.Epoch(context.Background(), e)
		defer ep.Close()
		var out []*Batch
		for {
			b, ok := ep.Next()
			if !ok {
				break
			}
			out = append(out, b.(*Batch))
		}
		if ep.Err() != nil {
			t.Fatal(ep.Err())
		}
		return out
	}
	a, b := epoch(1, 2), epoch(4, 2)
	flips := 0
	for i := range a {
		if !slices.Equal(a[i].Indices, b[i].Indices) || !slices.Equal(a[i].Images, b[i].Images) {
			t.Fatalf("batch %d differs between 1 and 4 workers", i)
		}
		for s := range a[i].Objects {
			if !slices.Equal(a[i].Objects[s], b[i].Objects[s]) {
				t.Fatalf("batch %d image %d: objects differ", i, s)
			}
			if a[i].Placements[s].Flipped {
				flips++
			}
		}
	}
	if flips == 0 || flips == 8 {
		t.Errorf("%d of 8 images flipped", flips)
	}
	c := epoch(2, 3)
	if slices.Equal(a[0].Indices, c[0].Indices) && slices.Equal(a[1].Indices, c[1].Indices) {
		t.Error("epochs 2 and 3 visit the images in the same order")
	}
}

// Bad annotations are refused before training, naming the image and the
// object.
func TestLoaderRejectsBadBoxes(t *testing.T) {
	for _, tc := range []struct {
		name string
		obj  Object
		want string
	}{
		{"zero width", Object{Class: 0, Box: Box{5, 2, 5, 9}}, "image 2, object 1: degenerate box"},
		{"inverted", Object{Class: 0, Box: Box{5, 9, 8, 2}}, "image 2, object 1: degenerate box"},
		{"NaN", Object{Class: 1, Box: Box{math.NaN(), 2, 8, 9}}, "image 2, object 1: degenerate box"},
		{"class", Object{Class: 2, Box: Box{1, 2, 8, 9}}, "image 2, object 1: class 2 outside [0, 2)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set := markedSet(3, 16, 16, []Box{{1, 1, 6, 6}})
			set.Labels[2] = append(set.Labels[2], tc.obj)
			_, err := NewLoader(set, LoaderConfig{Batch: 1})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewLoader: %v, want %q", err, tc.want)
			}
		})
	}
	set := markedSet(3, 16, 16, []Box{{1, 1, 6, 6}})
	for _, cfg := range []LoaderConfig{
		{Batch: 0}, {Batch: 4, DropLast: true}, {Batch: 1, Transform: Transform{HFlip: 2}},
		{Batch: 1, Transform: Transform{ScaleJitter: [2]float64{2, 1}}}, {Batch: 1, Transform: Transform{MinSize: -1}},
	} {
		if _, err := NewLoader(set, cfg); err == nil {
			t.Errorf("NewLoader(%+v): no error", cfg)
		}
	}
}

// Recipe is torchvision's: 0.01·batch/16, warm-up from 1e-3 over the
// first epoch's iterations but one, ×0.1 at 16/26 and 22/26 of the
// epochs.
func TestRecipe(t *testing.T) {
	r, err := Recipe(RecipeConfig{Batch: 8, Epochs: 26, StepsPerEpoch: 10})
	if err != nil {
		t.Fatal(err)
	}
	base := 0.005
	for _, c := range []struct {
		step int
		want float64
	}{
		{0, base * 1e-3}, {9, base}, {159, base}, {160, base * 0.1}, {219, base * 0.1}, {220, base * 0.1 * 0.1}, {259, base * 0.1 * 0.1},
	} {
		if got := r.Schedule.At(c.step); math.Abs(got-c.want) > 1e-15 {
			t.Errorf("step %d: lr %v, want %v", c.step, got, c.want)
		}
	}
	if r.ClipGradNorm != 0 {
		t.Errorf("clip %v", r.ClipGradNorm)
	}
	for _, bad := range []RecipeConfig{{Batch: 8, StepsPerEpoch: 1}, {Epochs: 1, StepsPerEpoch: 1},
		{Batch: 8, Epochs: 4, StepsPerEpoch: 2, Milestones: []int{3, 1}}, {Batch: 8, Epochs: 4, StepsPerEpoch: 2, WarmupFactor: 2}} {
		if _, err := Recipe(bad); err == nil {
			t.Errorf("Recipe(%+v): no error", bad)
		}
	}
}

// TestFineTuneLoop fine-tunes a small FCOS with the shared loop for a few
// steps: the losses are observed and finite, and a resumed run continues
// bit for bit.
func TestFineTuneLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	set := markedSet(8, 64, 64, []Box{{6, 8, 30, 40}, {36, 20, 60, 52}, {10, 30, 34, 60}})
	build := func() (*train.Loop, *FCOS) {
		m, err := NewFCOS(backbone.NewResNet(18, backbone.Config{Width: 8, Seed: 3}), Config{Classes: 2, Channels: 32, HeadConvs: 1, Seed: 4})
		if err != nil {
			t.Fatal(err)
		}
		l, err := NewLoader(set, LoaderConfig{Batch: 4, Transform: Transform{HFlip: 0.5}, Shuffle: true, DropLast: true, Seed: 5})
		if err != nil {
			t.Fatal(err)
		}
		rc := RecipeConfig{LR: 0.01, Epochs: 3, StepsPerEpoch: l.StepsPerEpoch(), ClipGradNorm: 10}
		r, err := Recipe(rc)
		if err != nil {
			t.Fatal(err)
		}
		return &train.Loop{Stages: []train.Stage{{Name: "fcos", Parts: train.Parts{{Module: m, Trainable: true}},
			Objective: NewObjective(m, l), Data: l, Epochs: 3, Recipe: r}},
			Config: train.Config{Batch: 4, Accumulate: 2, Seed: 5, Identity: Identity(m, l, rc)}}, m
	}
	l, m := build()
	h, err := l.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Epochs) != 3 {
		t.Fatalf("%d epochs", len(h.Epochs))
	}
	for _, rec := range h.Epochs {
		c, ok1 := rec.Observed.Get(LossClassification)
		r, ok2 := rec.Observed.Get(LossBBoxRegression)
		x, ok3 := rec.Observed.Get(LossBBoxCtrness)
		if !ok1 || !ok2 || !ok3 || math.Abs(c+r+x-rec.Loss) > 1e-5*rec.Loss {
			t.Errorf("epoch %d: loss %v, observed %v", rec.Epoch, rec.Loss, rec.Observed)
		}
	}
	// Interrupted after epoch 1 and resumed: the same weights.
	dir := t.TempDir()
	l2, _ := build()
	l2.CheckpointDir, l2.CheckpointEvery = dir, 1
	l2.OnEpoch = func(r train.EpochRecord) error {
		if r.Epoch == 1 {
			return train.Stop
		}
		return nil
	}
	if _, err := l2.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	l3, m3 := build()
	l3.CheckpointDir, l3.Resume = dir, true
	if _, err := l3.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	pa, pb := m.Params(), m3.Params()
	for i := range pa {
		if !reflect.DeepEqual(pa[i].Value.Data(), pb[i].Value.Data()) {
			t.Fatalf("%s differs after resuming", pa[i].Name)
		}
	}
}

// nanSet is a Dataset whose image 1 holds a NaN pixel.
type nanSet struct{ *Set }

func (s nanSet) Image(i int) augment.Image {
	img := s.Set.Image(i)
	if i == 1 {
		img.Pix[5] = float32(math.NaN())
	}
	return img
}

// A non-finite loss stops the loop with a *train.DivergedError naming the
// epoch and step.
func TestFineTuneDiverges(t *testing.T) {
	set := nanSet{markedSet(4, 32, 32, []Box{{2, 2, 20, 20}})}
	m, err := NewFCOS(backbone.NewResNet(18, backbone.Config{Width: 8, Seed: 3}), Config{Classes: 2, Channels: 32, HeadConvs: 1, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	l, err := NewLoader(set, LoaderConfig{Batch: 2, DropLast: true})
	if err != nil {
		t.Fatal(err)
	}
	r, err := Recipe(RecipeConfig{LR: 0.01, Epochs: 1, StepsPerEpoch: l.StepsPerEpoch()})
	if err != nil {
		t.Fatal(err)
	}
	loop := &train.Loop{Stages: []train.Stage{{Name: "fcos", Parts: train.Parts{{Module: m, Trainable: true}},
		Objective: NewObjective(m, l), Data: l, Epochs: 1, Recipe: r}}, Config: train.Config{Batch: 2}}
	_, err = loop.Run(context.Background())
	var div *train.DivergedError
	if !errors.As(err, &div) || div.Epoch != 1 || div.Step != 0 {
		t.Fatalf("Run: %v, want a divergence at epoch 1, step 0", err)
	}
}
