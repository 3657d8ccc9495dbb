package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/disiam/disiam/report"
)

// Feature kinds: the pooled features (Table 5.1) or the classifier's
// logits (Table 5.2).
const (
	KindFeatures = "features"
	KindLogits   = "logits"
)

// Run is one evaluation: a backbone initialized with one gain ratio, fan
// mode and seed, measured with kNN on one kind of representation.
type Run struct {
	Backbone  string  `json:"backbone"`
	Params    int     `json:"params"`  // trainable parameters, classifier included (Table 4.1)
	Classes   int     `json:"classes"` // of the dataset: chance is 1/Classes
	Kind      string  `json:"kind"`    // "features" or "logits"
	Fan       string  `json:"fan"`     // "in" or "out"
	GainRatio float64 `json:"gain_ratio"`
	Seed      uint64  `json:"seed"`
	Top1      float64 `json:"top1"` // fractions in [0, 1]
	Top5      float64 `json:"top5"`
	Seconds   float64 `json:"seconds"` // extraction and kNN, both kinds together
	// Note explains a failed run (Top1 and Top5 NaN), e.g. features that
	// overflowed float32 at a large gain ratio.
	Note string `json:"note,omitempty"`
}

// MarshalJSON writes NaN accuracies (failed runs) as null.
func (r Run) MarshalJSON() ([]byte, error) {
	type plain Run
	type withNull struct {
		plain
		Top1 *float64 `json:"top1"`
		Top5 *float64 `json:"top5"`
	}
	w := withNull{plain: plain(r)}
	if !math.IsNaN(r.Top1) {
		w.Top1 = &r.Top1
	}
	if !math.IsNaN(r.Top5) {
		w.Top5 = &r.Top5
	}
	return json.Marshal(w)
}

// Setting is the runs of one (backbone, kind, fan, gain ratio) over seeds.
type Setting struct {
	Backbone  string
	Params    int
	Kind      string
	Fan       string
	GainRatio float64
	Top1      []float64 // per seed, in seed order
	Seeds     []uint64
}

// Mean returns the mean top-1 accuracy over the seeds whose run succeeded
// (NaN if none did).
func (s Setting) Mean() float64 { return report.Mean(report.Finite(s.Top1)) }

// Std returns the sample standard deviation of top-1 (0 for one seed).
func (s Setting) Std() float64 { return report.Std(report.Finite(s.Top1)) }

// CI95 returns the half-width of the 95% confidence interval of the mean,
// t(0.975, n-1)·std/√n (0 for one seed): the band of the thesis' figures.
func (s Setting) CI95() float64 { return report.CI95(report.Finite(s.Top1)) }

// N returns the number of seeds whose run succeeded.
func (s Setting) N() int { return len(report.Finite(s.Top1)) }

// Aggregate groups runs into settings, ordered by backbone (first
// appearance), kind, fan mode and gain ratio.
func Aggregate(runs []Run) []Setting {
	type key struct {
		b, k, f string
		g       float64
	}
	idx := map[key]int{}
	order := map[string]int{}
	var out []Setting
	for _, r := range runs {
		if _, ok := order[r.Backbone]; !ok {
			order[r.Backbone] = len(order)
		}
		k := key{r.Backbone, r.Kind, r.Fan, r.GainRatio}
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, Setting{Backbone: r.Backbone, Params: r.Params, Kind: r.Kind, Fan: r.Fan, GainRatio: r.GainRatio})
		}
		out[i].Top1 = append(out[i].Top1, r.Top1)
		out[i].Seeds = append(out[i].Seeds, r.Seed)
	}
	slices.SortStableFunc(out, func(a, b Setting) int {
		return cmp.Or(cmp.Compare(order[a.Backbone], order[b.Backbone]), strings.Compare(a.Kind, b.Kind),
			strings.Compare(a.Fan, b.Fan), cmp.Compare(a.GainRatio, b.GainRatio))
	})
	return out
}

// Best returns, for each backbone (in order of appearance) the setting of
// the given kind with the highest mean top-1 accuracy (the rows of Tables
// 5.1 and 5.2); ties go to the first in Aggregate's order.
func Best(settings []Setting, kind string) []Setting {
	var out []Setting
	pos := map[string]int{}
	for _, s := range settings {
		if s.Kind != kind {
			continue
		}
		i, ok := pos[s.Backbone]
		if !ok {
			pos[s.Backbone] = len(out)
			out = append(out, s)
			continue
		}
		if s.Mean() > out[i].Mean() || (math.IsNaN(out[i].Mean()) && !math.IsNaN(s.Mean())) {
			out[i] = s
		}
	}
	return out
}

// FWHM is the full width at half maximum of an accuracy-vs-gain-ratio
// curve, the robustness measure of thesis Table 5.3.
type FWHM struct {
	Width       float64 // in gain-ratio units; NaN when undefined
	Left, Right float64 // the half-maximum crossings
	Peak        float64 // the maximum accuracy and where it is
	PeakAt      float64
	// Reason says why Width is undefined: the curve "did not fall below
	// half the maximum" on that side within the swept range (the thesis'
	// reason for leaving ResNet-18 and -34 out of Table 5.3).
	Reason string
}

