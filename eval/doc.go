// Package eval names what an evaluation measures and what measures an
// encoder.
//
// A Metrics value is an ordered list of named numbers, such as kNN top-1
// and top-5 accuracy, linear-probe accuracy or a detector's mAP. Training
// loops record them per epoch, write them as CSV or JSON Lines columns and
// watch any one of them with a plateau rule. Accuracies are fractions in
// [0, 1] with Percent set, so that they print as percentages.
//
// An Evaluator measures a backbone's representation: knn.Evaluator (the
// weighted kNN classifier, k = 200, τ = 0.1) and the linear probe
// implement it. Evaluators of whole models (a detector's COCO mAP) measure
// whatever they were built over and plug into the training loop through
// train.Evaluator instead.
//
// Metric names are short, lower case and CSV-friendly: "knn_top1",
// "knn_top5", "linear_top1", "mAP", "mAP50". The names the library's
// evaluators produce are constants of their packages.
package eval
