// Command compare reproduces the method comparison of thesis Section 5.2
// (Figures 5.11 and 5.12, Table 5.4): SimSiam, SimCLR, DiSiam and DiSiam+
// pretrained on the same images with EfficientNet-B0 and ResNet-18
// online backbones (ResNet-34 as DiSiam's assistant), each over the seeds
// 7, 41 and 923, measured by the maximum kNN top-1 accuracy over training
// (k = 200, τ = 0.1) on the test split, with the training images as the
// bank. The random initialization of each backbone is measured too.
//
// Usage:
//
//	go run ./examples/compare [flags]
//
// The defaults are a scaled-down version that runs on two CPU cores in
// about half an hour (experiment.Small, the quickstart's recipe): the
// narrow ResNet-18 ("resnet18-w16", 16 base channels, 0.7M parameters)
// as online network and as DiSiam's assistant, heads of width 512
// instead of 2048, 2,000 training and 1,000 test images of the embedded
// synthetic set, 24 epochs of batch 64, trained on the shapes' outlines
// with shape views and LARS (-augment and -optimizer auto; -augment
// method -optimizer thesis trains as the thesis does, and learns little
// in 24 epochs). They show the methods learning, not the thesis'
// numbers. -backbones
// efficientnet_b0-x0.25,resnet18-w16 adds the EfficientNet-B0 stand-in
// (each of its runs takes about twice as long; see examples/README.md for
// what it measures at this size). -data fashion-mnist switches to that
// dataset's CPU recipe (-recipe auto, runner.FashionMNIST): both of Table
// 5.4's backbones as stand-ins, EfficientNet-B0 at width ×0.25 and
// ResNet-18 with the CIFAR stem at width 8 ("resnet18-cifar-w8"; the
// assistant at width 16), 2,000 training and 1,000 test images, 30 epochs of
// batch 32 (SimSiam 60, DiSiam+ 24; -epochs sets one length for all), LARS
// for every method, each method's own views; -recipe none
// keeps the defaults above, -recipe thesis the thesis' optimization and
// heads. The thesis' setting on CIFAR-10 (24
// runs of 800 epochs each, days on a GPU, far more on a CPU) is
//
//	go run -tags openblas ./examples/compare -data cifar10:/data/cifar-10-batches-bin \
//	    -train 0 -test 0 -epochs 800 -batch 1024 -head-dim 0 \
//	    -backbones efficientnet_b0,resnet18 -assistant resnet34 \
//	    -methods simsiam,simclr,disiam,disiam+ -seeds 7,41,923 -knn-every 10 -out compare-cifar10
//
// Outputs, in -out: runs.csv, curves.csv and runs.json (every run and
// every kNN measurement), results.md (Table 5.4: per backbone, max kNN
// top-1 mean ± std over seeds with the random-initialization rows: the
// initialization as it is, with running statistics mean 0 and variance 1,
// as the thesis measures it, and with its BatchNorm statistics
// re-estimated on the bank, which is what a trained network's running
// statistics converge to; for an EfficientNet at small inputs the two
// differ by tens of points, see examples/README.md),
// max_top1.png (Figure 5.11: bars with 95% confidence error bars) and
// curves_<backbone>.png (Figure 5.12: kNN top-1 over epochs with 95%
// confidence bands). The PyTorch-weights rows of Table 5.4 come from
// `go run ./examples/ablation -study pytorch-weights -weights FILE`.
//
// A grid too long for one sitting can be run in parts (-backbones,
// -methods and -seeds restricting each, -out a folder per part) and
// reported as one: -merge DIR,DIR,... reads the parts' runs.json, trains
// nothing, and writes results.md, the plots and a merged runs.json into
// -out.
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

// defaults is the scaled-down comparison that runs in minutes on two cores.
func defaults() experiment.Flags {
	f := experiment.Small()
	f.Methods = []string{"simsiam", "simclr", "disiam", "disiam+"}
	f.Out = "compare-out"
	return f
}

