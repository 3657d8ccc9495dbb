package report_test

import (
	"fmt"
	"image/png"
	"log"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/disiam/disiam/report"
)

// A small study: three methods trained with three seeds each, their kNN
// top-1 accuracy measured every 10 epochs. The example prints the table of
// the maximum accuracy over training, mean ± std over the seeds with the
// two best in bold, and draws the accuracy curves with their 95%
// confidence bands.
func Example() {
	epochs := []float64{10, 20, 30, 40}
	// acc[method][seed][i] is the accuracy at epochs[i]; NaN marks a
	// measurement that is missing (this run stopped after 30 epochs).
	nan := math.NaN()
	methods := []string{"SimSiam", "SimCLR", "DiSiam"}
	acc := [][][]float64{
		{{0.30, 0.35, 0.38, 0.36}, {0.32, 0.40, 0.47, 0.45}, {0.31, 0.38, 0.42, 0.41}},
		{{0.55, 0.64, 0.69, 0.71}, {0.57, 0.66, 0.70, 0.72}, {0.56, 0.65, 0.71, nan}},
		{{0.58, 0.68, 0.72, 0.74}, {0.60, 0.69, 0.73, 0.745}, {0.59, 0.69, 0.743, 0.74}},
	}

	// The table: the best accuracy of each run over training.
	best := make([][]float64, len(methods))
	means := make([]float64, len(methods))
	for m, runs := range acc {
		for _, run := range runs {
			best[m] = append(best[m], slices.Max(report.Finite(run)))
		}
		means[m] = report.Mean(best[m])
	}
	bold := report.Best(means, 2)
	t := report.Table{Header: []string{"Method", "Max kNN top-1 (%)", "95% CI (±)"}}
	for m, name := range methods {
		t.Add(name, report.Bold(report.MeanStd(best[m]), bold[m]), report.Pct(report.CI95(best[m])))
	}
	if err := t.Write(os.Stdout); err != nil {
		log.Fatal(err)
	}

	// The figure: one band per method, samples over seeds at each epoch.
	var bands []report.Band
	for m, runs := range acc {
		samples := make([][]float64, len(epochs))
		for i := range epochs {
			for _, run := range runs {
				samples[i] = append(samples[i], run[i])
			}
		}
		bands = append(bands, report.BandOf(methods[m], epochs, samples))
	}
	dir, err := os.MkdirTemp("", "report-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "curves.png")
	fig := report.Figure{Title: "Accuracy during training (ResNet-18)", XLabel: "epoch", Chance: 0.1}
	if err := report.Curves(path, fig, bands); err != nil {
		log.Fatal(err)
	}
	w, h := pngSize(path)
	fmt.Printf("%s: %d×%d pixels\n", filepath.Base(path), w, h)
	// Output:
	// | Method | Max kNN top-1 (%) | 95% CI (±) |
	// | --- | --- | --- |
	// | SimSiam | 42.33 ± 4.51 | 11.20 |
	// | SimCLR | **71.33 ± 0.58** | 1.43 |
	// | DiSiam | **74.27 ± 0.25** | 0.63 |
	// curves.png: 672×432 pixels
}

// Grouped bars: the mean over seeds of two methods on two backbones with
// 95% error bars. A group without a finite value has no bar.
func ExampleBars() {
	dir, err := os.MkdirTemp("", "report-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "bars.png")
	err = report.Bars(path, report.Figure{Title: "Max kNN top-1 after 200 epochs", Chance: 0.1},
		[]string{"ResNet-18", "EfficientNet-B0"},
		[]report.BarSeries{
			{Label: "SimSiam", Values: [][]float64{{0.41, 0.47, 0.45}, {0.52, 0.55, 0.50}}},
			{Label: "DiSiam", Values: [][]float64{{0.74, 0.745, 0.743}, {math.NaN()}}},
		})
	if err != nil {
		log.Fatal(err)
	}
	w, h := pngSize(path)
	fmt.Printf("%s: %d×%d pixels\n", filepath.Base(path), w, h)
	// Output:
	// bars.png: 672×432 pixels
}

// Max kNN top-1 over three seeds as a table row each, the best two bold.
func ExampleTable() {
	methods := []string{"SimSiam", "SimCLR", "DiSiam"}
	runs := [][]float64{{0.36, 0.47, 0.42}, {0.71, 0.72, 0.71}, {0.74, 0.745, 0.743}}
	means := make([]float64, len(runs))
	for i, r := range runs {
		means[i] = report.Mean(r)
	}
	bold := report.Best(means, 2)
	t := report.Table{Header: []string{"Method", "Max kNN Top-1 (%)"}}
	for i, m := range methods {
		t.Add(m, report.Bold(report.MeanStd(runs[i]), bold[i]))
	}
	t.Write(os.Stdout)
	fmt.Printf("95%% CI of DiSiam: ± %.2f\n", 100*report.CI95(runs[2]))
	// Output:
	// | Method | Max kNN Top-1 (%) |
	// | --- | --- |
	// | SimSiam | 41.67 ± 5.51 |
	// | SimCLR | **71.33 ± 0.58** |
	// | DiSiam | **74.27 ± 0.25** |
	// 95% CI of DiSiam: ± 0.63
}

// Statistics of one setting's accuracies over seeds.
func ExampleMeanStd() {
	seeds := []float64{0.7415, 0.7468, 0.7392, math.NaN()} // the last run failed
	fmt.Println(report.MeanStd(seeds))
	f := report.Finite(seeds)
	fmt.Printf("n %d, mean %s, std %s, 95%% CI ± %s\n", len(f), report.Pct(report.Mean(f)), report.Pct(report.Std(f)), report.Pct(report.CI95(f)))
	// Output:
	// 74.25 ± 0.39
	// n 3, mean 74.25, std 0.39, 95% CI ± 0.97
}

// pngSize returns the width and height of the PNG image at path.
func pngSize(path string) (w, h int) {
	f, err := os.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil {
		log.Fatal(err)
	}
	return cfg.Width, cfg.Height
}
