package eval

import (
	"context"
	"testing"

	"github.com/disiam/disiam/backbone"
)

func TestMetrics(t *testing.T) {
	ms := Metrics{{Name: "knn_top1", Value: 0.587, Percent: true}, {Name: "loss", Value: -0.81641}}
	if got, want := ms.String(), "knn_top1 58.70%  loss -0.8164"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	if v, ok := ms.Get("loss"); !ok || v != -0.81641 {
		t.Errorf("Get(loss) = %v, %v", v, ok)
	}
	if _, ok := ms.Get("mAP"); ok {
		t.Error("Get(mAP) found a metric that is not there")
	}
}

func TestAll(t *testing.T) {
	one := func(name string) Evaluator {
		return Func(func(context.Context, backbone.Backbone) (Metrics, error) {
			return Metrics{{Name: name, Value: 1}}, nil
		})
	}
	ms, err := All{one("a"), one("b")}.Evaluate(context.Background(), nil)
	if err != nil || len(ms) != 2 || ms[1].Name != "b" {
		t.Fatalf("All = %v, %v", ms, err)
	}
	if _, err := (All{one("a"), one("a")}).Evaluate(context.Background(), nil); err == nil {
		t.Error("All accepted two metrics of the same name")
	}
}
