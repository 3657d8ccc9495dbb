package nn

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Conv2dOp convolves x [N, C, H, W] with the filters w [O, C/groups, KH, KW]
// and returns y [N, O, OH, OW], exactly as torch.nn.functional.conv2d
// without bias: the input is zero-padded by padding on all four sides,
// kernel taps are dilation apart, and
//
//	OH = floor((H + 2*padding - dilation*(KH-1) - 1) / stride) + 1
//
// (OW likewise). Channels are split into groups: output channels
// [g*O/groups, (g+1)*O/groups) see only input channels
// [g*C/groups, (g+1)*C/groups); groups == C (> 1) is a depthwise
// convolution, O may then be any multiple of C.
//
// stride and dilation must be at least 1, padding at least 0, and groups
// must divide C and O; a violation, or shapes that do not fit, panics with
// an "nn:" message when the graph is built.
//
// The gradient with respect to x is Conv2dBackwardInput and the one with
// respect to w is Conv2dBackwardFilter; both are differentiable again.
//
// Conv2dOp is the op behind the Conv2d layer, as LinearOp is behind
// Linear: the layer owns the weight (and bias) and calls it; call the op
// directly for filters that are not a layer's parameter.
//
// # Computation
//
// The kernels pick a strategy from the shapes (all float32 or float64,
// multi-threaded with internal/parallel). Their GEMMs go to OpenBLAS with
// -tags openblas; in the default build float32 GEMMs run on internal/linalg's
// packed AVX2/FMA kernel where the CPU has one, everything else on gonum.
//
//   - Taps that read only padding for every output position are dropped
//     (at a 1x1 plane with padding 1, eight of a 3x3 kernel's nine).
//   - A 1x1 input and output plane is one matrix product per group, y =
//     x wᵀ, without any copy.
//   - Output planes of up to 64 positions (8x8) and kernels larger than
//     1x1 use shifted GEMMs on a position-major layout [C, H*W, N]
//     (conv_shift.go): one GEMM per tap and run of output positions, with
//     the images of the batch as the long dimension, so only the (output,
//     input) pairs that a tap connects are multiplied and no column matrix
//     is written.
//   - Depthwise convolutions are axpy and dot loops on the same layout
//     (conv_depthwise.go).
//   - Pointwise convolutions (1x1, stride 1, no padding) multiply each
//     image straight from x into y; their filter gradient, like the rest,
//     gathers a chunk of images into one GEMM with the batch in its inner
//     dimension.
//   - Larger planes use im2col: per image for planes of 256 outputs and
//     more (GEMM straight into y), else over chunks of images.
//
// Every strategy splits its work into chunks that depend only on the
// shapes and sums in a fixed order (the filter gradient over the batch
// included), so results are bit-identical for any parallel.Workers.
// Scratch memory (column matrices, transposed activations) comes from a
// package-wide pool that grows to the largest working set of one kernel
// and is then reused: a warm compiled graph allocates no buffers.
func Conv2dOp(x, w *G.Node, stride, padding, dilation, groups int) *G.Node {
	p := newConvParams("Conv2dOp", stride, padding, dilation, groups)
	return Apply(&convForward{convParams: p}, x, w)
}

// Conv2dBackwardInput returns dL/dx of y = Conv2dOp(x, w, ...) given w
// [O, C/groups, KH, KW] and dy = dL/dy [N, O, OH, OW], where xShape is the
// shape of x (several input sizes map to one output size, so it must be
// given). It is also the transposed convolution (conv_transpose2d) of dy.
func Conv2dBackwardInput(w, dy *G.Node, xShape tensor.Shape, stride, padding, dilation, groups int) *G.Node {
	p := newConvParams("Conv2dBackwardInput", stride, padding, dilation, groups)
	if len(xShape) != 4 {
		panic(fmt.Sprintf("nn: Conv2dBackwardInput: input shape %v, want [N, C, H, W]", xShape))
	}
	return Apply(&convBackwardInput{convParams: p, xShape: xShape.Clone()}, w, dy)
}

