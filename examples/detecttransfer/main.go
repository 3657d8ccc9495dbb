// Command detecttransfer reproduces the thesis' detection transfer study
// (Section 5.6, Tables 5.6 and 5.7, Figures 5.33 and 5.34): backbones
// initialized at random and pretrained with SimSiam, SimCLR, DiSiam and
// DiSiam+ are each built into the same 2D detector, fine-tuned on the
// same detection data with the same recipe, and compared by mAP@0.5 on
// the validation images, mean ± std over seeds.
//
// Usage:
//
//	go run ./examples/detecttransfer                       # pretrains each method here, small
//	go run ./examples/detecttransfer -encoders simclr=simclr.safetensors,disiam=disiam.safetensors
//
// # Pretraining
//
// Without -encoders each method is pretrained inside the study, as the
// quickstart pretrains (package runner's networks: the online backbone
// -backbone, DiSiam's assistant -assistant, heads of width -head-dim):
// -pretrain-images images of -pretrain-data, -pretrain-epochs epochs of
// batch -pretrain-batch, LARS (0.075·sqrt(batch), a warm-up epoch,
// cosine), on the synthetic set's outlines with shape views (see the
// quickstart's documentation for why), seed -pretrain-seed. Each
// encoder is saved as <out>/encoder_<method>.safetensors with
// torchvision's names and reused by a later run with the same -out (delete
// it to pretrain again). -encoders method=FILE,... takes encoders
// pretrained elsewhere instead (the methods' own programs, or PyTorch
// checkpoints with torchvision names); "random" is always in the table.
//
// # Fine-tuning
//
// Every initialization is fine-tuned with examples/detect's pipeline
// (torchvision's FCOS on the backbone, SGD with warm-up and step decay,
// horizontal flips, COCO evaluation with pycocotools' rules) once per
// seed of -seeds; the seed fixes the detection head's initialization,
// the data order and the flips. The thesis fine-tunes the whole
// detector, so -freeze defaults to none for every initialization (auto
// freezes a pretrained backbone's BatchNorm and first stages as
// torchvision does, which would treat the random row differently). On
// the synthetic set the detection images are presented as outlines
// (-images auto), the input the synthetic pretraining sees; see
// examples/detect.
//
// # Outputs
//
// In -out: runs.csv (one row per fine-tuning run), runs.json (every run
// with its curve), results.md (the thesis' table: mAP@0.5 and mAP,
// mean ± std over seeds, the best three in bold, as Table 5.6),
// map50.png (bars with 95% confidence intervals) and curves.png (the
// training loss and mAP@0.5 over the epochs, mean over seeds: Figures
// 5.33 and 5.34 side by side).
//
// # The default size
//
// Each method pretrains the narrow ResNet-18 ("resnet18-w16") for 8
// epochs on 1,000 synthetic images; the detector fine-tunes for 8 epochs
// on 256 synthetic scenes of 96×96 (as outlines) and is measured on 64,
// seeds 7 and 41: 25 minutes on the 2-core machine under a load average
// of about 20 (examples/README.md has the measured table). At this size
// the encoders are weak (the quickstart pretrains three times longer) and
// the differences between initializations stay within the spread over
// seeds.
//
// # Full scale
//
// The thesis pretrains ResNet-18 (and EfficientNet-B0) on COCO 2017 at
// 224×224 and fine-tunes on an OpenImages subset exported to COCO JSON
// (images, bbox as x, y, width, height, categories; the OpenImages tools
// write it). Pretrain each method with examples/pretrain, which writes
// DIR/encoder.safetensors with torchvision's names (COCO's train2017
// images in one subfolder, as examples/transfer describes):
//
//	for m in simsiam simclr disiam disiam+; do
//	    go run -tags openblas ./examples/pretrain -method $m -backbone resnet18 -assistant resnet34 \
//	        -data folder:/data/coco,size=224 -train 0 -test 0 -epochs 250 -batch 1024 -accumulate 8 -out coco-$m
//	done
//	go run -tags openblas ./examples/detecttransfer -backbone resnet18 \
//	    -encoders simsiam=coco-simsiam/encoder.safetensors,simclr=coco-simclr/encoder.safetensors,disiam=coco-disiam/encoder.safetensors,disiam+=coco-disiam+/encoder.safetensors \
//	    -data coco:/data/openimages/train,/data/openimages/train.json,/data/openimages/val,/data/openimages/val.json \
//	    -size 800 -max-size 1333 -epochs 26 -batch 16 -lr 0.01 -channels 256 -head-convs 4 -seeds 7,41 -out detecttransfer-openimages
//
// (-images auto is rgb for COCO-format data: ImageNet normalization, as
// torchvision; on a CPU this takes weeks.)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/disiam/disiam/augment"
	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/dataset"
	"github.com/disiam/disiam/examples/internal/detectrun"
	"github.com/disiam/disiam/examples/internal/experiment"
	"github.com/disiam/disiam/examples/internal/runner"
	"github.com/disiam/disiam/report"
	"github.com/disiam/disiam/safetensors"
	"github.com/disiam/disiam/ssl"
	"github.com/disiam/disiam/train"
)

