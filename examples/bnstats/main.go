package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/augment"
	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/dataset"
	"github.com/disiam/disiam/examples/internal/runner"
	"github.com/disiam/disiam/knn"
	"github.com/disiam/disiam/nn"
	"github.com/disiam/disiam/safetensors"
	"github.com/disiam/disiam/ssl"
)

func main() { runner.Main("bnstats", run) }

// config is the command line.
type config struct {
	data, backbones, passes    string
	weights                    string
	size, bank, queries, probe int
	batch                      int
	seed                       uint64
	counts                     []int
	names                      []string
	noCorrection               bool
}

func flags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("bnstats", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.data, "data", "fashion-mnist", "dataset spec (go doc ./dataset Open); 1-channel images are repeated to RGB")
	fs.StringVar(&c.backbones, "backbones", "efficientnet_b0,resnet18", "comma-separated backbones, randomly initialized from -seed")
	fs.StringVar(&c.passes, "passes", "31", "comma-separated, increasing numbers of train-mode forward passes after which to measure")
	fs.IntVar(&c.size, "size", 32, "images are resized to size×size (bilinear)")
	fs.IntVar(&c.bank, "bank", 1000, "kNN bank: the first N training images, also the images of the train-mode passes")
	fs.IntVar(&c.queries, "queries", 500, "kNN queries: the first N test images; the first -probe of them give the stage statistics")
	fs.IntVar(&c.probe, "probe", 256, "test images whose eval-mode activations give the stage statistics")
	fs.IntVar(&c.batch, "batch", 64, "images per train-mode pass")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of the weights (stochastic depth and dropout masks included)")
	fs.BoolVar(&c.noCorrection, "no-correction", false, "skip the measurement with bias-corrected running statistics")
	fs.StringVar(&c.weights, "weights", "", "load the (single) -backbones network from this safetensors file, e.g. a trained encoder.safetensors; its running statistics are corrected for the passes it has seen (num_batches_tracked) as well")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	for _, p := range strings.Split(c.passes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n <= 0 || (len(c.counts) > 0 && n <= c.counts[len(c.counts)-1]) {
			return c, fmt.Errorf("-passes %q: want increasing counts > 0", c.passes)
		}
		c.counts = append(c.counts, n)
	}
	for _, n := range strings.Split(c.backbones, ",") {
		if n = strings.TrimSpace(n); n != "" {
			c.names = append(c.names, n)
		}
	}
	switch {
	case len(c.names) == 0:
		return c, fmt.Errorf("-backbones %q: none", c.backbones)
	case c.size <= 0 || c.bank <= 0 || c.queries <= 0 || c.batch <= 0:
		return c, fmt.Errorf("-size %d, -bank %d, -queries %d, -batch %d: need all > 0", c.size, c.bank, c.queries, c.batch)
	case c.weights != "" && len(c.names) != 1:
		return c, fmt.Errorf("-weights needs exactly one -backbones network, not %d", len(c.names))
	case c.probe < 2 || c.probe > c.queries:
		return c, fmt.Errorf("-probe %d: need 2 <= probe <= -queries %d", c.probe, c.queries)
	}
	return c, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := flags(args, stderr)
	if err != nil {
		return err
	}
	return bnstats(ctx, c, stdout)
}