// Conv2dBackwardFilter returns dL/dw, of shape wShape [O, C/groups, KH, KW],
// of y = Conv2dOp(x, w, ...) given x [N, C, H, W] and dy = dL/dy
// [N, O, OH, OW]: the sum over the batch of the correlation of dy with x.
func Conv2dBackwardFilter(x, dy *G.Node, wShape tensor.Shape, stride, padding, dilation, groups int) *G.Node {
	p := newConvParams("Conv2dBackwardFilter", stride, padding, dilation, groups)
	if len(wShape) != 4 {
		panic(fmt.Sprintf("nn: Conv2dBackwardFilter: filter shape %v, want [O, C/groups, KH, KW]", wShape))
	}
	return Apply(&convBackwardFilter{convParams: p, wShape: wShape.Clone()}, x, dy)
}

// convParams are the static parameters of a convolution.
type convParams struct {
	stride, pad, dil, groups int
}

func newConvParams(op string, stride, padding, dilation, groups int) convParams {
	if stride < 1 || dilation < 1 || padding < 0 || groups < 1 {
		panic(fmt.Sprintf("nn: %s: invalid stride %d, padding %d, dilation %d or groups %d", op, stride, padding, dilation, groups))
	}
	return convParams{stride: stride, pad: padding, dil: dilation, groups: groups}
}

func (p convParams) String() string {
	return fmt.Sprintf("stride=%d, padding=%d, dilation=%d, groups=%d", p.stride, p.pad, p.dil, p.groups)
}

// convShape are the sizes of one convolution.
type convShape struct {
	n, c, h, w int // input
	o, kh, kw  int // filters
	oh, ow     int // output
}

// shape checks the input and filter shapes and derives the output size.
func (p convParams) shape(x, w tensor.Shape) (convShape, error) {
	if len(x) != 4 {
		return convShape{}, fmt.Errorf("input has shape %v, want [N, C, H, W]", x)
	}
	if len(w) != 4 {
		return convShape{}, fmt.Errorf("filter has shape %v, want [O, C/groups, KH, KW]", w)
	}
	s := convShape{n: x[0], c: x[1], h: x[2], w: x[3], o: w[0], kh: w[2], kw: w[3]}
	for _, d := range [...]int{s.n, s.c, s.h, s.w, s.o, w[1], s.kh, s.kw} {
		if d < 1 {
			return convShape{}, fmt.Errorf("input %v or filter %v has an empty dimension", x, w)
		}
	}
	if w[1]*p.groups != s.c {
		return convShape{}, fmt.Errorf("input has %d channels, filter %v with groups %d wants %d", s.c, w, p.groups, w[1]*p.groups)
	}
	if s.o%p.groups != 0 {
		return convShape{}, fmt.Errorf("%d output channels are not divisible by groups %d", s.o, p.groups)
	}
	eh := s.h + 2*p.pad - p.dil*(s.kh-1) - 1
	ew := s.w + 2*p.pad - p.dil*(s.kw-1) - 1
	if eh < 0 || ew < 0 {
		return convShape{}, fmt.Errorf("dilated kernel %dx%d (dilation %d) is larger than the padded input %dx%d",
			s.kh, s.kw, p.dil, s.h+2*p.pad, s.w+2*p.pad)
	}
	s.oh, s.ow = eh/p.stride+1, ew/p.stride+1
	return s, nil
}

// Tuning constants, set from the benchmarks of bench/conv.md.
const (
	// gatherMaxOW is the output width below which im2col gathers through
	// an offset table instead of copying row segments.
	gatherMaxOW = 32
)

// convPaths selects among the kernels' strategies; tests switch it to
// cover every path with every shape.
var convPaths = struct {
	colCap       int  // elements of one chunk's column matrix or transposed activations
	perImageMinP int  // output planes from which GEMMs run per image
	pointPerImg  bool // pointwise convolutions run per image at any size
	shiftMaxP    int  // output planes up to which the shift path runs
	shiftAll     bool // shift path also for 1x1 kernels and strided 1x1 outputs
}{colCap: 1 << 21, perImageMinP: 256, pointPerImg: true, shiftMaxP: 64}