// options are the command line: the experiment's flags and -merge.
type options struct {
	experiment.Flags
	// Merge lists folders of earlier runs to report as one grid.
	Merge string
}

func parse(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := options{Flags: defaults()}
	o.Register(fs)
	fs.StringVar(&o.Merge, "merge", "", "comma-separated output folders of earlier compare runs (their runs.json): train nothing, write their runs as one comparison (results.md, plots, runs.json) into -out")
	if err := runner.Parse(fs, args, experiment.Rules, runner.Rules{"merge": runner.Any}); err != nil {
		return o, err
	}
	if err := o.ApplyRecipe(fs, true); err != nil {
		return o, err
	}
	return o, o.Check()
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	if o.Merge != "" {
		return merge(o, stdout)
	}
	f := o.Flags
	data, err := experiment.OpenData(f.Data, f.Train, f.Test)
	if err != nil {
		return err
	}
	data = f.Prepare(data)
	fmt.Fprintf(stdout, "compare: %s: %s; assistant %s; %s, batch %d; seeds %v\n",
		f.Data, data.Describe(), f.Assistant, f.EpochsText(), f.Batch, f.Seeds)
	sw := &experiment.Sweep{Flags: f, Data: data, Jobs: f.MethodJobs(), Config: f, Log: stdout}
	results, runErr := sw.Run(ctx)
	if len(results) == 0 {
		return runErr
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Method comparison (thesis Section 5.2, Table 5.4)\n\n")
	fmt.Fprintf(&b, "Data `%s`: %s. Assistant of DiSiam/DiSiam+: %s. %s, batch %d, head width %s, kNN k = %d, seeds %v. %s\n\n",
		f.Data, data.Describe(), backbone.Title(f.Assistant), f.EpochsText(), f.Batch, headText(f.HeadDim), f.K, f.Seeds, f.Describe())
	plots, err := experiment.MethodsReport(&b, f.Out, experiment.NewGrid(results),
		experiment.MethodsFigure{Title: "Max kNN top-1, " + f.Data, Chance: experiment.Chance(data.Query.Classes())}, f.NoPlots)
	if err != nil {
		return errors.Join(runErr, err)
	}
	return errors.Join(runErr, experiment.WriteResults(stdout, f.Out, b.String(), plots))
}

// merge reports the runs of the folders of -merge as one comparison.
func merge(o options, stdout io.Writer) error {
	var dirs []string
	for _, d := range strings.Split(o.Merge, ",") {
		if d = strings.TrimSpace(d); d != "" {
			dirs = append(dirs, d)
		}
	}
	results, spec, err := experiment.ReadRuns(dirs...)
	if err != nil {
		return fmt.Errorf("-merge: %w", err)
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return err
	}
	chance := 0.0
	if data, err := experiment.OpenData(spec, 1, 1); err == nil {
		chance = experiment.Chance(data.Query.Classes())
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Method comparison (thesis Section 5.2, Table 5.4)\n\n")
	fmt.Fprintf(&b, "%d runs merged from %s (each folder's results.md states its settings), data `%s`.\n\n", len(results), "`"+strings.Join(dirs, "`, `")+"`", spec)
	plots, err := experiment.MethodsReport(&b, o.Out, experiment.NewGrid(results),
		experiment.MethodsFigure{Title: "Max kNN top-1, " + spec, Chance: chance}, o.NoPlots)
	if err != nil {
		return err
	}
	if err := report.WriteJSON(filepath.Join(o.Out, "runs.json"), struct {
		Merged  []string            `json:"merged"`
		Results []experiment.Result `json:"results"`
	}{dirs, results}); err != nil {
		return err
	}
	md := filepath.Join(o.Out, "results.md")
	if err := os.WriteFile(md, []byte(b.String()), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\nwrote %s, runs.json and %d plots in %s\n", b.String(), md, len(plots), o.Out)
	return nil
}

func headText(d int) string {
	if d == 0 {
		return "2048 (the papers')"
	}
	return fmt.Sprint(d)
}

func main() { runner.Main("compare", run) }
