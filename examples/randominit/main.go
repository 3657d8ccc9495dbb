package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/dataset"
	"github.com/disiam/disiam/examples/internal/runner"
	weightinit "github.com/disiam/disiam/init"
	"github.com/disiam/disiam/knn"
	"github.com/disiam/disiam/nn"
	"github.com/disiam/disiam/report"
)

// Config is the sweep: the command-line flags, parsed.
type Config struct {
	Data       string    `json:"data"`
	Backbones  []string  `json:"backbones"`
	Gains      []float64 `json:"gain_ratios"`
	Fans       []string  `json:"fans"`
	Seeds      []uint64  `json:"seeds"`
	Classifier bool      `json:"classifier"`
	HeadInit   string    `json:"head_init"`
	Train      int       `json:"train"`
	Test       int       `json:"test"`
	K          int       `json:"k"`
	Tau        float64   `json:"tau"`
	BatchSize  int       `json:"batch_size"`
	InputSize  int       `json:"input_size"`
	Norm       string    `json:"norm"`
	Mean       []float32 `json:"mean"`
	Std        []float32 `json:"std"`
	Out        string    `json:"out"`
	NoPlots    bool      `json:"no_plots"`
	// Report lists runs.csv files to merge and report on instead of
	// sweeping (-report).
	Report []string `json:"report,omitempty"`
}

// Normalization constants selectable with -norm.
var norms = map[string][2][]float32{
	"imagenet": {{0.485, 0.456, 0.406}, {0.229, 0.224, 0.225}},
	"cifar10":  {{0.4914, 0.4822, 0.4465}, {0.2470, 0.2435, 0.2616}},
	"none":     {nil, nil},
}

