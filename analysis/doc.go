// Package analysis looks at learned representations beyond their
// accuracy: TriMap pictures with per-class Gaussian densities (the
// figures of thesis Sections 5.1-5.3), the divergences between those
// densities, and diagnostics of dimensional collapse (Section 6.1.1), plus
// the measures that check a 2D picture against the data (trustworthiness,
// kNN accuracy) and PCA.
//
// All functions take representations as row-major float32 matrices (n×dim,
// the layout of knn.Extractor) and return float64 results. Every random
// choice comes from a seed, and all reductions run over fixed chunks in
// fixed order, so results are bit-identical for any number of goroutines.
// Bad input (ragged matrices, non-finite values, labels out of range) is an
// error naming the row.
//
// # TriMap
//
// TriMap (Amid & Warmuth, 2019, "TriMap: Large-scale Dimensionality
// Reduction Using Triplets") embeds points so that sampled triplets keep
// their order: anchor i closer to j than to k. TriMap follows the
// reference implementation (the trimap package, version 1.1) step by step,
// with its defaults:
//
//  1. Inputs wider than 100 are projected onto their first 100 principal
//     components; narrower inputs are rescaled to [0, 1] by their global
//     minimum and maximum and centred.
//  2. Neighbours: the 62 nearest neighbours of every point (12 inliers
//     plus 50), by an exact blocked search (Neighbors). The reference uses
//     approximate search (Annoy or NN-descent) for speed; the exact one
//     takes a few seconds for 10,000 points of 100 dimensions on two
//     cores, so nothing is lost by being exact.
//  3. Scales σᵢ: the mean distance to the 3rd-5th nearest neighbours; the
//     neighbours are re-ranked by the scaled squared distance
//     d²ᵢⱼ/(σᵢσⱼ).
//  4. Triplets: for each of the 12 nearest (re-ranked) neighbours j of i,
//     4 outliers k drawn uniformly among the points other than i and its
//     neighbours up to j, and 3 random triplets per point (two distinct
//     random points, ordered by scaled similarity).
//  5. Weights: the log-similarity margin d²ᵢₖ/(σᵢσₖ) − d²ᵢⱼ/(σᵢσⱼ) (random
//     triplets scaled by 0.1), shifted so that the smallest is 0, and
//     transformed by the tempered log with t = 0.5:
//     w = logₜ(1 + margin) = 2(sqrt(1 + margin) − 1).
//  6. Loss Σ w·dᵢⱼ/(dᵢⱼ + dᵢₖ) with dᵢⱼ = 1 + ‖yᵢ − yⱼ‖², minimized from
//     0.01 times the first two principal components by 400 iterations of
//     delta-bar-delta with momentum: the gradient is taken at y + γ·v
//     (γ = 0.5, 0.8 after iteration 250), a coordinate's gain grows by 0.2
//     when the signs of its velocity and gradient differ and shrinks by
//     the factor 0.8 (at least 0.01) otherwise, v ← γv − η·gain·∇, y ← y + v,
//     with η = 0.1·n/#triplets. The reference's gradient omits the factor
//     2 of the derivative; TriMap uses the exact gradient with half that
//     step, the same iteration.
//
// The random streams are per point (PCG seeded by the seed, the purpose
// and the point index), so sampling runs in parallel; the gradient is
// accumulated per fixed chunk of anchors. Measured on the shared two-core
// machine under a load average of about 14 (other users' jobs): 10,000
// Gaussian points of 50 dimensions in 22 s wall time (7 s neighbours,
// 14 s optimization), well under the minute even then. On 1,500
// points of 10 Gaussian classes in 64 dimensions (the test) the 2D
// embedding keeps a 10-NN accuracy of 0.98 (the input's is 0.98; PCA's
// 0.60) and a trustworthiness of 0.90 (PCA 0.75).
//
// # Densities and divergences
//
// KDE is scipy.stats.gaussian_kde for two dimensions: Gaussian kernels
// with Scott's rule (kernel covariance = the points' covariance times
// n^(−1/3)); it agrees with scipy to about 1e-12. ClassDensities fits one
// per class of an embedding and evaluates the log density on a Grid (the
// bounding box of the embedding, padded); EmbeddingFigure draws the
// embedding next to one density panel per class, the thesis' Figures 5.9
// and 5.13. CompareDensities turns each class's density into
// probabilities over the grid cells and returns the pairwise
// Kullback-Leibler, symmetric (Jeffreys: KL(p‖q) + KL(q‖p)) and
// Jensen-Shannon divergences in nats, and their means over class pairs:
// the thesis' similarity numbers for class densities (Section 5.1.4).
// They are formed from log probabilities, so classes far apart give large
// but finite numbers.
//
// # Collapse
//
// Diagnose reports what dimensional collapse (Jing et al., 2022) does to a
// representation: the per-dimension standard deviation of the
// L2-normalized embeddings (SimSiam's check: about 1/sqrt(dim) when the
// embeddings spread over the sphere, 0 when they collapse to a point), the
// singular values of their covariance, largest first (a collapsed
// representation's spectrum falls to rounding noise after a few
// components), and the covariance's effective rank (Roy & Vetterli, 2007:
// exp of the entropy of the normalized singular values; 1 when one
// direction holds all variance, dim when all are equal). SpectrumPlot
// draws the spectra of several encoders.
//
// # Checks of a picture
//
// Trustworthiness (Venna & Kaski; scikit-learn's formula) and KNNAccuracy
// (leave-one-out majority vote) measure how well a 2D embedding keeps the
// neighbourhoods and the classes of the data, so that TriMap's pictures
// can be compared with PCA's (FitPCA, by the eigendecomposition of the
// covariance with gonum's EigenSym) by numbers rather than by eye.
package analysis