// CurveFWHM computes the FWHM of the curve y(x) (x increasing): the half
// maximum is half the peak accuracy (measured from 0, not from chance);
// each crossing is found by walking outwards from the peak to the first
// point below it and interpolating linearly between that point and its
// neighbour towards the peak. The width is undefined when the curve stays
// at or above the half maximum up to an end of the range.
func CurveFWHM(x, y []float64) FWHM {
	if len(x) != len(y) || len(x) == 0 {
		return FWHM{Width: math.NaN(), Left: math.NaN(), Right: math.NaN(), Reason: "empty curve"}
	}
	p := 0
	for i := range y {
		if y[i] > y[p] {
			p = i
		}
	}
	half := y[p] / 2
	f := FWHM{Peak: y[p], PeakAt: x[p], Left: math.NaN(), Right: math.NaN(), Width: math.NaN()}
	cross := func(i, j int) float64 { // i below half, j at or above it
		return x[i] + (half-y[i])*(x[j]-x[i])/(y[j]-y[i])
	}
	for i := p - 1; i >= 0; i-- {
		if y[i] < half {
			f.Left = cross(i, i+1)
			break
		}
	}
	for i := p + 1; i < len(y); i++ {
		if y[i] < half {
			f.Right = cross(i, i-1)
			break
		}
	}
	switch {
	case math.IsNaN(f.Left) && math.IsNaN(f.Right):
		f.Reason = "does not fall below half maximum on either side"
	case math.IsNaN(f.Left):
		f.Reason = "does not fall below half maximum on the left"
	case math.IsNaN(f.Right):
		f.Reason = "does not fall below half maximum on the right"
	default:
		f.Width = f.Right - f.Left
	}
	return f
}

// FWHMRow is the FWHM of one backbone, kind and fan mode over seeds.
type FWHMRow struct {
	Backbone string
	Params   int
	Kind     string
	Fan      string
	Widths   []float64 // per seed with a defined width
	Seeds    int       // seeds measured
	Reason   string    // why some seeds have no width (the first reason met)
}

// Defined reports whether every seed's curve has a width; the thesis
// leaves the other models out of Table 5.3.
func (r FWHMRow) Defined() bool { return len(r.Widths) == r.Seeds && r.Seeds > 0 }

// FWHMTable computes the FWHM of each seed's curve for every backbone,
// kind and fan mode (Table 5.3 reports mean ± std over seeds). Curves need
// at least three gain ratios.
func FWHMTable(runs []Run) []FWHMRow {
	type key struct{ b, k, f string }
	type curve struct {
		x, y []float64
	}
	curves := map[key]map[uint64]*curve{}
	var rows []FWHMRow
	pos := map[key]int{}
	seedOrder := map[key][]uint64{}
	for _, r := range runs {
		if math.IsNaN(r.Top1) {
			continue // a failed run is a missing point of its curve
		}
		k := key{r.Backbone, r.Kind, r.Fan}
		if _, ok := pos[k]; !ok {
			pos[k] = len(rows)
			rows = append(rows, FWHMRow{Backbone: r.Backbone, Params: r.Params, Kind: r.Kind, Fan: r.Fan})
			curves[k] = map[uint64]*curve{}
		}
		c := curves[k][r.Seed]
		if c == nil {
			c = &curve{}
			curves[k][r.Seed] = c
			seedOrder[k] = append(seedOrder[k], r.Seed)
		}
		c.x = append(c.x, r.GainRatio)
		c.y = append(c.y, r.Top1)
	}
	for k, i := range pos {
		row := &rows[i]
		for _, s := range seedOrder[k] {
			c := curves[k][s]
			ord := make([]int, len(c.x))
			for j := range ord {
				ord[j] = j
			}
			slices.SortFunc(ord, func(a, b int) int { return cmp.Compare(c.x[a], c.x[b]) })
			x, y := make([]float64, len(ord)), make([]float64, len(ord))
			for j, o := range ord {
				x[j], y[j] = c.x[o], c.y[o]
			}
			row.Seeds++
			if len(x) < 3 {
				if row.Reason == "" {
					row.Reason = "fewer than 3 gain ratios"
				}
				continue
			}
			f := CurveFWHM(x, y)
			if math.IsNaN(f.Width) {
				if row.Reason == "" {
					row.Reason = f.Reason
				}
				continue
			}
			row.Widths = append(row.Widths, f.Width)
		}
	}
	return rows
}

// ParseGains parses "START:STOP:STEP" (inclusive, e.g. 0.1:3.0:0.1) or a
// comma-separated list of positive gain ratios.
func ParseGains(s string) ([]float64, error) {
	if parts := strings.Split(s, ":"); len(parts) == 3 {
		var v [3]float64
		for i, p := range parts {
			f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
			if err != nil {
				return nil, fmt.Errorf("gains %q: %w", s, err)
			}
			v[i] = f
		}
		start, stop, step := v[0], v[1], v[2]
		if !(start > 0) || !(step > 0) || !(stop >= start) || math.IsInf(stop, 0) {
			return nil, fmt.Errorf("gains %q: want 0 < START <= STOP finite and STEP > 0", s)
		}
		count := math.Floor((stop-start)/step+1e-9) + 1
		if !(count <= 10000) {
			return nil, fmt.Errorf("gains %q: more than 10000 values", s)
		}
		n := int(count)
		out := make([]float64, n)
		for i := range out {
			// Rounded to 12 significant digits so that 0.1:3.0:0.1 gives
			// 0.3, not 0.30000000000000004.
			out[i], _ = strconv.ParseFloat(strconv.FormatFloat(start+float64(i)*step, 'g', 12, 64), 64)
		}
		return out, nil
	}
	var out []float64
	for _, p := range strings.Split(s, ",") {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return nil, fmt.Errorf("gains %q: %w", s, err)
		}
		if !(f > 0) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("gains %q: %v is not a positive gain ratio", s, f)
		}
		out = append(out, f)
	}
	return out, nil
}

// distinct returns the distinct values of f over runs, in order of first
// appearance.
func distinct(runs []Run, f func(Run) string) []string {
	var out []string
	for _, r := range runs {
		if v := f(r); !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}