// useShift says whether the shift path (conv_shift.go) serves pl: small
// output planes, a kernel larger than 1x1 and a batch large enough to make
// the GEMMs wide (their columns are runs of positions times the images).
// Strided convolutions make single-position runs, worth it from 2x2
// outputs on; 1x1 kernels need no column matrix either way and prefer one
// large GEMM.
func (pl *convPlan) useShift() bool {
	if pl.depth || pl.linear || pl.ka == 0 || pl.p > convPaths.shiftMaxP {
		return false
	}
	return convPaths.shiftAll || pl.kk > 1 && pl.n >= 16 && (pl.stride == 1 || pl.p >= 4)
}

// convPlan is everything a kernel derives from the shapes once.
type convPlan struct {
	convParams
	convShape
	cg, og  int // channels per group: input, output
	hw, p   int // input and output plane sizes
	kk, ka  int // taps: all, active
	rows    int // rows of the column matrix, c*ka
	taps    []int
	tapH    []int // kernel row of each active tap
	tapW    []int // kernel column of each active tap
	ohLo    []int // per kernel row kh: output rows [ohLo, ohHi) read the input
	ohHi    []int
	owLo    []int // per kernel column, likewise
	owHi    []int
	dense   bool       // every tap is active: packed filters are the filters
	depth   bool       // groups == C > 1: depthwise loops (conv_depthwise.go)
	linear  bool       // 1x1 input and output planes, one tap: a matrix product
	point   bool       // 1x1 kernel, stride 1, no padding: the columns are x
	perImg  bool       // per-image GEMMs (forward, backward-input)
	gather  bool       // im2col by an offset table (narrow planes)
	tapOff  []int      // gather: offset of each active tap in the padded plane
	posOff  []int32    // gather: offset of each output position in the padded plane
	padLen  int        // gather: size of the padded plane
	shift   *shiftPlan // small planes: shifted GEMMs without a column matrix
	chunk   int        // images per chunk
	unitMin int        // parallel grain (in channel planes) for im2col and col2im
}

// validRange returns the outputs o in [lo, hi) with 0 <= o*s + off < n.
func validRange(out, s, off, n int) (lo, hi int) {
	// o*s + off >= 0  <=>  o >= ceil(-off/s)
	lo = 0
	if off < 0 {
		lo = (-off + s - 1) / s
	}
	// o*s + off <= n-1  <=>  o <= floor((n-1-off)/s)
	if n-1-off < 0 {
		return lo, lo
	}
	hi = (n-1-off)/s + 1
	hi = min(hi, out)
	if hi < lo {
		hi = lo
	}
	return lo, hi
}

