package report

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Figure is the frame of a plot whose y axis is an accuracy in percent:
// what Curves and Bars draw around the data.
type Figure struct {
	Title string
	// XLabel labels the x axis of Curves (Bars label it with the groups).
	XLabel string
	// YLabel defaults to "kNN top-1 accuracy (%)".
	YLabel string
	// Chance, if positive, adds a dashed line at the chance accuracy
	// (a fraction, e.g. 0.1 for ten classes).
	Chance float64
	// Width and Height of the image; 0 means 7 × 4.5 inches (672 × 432
	// pixels in PNG).
	Width, Height vg.Length
}

func (f Figure) plot() *plot.Plot {
	p := plot.New()
	p.Title.Text = f.Title
	p.X.Label.Text = f.XLabel
	p.Y.Label.Text = f.YLabel
	if f.YLabel == "" {
		p.Y.Label.Text = "kNN top-1 accuracy (%)"
	}
	p.Legend.Top = true
	return p
}

func (f Figure) save(p *plot.Plot, path string) error {
	w, h := f.Width, f.Height
	if w == 0 {
		w = 7 * vg.Inch
	}
	if h == 0 {
		h = 4.5 * vg.Inch
	}
	return p.Save(w, h, path)
}

// withAlpha returns c with opacity a in [0, 1].
func withAlpha(c color.Color, a float64) color.Color {
	r, g, b, _ := c.RGBA()
	return color.NRGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(b >> 8), A: uint8(255 * a)}
}

