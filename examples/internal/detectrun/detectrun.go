// Package detectrun is the detection fine-tuning wiring that
// examples/detect and examples/detecttransfer share: opening a detection
// data set from a spec, building FCOS on a named backbone with optional
// pretrained weights, and fine-tuning it with the shared training loop
// (package train) and torchvision's recipe (detect.Recipe), measuring COCO
// mAP on the validation images (coco.Evaluator).
//
// It is internal to the examples: a program built on the library proper
// assembles detect.Loader, detect.Objective, detect.Recipe and
// coco.Evaluator into a train.Loop itself, as FineTune does here.
package detectrun

import (
	"context"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/disiam/disiam/augment"
	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/detect"
	"github.com/disiam/disiam/detect/coco"
	"github.com/disiam/disiam/detect/synth"
	"github.com/disiam/disiam/examples/internal/runner"
	"github.com/disiam/disiam/safetensors"
	"github.com/disiam/disiam/train"
)

// Data is a detection data set's training and validation images.
type Data struct {
	Train, Val detect.Dataset
	// ValGT is the validation ground truth (nil: built from Val).
	ValGT *coco.Dataset
	// Describe is a one-line summary.
	Describe string
}

// OpenData opens spec: "synthetic" (synth.SyntheticShapes with train and
// test images of size×size, generated from seed) or
// "coco:IMAGES_DIR,ANNOTATIONS.json[,VAL_IMAGES_DIR,VAL_ANNOTATIONS.json]"
// (without the validation pair, the last test images, 0: a tenth, are
// held out).
func OpenData(spec string, trainN, test, size int, seed uint64) (Data, error) {
	if spec == "synthetic" {
		cfg := synth.ShapesConfig{Train: trainN, Test: test, Size: size, Seed: seed}
		tr, va := synth.SyntheticShapes(cfg, synth.Train), synth.SyntheticShapes(cfg, synth.Test)
		return Data{Train: tr, Val: va, Describe: fmt.Sprintf("SyntheticShapes: %d training and %d validation images of %dx%d, %d classes (%s)",
			tr.Len(), va.Len(), size, size, len(tr.Names), strings.Join(tr.Names, ", "))}, nil
	}
	rest, ok := strings.CutPrefix(spec, "coco:")
	if !ok {
		return Data{}, fmt.Errorf("data %q: synthetic or coco:IMAGES_DIR,ANNOTATIONS.json[,VAL_IMAGES_DIR,VAL_ANNOTATIONS.json]", spec)
	}
	parts := strings.Split(rest, ",")
	if len(parts) != 2 && len(parts) != 4 {
		return Data{}, fmt.Errorf("data %q: want coco:IMAGES_DIR,ANNOTATIONS.json and optionally VAL_IMAGES_DIR,VAL_ANNOTATIONS.json", spec)
	}
	tr, err := coco.OpenImages(parts[0], parts[1])
	if err != nil {
		return Data{}, err
	}
	if len(parts) == 4 {
		va, err := coco.OpenImages(parts[2], parts[3])
		if err != nil {
			return Data{}, err
		}
		if strings.Join(va.Classes(), "\x00") != strings.Join(tr.Classes(), "\x00") {
			return Data{}, fmt.Errorf("%s and %s have different categories", parts[1], parts[3])
		}
		return Data{Train: tr, Val: va, Describe: fmt.Sprintf("COCO format: %d training images (%s), %d validation images (%s), %d classes",
			tr.Len(), parts[1], va.Len(), parts[3], len(tr.Classes()))}, nil
	}
	n := tr.Len()
	hold := test
	if hold == 0 {
		hold = max(n/10, 1)
	}
	if hold >= n {
		return Data{}, fmt.Errorf("%s: %d images, %d held out for validation", parts[1], n, hold)
	}
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	trS, vaS := Subset{Dataset: tr, Index: all[:n-hold]}, Subset{Dataset: tr, Index: all[n-hold:]}
	return Data{Train: trS, Val: vaS, Describe: fmt.Sprintf("COCO format (%s): %d training images, the last %d held out for validation, %d classes",
		parts[1], n-hold, hold, len(tr.Classes()))}, nil
}

// Subset is the images Index of a dataset.
type Subset struct {
	detect.Dataset
	Index []int
}

func (s Subset) Len() int                      { return len(s.Index) }
func (s Subset) Image(i int) augment.Image     { return s.Dataset.Image(s.Index[i]) }
func (s Subset) Objects(i int) []detect.Object { return s.Dataset.Objects(s.Index[i]) }
func (s Subset) Camera(i int) detect.Camera    { return s.Dataset.Camera(s.Index[i]) }

