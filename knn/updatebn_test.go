package knn

import (
	"math"
	"reflect"
	"slices"
	"testing"

	"github.com/disiam/disiam/backbone"
)

// bnState is every BatchNorm's running mean and variance, in order.
func bnState(b backbone.BatchNormer) [][]float32 {
	var out [][]float32
	for _, l := range b.BatchNorms() {
		out = append(out, slices.Clone(l.RunningMean.Data()), slices.Clone(l.RunningVar.Data()))
	}
	return out
}

// subset returns images lo..hi-1 of s.
func subset(s *imageSet, lo, hi int) *imageSet {
	return &imageSet{imgs: s.imgs[lo:hi], labels: s.labels[lo:hi], classes: s.classes}
}

// TestUpdateBatchNorm checks UpdateBatchNorm against its definition on
// ResNet and EfficientNet (with stochastic depth): the statistics after
// batches A and B are the average of those after A alone and after B
// alone (every BatchNorm normalizes with batch statistics, so a batch's
// statistics do not depend on the running ones), a short last batch is
// skipped, a second call gives the same bits (no random state advances),
// the eval-mode features change, and restore puts the old statistics
// back.
func TestUpdateBatchNorm(t *testing.T) {
	for _, name := range []string{"resnet18-cifar-w4", "efficientnet_b0-x0.25"} {
		t.Run(name, func(t *testing.T) {
			b, err := backbone.New(name, backbone.Config{Seed: 3})
			if err != nil {
				t.Fatal(err)
			}
			bn := b.(backbone.BatchNormer)
			ds := ruleImages("x", 20, 3, 16, 16, 2)
			e := &Extractor{BatchSize: 8}
			defer e.Close()
			before := bnState(bn)
			f0, _, err := e.Extract(b, ds)
			if err != nil {
				t.Fatal(err)
			}
			stateOf := func(ds *imageSet) [][]float32 {
				t.Helper()
				restore, err := e.UpdateBatchNorm(b, ds)
				if err != nil {
					t.Fatal(err)
				}
				s := bnState(bn)
				for _, l := range bn.BatchNorms() {
					if l.Training {
						t.Fatalf("%s left in Train mode", l.RunningMean.Name)
					}
					if l.Config.Momentum != 0.1 {
						t.Fatalf("%s: momentum %v", l.RunningMean.Name, l.Config.Momentum)
					}
					if got := l.NumBatchesTracked.Value.Data().([]int64)[0]; got != int64(ds.Len()/8) {
						t.Fatalf("%s: num_batches_tracked %d after %d images", l.RunningMean.Name, got, ds.Len())
					}
				}
				restore()
				if !slices.EqualFunc(bnState(bn), before, slices.Equal) {
					t.Fatal("restore did not put back the statistics")
				}
				return s
			}
			all := stateOf(ds) // 20 images: batches 0-7 and 8-15, 16-19 skipped
			a, bb := stateOf(subset(ds, 0, 8)), stateOf(subset(ds, 8, 16))
			if !slices.EqualFunc(stateOf(subset(ds, 0, 16)), all, slices.Equal) {
				t.Error("the short last batch changed the statistics")
			}
			if !slices.EqualFunc(stateOf(ds), all, slices.Equal) {
				t.Error("a second call gave other statistics")
			}
			worst := 0.0
			for i := range all {
				for j := range all[i] {
					want := (float64(a[i][j]) + float64(bb[i][j])) / 2
					worst = max(worst, math.Abs(float64(all[i][j])-want)/(math.Abs(want)+1e-6))
				}
			}
			if worst > 1e-5 {
				t.Errorf("statistics of A and B differ from the mean of A's and B's by %.3g (relative)", worst)
			}
			if slices.EqualFunc(all, before, slices.Equal) {
				t.Fatal("statistics unchanged")
			}
			restore, err := e.UpdateBatchNorm(b, ds)
			if err != nil {
				t.Fatal(err)
			}
			f1, _, err := e.Extract(b, ds)
			if err != nil {
				t.Fatal(err)
			}
			if slices.Equal(f0, f1) {
				t.Error("the features did not change with the statistics")
			}
			restore()
			f2, _, err := e.Extract(b, ds)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(f0, f2) {
				t.Error("the features differ after restore")
			}
		})
	}
}

func TestUpdateBatchNormErrors(t *testing.T) {
	e := &Extractor{}
	if _, err := e.UpdateBatchNorm(identityNet{3, 4, 4}, ruleImages("x", 4, 3, 4, 4, 2)); err == nil {
		t.Error("a backbone without BatchNorm: no error")
	}
	b, err := backbone.New("resnet18-cifar-w4", backbone.Config{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.UpdateBatchNorm(b, &imageSet{classes: 1}); err == nil {
		t.Error("empty dataset: no error")
	}
}

// TestEvaluatorUpdateBN checks that Evaluator.UpdateBN measures what a
// measurement after UpdateBatchNorm measures, which for a fresh
// EfficientNet differs from the measurement with its own statistics, and
// leaves the backbone's statistics as they were.
func TestEvaluatorUpdateBN(t *testing.T) {
	b, err := backbone.New("efficientnet_b0-x0.25", backbone.Config{Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	bn := b.(backbone.BatchNormer)
	before := bnState(bn)
	train, test := ruleImages("bank", 40, 3, 16, 16, 4), ruleImages("query", 40, 3, 16, 16, 4)
	e := &Evaluator{Train: train, Test: test, K: 5, BatchSize: 8}
	defer e.Close()
	measure := func(update bool) Result {
		t.Helper()
		e.UpdateBN = update
		r, err := e.Measure(t.Context(), b)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	own, updated := measure(false), measure(true)
	if !slices.EqualFunc(bnState(bn), before, slices.Equal) {
		t.Fatal("UpdateBN changed the backbone's statistics")
	}
	restore, err := e.ex.UpdateBatchNorm(b, train)
	if err != nil {
		t.Fatal(err)
	}
	manual := measure(false)
	restore()
	if !reflect.DeepEqual(updated, manual) {
		t.Errorf("UpdateBN measured %v, after UpdateBatchNorm %v", updated, manual)
	}
	if reflect.DeepEqual(own, updated) {
		t.Errorf("UpdateBN measured what the own statistics do: %v", own)
	}
	t.Logf("own statistics %v; re-estimated %v", own, updated)
}
