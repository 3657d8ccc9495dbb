// Package ssl holds the parts self-supervised methods are assembled from:
// losses, projection and prediction heads, and the representation-collapse
// monitor. A method (SimCLR, BYOL, SimSiam, FastSiam, DYOL, DiSiam,
// DiSiam+; thesis Chapter 3) is a composition of a backbone
// (backbone.Backbone), heads (Head) and one loss function, in a few lines
// of plain code:
//
//	proj := ssl.NewMLP("projection_head", ssl.SimSiamProjector(bb.FeatureDim(), 2048, 2048, 2), seed)
//	pred := ssl.NewMLP("prediction_head", ssl.SimSiamPredictor(2048, 512, 2048), seed+1)
//	z1, z2 := proj.Forward(bb.Features(x1)), proj.Forward(bb.Features(x2))
//	loss := ssl.SymmetricD(pred.Forward(z1), pred.Forward(z2), z1, z2)
//	prog, err := nn.Compile(g, loss, nn.Trainable(nn.Modules{bb, proj, pred}))
//
// # Tensors
//
// Embeddings are [N, D] nodes, N samples (one view of N images) by D
// features, float32 in training. Every loss and op here also runs in
// float64, for finite-difference gradient checks. Losses return scalar
// nodes. They are nn.Kernel custom ops: each owns its output and scratch
// buffers, allocated on the first run and reused after. Functions leave
// their inputs alone.
//
// # Losses
//
//	NTXent(z1, z2, τ)                 SimCLR, thesis Eq. 3.1, mean over the 2N anchors
//	NegativeCosine(p, z)              -mean_i cos(p_i, z_i), differentiable in both
//	D(p, z)                           thesis Eq. 3.2: NegativeCosine(p, sg(z))
//	SymmetricD(p1, p2, z1, z2)        SimSiam: ½D(p1, z2) + ½D(p2, z1)
//	MultiViewD(ps, zs, targets)       FastSiam / DiSiam+, M views (Algorithms 4, 7)
//	DiSiamLoss(po, pa, za, targets)   DiSiam / DiSiam+ / DYOL: (D_online + D_assistant)/2
//	NormalizedMSE(p, z)               BYOL: mean ‖p̂ - ẑ‖² = 2 - 2cos
//	BYOLLoss(p1, p2, t1, t2)          BYOL: ½NMSE(p1, sg(t2)) + ½NMSE(p2, sg(t1))
//
// Argument convention for the symmetric losses: p1, p2 are the
// predictions of views 1 and 2 and z1, z2 (t1, t2) the targets computed
// from views 1 and 2; each prediction is compared with the other view's
// target. For several views, ps[j] and zs[j] come from view j.
//
// Mean, WeightedSum and L2Normalize combine and normalize nodes;
// WeightedSum reads its weights at every run, so a loss mixture can follow
// a schedule without rebuilding the graph (the soft chaining the thesis
// proposes as future work in Section 7.2).
//
// # Stop-gradient
//
// Negative-sample-free methods must not back-propagate through their
// targets. The losses that take targets (D, SymmetricD, MultiViewD,
// DiSiamLoss, BYOLLoss) wrap every target in nn.StopGradient themselves,
// visibly, in the function body, and document it; their kernels are also
// built non-differentiable in the target, so no unused gradient node is
// computed. Nothing is hidden in a forward pass: heads and backbones never
// stop gradients, and NegativeCosine and NormalizedMSE, which do not,
// differentiate both inputs. DiSiam's targets are the assistant's own
// projections (weight sharing instead of EMA, thesis Section 3.3): the
// assistant still trains through its prediction branch, while the target
// branch contributes no gradient. Tests check, for every loss, that a
// parameter feeding both a prediction and a target gets exactly the
// gradient of the prediction path.
//
// # Loss scale
//
// All cosine losses are in the normalized form whose range is [-1, 1]:
// the two symmetric terms are averaged, as in the SimSiam paper, lightly
// and ../shared/golden. The thesis' Algorithms 3, 5 and 6 sum them (range
// [-2, 2]) and BYOL's paper sums its two normalized-MSE terms (range
// [0, 8]): the same objectives times 2, so gradients are half of theirs
// here, which interacts with the learning rate (SPEC-NOTES 7). The
// multi-view losses average over the M(M-1) ordered pairs (or M terms);
// DiSiam's averages the online and assistant losses (Eq. 3.5). NT-Xent is
// the mean over the 2N anchors (Algorithm 1 line 15's 1/(2N)).
//
// # Heads
//
// Heads are data: an MLP is a list of Blocks (in, out, bias, Norm,
// Activation), built by NewMLP from nn.Linear, nn.BatchNorm (1d) and
// nn.ReLU, with parameters named as lightly's ProjectionHead state_dict
// (NAME.layers.K.weight, ...) and initialized as PyTorch initializes its
// layers, from a seed. The presets return each paper's blocks, their
// documentation quoting the sentence that defines them: SimSiamProjector
// (2 or 3 layers, thesis Figure 5.32), SimSiamPredictor (2048-512-2048
// bottleneck), SimCLRProjector, BYOLProjector and BYOLPredictor. Edit the
// returned slice for variants.
//
// # Train and Eval mode
//
// Heads contain BatchNorm layers: SetTraining(true) (the state after
// NewMLP) normalizes with batch statistics and updates the running
// statistics each time the graph runs, once per view the head is applied
// to; SetTraining(false) uses the running statistics. Mode is read when
// the graph runs, so one compiled graph serves both.
//
// # Collapse monitor
//
// CollapseStd(z) is the SimSiam paper's measure: the mean over dimensions
// of the standard deviation of the L2-normalized outputs; about 1/sqrt(D)
// for healthy (isotropic) outputs, 0 when they collapse to a constant.
//
// # Reproducibility
//
// Kernels split rows into fixed chunks over internal/parallel and combine
// partial results in chunk order, so values and gradients do not depend on
// the number of goroutines; heads draw their initial weights from the seed
// given to NewMLP only.
package ssl
