package analysis

import (
	"errors"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// ClassColors are the colours of classes 0..9 (matplotlib's tab10, the
// colours of the thesis' figures); class c uses ClassColors[c % 10].
var ClassColors = []color.NRGBA{
	{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255}, {148, 103, 189, 255},
	{140, 86, 75, 255}, {227, 119, 194, 255}, {127, 127, 127, 255}, {188, 189, 34, 255}, {23, 190, 207, 255},
}

func classColor(c int) color.NRGBA { return ClassColors[c%len(ClassColors)] }

func className(names []string, c int) string {
	if c < len(names) && names[c] != "" {
		return names[c]
	}
	return fmt.Sprintf("class %d", c)
}

// hideAxes removes ticks and labels: the axes of a TriMap embedding mean
// nothing.
func hideAxes(p *plot.Plot) {
	p.X.Tick.Marker = plot.ConstantTicks(nil)
	p.Y.Tick.Marker = plot.ConstantTicks(nil)
	p.X.LineStyle.Width = 0
	p.Y.LineStyle.Width = 0
}

// ScatterPlot draws the 2D embedding (n×2) with one colour per class and
// a legend of the class names (names[c], or "class c").
func ScatterPlot(emb []float64, labels []int, classes int, names []string, title string) (*plot.Plot, error) {
	n, err := checkMatrix64("embedding", emb, 2)
	if err != nil {
		return nil, err
	}
	if err := checkLabels(labels, n, classes); err != nil {
		return nil, err
	}
	p := plot.New()
	p.Title.Text = title
	hideAxes(p)
	pts := make([]plotter.XYs, classes)
	for i, l := range labels {
		pts[l] = append(pts[l], plotter.XY{X: emb[2*i], Y: emb[2*i+1]})
	}
	size := vg.Points(max(0.6, math.Min(2.5, 150/math.Sqrt(float64(n)))))
	for c, xy := range pts {
		if len(xy) == 0 {
			continue
		}
		s, err := plotter.NewScatter(xy)
		if err != nil {
			return nil, err
		}
		col := classColor(c)
		col.A = 200
		s.GlyphStyle = draw.GlyphStyle{Color: col, Radius: size, Shape: draw.CircleGlyph{}}
		p.Add(s)
		leg := *s
		leg.GlyphStyle.Radius = vg.Points(3)
		p.Legend.Add(className(names, c), &leg)
	}
	p.Legend.Top = true
	p.Legend.Left = false
	p.Legend.TextStyle.Font.Size = vg.Points(7)
	p.Legend.ThumbnailWidth = vg.Points(8)
	return p, nil
}

// densityGrid adapts a log-density grid to plotter.GridXYZ as densities
// relative to their maximum.
type densityGrid struct {
	g   Grid
	rel []float64
}

func newDensityGrid(g Grid, logd []float64) densityGrid {
	mx := math.Inf(-1)
	for _, v := range logd {
		mx = max(mx, v)
	}
	rel := make([]float64, len(logd))
	for i, v := range logd {
		rel[i] = math.Exp(v - mx)
	}
	return densityGrid{g, rel}
}

func (d densityGrid) Dims() (c, r int)   { return d.g.Nx, d.g.Ny }
func (d densityGrid) Z(c, r int) float64 { return d.rel[r*d.g.Nx+c] }
func (d densityGrid) X(c int) float64    { return d.g.X(c) }
func (d densityGrid) Y(r int) float64    { return d.g.Y(r) }
func (d densityGrid) Min() float64       { return 0 }
func (d densityGrid) Max() float64       { return 1 }

// fade is a palette from white to a class colour.
type fade struct{ c color.NRGBA }

func (f fade) Colors() []color.Color {
	const k = 32
	out := make([]color.Color, k)
	for i := range k {
		t := float64(i) / (k - 1)
		mix := func(a uint8) uint8 { return uint8(math.Round(255 + t*(float64(a)-255))) }
		out[i] = color.NRGBA{mix(f.c.R), mix(f.c.G), mix(f.c.B), 255}
	}
	return out
}

// DensityPlot draws one class's density on the grid as a heat map from
// white to the class colour with contour lines at 20%, 40%, 60% and 80%
// of its maximum, over the class's points, as the per-class panels of the
// thesis' TriMap figures.
func DensityPlot(emb []float64, labels []int, class int, logd []float64, g Grid, title string) (*plot.Plot, error) {
	if len(logd) != g.Nx*g.Ny {
		return nil, fmt.Errorf("analysis: density of %d cells for a %d×%d grid", len(logd), g.Nx, g.Ny)
	}
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(9)
	hideAxes(p)
	col := classColor(class)
	dg := newDensityGrid(g, logd)
	p.Add(plotter.NewHeatMap(dg, fade{col}))
	dark := color.NRGBA{col.R / 2, col.G / 2, col.B / 2, 255}
	ct := plotter.NewContour(dg, []float64{0.2, 0.4, 0.6, 0.8}, singleColor{dark})
	p.Add(ct)
	var xy plotter.XYs
	for i, l := range labels {
		if l == class {
			xy = append(xy, plotter.XY{X: emb[2*i], Y: emb[2*i+1]})
		}
	}
	if len(xy) > 0 {
		s, err := plotter.NewScatter(xy)
		if err != nil {
			return nil, err
		}
		s.GlyphStyle = draw.GlyphStyle{Color: color.NRGBA{0, 0, 0, 60}, Radius: vg.Points(0.5), Shape: draw.CircleGlyph{}}
		p.Add(s)
	}
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = g.X0, g.X1, g.Y0, g.Y1
	return p, nil
}

type singleColor struct{ c color.Color }

func (s singleColor) Colors() []color.Color { return []color.Color{s.c, s.c, s.c, s.c} }

// EmbeddingFigure is the thesis' TriMap picture (Figures 5.9 and 5.13): the
// embedding coloured by class on the left and one density panel per class
// on the right, on a shared grid.
type EmbeddingFigure struct {
	Title     string
	Embedding []float64 // n×2
	Labels    []int
	Classes   int
	Names     []string
	Grid      Grid
	// LogDensities are ClassDensities on Grid.
	LogDensities [][]float64
}

// Draw renders the figure onto c.
func (f *EmbeddingFigure) Draw(c draw.Canvas) error {
	sc, err := ScatterPlot(f.Embedding, f.Labels, f.Classes, f.Names, f.Title)
	if err != nil {
		return err
	}
	sc.X.Min, sc.X.Max, sc.Y.Min, sc.Y.Max = f.Grid.X0, f.Grid.X1, f.Grid.Y0, f.Grid.Y1
	w := c.Max.X - c.Min.X
	left := draw.Crop(c, 0, -w/2, 0, 0)
	right := draw.Crop(c, w/2, 0, 0, 0)
	sc.Draw(left)
	cols := int(math.Ceil(math.Sqrt(float64(f.Classes))))
	rows := (f.Classes + cols - 1) / cols
	panels := make([][]*plot.Plot, rows)
	for r := range panels {
		panels[r] = make([]*plot.Plot, cols)
	}
	for k := range f.Classes {
		var ld []float64
		if k < len(f.LogDensities) {
			ld = f.LogDensities[k]
		}
		if ld == nil {
			p := plot.New()
			p.Title.Text = className(f.Names, k) + " (too few points)"
			hideAxes(p)
			panels[k/cols][k%cols] = p
			continue
		}
		p, err := DensityPlot(f.Embedding, f.Labels, k, ld, f.Grid, className(f.Names, k))
		if err != nil {
			return err
		}
		panels[k/cols][k%cols] = p
	}
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Points(2), PadY: vg.Points(2), PadTop: vg.Points(4)}
	cv := plot.Align(panels, tiles, right)
	for r := range panels {
		for k, p := range panels[r] {
			if p != nil {
				p.Draw(cv[r][k])
			}
		}
	}
	return nil
}

