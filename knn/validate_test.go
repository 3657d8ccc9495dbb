package knn

import (
	"math"
	"strings"
	"testing"

	"github.com/disiam/disiam/dataset"
)

func TestValidate(t *testing.T) {
	ds := dataset.Synthetic(dataset.SyntheticConfig{Train: 8, Test: 4, Seed: 1}, dataset.Train)
	ok := func() *Evaluator { return &Evaluator{Train: ds, Test: ds} }
	cases := []struct {
		name string
		e    func(e *Evaluator)
		want string
	}{
		{"defaults", func(*Evaluator) {}, ""},
		{"k", func(e *Evaluator) { e.K = -1 }, "K = -1, want > 0"},
		{"tau negative", func(e *Evaluator) { e.Tau = -0.1 }, "Tau = -0.1"},
		{"tau nan", func(e *Evaluator) { e.Tau = math.NaN() }, "Tau = NaN"},
		{"tau inf", func(e *Evaluator) { e.Tau = math.Inf(1) }, "Tau = +Inf"},
		{"no test", func(e *Evaluator) { e.Test = nil }, "needs Train and Test"},
		{"empty bank", func(e *Evaluator) { e.Train = dataset.Head(ds, 0) }, "empty Train set"},
		{"batch", func(e *Evaluator) { e.BatchSize = -2 }, "BatchSize = -2"},
		{"size", func(e *Evaluator) { e.InputSize = -1 }, "InputSize = -1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := ok()
			tc.e(e)
			err := e.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if err := (Config{K: -3}).Validate(); err == nil {
		t.Error("Config K -3 accepted")
	}
}
