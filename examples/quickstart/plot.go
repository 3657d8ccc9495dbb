package main

import (
	"fmt"

	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/examples/internal/runner"
	"github.com/disiam/disiam/knn"
	"github.com/disiam/disiam/report"
	"github.com/disiam/disiam/ssl"
	"github.com/disiam/disiam/train"
)

// plotKNN writes the kNN top-1 accuracy after every epoch (epoch 0: the
// random initialization) with the random-initialization level and chance
// as horizontal references.
func plotKNN(path string, h *train.History, m ssl.Method, c config, classes int) error {
	curve := report.Band{Label: fmt.Sprintf("%s, online encoder", methodTitle(m.Name()))}
	for _, e := range h.Evaluations {
		curve.X = append(curve.X, float64(e.Epoch))
		curve.Mean = append(curve.Mean, top1(e))
		curve.CI = append(curve.CI, 0)
	}
	init, _ := h.Initial()
	last := float64(h.Evaluations[len(h.Evaluations)-1].Epoch)
	base := report.Band{Label: "random initialization", X: []float64{0, last}, Mean: []float64{top1(init), top1(init)}, CI: []float64{0, 0}}
	views := ""
	if c.views == runner.AugmentShapes {
		views = " (outlines)"
	}
	return report.Curves(path, report.Figure{
		Title:  fmt.Sprintf("quickstart: %s on %s%s, %s, seed %d", methodTitle(m.Name()), c.data, views, backbone.Title(m.Encoder().Name()), c.seed),
		XLabel: "epoch",
		Chance: 1 / float64(classes),
	}, []report.Band{curve, base})
}

// top1 and top5 return an evaluation's kNN accuracies.
func top1(e train.Evaluation) float64 { return e.Metrics.Value(knn.MetricTop1) }
func top5(e train.Evaluation) float64 { return e.Metrics.Value(knn.MetricTop5) }