func main() { runner.Main("detecttransfer", run) }

// options are the command line.
type options struct {
	Methods      []string          `json:"methods"`
	Encoders     map[string]string `json:"encoders"`
	Backbone     string            `json:"backbone"`
	Assistant    string            `json:"assistant"`
	HeadDim      int               `json:"head_dim"`
	PretrainData string            `json:"pretrain_data"`
	PreImages    int               `json:"pretrain_images"`
	PreEpochs    int               `json:"pretrain_epochs"`
	PreBatch     int               `json:"pretrain_batch"`
	PreSeed      uint64            `json:"pretrain_seed"`
	Data         string            `json:"data"`
	Train, Test  int               `json:"-"`
	Size         int               `json:"size"`
	MaxSize      int               `json:"max_size"`
	Epochs       int               `json:"epochs"`
	Batch        int               `json:"batch"`
	LR           float64           `json:"lr"`
	Channels     int               `json:"channels"`
	HeadConvs    int               `json:"head_convs"`
	Freeze       string            `json:"freeze"`
	Images       string            `json:"images"`
	Seeds        []uint64          `json:"seeds"`
	Out          string            `json:"out"`
	Verbose      bool              `json:"-"`
}

func parse(args []string, stderr io.Writer) (*options, error) {
	o := &options{Encoders: map[string]string{}}
	fs := flag.NewFlagSet("detecttransfer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	methods := fs.String("methods", "simsiam,simclr,disiam,disiam+", "methods to pretrain or load (besides the random initialization)")
	encoders := fs.String("encoders", "", "method=FILE,... pretrained encoders (torchvision names) instead of pretraining here")
	fs.StringVar(&o.Backbone, "backbone", experiment.SmallResNet, "backbone of every initialization")
	fs.StringVar(&o.Assistant, "assistant", experiment.SmallResNet, "assistant of DiSiam and DiSiam+ when pretraining here")
	fs.IntVar(&o.HeadDim, "head-dim", 512, "width of the SSL heads when pretraining here (0: the papers')")
	fs.StringVar(&o.PretrainData, "pretrain-data", "synthetic", "pretraining images (go doc ./dataset Open)")
	fs.IntVar(&o.PreImages, "pretrain-images", 1000, "pretraining images")
	fs.IntVar(&o.PreEpochs, "pretrain-epochs", 8, "pretraining epochs")
	fs.IntVar(&o.PreBatch, "pretrain-batch", 64, "pretraining batch")
	fs.Uint64Var(&o.PreSeed, "pretrain-seed", 1, "pretraining seed")
	fs.StringVar(&o.Data, "data", "synthetic", "detection data: synthetic or coco:IMAGES_DIR,ANNOTATIONS.json[,VAL_IMAGES_DIR,VAL_ANNOTATIONS.json]")
	fs.IntVar(&o.Train, "train", 256, "synthetic detection training images")
	fs.IntVar(&o.Test, "test", 64, "synthetic detection validation images")
	fs.IntVar(&o.Size, "size", 96, "detection image side (the resize's min_size)")
	fs.IntVar(&o.MaxSize, "max-size", 0, "the resize's max_size (0: -size)")
	fs.IntVar(&o.Epochs, "epochs", 8, "fine-tuning epochs")
	fs.IntVar(&o.Batch, "batch", 8, "fine-tuning batch")
	fs.Float64Var(&o.LR, "lr", 0.04, "fine-tuning learning rate (0: 0.01·batch/16)")
	fs.IntVar(&o.Channels, "channels", 64, "FPN and head width")
	fs.IntVar(&o.HeadConvs, "head-convs", 2, "convolutions per head tower")
	fs.StringVar(&o.Images, "images", "auto", "rgb (ImageNet-normalized), outlines (the input the synthetic pretraining sees) or auto (outlines for synthetic detection data)")
	fs.StringVar(&o.Freeze, "freeze", "none", "none (fine-tune everything, the thesis), auto or torchvision")
	seeds := fs.String("seeds", "7,41", "fine-tuning seeds")
	fs.StringVar(&o.Out, "out", "detecttransfer-out", "output directory")
	fs.BoolVar(&o.Verbose, "v", false, "print the training loops' progress")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if o.Seeds, err = runner.ParseSeeds(*seeds); err != nil || len(o.Seeds) == 0 {
		return nil, fmt.Errorf("-seeds %q: %v", *seeds, err)
	}
	o.Methods = runner.ParseList(*methods)
	for _, m := range o.Methods {
		if experiment.MethodTitle(m) == m && m != "random" {
			return nil, fmt.Errorf("-methods: unknown method %q (%s)", m, strings.Join(runner.Methods, ", "))
		}
	}
	for _, kv := range runner.ParseList(*encoders) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || v == "" {
			return nil, fmt.Errorf("-encoders %q: want method=FILE", kv)
		}
		o.Encoders[k] = v
	}
	for k := range o.Encoders {
		found := false
		for _, m := range o.Methods {
			found = found || m == k
		}
		if !found {
			return nil, fmt.Errorf("-encoders names %q, which -methods does not list", k)
		}
	}
	switch {
	case o.Epochs <= 0 || o.Batch <= 0 || o.Size <= 0 || o.PreEpochs <= 0 || o.PreBatch <= 0:
		return nil, errors.New("-epochs, -batch, -size, -pretrain-epochs and -pretrain-batch must be positive")
	case o.Freeze != "none" && o.Freeze != "auto" && o.Freeze != "torchvision":
		return nil, fmt.Errorf("-freeze %q: none, auto or torchvision", o.Freeze)
	case o.Images != "rgb" && o.Images != "outlines" && o.Images != "auto":
		return nil, fmt.Errorf("-images %q: auto, rgb or outlines", o.Images)
	}
	if o.Images == "auto" {
		o.Images = "rgb"
		if o.Data == "synthetic" {
			o.Images = "outlines"
		}
	}
	return o, nil
}

