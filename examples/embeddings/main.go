// Command embeddings draws the thesis' visual comparison of encoders
// (Figures 5.13-5.16): for each encoder, a TriMap embedding of the same
// test images coloured by class next to one Gaussian density per class,
// the divergences between the class densities as a Markdown table, and the
// covariance spectra of the representations.
//
// Usage:
//
//	go run ./examples/embeddings -encoders random=,simsiam=F1.safetensors,simclr=F2.safetensors,disiam=F3.safetensors -data SPEC -out DIR [flags]
//
// -encoders lists NAME=FILE pairs; an empty FILE is the backbone's random
// initialization from -seed. Every file is a state dict by torchvision's
// names for -backbone (the encoder.safetensors of examples/pretrain;
// -prefix strips a key prefix). The -images test images (a class-balanced
// subset of the -data spec's test split) are standardized by their own
// channel statistics, passed through each encoder in Eval mode, and their
// pooled representations embedded with TriMap (seed -seed; the same
// triplet sampling seed for every encoder).
//
// DIR receives embeddings.png (one row per encoder), trimap_NAME.png per
// encoder, spectrum.png and divergences.md: per encoder the 2D embedding's
// leave-one-out 10-NN accuracy, the mean symmetric Kullback-Leibler and
// Jensen-Shannon divergences over pairs of class densities (in nats, on an
// 80×80 grid over the embedding), the effective rank of the
// representations' covariance, and the pairwise Jensen-Shannon matrix of
// the classes.
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
	"time"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/disiam/disiam/analysis"
	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/dataset"
	"github.com/disiam/disiam/examples/internal/inspect"
	"github.com/disiam/disiam/examples/internal/runner"
	"github.com/disiam/disiam/knn"
)

type config struct {
	backbone, encoders, prefix, data, out string
	images, batch, size                   int
	seed                                  uint64
}

func main() { runner.Main("embeddings", run) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c config
	fs := flag.NewFlagSet("embeddings", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.backbone, "backbone", "resnet18", "architecture of every encoder: "+strings.Join(backbone.Names(), ", "))
	fs.StringVar(&c.encoders, "encoders", "random=", "NAME=FILE.safetensors pairs, comma-separated; an empty FILE is the random initialization")
	fs.StringVar(&c.prefix, "prefix", "", "key `prefix` of the backbone's tensors in the files")
	fs.StringVar(&c.data, "data", "synthetic", "dataset spec ("+strings.ReplaceAll(dataset.SpecUsage, "\n", "; ")+")")
	fs.IntVar(&c.images, "images", 1000, "test images (a class-balanced subset)")
	fs.IntVar(&c.batch, "batch", 128, "images per forward pass")
	fs.IntVar(&c.size, "size", 0, "resize images to `N`xN before the network (0: as they are)")
	fs.Uint64Var(&c.seed, "seed", 0, "seed of random initializations and of TriMap")
	fs.StringVar(&c.out, "out", "", "output directory (required)")
	if err := runner.Parse(fs, args, runner.Rules{"encoders": runner.NonEmpty, "out": runner.NonEmpty}); err != nil {
		return err
	}
	return compare(ctx, c, stdout, stderr)
}

type encoder struct{ name, file string }

func parseEncoders(s string) ([]encoder, error) {
	var out []encoder
	seen := map[string]bool{}
	for _, part := range runner.ParseList(s) {
		name, file, ok := strings.Cut(part, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, fmt.Errorf("-encoders: %q is not NAME=FILE (FILE may be empty)", part)
		}
		if seen[name] {
			return nil, fmt.Errorf("-encoders: %q twice", name)
		}
		seen[name] = true
		out = append(out, encoder{name, strings.TrimSpace(file)})
	}
	if len(out) == 0 {
		return nil, errors.New("-encoders is empty")
	}
	return out, nil
}

type row struct {
	enc   encoder
	pic   *inspect.Picture
	col   *analysis.Collapse
	title string
}

