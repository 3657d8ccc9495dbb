package knn_test

import (
	"context"
	"fmt"

	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/dataset"
	"github.com/disiam/disiam/knn"
)

// A bank of six 2-D features in three classes, classified with k = 3 and
// τ = 0.1. (PyTorch's float64 computation gives the same scores.)
func Example() {
	bank := []float32{
		1, 0.1, // class 0
		1, -0.1, // class 0
		0.1, 1, // class 1
		-0.1, 1, // class 1
		-1, 0, // class 2
		-1, -0.2, // class 2
	}
	labels := []int{0, 0, 1, 1, 2, 2}
	c, err := knn.NewClassifier(bank, 2, labels, 3, knn.Config{K: 3, Tau: 0.1})
	if err != nil {
		panic(err)
	}
	queries := []float32{
		2, 0.5, // near class 0
		-0.3, 3, // near class 1
		-5, 1, // near class 2
	}
	scores, _ := c.Scores(queries)
	for i := range 3 {
		fmt.Printf("query %d: scores %.1f\n", i, scores[i*3:i*3+3])
	}
	res, err := c.Evaluate(queries, []int{0, 1, 1})
	if err != nil {
		panic(err)
	}
	fmt.Println(res)
	fmt.Println("per class:", res.PerClass, "support:", res.Support)
	// Output:
	// query 0: scores [32056.9 29.3 0.0]
	// query 1: scores [0.0 40096.0 2.7]
	// query 2: scores [0.0 18.7 28345.2]
	// top-1 66.67%  top-5 100.00%  (3 queries)
	// per class: [1 0.5 0] support: [1 2 0]
}

// Evaluating a backbone online, every few epochs of training. The
// evaluator keeps its compiled graph between calls.
func ExampleEvaluator() {
	train, err := dataset.Open("synthetic,train=2000", dataset.Train)
	if err != nil {
		panic(err)
	}
	test, err := dataset.Open("synthetic,test=500", dataset.Test)
	if err != nil {
		panic(err)
	}
	net, err := backbone.New("resnet18", backbone.Config{})
	if err != nil {
		panic(err)
	}
	ev := &knn.Evaluator{Train: train, Test: test, BatchSize: 128}
	defer ev.Close()
	best := 0.0
	for epoch := 1; epoch <= 100; epoch++ {
		// ... one epoch of self-supervised training of net ...
		if epoch%10 == 0 {
			res, err := ev.Measure(context.Background(), net)
			if err != nil {
				panic(err)
			}
			best = max(best, res.Top1)
			net.SetTraining(true)
			fmt.Printf("epoch %d: %v (best top-1 %.2f%%)\n", epoch, res, 100*best)
		}
	}
}
