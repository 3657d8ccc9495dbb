package report

import (
	"bytes"
	"errors"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStats(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name            string
		x               []float64
		mean, std, ci95 float64
		meanStd         string
	}{
		{name: "empty", x: nil, mean: nan, std: 0, ci95: 0, meanStd: "n/a"},
		{name: "one", x: []float64{0.5}, mean: 0.5, std: 0, ci95: 0, meanStd: "50.00 ± 0.00"},
		// sample std of {0.1, 0.2, 0.3} is 0.1; t(0.975, 2) = 4.302653
		{name: "three", x: []float64{0.1, 0.2, 0.3}, mean: 0.2, std: 0.1, ci95: 4.302652729749464 * 0.1 / math.Sqrt(3), meanStd: "20.00 ± 10.00"},
		{name: "nan skipped", x: []float64{0.1, nan, 0.3, math.Inf(1)}, mean: 0.2, std: math.Sqrt(0.02), ci95: 12.706204736174698 * math.Sqrt(0.02) / math.Sqrt(2), meanStd: "20.00 ± 14.14"},
	}
	eq := func(a, b float64) bool {
		return (math.IsNaN(a) && math.IsNaN(b)) || math.Abs(a-b) <= 1e-9*max(1, math.Abs(b))
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := Finite(tc.x)
			if m := Mean(f); !eq(m, tc.mean) {
				t.Errorf("mean %v, want %v", m, tc.mean)
			}
			if s := Std(f); !eq(s, tc.std) {
				t.Errorf("std %v, want %v", s, tc.std)
			}
			if c := CI95(f); !eq(c, tc.ci95) {
				t.Errorf("ci95 %v, want %v", c, tc.ci95)
			}
			if s := MeanStd(tc.x); s != tc.meanStd {
				t.Errorf("MeanStd %q, want %q", s, tc.meanStd)
			}
		})
	}
}

func TestBest(t *testing.T) {
	got := Best([]float64{0.3, math.NaN(), 0.9, 0.5, 0.1}, 2)
	want := []bool{false, false, true, true, false}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Best = %v, want %v", got, want)
		}
	}
	if b := Best([]float64{math.NaN(), 0.5, 0.7}, 2); b[0] || b[1] || b[2] {
		t.Errorf("two values of which both are best: %v", b)
	}
}

func TestTable(t *testing.T) {
	var tb Table
	tb.Header = []string{"Method", "Top-1"}
	tb.Add("SimSiam", Bold("41.65 ± 5.36", true))
	tb.Add("short")
	var b bytes.Buffer
	if err := tb.Write(&b); err != nil {
		t.Fatal(err)
	}
	want := "| Method | Top-1 |\n| --- | --- |\n| SimSiam | **41.65 ± 5.36** |\n| short |  |\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

// failWriter accepts n bytes, then fails.
type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		k := f.n
		f.n = 0
		return k, errors.New("disk full")
	}
	f.n -= len(p)
	return len(p), nil
}

func TestTableWriteError(t *testing.T) {
	tb := Table{Header: []string{"a", "b"}, Rows: [][]string{{"1", "2"}, {"3", "4"}}}
	var full bytes.Buffer
	if err := tb.Write(&full); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 5, full.Len() - 1} {
		if err := tb.Write(&failWriter{n: n}); err == nil || err.Error() != "disk full" {
			t.Errorf("writer failing after %d bytes: error %v, want disk full", n, err)
		}
	}
}

func TestCSV(t *testing.T) {
	path := filepath.Join(t.TempDir(), "runs.csv")
	c, err := CreateCSV(path, []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Add([]string{"1", "x,y"}); err != nil {
		t.Fatal(err)
	}
	// rows are on disk before Close
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "a,b\n1,\"x,y\"\n" {
		t.Errorf("file %q", b)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

// checkPNG fails unless path is a decodable PNG of the default size.
func checkPNG(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if cfg.Width < 500 || cfg.Height < 300 {
		t.Errorf("%s: %dx%d", path, cfg.Width, cfg.Height)
	}
}

func TestPlots(t *testing.T) {
	dir := t.TempDir()
	fig := Figure{Title: "t", XLabel: "epoch", Chance: 0.1}
	curves := filepath.Join(dir, "curves.png")
	bands := []Band{
		BandOf("a", []float64{0, 1, 2}, [][]float64{{0.1, 0.12}, {0.2, 0.3}, {0.4, 0.45}}),
		BandOf("b", []float64{0, 1, 2}, [][]float64{{0.1}, {math.NaN()}, {0.2}}),
	}
	if err := Curves(curves, fig, bands); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, curves)
	bars := filepath.Join(dir, "bars.png")
	err := Bars(bars, fig, []string{"EfficientNet-B0", "ResNet-18"}, []BarSeries{
		{Label: "SimSiam", Values: [][]float64{{0.4, 0.45, 0.5}, {0.8}}},
		{Label: "DiSiam", Values: [][]float64{{0.7, 0.72}, nil}},
	})
	if err != nil {
		t.Fatal(err)
	}
	checkPNG(t, bars)
	// nothing to draw: no file
	empty := filepath.Join(dir, "empty.png")
	if err := Bars(empty, fig, []string{"x"}, []BarSeries{{Label: "a", Values: [][]float64{{math.NaN()}}}}); err != nil {
		t.Fatal(err)
	}
	if err := Curves(empty, fig, []Band{BandOf("a", []float64{1}, [][]float64{nil})}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(empty); !os.IsNotExist(err) {
		t.Errorf("empty plot written: %v", err)
	}
	if !strings.HasSuffix(bars, ".png") {
		t.Fatal("unreachable")
	}
}

func TestCurvesBadBand(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.png")
	bad := []Band{{Label: "short CI", X: []float64{1, 2}, Mean: []float64{0.1, 0.2}, CI: []float64{0.01}}}
	err := Curves(path, Figure{}, bad)
	if err == nil || !strings.Contains(err.Error(), `band "short CI"`) {
		t.Errorf("error %v, want one naming the band", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("file written for a bad band: %v", err)
	}
}

func TestPanels(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "panels.png")
	panels := []Panel{
		{Title: "loss", XLabel: "epoch", YLabel: "loss", YMin0: true, Lines: []Line{
			{Label: "a", X: []float64{1, 2, 3}, Y: []float64{2, 1.5, math.NaN()}}, {Label: "b", X: []float64{1, 2}, Y: []float64{3, 1}}}},
		{Title: "mAP", XLabel: "epoch", YLabel: "%", Percent: true, Lines: []Line{{Label: "a", X: []float64{1, 2}, Y: []float64{0.1, 0.4}}}},
	}
	if err := Panels(path, panels, 0, 0); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Width <= cfg.Height { // two panels side by side
		t.Errorf("image %dx%d", cfg.Width, cfg.Height)
	}
	for _, tc := range []struct {
		path   string
		panels []Panel
		want   string
	}{
		{path, nil, "no panel"},
		{filepath.Join(dir, "x.svg"), panels, "want a .png"},
		{path, []Panel{{Lines: []Line{{Label: "bad", X: []float64{1}, Y: nil}}}}, `line "bad" has 1 X and 0 Y`},
	} {
		if err := Panels(tc.path, tc.panels, 0, 0); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Panels: %v, want %q", err, tc.want)
		}
	}
}
