package main

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/disiam/disiam/detect"
	"github.com/disiam/disiam/detect/synth"
)

// drawThresh is the least score of a drawn prediction.
const drawThresh = 0.25

var (
	trueColor = color.RGBA{230, 30, 30, 255}
	predColor = color.RGBA{40, 230, 60, 255}
)

// boxEdges are the 12 edges of detect.Corners' order.
var boxEdges = [12][2]int{{0, 1}, {1, 2}, {2, 3}, {3, 0}, {4, 5}, {5, 6}, {6, 7}, {7, 4}, {0, 4}, {1, 5}, {2, 6}, {3, 7}}

// drawImages writes the first k test images, one row per image and one
// column per model, at twice their size, with the true 3D boxes (red) and
// the predictions scoring at least drawThresh (green) projected by the
// image's camera; a cross marks each box's front face.
func drawImages(path string, set *detect.Set, outs []outcome, k int) error {
	const s = 2
	w, h := set.W*s, set.H*s
	const pad, title = 4, 14
	img := image.NewRGBA(image.Rect(0, 0, len(outs)*(w+pad)+pad, k*(h+pad)+pad+title))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	for j, o := range outs {
		label(img, pad+j*(w+pad), title-3, fmt.Sprintf("%s backbone: true boxes red, predictions (score >= %.2f) green", o.name, drawThresh))
		for i := range k {
			x0, y0 := pad+j*(w+pad), title+pad+i*(h+pad)
			src := set.Image(i)
			for y := range h {
				for x := range w {
					p := (y/s)*src.W + x/s
					img.Set(x0+x, y0+y, color.RGBA{u8(src.Pix[p]), u8(src.Pix[src.H*src.W+p]), u8(src.Pix[2*src.H*src.W+p]), 255})
				}
			}
			cam := set.Camera(i).Resized(s, s)
			clip := image.Rect(x0, y0, x0+w, y0+h)
			for _, obj := range set.Objects(i) {
				wireframe(img, clip, cam, obj, trueColor)
			}
			for _, d := range o.dets[i] {
				if d.Score >= drawThresh {
					wireframe(img, clip, cam, d.Object, predColor)
				}
			}
		}
	}
	return writePNG(path, img)
}

func u8(v float32) uint8 { return uint8(math.Round(255 * math.Min(1, math.Max(0, float64(v))))) }

// wireframe draws o's 3D box projected by cam, offset to clip's corner;
// edges with an end behind the camera are skipped.
func wireframe(img *image.RGBA, clip image.Rectangle, cam detect.Camera, o detect.Object, c color.RGBA) {
	cs := detect.Corners(o)
	var uv [8][2]float64
	var ok [8]bool
	for k, p := range cs {
		if p[2] > 0.1 {
			u, v, _ := cam.Project(p)
			uv[k], ok[k] = [2]float64{u + float64(clip.Min.X), v + float64(clip.Min.Y)}, true
		}
	}
	for _, e := range boxEdges {
		if ok[e[0]] && ok[e[1]] {
			line(img, clip, uv[e[0]], uv[e[1]], c)
		}
	}
	// The front face is corners 4..7 (+x along the heading): its diagonals.
	if ok[4] && ok[6] && ok[5] && ok[7] {
		line(img, clip, uv[4], uv[6], c)
		line(img, clip, uv[5], uv[7], c)
	}
}

// line draws a segment, sampled every half pixel, inside clip.
func line(img *image.RGBA, clip image.Rectangle, a, b [2]float64, c color.RGBA) {
	n := int(2*math.Hypot(b[0]-a[0], b[1]-a[1])) + 1
	if n > 20000 {
		return // a corner projected absurdly far (just in front of the camera)
	}
	for t := 0; t <= n; t++ {
		f := float64(t) / float64(n)
		p := image.Pt(int(math.Floor(a[0]+f*(b[0]-a[0]))), int(math.Floor(a[1]+f*(b[1]-a[1]))))
		if p.In(clip) {
			img.SetRGBA(p.X, p.Y, c)
		}
	}
}

func label(img *image.RGBA, x, y int, s string) {
	d := font.Drawer{Dst: img, Src: image.NewUniform(color.Black), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

func writePNG(path string, img image.Image) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// drawBEV writes the bird's-eye view of the first k test scenes, one row
// per scene and one column per model: the true boxes (red) and the
// predictions scoring at least drawThresh (green) on the ground plane,
// x to the right and z (depth) up, with the camera's field of view.
func drawBEV(path string, set *detect.Set, outs []outcome, k int) error {
	plots := make([][]*plot.Plot, k)
	for i := range k {
		for _, o := range outs {
			p := plot.New()
			p.Title.Text = fmt.Sprintf("scene %d, %s backbone", i, o.name)
			p.X.Label.Text, p.Y.Label.Text = "x (m)", "z (m)"
			p.Add(plotter.NewGrid())
			half := math.Atan(0.5 / synth.FocalRatio)
			fov, err := plotter.NewLine(plotter.XYs{{X: -45 * math.Tan(half), Y: 45}, {X: 0, Y: 0}, {X: 45 * math.Tan(half), Y: 45}})
			if err != nil {
				return err
			}
			fov.Color, fov.Dashes = color.Gray{150}, []vg.Length{vg.Points(3), vg.Points(3)}
			p.Add(fov)
			for _, obj := range set.Objects(i) {
				if err := addRect(p, obj, trueColor); err != nil {
					return err
				}
			}
			for _, d := range o.dets[i] {
				if d.Score >= drawThresh {
					if err := addRect(p, d.Object, predColor); err != nil {
						return err
					}
				}
			}
			// Plotters widen the axes to their data when added (the field of
			// view reaches ±28 m at 45 m), so the limits come last.
			p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = -16, 16, 0, 45
			plots[i] = append(plots[i], p)
		}
	}
	const side = 240
	c := vgimg.New(vg.Length(side*len(outs))*vg.Points(1.2), vg.Length(side*k)*vg.Points(1.2))
	dc := draw.New(c)
	tiles := draw.Tiles{Rows: k, Cols: len(outs), PadX: vg.Points(8), PadY: vg.Points(8), PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(4)}
	canvases := plot.Align(plots, tiles, dc)
	for i := range plots {
		for j := range plots[i] {
			plots[i][j].Draw(canvases[i][j])
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// addRect adds o's bird's-eye rectangle (x, z) and a line from its centre
// to the middle of its front side.
func addRect(p *plot.Plot, o detect.Object, c color.RGBA) error {
	r := detect.BEV(o)
	cs := r.Corners()
	xy := plotter.XYs{}
	for _, q := range append(cs[:], cs[0]) {
		xy = append(xy, plotter.XY{X: q[0], Y: q[1]})
	}
	l, err := plotter.NewLine(xy)
	if err != nil {
		return err
	}
	l.Color, l.Width = c, vg.Points(1.2)
	head, err := plotter.NewLine(plotter.XYs{{X: r.X, Y: r.Y}, {X: (cs[0][0] + cs[3][0]) / 2, Y: (cs[0][1] + cs[3][1]) / 2}})
	if err != nil {
		return err
	}
	head.Color, head.Width = c, vg.Points(1.2)
	p.Add(l, head)
	return nil
}
