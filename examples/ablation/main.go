// Command ablation runs the ablation studies of thesis Section 5.3 (and
// the projection-layer comparison of Section 5.4), one per -study:
//
//	batch            batch size (5.3.1, Figure 5.17)
//	lr               base learning rate (5.3.2, Figure 5.18)
//	backbone         online backbone size within a family (5.3.3, Figures 5.19-5.22)
//	arch             backbone architecture, ResNet vs EfficientNet, with -lrs (5.3.4, Figure 5.25, Table 5.5)
//	assistant        assistant backbone size of DiSiam/DiSiam+ (5.3.5, Figures 5.26-5.27)
//	chain            SimCLR chained before SimSiam/DiSiam vs each alone (5.3.6, Figures 5.28-5.29)
//	projection       2 vs 3 projection layers (Figure 5.32)
//	pytorch-weights  Kaiming initialization, ImageNet-pretrained PyTorch weights (-weights FILE)
//	                 and DiSiam+ at the native resolution and upsampled to 224×224 (5.3.7, Figure 5.30)
//
// Each study varies one setting over -values (the groups of its table
// and figures) for each method of -methods (the series), over -seeds, and
// reports the maximum kNN top-1 over training (k = 200, τ = 0.1) on the
// test split: a setting × method table of mean ± std over seeds (best two
// bold), the standard deviation over seeds per method averaged over the
// settings (the robustness panels b of Figures 5.17, 5.18, 5.26), grouped
// bars with 95% confidence error bars and kNN curves over epochs with 95%
// confidence bands.
//
// Usage:
//
//	go run ./examples/ablation -study batch [flags]
//	go run ./examples/ablation -study all
//
// The defaults are scaled down to run each study in 10 to 20 minutes on
// two CPU cores (measured: examples/README.md): experiment.Small (the
// quickstart's recipe: the narrow ResNet-18 "resnet18-w16" as online
// network and assistant, heads of width 512, 2,000 training and 1,000
// test images of the embedded synthetic set, 24 epochs of batch 64, the
// shapes' outlines with shape views, LARS), seeds 7 and 41, and DiSiam as
// the method of most studies (-methods adds the others). The
// learning-rate study's default values are LARS base rates (0.0375,
// 0.075, 0.15 times sqrt(batch)); under -optimizer thesis they are SGD's
// (times batch/256). They show each setting's effect at a small
// scale, not the thesis' findings. -list prints every
// study's defaults (-values, -methods, -backbones) and its thesis-scale
// command, e.g. for the batch size:
//
//	go run -tags openblas ./examples/ablation -study batch -data cifar10:/data/cifar-10-batches-bin \
//	    -train 0 -test 0 -epochs 800 -head-dim 0 -seeds 7,41,923 -knn-every 10 -assistant resnet34 \
//	    -backbones efficientnet_b0 -methods simsiam,simclr,disiam,disiam+ -values 64,128,256,512,1024 -out ablation-batch
//
// Outputs, in -out (default ablation-STUDY-out): runs.csv, curves.csv and
// runs.json (every run and every kNN measurement), results.md (the
// tables), max_top1.png, std.png and curves_<setting>.png; the chain
// study reports per backbone as Table 5.4 does, the arch study adds Table
// 5.5 (the best configuration per family and method), and pytorch-weights
// writes Figure 5.30 as pytorch_weights.png.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/examples/internal/experiment"
	"github.com/disiam/disiam/examples/internal/runner"
	"github.com/disiam/disiam/report"
)

// options are the parsed command line.
type options struct {
	experiment.Flags
	Study   string    `json:"study"`
	Values  []string  `json:"values"`
	LRs     []float64 `json:"lrs,omitempty"`    // arch: learning rates
	Switch  int       `json:"switch,omitempty"` // chain: SimCLR epochs
	Weights string    `json:"weights,omitempty"`
	// EvalSize is the upsampled resolution of pytorch-weights.
	EvalSize int `json:"eval_size,omitempty"`
}

func defaults() experiment.Flags {
	f := experiment.Small()
	f.Seeds = []uint64{7, 41}
	f.Backbones = nil // each study's own
	return f
}

