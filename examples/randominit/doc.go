// Command randominit reproduces the random-initialization baseline of
// thesis Section 5.1: how well do the representations of randomly
// initialized backbones classify images with the weighted kNN rule
// (k = 200, τ = 0.1), as a function of the Kaiming gain ratio and fan
// mode? The thesis finds ~36-40% kNN top-1 on CIFAR-10, four times chance,
// near gain ratio 1.
//
// For every backbone, fan mode, gain ratio and seed it initializes every
// convolution and linear weight from N(0, std²), std = ratio·√2/√fan
// (package weightinit's Kaiming scheme: the gain ratio multiplies the
// gain √2, so the thesis' "final gain value 2.12" is ratio 1.5; BatchNorm
// weight 1, bias 0, fresh running statistics), extracts the pooled
// features of a training and a test subset in Eval mode and measures kNN
// top-1 and top-5; with -classifier it also measures the 1000-way
// classifier's logits as the representation (Table 5.2).
//
// Usage:
//
//	go run -tags openblas ./examples/randominit [flags]
//
// The defaults (Fashion-MNIST as 3-channel images, ResNet-18 and
// EfficientNet-B0, gain ratios 0.25 to 2.5 in steps of 0.25, both fan
// modes, seeds 42 and 1337, 2,000 training and 500 test images) take about
// 320 CPU-seconds with -classifier (80 initializations, 4 CPU-seconds
// each on average, measured with -tags openblas): under 3 minutes on 2
// idle cores, about 9 on a busy shared machine. The thesis' full grid on CIFAR-10 (all 13
// backbones, ratios 0.1 to 3.0, six seeds, the whole dataset, with and
// without the classifier) is
//
//	go run -tags openblas ./examples/randominit -data cifar10:/data/cifar-10-batches-bin \
//	    -backbones resnet18,resnet34,resnet50,resnet101,resnet152,efficientnet_b0,efficientnet_b1,efficientnet_b2,efficientnet_b3,efficientnet_b4,efficientnet_b5,efficientnet_b6,efficientnet_b7 \
//	    -gains 0.1:3.0:0.1 -fan in,out -seeds 42,1337,2025,31415,271828,123456789 \
//	    -train 0 -test 0 -classifier -out randominit-cifar10
//
// which is 13 × 30 × 2 × 6 = 4,680 initializations of 60,000 images each:
// weeks of CPU time on 2 cores. Split it over machines with -backbones and
// -seeds and merge the results with
//
//	go run ./examples/randominit -report a/runs.csv,b/runs.csv -out merged
//
// Outputs, in -out: runs.csv and runs.json (every run), results.md (the
// best setting per backbone as thesis Tables 5.1/5.2, the FWHM of the
// accuracy-vs-gain curves as Table 5.3, every setting's mean ± std), and
// PNG plots: gain_<backbone>_<kind>.png (accuracy against gain ratio per
// fan mode with the 95% confidence band over seeds, Figures 5.3-5.7) and
// size_<kind>.png (best accuracy against model size, Figures 5.1/5.2). The
// results table is also printed.
//
// Reproducibility: weights come only from the seed (per tensor, see
// weightinit.Scheme.Apply), the subsets are the first N/classes images of
// each class, and the kNN rule is deterministic, so a run's numbers do not
// depend on the machine's core count. They differ from the thesis'
// PyTorch runs in the random draws, not in the distributions.
package main
