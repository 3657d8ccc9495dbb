// Package runner is the run wiring the example programs share: checking
// the command line, opening a dataset split from a spec string, the
// normalization statistics of a training set, parsing a chain of stages
// ("simclr:2,disiam"), and building the backbones and methods of a run by
// name, each network once, so that chained stages share the online
// encoder and the assistant.
//
// It is internal to the examples: a program built on the library proper
// assembles these parts itself (see the ssl package's manual), and this
// package only saves the examples from repeating the same wiring.
//
// # Flags
//
// Every program checks all its flags before it does any work (loads
// data, builds a network), with one shared, declarative validation:
// Parse parses a flag.FlagSet and applies Rules, a map from flag name to
// Rule, to every flag the set defines: the program's own rules first,
// then Standard's, which holds the rules of the flags the programs share
// (counts such as -train ≥ 0, -epochs and -batch ≥ 1, a finite -lr ≥ 0,
// -knn-k ≥ 1, -views 0 or ≥ 2 and only for fastsiam and disiam+, a
// -chain whose epochs do not exceed -epochs, an -accumulate that divides
// -batch, a -data spec dataset.CheckSpec parses, known methods and
// backbones, -resume only with -out). A rule may read other flags of the
// set (Values). Every rejected flag is reported, one line each, in the
// flag package's words:
//
//	pretrain: invalid value "-1" for flag -lr: must be a finite number ≥ 0
//
// A non-boolean flag without a rule is an error of the program, so that
// no flag goes unchecked. Programs on the global flag set call
// ParseCommandLine instead.
//
// # Exit status
//
// Main (and ParseCommandLine) exit with 0 on success and for -h, with
// ExitUsage (2) for a rejected command line, as the flag package does for
// its own usage errors (nothing was done), and with ExitFailure (1) when
// the run itself fails: a missing file, a diverged run, a refused resume.
//
// # Resuming
//
// Identity turns a parsed flag set into a train.Config.Identity: every
// flag's value except those that cannot change the numbers (NoIdentity:
// -out, -resume, -workers, -checkpoint-every, verbosity, plots). The
// training loop stores it in each checkpoint and refuses to resume with
// any of them changed, naming the flag; -epochs included, since the
// cosine schedule depends on the epoch count.
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