// Outlines presents a detection set's images as their outlines
// (runner.Outline, blur σ = 3 pixels: the quickstart's pixel scale at
// 32×32), the input the quickstart's encoder is pretrained on. The boxes
// do not change.
type Outlines struct{ detect.Dataset }

// Image implements detect.Dataset.
func (o Outlines) Image(i int) augment.Image { return runner.Outline(o.Dataset.Image(i), 3) }

// OutlineNorm returns the per-channel mean and standard deviation of the
// outlines of (at most 200 of) ds's images, their normalization.
func OutlineNorm(ds detect.Dataset) augment.Normalize {
	var sum, sq, n float64
	for i := range min(ds.Len(), 200) {
		for _, v := range runner.Outline(ds.Image(i), 3).Pix {
			sum, sq, n = sum+float64(v), sq+float64(v)*float64(v), n+1
		}
	}
	m := sum / n
	sd := float32(math.Sqrt(max(sq/n-m*m, 1e-6)))
	return augment.Normalize{Mean: []float32{float32(m), float32(m), float32(m)}, Std: []float32{sd, sd, sd}}
}

// WithOutlines returns d with every image replaced by its outline; the
// validation ground truth stays that of the original images.
func (d Data) WithOutlines() (Data, error) {
	o := Data{Train: Outlines{d.Train}, Val: Outlines{d.Val}, ValGT: d.ValGT, Describe: d.Describe + "; as outlines"}
	if o.ValGT == nil {
		gt, err := coco.FromDataset(d.Val)
		if err != nil {
			return Data{}, err
		}
		o.ValGT = gt
	}
	return o, nil
}

// Options are a fine-tuning run's settings.
type Options struct {
	// Backbone names the backbone (backbone.New); Weights, if not empty,
	// is a .safetensors file of its pretrained weights (torchvision's
	// names), loaded before the detector is built.
	Backbone, Weights string
	// Freeze is "auto" (torchvision's choice: a pretrained backbone gets
	// frozen BatchNorm and frozen stem and layer1, a random one nothing),
	// "none" or "torchvision" (always frozen).
	Freeze string
	// Size and MaxSize are the resize's min_size and max_size (MaxSize 0:
	// Size).
	Size, MaxSize int
	// ScaleJitter is detect.Transform's (zero: none).
	ScaleJitter [2]float64
	// Norm normalizes the images (zero: ImageNet's, torchvision's).
	Norm                     augment.Normalize
	Epochs, Batch, EvalEvery int
	// Channels and HeadConvs size the FPN and the head.
	Channels, HeadConvs int
	// LR (0: torchvision's 0.01·Batch/16) and Clip (0: none).
	LR, Clip float64
	Seed     uint64
	// Log receives the loop's progress (nil: silent); LogInterval is its
	// period (0: the loop's default).
	Log         io.Writer
	LogInterval time.Duration
	// MetricsPath and SavePath, if set, receive the metrics per epoch and
	// the fine-tuned detector.
	MetricsPath, SavePath string
}

// Point is one epoch of a run.
type Point struct {
	Epoch int     `json:"epoch"`
	Loss  float64 `json:"loss"`
	// AP and AP50 are the COCO mAP and mAP@0.5 after the epoch (NaN when
	// not evaluated).
	AP   float64 `json:"map"`
	AP50 float64 `json:"map50"`
}

// Result is what a run measured.
type Result struct {
	// Stats are the last evaluation's 12 COCO statistics.
	Stats [12]float64 `json:"stats"`
	// BestAP50 is the largest mAP@0.5 over the evaluations, after epoch
	// BestEpoch.
	BestAP50  float64 `json:"best_map50"`
	BestEpoch int     `json:"best_epoch"`
	Curve     []Point `json:"curve"`
	// Params counts the detector's trainable parameters.
	Params  int     `json:"params"`
	Seconds float64 `json:"seconds"`
	// PerClass is the last evaluation's AP@0.5 per class.
	PerClass []float64      `json:"per_class_map50"`
	History  *train.History `json:"-"`
}

