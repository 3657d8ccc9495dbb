package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/disiam/disiam/augment"
	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/examples/internal/experiment"
	"github.com/disiam/disiam/knn"
	"github.com/disiam/disiam/report"
	"github.com/disiam/disiam/safetensors"
)

// baseline is one measurement without training: a strategy (random
// initialization or PyTorch weights), a seed and an evaluation size.
type baseline struct {
	Strategy string  `json:"strategy"`
	Seed     uint64  `json:"seed"`
	Size     int     `json:"size"` // 0: the images' own
	Top1     float64 `json:"top1"`
	Top5     float64 `json:"top5"`
	Seconds  float64 `json:"seconds"`
}

const (
	strategyRandom  = "Random initialization (Kaiming)"
	strategyPyTorch = "PyTorch weights (ImageNet)"
)

// needWeights explains where the pytorch-weights study's weights come
// from.
func needWeights(w io.Writer, name string) {
	fmt.Fprintf(w, "ablation pytorch-weights: this study compares with ImageNet-pretrained PyTorch weights and needs them as a file:\n"+
		"  python3 -c 'import torchvision; from safetensors.torch import save_file; save_file(torchvision.models.%s(weights=\"IMAGENET1K_V1\").state_dict(), \"%s.safetensors\")'\n"+
		"then: go run ./examples/ablation -study pytorch-weights -backbones %s -weights %s.safetensors\n"+
		"(see go doc ./backbone, section Weights); skipped.\n", name, name, name, name)
}

// weightsStudy is thesis Section 5.3.7 (Figure 5.30): the -backbones
// network randomly initialized (torchvision's Kaiming scheme, one per
// seed), loaded with ImageNet-pretrained PyTorch weights (-weights), and
// pretrained with each method of -methods (DiSiam+ in the thesis), each
// measured by kNN top-1 at the images' own resolution and upsampled to
// -size (224). Everything uses ImageNet normalization, the statistics
// the PyTorch weights expect. For the trained rows both columns are the
// maximum over training: every measurement is made at both resolutions.
func weightsStudy(ctx context.Context, s study, o *options, data experiment.Data, stdout io.Writer) error {
	if len(o.Backbones) != 1 {
		return fmt.Errorf("-weights holds one network: give it as the only -backbones (have %s)", strings.Join(o.Backbones, ","))
	}
	name := o.Backbones[0]
	data.Norm = augment.ImageNetNorm
	sizes := []int{0, o.EvalSize}
	native := data.Query.Image(0).H
	sizeLabel := func(size int) string {
		if size == 0 {
			size = native
		}
		return fmt.Sprintf("%d×%d", size, size)
	}

	var base []baseline
	measure := func(strategy string, seed uint64, b backbone.Backbone) error {
		for _, size := range sizes {
			start := time.Now()
			ev := &knn.Evaluator{Train: data.Bank, Test: data.Query, K: o.K, InputSize: size, Norm: data.Norm}
			r, err := ev.Measure(context.Background(), b)
			ev.Close()
			if err != nil {
				return fmt.Errorf("%s at %s: %w", strategy, sizeLabel(size), err)
			}
			bl := baseline{Strategy: strategy, Seed: seed, Size: size, Top1: r.Top1, Top5: r.Top5, Seconds: time.Since(start).Seconds()}
			base = append(base, bl)
			fmt.Fprintf(stdout, "%s, seed %d, %s: kNN top-1 %s%% (%.1fs)\n", strategy, seed, sizeLabel(size), report.Pct(bl.Top1), bl.Seconds)
		}
		return ctx.Err()
	}
	pt, err := backbone.New(name, backbone.Config{NoInit: true})
	if err != nil {
		return err
	}
	if err := safetensors.LoadModule(o.Weights, pt); err != nil {
		return fmt.Errorf("-weights: %w", err)
	}
	if err := measure(strategyPyTorch, 0, pt); err != nil {
		return err
	}
	for _, seed := range o.Seeds {
		b, err := backbone.New(name, backbone.Config{Seed: seed})
		if err != nil {
			return err
		}
		if err := measure(strategyRandom, seed, b); err != nil {
			return err
		}
	}
	if err := report.WriteJSON(filepath.Join(o.Out, "baselines.json"), base); err != nil {
		return err
	}

	templates, err := perMethod(true, func(j *experiment.Job, _ string) error { j.Group = sizeLabel(0); return nil })(&options{Flags: o.Flags, Values: []string{""}})
	if err != nil {
		return err
	}
	sw := &experiment.Sweep{Flags: o.Flags, Data: data, Jobs: o.Jobs(templates), AlsoSizes: []int{o.EvalSize}, Config: o, Log: stdout}
	results, runErr := sw.Run(ctx)

	// Figure 5.30: a group per resolution, a series per strategy.
	strategies := []string{strategyRandom, strategyPyTorch}
	cells := map[[2]string][]float64{}
	for _, b := range base {
		k := [2]string{b.Strategy, sizeLabel(b.Size)}
		cells[k] = append(cells[k], b.Top1)
	}
	for _, r := range results {
		st := experiment.MethodTitle(r.Method()) + " (pretrained here, max over training)"
		if !slices.Contains(strategies, st) {
			strategies = append(strategies, st)
		}
		cells[[2]string{st, sizeLabel(0)}] = append(cells[[2]string{st, sizeLabel(0)}], r.Max)
		for _, rs := range r.Resized {
			cells[[2]string{st, sizeLabel(rs.Size)}] = append(cells[[2]string{st, sizeLabel(rs.Size)}], rs.Max)
		}
	}
	groups := []string{sizeLabel(0), sizeLabel(o.EvalSize)}
	var b strings.Builder
	header(&b, s, o, data)
	fmt.Fprintf(&b, "PyTorch weights: `%s`. ImageNet normalization throughout. kNN top-1 (%%), mean ± std over seeds (one value for the PyTorch weights):\n\n", o.Weights)
	t := report.Table{Header: append([]string{"Strategy"}, groups...)}
	var series []report.BarSeries
	for _, st := range strategies {
		row := []string{st}
		bs := report.BarSeries{Label: st}
		for _, g := range groups {
			v := cells[[2]string{st, g}]
			row = append(row, report.MeanStd(v))
			bs.Values = append(bs.Values, v)
		}
		t.Add(row...)
		series = append(series, bs)
	}
	t.Write(&b)
	var plots []string
	if !o.NoPlots {
		p := experiment.PlotFile(o.Out, "pytorch_weights.png")
		fig := report.Figure{Title: backbone.Title(name) + ": initialization and pretraining strategies (mean, 95% CI)",
			XLabel: "evaluation resolution", Chance: experiment.Chance(data.Query.Classes())}
		if err := report.Bars(p, fig, groups, series); err != nil {
			return errors.Join(runErr, err)
		}
		plots = append(plots, p)
	}
	return errors.Join(runErr, experiment.WriteResults(stdout, o.Out, b.String(), plots))
}
