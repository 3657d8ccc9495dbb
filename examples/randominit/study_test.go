package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/disiam/disiam/internal/parallel"
	"github.com/disiam/disiam/knn"
)

func TestParseGains(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want []float64
		err  string
	}{
		{"range", "0.5:2:0.5", []float64{0.5, 1, 1.5, 2}, ""},
		{"tiny range", "1e-12:3e-12:1e-12", []float64{1e-12, 2e-12, 3e-12}, ""},
		{"list", "0.5, 1,2.25", []float64{0.5, 1, 2.25}, ""},
		{"single", "1.2", []float64{1.2}, ""},
		{"zero start", "0:1:0.5", nil, "0 < START"},
		{"reversed", "2:1:0.5", nil, "START <= STOP"},
		{"zero step", "1:2:0", nil, "STEP > 0"},
		{"negative", "1,-1", nil, "not a positive gain ratio"},
		{"text", "a", nil, "invalid syntax"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseGains(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("ParseGains(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
		})
	}
	// The thesis' grid: 30 values, exact decimals.
	g, err := ParseGains("0.1:3.0:0.1")
	if err != nil || len(g) != 30 || g[0] != 0.1 || g[2] != 0.3 || g[29] != 3 {
		t.Fatalf("0.1:3.0:0.1 = %v, %v", g, err)
	}
}

func TestCurveFWHM(t *testing.T) {
	for _, tc := range []struct {
		name        string
		x, y        []float64
		left, right float64
		reason      string
	}{
		{"triangle", []float64{0, 1, 2, 3, 4}, []float64{0, 0.2, 0.4, 0.2, 0}, 1, 3, ""},
		{"interpolated", []float64{0.5, 1, 1.5, 2, 2.5}, []float64{0.1, 0.3, 0.36, 0.25, 0.1}, 0.7, 2.5 - 0.08*0.5/0.15, ""},
		// Walking out from the peak, the first point below half counts,
		// not a later dip.
		{"first crossing", []float64{1, 2, 3, 4, 5, 6}, []float64{0.1, 0.3, 0.4, 0.1, 0.3, 0.05}, 1 + 0.1/0.2, 4 - 0.1/0.3, ""},
		{"flat right", []float64{1, 2, 3, 4}, []float64{0.05, 0.4, 0.35, 0.3}, 1 + 0.15/0.35, math.NaN(), "on the right"},
		{"flat left", []float64{1, 2, 3}, []float64{0.3, 0.4, 0.1}, math.NaN(), 2 + 0.2/0.3, "on the left"},
		{"flat", []float64{1, 2, 3}, []float64{0.3, 0.4, 0.35}, math.NaN(), math.NaN(), "either side"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := CurveFWHM(tc.x, tc.y)
			same := func(a, b float64) bool { return (math.IsNaN(a) && math.IsNaN(b)) || math.Abs(a-b) < 1e-12 }
			if !same(f.Left, tc.left) || !same(f.Right, tc.right) {
				t.Fatalf("crossings %v, %v; want %v, %v", f.Left, f.Right, tc.left, tc.right)
			}
			if tc.reason == "" {
				if !same(f.Width, tc.right-tc.left) || f.Reason != "" {
					t.Fatalf("width %v (%q), want %v", f.Width, f.Reason, tc.right-tc.left)
				}
			} else if !math.IsNaN(f.Width) || !strings.Contains(f.Reason, tc.reason) {
				t.Fatalf("width %v, reason %q; want NaN, %q", f.Width, f.Reason, tc.reason)
			}
		})
	}
}

func sampleRuns() []Run {
	var runs []Run
	add := func(b string, params int, fan string, g float64, seed uint64, top1 float64) {
		runs = append(runs, Run{Backbone: b, Params: params, Classes: 10, Kind: KindFeatures, Fan: fan, GainRatio: g, Seed: seed, Top1: top1, Top5: top1 + 0.3})
	}
	for _, s := range []struct {
		seed uint64
		d    float64
	}{{42, 0}, {1337, 0.02}} {
		add("resnet18", 11689512, "in", 0.5, s.seed, 0.10+s.d)
		add("resnet18", 11689512, "in", 1.0, s.seed, 0.36+s.d)
		add("resnet18", 11689512, "in", 1.5, s.seed, 0.30+s.d)
		add("resnet18", 11689512, "in", 2.0, s.seed, 0.12+s.d)
		add("efficientnet_b0", 5288548, "in", 0.5, s.seed, 0.15+s.d)
		add("efficientnet_b0", 5288548, "in", 1.0, s.seed, 0.30-s.d)
		add("efficientnet_b0", 5288548, "in", 1.5, s.seed, 0.34+s.d)
		add("efficientnet_b0", 5288548, "in", 2.0, s.seed, 0.33+s.d)
	}
	return runs
}

