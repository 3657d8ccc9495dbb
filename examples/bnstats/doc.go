// Command bnstats looks inside randomly initialized backbones at the
// BatchNorm running statistics: it measures the kNN top-1 accuracy and
// the eval-mode activation statistics of every stage with fresh running
// statistics (mean 0, variance 1), after a number of train-mode forward
// passes without any weight change (the running statistics move towards
// the batches'), and after the same passes with the running statistics
// bias-corrected, and prints the median running variance of each stage's
// BatchNorm layers (for an EfficientNet, of the depthwise convolutions'
// apart from the others).
//
// Usage:
//
//	go run ./examples/bnstats
//	go run ./examples/bnstats -passes 31,300 -backbones efficientnet_b0,resnet18
//	go run ./examples/bnstats -data cifar10:/data/cifar-10-batches-bin
package main
