package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/disiam/disiam/augment"
	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/dataset"
	"github.com/disiam/disiam/detect"
	"github.com/disiam/disiam/detect/coco"
	"github.com/disiam/disiam/examples/internal/detectrun"
	"github.com/disiam/disiam/report"
	"github.com/disiam/disiam/safetensors"
)

// run is one fine-tuning run of the comparison.
type runSpec struct {
	Name, Title, Weights string
}

// compareResult is what compare measured, by run name.
type compareResult struct {
	Runs    []runSpec                    `json:"runs"`
	Results map[string]*detectrun.Result `json:"results"`
	Seconds float64                      `json:"seconds"`
}

// compare fine-tunes from a random initialization and, with -weights, from
// the pretrained backbone, and reports both.
func compare(ctx context.Context, c config, w io.Writer) (*compareResult, error) {
	start := time.Now()
	d, err := detectrun.OpenData(c.data, c.train, c.test, c.size, c.seed)
	if err != nil {
		return nil, err
	}
	var norm augment.Normalize // ImageNet's
	if c.images == "outlines" {
		norm = detectrun.OutlineNorm(d.Train)
		if d, err = d.WithOutlines(); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(c.out, 0o755); err != nil {
		return nil, err
	}
	runs := []runSpec{{Name: "random", Title: "random initialization"}}
	if c.weights != "" {
		runs = append(runs, runSpec{Name: "pretrained", Title: "pretrained (" + filepath.Base(c.weights) + ")", Weights: c.weights})
	}
	fmt.Fprintf(w, "disiam detect: FCOS (torchvision) on %s, FPN/head %d wide, %d convs per tower\n", backbone.Title(c.backbone), c.channels, c.convs)
	fmt.Fprintf(w, "data: %s; %d CPUs\n", d.Describe, runtime.GOMAXPROCS(0))
	lr := c.lr
	if lr == 0 {
		lr = 0.01 * float64(c.batch) / 16
	}
	fmt.Fprintf(w, "recipe: %d epochs of batch %d, SGD lr %g (momentum 0.9, weight decay 1e-4), warm-up over the first epoch, ×0.1 at epochs %d and %d; hflip 0.5; freeze %s; seed %d\n\n",
		c.epochs, c.batch, lr, int(math.Round(16.0/26*float64(c.epochs))), int(math.Round(22.0/26*float64(c.epochs))), c.freeze, c.seed)
	res := &compareResult{Runs: runs, Results: map[string]*detectrun.Result{}}
	for _, r := range runs {
		fmt.Fprintf(w, "== %s ==\n", r.Title)
		o := detectrun.Options{
			Backbone: c.backbone, Weights: r.Weights, Freeze: c.freeze, Size: c.size, MaxSize: c.maxSize,
			Epochs: c.epochs, Batch: c.batch, EvalEvery: c.evalEvery, Channels: c.channels, HeadConvs: c.convs,
			LR: c.lr, Clip: c.clip, Seed: c.seed, Norm: norm, Log: w, LogInterval: c.logEvery,
			MetricsPath: filepath.Join(c.out, "metrics_"+r.Name+".csv"),
			SavePath:    filepath.Join(c.out, "fcos_"+r.Name+".safetensors"),
		}
		got, err := detectrun.FineTune(ctx, d, o)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.Title, err)
		}
		res.Results[r.Name] = got
		fmt.Fprintf(w, "%s: mAP %.1f%%, mAP@0.5 %.1f%% after %d epochs (%.0fs)\n\n", r.Title, 100*got.Stats[0], 100*got.Stats[1], c.epochs, got.Seconds)
	}
	res.Seconds = time.Since(start).Seconds()

	classes := d.Train.Classes()
	fmt.Fprintf(w, "COCO box statistics on the %d validation images after %d epochs:\n", d.Val.Len(), c.epochs)
	t := report.Table{Header: []string{"initialization", "mAP", "mAP@0.5", "mAP@0.75", "best mAP@0.5 (epoch)", "time"}}
	for _, r := range runs {
		g := res.Results[r.Name]
		t.Add(r.Title, report.Pct(g.Stats[0]), report.Pct(g.Stats[1]), report.Pct(g.Stats[2]),
			fmt.Sprintf("%s (%d)", report.Pct(g.BestAP50), g.BestEpoch), fmt.Sprintf("%.0fs", g.Seconds))
	}
	if err := t.Write(w); err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "\nmAP@0.5 per class:\n")
	pc := report.Table{Header: append([]string{"initialization"}, classes...)}
	for _, r := range runs {
		row := []string{r.Title}
		for _, v := range res.Results[r.Name].PerClass {
			row = append(row, report.Pct(v))
		}
		pc.Add(row...)
	}
	if err := pc.Write(w); err != nil {
		return nil, err
	}
	plot := filepath.Join(c.out, "detect.png")
	if err := plotRuns(plot, runs, res, c); err != nil {
		return nil, err
	}
	if err := report.WriteJSON(filepath.Join(c.out, "results.json"), res); err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "\nwrote %s, results.json, metrics_*.csv and fcos_*.safetensors in %s\n", plot, c.out)
	fmt.Fprintf(w, "took %s\n", time.Since(start).Round(time.Second))
	return res, nil
}

