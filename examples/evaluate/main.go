// Command evaluate measures a trained (or randomly initialized) encoder
// offline: the weighted kNN classifier and the linear probe with top-1,
// top-5 and per-class accuracy, the dimensional-collapse diagnostics, and
// a TriMap picture of the test representations with per-class densities.
//
// Usage:
//
//	go run ./examples/evaluate -backbone NAME [-weights F.safetensors] -data SPEC [flags]
//	go run ./examples/evaluate -backbone resnet18 -weights run1/encoder.safetensors -data cifar10:/data/cifar-10-batches-bin -out eval1
//
// NAME is resnet18 .. resnet152 or efficientnet_b0 .. efficientnet_b7,
// optionally with a width suffix (resnet18-w16). -weights is a state dict
// by torchvision's names, such as the encoder.safetensors that
// examples/pretrain writes; -prefix strips a key prefix ("backbone."). A
// file without classifier weights is fine. Without -weights the encoder
// keeps torchvision's random initialization drawn from -seed (the thesis'
// random baseline).
//
// The representations of the -train first training images and the -test
// first test images are extracted once (pooled features, Eval mode, images
// standardized by the training images' channel statistics as in
// examples/pretrain, resized to -size if given). Then:
//
//   - kNN: the weighted kNN classifier of thesis Section 4.4 (-knn-k,
//     -knn-tau), the training representations as the bank;
//   - linear probe: package probe's L2-regularized logistic regression on
//     standardized features (-probe-lambda, or a validation sweep over
//     -probe-sweep), trained on the training and scored on the test
//     representations;
//   - collapse: the per-dimension std of the L2-normalized test
//     representations, the singular-value spectrum of their covariance and
//     its effective rank (spectrum.png);
//   - TriMap: the first -trimap test representations embedded in 2D with
//     one Gaussian density per class and the divergences between the
//     class densities (trimap.png).
//
// Everything is printed; -out DIR also writes results.md, results.json,
// trimap.png and spectrum.png.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gonum.org/v1/plot/vg"

	"github.com/disiam/disiam/analysis"
	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/dataset"
	"github.com/disiam/disiam/examples/internal/inspect"
	"github.com/disiam/disiam/examples/internal/runner"
	"github.com/disiam/disiam/knn"
	"github.com/disiam/disiam/probe"
)

type config struct {
	backbone, weights, prefix, data, out string
	train, test, batch, size, knnK       int
	trimap                               int
	knnTau, probeLambda                  float64
	probeSweep, probeNorm, augment       string
	seed                                 uint64
}

