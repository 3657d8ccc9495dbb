// Package optim trains disiam's parameters: optimizers with PyTorch's
// update rules, learning-rate and momentum schedules, gradient
// accumulation and the EMA update of BYOL-style target networks.
//
// # Parameters and gradients
//
// Everything operates on []*nn.Param, normally nn.Trainable of a model:
// Value (float32) is updated in place, its backing array never replaced,
// so compiled graphs that read it stay valid; Grad (float32, filled by
// nn.Program.Run) is read and never modified. A parameter whose Grad is
// nil is skipped, as PyTorch skips p.grad None. Parameter names key the
// optimizer state, so they must be unique within one optimizer (a method
// holding two backbones gives them distinct prefixes); constructors panic
// otherwise.
//
// # Optimizers
//
// SGD is torch.optim.SGD: weight decay is added to the gradient before the
// momentum buffer, the buffer starts as the first (decayed) gradient, then
// b = μb + (1-dampening)d, and p = p - lr·b (or Nesterov's d + μb). The
// arithmetic is float32 in PyTorch's order, with its fused multiply-adds,
// so trajectories match PyTorch 1.13 bit for bit (testdata/optim.json,
// written by testdata/gen_optim.py). On amd64 with AVX2 and FMA the
// momentum step and EMA run eight parameters at a time in assembly with
// the float32 FMA instruction; elsewhere Go computes the same correctly
// rounded FMA through float64 (round-to-odd), so the bits are the same
// either way. SimSiamSGD is the thesis' setting for
// SimSiam, DiSiam and DiSiam+ (momentum 0.9, weight decay 1e-4).
//
// LARS is lightly's (PyTorch Lightning Bolts') LARS used for SimCLR: the
// decayed gradient of each weight tensor is rescaled by
// η‖p‖/(‖g‖ + wd‖p‖ + eps) before momentum SGD; biases and BatchNorm
// parameters (rank 1) get neither weight decay nor rescaling. SimCLRLARS
// is the thesis' setting (momentum 0.9, weight decay 1e-6, η = 0.001).
//
// The learning rate is an argument of Step, not optimizer state: a trainer
// computes it from a Schedule each step, opt.Step(sched.At(step)).
//
// # Schedules and scaling rules
//
// Cosine (SimSiam, DiSiam: cosine decay to zero, no warmup) and
// WarmupCosine (SimCLR: linear warmup, 10 epochs in the thesis, then
// cosine) are functions of a step index; wrap them in PerEpoch to change
// the rate once per epoch as SimSiam's reference code does, or give them
// the total number of steps to change it every step. LinearScaledLR
// (base·batch/256, base SimSiamBaseLR = 0.03) and SqrtScaledLR
// (base·sqrt(batch), base SimCLRBaseLR = 0.075) are thesis Section 4.3's
// rules. MomentumSchedule is BYOL's τ_k = 1 - (1-τ_base)(cos(πk/K)+1)/2 for
// EMA targets.
//
// Detection fine-tuning uses torchvision's detection reference recipe:
// MultiStep (MultiStepLR: ×Gamma at each milestone, per epoch inside
// PerEpoch) under LinearWarmup (LinearLR's factor rising linearly from
// StartFactor, 1e-3 over the first iterations), checked iteration by
// iteration against PyTorch (testdata/detect_optim.json, written by
// testdata/gen_detect_optim.py).
//
// # Gradient clipping
//
// GradClipper is torch.nn.utils.clip_grad_norm_: the gradients of all
// parameters, taken together, are scaled down to a total norm of at most
// MaxNorm (GradNorm, 2-norm by default) before the optimizer's Step. The
// shared training loop does it for a stage whose train.Recipe sets
// ClipGradNorm.
//
// # Gradient accumulation
//
// An Accumulator sums the gradients of k micro-batches (Add after each
// Program.Run) and Finish points every Grad at their mean before the
// optimizer's Step: for a mean-over-samples loss this is the large batch's
// gradient, except that BatchNorm statistics and NT-Xent negatives stay
// per micro-batch.
//
// # Checkpoints
//
// State returns copies of the momentum buffers keyed by parameter name
// (shaped like the parameters, ready for a safetensors file) and LoadState
// restores them, validating names, shapes and dtypes; with the parameters
// and the step counter restored too, a resumed run continues exactly as an
// uninterrupted one. Schedules are pure functions of the step, so they
// carry no state.
//
// # Determinism and performance
//
// Updates are element-wise and split into fixed chunks over
// internal/parallel; LARS's norms are reduced per chunk in chunk order.
// Results therefore do not depend on the number of goroutines. Beyond the
// momentum buffers, created at each parameter's first step, a step
// allocates only small per-call bookkeeping.
package optim
