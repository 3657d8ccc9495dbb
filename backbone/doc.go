// Package backbone provides the image encoders of the thesis exactly as
// torchvision 0.14 builds them: ResNet-18, 34, 50, 101 and 152 and
// EfficientNet-B0 to B7, with torchvision's parameter names, shapes,
// BatchNorm settings, dropout, stochastic depth and initialization, so that
// weights move between PyTorch and disiam by name and the same weights give
// the same outputs.
//
// # Building
//
//	b, err := backbone.New("resnet18", backbone.Config{Seed: 1})
//
// Names lists the architectures (torchvision's function names); New
// returns an error for any other name. NewResNet and NewEfficientNet return
// the concrete types, whose exported fields are the layers (for surgery such
// as freezing or changing a dropout probability). A Config's zero value is
// torchvision's default: a 1000-class classifier (so nn.CountParams gives
// thesis Table 4.1) initialized by torchvision's scheme for the family
// (weightinit.ResNet or weightinit.EfficientNet), drawn from Config.Seed.
// Config.NoInit skips the initialization, for loading weights right after.
//
// # Architectures
//
// ResNet keeps the ImageNet stem (7x7 stride-2 convolution, max-pool) at
// every input size, as the thesis does at 32x32 (Section 4.5); the name
// suffix -cifar (Config.CIFARStem) selects instead the CIFAR stem of
// lightly's and solo-learn's CIFAR-10 benchmarks, a 3x3 stride-1 conv1
// and no max-pool ("resnet18-cifar", "resnet18-cifar-w16"), which keeps
// 4x4 maps at layer4 of a 32x32 image instead of 1x1; blocks are
// BasicBlock (18, 34) or Bottleneck (50, 101, 152, stride on the 3x3
// convolution as in torchvision). EfficientNet-Bk scales B0's seven MBConv
// stages by torchvision's width and depth multipliers (1.0/1.0, 1.0/1.1,
// 1.1/1.2, 1.2/1.4, 1.4/1.8, 1.6/2.2, 1.8/2.6, 2.0/3.1), rounding widths
// with _make_divisible(·, 8) and depths up; blocks use depthwise
// convolutions, squeeze-and-excitation with max(1, in/4) channels, SiLU,
// and stochastic depth with probability 0.2·k/K for block k of K; the
// classifier's dropout is 0.2, 0.2, 0.3, 0.3, 0.4, 0.4, 0.5, 0.5 for B0..B7;
// B5-B7 use BatchNorm eps 1e-3 and momentum 0.01 as torchvision does.
//
// # Using a backbone
//
// Backbone methods add nodes to the graph of their input x, [N, 3, H, W]
// float32 NCHW, any H and W (32x32 CIFAR, 224x224, 360x640 driving frames):
// Features gives the pooled representation [N, FeatureDim] that SSL heads
// and kNN use, Classify the logits from it, FeatureMaps the maps at strides
// 8, 16 and 32 for a detector's FPN (ResNet C3-C5; EfficientNet the
// outputs of features.3, .5 and .7). Features and FeatureMaps on the same
// input node share one trunk, as does StageOutputs (interface Staged),
// which returns every stage's output (ResNet's stem and layer1..4,
// EfficientNet's features.0..8) for looking inside the network. Graphs
// built without Classify never touch the classifier's parameters, which
// then get no gradient.
//
// # Modes
//
// A backbone starts in Train mode: BatchNorm normalizes with the batch's
// statistics and updates its running statistics, stochastic depth and
// dropout are active. SetTraining(false) selects Eval mode (running
// statistics, no dropout). Modes are read each time a compiled graph runs,
// so one graph serves both. BatchNorms (on the concrete types) lists the
// BatchNorm layers, e.g. to use batch statistics with stochastic depth off.
//
// # Weights
//
// Params lists parameters and buffers in torchvision's state_dict order
// under its keys ("layer1.0.conv1.weight", "features.1.0.block.0.0.weight",
// "bn1.running_mean", ...), so package safetensors saves a backbone to a
// file that torchvision's load_state_dict(strict=True) accepts and loads
// files written from torchvision models, including ImageNet-pretrained
// ones (the thesis' "PyTorch Weights" baseline):
//
//	err := safetensors.LoadModule("resnet18.safetensors", b)
//
// A torchvision checkpoint becomes such a file with the Python safetensors
// package:
//
//	import torchvision
//	from safetensors.torch import save_file
//	m = torchvision.models.resnet18(weights="IMAGENET1K_V1")
//	save_file(m.state_dict(), "resnet18.safetensors")
//
// (or, without that package, write_safetensors of the repository's
// backbone/testdata/export_safetensors.py).
// ImageNet weights expect inputs standardized with augment.ImageNetNorm.
//
// Parameters own their storage: loading copies into it, optimizers update
// it in place, and graphs built earlier see the new values.
//
// # Reproducibility
//
// The initialization and the dropout and stochastic-depth masks are drawn
// from Config.Seed (per layer, independent of the goroutine count); the
// masks advance with each run (see package nn).
//
// # Verification
//
// The tests check, against torchvision: every state_dict name, shape and
// dtype and the parameter counts of all 13 architectures and of narrow and
// CIFAR-stem ResNets; BatchNorm,
// dropout and stochastic-depth settings; the mean and standard deviation of
// the default initialization; eval-mode features and logits (≤ 1e-4
// relative) and batch-statistics features (≤ 5e-3) of ResNet-18 (32x32,
// 40x56, 360x640), ResNet-50, EfficientNet-B0, B3 and B5 on the golden-rule
// weights;
// gradients of ResNet-18 and EfficientNet-B0; and a weight exchange with
// PyTorch in both directions (ResNet-18 also with the CIFAR stem).
package backbone
