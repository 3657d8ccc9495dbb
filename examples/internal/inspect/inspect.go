// Package inspect holds what examples/evaluate and examples/embeddings
// share: loading an encoder from a state dict (or leaving it at its random
// initialization), naming classes, and drawing the TriMap-with-densities
// picture of a feature matrix.
package inspect

import (
	"context"
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/plot/vg"

	"github.com/disiam/disiam/analysis"
	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/dataset"
	"github.com/disiam/disiam/nn"
	"github.com/disiam/disiam/safetensors"
)

// LoadEncoder builds the backbone name and loads the state dict weights
// (torchvision names, after stripping nothing or prefix) into it; an empty
// weights keeps torchvision's random initialization drawn from seed. A
// file without classifier weights is accepted: only features are used.
func LoadEncoder(name, weights, prefix string, seed uint64) (backbone.Backbone, error) {
	if weights == "" {
		return backbone.New(name, backbone.Config{Seed: seed})
	}
	f, err := safetensors.ReadFile(weights)
	if err != nil {
		return nil, err
	}
	classes := 0
	for _, k := range []string{"fc.bias", "classifier.1.bias"} {
		if t, ok := f.Get(prefix + k); ok && len(t.Shape) == 1 {
			classes = t.Shape[0]
		}
	}
	b, err := backbone.New(name, backbone.Config{Classes: classes, NoInit: true})
	if err != nil {
		return nil, err
	}
	opts := safetensors.LoadOptions{Prefix: prefix, AllowExtra: prefix != ""}
	err = f.Load(b, opts)
	var me *safetensors.MismatchError
	if err == nil || !errors.As(err, &me) || len(me.Extra)+len(me.Shape) > 0 {
		if err != nil {
			return nil, fmt.Errorf("%s: %w", weights, err)
		}
		return b, nil
	}
	classifier := map[string]bool{}
	if cp, ok := b.(interface{ ClassifierParams() []*nn.Param }); ok {
		for _, p := range cp.ClassifierParams() {
			classifier[prefix+p.Name] = true
		}
	}
	for _, m := range me.Missing {
		if !classifier[m] {
			return nil, fmt.Errorf("%s: %w", weights, err)
		}
	}
	opts.AllowMissing = true
	if err := f.Load(b, opts); err != nil {
		return nil, fmt.Errorf("%s: %w", weights, err)
	}
	return b, nil
}

// ClassNames returns the dataset's class names, or "0", "1", ...
func ClassNames(ds dataset.Dataset) []string {
	if cn, ok := ds.(dataset.ClassNamer); ok {
		return cn.ClassNames()
	}
	out := make([]string, ds.Classes())
	for i := range out {
		out[i] = fmt.Sprint(i)
	}
	return out
}

// Labels returns the dataset's labels in order.
func Labels(ds dataset.Dataset) []int {
	out := make([]int, ds.Len())
	for i := range out {
		out[i] = ds.Label(i)
	}
	return out
}

// Picture is a TriMap embedding of a feature matrix with its class
// densities and their divergences.
type Picture struct {
	TriMap      *analysis.TriMapResult
	Grid        analysis.Grid
	Densities   [][]float64
	Divergences *analysis.Divergences
	// KNNAccuracy is the embedding's leave-one-out 10-NN accuracy.
	KNNAccuracy float64
}

// GridSize is the number of grid cells per side of the densities.
const GridSize = 80

// NewPicture runs TriMap on the features (n×dim) and estimates the class
// densities on a grid over the embedding.
func NewPicture(ctx context.Context, feats []float32, dim int, labels []int, classes int, seed uint64) (*Picture, error) {
	res, err := analysis.TriMap(ctx, feats, dim, analysis.TriMapConfig{Seed: seed})
	if err != nil {
		return nil, err
	}
	g, err := analysis.GridFor(res.Embedding, GridSize, 0.05)
	if err != nil {
		return nil, err
	}
	ld, err := analysis.ClassDensities(res.Embedding, labels, classes, g)
	if err != nil {
		return nil, err
	}
	dv, err := analysis.CompareDensities(ld)
	if err != nil {
		return nil, err
	}
	acc, err := analysis.KNNAccuracy(res.Embedding, 2, labels, classes, min(10, len(labels)-1))
	if err != nil {
		return nil, err
	}
	return &Picture{TriMap: res, Grid: g, Densities: ld, Divergences: dv, KNNAccuracy: acc}, nil
}

// Figure returns the picture as an analysis.EmbeddingFigure.
func (p *Picture) Figure(title string, labels []int, classes int, names []string) *analysis.EmbeddingFigure {
	return &analysis.EmbeddingFigure{Title: title, Embedding: p.TriMap.Embedding, Labels: labels, Classes: classes,
		Names: names, Grid: p.Grid, LogDensities: p.Densities}
}

// FigureSize is the size of one embedding figure.
var FigureSize = [2]vg.Length{12 * vg.Inch, 6 * vg.Inch}

// Fmt formats a divergence for a table ("–" for NaN).
func Fmt(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%.4f", v)
}
