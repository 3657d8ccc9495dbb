// Package knn measures learned representations with the weighted
// k-nearest-neighbour classifier of the self-supervised learning
// literature, the evaluation protocol of thesis Section 4.4 (k = 200,
// τ = 0.1, top-1 and top-5 accuracy).
//
// # The rule
//
// It is the rule of InstDisc (Wu et al., 2018), used by SimSiam's and
// lightly's benchmarks (lightly's knn_predict) and by the thesis:
//
//  1. L2-normalize every bank and query feature
//     (torch.nn.functional.normalize: x / max(‖x‖₂, 1e-12)).
//  2. For each query, take the K bank rows with the largest cosine
//     similarity s (torch.topk).
//  3. Weight each neighbour by exp(s/τ) and sum the weights per class.
//  4. Rank the classes by their sums: the first is the prediction; top-5
//     accuracy asks whether the label is among the first five.
//
// Config holds K and τ; its zero value means the thesis' k = 200, τ = 0.1.
// A K larger than the bank uses the whole bank. Ties are broken
// deterministically: equal similarities rank by bank index and equal class
// scores by class index, lowest first (PyTorch leaves both unspecified).
//
// # Layers of the API
//
// Classifier works on feature matrices: NewClassifier takes the bank as a
// row-major float32 matrix (n×dim) with its labels, and Scores, Predict,
// Neighbours and Evaluate take queries in the same layout. Evaluate is the
// one-call form. Result holds top-1, top-5 and per-class accuracies as
// fractions (Result.String prints percentages, as the thesis reports).
//
// Extractor turns a backbone.Backbone and a dataset.Dataset into such a
// matrix: the pooled features (or, with Logits, the classifier's output) of
// every image, computed in Eval mode in batches of a fixed size, with
// optional resizing (bilinear, align_corners=False, as the thesis'
// 224×224 evaluation of ImageNet weights) and per-channel standardization
// (Mean, Std: pass the constants the backbone was trained with, e.g.
// CIFAR-10's or ImageNet's).
//
// Evaluator combines both: set Train (the bank), Test (the queries), K,
// τ and the extraction options once, then call Evaluate(backbone) every N
// epochs during training, or once for a backbone loaded from a checkpoint.
// The thesis (Section 4.4: k = 200, τ = 0.1) reports the maximum top-1
// over training, not the last epoch's, as lightly's benchmark module does;
// the caller keeps that maximum.
//
// # Modes and buffers
//
// Extraction sets the backbone to Eval mode (BatchNorm uses its running
// statistics, dropout and stochastic depth are off) and leaves it there:
// a training loop calls SetTraining(true) before its next step. Extractor
// and Evaluator keep the compiled graph of the last backbone and input
// shape between calls (the graph reads the parameters in place, so weight
// updates are seen); Close releases it. Functions and methods never modify
// the slices passed to them; returned slices belong to the caller.
//
// # BatchNorm statistics
//
// A network is measured with the running statistics it has. Those of a
// random initialization (mean 0, variance 1) and of the first training
// steps (momentum 0.1 keeps 0.9^t of the initial variance after t steps)
// can be far from the data's; for EfficientNet's depthwise layers at small
// inputs by orders of magnitude, enough to change the measurement by tens
// of points. Extractor.UpdateBatchNorm re-estimates them from a dataset,
// as PyTorch's torch.optim.swa_utils.update_bn (fvcore's PreciseBN) does:
// statistics reset, the BatchNorm layers alone in Train mode over the
// dataset, every batch weighing equally, and it returns the function that
// puts the old ones back. Evaluator.UpdateBN measures that way on its bank
// and restores the backbone's statistics afterwards, so a measurement in
// the middle of training changes nothing.
//
// # Speed and memory
//
// The similarity matrix is never held whole. Each worker of
// internal/parallel takes a block of up to 512 queries, multiplies it by the
// bank 1024 rows at a time with one linalg.Gemm call (linalg's native
// AVX2/FMA kernel in the default build, OpenBLAS with -tags openblas) and
// streams every row of similarities through a bounded top-K selection: a
// threshold scan (AVX2 on amd64) that appends the few candidates above the
// current K-th best to a buffer of 2K entries, compacted by quickselect when
// full. Nothing is fully sorted unless Neighbours asks for the order. Memory
// beyond the bank is about 32 MiB per worker at most (the query block
// shrinks for very large K), whatever the number of queries. On the 2-core
// benchmark machine this classifies 10,000 queries against a 50,000×512 bank
// (k = 200) faster than PyTorch does: see bench/knn.md and
// BenchmarkEvaluate.
//
// # Precision and reproducibility
//
// Neighbours are selected on float32 similarities; the selected ones are
// then recomputed with float64 accumulation and the weights exp(s/τ) and
// class sums are formed in float64. Float32 accumulation over the feature
// width leaves errors of a few ulps on s, which 1/τ = 10 amplifies to
// about 1e-6 relative on the scores; rescored, the scores agree with
// PyTorch's float64 computation to about 2e-7 (the golden test,
// testdata/knn.json, requires 1e-6 and identical top-5). Only neighbours
// whose float32 similarities tie the K-th within rounding can be chosen
// differently from an exact computation. Block boundaries depend only on
// the sizes, so results are bit-identical for any number of workers.
package knn