func parse(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("ablation", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{Flags: defaults()}
	o.Register(fs)
	var values, lrs string
	var list bool
	fs.StringVar(&o.Study, "study", "", "study: "+strings.Join(studyNames(), ", ")+", or all")
	fs.StringVar(&values, "values", "", "comma-separated values of the varied setting (empty: the study's default, see -list)")
	fs.StringVar(&lrs, "lrs", "", "arch study: comma-separated base learning rates, each a group per backbone (empty: -lr)")
	fs.IntVar(&o.Switch, "switch", 0, "chain study: epochs of SimCLR before the negative-free method (0: half of -epochs)")
	fs.StringVar(&o.Weights, "weights", "", "pytorch-weights study: torchvision weights of the -backbones network as safetensors (see go doc ./backbone, section Weights)")
	fs.IntVar(&o.EvalSize, "size", 224, "pytorch-weights study: the upsampled evaluation resolution")
	fs.BoolVar(&list, "list", false, "list the studies with their defaults and thesis-scale commands")
	rules := runner.Rules{
		// Each study has its own backbones and methods unless given.
		"backbones": runner.Optional(runner.BackboneList),
		"methods":   runner.Optional(runner.MethodList),
		"study":     runner.Optional(runner.OneOf(append(studyNames(), "all")...)),
		"values":    runner.Any, // each study parses its own values
		"switch":    runner.AtLeast(0),
		"out":       runner.Any, // the studies write under their own names
	}
	if err := runner.Parse(fs, args, experiment.Rules, rules); err != nil {
		return nil, err
	}
	if err := o.ApplyRecipe(fs, false); err != nil {
		return nil, err
	}
	if list {
		o.Study = "list"
		return o, nil
	}
	if o.Study == "" {
		return nil, fmt.Errorf("no -study (one of %s, or all)", strings.Join(studyNames(), ", "))
	}
	if o.Study != "all" {
		if _, ok := studyNamed(o.Study); !ok {
			return nil, fmt.Errorf("unknown study %q (known: %s, all)", o.Study, strings.Join(studyNames(), ", "))
		}
	}
	o.Values = runner.ParseList(values)
	var err error
	if o.LRs, err = runner.ParseFloats(lrs); err != nil {
		return nil, fmt.Errorf("-lrs: %w", err)
	}
	if o.Switch < 0 || o.EvalSize < 0 {
		return nil, errors.New("-switch and -size must be >= 0")
	}
	return o, nil
}

// forStudy returns the options of one study: the study's defaults where
// the command line left -values, -methods, -backbones or -out empty.
func (o *options) forStudy(s study) (*options, error) {
	c := *o
	c.Study = s.name
	if len(c.Values) == 0 {
		c.Values = runner.ParseList(s.values)
	}
	if len(c.Methods) == 0 {
		c.Methods = s.methods
	}
	if len(c.Backbones) == 0 {
		c.Backbones = s.backbones
		if len(c.Backbones) == 0 {
			c.Backbones = []string{experiment.SmallResNet}
		}
	}
	if c.Out == "" {
		c.Out = "ablation-" + s.name + "-out"
	} else if o.Study == "all" {
		c.Out = filepath.Join(o.Out, s.name)
	}
	return &c, c.Check()
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	if o.Study == "list" {
		listStudies(stdout)
		return nil
	}
	todo := studies
	if o.Study != "all" {
		s, _ := studyNamed(o.Study)
		todo = []study{s}
	}
	for _, s := range todo {
		c, err := o.forStudy(s)
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		if err := runStudy(ctx, s, c, stdout); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return nil
}

// listStudies prints each study with its defaults and thesis-scale command.
func listStudies(w io.Writer) {
	for _, s := range studies {
		fmt.Fprintf(w, "%s: %s (thesis %s)\n", s.name, s.title, s.section)
		fmt.Fprintf(w, "  default: -methods %s", strings.Join(s.methods, ","))
		if len(s.backbones) > 0 {
			fmt.Fprintf(w, " -backbones %s", strings.Join(s.backbones, ","))
		}
		if s.values != "" {
			fmt.Fprintf(w, " -values %s", s.values)
		}
		fmt.Fprintf(w, "\n  thesis scale: go run -tags openblas ./examples/ablation -study %s %s %s -out ablation-%s\n", s.name, thesisScale, s.full, s.name)
	}
}

// runStudy runs one study and writes its report.
func runStudy(ctx context.Context, s study, o *options, stdout io.Writer) error {
	if s.name == "pytorch-weights" && o.Weights == "" {
		needWeights(stdout, o.Backbones[0])
		return nil
	}
	var err error
	var templates []experiment.Job
	if s.jobs != nil {
		if templates, err = s.jobs(o); err != nil {
			return err
		}
	}
	data, err := experiment.OpenData(o.Data, o.Train, o.Test)
	if err != nil {
		return err
	}
	data = o.Prepare(data)
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "ablation %s: %s: %s; %s, batch %d, seeds %v\n", s.name, o.Data, data.Describe(), o.EpochsText(), o.Batch, o.Seeds)
	if s.name == "pytorch-weights" {
		return weightsStudy(ctx, s, o, data, stdout)
	}
	sw := &experiment.Sweep{Flags: o.Flags, Data: data, Jobs: o.Jobs(templates), Config: o, Log: stdout}
	results, runErr := sw.Run(ctx)
	if len(results) == 0 {
		return runErr
	}
	var b strings.Builder
	header(&b, s, o, data)
	g := experiment.NewGrid(results)
	chance := experiment.Chance(data.Query.Classes())
	var plots []string
	if s.byBackbone {
		plots, err = experiment.MethodsReport(&b, o.Out, g, experiment.MethodsFigure{Title: s.title, Chance: chance}, o.NoPlots)
	} else {
		plots, err = matrixReport(&b, s, o, g, chance)
	}
	if err != nil {
		return errors.Join(runErr, err)
	}
	return errors.Join(runErr, experiment.WriteResults(stdout, o.Out, b.String(), plots))
}

// header writes the title and settings of a study's results.md.
func header(w io.Writer, s study, o *options, data experiment.Data) {
	fmt.Fprintf(w, "# Ablation: %s (thesis Section %s)\n\n", s.title, s.section)
	head := "2048 (the papers')"
	if o.HeadDim != 0 {
		head = fmt.Sprint(o.HeadDim)
	}
	fmt.Fprintf(w, "Data `%s`: %s. Online backbone(s) %s, assistant %s (unless varied), %s, batch %d (unless varied), head width %s, kNN k = %d, seeds %v. %s (Learning rate unless varied.)\n\n",
		o.Data, data.Describe(), titles(o.Backbones), backbone.Title(o.Assistant), o.EpochsText(), o.Batch, head, o.K, o.Seeds, o.Describe())
}

func titles(names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = backbone.Title(n)
	}
	return strings.Join(out, ", ")
}