// parseConfig parses the command line.
func parseConfig(args []string, stderr io.Writer) (Config, error) {
	fs := flag.NewFlagSet("randominit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c Config
	var backbones, gains, fans, seeds string
	fs.StringVar(&c.Data, "data", "fashion-mnist", "dataset spec (1-channel images are used as 3 identical channels)\n"+dataset.SpecUsage)
	fs.StringVar(&backbones, "backbones", "resnet18,efficientnet_b0", "comma-separated architectures: "+strings.Join(backbone.Names(), ","))
	fs.StringVar(&gains, "gains", "0.25:2.5:0.25", "gain ratios: START:STOP:STEP (inclusive) or a comma-separated list")
	fs.StringVar(&fans, "fan", "in,out", "Kaiming fan modes: in, out or in,out")
	fs.StringVar(&seeds, "seeds", "42,1337", "comma-separated seeds (the thesis: 42,1337,2025,31415,271828,123456789)")
	fs.BoolVar(&c.Classifier, "classifier", false, "also evaluate the classifier's logits as the representation (Table 5.2)")
	fs.StringVar(&c.HeadInit, "head-init", "kaiming", "classifier initialization: kaiming (like every other weight) or default (torchvision's)")
	fs.IntVar(&c.Train, "train", 2000, "training (bank) images, class-balanced: the first N/classes of each class; 0 = all")
	fs.IntVar(&c.Test, "test", 500, "test (query) images, class-balanced; 0 = all")
	fs.IntVar(&c.K, "k", knn.DefaultK, "kNN neighbours")
	fs.Float64Var(&c.Tau, "tau", knn.DefaultTau, "kNN temperature")
	fs.IntVar(&c.BatchSize, "batch", 256, "extraction batch size")
	fs.IntVar(&c.InputSize, "size", 0, "resize images to SIZE×SIZE (bilinear) before the backbone; 0 = native size")
	fs.StringVar(&c.Norm, "norm", "imagenet", "input normalization: imagenet (lightly's default), cifar10 or none")
	fs.StringVar(&c.Out, "out", "randominit-out", "output folder")
	fs.BoolVar(&c.NoPlots, "noplots", false, "skip the PNG plots")
	var report string
	fs.StringVar(&report, "report", "", "comma-separated runs.csv files: merge them and write the report to -out, without sweeping")
	rules := runner.Rules{
		"gains": func(v runner.Values, name string) error {
			_, err := ParseGains(v.String(name))
			return err
		},
		"fan": func(v runner.Values, name string) error {
			fans := runner.ParseList(v.String(name))
			if len(fans) == 0 {
				return errors.New("no fan modes")
			}
			for _, f := range fans {
				if f != "in" && f != "out" {
					return fmt.Errorf("fan mode %q: want in or out", f)
				}
			}
			return nil
		},
		"head-init": runner.OneOf("kaiming", "default"),
		"norm":      runner.OneOf(slices.Sorted(maps.Keys(norms))...),
		"out":       runner.NonEmpty,
		"report":    runner.Any,
	}
	if err := runner.Parse(fs, args, rules); err != nil {
		return c, err
	}
	c.Report = runner.ParseList(report)
	var err error
	if c.Gains, err = ParseGains(gains); err != nil {
		return c, err
	}
	if c.Seeds, err = runner.ParseSeeds(seeds); err != nil {
		return c, err
	}
	if len(c.Seeds) == 0 {
		return c, errors.New("no seeds")
	}
	c.Backbones = runner.ParseList(backbones)
	if len(c.Backbones) == 0 {
		return c, errors.New("no backbones")
	}
	for _, b := range c.Backbones {
		if _, err := backbone.New(b, backbone.Config{NoInit: true}); err != nil {
			return c, err
		}
	}
	c.Fans = runner.ParseList(fans)
	if len(c.Fans) == 0 {
		return c, errors.New("no fan modes")
	}
	for _, f := range c.Fans {
		if f != "in" && f != "out" {
			return c, fmt.Errorf("fan mode %q: want in or out", f)
		}
	}
	if c.HeadInit != "kaiming" && c.HeadInit != "default" {
		return c, fmt.Errorf("head-init %q: want kaiming or default", c.HeadInit)
	}
	n, ok := norms[c.Norm]
	if !ok {
		return c, fmt.Errorf("norm %q: want imagenet, cifar10 or none", c.Norm)
	}
	c.Mean, c.Std = n[0], n[1]
	if c.Train < 0 || c.Test < 0 || c.BatchSize <= 0 || c.InputSize < 0 || c.K <= 0 || !(c.Tau > 0) {
		return c, errors.New("-train, -test and -size must be >= 0, -batch, -k and -tau > 0")
	}
	return c, nil
}

// logitsProgram applies a backbone's classifier to feature matrices.
type logitsProgram struct {
	prog       *nn.Program
	in         *tensor.Dense
	out        *G.Node
	batch, dim int
	classes    int
}

func newLogitsProgram(b backbone.Backbone, dim, batch int) (*logitsProgram, error) {
	g := G.NewGraph()
	x, in := nn.Input(g, "features", tensor.Float32, batch, dim)
	cl, ok := b.(backbone.Classifier)
	if !ok {
		return nil, fmt.Errorf("%s has no classifier", b.Name())
	}
	var out *G.Node
	if err := nn.Build(func() { out = cl.Classify(x) }); err != nil {
		return nil, fmt.Errorf("%s: classifier: %w", b.Name(), err)
	}
	prog, err := nn.Compile(g, nil, nil)
	if err != nil {
		return nil, err
	}
	return &logitsProgram{prog: prog, in: in, out: out, batch: batch, dim: dim, classes: out.Shape()[1]}, nil
}

// apply returns the logits of the rows of feats (n×dim), row-major.
func (l *logitsProgram) apply(feats []float32) ([]float32, error) {
	n := len(feats) / l.dim
	out := make([]float32, n*l.classes)
	in := l.in.Data().([]float32)
	for lo := 0; lo < n; lo += l.batch {
		m := min(l.batch, n-lo)
		copy(in, feats[lo*l.dim:(lo+m)*l.dim])
		clear(in[m*l.dim:])
		if err := l.prog.Run(); err != nil {
			return nil, err
		}
		copy(out[lo*l.classes:], l.out.Value().Data().([]float32)[:m*l.classes])
	}
	return out, nil
}

// paramModule is a Module made of given parameters (a classifier head).
type paramModule []*nn.Param

func (m paramModule) Params() []*nn.Param { return m }
func (m paramModule) SetTraining(bool)    {}

// initialize draws the weights of one run.
func initialize(net backbone.Backbone, fan string, gain float64, seed uint64, headInit string) {
	mode := weightinit.FanIn
	if fan == "out" {
		mode = weightinit.FanOut
	}
	s := weightinit.Kaiming(mode, gain)
	if headInit == "default" {
		s.SkipClassifier = true
	}
	s.Apply(net, seed)
	if headInit == "default" {
		head := paramModule(net.(weightinit.Classifier).ClassifierParams())
		if family(net.Name()) == "efficientnet" {
			weightinit.EfficientNet().Apply(head, seed)
		} else {
			weightinit.ResNet().Apply(head, seed)
		}
	}
}

// measure classifies test against train, turning non-finite features (a
// network whose activations overflowed) into a failed run.
func measure(train, test []float32, dim int, trainLabels, testLabels []int, classes int, cfg knn.Config) (top1, top5 float64, note string, err error) {
	res, err := knn.Evaluate(train, trainLabels, test, testLabels, dim, classes, cfg)
	if err != nil {
		if strings.Contains(err.Error(), "not finite") {
			return math.NaN(), math.NaN(), err.Error(), nil
		}
		return 0, 0, "", err
	}
	// Kept, but flagged: with every feature zero all similarities tie and
	// every query gets the same prediction.
	if allZero(train) || allZero(test) {
		note = "all features are zero (activations underflowed float32)"
	}
	return res.Top1, res.Top5, note, nil
}

func allZero(x []float32) bool {
	for _, v := range x {
		if v != 0 {
			return false
		}
	}
	return true
}

// Sweep runs every initialization of cfg and returns the runs, in the
// order backbone, fan mode, gain ratio, seed (features before logits).
// Each finished run is also passed to each (for progress and incremental
// output).
func Sweep(cfg Config, log io.Writer, each func(Run) error) ([]Run, error) {
	train, err := runner.OpenBalanced(cfg.Data, dataset.Train, cfg.Train)
	if err != nil {
		return nil, err
	}
	test, err := runner.OpenBalanced(cfg.Data, dataset.Test, cfg.Test)
	if err != nil {
		return nil, err
	}
	classes := train.Classes()
	img := train.Image(0)
	fmt.Fprintf(log, "data %s: %d training, %d test images of %dx%dx%d, %d classes (chance %.2f%%)\n",
		cfg.Data, train.Len(), test.Len(), img.C, img.H, img.W, classes, 100/float64(classes))
	trainLabels, testLabels := knn.Labels(train), knn.Labels(test)
	kcfg := knn.Config{K: cfg.K, Tau: cfg.Tau}
	var runs []Run
	total := len(cfg.Backbones) * len(cfg.Fans) * len(cfg.Gains) * len(cfg.Seeds)
	done := 0
	for _, name := range cfg.Backbones {
		net, err := backbone.New(name, backbone.Config{NoInit: true})
		if err != nil {
			return nil, err
		}
		params := nn.CountParams(net)
		ex := &knn.Extractor{BatchSize: cfg.BatchSize, InputSize: cfg.InputSize, Mean: cfg.Mean, Std: cfg.Std}
		var logits *logitsProgram
		for _, fan := range cfg.Fans {
			for _, gain := range cfg.Gains {
				for _, seed := range cfg.Seeds {
					start := time.Now()
					initialize(net, fan, gain, seed, cfg.HeadInit)
					trF, dim, err := ex.Extract(net, train)
					if err != nil {
						return nil, err
					}
					teF, _, err := ex.Extract(net, test)
					if err != nil {
						return nil, err
					}
					r := Run{Backbone: name, Params: params, Classes: classes, Kind: KindFeatures, Fan: fan, GainRatio: gain, Seed: seed}
					if r.Top1, r.Top5, r.Note, err = measure(trF, teF, dim, trainLabels, testLabels, classes, kcfg); err != nil {
						return nil, err
					}
					out := []Run{r}
					if cfg.Classifier {
						if logits == nil {
							if logits, err = newLogitsProgram(net, dim, cfg.BatchSize); err != nil {
								return nil, err
							}
						}
						trL, err := logits.apply(trF)
						if err != nil {
							return nil, err
						}
						teL, err := logits.apply(teF)
						if err != nil {
							return nil, err
						}
						r.Kind = KindLogits
						if r.Top1, r.Top5, r.Note, err = measure(trL, teL, logits.classes, trainLabels, testLabels, classes, kcfg); err != nil {
							return nil, err
						}
						out = append(out, r)
					}
					secs := time.Since(start).Seconds()
					done++
					line := fmt.Sprintf("[%d/%d] %s fan %s gain %.2f seed %d:", done, total, name, fan, gain, seed)
					for i := range out {
						out[i].Seconds = secs
						line += fmt.Sprintf(" %s top-1 %s%%", out[i].Kind, report.Pct(out[i].Top1))
						if err := each(out[i]); err != nil {
							return nil, err
						}
					}
					fmt.Fprintf(log, "%s (%.1f s)\n", line, secs)
					runs = append(runs, out...)
				}
			}
		}
		if logits != nil {
			logits.prog.Close()
		}
		ex.Close()
	}
	return runs, nil
}

// Report writes results.md, runs.json and the plots of runs (backbones,
// kinds and fan modes in order of appearance) to cfg.Out, and returns the
// Markdown.
func Report(cfg Config, runs []Run) (string, error) {
	if len(runs) == 0 {
		return "", errors.New("no runs to report")
	}
	settings := Aggregate(runs)
	fwhm := FWHMTable(runs)
	chance := 1 / float64(runs[0].Classes)
	backbones := distinct(runs, func(r Run) string { return r.Backbone })
	kinds := distinct(runs, func(r Run) string { return r.Kind })
	fans := distinct(runs, func(r Run) string { return r.Fan })
	seeds := distinct(runs, func(r Run) string { return strconv.FormatUint(r.Seed, 10) })
	var b strings.Builder
	fmt.Fprintf(&b, "# Random-initialization kNN baseline\n\n")
	if len(cfg.Report) > 0 {
		fmt.Fprintf(&b, "Merged from %s; chance %.2f%%, seeds %s.\n", strings.Join(cfg.Report, ", "), 100*chance, strings.Join(seeds, ", "))
	} else {
		fmt.Fprintf(&b, "Data `%s` (%d training, %d test images requested; 0 = all), kNN k = %d, τ = %g, chance %.2f%%, normalization %s, head init %s, seeds %s.\n",
			cfg.Data, cfg.Train, cfg.Test, cfg.K, cfg.Tau, 100*chance, cfg.Norm, cfg.HeadInit, strings.Join(seeds, ", "))
	}
	for _, kind := range kinds {
		title := "Without classifier (pooled features; thesis Table 5.1)"
		if kind == KindLogits {
			title = "With classifier (logits; thesis Table 5.2)"
		}
		fmt.Fprintf(&b, "\n## %s\n\nBest setting per backbone, top-1 mean ± std over seeds:\n\n", title)
		BestTable(&b, Best(settings, kind))
		for _, fan := range fans {
			fmt.Fprintf(&b, "\nFWHM of the accuracy-vs-gain-ratio curve, %s (thesis Table 5.3):\n\n", fanTitle(fan))
			FWHMMarkdown(&b, fwhm, kind, fan)
		}
	}
	fmt.Fprintf(&b, "\n## Every setting (top-1 %%, mean ± std over seeds)\n")
	for _, name := range backbones {
		for _, kind := range kinds {
			fmt.Fprintf(&b, "\n### %s, %s\n\n", backbone.Title(name), kind)
			SweepTable(&b, settings, name, kind, fans)
		}
	}
	md := b.String()
	if err := os.WriteFile(filepath.Join(cfg.Out, "results.md"), []byte(md), 0o644); err != nil {
		return "", err
	}
	if err := report.WriteJSON(filepath.Join(cfg.Out, "runs.json"), struct {
		Config Config `json:"config"`
		Runs   []Run  `json:"runs"`
	}{cfg, runs}); err != nil {
		return "", err
	}
	if cfg.NoPlots {
		return md, nil
	}
	for _, kind := range kinds {
		for _, name := range backbones {
			if err := PlotGainCurves(plotName(cfg.Out, "gain_%s_%s.png", name, kind), settings, name, kind, fans, chance); err != nil {
				return "", fmt.Errorf("plot: %w", err)
			}
		}
		if err := PlotBestVsSize(plotName(cfg.Out, "size_%s.png", kind), Best(settings, kind), kind, chance); err != nil {
			return "", fmt.Errorf("plot: %w", err)
		}
	}
	return md, nil
}

func run(args []string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig(args, stderr)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return err
	}
	var runs []Run
	if len(cfg.Report) > 0 {
		for _, path := range cfg.Report {
			r, err := ReadCSV(path)
			if err != nil {
				return err
			}
			runs = append(runs, r...)
		}
		for _, r := range runs {
			if r.Classes != runs[0].Classes {
				return fmt.Errorf("merged runs have %d and %d classes", runs[0].Classes, r.Classes)
			}
		}
	} else {
		csvOut, err := report.CreateCSV(filepath.Join(cfg.Out, "runs.csv"), csvHeader)
		if err != nil {
			return err
		}
		defer csvOut.Close()
		if runs, err = Sweep(cfg, stdout, func(r Run) error { return csvOut.Add(csvRecord(r)) }); err != nil {
			return err
		}
	}
	md, err := Report(cfg, runs)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\n%s\nwrote %s\n", md, strconv.Quote(cfg.Out))
	return nil
}

func main() {
	os.Exit(runner.ExitCode(run(os.Args[1:], os.Stdout, os.Stderr), os.Stderr, "randominit"))
}