// bnstats runs the study for every backbone of c, reporting to w.
func bnstats(ctx context.Context, c config, w io.Writer) error {
	start := time.Now()
	bank, err := runner.OpenSplit(c.data, dataset.Train, c.bank)
	if err != nil {
		return err
	}
	queries, err := runner.OpenSplit(c.data, dataset.Test, c.queries)
	if err != nil {
		return err
	}
	norm := runner.ChannelStats(bank)
	fmt.Fprintf(w, "bnstats: %s, %d bank and %d query images resized to %dx%d; stage statistics of the first %d queries; train-mode passes of %d bank images\n",
		c.data, bank.Len(), queries.Len(), c.size, c.size, c.probe, c.batch)
	fmt.Fprintf(w, "std: per-element standard deviation over the images, averaged; rel: std / RMS of the activations (0: every image gives the same map)\n")
	ev := &knn.Evaluator{Train: bank, Test: queries, Norm: norm, InputSize: c.size}
	defer ev.Close()
	probe := newBatch(queries, 0, c.probe, c.size, norm)
	for _, name := range c.names {
		b, err := backbone.New(name, backbone.Config{Seed: c.seed, NoInit: c.weights != ""})
		if err != nil {
			return err
		}
		first := "fresh"
		if c.weights != "" {
			if err := safetensors.LoadModule(c.weights, b); err != nil {
				return err
			}
			first = "loaded"
		}
		st, ok := b.(staged)
		if !ok {
			return fmt.Errorf("%s: no stage outputs", name)
		}
		if c.weights != "" {
			fmt.Fprintf(w, "\n== %s (%s)\n", backbone.Title(name), c.weights)
		} else {
			fmt.Fprintf(w, "\n== %s (seed %d)\n", backbone.Title(name), c.seed)
		}
		s, err := newStudy(st, probe)
		if err != nil {
			return err
		}
		measure := func(label string) error {
			r, err := ev.Measure(ctx, b)
			if err != nil {
				return err
			}
			stats, err := s.stats()
			if err != nil {
				return err
			}
			s.add(label, r.Top1, stats)
			return nil
		}
		if err := measure(first); err != nil {
			return err
		}
		if c.weights != "" && !c.noCorrection {
			restore := biasCorrect(st)
			err := measure("loaded, corr.")
			restore()
			if err != nil {
				return err
			}
		}
		done := 0
		for _, n := range c.counts {
			if err := s.passes(bank, done, n-done, c.size, c.batch, norm); err != nil {
				return err
			}
			done = n
			if err := measure(fmt.Sprintf("%d passes", n)); err != nil {
				return err
			}
			s.snapshot(n)
			if !c.noCorrection {
				restore := biasCorrect(st)
				err := measure(fmt.Sprintf("%d, corrected", n))
				restore()
				if err != nil {
					return err
				}
			}
		}
		s.report(w)
		s.close()
	}
	fmt.Fprintf(w, "\ntook %s\n", time.Since(start).Round(time.Second))
	return nil
}

// staged is a backbone whose stages and BatchNorm layers the study reads.
type staged interface {
	backbone.Staged
	BatchNorms() []*nn.BatchNorm
}

// batch is a [N, 3, S, S] input: images of a dataset resized and
// standardized.
type batch struct {
	n, size int
	pix     []float32
}

// newBatch returns images first .. first+n-1 (modulo the dataset's
// length) of ds, resized to size×size and standardized by norm.
func newBatch(ds dataset.Dataset, first, n, size int, norm augment.Normalize) batch {
	b := batch{n: n, size: size, pix: make([]float32, 0, n*3*size*size)}
	var ws augment.Workspace
	t := augment.Compose{augment.Resize{Height: size, Width: size}, norm}
	for i := range n {
		img := ws.Run(t, ds.Image((first+i)%ds.Len()), nil)
		b.pix = append(b.pix, img.Pix...)
	}
	return b
}

// study holds the graphs of one backbone and the rows of its report.
type study struct {
	b      staged
	names  []string
	eval   *nn.Program
	outs   []*G.Node
	feat   *G.Node
	train  *nn.Program
	tx     *tensor.Dense
	rows   []row
	bnRows []bnRow
}

// row is one measurement: kNN top-1, the features' collapse measure and
// the stage statistics.
type row struct {
	label string
	top1  float64
	stats []stageStat
}

// stageStat are one stage's eval-mode activation statistics.
type stageStat struct {
	std, rms float64
	h, w     int
	collapse float64 // CollapseStd·sqrt(D) of the pooled output (the last stage's = the features)
}

// bnRow is the running variance of a stage's BatchNorm layers after a
// number of passes, split into the depthwise convolutions' and the others.
type bnRow struct {
	passes            int
	depthwise, others [][]float64 // per stage: the per-layer medians of running_var
}

func newStudy(b staged, probe batch) (*study, error) {
	s := &study{b: b}
	g := G.NewGraph()
	x, xv := nn.Input(g, "x", tensor.Float32, probe.n, 3, probe.size, probe.size)
	copy(xv.Data().([]float32), probe.pix)
	if err := nn.Build(func() {
		s.names, s.outs = b.StageOutputs(x)
		s.feat = b.Features(x)
	}); err != nil {
		return nil, err
	}
	var err error
	if s.eval, err = nn.Compile(g, nil, nil); err != nil {
		return nil, err
	}
	return s, nil
}