func TestAggregateBestFWHM(t *testing.T) {
	runs := sampleRuns()
	settings := Aggregate(runs)
	if len(settings) != 8 || settings[0].Backbone != "resnet18" || settings[0].GainRatio != 0.5 || settings[4].Backbone != "efficientnet_b0" {
		t.Fatalf("settings order: %+v", settings)
	}
	s := settings[1] // resnet18, gain 1: 0.36, 0.38
	if math.Abs(s.Mean()-0.37) > 1e-12 || math.Abs(s.Std()-0.02/math.Sqrt2) > 1e-12 || s.N() != 2 {
		t.Fatalf("mean %v std %v n %d", s.Mean(), s.Std(), s.N())
	}
	// t(0.975, 1) = 12.7062047...
	if want := 12.706204736174703 * (0.02 / math.Sqrt2) / math.Sqrt2; math.Abs(s.CI95()-want) > 1e-9 {
		t.Fatalf("CI95 %v, want %v", s.CI95(), want)
	}
	best := Best(settings, KindFeatures)
	if len(best) != 2 || best[0].GainRatio != 1 || best[1].GainRatio != 1.5 {
		t.Fatalf("best %+v", best)
	}
	rows := FWHMTable(runs)
	if len(rows) != 2 {
		t.Fatalf("FWHM rows %+v", rows)
	}
	r := rows[0] // resnet18: seed 42 curve 0.10 0.36 0.30 0.12, half 0.18
	if !r.Defined() || len(r.Widths) != 2 {
		t.Fatalf("resnet18 FWHM %+v", r)
	}
	want := (1.5 + 0.12/0.18*0.5) - (0.5 + 0.08/0.26*0.5)
	if math.Abs(r.Widths[0]-want) > 1e-12 {
		t.Fatalf("resnet18 seed 42 width %v, want %v", r.Widths[0], want)
	}
	if rows[1].Defined() || !strings.Contains(rows[1].Reason, "on the right") {
		t.Fatalf("efficientnet_b0 FWHM %+v, want undefined on the right", rows[1])
	}
	// A failed run is a missing point, not a zero.
	runs[1].Top1 = math.NaN()
	if s := Aggregate(runs)[1]; s.N() != 1 || s.Mean() != 0.38 {
		t.Fatalf("with a failed run: n %d mean %v", s.N(), s.Mean())
	}
}

