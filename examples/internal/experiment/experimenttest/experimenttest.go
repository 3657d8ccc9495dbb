// Package experimenttest checks the output folder of an experiment sweep
// (package experiment) in the tests of the example programs.
package experimenttest

import (
	"encoding/csv"
	"encoding/json"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/disiam/disiam/examples/internal/experiment"
)

// Outputs checks dir as Sweep.Run and the report leave it: runs.csv with
// runs rows whose accuracies are fractions in [0, 1] (max and final
// finite unless the run has a note), curves.csv with a row per
// measurement of each run, runs.json holding the same runs, results.md
// containing every string of want, and a decodable PNG for each name of
// plots. It returns the results of runs.json.
func Outputs(t *testing.T, dir string, runs int, want []string, plots ...string) []experiment.Result {
	t.Helper()
	recs := readCSV(t, filepath.Join(dir, "runs.csv"))
	if len(recs) != runs+1 {
		t.Fatalf("runs.csv: %d rows, want %d runs and a header", len(recs), runs)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	for i, r := range recs[1:] {
		for _, c := range []string{"initial_top1", "max_top1", "final_top1", "final_top5"} {
			v, err := strconv.ParseFloat(r[col[c]], 64)
			if err != nil {
				t.Fatalf("runs.csv row %d: %s: %v", i+1, c, err)
			}
			if math.IsNaN(v) && (r[col["note"]] != "" || c == "initial_top1") {
				continue
			}
			if !(v >= 0 && v <= 1) {
				t.Errorf("runs.csv row %d: %s = %v, want a fraction", i+1, c, v)
			}
		}
	}
	var doc struct {
		Results []experiment.Result `json:"results"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "runs.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("runs.json: %v", err)
	}
	if len(doc.Results) != runs {
		t.Fatalf("runs.json: %d results, want %d", len(doc.Results), runs)
	}
	measurements := 0
	for _, r := range doc.Results {
		if len(r.Curve) == 0 || r.Curve[0].Epoch != 0 {
			t.Errorf("%s/%s seed %d: curve %v does not start with the initialization", r.Group, r.Series, r.Seed, r.Curve)
		}
		measurements += len(r.Curve)
	}
	if c := readCSV(t, filepath.Join(dir, "curves.csv")); len(c) != measurements+1 {
		t.Errorf("curves.csv: %d rows, want %d measurements and a header", len(c), measurements)
	}
	md, err := os.ReadFile(filepath.Join(dir, "results.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range want {
		if !strings.Contains(string(md), w) {
			t.Errorf("results.md lacks %q:\n%s", w, md)
		}
	}
	for _, p := range plots {
		PNG(t, filepath.Join(dir, p))
	}
	return doc.Results
}

// PNG fails unless path is a decodable PNG.
func PNG(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.DecodeConfig(f); err != nil {
		t.Errorf("%s: %v", path, err)
	}
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return recs
}