// row is one initialization of the table.
type row struct {
	Name, Title, Encoder string
}

// runRecord is one fine-tuning run.
type runRecord struct {
	Method string            `json:"method"`
	Seed   uint64            `json:"seed"`
	Result *detectrun.Result `json:"result"`
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return err
	}
	rows := []row{{Name: "random", Title: "Random Initialization"}}
	for _, m := range o.Methods {
		if m == "random" {
			continue
		}
		r := row{Name: m, Title: experiment.MethodTitle(m), Encoder: o.Encoders[m]}
		if r.Encoder == "" {
			r.Encoder = filepath.Join(o.Out, "encoder_"+strings.ReplaceAll(m, "+", "plus")+".safetensors")
			if _, err := os.Stat(r.Encoder); err != nil {
				if err := pretrain(ctx, o, m, r.Encoder, stdout); err != nil {
					return fmt.Errorf("pretraining %s: %w", m, err)
				}
			} else {
				fmt.Fprintf(stdout, "%s: reusing %s\n", r.Title, r.Encoder)
			}
		}
		rows = append(rows, r)
	}

	d, err := detectrun.OpenData(o.Data, o.Train, o.Test, o.Size, 1)
	if err != nil {
		return err
	}
	var norm augment.Normalize // ImageNet's
	if o.Images == "outlines" {
		norm = detectrun.OutlineNorm(d.Train)
		if d, err = d.WithOutlines(); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "\nfine-tuning FCOS on %s (%s): %d epochs of batch %d, lr %g, freeze %s, seeds %v\n",
		backbone.Title(o.Backbone), d.Describe, o.Epochs, o.Batch, o.LR, o.Freeze, o.Seeds)
	runs, err := report.CreateCSV(filepath.Join(o.Out, "runs.csv"), []string{"method", "seed", "map", "map50", "map75", "best_map50", "best_epoch", "seconds"})
	if err != nil {
		return err
	}
	defer runs.Close()
	var records []runRecord
	total := len(rows) * len(o.Seeds)
	for _, seed := range o.Seeds {
		for _, r := range rows {
			opt := detectrun.Options{Backbone: o.Backbone, Weights: r.Encoder, Freeze: o.Freeze, Size: o.Size, MaxSize: o.MaxSize,
				Epochs: o.Epochs, Batch: o.Batch, EvalEvery: 1, Channels: o.Channels, HeadConvs: o.HeadConvs, LR: o.LR, Seed: seed, Norm: norm}
			if o.Verbose {
				opt.Log = stdout
			}
			res, err := detectrun.FineTune(ctx, d, opt)
			var div *train.DivergedError
			if errors.As(err, &div) {
				fmt.Fprintf(stdout, "%s, seed %d: %v\n", r.Title, seed, err)
				res = &detectrun.Result{Stats: [12]float64{math.NaN(), math.NaN(), math.NaN()}, BestAP50: math.NaN()}
			} else if err != nil {
				return fmt.Errorf("%s, seed %d: %w", r.Title, seed, err)
			}
			records = append(records, runRecord{Method: r.Name, Seed: seed, Result: res})
			f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
			if err := runs.Add([]string{r.Name, strconv.FormatUint(seed, 10), f(res.Stats[0]), f(res.Stats[1]), f(res.Stats[2]),
				f(res.BestAP50), strconv.Itoa(res.BestEpoch), strconv.FormatFloat(res.Seconds, 'f', 1, 64)}); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "[%d/%d] %-22s seed %-3d mAP@0.5 %5.1f%%  mAP %5.1f%%  (%.0fs)\n", len(records), total, r.Title, seed,
				100*res.Stats[1], 100*res.Stats[0], res.Seconds)
		}
	}
	md, err := table(o, rows, records)
	if err != nil {
		return err
	}
	plots, err := figures(o, rows, records)
	if err != nil {
		return err
	}
	if err := report.WriteJSON(filepath.Join(o.Out, "runs.json"), struct {
		Config *options    `json:"config"`
		Runs   []runRecord `json:"runs"`
	}{o, records}); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(o.Out, "results.md"), []byte(md), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\n%s\nwrote results.md, runs.csv, runs.json, %s and %s in %s\n", md, filepath.Base(plots[0]), filepath.Base(plots[1]), o.Out)
	fmt.Fprintf(stdout, "took %s\n", time.Since(start).Round(time.Second))
	return nil
}