// matrixReport writes the setting × method tables and plots of a study.
func matrixReport(w io.Writer, s study, o *options, g *experiment.Grid, chance float64) ([]string, error) {
	fmt.Fprintf(w, "## Max kNN top-1 (%%), mean ± std over seeds, the best two of each row in bold\n\n")
	g.Matrix(w, s.axis)
	fmt.Fprintf(w, "\n## Robustness: standard deviation over seeds of the max kNN top-1, averaged over the settings\n\n")
	g.StdTable(w)
	if s.name == "arch" {
		fmt.Fprintf(w, "\n## Best configuration per architecture family (Table 5.5)\n\n")
		bestPerFamily(w, g)
	}
	if o.NoPlots {
		return nil, nil
	}
	bars := experiment.PlotFile(o.Out, "max_top1.png")
	if err := g.MaxBars(bars, report.Figure{Title: s.title + ": max kNN top-1 (mean, 95% CI)", XLabel: s.axis, Chance: chance}); err != nil {
		return nil, err
	}
	std := experiment.PlotFile(o.Out, "std.png")
	if err := g.StdBars(std, report.Figure{Title: s.title + ": std over seeds, mean over settings (95% CI)", XLabel: "method"}); err != nil {
		return nil, err
	}
	plots := []string{bars, std}
	for _, group := range g.Groups {
		p := experiment.PlotFile(o.Out, "curves_"+group+".png")
		if err := g.Curves(p, group, report.Figure{Title: group + ": kNN top-1 during training (mean, 95% CI)", XLabel: "epoch", Chance: chance}); err != nil {
			return nil, err
		}
		plots = append(plots, p)
	}
	return plots, nil
}

// bestPerFamily writes thesis Table 5.5: per architecture family and
// method, the group (backbone and learning rate) of the best mean max kNN
// top-1, its mean epoch of the max and mean ± std.
func bestPerFamily(w io.Writer, g *experiment.Grid) {
	for _, fam := range []string{"ResNet", "EfficientNet"} {
		t := report.Table{Header: []string{"Method", "Backbone", "Assistant Backbone", "Learning Rate", "Epoch", "kNN Top-1 (%)"}}
		for _, s := range g.Series {
			best, bestMean := "", -1.0
			for _, group := range g.Groups {
				rs := g.Cell(group, s)
				if len(rs) == 0 || family(rs[0].Backbone) != fam {
					continue
				}
				if m := report.Mean(report.Finite(g.Max(group, s))); m > bestMean {
					best, bestMean = group, m
				}
			}
			if best == "" {
				continue
			}
			rs := g.Cell(best, s)
			r := rs[0]
			asst := "-"
			if strings.HasPrefix(r.Method(), "disiam") || strings.HasPrefix(r.Method(), "dyol") {
				asst = backbone.Title(r.Assistant)
			}
			var ep []float64
			for _, x := range rs {
				ep = append(ep, float64(x.MaxEpoch))
			}
			t.Add(s, backbone.Title(r.Backbone), asst, lrText(r.LR), fmt.Sprintf("%.0f", report.Mean(ep)), report.MeanStd(g.Max(best, s)))
		}
		if len(t.Rows) == 0 {
			continue
		}
		fmt.Fprintf(w, "**%s**\n\n", fam)
		t.Write(w)
		fmt.Fprintln(w)
	}
}

func family(name string) string {
	if strings.HasPrefix(name, "resnet") {
		return "ResNet"
	}
	return "EfficientNet"
}

func main() { runner.Main("ablation", run) }
