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
// and the PyTorch reference values of the tests. The thesis' Algorithms
// 3, 5 and 6 sum them (range [-2, 2]) and BYOL's paper sums its two
// normalized-MSE terms (range [0, 8]): the same objectives times 2, so
// gradients are half of theirs here, which interacts with the learning
// rate (the thesis' learning rates come from SimSiam's paper, which uses
// the normalized form). The
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
//
// # Methods
//
// A Method is a composition of backbones, heads and one loss, whose parts
// are exported fields, so a user assembles (or varies) a method in a few
// lines of plain code; the New* constructors fill the fields with the
// papers' heads:
//
//	bb, _ := backbone.New("efficientnet_b0", backbone.Config{Seed: 1})
//	as, _ := backbone.New("resnet34", backbone.Config{Seed: 2})
//	proj := func(name string, in int) ssl.Head { return ssl.NewMLP(name, ssl.SimSiamProjector(in, 2048, 2048, 2), 1) }
//	pred := func(name string) ssl.Head { return ssl.NewMLP(name, ssl.SimSiamPredictor(2048, 512, 2048), 1) }
//	m := &ssl.DiSiam{
//		Online: bb, OnlineProjector: proj("projection_head", 1280), OnlinePredictor: pred("prediction_head"),
//		Assistant: as, AssistantProjector: proj("assistant_projection_head", 512), AssistantPredictor: pred("assistant_prediction_head"),
//		M: 2,
//	}
//
//	SimCLR    backbone, projector; NTXent                                      Algorithm 1
//	BYOL      online backbone, projector, predictor; EMA target; BYOLLoss    Algorithm 2
//	SimSiam   backbone, projector, predictor; SymmetricD                      Algorithm 3
//	FastSiam  SimSiam over M views; MultiViewD                                Algorithm 4
//	DYOL      online and assistant networks, EMA target of the assistant      Algorithm 5
//	DiSiam    online and assistant networks, targets = sg(assistant z)        Algorithm 6 (M = 2)
//	          DiSiam+ is DiSiam with M > 2 views                              Algorithm 7
//	SoftChain SimCLR and SimSiam (or DiSiam) mixed with a scheduled weight    Section 7.2 (future work)
//
// A Method is five methods: Name, Views, Loss (the forward passes and
// loss on a graph's view nodes), Parts and Encoder (the online backbone,
// the result). Parts names the networks as a PyTorch model's attributes:
// Part.Prefix + parameter name is the method's state_dict key
// ("backbone.conv1.weight", "assistant_backbone.conv1.weight",
// "projection_head.layers.0.weight", "backbone_momentum." for BYOL's
// target, lightly's names), which keeps two networks of the same
// architecture apart; train.Parts derives the rest (Params, SetTraining,
// Trainable, StateDict, LoadStateDict, NewOptimizer). A part's Trainable
// flag is false for an EMA target, which gradient descent never updates.
// Any backbone.Backbone can be online or assistant.
//
// What some methods do beyond that is optional, as small interfaces the
// Trainer looks for: Starter (BYOL and DYOL copy their target when a
// stage starts), Stepper (their EMA update after each step, with BYOL's
// momentum schedule τ_k = 1 - (1-τ_base)(cos(πk/K)+1)/2 and τ_base 0.99:
// the thesis gives no schedule for BYOL and DYOL, so BYOL's is used),
// Scheduled (SoftChain's weights before each step), Monitored (the
// embedding the collapse monitor watches), RecipeProvider (SimCLR's LARS
// recipe) and ViewsProvider (SimCLR's and BYOL's augmentations). A user's
// method is a struct with the five methods; see the VICReg example.
//
// Where the thesis' pseudocode and its text disagree, the methods follow
// the text and the equations, and each method's doc comment says so:
// DYOL's target is an EMA of the assistant (the text of Section 3.1.5;
// Algorithm 5 line 15 prints the online parameters, whose architecture
// differs from the target's); DiSiam's assistant loss uses the assistant's
// own predictor (Eq. 3.4), and its targets are the other view's assistant
// projections (Algorithm 6 line 7, Eq. 3.3-3.4); both the online and the
// assistant networks are trained by gradient descent (Algorithms 5-7 list
// both as the optimizer's inputs).
//
// # Optimization
//
// DefaultRecipe gives thesis Section 4.3's optimization: SGD with
// momentum 0.9, weight decay 1e-4, learning rate 0.03·batch/256 and cosine
// decay to zero for the negative-free methods; LARS with weight decay
// 1e-6, 0.075·sqrt(batch), 10 warmup epochs then cosine for SimCLR.
// (Section 5.3.2 and Table 5.5 find a base of 0.06 best for DiSiam and
// DiSiam+ on EfficientNet-B0; Stage.BaseLR sets it.) The optimizer is one
// per trainable part (train.Parts.NewOptimizer: parameter names may
// repeat across networks) that behaves as a single one and keys its state
// by state_dict key.
//
// # Training
//
// Trainer is the SSL front of the shared training loop of package train:
// it runs a list of Stages (a Method, its epochs, views, recipe and an
// optional switching rule) over a dataset.Dataset. The loader makes
// Views() augmented views per image (DefaultViews), each stage compiles
// its graph once, and every step runs forward and backward, checks that
// the loss is finite, steps the optimizer with the schedule's learning
// rate and calls the method's Stepper. The embedded train.Config holds
// the rest: batch, gradient accumulation, seed, evaluation every
// EvalEvery epochs by an eval.Evaluator (knn.Evaluator: k = 200, τ = 0.1),
// progress lines (loss, learning rate, img/s, ETA) to Log, one
// train.EpochRecord per epoch to MetricsPath (CSV or JSON Lines) and to
// the OnEpoch hook, checkpoints and resumption. train.History keeps every
// measurement; History.Best(knn.MetricTop1) is the maximum the thesis
// reports. The collapse monitor averages CollapseStd of the online
// projection over each epoch (about 1/sqrt(d) healthy, 0 collapsed) as
// the observed values "collapse_std" and "collapse_std_sqrt_d". Trainer.
// Loop returns the train.Loop for further options.
//
// # Data-parallel training
//
// With train.Config.Comm of several ranks (package distributed: mpirun
// processes with -tags mpi, or an in-process group) the Trainer trains
// data-parallel: Batch is the global batch, each rank's loader takes its
// Batch/N images of every global batch (dataset.LoaderConfig.Shards), the
// gradients are averaged over the ranks before each optimizer step, and
// rank 0 evaluates and writes the checkpoints. To compute what one
// process computes with the whole batch, set train.Config.SyncBatchNorm
// (every method: BatchNorm statistics of the global batch); SimCLR and
// SoftChain, the Gatherers, also take their NT-Xent negatives from every
// rank (distributed.AllGather, whose backward pass sums the gradient over
// the ranks), which the Trainer arranges. SimSiam, FastSiam, BYOL, DYOL
// and DiSiam(+) couple the samples of a batch only through BatchNorm.
// With both, N ranks match one process to float32 reduction order (the
// tests: SimCLR's losses identical, DiSiam's within 2e-8, weights within
// 3e-7 relative after 12 steps; see package distributed). The collapse monitor's observed values are the
// mean over the ranks of each rank's own measure.
//
// # Chaining
//
// The thesis' chaining (Section 3.5) is a Trainer with two stages whose
// methods share the online backbone value (SimCLR, then DiSiam): the
// second stage starts from the weights the first left. A stage ends after
// its Epochs or earlier by its Switch rule, a Plateau of an evaluated
// metric (or of the loss): the relative improvement of the best value
// over the last Patience measurements below Threshold. The thesis names
// the criterion (switch when the first method approaches convergence,
// judged from the loss and the online kNN accuracy) but no rule; this one
// and a fixed epoch count are both explicit. BYOL and DYOL copy their
// target from the online (assistant) network when their stage starts
// (Starter). SoftChain is the "soft chaining" the thesis proposes as
// future work (Section 7.2): one loss (1-w_k)·NT-Xent + w_k·L_negative-free
// whose weight w_k rises from 0 to 1 along the run (CosineRamp), set
// before each step through Scheduled.BeforeStep.
//
// # Checkpoints
//
// With a CheckpointDir the Trainer writes train.CheckpointFile atomically
// every CheckpointEvery epochs and at the end of each stage: the
// method's state_dict (every part, BatchNorm statistics and EMA targets
// included), the optimizer's momentum buffers ("optimizer." + key), and
// as JSON metadata the stage, epoch and step, the run's identity (batch,
// seed, stages, data size and every setting in Config.Identity), the
// counters of every Dropout and StochasticDepth layer reachable from the
// parts, and the history. EncoderFile holds the online backbone alone
// with torchvision names (safetensors.LoadModule loads it into a
// backbone). Resume continues from the checkpoint of a run with the same
// identity; since the loader draws every augmentation from (seed, epoch,
// image) and all state is restored, the resumed run computes the same
// losses, bit for bit, as an uninterrupted one (TestResumeIsExact).
package ssl
