package main

import (
	"fmt"
	"math"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/report"
)

// PlotGainCurves writes, for one backbone and kind, top-1 accuracy (%)
// against the gain ratio with one line per fan mode and the 95%
// confidence band of the mean over seeds (thesis Figures 5.3-5.7).
func PlotGainCurves(path string, settings []Setting, name, kind string, fans []string, chance float64) error {
	what := "features"
	if kind == KindLogits {
		what = "with classifier (logits)"
	}
	var bands []report.Band
	for _, f := range fans {
		b := report.Band{Label: fanTitle(f) + " (mean, 95% CI)"}
		for _, s := range settings {
			if s.Backbone != name || s.Kind != kind || s.Fan != f || s.N() == 0 {
				continue
			}
			b.X, b.Mean, b.CI = append(b.X, s.GainRatio), append(b.Mean, s.Mean()), append(b.CI, s.CI95())
		}
		bands = append(bands, b)
	}
	return report.Curves(path, report.Figure{
		Title:  fmt.Sprintf("%s, random Kaiming init, %s", backbone.Title(name), what),
		XLabel: "gain ratio (gain = ratio · √2)",
		Chance: chance,
	}, bands)
}

// PlotBestVsSize writes the best mean top-1 accuracy per backbone against
// its size in millions of parameters, a line per family with 95%
// confidence error bars (thesis Figures 5.1 and 5.2).
func PlotBestVsSize(path string, best []Setting, kind string, chance float64) error {
	p := plot.New()
	what := "without classifier (features)"
	if kind == KindLogits {
		what = "with classifier (logits)"
	}
	p.Title.Text = "Best random-init kNN top-1 " + what
	p.X.Label.Text = "model size (M parameters)"
	p.Y.Label.Text = "kNN top-1 accuracy (%)"
	p.Legend.Top = true
	var fams []string
	byFam := map[string][]Setting{}
	for _, s := range best {
		f := family(s.Backbone)
		if _, ok := byFam[f]; !ok {
			fams = append(fams, f)
		}
		byFam[f] = append(byFam[f], s)
	}
	xmin, xmax, ymax := math.Inf(1), math.Inf(-1), 0.0
	for i, f := range fams {
		var pts plotter.XYs
		var errs plotter.YErrors
		var labels []string
		for _, s := range byFam[f] {
			if s.N() == 0 {
				continue
			}
			x := float64(s.Params) / 1e6
			pts = append(pts, plotter.XY{X: x, Y: 100 * s.Mean()})
			labels = append(labels, backbone.Title(s.Backbone))
			errs = append(errs, struct{ Low, High float64 }{100 * s.CI95(), 100 * s.CI95()})
			xmin, xmax, ymax = min(xmin, x), max(xmax, x), max(ymax, 100*(s.Mean()+s.CI95()))
		}
		if len(pts) == 0 {
			continue
		}
		col := plotutil.Color(i)
		l, sc, err := plotter.NewLinePoints(pts)
		if err != nil {
			return err
		}
		l.Color, sc.Color = col, col
		sc.Shape = draw.CircleGlyph{}
		eb, err := plotter.NewYErrorBars(struct {
			plotter.XYs
			plotter.YErrors
		}{pts, errs})
		if err != nil {
			return err
		}
		eb.Color = col
		p.Add(l, sc, eb)
		name := "ResNet"
		if f == "efficientnet" {
			name = "EfficientNet"
		}
		p.Legend.Add(name, l, sc)
		lab, err := plotter.NewLabels(plotter.XYLabels{XYs: pts, Labels: labels})
		if err != nil {
			return err
		}
		lab.Offset = vg.Point{X: vg.Points(4), Y: vg.Points(4)}
		p.Add(lab)
	}
	if math.IsInf(xmin, 0) {
		return nil
	}
	pad := max(0.1*(xmax-xmin), 1)
	xmin, xmax = max(xmin-pad, 0), xmax+2*pad // room for the labels
	if err := report.ChanceLine(p, chance, xmin, xmax); err != nil {
		return err
	}
	p.X.Min, p.X.Max = xmin, xmax
	p.Y.Min, p.Y.Max = 0, report.Headroom(ymax)
	return p.Save(7*vg.Inch, 4.5*vg.Inch, path)
}

// plotName is the file name of a plot in the output folder.
func plotName(dir, format string, args ...any) string {
	return filepath.Join(dir, fmt.Sprintf(format, args...))
}
