package probe

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/disiam/disiam/augment"
	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/dataset"
	"github.com/disiam/disiam/eval"
	"github.com/disiam/disiam/knn"
)

// TestEvaluator runs the probe on a narrow ResNet-18's features of the
// synthetic shapes: the metrics are those of Fit on the same features, the
// names are linear_top1 and linear_top5, and a bad configuration is an
// error naming the problem.
func TestEvaluator(t *testing.T) {
	cfg := dataset.SyntheticConfig{Train: 80, Test: 40, Size: 16, Seed: 3}
	train, test := dataset.Synthetic(cfg, dataset.Train), dataset.Synthetic(cfg, dataset.Test)
	b, err := backbone.New("resnet18", backbone.Config{Width: 8, Classes: 10, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	var stages []string
	e := &Evaluator{Train: train, Test: test, BatchSize: 32, Norm: augment.Normalize{Mean: []float32{0.5}, Std: []float32{0.25}},
		Progress: func(stage string, done, total int) {
			if done == total {
				stages = append(stages, stage)
			}
		}}
	defer e.Close()
	var ev eval.Evaluator = e
	ms, err := ev.Evaluate(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	if got := ms.Names(); !slices.Equal(got, []string{MetricTop1, MetricTop5}) || !ms[0].Percent {
		t.Fatalf("metrics %v", ms)
	}
	if !slices.Equal(stages, []string{"train", "test"}) {
		t.Errorf("progress stages %v", stages)
	}
	ex := &knn.Extractor{BatchSize: 32, Mean: []float32{0.5}, Std: []float32{0.25}}
	defer ex.Close()
	xtr, dim, err := ex.Extract(b, train)
	if err != nil {
		t.Fatal(err)
	}
	xte, _, err := ex.Extract(b, test)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Fit(context.Background(), xtr, dim, knn.Labels(train), 10, Config{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.Evaluate(xte, knn.Labels(test))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%v on random features (%d iterations)", ms, c.Iterations)
	if v, _ := ms.Get(MetricTop1); v != r.Top1 {
		t.Errorf("Evaluate top-1 %v, Fit on extracted features %v", v, r.Top1)
	}
	if r.Top1 <= 0.1 {
		t.Errorf("top-1 %v is not above chance", r.Top1)
	}

	bad := &Evaluator{Train: train, Test: dataset.Synthetic(cfg, dataset.Test)}
	bad.Test = dataset.NewSubset(bad.Test, []int{0, 1})
	bad.Train = nil
	if _, err := bad.Evaluate(context.Background(), b); err == nil || !strings.Contains(err.Error(), "needs Train and Test") {
		t.Errorf("missing Train: %v", err)
	}
}
