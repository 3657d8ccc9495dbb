package experiment

import (
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/disiam/disiam/report"
)

// Grid arranges results by group and series, both in order of first
// appearance.
type Grid struct {
	Groups, Series []string
	cells          map[[2]string][]Result
}

// NewGrid arranges results.
func NewGrid(results []Result) *Grid {
	g := &Grid{cells: map[[2]string][]Result{}}
	for _, r := range results {
		if !slices.Contains(g.Groups, r.Group) {
			g.Groups = append(g.Groups, r.Group)
		}
		if !slices.Contains(g.Series, r.Series) {
			g.Series = append(g.Series, r.Series)
		}
		k := [2]string{r.Group, r.Series}
		g.cells[k] = append(g.cells[k], r)
	}
	return g
}

// Cell returns the results (one per seed) of a group and series.
func (g *Grid) Cell(group, series string) []Result { return g.cells[[2]string{group, series}] }

// Max returns the max kNN top-1 of each seed of a cell.
func (g *Grid) Max(group, series string) []float64 {
	return values(g.Cell(group, series), func(r Result) float64 { return r.Max })
}

// Initial returns the random-initialization kNN top-1 of each seed of a
// group: one value per distinct (online backbone, seed), since every
// method of a seed starts from the same online weights.
func (g *Grid) Initial(group string) []float64 {
	return g.initial(group, func(r Result) float64 { return r.Initial })
}

// InitialBN is Initial with the BatchNorm statistics re-estimated
// (Result.InitialBN), NaN where not measured.
func (g *Grid) InitialBN(group string) []float64 {
	return g.initial(group, func(r Result) float64 { return r.InitialBN })
}

// initial returns v of one run per (online backbone, seed) of a group,
// the first run with a finite v (runs merged from several sweeps may
// lack a measurement), NaN where none has one.
func (g *Grid) initial(group string, v func(Result) float64) []float64 {
	at := map[string]int{}
	var out []float64
	for _, s := range g.Series {
		for _, r := range g.Cell(group, s) {
			k := r.Backbone + "/" + strconv.FormatUint(r.Seed, 10)
			i, ok := at[k]
			if !ok {
				at[k], i = len(out), len(out)
				out = append(out, math.NaN())
			}
			if x := v(r); math.IsNaN(out[i]) && !math.IsNaN(x) {
				out[i] = x
			}
		}
	}
	return out
}

func values(rs []Result, f func(Result) float64) []float64 {
	out := make([]float64, len(rs))
	for i, r := range rs {
		out[i] = f(r)
	}
	return out
}

// notes lists the notes of a cell's runs (diverged runs).
func notes(rs []Result) string {
	n := 0
	for _, r := range rs {
		if r.Note != "" {
			n++
		}
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d of %d diverged)", n, len(rs))
}

// GroupTables writes one table per group in the shape of thesis Table
// 5.4: a row per series with the max kNN top-1, mean ± std over seeds
// (the best two bold), the final top-1 and the number of seeds, after a
// "Random Initialization" row when random is set, and a row of the
// initialization with re-estimated BatchNorm statistics where measured.
func (g *Grid) GroupTables(w io.Writer, seriesHeader string, random bool) {
	for _, group := range g.Groups {
		fmt.Fprintf(w, "**%s**\n\n", group)
		t := report.Table{Header: []string{seriesHeader, "Max kNN Top-1 (%)", "Final kNN Top-1 (%)", "Epoch of Max", "Seeds"}}
		if random {
			init := g.Initial(group)
			t.Add("Random Initialization", report.MeanStd(init), "", "0", strconv.Itoa(len(report.Finite(init))))
			if bn := report.Finite(g.InitialBN(group)); len(bn) > 0 {
				t.Add("Random Initialization, BN statistics re-estimated", report.MeanStd(bn), "", "0", strconv.Itoa(len(bn)))
			}
		}
		means := make([]float64, len(g.Series))
		for i, s := range g.Series {
			means[i] = report.Mean(report.Finite(g.Max(group, s)))
		}
		bold := report.Best(means, 2)
		for i, s := range g.Series {
			rs := g.Cell(group, s)
			if len(rs) == 0 {
				continue
			}
			ep := values(rs, func(r Result) float64 { return float64(r.MaxEpoch) })
			t.Add(s, report.Bold(report.MeanStd(g.Max(group, s)), bold[i])+notes(rs),
				report.MeanStd(values(rs, func(r Result) float64 { return r.Final })),
				fmt.Sprintf("%.0f", report.Mean(ep)), strconv.Itoa(len(rs)))
		}
		t.Write(w)
		fmt.Fprintln(w)
	}
}

