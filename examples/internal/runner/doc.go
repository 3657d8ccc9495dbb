// Package runner is the run wiring the example programs share: opening a
// dataset split from a spec string, the normalization statistics of a
// training set, parsing a chain of stages ("simclr:2,disiam"), and
// building the backbones and methods of a run by name, each network once,
// so that chained stages share the online encoder and the assistant.
//
// It is internal to the examples: a program built on the library proper
// assembles these parts itself (see the ssl package's manual), and this
// package only saves the examples from repeating the same wiring.
//
// # Seeds
//
// A run has one seed s. The online backbone is initialized from s, the
// assistant from s+1, and the heads of the i-th method built (counted
// from 0) from s+100+i; the Trainer draws the augmentations from s too.
// Two runs with the same flags and seed compute the same numbers.
//
// # Normalization
//
// ChannelStats measures the per-channel mean and standard deviation of
// (at most 5000) training images; the same statistics normalize the
// augmented views and the kNN evaluation. Single-channel datasets
// (Fashion-MNIST, MNIST) are presented as RGB by OpenSplit, since every
// backbone takes three channels.
package runner
