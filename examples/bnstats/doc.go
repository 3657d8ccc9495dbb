// Command bnstats looks inside randomly initialized (or loaded) backbones
// at their BatchNorm running statistics. For each backbone it measures the
// kNN top-1 accuracy (k = 200, τ = 0.1), the collapse measure of the
// pooled features and the eval-mode activation statistics of every stage
// (backbone.Staged):
//
//   - with fresh running statistics (mean 0, variance 1), as a new
//     PyTorch model has them;
//   - after each count of -passes train-mode forward passes over the bank
//     images without any weight change (BatchNorm uses the batch's
//     statistics and moves its running statistics towards them; stochastic
//     depth and dropout are on, as in PyTorch's model.train());
//   - after the same passes with the running statistics bias-corrected:
//     after t updates with momentum m a running statistic still holds
//     (1-m)^t of its initial value (0 for the mean, 1 for the variance);
//     the correction removes that term and divides by 1-(1-m)^t, as Adam
//     corrects its moment estimates, leaving the average of the batch
//     statistics alone;
//
// and prints the median running variance of each stage's BatchNorm layers,
// for an EfficientNet the depthwise convolutions' apart from the others.
//
// Usage:
//
//	go run ./examples/bnstats
//	go run ./examples/bnstats -passes 31,300 -backbones efficientnet_b0,resnet18
//	go run ./examples/bnstats -backbones efficientnet_b0-x0.25 -weights quickstart-out/encoder.safetensors
//	go run ./examples/bnstats -data cifar10:/data/cifar-10-batches-bin
//
// # What it shows
//
// Measured with torchvision, a randomly initialized EfficientNet-B0 on
// 32×32 CIFAR-10-like images gives kNN top-1 23.7% with fresh statistics
// and 8.0% after 31 train-mode passes, its eval-mode features constant;
// ResNet-18 goes from 27.3% to 25.3%. disiam reproduces it (Fashion-MNIST
// resized to 32×32, bank 1,000, queries 500, seed 1, `-passes 31,300`):
//
//	EfficientNet-B0        kNN top-1  collapse  head rel. std
//	fresh statistics          49.6%     0.13      0.74
//	31 passes                 12.0%     0.0000    1.8e-07
//	31 passes, corrected      23.2%     0.77      0.86
//	300 passes                22.4%     0.76      0.86
//
// The cause is the running variance of the depthwise convolutions'
// BatchNorms. torchvision initializes convolutions with
// kaiming_normal_(mode="fan_out"), and PyTorch counts the fan-out of a
// depthwise weight [C, 1, k, k] as C·k², so a depthwise output has about
// 2·taps/(C·k²) of its input's variance, where taps are the kernel
// positions that see the map: 2/C on large maps and 2/(C·k²) at the 1×1
// maps that features.6 and .7 have at 32×32 (only the kernel's centre
// sees data). The converged running variances (300 passes) are 0.009 at
// features.1 (16×16, C = 32), 1.5e-4 at features.5 (2×2, C = 672) and
// 1.1e-5 at features.6 (1×1, C = 1152), against 0.3-1.5 for the other
// BatchNorms. After 31 passes every depthwise running variance is still
// 0.038-0.047, the 0.9^31 = 0.038 left of its initial 1: eval mode divides
// the depthwise outputs by a standard deviation 2-60 times too large, the
// running means leave constant offsets, and over 16 blocks the
// between-image spread of the activations, relative to their size, falls
// from 0.7 to 1e-7 (per stage: features.2 0.18, .3 0.034, .4 0.0027,
// .5 1e-4, .6 2.7e-6, .7 9.4e-8). The bias-corrected statistics after 31
// passes reproduce the 300-pass network exactly, so the initial value held
// in the running variance is the whole effect; squeeze-and-excitation has
// no statistics and computes the same in both modes. Train mode is not
// affected: a training run's loss looks normal while its eval-mode kNN
// accuracy collapses for the first ~150 optimizer steps (0.9^150 = 1e-7,
// below the 1e-5 of the 1×1 stages). ResNets have no depthwise
// convolutions and BatchNorm inputs of variance about 1.
//
// testdata/torch_bnstats.py makes the same measurement in torchvision
// itself, per BatchNorm: after 31 passes the depthwise BatchNorm of
// features.6.1 sees a train-mode input variance of 9.8e-6 and holds a
// running_var of 0.0382, and its eval-mode input variance is 8.6e-18.
//
// The fresh-statistics accuracy is not a sound baseline either: with
// running variance 1 every BatchNorm is nearly the identity, the
// activations shrink by 10-100 per stage and SiLU, about x/2 near 0, is
// almost linear there, so the fresh EfficientNet is close to a random
// linear projection of the pixels (49.6%); the same weights with
// statistics that follow the data give 22-23%. examples/README.md
// ("Real images at CPU scale") has the per-stage table and what this does
// to SimSiam and DiSiam.
package main