// plan returns the cached plan for the given shapes, rebuilding it when they
// changed.
func (p convParams) plan(cache **convPlan, x, w tensor.Shape) (*convPlan, error) {
	s, err := p.shape(x, w)
	if err != nil {
		return nil, err
	}
	if c := *cache; c != nil && c.convShape == s {
		return c, nil
	}
	pl := &convPlan{convParams: p, convShape: s}
	pl.cg, pl.og = s.c/p.groups, s.o/p.groups
	pl.hw, pl.p = s.h*s.w, s.oh*s.ow
	pl.kk = s.kh * s.kw
	pl.ohLo, pl.ohHi = make([]int, s.kh), make([]int, s.kh)
	pl.owLo, pl.owHi = make([]int, s.kw), make([]int, s.kw)
	for kh := range s.kh {
		pl.ohLo[kh], pl.ohHi[kh] = validRange(s.oh, p.stride, kh*p.dil-p.pad, s.h)
	}
	for kw := range s.kw {
		pl.owLo[kw], pl.owHi[kw] = validRange(s.ow, p.stride, kw*p.dil-p.pad, s.w)
	}
	for kh := range s.kh {
		for kw := range s.kw {
			if pl.ohLo[kh] < pl.ohHi[kh] && pl.owLo[kw] < pl.owHi[kw] {
				pl.taps = append(pl.taps, kh*s.kw+kw)
				pl.tapH = append(pl.tapH, kh)
				pl.tapW = append(pl.tapW, kw)
			}
		}
	}
	pl.ka = len(pl.taps)
	pl.rows = s.c * pl.ka
	pl.dense = pl.ka == pl.kk
	pl.depth = p.groups == s.c && p.groups > 1
	pl.linear = pl.hw == 1 && pl.p == 1 && pl.ka == 1
	pl.point = s.kh == 1 && s.kw == 1 && p.stride == 1 && p.pad == 0
	// linalg's native kernel computes C in tiles 16 columns wide:
	// per-image products need planes of 16 outputs to use them.
	pl.perImg = pl.p >= convPaths.perImageMinP || pl.point && convPaths.pointPerImg && (pl.p >= 16 || !useSgemm)
	pl.gather = !pl.point && s.ow < gatherMaxOW && (s.h+2*p.pad)*(s.w+2*p.pad) < 1<<31
	if pl.gather {
		wp := s.w + 2*p.pad
		pl.padLen = (s.h + 2*p.pad) * wp
		pl.tapOff = make([]int, pl.ka)
		for t := range pl.ka {
			pl.tapOff[t] = pl.tapH[t]*p.dil*wp + pl.tapW[t]*p.dil
		}
		pl.posOff = make([]int32, pl.p)
		for oh := range s.oh {
			for ow := range s.ow {
				pl.posOff[oh*s.ow+ow] = int32(oh*p.stride*wp + ow*p.stride)
			}
		}
	}
	if per := pl.rows * pl.p; per > 0 {
		nmax := max(1, convPaths.colCap/per)
		chunks := (s.n + nmax - 1) / nmax
		pl.chunk = (s.n + chunks - 1) / chunks
	} else {
		pl.chunk = s.n
	}
	pl.unitMin = max(1, (1<<14)/max(1, pl.ka*pl.p))
	if pl.depth || pl.useShift() {
		pl.shift = newShiftPlan(pl)
	}
	*cache = pl
	return pl, nil
}

// Kernels. Each application of Conv2dOp (and of its gradients) gets its own
// kernel value, which caches the plan for its shapes.

type convForward struct {
	convParams
	pl *convPlan
}

func (k *convForward) Name() string  { return "Conv2dOp(" + k.convParams.String() + ")" }
func (k *convForward) InDims() []int { return []int{4, 4} }
func (k *convForward) OutShape(in []tensor.Shape) (tensor.Shape, error) {
	s, err := k.shape(in[0], in[1])
	if err != nil {
		return nil, err
	}
	return tensor.Shape{s.n, s.o, s.oh, s.ow}, nil
}

func (k *convForward) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	pl, err := k.plan(&k.pl, in[0].Shape(), in[1].Shape())
	if err != nil {
		return err
	}
	switch y := out.Data().(type) {
	case []float32:
		convForwardT(pl, y, asSlice[float32](in[0]), asSlice[float32](in[1]))
	case []float64:
		convForwardT(pl, y, asSlice[float64](in[0]), asSlice[float64](in[1]))
	default:
		return fmt.Errorf("unsupported dtype %v", out.Dtype())
	}
	return nil
}

func (k *convForward) DiffWRT() []bool { return []bool{true, true} }

func (k *convForward) Grad(in G.Nodes, _, dy *G.Node) (G.Nodes, error) {
	x, w := in[0], in[1]
	dx := Apply(&convBackwardInput{convParams: k.convParams, xShape: x.Shape().Clone()}, w, dy)
	dw := Apply(&convBackwardFilter{convParams: k.convParams, wShape: w.Shape().Clone()}, x, dy)
	return G.Nodes{dx, dw}, nil
}

// convBackwardInput maps (w, dy) to dx.
type convBackwardInput struct {
	convParams
	xShape tensor.Shape
	pl     *convPlan
}

func (k *convBackwardInput) Name() string {
	return fmt.Sprintf("Conv2dBackwardInput(%v, %s)", k.xShape, k.convParams)
}
func (k *convBackwardInput) InDims() []int { return []int{4, 4} }
func (k *convBackwardInput) OutShape(in []tensor.Shape) (tensor.Shape, error) {
	if err := k.checkDy(in[0], in[1]); err != nil {
		return nil, err
	}
	return k.xShape.Clone(), nil
}

