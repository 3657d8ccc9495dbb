package main

import (
	"cmp"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/report"
)

// csvHeader is the first line of runs.csv.
var csvHeader = []string{"backbone", "params", "classes", "kind", "fan", "gain_ratio", "seed", "top1", "top5", "seconds", "note"}

// csvRecord formats a run as a runs.csv line (accuracies as fractions).
func csvRecord(r Run) []string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	return []string{r.Backbone, strconv.Itoa(r.Params), strconv.Itoa(r.Classes), r.Kind, r.Fan, f(r.GainRatio),
		strconv.FormatUint(r.Seed, 10), f(r.Top1), f(r.Top5), strconv.FormatFloat(r.Seconds, 'f', 2, 64), r.Note}
}

// ReadCSV reads the runs of a runs.csv file.
func ReadCSV(path string) ([]Run, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cr := csv.NewReader(f)
	cr.FieldsPerRecord = len(csvHeader)
	recs, err := cr.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(recs) == 0 || !slices.Equal(recs[0], csvHeader) {
		return nil, fmt.Errorf("%s: header is not %s", path, strings.Join(csvHeader, ","))
	}
	var runs []Run
	for i, rec := range recs[1:] {
		r := Run{Backbone: rec[0], Kind: rec[3], Fan: rec[4], Note: rec[10]}
		var errs [7]error
		r.Params, errs[0] = strconv.Atoi(rec[1])
		r.Classes, errs[1] = strconv.Atoi(rec[2])
		r.GainRatio, errs[2] = strconv.ParseFloat(rec[5], 64)
		r.Seed, errs[3] = strconv.ParseUint(rec[6], 10, 64)
		r.Top1, errs[4] = strconv.ParseFloat(rec[7], 64)
		r.Top5, errs[5] = strconv.ParseFloat(rec[8], 64)
		r.Seconds, errs[6] = strconv.ParseFloat(rec[9], 64)
		for _, e := range errs {
			if e != nil {
				return nil, fmt.Errorf("%s: record %d: %w", path, i+1, e)
			}
		}
		if r.Kind != KindFeatures && r.Kind != KindLogits {
			return nil, fmt.Errorf("%s: record %d: kind %q", path, i+1, r.Kind)
		}
		if r.Classes <= 0 {
			return nil, fmt.Errorf("%s: record %d: %d classes", path, i+1, r.Classes)
		}
		runs = append(runs, r)
	}
	return runs, nil
}

// family is the architecture family of a backbone name ("resnet",
// "efficientnet"), the grouping of the thesis' tables.
func family(name string) string {
	return strings.TrimSuffix(strings.TrimRight(name, "0123456789"), "_b")
}

func fanTitle(f string) string {
	switch f {
	case "in":
		return "Fan In"
	case "out":
		return "Fan Out"
	}
	return f
}

func millions(p int) string { return fmt.Sprintf("%.1f", float64(p)/1e6) }

// BestTable writes the best setting per backbone (thesis Tables 5.1 and
// 5.2): fan mode, gain ratio, top-1 mean ± std over seeds, model size.
// Within each family with more than two backbones the best two are bold,
// as in the thesis.
func BestTable(w io.Writer, best []Setting) {
	fmt.Fprintln(w, "| Backbone | Fan Mode | Gain Ratio | Top-1 Accuracy (%) | Seeds | Model Size (M) |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- |")
	bold := map[int]bool{}
	fams := map[string][]int{}
	for i, s := range best {
		fams[family(s.Backbone)] = append(fams[family(s.Backbone)], i)
	}
	for _, idx := range fams {
		if len(idx) < 3 {
			continue
		}
		idx = slices.Clone(idx)
		slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(best[b].Mean(), best[a].Mean()) })
		bold[idx[0]], bold[idx[1]] = true, true
	}
	for i, s := range best {
		acc := fmt.Sprintf("%s ± %s", report.Pct(s.Mean()), report.Pct(s.Std()))
		if bold[i] {
			acc = "**" + acc + "**"
		}
		fmt.Fprintf(w, "| %s | %s | %.2f | %s | %d | %s |\n", backbone.Title(s.Backbone), fanTitle(s.Fan), s.GainRatio, acc, s.N(), millions(s.Params))
	}
}

// SweepTable writes every setting of one backbone and kind: a row per gain
// ratio, a column per fan mode, top-1 mean ± std.
func SweepTable(w io.Writer, settings []Setting, name, kind string, fans []string) {
	fmt.Fprintf(w, "| Gain Ratio |")
	for _, f := range fans {
		fmt.Fprintf(w, " %s Top-1 (%%) |", fanTitle(f))
	}
	fmt.Fprintln(w)
	fmt.Fprint(w, "| --- |", strings.Repeat(" --- |", len(fans)), "\n")
	var gains []float64
	cell := map[[2]string]Setting{}
	for _, s := range settings {
		if s.Backbone != name || s.Kind != kind {
			continue
		}
		g := strconv.FormatFloat(s.GainRatio, 'f', -1, 64)
		if !slices.Contains(gains, s.GainRatio) {
			gains = append(gains, s.GainRatio)
		}
		cell[[2]string{g, s.Fan}] = s
	}
	slices.Sort(gains)
	for _, gr := range gains {
		g := strconv.FormatFloat(gr, 'f', -1, 64)
		fmt.Fprintf(w, "| %.2f |", gr)
		for _, f := range fans {
			s, ok := cell[[2]string{g, f}]
			if !ok {
				fmt.Fprint(w, " |")
				continue
			}
			fmt.Fprintf(w, " %s ± %s |", report.Pct(s.Mean()), report.Pct(s.Std()))
		}
		fmt.Fprintln(w)
	}
}

// FWHMMarkdown writes the FWHM rows of one kind and fan mode (thesis Table
// 5.3): mean ± std over seeds, or why the width is undefined.
func FWHMMarkdown(w io.Writer, rows []FWHMRow, kind, fan string) {
	fmt.Fprintln(w, "| Backbone | FWHM | Model Size (M) |")
	fmt.Fprintln(w, "| --- | --- | --- |")
	for _, r := range rows {
		if r.Kind != kind || r.Fan != fan {
			continue
		}
		v := fmt.Sprintf("%.2f ± %.2f", report.Mean(r.Widths), report.Std(r.Widths))
		if !r.Defined() {
			v = fmt.Sprintf("excluded: %s (%d of %d seeds)", r.Reason, r.Seeds-len(r.Widths), r.Seeds)
		}
		fmt.Fprintf(w, "| %s | %s | %s |\n", backbone.Title(r.Backbone), v, millions(r.Params))
	}
}
