// Package report turns the results of a study — accuracies measured over
// several seeds, for several methods, settings or epochs — into the
// statistics, tables, data files and figures of a write-up, in the
// conventions of the thesis' Chapter 5: mean ± sample standard deviation
// in tables, the best results in bold, accuracy curves with a shaded 95%
// confidence band, grouped bars with 95% error bars and a dashed line at
// chance accuracy. The experiment programs under examples/ write all their
// output with it; import it to report a study of your own the same way.
//
// # Conventions
//
// Accuracies are fractions in [0, 1] in all data passed to the package
// and percent in everything it prints or draws (Pct, MeanStd, table
// cells, the y axes). NaN marks a missing or failed measurement (a run
// that diverged, a setting not run yet): Finite drops it before Mean, Std
// and CI95 (MeanStd, BandOf and Bars drop it themselves), tables print
// "n/a", plots leave the point or bar out. Functions never modify the
// slices passed to them.
//
// # Statistics over seeds
//
// Repeating a run with different seeds gives a sample of accuracies per
// setting. Finite drops NaN and ±Inf; Mean, Std (sample standard
// deviation, divisor n-1) and CI95 (half-width of the 95% confidence
// interval of the mean, Student's t with n-1 degrees of freedom) summarize
// the rest. Std and CI95 are 0 for fewer than two values, Mean is NaN for
// none. Pct formats one fraction as percent with two decimals and MeanStd a
// whole sample as "mean ± std", the cell format of the thesis' tables:
//
//	seeds := []float64{0.7415, 0.7468, 0.7392}
//	report.MeanStd(seeds)          // "74.25 ± 0.39"
//	report.Pct(report.CI95(seeds)) // "0.97" (percentage points)
//
// # Tables
//
// Table is a Markdown table: set Header, Add rows of cells, Write it to
// any io.Writer (a README, a terminal, a results.md). Best marks the k
// largest of a column's values (the thesis prints the two best results of
// each column in bold) and Bold wraps a cell accordingly; when no more than
// k values are present none is marked.
//
// # Files
//
// CreateCSV starts a CSV file (runs.csv, curves.csv) and CSV.Add writes one
// record and flushes it at once, so a long sweep that is interrupted keeps
// every run it finished; WriteJSON writes any value as indented JSON.
//
// # Figures
//
// The figures are drawn with gonum/plot (gonum.org/v1/plot) and saved in
// the format of the file name's extension: PNG for ".png", also SVG, PDF
// and others.
// Figure is their common frame: title, axis labels (the y label defaults
// to "kNN top-1 accuracy (%)"), an optional chance accuracy drawn as a
// dashed line, and the size (7 × 4.5 inches by default). Two kinds are
// ready-made:
//
//   - Curves: accuracy against a number (epoch, gain ratio, batch size),
//     one Band per method — the mean over seeds as a line and mean ± CI95
//     as a translucent band. BandOf builds a Band from the per-x samples
//     over seeds; a Band can also be filled by hand from statistics
//     computed elsewhere.
//   - Bars: groups (backbones, datasets) along the x axis, one colored bar
//     per BarSeries (method) in each group, its height the mean over seeds
//     and its error bar the CI95.
//
// Both write nothing, and return nil, when there is no finite value to
// draw, so a sweep can redraw its figures after every finished run. For a
// figure of another kind, build a *plot.Plot with gonum/plot and use
// ChanceLine and Headroom to match the style.
//
// The package-level example below runs through a small study: a table of
// the final accuracies and a figure of the accuracy curves.
package report