// Matrix writes a table with a row per group and a column per series:
// max kNN top-1 mean ± std over seeds, the best two of each row bold.
func (g *Grid) Matrix(w io.Writer, groupHeader string) {
	t := report.Table{Header: append([]string{groupHeader}, g.Series...)}
	for _, group := range g.Groups {
		means := make([]float64, len(g.Series))
		for i, s := range g.Series {
			means[i] = report.Mean(report.Finite(g.Max(group, s)))
		}
		bold := report.Best(means, 2)
		row := []string{group}
		for i, s := range g.Series {
			rs := g.Cell(group, s)
			if len(rs) == 0 {
				row = append(row, "")
				continue
			}
			row = append(row, report.Bold(report.MeanStd(g.Max(group, s)), bold[i])+notes(rs))
		}
		t.Add(row...)
	}
	t.Write(w)
}

// StdPerSeries returns, for each series, the standard deviation over
// seeds of the max kNN top-1 in each group that has at least two seeds:
// the samples of thesis Figures 5.17b, 5.18b and 5.26b.
func (g *Grid) StdPerSeries() [][]float64 {
	out := make([][]float64, len(g.Series))
	for i, s := range g.Series {
		for _, group := range g.Groups {
			if v := report.Finite(g.Max(group, s)); len(v) >= 2 {
				out[i] = append(out[i], report.Std(v))
			}
		}
	}
	return out
}

// StdTable writes, per series, the standard deviation of the max kNN
// top-1 over seeds averaged over the groups, ± its 95% confidence
// interval (thesis Figures 5.17b, 5.18b, 5.26b as a table).
func (g *Grid) StdTable(w io.Writer) {
	t := report.Table{Header: []string{"Method", "Std of Max kNN Top-1 (pp, mean over settings)", "95% CI (pp)", "Settings"}}
	for i, stds := range g.StdPerSeries() {
		if len(stds) == 0 {
			t.Add(g.Series[i], "n/a", "", "0")
			continue
		}
		t.Add(g.Series[i], report.Pct(report.Mean(stds)), report.Pct(report.CI95(stds)), strconv.Itoa(len(stds)))
	}
	t.Write(w)
}

// MaxBars writes the max kNN top-1 as grouped bars: a cluster per group,
// a bar per series, 95% confidence error bars (thesis Figure 5.11).
func (g *Grid) MaxBars(path string, fig report.Figure) error {
	series := make([]report.BarSeries, len(g.Series))
	for i, s := range g.Series {
		series[i].Label = s
		for _, group := range g.Groups {
			series[i].Values = append(series[i].Values, g.Max(group, s))
		}
	}
	return report.Bars(path, fig, g.Groups, series)
}

// StdBars writes StdPerSeries as bars with 95% confidence error bars
// (thesis Figures 5.17b, 5.18b, 5.26b).
func (g *Grid) StdBars(path string, fig report.Figure) error {
	stds := g.StdPerSeries()
	series := []report.BarSeries{{Label: "std over seeds, mean over settings", Values: stds}}
	if fig.YLabel == "" {
		fig.YLabel = "std of max kNN top-1 (pp)"
	}
	return report.Bars(path, fig, g.Series, series)
}

// Curves writes, for one group, the kNN top-1 over epochs of every
// series: the mean over seeds with its 95% confidence band (thesis
// Figures 5.12, 5.23, 5.29). Measurements are matched by epoch.
func (g *Grid) Curves(path, group string, fig report.Figure) error {
	var bands []report.Band
	for _, s := range g.Series {
		byEpoch := map[int][]float64{}
		var epochs []int
		for _, r := range g.Cell(group, s) {
			for _, e := range r.Curve {
				if _, ok := byEpoch[e.Epoch]; !ok {
					epochs = append(epochs, e.Epoch)
				}
				byEpoch[e.Epoch] = append(byEpoch[e.Epoch], e.Top1)
			}
		}
		slices.Sort(epochs)
		epochs = slices.Compact(epochs)
		x := make([]float64, len(epochs))
		samples := make([][]float64, len(epochs))
		for i, e := range epochs {
			x[i], samples[i] = float64(e), byEpoch[e]
		}
		bands = append(bands, report.BandOf(s, x, samples))
	}
	return report.Curves(path, fig, bands)
}

// Chance is the chance accuracy of results' data with classes classes.
func Chance(classes int) float64 {
	if classes <= 0 {
		return math.NaN()
	}
	return 1 / float64(classes)
}

// PlotFile is the path of a plot in the output folder: name with every
// run of characters other than letters, digits, '-' and '.' turned into
// one '_', and no '_' before the extension.
func PlotFile(dir, name string) string {
	var b strings.Builder
	under := false
	for _, c := range name {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' {
			if under && c == '.' {
				s := strings.TrimSuffix(b.String(), "_")
				b.Reset()
				b.WriteString(s)
			}
			b.WriteRune(c)
			under = false
			continue
		}
		if !under {
			b.WriteByte('_')
			under = true
		}
	}
	return filepath.Join(dir, b.String())
}
