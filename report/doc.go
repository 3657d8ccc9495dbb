// Package report holds the output conventions the experiment programs
// share: statistics over seeds (mean, sample standard deviation, the
// half-width of the 95% confidence interval of the mean), runs.csv
// written row by row so that an interrupted sweep keeps its finished
// runs, JSON files, Markdown tables, and gonum/plot figures in the style
// of the thesis' Chapter 5: accuracy curves with a shaded 95% confidence
// band, grouped bars with 95% error bars, a dashed chance line.
//
// Accuracies are fractions in [0, 1] everywhere in the data and percent
// in tables and plots (Pct, MeanStd, and the y axes). NaN marks a missing
// or failed measurement: the statistics skip it (Finite) and the tables
// print "n/a".
//
// It is internal to the examples.
package report