func main() { runner.Main("evaluate", run) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c config
	fs := flag.NewFlagSet("evaluate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.backbone, "backbone", "resnet18", "architecture: "+strings.Join(backbone.Names(), ", ")+" (optionally with a width suffix, e.g. resnet18-w16)")
	fs.StringVar(&c.weights, "weights", "", "state dict `FILE.safetensors` (default: torchvision's random initialization from -seed)")
	fs.StringVar(&c.prefix, "prefix", "", "key `prefix` of the backbone's tensors in -weights (e.g. backbone.)")
	fs.StringVar(&c.data, "data", "synthetic", "dataset spec ("+strings.ReplaceAll(dataset.SpecUsage, "\n", "; ")+")")
	fs.StringVar(&c.augment, "augment", runner.AugmentAuto, "the input as the encoder was trained on it: shapes (the synthetic shapes' outlines, as the quickstart and the experiments train on the synthetic set), method (the images as they are), auto (shapes for the synthetic set)")
	fs.IntVar(&c.train, "train", 0, "training images: the kNN bank and the probe's training set (the first N; 0: all)")
	fs.IntVar(&c.test, "test", 0, "test images (the first N; 0: all)")
	fs.IntVar(&c.batch, "batch", 128, "images per forward pass")
	fs.IntVar(&c.size, "size", 0, "resize images to `N`xN before the network (0: as they are)")
	fs.IntVar(&c.knnK, "knn-k", knn.DefaultK, "neighbours of the kNN classifier")
	fs.Float64Var(&c.knnTau, "knn-tau", knn.DefaultTau, "temperature of the kNN classifier's weights")
	fs.Float64Var(&c.probeLambda, "probe-lambda", probe.DefaultLambda, "L2 penalty of the linear probe")
	fs.StringVar(&c.probeSweep, "probe-sweep", "", "comma-separated penalties to choose from on a held-out 20% of the training images (overrides -probe-lambda)")
	fs.StringVar(&c.probeNorm, "probe-norm", "standardize", "feature normalization of the probe: standardize, l2 or none")
	fs.IntVar(&c.trimap, "trimap", 2000, "test images in the TriMap picture (0: no picture)")
	fs.Uint64Var(&c.seed, "seed", 0, "seed of the random initialization, the probe's held-out split and TriMap")
	fs.StringVar(&c.out, "out", "", "directory for results.md, results.json, trimap.png and spectrum.png (empty: print only)")
	rules := runner.Rules{
		"probe-lambda": runner.FiniteAtLeast(0),
		"probe-sweep":  runner.FloatList(0),
		"probe-norm":   runner.OneOf("standardize", "l2", "none"),
	}
	if err := runner.Parse(fs, args, rules); err != nil {
		return err
	}
	return evaluate(ctx, c, stdout, stderr)
}

// results is what evaluate measures (results.json).
type results struct {
	Backbone, Weights, Data string
	Train, Test             int
	Dim                     int
	KNN                     struct {
		K               int
		Tau, Top1, Top5 float64
		PerClass        []float64
	}
	Linear struct {
		Lambda, Top1, Top5 float64
		Iterations         int
		PerClass           []float64
	}
	Collapse struct {
		MeanNormStdTimesSqrtDim, EffectiveRank float64
		Spectrum                               []float64
	}
	TriMap *struct {
		Images                                  int
		Seconds, KNNAccuracy, MeanSymKL, MeanJS float64
	} `json:",omitempty"`
	Classes []string
}

func evaluate(ctx context.Context, c config, stdout, stderr io.Writer) error {
	if c.knnK <= 0 || !(c.knnTau > 0) || c.batch <= 0 || c.size < 0 || c.trimap < 0 {
		return errors.New("-knn-k, -knn-tau and -batch must be positive, -size and -trimap not negative")
	}
	norm, err := probe.ParseNormalization(c.probeNorm)
	if err != nil {
		return err
	}
	pcfg := probe.Config{Lambda: c.probeLambda, Normalize: norm, Seed: c.seed}
	if c.probeSweep != "" {
		if pcfg.Lambdas, err = runner.ParseFloats(c.probeSweep); err != nil {
			return fmt.Errorf("-probe-sweep: %w", err)
		}
	}
	train, err := runner.OpenSplit(c.data, dataset.Train, c.train)
	if err != nil {
		return err
	}
	test, err := runner.OpenSplit(c.data, dataset.Test, c.test)
	if err != nil {
		return err
	}
	if train.Classes() != test.Classes() {
		return fmt.Errorf("%s: %d training and %d test classes", c.data, train.Classes(), test.Classes())
	}
	if aug, ok := runner.ResolveAugment(c.augment, c.data); !ok {
		return fmt.Errorf("-augment %q: want auto, shapes or method", c.augment)
	} else if aug == runner.AugmentShapes {
		train, test = runner.Outlines{Dataset: train}, runner.Outlines{Dataset: test}
	}
	names := inspect.ClassNames(train)
	b, err := inspect.LoadEncoder(c.backbone, c.weights, c.prefix, c.seed)
	if err != nil {
		return err
	}
	weights := c.weights
	if weights == "" {
		weights = fmt.Sprintf("random initialization (seed %d)", c.seed)
	}
	st := runner.ChannelStats(train)
	fmt.Fprintf(stdout, "%s (%s) on %s: %d training and %d test images, %d classes\n", b.Name(), weights, c.data, train.Len(), test.Len(), train.Classes())

	ex := &knn.Extractor{BatchSize: c.batch, InputSize: c.size, Mean: st.Mean, Std: st.Std}
	defer ex.Close()
	extract := func(stage string, ds dataset.Dataset) ([]float32, int, error) {
		start := time.Now()
		ex.Progress = runner.Progress(stderr, "extracting "+stage+" representations")
		f, dim, err := ex.Extract(b, ds)
		if err != nil {
			return nil, 0, fmt.Errorf("%s split: %w", stage, err)
		}
		fmt.Fprintf(stdout, "%s: %d representations of %d values in %.1fs\n", stage, ds.Len(), dim, time.Since(start).Seconds())
		return f, dim, ctx.Err()
	}
	xtr, dim, err := extract("train", train)
	if err != nil {
		return err
	}
	xte, _, err := extract("test", test)
	if err != nil {
		return err
	}
	ytr, yte := inspect.Labels(train), inspect.Labels(test)
	var res results
	res.Backbone, res.Weights, res.Data, res.Train, res.Test, res.Dim, res.Classes = b.Name(), weights, c.data, train.Len(), test.Len(), dim, names

	kr, err := measureKNN(xtr, ytr, xte, yte, dim, train.Classes(), c.knnK, c.knnTau)
	if err != nil {
		return err
	}
	res.KNN.K, res.KNN.Tau, res.KNN.Top1, res.KNN.Top5, res.KNN.PerClass = c.knnK, c.knnTau, kr.Top1, kr.Top5, kr.PerClass
	fmt.Fprintf(stdout, "kNN (k=%d, τ=%g): top-1 %.2f%%  top-5 %.2f%%\n", c.knnK, c.knnTau, 100*kr.Top1, 100*kr.Top5)

	start := time.Now()
	pc, err := probe.Fit(ctx, xtr, dim, ytr, train.Classes(), pcfg)
	if err != nil {
		return err
	}
	pr, err := pc.Evaluate(xte, yte)
	if err != nil {
		return err
	}
	res.Linear.Lambda, res.Linear.Top1, res.Linear.Top5, res.Linear.Iterations, res.Linear.PerClass = pr.Lambda, pr.Top1, pr.Top5, pr.Iterations, pr.PerClass
	fmt.Fprintf(stdout, "linear probe (%s, λ=%g, %d L-BFGS iterations, %.1fs): top-1 %.2f%%  top-5 %.2f%%\n",
		norm, pr.Lambda, pr.Iterations, time.Since(start).Seconds(), 100*pr.Top1, 100*pr.Top5)

	col, err := analysis.Diagnose(xte, dim)
	if err != nil {
		return err
	}
	res.Collapse.MeanNormStdTimesSqrtDim = col.MeanNormStd * math.Sqrt(float64(dim))
	res.Collapse.EffectiveRank, res.Collapse.Spectrum = col.EffectiveRank, col.Spectrum
	fmt.Fprintf(stdout, "collapse: std of normalized representations × √d %.3f (1: spread, 0: collapsed), effective rank %.1f of %d\n",
		res.Collapse.MeanNormStdTimesSqrtDim, col.EffectiveRank, dim)

	fmt.Fprintf(stdout, "\nper-class top-1 accuracy (%%):\n%-14s %8s %8s\n", "class", "kNN", "linear")
	for k, n := range names {
		fmt.Fprintf(stdout, "%-14s %8.2f %8.2f\n", n, 100*kr.PerClass[k], 100*pr.PerClass[k])
	}

	var pic *inspect.Picture
	if c.trimap > 0 {
		m := min(c.trimap, test.Len())
		start := time.Now()
		pic, err = inspect.NewPicture(ctx, xte[:m*dim], dim, yte[:m], test.Classes(), c.seed)
		if err != nil {
			return fmt.Errorf("TriMap: %w", err)
		}
		sec := time.Since(start).Seconds()
		res.TriMap = &struct {
			Images                                  int
			Seconds, KNNAccuracy, MeanSymKL, MeanJS float64
		}{m, sec, pic.KNNAccuracy, pic.Divergences.MeanSymKL, pic.Divergences.MeanJS}
		fmt.Fprintf(stdout, "\nTriMap of %d test representations in %.1fs: loss %.4f -> %.4f, 2D 10-NN accuracy %.2f%%; class densities: mean symmetric KL %.4f, mean JS %.4f nats\n",
			m, sec, pic.TriMap.Initial, pic.TriMap.Final, 100*pic.KNNAccuracy, pic.Divergences.MeanSymKL, pic.Divergences.MeanJS)
	}
	if c.out == "" {
		return nil
	}
	if err := os.MkdirAll(c.out, 0o755); err != nil {
		return err
	}
	title := fmt.Sprintf("%s, %s", b.Name(), filepath.Base(weights))
	if pic != nil {
		m := res.TriMap.Images
		if err := analysis.SavePNG(filepath.Join(c.out, "trimap.png"), inspect.FigureSize[0], inspect.FigureSize[1],
			pic.Figure("TriMap: "+title, yte[:m], test.Classes(), names)); err != nil {
			return err
		}
	}
	sp, err := analysis.SpectrumPlot([]string{title}, []*analysis.Collapse{col}, "covariance spectrum of the normalized test representations")
	if err != nil {
		return err
	}
	if err := analysis.SavePNG(filepath.Join(c.out, "spectrum.png"), 7*vg.Inch, 4.5*vg.Inch, analysis.Drawer{Plot: sp}); err != nil {
		return err
	}
	js, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(c.out, "results.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(c.out, "results.md"), []byte(markdown(res, pic)), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", c.out)
	return nil
}

// measureKNN is the one place that runs the kNN evaluation: the weighted
// kNN rule of package knn on the extracted representations, so that they
// are extracted once for kNN, probe and pictures.
func measureKNN(bank []float32, bankLabels []int, queries []float32, queryLabels []int, dim, classes, k int, tau float64) (knn.Result, error) {
	return knn.Evaluate(bank, bankLabels, queries, queryLabels, dim, classes, knn.Config{K: k, Tau: tau})
}

func markdown(r results, pic *inspect.Picture) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Evaluation of %s (%s)\n\n", r.Backbone, r.Weights)
	fmt.Fprintf(&b, "Data %s: %d training images (kNN bank, probe training set), %d test images; representations of %d values.\n\n", r.Data, r.Train, r.Test, r.Dim)
	fmt.Fprintf(&b, "| protocol | top-1 | top-5 |\n|---|---:|---:|\n")
	fmt.Fprintf(&b, "| kNN (k=%d, τ=%g) | %.2f%% | %.2f%% |\n", r.KNN.K, r.KNN.Tau, 100*r.KNN.Top1, 100*r.KNN.Top5)
	fmt.Fprintf(&b, "| linear probe (λ=%g) | %.2f%% | %.2f%% |\n\n", r.Linear.Lambda, 100*r.Linear.Top1, 100*r.Linear.Top5)
	fmt.Fprintf(&b, "| class | kNN top-1 | linear top-1 |\n|---|---:|---:|\n")
	for k, n := range r.Classes {
		fmt.Fprintf(&b, "| %s | %.2f%% | %.2f%% |\n", n, 100*r.KNN.PerClass[k], 100*r.Linear.PerClass[k])
	}
	fmt.Fprintf(&b, "\nCollapse: std of the L2-normalized test representations × √d = %.3f (1 spread over the sphere, 0 collapsed); effective rank of their covariance %.1f of %d (spectrum.png).\n",
		r.Collapse.MeanNormStdTimesSqrtDim, r.Collapse.EffectiveRank, r.Dim)
	if pic != nil {
		fmt.Fprintf(&b, "\nTriMap of %d test representations (trimap.png): 2D 10-NN accuracy %.2f%%; class densities: mean symmetric KL %s, mean Jensen-Shannon %s nats.\n",
			r.TriMap.Images, 100*pic.KNNAccuracy, inspect.Fmt(pic.Divergences.MeanSymKL), inspect.Fmt(pic.Divergences.MeanJS))
	}
	return b.String()
}