// stats runs the probe in Eval mode and measures every stage.
func (s *study) stats() ([]stageStat, error) {
	s.b.SetTraining(false)
	if err := s.eval.Run(); err != nil {
		return nil, err
	}
	var out []stageStat
	for _, o := range s.outs {
		sh := o.Shape()
		v := o.Value().Data().([]float32)
		st := stageStat{h: sh[2], w: sh[3]}
		st.std, st.rms = spread(v, sh[0])
		pooled := pool(v, sh[0], sh[1], sh[2]*sh[3])
		c, err := ssl.CollapseStd(tensor.New(tensor.WithShape(sh[0], sh[1]), tensor.WithBacking(pooled)))
		if err != nil {
			c = 0 // a constant (zero) row: collapsed
		}
		st.collapse = c * math.Sqrt(float64(sh[1]))
		out = append(out, st)
	}
	return out, nil
}

// spread returns the mean over elements of the standard deviation over
// the n images, and the root mean square, of v [n, ...].
func spread(v []float32, n int) (std, rms float64) {
	m := len(v) / n
	var sd, sq float64
	for j := range m {
		var mean float64
		for i := range n {
			mean += float64(v[i*m+j])
		}
		mean /= float64(n)
		var d float64
		for i := range n {
			x := float64(v[i*m+j])
			d += (x - mean) * (x - mean)
			sq += x * x
		}
		sd += math.Sqrt(d / float64(n-1))
	}
	return sd / float64(m), math.Sqrt(sq / float64(len(v)))
}

// pool averages v [n, c, hw] over its last axis.
func pool(v []float32, n, c, hw int) []float32 {
	out := make([]float32, n*c)
	for i := range out {
		var s float64
		for _, x := range v[i*hw : (i+1)*hw] {
			s += float64(x)
		}
		out[i] = float32(s / float64(hw))
	}
	return out
}

// passes runs n train-mode forward passes (batch statistics, running
// statistics updated, stochastic depth and dropout on; no weight changes)
// over the bank's images, continuing after the first done passes.
func (s *study) passes(bank dataset.Dataset, done, n, size, batchSize int, norm augment.Normalize) error {
	if s.train == nil {
		g := G.NewGraph()
		x, xv := nn.Input(g, "x", tensor.Float32, batchSize, 3, size, size)
		if err := nn.Build(func() { s.b.Features(x) }); err != nil {
			return err
		}
		var err error
		if s.train, err = nn.Compile(g, nil, nil); err != nil {
			return err
		}
		s.tx = xv
	}
	s.b.SetTraining(true)
	for p := done; p < done+n; p++ {
		bt := newBatch(bank, p*batchSize, batchSize, size, norm)
		copy(s.tx.Data().([]float32), bt.pix)
		if err := s.train.Run(); err != nil {
			return err
		}
	}
	s.b.SetTraining(false)
	return nil
}

// snapshot records the BatchNorm layers' running variances per stage after
// passes passes: for an EfficientNet the depthwise convolutions' BatchNorms
// (block.1.1 of an MBConv with expansion, block.0.1 without) apart from
// the others.
func (s *study) snapshot(passes int) {
	r := bnRow{passes: passes, depthwise: make([][]float64, len(s.names)), others: make([][]float64, len(s.names))}
	dw := map[*nn.BatchNorm]bool{}
	if e, ok := s.b.(*backbone.EfficientNet); ok {
		for _, blk := range e.Blocks() {
			dw[blk.Depthwise.BN] = true
		}
	}
	for _, bn := range s.b.BatchNorms() {
		stage := stageOf(s.names, bn.RunningVar.Name)
		if stage < 0 {
			continue
		}
		med := median(bn.RunningVar.Data())
		if dw[bn] {
			r.depthwise[stage] = append(r.depthwise[stage], med)
		} else {
			r.others[stage] = append(r.others[stage], med)
		}
	}
	s.bnRows = append(s.bnRows, r)
}

// stageOf returns the index of the stage a parameter belongs to: the
// longest stage name that prefixes it ("features.6" for
// "features.6.0.block.1.1.running_var"; ResNet's stem for "bn1.*").
func stageOf(names []string, param string) int {
	best := -1
	for i, n := range names {
		if strings.HasPrefix(param, n+".") && (best < 0 || len(n) > len(names[best])) {
			best = i
		}
	}
	if best < 0 && strings.HasPrefix(param, "bn1.") {
		return 0
	}
	return best
}