// plotRuns draws the training loss and mAP@0.5 over the epochs, one line
// per run.
func plotRuns(path string, runs []runSpec, res *compareResult, c config) error {
	loss := report.Panel{Title: "training loss (FCOS: focal + GIoU + centre-ness)", XLabel: "epoch", YLabel: "loss", YMin0: true}
	ap := report.Panel{Title: "COCO mAP@0.5 on the validation images", XLabel: "epoch", YLabel: "mAP@0.5 (%)", Percent: true, YMin0: true}
	for _, r := range runs {
		var x, l, a []float64
		for _, p := range res.Results[r.Name].Curve {
			x, l, a = append(x, float64(p.Epoch)), append(l, p.Loss), append(a, p.AP50)
		}
		loss.Lines = append(loss.Lines, report.Line{Label: r.Title, X: x, Y: l})
		ap.Lines = append(ap.Lines, report.Line{Label: r.Title, X: x, Y: a})
	}
	loss.Title = fmt.Sprintf("%s, %s: training loss", c.data, backbone.Title(c.backbone))
	return report.Panels(path, []report.Panel{loss, ap}, 0, 0)
}

// imageDets is one image's detections as -mode predict writes them.
type imageDets struct {
	Boxes  [][4]float64 `json:"boxes"`
	Scores []float64    `json:"scores"`
	Labels []int        `json:"labels"`
}

// predict writes the eval-mode detections of an .npy batch.
func predict(c config, w io.Writer) error {
	arr, err := dataset.LoadNpyFile(c.input)
	if err != nil {
		return err
	}
	if len(arr.Shape) != 4 || arr.Shape[1] != 3 || arr.Shape[0] == 0 {
		return fmt.Errorf("%s: shape %v, want [N, 3, H, W]", c.input, arr.Shape)
	}
	b, err := backbone.New(c.backbone, backbone.Config{NoInit: true})
	if err != nil {
		return err
	}
	m, err := detect.NewFCOS(b, detect.Config{Classes: c.classes, Channels: c.channels, HeadConvs: c.convs, NoInit: true})
	if err != nil {
		return err
	}
	if err := safetensors.LoadModule(c.weights, m); err != nil {
		// A detector trained with frozen BatchNorm has no
		// num_batches_tracked, as torchvision's FrozenBatchNorm2d.
		mf, err2 := frozenModel(c)
		if err2 != nil || safetensors.LoadModule(c.weights, mf) != nil {
			return fmt.Errorf("loading the detector: %w", err)
		}
		m = mf
	}
	n, h, wd := arr.Shape[0], arr.Shape[2], arr.Shape[3]
	p, err := m.NewPredictor(n, h, wd)
	if err != nil {
		return err
	}
	defer p.Close()
	copy(p.Images().Data().([]float32), arr.Data)
	dets, err := p.Predict()
	if err != nil {
		return err
	}
	out := make([]imageDets, n)
	total := 0
	for i, ds := range dets {
		o := imageDets{Boxes: [][4]float64{}, Scores: []float64{}, Labels: []int{}}
		for _, d := range ds {
			o.Boxes = append(o.Boxes, [4]float64(d.Box))
			o.Scores = append(o.Scores, d.Score)
			o.Labels = append(o.Labels, d.Class)
		}
		out[i] = o
		total += len(ds)
	}
	if err := report.WriteJSON(c.output, out); err != nil {
		return err
	}
	fmt.Fprintf(w, "wrote %d detections of %d images to %s\n", total, n, c.output)
	return nil
}

// frozenModel is the detector of c with frozen BatchNorm (and stages, as
// -freeze auto leaves a pretrained backbone).
func frozenModel(c config) (*detect.FCOS, error) {
	b, err := backbone.New(c.backbone, backbone.Config{NoInit: true})
	if err != nil {
		return nil, err
	}
	return detect.NewFCOS(b, detect.Config{Classes: c.classes, Channels: c.channels, HeadConvs: c.convs, NoInit: true, FrozenBN: true})
}

// evaluate prints the 12 COCO statistics of results against gt.
func evaluate(c config, w io.Writer) error {
	gt, err := coco.Read(c.gt)
	if err != nil {
		return err
	}
	rs, err := coco.ReadResults(c.results)
	if err != nil {
		return err
	}
	ev, err := coco.Evaluate(gt, rs, coco.Params{})
	if err != nil {
		return err
	}
	for i, name := range coco.StatNames {
		fmt.Fprintf(w, "%s %.6f\n", name, ev.Stats[i])
	}
	return nil
}