// values returns the metric of every run of method name, by seed.
func values(records []runRecord, name string, f func(*detectrun.Result) float64) []float64 {
	var out []float64
	for _, r := range records {
		if r.Method == name {
			out = append(out, f(r.Result))
		}
	}
	return out
}

// table is the thesis' Table 5.6/5.7 in Markdown.
func table(o *options, rows []row, records []runRecord) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "mAP in %% of FCOS (torchvision) on %s, fine-tuned for %d epochs on %s from each initialization; mean ± std over seeds %v (the best three in bold, as thesis Table 5.6):\n\n",
		backbone.Title(o.Backbone), o.Epochs, o.Data, o.Seeds)
	ap50 := func(r *detectrun.Result) float64 { return r.Stats[1] }
	ap := func(r *detectrun.Result) float64 { return r.Stats[0] }
	var means []float64
	for _, r := range rows {
		means = append(means, report.Mean(report.Finite(values(records, r.Name, ap50))))
	}
	best := report.Best(means, 3)
	t := report.Table{Header: []string{"Method", "mAP@0.5 (%)", "mAP@0.5:0.95 (%)", "best mAP@0.5 during training (%)"}}
	for i, r := range rows {
		t.Add(r.Title, report.Bold(report.MeanStd(values(records, r.Name, ap50)), best[i]),
			report.MeanStd(values(records, r.Name, ap)),
			report.MeanStd(values(records, r.Name, func(r *detectrun.Result) float64 { return r.BestAP50 })))
	}
	if err := t.Write(&b); err != nil {
		return "", err
	}
	return b.String(), nil
}