func (k *convBackwardInput) checkDy(w, dy tensor.Shape) error {
	s, err := k.shape(k.xShape, w)
	if err != nil {
		return err
	}
	if want := (tensor.Shape{s.n, s.o, s.oh, s.ow}); !dy.Eq(want) {
		return fmt.Errorf("output gradient has shape %v, want %v", dy, want)
	}
	return nil
}

func (k *convBackwardInput) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	if err := k.checkDy(in[0].Shape(), in[1].Shape()); err != nil {
		return err
	}
	pl, err := k.plan(&k.pl, k.xShape, in[0].Shape())
	if err != nil {
		return err
	}
	switch dx := out.Data().(type) {
	case []float32:
		convBackwardInputT(pl, dx, asSlice[float32](in[0]), asSlice[float32](in[1]))
	case []float64:
		convBackwardInputT(pl, dx, asSlice[float64](in[0]), asSlice[float64](in[1]))
	default:
		return fmt.Errorf("unsupported dtype %v", out.Dtype())
	}
	return nil
}

func (k *convBackwardInput) DiffWRT() []bool { return []bool{true, true} }

// Grad: dx = B(w, dy) is bilinear with <r, B(w, dy)> = <Conv2dOp(r, w), dy>
// = <BackwardFilter(r, dy), w>.
func (k *convBackwardInput) Grad(in G.Nodes, _, r *G.Node) (G.Nodes, error) {
	w, dy := in[0], in[1]
	dw := Apply(&convBackwardFilter{convParams: k.convParams, wShape: w.Shape().Clone()}, r, dy)
	ddy := Apply(&convForward{convParams: k.convParams}, r, w)
	return G.Nodes{dw, ddy}, nil
}

// convBackwardFilter maps (x, dy) to dw.
type convBackwardFilter struct {
	convParams
	wShape tensor.Shape
	pl     *convPlan
}

func (k *convBackwardFilter) Name() string {
	return fmt.Sprintf("Conv2dBackwardFilter(%v, %s)", k.wShape, k.convParams)
}
func (k *convBackwardFilter) InDims() []int { return []int{4, 4} }
func (k *convBackwardFilter) OutShape(in []tensor.Shape) (tensor.Shape, error) {
	if err := k.checkDy(in[0], in[1]); err != nil {
		return nil, err
	}
	return k.wShape.Clone(), nil
}

func (k *convBackwardFilter) checkDy(x, dy tensor.Shape) error {
	s, err := k.shape(x, k.wShape)
	if err != nil {
		return err
	}
	if want := (tensor.Shape{s.n, s.o, s.oh, s.ow}); !dy.Eq(want) {
		return fmt.Errorf("output gradient has shape %v, want %v", dy, want)
	}
	return nil
}

func (k *convBackwardFilter) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	if err := k.checkDy(in[0].Shape(), in[1].Shape()); err != nil {
		return err
	}
	pl, err := k.plan(&k.pl, in[0].Shape(), k.wShape)
	if err != nil {
		return err
	}
	switch dw := out.Data().(type) {
	case []float32:
		convBackwardFilterT(pl, dw, asSlice[float32](in[0]), asSlice[float32](in[1]))
	case []float64:
		convBackwardFilterT(pl, dw, asSlice[float64](in[0]), asSlice[float64](in[1]))
	default:
		return fmt.Errorf("unsupported dtype %v", out.Dtype())
	}
	return nil
}

func (k *convBackwardFilter) DiffWRT() []bool { return []bool{true, true} }

// Grad: dw = F(x, dy) is bilinear with <r, F(x, dy)> = <Conv2dOp(x, r), dy>
// = <BackwardInput(r, dy), x>.
func (k *convBackwardFilter) Grad(in G.Nodes, _, r *G.Node) (G.Nodes, error) {
	x, dy := in[0], in[1]
	dx := Apply(&convBackwardInput{convParams: k.convParams, xShape: x.Shape().Clone()}, r, dy)
	ddy := Apply(&convForward{convParams: k.convParams}, x, r)
	return G.Nodes{dx, ddy}, nil
}