func median(v []float32) float64 {
	s := make([]float64, len(v))
	for i, x := range v {
		s[i] = float64(x)
	}
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// biasCorrect replaces every BatchNorm's running statistics by their
// bias-corrected values and returns the function that restores them.
// After t updates running = (1-m)^t·init + m·Σ(1-m)^(t-i)·batch_i, with
// init 0 for the mean and 1 for the variance; the corrected estimate
// removes the init term and divides by the weights' sum 1-(1-m)^t (as
// Adam corrects its moment estimates), leaving the average of the batch
// statistics alone.
func biasCorrect(b staged) (restore func()) {
	var saved [][]float32
	for _, bn := range b.BatchNorms() {
		t := float64(bn.NumBatchesTracked.Value.Data().([]int64)[0])
		rm, rv := bn.RunningMean.Data(), bn.RunningVar.Data()
		saved = append(saved, slices.Clone(rm), slices.Clone(rv))
		left := math.Pow(1-bn.Config.Momentum, t)
		if t == 0 || left >= 1 {
			continue
		}
		for i := range rm {
			rm[i] = float32(float64(rm[i]) / (1 - left))
			rv[i] = float32((float64(rv[i]) - left) / (1 - left))
		}
	}
	return func() {
		for i, bn := range b.BatchNorms() {
			copy(bn.RunningMean.Data(), saved[2*i])
			copy(bn.RunningVar.Data(), saved[2*i+1])
		}
	}
}

func (s *study) add(label string, top1 float64, stats []stageStat) {
	s.rows = append(s.rows, row{label, top1, stats})
}

// report prints the kNN accuracies, the per-stage statistics and the
// running variances.
func (s *study) report(w io.Writer) {
	fmt.Fprintf(w, "kNN top-1 (k=200, τ=0.1) and the features' collapse measure (CollapseStd·sqrt(D) of the pooled features; ~1 healthy, 0 constant):\n")
	for _, r := range s.rows {
		fmt.Fprintf(w, "  %-14s top-1 %5.1f%%  collapse %.4f\n", r.label, 100*r.top1, r.stats[len(r.stats)-1].collapse)
	}
	fmt.Fprintf(w, "eval-mode activations per stage (std / rel):\n  %-11s %5s", "stage", "map")
	for _, r := range s.rows {
		fmt.Fprintf(w, "  %21s", r.label)
	}
	fmt.Fprintln(w)
	for i, name := range s.names {
		st := s.rows[0].stats[i]
		fmt.Fprintf(w, "  %-11s %5s", name, fmt.Sprintf("%dx%d", st.h, st.w))
		for _, r := range s.rows {
			fmt.Fprintf(w, "  %10.3g / %8.2g", r.stats[i].std, r.stats[i].std/max(r.stats[i].rms, 1e-30))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "running_var per stage (median over its BatchNorms of each layer's channel median):\n  %-11s", "stage")
	_, efficient := s.b.(*backbone.EfficientNet)
	for _, r := range s.bnRows {
		if efficient {
			fmt.Fprintf(w, "  %9s %-10s", fmt.Sprintf("%d passes:", r.passes), "depthwise")
		}
		fmt.Fprintf(w, "  %9s %-10s", fmt.Sprintf("%d passes:", r.passes), "others")
	}
	fmt.Fprintln(w)
	for i, name := range s.names {
		fmt.Fprintf(w, "  %-11s", name)
		for _, r := range s.bnRows {
			if efficient {
				fmt.Fprintf(w, "  %20s", medianText(r.depthwise[i]))
			}
			fmt.Fprintf(w, "  %20s", medianText(r.others[i]))
		}
		fmt.Fprintln(w)
	}
	if len(s.bnRows) > 0 {
		fmt.Fprintf(w, "  (a running_var starts at 1 and keeps (1-momentum)^t of it after t passes: %.4f after %d)\n",
			math.Pow(0.9, float64(s.bnRows[0].passes)), s.bnRows[0].passes)
	}
}

func medianText(v []float64) string {
	if len(v) == 0 {
		return "-"
	}
	s := slices.Clone(v)
	sort.Float64s(s)
	return fmt.Sprintf("%.3g", s[len(s)/2])
}

func (s *study) close() {
	s.eval.Close()
	if s.train != nil {
		s.train.Close()
	}
}
