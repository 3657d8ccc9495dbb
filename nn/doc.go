// Package nn is disiam's layer library: layers that own named parameters
// and ops that add nodes to a gorgonia graph, each with PyTorch's
// semantics and numbers, written as custom kernels that run on every core
// without allocating once a graph is warm.
//
// # Layers and ops
//
// Layers are structs that own parameters and build their part of a graph
// with Forward: Conv2d, Linear, BatchNorm (BatchNorm1d and BatchNorm2d),
// GroupNorm, Scale (a learnable scalar), Dropout and StochasticDepth. Ops
// are functions of nodes: Conv2dOp, LinearOp, AddChannelBias, ReLU, SiLU,
// Sigmoid, Exp, MaxPool2d, GlobalAvgPool2d, ScaleChannels
// (squeeze-and-excitation), Add (residual), ScaleBy and MulConst,
// UpsampleNearest (F.interpolate's nearest mode, with PyTorch's float32
// index rule), Flatten, FlattenLevels (the per-level outputs of a dense
// detection head to [N, positions, C]) and StopGradient; an op behind a
// layer of the same name carries the suffix Op (Conv2dOp behind Conv2d,
// LinearOp behind Linear). A network is Go code that calls them:
//
//	y := nn.ReLU(bn1.Forward(conv1.Forward(x)))
//	y = nn.MaxPool2d(y, 3, 2, 1)
//
// Every op has a gradient (StopGradient blocks it on purpose), checked
// against finite differences in float64 by the package's tests, and a
// forward pass checked against hand-computed values or PyTorch 1.13.
//
// # Tensor layout
//
// Tensors are row-major float32 in PyTorch's layout: images and feature
// maps NCHW ([N, C, H, W]), feature vectors [N, C], a Linear weight
// [Out, In], a convolution weight [Out, In/groups, K, K]. The element at
// (n, c, h, w) of x [N, C, H, W] is x.Data()[((n*C+c)*H+h)*W+w]. Kernels
// also run in float64, which only gradient checks use (package nntest);
// all inputs of one op must share a dtype. Shapes are fixed when a graph
// is built.
//
// # Train and Eval mode
//
// Every Module has SetTraining(bool); a layer starts in Train mode, like a
// new torch.nn.Module. BatchNorm, Dropout and StochasticDepth read their
// Training field each time the graph runs, so one compiled Program serves
// both modes: call SetTraining(false) on the model, Run, and switch back.
// In Train mode BatchNorm normalizes with batch statistics and updates its
// running statistics (momentum 0.1, unbiased variance) and
// num_batches_tracked on every run; in Eval mode it uses the running
// statistics and changes nothing. Dropout and StochasticDepth are the
// identity in Eval mode. Modules groups modules so one call switches all.
//
// # Parameter names
//
// A layer's constructor takes its state_dict prefix and names its
// parameters with Join, so names are PyTorch's state_dict keys:
// NewBatchNorm2d("layer1.0.bn1", 64) owns layer1.0.bn1.weight, .bias,
// .running_mean, .running_var and .num_batches_tracked. Params returns them
// in state_dict order. Buffers (running statistics, num_batches_tracked)
// are Params with Trainable false: they are part of the saved state but
// get no gradient. num_batches_tracked is an int64 tensor of shape [1]
// (PyTorch stores a 0-dimensional tensor). Trainable and CountParams select
// and count what an optimizer updates.
//
// # Ownership of buffers
//
// Param.Value is the live tensor of a parameter. Graphs read it in place,
// optimizers update it in place and loading a checkpoint copies into it;
// its backing array is never replaced, so graphs built before a load stay
// valid. Param.Grad is written by the Program that computed it and is
// valid until that Program's next Run.
//
// An op owns its output buffer: it is allocated on the first run and
// reused by every later one, so a node's Value is valid until the next Run
// of its Program; copy what must outlive it. The exception are the
// gradients flowing inside the backward pass, which nobody can read: they
// share an arena of buffers, each handed back once its last reader has
// run (as PyTorch frees them), and backward ops whose results no
// parameter's gradient needs (the image's gradient at the stem) are not
// computed at all. A parameter read in several places (a backbone applied
// to each view) has its contributions added into its gradient as each is
// computed, as PyTorch's AccumulateGrad does, instead of all held until a
// sum at the end: the gradient buffers of a step weigh about the
// parameters' size, not that times the number of views. The sum runs in
// the program's fixed order, so runs repeat bit for bit. Ops never modify their
// inputs. Input returns the tensor bound to an input node; fill it in place
// (copy into its Data()) before each Run. Layers keep per-application
// state (BatchNorm's batch statistics, MaxPool2d's argmax, a Dropout mask's
// key) between the forward and the backward pass of one Run.
//
// # Programs
//
// Build a graph once, compile it once with Compile and call Run for every
// batch: forward, then backward when a loss was given, filling the Grad of
// every parameter the loss depends on. Building a graph with the wrong
// shapes or ranks is a programmer mistake and panics with an "nn:" message
// that names the op; Build turns such a panic into an error. What depends
// on data or state at run time (a BatchNorm in Train mode given one value
// per channel, a probability changed to an invalid value) is an error
// returned by Run.
//
// # Determinism
//
// Results do not depend on the number of goroutines: kernels split their
// work with internal/parallel into chunks whose boundaries depend only on
// the shapes, each output element is written by one chunk, and reductions
// (BatchNorm statistics, bias gradients, pooling) run in a fixed order,
// accumulating in float64. Tests compare runs with 1 and 3 workers bit for
// bit.
//
// Random masks (Dropout, StochasticDepth) come from a counter-based
// generator, never from goroutine scheduling or a global source:
//
//	key = splitmix64(splitmix64(Seed) + Counter)
//	u_i = (splitmix64(key + i) >> 11) / 2^53          uniform in [0, 1)
//	element i (Dropout) or sample i (StochasticDepth) is kept iff u_i >= P
//
// with splitmix64 as in the golden value rule (nntest.SplitMix64). Each
// time an application of the layer runs in Train mode with P > 0 it uses
// the layer's current Counter and increments it, so two applications of
// one layer in one graph (two views) get different masks, in the order the
// graph runs them. To resume a training run bit for bit, save each layer's
// Counter with the checkpoint and set it back before the next Run.
//
// # Writing a kernel
//
// An op is a Kernel applied with Apply. A kernel names itself, gives its
// inputs' ranks and its output shape, and computes its output into a
// buffer that Apply's op owns; to be differentiable it also says which
// inputs get a gradient and builds their gradient nodes, usually by
// applying backward kernels:
//
//	type scale struct{ a float64 }
//
//	func (k scale) Name() string  { return fmt.Sprintf("Scale(%g)", k.a) }
//	func (k scale) InDims() []int { return []int{2} }
//	func (k scale) OutShape(in []tensor.Shape) (tensor.Shape, error) {
//		return in[0].Clone(), nil
//	}
//	func (k scale) Forward(out *tensor.Dense, in []*tensor.Dense) error {
//		switch y := out.Data().(type) {
//		case []float32:
//			for i, v := range in[0].Data().([]float32) {
//				y[i] = v * float32(k.a)
//			}
//		case []float64:
//			for i, v := range in[0].Data().([]float64) {
//				y[i] = v * k.a
//			}
//		default:
//			return fmt.Errorf("unsupported dtype %v", out.Dtype())
//		}
//		return nil
//	}
//	func (k scale) DiffWRT() []bool { return []bool{true} }
//	func (k scale) Grad(in G.Nodes, out, dy *G.Node) (G.Nodes, error) {
//		return G.Nodes{nn.Apply(k, dy)}, nil // d(a*x)/dx = a
//	}
//
//	y := nn.Apply(scale{2}, x)
//
// Rules that keep kernels fast and correct: dispatch on out.Dtype() and
// support float32 and float64; keep buffers in the kernel (a pointer
// kernel gets its own state per application) and reuse them across runs;
// a backward kernel that reads state saved by its forward kernel must take
// the forward output as an input, so that the graph runs it afterwards;
// split work into chunks fixed by the shapes, never by the worker count;
// check the gradient with nntest.GradCheck.
//
// # BLAS
//
// Matrix products (Linear, the convolutions) go through internal/linalg.
// The default build needs no C toolchain: float32 products run on
// linalg's own packed GEMM with an AVX2/FMA assembly micro-kernel (gonum's
// pure-Go BLAS on other CPUs, for float64 and with -tags purego). Building
// with -tags openblas links OpenBLAS through gonum's netlib binding
// (apt-get install libopenblas-dev) for the products the native kernel
// does not take (float64, CPUs without AVX2; DISIAM_SGEMM=openblas sends
// float32 there too); disiam parallelizes around BLAS itself, so
// OpenBLAS's own threading is switched off. linalg.Backend says which one
// a binary uses.
package nn
