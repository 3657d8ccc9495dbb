// Package experiment runs the training sweeps of the thesis' Chapter 5
// experiments and reports them; the programs examples/compare,
// examples/ablation and examples/transfer are thin layers over it.
//
// A sweep is a list of Jobs, each one training run: a plan of stages
// (one method, or a chain), the online and assistant backbones, the batch
// size, learning rate and seed. Every job is labelled with a Group and a
// Series, the two axes of the thesis' figures and tables: in the method
// comparison the group is the backbone and the series the method (thesis
// Figure 5.11: one cluster of bars per backbone, one bar per method), in
// an ablation the group is the setting varied (batch size 256, learning
// rate 0.06, ...) and the series the method.
//
// # Measurements
//
// Each job trains with ssl.Trainer and measures the online encoder with
// the weighted kNN classifier (k = 200, τ = 0.1, thesis Section 4.4) on
// the query images, the training images forming the bank: at the start
// (the random initialization) and every EvalEvery epochs. A Result keeps
// the whole curve, its maximum (what the thesis reports, as lightly's
// benchmark module does) with its epoch, and the final value. A run whose loss diverges keeps
// what it measured before, with a note; other errors stop the sweep.
//
// # Outputs
//
// Sweep.Run writes, in the output folder: runs.csv (one row per run,
// written as each run ends, so an interrupted sweep keeps its runs),
// curves.csv (one row per kNN measurement of every run) and runs.json
// (the configuration and every result with its curve). The Grid methods
// turn results into the thesis' shapes: per-group tables of max kNN top-1
// mean ± std over seeds with a random-initialization row (Table 5.4), a
// setting × method matrix with the best two bold, the standard deviation
// per method averaged over settings (Figures 5.17b, 5.18b, 5.26b), grouped
// bar plots with 95% confidence error bars and accuracy-over-epochs plots
// with 95% confidence bands (Figures 5.11, 5.12).
//
// # Reproducibility
//
// A job's numbers depend only on its fields, the data and the Options:
// the networks are initialized from the job's seed (see package runner),
// the Trainer draws the augmentations from it, and the kernels are
// deterministic whatever the number of cores.
package experiment
