// Package nntest holds test helpers shared by disiam's packages: the
// float64 finite-difference gradient check (GradCheck) and the golden
// value rule (FNV1a64, SplitMix64, RuleValues, RuleTensorValues, Rand32,
// Rand64).
//
// # The golden value rule
//
// Tests that compare with PyTorch need the same weights and inputs on both
// sides. Instead of weight files, every tensor is generated from its name
// by a rule that is exact in any language, so a Go test and a Python
// fixture script fill a tensor identically and only the results are
// stored in testdata:
//
//	seed = FNV-1a 64-bit hash of the tensor's name (UTF-8 bytes)
//	       (offset basis 0xcbf29ce484222325, prime 0x100000001b3)
//	u_i  = (splitmix64(seed + i) >> 40) / 2^24     i = 0 .. numel-1, uint64 wrap-around
//	r_i  = 2*u_i - 1
//
//	splitmix64(x): x += 0x9E3779B97F4A7C15
//	               z = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9
//	               z = (z ^ (z >> 27)) * 0x94D049BB133111EB
//	               return z ^ (z >> 31)
//
// u_i has 24 significant bits, so r_i in [-1, 1) is exactly representable
// in float32 and float64 alike. An input or loss operand named N is r under
// the name N (RuleValues, Rand32, Rand64). A state_dict tensor, by its
// torchvision name and rank, is computed in float64 and rounded to float32,
// with i over the row-major (PyTorch layout) flattening (RuleTensorValues):
//
//	*.num_batches_tracked  skipped
//	*.running_mean         0.1 * r
//	*.running_var          1 + 0.25 * (r + 1)
//	rank >= 2 (weights)    gain * r * sqrt(3 / fan_in), fan_in = numel / shape[0]
//	rank 1, *.weight       1 + 0.1 * r
//	rank 1, *.bias         0.1 * r
//
// r has variance 1/3, so a weight has standard deviation gain/sqrt(fan_in)
// (gain 1 is LeCun's scale, sqrt(2) He's). gain is 1 for ResNets and
// about 2 for EfficientNets: at gain 1 an EfficientNet's eval-mode output
// no longer depends on its input, which would make a comparison
// meaningless.
package nntest
