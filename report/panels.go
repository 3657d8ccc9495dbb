package report

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Line is one curve of a Panel: Y[i] at X[i] (NaN points left out).
type Line struct {
	Label string
	X, Y  []float64
}

// Panel is one plot of Panels: lines in plotutil's palette (line i in
// color i, so that the same index means the same series in every panel),
// with free axes. Percent draws Y·100 (fractions as percentages); YMin0
// starts the y axis at 0.
type Panel struct {
	Title, XLabel, YLabel string
	Lines                 []Line
	Percent, YMin0        bool
}

// Panels draws panels side by side in one image (a loss curve next to an
// accuracy curve, as thesis Figures 5.33 and 5.34 pair them) and saves it
// at path as PNG, JPEG or TIFF by its extension (.png, .jpg, .tif). Each
// panel is width wide (0: 5.5 inches) and height high (0: 4 inches).
// Lines of at most 30 points mark them with dots.
func Panels(path string, panels []Panel, width, height vg.Length) error {
	if len(panels) == 0 {
		return fmt.Errorf("report: Panels: no panel")
	}
	if width == 0 {
		width = 5.5 * vg.Inch
	}
	if height == 0 {
		height = 4 * vg.Inch
	}
	row := make([]*plot.Plot, len(panels))
	for k, pn := range panels {
		p := plot.New()
		p.Title.Text, p.X.Label.Text, p.Y.Label.Text = pn.Title, pn.XLabel, pn.YLabel
		p.Legend.Top = true
		ymax := math.Inf(-1)
		for i, ln := range pn.Lines {
			if len(ln.X) != len(ln.Y) {
				return fmt.Errorf("report: Panels: line %q has %d X and %d Y values", ln.Label, len(ln.X), len(ln.Y))
			}
			var xy plotter.XYs
			for j, x := range ln.X {
				y := ln.Y[j]
				if math.IsNaN(y) || math.IsInf(y, 0) {
					continue
				}
				if pn.Percent {
					y *= 100
				}
				xy = append(xy, plotter.XY{X: x, Y: y})
				ymax = max(ymax, y)
			}
			if len(xy) == 0 {
				continue
			}
			l, pts, err := plotter.NewLinePoints(xy)
			if err != nil {
				return err
			}
			col := plotutil.Color(i)
			l.Color, pts.Color = col, col
			if len(xy) <= 30 {
				pts.Shape, pts.Radius = draw.CircleGlyph{}, vg.Points(2)
				p.Add(l, pts)
				p.Legend.Add(ln.Label, l, pts)
			} else {
				p.Add(l)
				p.Legend.Add(ln.Label, l)
			}
		}
		if pn.YMin0 {
			p.Y.Min = 0
		}
		if ymax > math.Inf(-1) {
			p.Y.Max = p.Y.Min + 1.3*(ymax-p.Y.Min) // room for the legend
			if pn.Percent {
				p.Y.Max = min(p.Y.Max, 100)
			}
		}
		row[k] = p
	}
	img := vgimg.New(width*vg.Length(len(panels)), height)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: len(panels), PadX: vg.Millimeter * 4, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	canvases := plot.Align([][]*plot.Plot{row}, tiles, dc)
	for k, p := range row {
		p.Draw(canvases[0][k])
	}
	var w io.WriterTo
	switch strings.ToLower(filepath.Ext(path)) {
	case ".png":
		w = vgimg.PngCanvas{Canvas: img}
	case ".jpg", ".jpeg":
		w = vgimg.JpegCanvas{Canvas: img}
	case ".tif", ".tiff":
		w = vgimg.TiffCanvas{Canvas: img}
	default:
		return fmt.Errorf("report: Panels: %s: want a .png, .jpg or .tif file", path)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := w.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