// figures writes map50.png and curves.png.
func figures(o *options, rows []row, records []runRecord) ([]string, error) {
	bars := filepath.Join(o.Out, "map50.png")
	var series []report.BarSeries
	for _, r := range rows {
		series = append(series, report.BarSeries{Label: r.Title, Values: [][]float64{values(records, r.Name, func(r *detectrun.Result) float64 { return r.Stats[1] })}})
	}
	if err := report.Bars(bars, report.Figure{Title: "FCOS mAP@0.5 by backbone initialization (mean, 95% CI)", YLabel: "mAP@0.5 (%)"},
		[]string{backbone.Title(o.Backbone)}, series); err != nil {
		return nil, err
	}
	loss := report.Panel{Title: "training loss (mean over seeds)", XLabel: "epoch", YLabel: "loss", YMin0: true}
	ap := report.Panel{Title: "mAP@0.5 on the validation images (mean over seeds)", XLabel: "epoch", YLabel: "mAP@0.5 (%)", Percent: true, YMin0: true}
	for _, r := range rows {
		var x, l, a []float64
		for e := 1; e <= o.Epochs; e++ {
			var ls, as []float64
			for _, rec := range records {
				if rec.Method != r.Name {
					continue
				}
				for _, p := range rec.Result.Curve {
					if p.Epoch == e {
						ls, as = append(ls, p.Loss), append(as, p.AP50)
					}
				}
			}
			x, l, a = append(x, float64(e)), append(l, report.Mean(report.Finite(ls))), append(a, report.Mean(report.Finite(as)))
		}
		loss.Lines = append(loss.Lines, report.Line{Label: r.Title, X: x, Y: l})
		ap.Lines = append(ap.Lines, report.Line{Label: r.Title, X: x, Y: a})
	}
	curves := filepath.Join(o.Out, "curves.png")
	if err := report.Panels(curves, []report.Panel{loss, ap}, 0, 0); err != nil {
		return nil, err
	}
	return []string{bars, curves}, nil
}

// pretrain trains method m as the quickstart does and saves its encoder.
func pretrain(ctx context.Context, o *options, m, path string, w io.Writer) error {
	start := time.Now()
	trainSet, err := runner.OpenSplit(o.PretrainData, dataset.Train, o.PreImages)
	if err != nil {
		return err
	}
	shapes := runner.IsSynthetic(o.PretrainData)
	if shapes {
		trainSet = runner.Outlines{Dataset: trainSet}
	}
	norm := runner.ChannelStats(trainSet)
	nets := &runner.Networks{Backbone: o.Backbone, Assistant: o.Assistant, Seed: o.PreSeed, HeadDim: o.HeadDim}
	method, err := nets.Method(m)
	if err != nil {
		return err
	}
	steps := trainSet.Len() / o.PreBatch
	if steps == 0 {
		return fmt.Errorf("%d images make no batch of %d", trainSet.Len(), o.PreBatch)
	}
	stage := ssl.Stage{Method: method, Epochs: o.PreEpochs, Recipe: runner.LARSRecipe(0, o.PreBatch, o.PreEpochs, 1, steps)}
	if shapes {
		stage.Views = runner.ShapeViews(method.Views(), trainSet.Image(0).H, norm)
	}
	tr := &ssl.Trainer{Stages: []ssl.Stage{stage}, Data: trainSet, Norm: norm, Config: train.Config{Batch: o.PreBatch, Seed: o.PreSeed}}
	if o.Verbose {
		tr.Log = w
	}
	h, err := tr.Run(ctx)
	if err != nil {
		return err
	}
	if err := safetensors.SaveModule(path, method.Encoder()); err != nil {
		return err
	}
	fmt.Fprintf(w, "%s: pretrained %d epochs on %d images of %s (final loss %.4f, %.0fs), saved %s\n",
		experiment.MethodTitle(m), o.PreEpochs, trainSet.Len(), o.PretrainData, h.Epochs[len(h.Epochs)-1].Loss, time.Since(start).Seconds(), path)
	return nil
}