func TestMarkdown(t *testing.T) {
	settings := Aggregate(sampleRuns())
	var b bytes.Buffer
	BestTable(&b, Best(settings, KindFeatures))
	want := `| Backbone | Fan Mode | Gain Ratio | Top-1 Accuracy (%) | Seeds | Model Size (M) |
| --- | --- | --- | --- | --- | --- |
| ResNet-18 | Fan In | 1.00 | 37.00 ± 1.41 | 2 | 11.7 |
| EfficientNet-B0 | Fan In | 1.50 | 35.00 ± 1.41 | 2 | 5.3 |
`
	if b.String() != want {
		t.Errorf("BestTable:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	FWHMMarkdown(&b, FWHMTable(sampleRuns()), KindFeatures, "in")
	if s := b.String(); !strings.Contains(s, "| ResNet-18 | 1.") || !strings.Contains(s, "| EfficientNet-B0 | excluded: does not fall below half maximum on the right (2 of 2 seeds) | 5.3 |") {
		t.Errorf("FWHM table:\n%s", s)
	}
}

func TestRunJSONNaN(t *testing.T) {
	b, err := json.Marshal(Run{Backbone: "resnet18", Top1: math.NaN(), Top5: 0.5, Note: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if s := string(b); !strings.Contains(s, `"top1":null`) || !strings.Contains(s, `"top5":0.5`) || strings.Count(s, `"top1"`) != 1 {
		t.Fatalf("JSON %s", s)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-backbones", "vgg16"}, "unknown architecture"},
		{[]string{"-fan", "both"}, `fan mode "both"`},
		{[]string{"-gains", "0:1:1"}, "0 < START"},
		{[]string{"-seeds", "x"}, "seeds"},
		{[]string{"-norm", "mnist"}, "norm"},
		{[]string{"-head-init", "xavier"}, "head-init"},
		{[]string{"-batch", "0"}, "-batch"},
		{[]string{"extra"}, "unexpected arguments"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, err := parseConfig(tc.args, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// TestEndToEnd runs a tiny sweep twice on the embedded synthetic set, with
// several worker goroutines and with one, and checks the outputs and that
// they are identical.
func TestEndToEnd(t *testing.T) {
	args := func(out string) []string {
		return []string{"-data", "synthetic,train=60,test=30,size=16", "-backbones", "resnet18",
			"-gains", "0.5,1,2", "-fan", "in,out", "-seeds", "1,2", "-train", "0", "-test", "0",
			"-classifier", "-k", "10", "-batch", "32", "-out", out}
	}
	var records [2][][]string
	var outs [2]string
	defer func(w int) { parallel.Workers = w }(parallel.Workers)
	for i := range 2 {
		// The second sweep runs on one goroutine: results must not change.
		parallel.Workers = []int{max(parallel.Workers, 2), 1}[i]
		out := t.TempDir()
		var stdout bytes.Buffer
		if err := run(args(out), &stdout, &stdout); err != nil {
			t.Fatalf("%v\n%s", err, stdout.String())
		}
		if !strings.Contains(stdout.String(), "| ResNet-18 |") {
			t.Errorf("no results table printed:\n%s", stdout.String())
		}
		for _, f := range []string{"runs.csv", "runs.json", "results.md", "gain_resnet18_features.png", "gain_resnet18_logits.png", "size_features.png", "size_logits.png"} {
			if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
				t.Errorf("%s: %v", f, err)
			}
		}
		fh, err := os.Open(filepath.Join(out, "runs.csv"))
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(fh).ReadAll()
		fh.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 1+3*2*2*2 {
			t.Fatalf("runs.csv has %d lines, want %d", len(recs), 1+3*2*2*2)
		}
		for _, r := range recs[1:] {
			r[9] = "" // seconds
		}
		records[i] = recs
		outs[i] = out
	}
	for i := range records[0] {
		if !slices.Equal(records[0][i], records[1][i]) {
			t.Fatalf("run %d differs between identical sweeps: %v vs %v", i, records[0][i], records[1][i])
		}
	}
	// Report mode: the runs of both sweeps merged give every setting twice
	// the seeds, with the same means.
	merged := t.TempDir()
	var stdout bytes.Buffer
	err := run([]string{"-report", filepath.Join(outs[0], "runs.csv") + "," + filepath.Join(outs[1], "runs.csv"), "-out", merged}, &stdout, &stdout)
	if err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	one, err := os.ReadFile(filepath.Join(outs[0], "results.md"))
	if err != nil {
		t.Fatal(err)
	}
	both, err := os.ReadFile(filepath.Join(merged, "results.md"))
	if err != nil {
		t.Fatal(err)
	}
	// Rows "| 0.50 | m ± s | ..." keep their means; the seed count doubles.
	if !strings.Contains(string(both), "Merged from") || strings.Count(string(both), "| 4 |") != strings.Count(string(one), "| 2 |") {
		t.Errorf("merged report:\n%s\nsingle:\n%s", both, one)
	}
}

func TestReadCSVErrors(t *testing.T) {
	dir := t.TempDir()
	head := strings.Join(csvHeader, ",") + "\n"
	for _, tc := range []struct {
		name, content, want string
	}{
		{"header", "a,b\n", "wrong number of fields"},
		{"other header", strings.Repeat("x,", len(csvHeader)-1) + "x\n", "header is not"},
		{"gain", head + "resnet18,1,10,features,in,abc,42,0.5,0.6,1.0,\n", "record 1"},
		{"kind", head + "resnet18,1,10,maps,in,1,42,0.5,0.6,1.0,\n", `kind "maps"`},
		{"classes", head + "resnet18,1,0,features,in,1,42,0.5,0.6,1.0,\n", "0 classes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".csv")
			if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := ReadCSV(path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	path := filepath.Join(dir, "ok.csv")
	if err := os.WriteFile(path, []byte(head+"resnet18,11689512,10,logits,out,1.5,42,0.5,NaN,2.25,non-finite\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	runs, err := ReadCSV(path)
	if err != nil || len(runs) != 1 || runs[0].GainRatio != 1.5 || runs[0].Kind != KindLogits || !math.IsNaN(runs[0].Top5) || runs[0].Note != "non-finite" {
		t.Fatalf("ReadCSV = %+v, %v", runs, err)
	}
}

// FuzzParseGains checks that the -gains parser never panics and returns
// only positive finite ratios.
func FuzzParseGains(f *testing.F) {
	for _, s := range []string{"0.1:3.0:0.1", "0.5,1", "1e-300:1e300:1e-300", "1e-12:1e-11:1e-12", "nan", "1:inf:1", ",", "1::"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		g, err := ParseGains(s)
		if err != nil {
			return
		}
		for _, v := range g {
			if !(v > 0) || math.IsInf(v, 0) {
				t.Fatalf("ParseGains(%q) gave %v", s, v)
			}
		}
	})
}

func TestMeasureFlagsDegenerateFeatures(t *testing.T) {
	train := make([]float32, 4*2)
	test := make([]float32, 2*2)
	top1, _, note, err := measure(train, test, 2, []int{0, 1, 0, 1}, []int{0, 1}, 2, knn.Config{K: 2})
	if err != nil || top1 != 0.5 || !strings.Contains(note, "all features are zero") {
		t.Fatalf("zero features: top-1 %v, note %q, %v", top1, note, err)
	}
	test[3] = float32(math.Inf(1))
	top1, _, note, err = measure([]float32{1, 0, 0, 1, 1, 1, 0, 2}, test, 2, []int{0, 1, 0, 1}, []int{0, 1}, 2, knn.Config{K: 2})
	if err != nil || !math.IsNaN(top1) || !strings.Contains(note, "not finite") {
		t.Fatalf("infinite feature: top-1 %v, note %q, %v", top1, note, err)
	}
}
