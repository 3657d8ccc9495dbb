package main

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/disiam/disiam/backbone"
)

// withAlpha returns c with opacity a in [0, 1].
func withAlpha(c color.Color, a float64) color.Color {
	r, g, b, _ := c.RGBA()
	return color.NRGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(b >> 8), A: uint8(255 * a)}
}

// chanceLine adds a dashed horizontal line at the chance accuracy (%).
func chanceLine(p *plot.Plot, chance, x0, x1 float64) error {
	l, err := plotter.NewLine(plotter.XYs{{X: x0, Y: 100 * chance}, {X: x1, Y: 100 * chance}})
	if err != nil {
		return err
	}
	l.Color = color.Gray{Y: 100}
	l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(l)
	p.Legend.Add(fmt.Sprintf("chance (%.0f%%)", 100*chance), l)
	return nil
}

// PlotGainCurves writes, for one backbone and kind, top-1 accuracy (%)
// against the gain ratio with one line per fan mode and the 95%
// confidence band of the mean over seeds (thesis Figures 5.3-5.7).
func PlotGainCurves(path string, settings []Setting, name, kind string, fans []string, chance float64) error {
	p := plot.New()
	what := "features"
	if kind == KindLogits {
		what = "with classifier (logits)"
	}
	p.Title.Text = fmt.Sprintf("%s, random Kaiming init, %s", backbone.Title(name), what)
	p.X.Label.Text = "gain ratio (gain = ratio · √2)"
	p.Y.Label.Text = "kNN top-1 accuracy (%)"
	p.Legend.Top = true
	xmin, xmax, ymax := math.Inf(1), math.Inf(-1), 0.0
	for i, f := range fans {
		var line, lo, hi plotter.XYs
		for _, s := range settings {
			if s.Backbone != name || s.Kind != kind || s.Fan != f || s.N() == 0 {
				continue
			}
			m, c := 100*s.Mean(), 100*s.CI95()
			line = append(line, plotter.XY{X: s.GainRatio, Y: m})
			lo = append(lo, plotter.XY{X: s.GainRatio, Y: m - c})
			hi = append(hi, plotter.XY{X: s.GainRatio, Y: m + c})
			xmin, xmax, ymax = min(xmin, s.GainRatio), max(xmax, s.GainRatio), max(ymax, m+c)
		}
		if len(line) == 0 {
			continue
		}
		col := plotutil.Color(i)
		band := append(plotter.XYs{}, lo...)
		for j := len(hi) - 1; j >= 0; j-- {
			band = append(band, hi[j])
		}
		poly, err := plotter.NewPolygon(band)
		if err != nil {
			return err
		}
		poly.Color = withAlpha(col, 0.25)
		poly.LineStyle.Width = 0
		l, pts, err := plotter.NewLinePoints(line)
		if err != nil {
			return err
		}
		l.Color, pts.Color = col, col
		pts.Shape = draw.CircleGlyph{}
		pts.Radius = vg.Points(2)
		p.Add(poly, l, pts)
		p.Legend.Add(fanTitle(f)+" (mean, 95% CI)", l, pts)
	}
	if math.IsInf(xmin, 0) {
		return nil // nothing measured
	}
	if err := chanceLine(p, chance, xmin, xmax); err != nil {
		return err
	}
	p.Y.Min, p.Y.Max = 0, headroom(ymax)
	return p.Save(7*vg.Inch, 4.5*vg.Inch, path)
}

// headroom returns a y-axis maximum (%) leaving space for the legend
// above data reaching ymax.
func headroom(ymax float64) float64 { return min(1.3*ymax, 100) }

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
	if err := chanceLine(p, chance, xmin, xmax); err != nil {
		return err
	}
	p.X.Min, p.X.Max = xmin, xmax
	p.Y.Min, p.Y.Max = 0, headroom(ymax)
	return p.Save(7*vg.Inch, 4.5*vg.Inch, path)
}

// plotName is the file name of a plot in the output folder.
func plotName(dir, format string, args ...any) string {
	return filepath.Join(dir, fmt.Sprintf(format, args...))
}
