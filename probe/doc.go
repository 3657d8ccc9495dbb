// Package probe measures learned representations with the linear probe,
// the second standard protocol of the self-supervised learning literature
// next to the weighted kNN classifier of package knn: a linear classifier
// trained on the frozen features of the training images and scored on the
// test images (top-1, top-5 and per-class accuracy).
//
// # The recipe
//
// The features are extracted once, in Eval mode, with knn.Extractor (the
// same batches, resizing and per-channel standardization as the kNN
// evaluation). Because nothing is augmented, the probe is a convex
// problem: L2-regularized multinomial logistic regression,
//
//	minimize  (1/n) Σᵢ [log Σₖ exp(zᵢₖ) − zᵢ,yᵢ] + λ/2·‖W‖²,   zᵢ = W·x̂ᵢ + b,
//
// with the biases b not penalized. It has one optimum, which the package
// finds with full-batch L-BFGS (gonum/optimize) from zero weights, to a
// gradient of 1e-6 or 1000 iterations. This is the protocol of CLIP's and
// scikit-learn's linear probes (LogisticRegression with L-BFGS) rather than
// the SGD-with-momentum-and-cosine-schedule recipe that SimSiam and
// solo-learn use for a probe trained on augmented images: on fixed
// features SGD only approximates the same optimum, at the price of a
// learning rate, a batch size, an epoch count and a random batch order,
// while L-BFGS reaches it to rounding in tens to hundreds of iterations,
// needs no seed and can be checked against any other solver. The optimum
// agrees with PyTorch's float64 L-BFGS optimum of the same objective to
// about 1e-7 in the weights and 1e-15 in the loss (testdata/reference.json,
// from testdata/gen_reference.py).
//
// x̂ is the normalized feature vector. The default, Standardize, subtracts
// the training mean and divides by the training standard deviation per
// feature (scikit-learn's StandardScaler): backbone features come in very
// different per-dimension scales (BatchNorm'd and ReLU'd channels, or an
// EfficientNet's), which would otherwise make the one penalty λ mean
// something different for every dimension and slow L-BFGS through a badly
// conditioned Hessian. Standardized, the probe does not depend on the
// features' per-dimension scale at all. L2 normalization (the kNN
// protocol's cosine geometry) and None are available as Config.Normalize.
//
// λ defaults to 1e-4 (in this mean-loss form; scikit-learn's C = 1 is
// λ = 1/n). Config.Lambdas chooses among candidates instead: each is fitted
// on a seeded random 80% of the training rows and scored on the other 20%;
// the best is refitted on all rows (CLIP sweeps C the same way).
//
// # Layers of the API
//
// Fit trains a Classifier on a row-major float32 feature matrix, and
// Classifier.Evaluate scores it on another: the offline use on features
// saved by examples/embed or any other program. Result holds the
// accuracies as fractions; Result.Metrics names them "linear_top1" and
// "linear_top5" (eval.Metrics with Percent set).
//
// Evaluator implements eval.Evaluator: set Train, Test, the extraction
// options and the Config once, and call Evaluate(ctx, backbone) every N
// epochs during training or once for a loaded backbone; Measure returns
// the full Result with per-class accuracies. It leaves the backbone in
// Eval mode.
//
// # Reproducibility and cost
//
// Everything is computed in float64. The loss and gradient are summed over
// fixed chunks of rows (at most 32, of at least 256 rows; one matrix
// product each through internal/linalg) in chunk order, so the fitted
// weights are bit-identical for any number of goroutines. One L-BFGS
// iteration costs about two products of the feature matrix with the
// classes×dim weights, about 0.1 s for 50,000×512 features and 10 classes
// on two cores; the normalized features are held in float64 (8 bytes per
// value).
package probe