func compare(ctx context.Context, c config, stdout, stderr io.Writer) error {
	if c.out == "" {
		return errors.New("-out is required")
	}
	if c.images <= 0 || c.batch <= 0 || c.size < 0 {
		return errors.New("-images and -batch must be positive, -size not negative")
	}
	encs, err := parseEncoders(c.encoders)
	if err != nil {
		return err
	}
	ds, err := runner.OpenBalanced(c.data, dataset.Test, c.images)
	if err != nil {
		return err
	}
	names, labels, classes := inspect.ClassNames(ds), inspect.Labels(ds), ds.Classes()
	st := runner.ChannelStats(ds)
	fmt.Fprintf(stdout, "%d test images of %s, %d classes, %s\n", ds.Len(), c.data, classes, c.backbone)
	if err := os.MkdirAll(c.out, 0o755); err != nil {
		return err
	}
	ex := &knn.Extractor{BatchSize: c.batch, InputSize: c.size, Mean: st.Mean, Std: st.Std}
	defer ex.Close()
	var rows []row
	for _, e := range encs {
		b, err := inspect.LoadEncoder(c.backbone, e.file, c.prefix, c.seed)
		if err != nil {
			return fmt.Errorf("encoder %s: %w", e.name, err)
		}
		ex.Progress = runner.Progress(stderr, e.name+": extracting")
		x, dim, err := ex.Extract(b, ds)
		if err != nil {
			return fmt.Errorf("encoder %s: %w", e.name, err)
		}
		start := time.Now()
		pic, err := inspect.NewPicture(ctx, x, dim, labels, classes, c.seed)
		if err != nil {
			return fmt.Errorf("encoder %s: TriMap: %w", e.name, err)
		}
		col, err := analysis.Diagnose(x, dim)
		if err != nil {
			return fmt.Errorf("encoder %s: %w", e.name, err)
		}
		title := e.name
		if e.file == "" {
			title += " (random initialization)"
		}
		r := row{e, pic, col, title}
		rows = append(rows, r)
		fmt.Fprintf(stdout, "%-10s TriMap %.1fs: 2D 10-NN accuracy %.2f%%, mean symmetric KL %s, mean JS %s, effective rank %.1f\n",
			e.name, time.Since(start).Seconds(), 100*pic.KNNAccuracy, inspect.Fmt(pic.Divergences.MeanSymKL), inspect.Fmt(pic.Divergences.MeanJS), col.EffectiveRank)
		if err := analysis.SavePNG(filepath.Join(c.out, "trimap_"+fileName(e.name)+".png"), inspect.FigureSize[0], inspect.FigureSize[1],
			pic.Figure(title, labels, classes, names)); err != nil {
			return err
		}
		b.SetTraining(false)
	}
	if err := analysis.SavePNG(filepath.Join(c.out, "embeddings.png"), inspect.FigureSize[0], vg.Length(len(rows))*inspect.FigureSize[1],
		stack{rows, labels, classes, names}); err != nil {
		return err
	}
	var sn []string
	var cs []*analysis.Collapse
	for _, r := range rows {
		sn, cs = append(sn, r.enc.name), append(cs, r.col)
	}
	sp, err := analysis.SpectrumPlot(sn, cs, "covariance spectra of the normalized representations")
	if err != nil {
		return err
	}
	if err := analysis.SavePNG(filepath.Join(c.out, "spectrum.png"), 7*vg.Inch, 4.5*vg.Inch, analysis.Drawer{Plot: sp}); err != nil {
		return err
	}
	md := markdown(c, ds.Len(), names, rows)
	if err := os.WriteFile(filepath.Join(c.out, "divergences.md"), []byte(md), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", c.out)
	return nil
}

// fileName keeps letters, digits, '-' and '_' of an encoder name.
func fileName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9') {
			return r
		}
		return '_'
	}, s)
}

// stack draws one embedding figure per encoder, top to bottom.
type stack struct {
	rows    []row
	labels  []int
	classes int
	names   []string
}

func (s stack) Draw(c draw.Canvas) error {
	h := (c.Max.Y - c.Min.Y) / vg.Length(len(s.rows))
	for i, r := range s.rows {
		top := vg.Length(i) * h
		sub := draw.Crop(c, 0, 0, c.Max.Y-c.Min.Y-top-h, -top)
		if err := r.pic.Figure(r.title, s.labels, s.classes, s.names).Draw(sub); err != nil {
			return err
		}
	}
	return nil
}

func markdown(c config, n int, names []string, rows []row) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Class densities of TriMap embeddings\n\n%d test images of %s, %s encoders; TriMap seed %d, densities by Gaussian KDE (Scott's rule) on an %d×%d grid; divergences in nats.\n\n",
		n, c.data, c.backbone, c.seed, inspect.GridSize, inspect.GridSize)
	fmt.Fprintf(&b, "| encoder | 2D 10-NN accuracy | mean symmetric KL | mean Jensen-Shannon | effective rank |\n|---|---:|---:|---:|---:|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %.2f%% | %s | %s | %.1f |\n", r.title, 100*r.pic.KNNAccuracy,
			inspect.Fmt(r.pic.Divergences.MeanSymKL), inspect.Fmt(r.pic.Divergences.MeanJS), r.col.EffectiveRank)
	}
	for _, r := range rows {
		fmt.Fprintf(&b, "\n## %s: Jensen-Shannon divergence between class densities\n\n|  |", r.title)
		for _, nm := range names {
			fmt.Fprintf(&b, " %s |", nm)
		}
		b.WriteString("\n|---|")
		for range names {
			b.WriteString("---:|")
		}
		b.WriteString("\n")
		for a, nm := range names {
			fmt.Fprintf(&b, "| %s |", nm)
			for k := range names {
				fmt.Fprintf(&b, " %s |", inspect.Fmt(r.pic.Divergences.JS[a][k]))
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}
