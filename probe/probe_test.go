package probe

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/disiam/disiam/internal/parallel"
)

type refCase struct {
	Name        string    `json:"name"`
	Normalize   string    `json:"normalize"`
	Lambda      float64   `json:"lambda"`
	Dim         int       `json:"dim"`
	Classes     int       `json:"classes"`
	Train       []float32 `json:"train"`
	TrainLabels []int     `json:"train_labels"`
	Test        []float32 `json:"test"`
	TestLabels  []int     `json:"test_labels"`
	W, B        []float64
	Loss        float64   `json:"loss"`
	Top1        float64   `json:"top1"`
	Top5        float64   `json:"top5"`
	PerClass    []float64 `json:"per_class"`
}

func loadReference(t *testing.T) []refCase {
	t.Helper()
	raw, err := os.ReadFile("testdata/reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Cases []refCase `json:"cases"`
	}
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	return ref.Cases
}

// TestMatchesPyTorch fits the probe on the reference's features and
// compares with PyTorch's full-batch L-BFGS optimum of the same objective
// (testdata/gen_reference.py): weights and biases within 1e-5 absolute,
// the loss within 1e-9 relative, accuracies and per-class accuracies
// exactly.
func TestMatchesPyTorch(t *testing.T) {
	for _, tc := range loadReference(t) {
		t.Run(tc.Name, func(t *testing.T) {
			norm, err := ParseNormalization(tc.Normalize)
			if err != nil {
				t.Fatal(err)
			}
			c, err := Fit(context.Background(), tc.Train, tc.Dim, tc.TrainLabels, tc.Classes,
				Config{Lambda: tc.Lambda, Normalize: norm, GradTol: 1e-10})
			if err != nil {
				t.Fatal(err)
			}
			var werr float64
			for i, v := range tc.W {
				werr = max(werr, math.Abs(c.W[i]-v))
			}
			for i, v := range tc.B {
				werr = max(werr, math.Abs(c.B[i]-v))
			}
			lerr := math.Abs(c.Loss-tc.Loss) / tc.Loss
			t.Logf("%d iterations (converged %v): max |Δw| %.2g, loss %.12g vs %.12g (rel %.2g)", c.Iterations, c.Converged, werr, c.Loss, tc.Loss, lerr)
			if werr > 1e-5 {
				t.Errorf("weights differ from PyTorch's by %.3g > 1e-5", werr)
			}
			if lerr > 1e-9 {
				t.Errorf("loss %.12g, PyTorch %.12g", c.Loss, tc.Loss)
			}
			r, err := c.Evaluate(tc.Test, tc.TestLabels)
			if err != nil {
				t.Fatal(err)
			}
			if r.Top1 != tc.Top1 || r.Top5 != tc.Top5 {
				t.Errorf("top-1 %v top-5 %v, PyTorch %v %v", r.Top1, r.Top5, tc.Top1, tc.Top5)
			}
			for k, v := range tc.PerClass {
				if math.Abs(r.PerClass[k]-v) > 1e-12 {
					t.Errorf("class %d accuracy %v, PyTorch %v", k, r.PerClass[k], v)
				}
			}
			if got := r.Metrics().String(); !strings.HasPrefix(got, "linear_top1 ") || !strings.Contains(got, "linear_top5 ") {
				t.Errorf("Metrics = %q", got)
			}
		})
	}
}

// TestGradient compares the objective's gradient with central finite
// differences in float64.
func TestGradient(t *testing.T) {
	tc := loadReference(t)[0]
	c := &Classifier{dim: tc.Dim, classes: tc.Classes, normalize: Standardize}
	c.mean, c.scale = standardization(tc.Train, tc.Dim)
	n := len(tc.TrainLabels)
	o := &objective{x: c.transform(tc.Train), y: tc.TrainLabels, n: n, dim: tc.Dim, classes: tc.Classes, lambda: 0.03}
	o.init()
	w := make([]float64, tc.Classes*(tc.Dim+1))
	for i := range w {
		w[i] = 0.1 * math.Sin(float64(i)*1.7)
	}
	g := make([]float64, len(w))
	o.eval(w, g)
	const h = 1e-6
	var worst float64
	for i := range w {
		wp, wm := slices.Clone(w), slices.Clone(w)
		wp[i] += h
		wm[i] -= h
		fd := (o.eval(wp, nil) - o.eval(wm, nil)) / (2 * h)
		worst = max(worst, math.Abs(fd-g[i]))
	}
	t.Logf("max |analytic - finite difference| = %.2g", worst)
	if worst > 1e-7 {
		t.Errorf("gradient differs from finite differences by %.3g", worst)
	}
}