// ChanceLine adds to p a dashed gray horizontal line at the chance
// accuracy (a fraction, drawn in percent: 0.1 for ten balanced classes)
// from x0 to x1, with the legend entry "chance (10%)". Curves and Bars
// draw it when Figure.Chance is set; it is exported for figures of other
// kinds built with gonum/plot.
func ChanceLine(p *plot.Plot, chance, x0, x1 float64) error {
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

// Headroom returns the y-axis maximum (percent) that Curves uses for data
// reaching ymax (percent): 30% above it, for the legend at the top, and
// at most 100.
func Headroom(ymax float64) float64 { return min(1.3*ymax, 100) }

// Band is a curve with its confidence band: at X[i] the mean Mean[i] and
// the half-width CI[i] of the band (fractions; drawn in percent). X, Mean
// and CI have the same length; points whose Mean is NaN are left out.
// Label is the legend entry.
type Band struct {
	Label       string
	X, Mean, CI []float64
}

// BandOf returns the Band of samples, where samples[i] are the values
// (over seeds) at x[i]: at each x the Mean and CI95 of the finite values,
// a NaN mean (no point) where there are none. It keeps x, not a copy.
func BandOf(label string, x []float64, samples [][]float64) Band {
	b := Band{Label: label, X: x}
	for _, s := range samples {
		f := Finite(s)
		b.Mean = append(b.Mean, Mean(f))
		b.CI = append(b.CI, CI95(f))
	}
	return b
}

// addBand draws b on p in the i-th color of plotutil's palette: the mean
// as a line (with point glyphs if glyphs is set) and a translucent
// polygon for mean ± CI, with a legend entry. It returns the x range and
// the largest mean + CI in percent; ok is false when b has no point.
func addBand(p *plot.Plot, i int, b Band, glyphs bool) (xmin, xmax, ymax float64, ok bool, err error) {
	var line, lo, hi plotter.XYs
	xmin, xmax = math.Inf(1), math.Inf(-1)
	for j, x := range b.X {
		if math.IsNaN(b.Mean[j]) {
			continue
		}
		m, c := 100*b.Mean[j], 100*b.CI[j]
		line = append(line, plotter.XY{X: x, Y: m})
		lo = append(lo, plotter.XY{X: x, Y: m - c})
		hi = append(hi, plotter.XY{X: x, Y: m + c})
		xmin, xmax, ymax = min(xmin, x), max(xmax, x), max(ymax, m+c)
	}
	if len(line) == 0 {
		return 0, 0, 0, false, nil
	}
	col := plotutil.Color(i)
	band := append(plotter.XYs{}, lo...)
	for j := len(hi) - 1; j >= 0; j-- {
		band = append(band, hi[j])
	}
	poly, err := plotter.NewPolygon(band)
	if err != nil {
		return 0, 0, 0, false, err
	}
	poly.Color = withAlpha(col, 0.25)
	poly.LineStyle.Width = 0
	l, pts, err := plotter.NewLinePoints(line)
	if err != nil {
		return 0, 0, 0, false, err
	}
	l.Color, pts.Color = col, col
	if glyphs {
		pts.Shape = draw.CircleGlyph{}
		pts.Radius = vg.Points(2)
		p.Add(poly, l, pts)
		p.Legend.Add(b.Label, l, pts)
	} else {
		p.Add(poly, l)
		p.Legend.Add(b.Label, l)
	}
	return xmin, xmax, ymax, true, nil
}

// Curves draws accuracy curves, each with its shaded confidence band
// (as thesis Figures 5.12, 5.23 and 5.29), and saves the figure at path
// in the format of path's extension (.png, .svg, .pdf, .jpg, .tif, .eps;
// gonum/plot's Plot.Save). Band i takes the i-th color of gonum/plot's
// plotutil palette; a band of at most 30 points marks them with dots. The
// y axis starts at 0 and leaves room above the data for the legend
// (Headroom). Nothing is written, and the error is nil, when no band has a
// point; a band whose X, Mean and CI differ in length is an error.
func Curves(path string, f Figure, bands []Band) error {
	p := f.plot()
	xmin, xmax, ymax, any := math.Inf(1), math.Inf(-1), 0.0, false
	for _, b := range bands {
		if len(b.Mean) != len(b.X) || len(b.CI) != len(b.X) {
			return fmt.Errorf("report: band %q has %d X, %d Mean and %d CI values, want as many of each", b.Label, len(b.X), len(b.Mean), len(b.CI))
		}
	}
	for i, b := range bands {
		x0, x1, y, ok, err := addBand(p, i, b, len(b.X) <= 30)
		if err != nil {
			return err
		}
		if ok {
			xmin, xmax, ymax, any = min(xmin, x0), max(xmax, x1), max(ymax, y), true
		}
	}
	if !any {
		return nil
	}
	if f.Chance > 0 {
		if err := ChanceLine(p, f.Chance, xmin, xmax); err != nil {
			return err
		}
		ymax = max(ymax, 100*f.Chance)
	}
	p.Y.Min, p.Y.Max = 0, Headroom(ymax)
	return f.save(p, path)
}

// BarSeries is one series of a grouped bar chart (one method, say):
// Values[g] are its samples (over seeds) in group g, drawn as their mean
// with a 95% confidence error bar (CI95); a group without finite samples,
// or beyond the end of Values, has no bar. Label is the legend entry.
type BarSeries struct {
	Label  string
	Values [][]float64
}

// Bars draws grouped bars — one cluster per group, labelled on the x
// axis, and in it one colored bar per series with its 95% confidence error
// bar (as thesis Figures 5.11, 5.17-5.19, 5.26-5.28 and 5.30-5.32) — and
// saves the figure at path like Curves. Nothing is written, and the error
// is nil, when no bar has a value.
func Bars(path string, f Figure, groups []string, series []BarSeries) error {
	p := f.plot()
	n := len(series)
	width := 0.8 / float64(max(n, 1))
	ymax, any := 0.0, false
	for s, ser := range series {
		col := plotutil.Color(s)
		var centers plotter.XYs
		var errs plotter.YErrors
		var first *plotter.Polygon
		for g := range groups {
			if g >= len(ser.Values) {
				break
			}
			v := Finite(ser.Values[g])
			if len(v) == 0 {
				continue
			}
			m, c := 100*Mean(v), 100*CI95(v)
			x0 := float64(g) - 0.4 + float64(s)*width
			poly, err := plotter.NewPolygon(plotter.XYs{{X: x0, Y: 0}, {X: x0 + width, Y: 0}, {X: x0 + width, Y: m}, {X: x0, Y: m}})
			if err != nil {
				return err
			}
			poly.Color = withAlpha(col, 0.8)
			poly.LineStyle.Width = 0
			p.Add(poly)
			if first == nil {
				first = poly
			}
			centers = append(centers, plotter.XY{X: x0 + width/2, Y: m})
			errs = append(errs, struct{ Low, High float64 }{c, c})
			ymax, any = max(ymax, m+c), true
		}
		if first == nil {
			continue
		}
		eb, err := plotter.NewYErrorBars(struct {
			plotter.XYs
			plotter.YErrors
		}{centers, errs})
		if err != nil {
			return err
		}
		eb.Color = color.Black
		p.Add(eb)
		p.Legend.Add(ser.Label, first)
	}
	if !any {
		return nil
	}
	if f.Chance > 0 {
		if err := ChanceLine(p, f.Chance, -0.5, float64(len(groups))-0.5); err != nil {
			return err
		}
		ymax = max(ymax, 100*f.Chance)
	}
	p.NominalX(groups...)
	p.X.Min, p.X.Max = -0.5, float64(len(groups))-0.5
	// room above the bars for the legend, about 6.5% of the height per entry
	entries := len(series) + 1
	p.Y.Min, p.Y.Max = 0, min(max(ymax/(1-min(0.065*float64(entries), 0.6)), Headroom(ymax)), 100)
	return f.save(p, path)
}
