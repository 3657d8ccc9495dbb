// Package disiam is a library for self-supervised learning (SSL) of image
// representations with lightweight backbones, for perception in autonomous
// driving. It implements the methods compared in the master's thesis
// "Self-Supervised Learning for Efficient 3D Object Detection in Autonomous
// Driving" — SimCLR, BYOL, SimSiam, FastSiam, DYOL and the thesis' own
// DiSiam and DiSiam+, plus chaining of methods — on gorgonia, with the
// numbers of PyTorch/torchvision.
//
// The packages, bottom up:
//
//   - nn: layers and custom gorgonia ops (convolution with groups,
//     BatchNorm with saved running statistics, stop-gradient, …), fast on
//     CPUs, float32 NCHW, PyTorch state_dict names.
//   - backbone: ResNet-18/34/50/101/152 and EfficientNet-B0..B7 exactly as
//     torchvision builds them, behind the Backbone interface.
//   - init (package weightinit): Kaiming He initialization with fan mode
//     and gain ratio, Xavier, and torchvision's default schemes.
//   - safetensors: weights in and out of PyTorch.
//   - dataset: CIFAR-10/100, MNIST/Fashion-MNIST (IDX), image folders and
//     an embedded synthetic set, and a parallel multi-view batch loader.
//   - augment: torchvision's augmentations and the papers' view recipes.
//   - optim: SGD, LARS and learning-rate schedules with PyTorch semantics.
//   - train: the one training loop (stages, objectives, evaluation,
//     metrics, checkpoints with the run's identity, exact resume, hooks).
//   - eval: named metrics and the encoder Evaluator interface.
//   - knn: the weighted kNN evaluator (k = 200, τ = 0.1).
//   - probe: the linear probe on frozen features.
//   - analysis: TriMap, PCA, class densities, collapse diagnostics.
//   - ssl: losses, projection/prediction heads, methods, the SSL trainer
//     and chaining, on train.
//   - detect: FCOS detection, camera geometry, COCO and nuScenes metrics,
//     synthetic detection data (subpackages coco, nuscenes, kitti, synth).
//   - report: statistics over seeds, Markdown tables and gonum/plot
//     figures (accuracy curves with confidence bands, grouped bars) for
//     reporting a study, as the examples do.
//   - examples: runnable programs, one per experiment of the thesis.
//
// Build tags: the default build is pure Go. -tags openblas links Debian's
// libopenblas (apt-get install libopenblas-dev) for about ten times faster
// matrix products.
package disiam
