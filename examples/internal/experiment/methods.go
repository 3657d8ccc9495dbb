package experiment

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/examples/internal/runner"

	"github.com/disiam/disiam/report"
)

// MethodsFigure names the figures of a method comparison.
type MethodsFigure struct {
	// Title heads the bar plot, e.g. "Max kNN top-1 on CIFAR-10".
	Title string
	// Chance is the chance accuracy (a fraction; 0: no line).
	Chance float64
}

// MethodsReport writes the report of a comparison of methods (series)
// across backbones (groups), thesis Section 5.2 and 5.4: a Table 5.4
// per backbone to w, and, unless noPlots, max_top1.png (Figure 5.11/5.31,
// grouped bars with 95% confidence error bars) and curves_<group>.png
// (Figure 5.12, kNN top-1 over epochs with 95% confidence bands) to dir.
// It returns the paths of the plots it wrote.
func MethodsReport(w io.Writer, dir string, g *Grid, fig MethodsFigure, noPlots bool) ([]string, error) {
	fmt.Fprintln(w, "Max kNN top-1 over training, mean ± std over seeds (the best two in bold), the final top-1 and the mean epoch of the max:")
	fmt.Fprintln(w)
	g.GroupTables(w, "Method", true)
	if noPlots {
		return nil, nil
	}
	var paths []string
	bars := PlotFile(dir, "max_top1.png")
	if err := g.MaxBars(bars, report.Figure{Title: fig.Title + " (mean, 95% CI)", XLabel: "backbone", Chance: fig.Chance}); err != nil {
		return nil, fmt.Errorf("plot: %w", err)
	}
	paths = append(paths, bars)
	for _, group := range g.Groups {
		p := PlotFile(dir, "curves_"+group+".png")
		if err := g.Curves(p, group, report.Figure{Title: group + ": kNN top-1 during training (mean, 95% CI)", XLabel: "epoch", Chance: fig.Chance}); err != nil {
			return nil, fmt.Errorf("plot: %w", err)
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// MethodJobs returns the jobs of a method comparison: one run of
// f.EpochsFor(method) epochs per online backbone (the group, by its title), method (the
// series) and seed.
func (f *Flags) MethodJobs() []Job {
	var t []Job
	for _, bb := range f.Backbones {
		for _, m := range f.Methods {
			t = append(t, Job{Group: backbone.Title(bb), Series: MethodTitle(m),
				Plan: []runner.StagePlan{{Method: m, Epochs: f.EpochsFor(m)}}, Backbone: bb})
		}
	}
	return f.Jobs(t)
}

// WriteResults writes md to dir/results.md and prints it to w with the
// list of output files.
func WriteResults(w io.Writer, dir, md string, plots []string) error {
	path := filepath.Join(dir, "results.md")
	if err := os.WriteFile(path, []byte(md), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n%s\nwrote %s, runs.csv, curves.csv, runs.json and %d plots in %s\n", md, path, len(plots), dir)
	return nil
}