// NewModel builds the backbone, loads o.Weights into it and builds FCOS
// for the given number of classes with the freezing o.Freeze selects.
func NewModel(o Options, classes int) (*detect.FCOS, error) {
	b, err := backbone.New(o.Backbone, backbone.Config{Seed: o.Seed})
	if err != nil {
		return nil, err
	}
	pretrained := o.Weights != ""
	if pretrained {
		if err := safetensors.LoadModule(o.Weights, b); err != nil {
			return nil, fmt.Errorf("loading %s into %s: %w", o.Weights, o.Backbone, err)
		}
	}
	cfg := detect.Config{Classes: classes, Channels: o.Channels, HeadConvs: o.HeadConvs, Seed: o.Seed + 1000}
	switch o.Freeze {
	case "torchvision":
		cfg.FrozenBN, cfg.FrozenStages = true, 2
	case "auto", "":
		if pretrained {
			cfg.FrozenBN, cfg.FrozenStages = true, 2
		}
	case "none":
	default:
		return nil, fmt.Errorf("freeze %q: auto, none or torchvision", o.Freeze)
	}
	if _, ok := b.(*backbone.ResNet); !ok && cfg.FrozenStages > 0 {
		if _, ok := b.(*backbone.EfficientNet); !ok {
			cfg.FrozenStages = 0
		}
	}
	return detect.NewFCOS(b, cfg)
}

// FineTune fine-tunes FCOS on d with o and returns what it measured.
func FineTune(ctx context.Context, d Data, o Options) (*Result, error) {
	start := time.Now()
	classes := len(d.Train.Classes())
	m, err := NewModel(o, classes)
	if err != nil {
		return nil, err
	}
	tr := detect.Transform{MinSize: o.Size, MaxSize: o.MaxSize, HFlip: 0.5, ScaleJitter: o.ScaleJitter, Norm: o.Norm}
	loader, err := detect.NewLoader(d.Train, detect.LoaderConfig{Batch: o.Batch, Transform: tr, Shuffle: true, DropLast: true, Seed: o.Seed})
	if err != nil {
		return nil, err
	}
	tr.HFlip, tr.ScaleJitter = 0, [2]float64{}
	valLoader, err := detect.NewLoader(d.Val, detect.LoaderConfig{Batch: o.Batch, Transform: tr})
	if err != nil {
		return nil, err
	}
	rc := detect.RecipeConfig{LR: o.LR, Batch: o.Batch, Epochs: o.Epochs, StepsPerEpoch: loader.StepsPerEpoch(), ClipGradNorm: o.Clip}
	recipe, err := detect.Recipe(rc)
	if err != nil {
		return nil, err
	}
	ev := &coco.Evaluator{Model: m, Loader: valLoader, GT: d.ValGT}
	defer ev.Close()
	id := detect.Identity(m, loader, rc)
	id["backbone"], id["weights"] = o.Backbone, o.Weights
	l := &train.Loop{
		Stages: []train.Stage{{
			Name: "fcos", Parts: train.Parts{{Module: m, Trainable: true}},
			Objective: detect.NewObjective(m, loader), Data: loader, Epochs: o.Epochs,
			Recipe: recipe, Evaluator: ev,
		}},
		Config: train.Config{Batch: o.Batch, Seed: o.Seed, EvalEvery: max(o.EvalEvery, 0), Identity: id,
			Log: o.Log, LogInterval: o.LogInterval, MetricsPath: o.MetricsPath},
	}
	if o.EvalEvery == 0 {
		l.EvalEvery = o.Epochs
	}
	h, err := l.Run(ctx)
	if err != nil {
		return nil, err
	}
	r := &Result{History: h, Seconds: time.Since(start).Seconds(), BestAP50: math.NaN()}
	for _, p := range m.Params() {
		if p.Trainable {
			r.Params += p.Numel()
		}
	}
	evals := map[int]train.Evaluation{}
	for _, e := range h.Evaluations {
		evals[e.Epoch] = e
	}
	for _, rec := range h.Epochs {
		pt := Point{Epoch: rec.Epoch, Loss: rec.Loss, AP: math.NaN(), AP50: math.NaN()}
		if e, ok := evals[rec.Epoch]; ok {
			pt.AP, pt.AP50 = e.Metrics.Value(coco.MetricAP), e.Metrics.Value(coco.MetricAP50)
		}
		r.Curve = append(r.Curve, pt)
	}
	if v, ep, ok := h.Best(coco.MetricAP50); ok {
		r.BestAP50, r.BestEpoch = v, ep
	}
	if last := ev.Last(); last != nil {
		r.Stats = last.Stats
		for k := range classes {
			r.PerClass = append(r.PerClass, last.ClassStats(k)[1])
		}
	}
	if o.SavePath != "" {
		if err := safetensors.SaveModule(o.SavePath, m); err != nil {
			return nil, err
		}
	}
	return r, nil
}