// SpectrumPlot draws the normalized covariance spectra σₖ/σ₁ (log scale)
// of several encoders' embeddings, with their effective ranks in the
// legend: a collapsed representation's spectrum falls to rounding noise
// after a few components.
func SpectrumPlot(names []string, cs []*Collapse, title string) (*plot.Plot, error) {
	if len(names) != len(cs) {
		return nil, errors.New("analysis: one name per spectrum")
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "component k"
	p.Y.Label.Text = "singular value σk / σ1 (log scale)"
	p.Y.Scale = plot.LogScale{}
	lowest := 1.0
	for e, c := range cs {
		if len(c.Spectrum) == 0 || !(c.Spectrum[0] > 0) {
			continue
		}
		var xy plotter.XYs
		for k, v := range c.Spectrum {
			r := v / c.Spectrum[0]
			if r < 1e-12 {
				break
			}
			xy = append(xy, plotter.XY{X: float64(k + 1), Y: r})
			lowest = min(lowest, r)
		}
		l, err := plotter.NewLine(xy)
		if err != nil {
			return nil, err
		}
		l.Color = classColor(e)
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("%s (effective rank %.1f)", names[e], c.EffectiveRank), l)
	}
	p.Legend.Top = false
	p.Legend.Left = true
	p.Legend.YOffs = vg.Points(10)
	// at least two decades, labelled 1e-k
	lo := math.Floor(math.Log10(min(lowest, 0.01)))
	p.Y.Min, p.Y.Max = math.Pow(10, lo), 1.5
	var ticks []plot.Tick
	for e := lo; e <= 0; e++ {
		ticks = append(ticks, plot.Tick{Value: math.Pow(10, e), Label: fmt.Sprintf("1e%d", int(e))})
	}
	ticks[len(ticks)-1].Label = "1"
	p.Y.Tick.Marker = plot.ConstantTicks(ticks)
	p.X.Tick.Marker = intTicks{}
	return p, nil
}

// SavePNG renders a drawing (a *plot.Plot or an *EmbeddingFigure) as a PNG
// of the given size at 150 dpi, creating the directory.
func SavePNG(path string, w, h vg.Length, d interface{ Draw(draw.Canvas) error }) error {
	img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(150))
	dc := draw.New(img)
	if err := d.Draw(dc); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Drawer adapts a *plot.Plot to SavePNG.
type Drawer struct{ *plot.Plot }

// Draw draws the plot.
func (d Drawer) Draw(c draw.Canvas) error { d.Plot.Draw(c); return nil }

// intTicks labels an axis of component numbers with integers.
type intTicks struct{}

func (intTicks) Ticks(lo, hi float64) []plot.Tick {
	var out []plot.Tick
	for _, t := range (plot.DefaultTicks{}).Ticks(lo, hi) {
		if t.Label != "" {
			t.Label = fmt.Sprintf("%.0f", t.Value)
		}
		out = append(out, t)
	}
	return out
}
