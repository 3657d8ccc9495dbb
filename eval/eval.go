package eval

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/disiam/disiam/backbone"
)

// Metric is one measured value.
type Metric struct {
	// Name identifies the metric ("knn_top1"); see the package doc.
	Name string
	// Value is the measurement; a fraction in [0, 1] for accuracies.
	Value float64
	// Percent prints Value·100 with a percent sign.
	Percent bool
}

// String formats the metric as "name value", e.g. "knn_top1 58.70%".
func (m Metric) String() string {
	if m.Percent {
		return fmt.Sprintf("%s %.2f%%", m.Name, 100*m.Value)
	}
	return fmt.Sprintf("%s %.4g", m.Name, m.Value)
}

// Metrics is the ordered result of one evaluation.
type Metrics []Metric

// Get returns the value of the metric called name.
func (ms Metrics) Get(name string) (float64, bool) {
	for _, m := range ms {
		if m.Name == name {
			return m.Value, true
		}
	}
	return 0, false
}

// Names returns the metrics' names in order.
func (ms Metrics) Names() []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Name
	}
	return out
}

// String joins the metrics' String forms with two spaces.
func (ms Metrics) String() string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.String()
	}
	return strings.Join(parts, "  ")
}

// Evaluator measures an encoder's representation. Evaluate may leave the
// backbone in Eval mode: a training loop switches it back. Cancelling ctx
// stops a long evaluation with ctx's error.
type Evaluator interface {
	Evaluate(ctx context.Context, encoder backbone.Backbone) (Metrics, error)
}

// Func adapts a function to Evaluator.
type Func func(ctx context.Context, encoder backbone.Backbone) (Metrics, error)

// Evaluate calls f.
func (f Func) Evaluate(ctx context.Context, encoder backbone.Backbone) (Metrics, error) {
	return f(ctx, encoder)
}

// All runs several evaluators in order and concatenates their metrics; a
// name that two of them produce is an error.
type All []Evaluator

// Evaluate runs every evaluator of a.
func (a All) Evaluate(ctx context.Context, encoder backbone.Backbone) (Metrics, error) {
	var out Metrics
	seen := map[string]bool{}
	for _, e := range a {
		ms, err := e.Evaluate(ctx, encoder)
		if err != nil {
			return out, err
		}
		for _, m := range ms {
			if seen[m.Name] {
				return out, fmt.Errorf("eval: two evaluators measure %q", m.Name)
			}
			seen[m.Name] = true
		}
		out = append(out, ms...)
	}
	return out, nil
}

// Value returns the value of the metric called name, or NaN when there
// is none.
func (ms Metrics) Value(name string) float64 {
	if v, ok := ms.Get(name); ok {
		return v
	}
	return math.NaN()
}