// TestWorkersIndependent: the fitted weights are bit-identical for 1 and 3
// workers, and a λ sweep is reproducible from its seed.
func TestWorkersIndependent(t *testing.T) {
	defer func(w int) { parallel.Workers = w }(parallel.Workers)
	tc := loadReference(t)[1]
	// Enough rows for several chunks.
	var x []float32
	var y []int
	for range 4 {
		x = append(x, tc.Train...)
		y = append(y, tc.TrainLabels...)
	}
	cfg := Config{Lambdas: []float64{1e-4, 1e-2, 1}, Seed: 7}
	var first *Classifier
	for _, w := range []int{1, 3} {
		parallel.Workers = w
		c, err := Fit(context.Background(), x, tc.Dim, y, tc.Classes, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = c
			continue
		}
		if !slices.Equal(c.W, first.W) || !slices.Equal(c.B, first.B) || c.Lambda != first.Lambda {
			t.Errorf("workers %d: weights or λ differ (λ %g vs %g)", w, c.Lambda, first.Lambda)
		}
	}
	if !slices.Contains(cfg.Lambdas, first.Lambda) {
		t.Errorf("chosen λ %g is not a candidate", first.Lambda)
	}
}

// TestRegularization: a larger penalty gives smaller weights, and a
// standardized probe does not depend on the features' per-dimension scale.
func TestRegularization(t *testing.T) {
	tc := loadReference(t)[0]
	norm := func(l float64) float64 {
		c, err := Fit(context.Background(), tc.Train, tc.Dim, tc.TrainLabels, tc.Classes, Config{Lambda: l})
		if err != nil {
			t.Fatal(err)
		}
		var s float64
		for _, v := range c.W {
			s += v * v
		}
		return s
	}
	if a, b := norm(1e-3), norm(1e-1); !(b < a) {
		t.Errorf("‖W‖² %g at λ=0.1 not below %g at λ=0.001", b, a)
	}
	scaled := slices.Clone(tc.Train)
	for i := range scaled {
		scaled[i] *= float32(1 + i%tc.Dim)
	}
	a, err := Fit(context.Background(), tc.Train, tc.Dim, tc.TrainLabels, tc.Classes, Config{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Fit(context.Background(), scaled, tc.Dim, tc.TrainLabels, tc.Classes, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(a.Loss-b.Loss) > 1e-6 {
		t.Errorf("standardized loss %g on rescaled features, %g on the originals", b.Loss, a.Loss)
	}
}

func TestErrors(t *testing.T) {
	x := []float32{1, 2, 3, 4, 5, 6}
	nan := []float32{1, 2, float32(math.NaN()), 4, 5, 6}
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	for _, tc := range []struct {
		name   string
		ctx    context.Context
		x      []float32
		dim    int
		labels []int
		cfg    Config
		want   string
	}{
		{"ragged", ctx, x[:5], 2, []int{0, 1}, Config{}, "whole number of rows"},
		{"label count", ctx, x, 2, []int{0, 1}, Config{}, "2 labels for 3 rows"},
		{"label range", ctx, x, 2, []int{0, 1, 2}, Config{}, "row 2: label 2 outside [0, 2)"},
		{"not finite", ctx, nan, 2, []int{0, 1, 0}, Config{}, "row 1: feature 0 is not finite"},
		{"lambda", ctx, x, 2, []int{0, 1, 0}, Config{Lambda: -1}, "Lambda = -1"},
		{"lambdas", ctx, x, 2, []int{0, 1, 0}, Config{Lambdas: []float64{1, math.Inf(1)}}, "Lambdas[1]"},
		{"cancelled", cancelled, x, 2, []int{0, 1, 0}, Config{}, "context canceled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Fit(tc.ctx, tc.x, tc.dim, tc.labels, 2, tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
