package nn

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/internal/linalg"
	"github.com/disiam/disiam/internal/parallel"
)

// Conv2D convolves x [N, C, H, W] with the filters w [O, C/groups, KH, KW]
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
// The gradient with respect to x is Conv2DBackwardInput and the one with
// respect to w is Conv2DBackwardFilter; both are differentiable again.
//
// # Computation
//
// The kernels pick a strategy from the shapes (all float32 or float64,
// multi-threaded with internal/parallel). Their GEMMs go to OpenBLAS with
// -tags openblas; in the default build float32 GEMMs run on an AVX2/FMA
// assembly kernel of this package (conv_sgemm.go) where the CPU has one,
// everything else on gonum.
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
func Conv2D(x, w *G.Node, stride, padding, dilation, groups int) *G.Node {
	p := newConvParams("Conv2D", stride, padding, dilation, groups)
	return Apply(&convForward{convParams: p}, x, w)
}

// Conv2DBackwardInput returns dL/dx of y = Conv2D(x, w, ...) given w
// [O, C/groups, KH, KW] and dy = dL/dy [N, O, OH, OW], where xShape is the
// shape of x (several input sizes map to one output size, so it must be
// given). It is also the transposed convolution (conv_transpose2d) of dy.
func Conv2DBackwardInput(w, dy *G.Node, xShape tensor.Shape, stride, padding, dilation, groups int) *G.Node {
	p := newConvParams("Conv2DBackwardInput", stride, padding, dilation, groups)
	if len(xShape) != 4 {
		panic(fmt.Sprintf("nn: Conv2DBackwardInput: input shape %v, want [N, C, H, W]", xShape))
	}
	return Apply(&convBackwardInput{convParams: p, xShape: xShape.Clone()}, w, dy)
}

// Conv2DBackwardFilter returns dL/dw, of shape wShape [O, C/groups, KH, KW],
// of y = Conv2D(x, w, ...) given x [N, C, H, W] and dy = dL/dy
// [N, O, OH, OW]: the sum over the batch of the correlation of dy with x.
func Conv2DBackwardFilter(x, dy *G.Node, wShape tensor.Shape, stride, padding, dilation, groups int) *G.Node {
	p := newConvParams("Conv2DBackwardFilter", stride, padding, dilation, groups)
	if len(wShape) != 4 {
		panic(fmt.Sprintf("nn: Conv2DBackwardFilter: filter shape %v, want [O, C/groups, KH, KW]", wShape))
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
	// sgemm computes C in tiles 16 columns wide: per-image products need
	// planes of 16 outputs to use them.
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

// Kernels. Each application of Conv2D (and of its gradients) gets its own
// kernel value, which caches the plan for its shapes.

type convForward struct {
	convParams
	pl *convPlan
}

func (k *convForward) Name() string  { return "Conv2D(" + k.convParams.String() + ")" }
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
	return fmt.Sprintf("Conv2DBackwardInput(%v, %s)", k.xShape, k.convParams)
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

// Grad: dx = B(w, dy) is bilinear with <r, B(w, dy)> = <Conv2D(r, w), dy>
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
	return fmt.Sprintf("Conv2DBackwardFilter(%v, %s)", k.wShape, k.convParams)
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

// Grad: dw = F(x, dy) is bilinear with <r, F(x, dy)> = <Conv2D(x, r), dy>
// = <BackwardInput(r, dy), x>.
func (k *convBackwardFilter) Grad(in G.Nodes, _, r *G.Node) (G.Nodes, error) {
	x, dy := in[0], in[1]
	dx := Apply(&convBackwardInput{convParams: k.convParams, xShape: x.Shape().Clone()}, r, dy)
	ddy := Apply(&convForward{convParams: k.convParams}, x, r)
	return G.Nodes{dx, ddy}, nil
}

// The computations, generic over the element type. Layouts: x [N, C, H, W],
// w [O, Cg, KH, KW], y [N, O, OH, OW], all row-major. The column matrix of a
// chunk of nb images has rows (c, t) for channel c and active tap t and
// columns (i, oh, ow) for image i of the chunk: element
// col[(c*ka+t)*ld + i*P + oh*OW + ow] with ld = nb*P. Packed filters wp
// [O, Cg*ka] keep the active taps only (they are w itself when all taps are
// active).

func convForwardT[T linalg.Float](pl *convPlan, y, x, w []T) {
	switch {
	case pl.ka == 0: // every tap reads padding only
		clear(y)
	case pl.depth:
		depthwiseForward(pl, y, x, w)
	case pl.linear:
		wp, wb := packFilters(pl, w)
		defer putScratch(wb)
		// y[N, O] = x[N, C] wpᵀ per group.
		for g := range pl.groups {
			pgemm(false, true, pl.n, pl.og, pl.cg, x[g*pl.cg:], pl.c, wp[g*pl.og*pl.cg:], pl.cg, 0, y[g*pl.og:], pl.o)
		}
	case pl.shift != nil:
		shiftForward(pl, y, x, w)
	case pl.perImg:
		wp, wb := packFilters(pl, w)
		defer putScratch(wb)
		kdim := pl.cg * pl.ka
		var colb *scratch[T]
		if !pl.point {
			colb = getScratch[T](pl.chunk * pl.rows * pl.p)
			defer putScratch(colb)
		}
		pb := padScratch[T](pl, pl.chunk)
		defer putScratch(pb)
		for n0 := 0; n0 < pl.n; n0 += pl.chunk {
			nb := min(pl.chunk, pl.n-n0)
			parallel.For(nb, 1, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					n := n0 + i
					var col []T
					if pl.point {
						col = x[n*pl.c*pl.hw:]
					} else {
						col = colb.s[i*pl.rows*pl.p:]
						im2col(pl, col, pl.p, x, n, 0, pl.c, padSlot(pl, pb, i, 1))
					}
					for g := range pl.groups {
						gemm(false, false, pl.og, pl.p, kdim, wp[g*pl.og*kdim:], kdim,
							col[g*kdim*pl.p:], pl.p, 0, y[(n*pl.o+g*pl.og)*pl.p:], pl.p)
					}
				}
			})
		}
	default:
		wp, wb := packFilters(pl, w)
		defer putScratch(wb)
		kdim := pl.cg * pl.ka
		colb := getScratch[T](pl.chunk * pl.rows * pl.p)
		defer putScratch(colb)
		yb := getScratch[T](pl.chunk * pl.o * pl.p)
		defer putScratch(yb)
		for n0 := 0; n0 < pl.n; n0 += pl.chunk {
			nb := min(pl.chunk, pl.n-n0)
			ld := nb * pl.p
			im2colChunk(pl, colb.s, x, n0, nb)
			for g := range pl.groups {
				pgemm(false, false, pl.og, ld, kdim, wp[g*pl.og*kdim:], kdim, colb.s[g*kdim*ld:], ld, 0, yb.s[g*pl.og*ld:], ld)
			}
			// yb [O, nb, P] -> y [n0:n0+nb, O, P]
			transposeChunk(pl, yb.s, y, n0, nb, false)
		}
	}
}

func convBackwardInputT[T linalg.Float](pl *convPlan, dx, w, dy []T) {
	switch {
	case pl.ka == 0:
		clear(dx)
	case pl.depth:
		depthwiseBackwardInput(pl, dx, w, dy)
	case pl.linear:
		wp, wb := packFilters(pl, w)
		defer putScratch(wb)
		// dx[N, C] = dy[N, O] wp per group.
		for g := range pl.groups {
			pgemm(false, false, pl.n, pl.cg, pl.og, dy[g*pl.og:], pl.o, wp[g*pl.og*pl.cg:], pl.cg, 0, dx[g*pl.cg:], pl.c)
		}
	case pl.shift != nil:
		shiftBackwardInput(pl, dx, w, dy)
	case pl.perImg:
		wp, wb := packFilters(pl, w)
		defer putScratch(wb)
		kdim := pl.cg * pl.ka
		var colb *scratch[T]
		if !pl.point {
			colb = getScratch[T](pl.chunk * pl.rows * pl.p)
			defer putScratch(colb)
		}
		pb := padScratch[T](pl, pl.chunk)
		defer putScratch(pb)
		for n0 := 0; n0 < pl.n; n0 += pl.chunk {
			nb := min(pl.chunk, pl.n-n0)
			parallel.For(nb, 1, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					n := n0 + i
					var dcol []T
					if pl.point {
						dcol = dx[n*pl.c*pl.hw:]
					} else {
						dcol = colb.s[i*pl.rows*pl.p:]
					}
					for g := range pl.groups {
						gemm(true, false, kdim, pl.p, pl.og, wp[g*pl.og*kdim:], kdim,
							dy[(n*pl.o+g*pl.og)*pl.p:], pl.p, 0, dcol[g*kdim*pl.p:], pl.p)
					}
					if !pl.point {
						col2im(pl, dx, n, 0, pl.c, dcol, pl.p, padSlot(pl, pb, i, 1))
					}
				}
			})
		}
	default:
		wp, wb := packFilters(pl, w)
		defer putScratch(wb)
		kdim := pl.cg * pl.ka
		colb := getScratch[T](pl.chunk * pl.rows * pl.p)
		defer putScratch(colb)
		yb := getScratch[T](pl.chunk * pl.o * pl.p)
		defer putScratch(yb)
		for n0 := 0; n0 < pl.n; n0 += pl.chunk {
			nb := min(pl.chunk, pl.n-n0)
			ld := nb * pl.p
			transposeChunk(pl, yb.s, dy, n0, nb, true)
			for g := range pl.groups {
				pgemm(true, false, kdim, ld, pl.og, wp[g*pl.og*kdim:], kdim, yb.s[g*pl.og*ld:], ld, 0, colb.s[g*kdim*ld:], ld)
			}
			col2imChunk(pl, dx, colb.s, n0, nb)
		}
	}
}

func convBackwardFilterT[T linalg.Float](pl *convPlan, dw, x, dy []T) {
	switch {
	case pl.ka == 0:
		clear(dw)
	case pl.depth:
		depthwiseBackwardFilter(pl, dw, x, dy)
	case pl.linear:
		dwp, wb := packedGrad(pl, dw)
		// dwp[O, Cg] = dy[N, O]ᵀ x[N, C] per group.
		for g := range pl.groups {
			pgemm(true, false, pl.og, pl.cg, pl.n, dy[g*pl.og:], pl.o, x[g*pl.cg:], pl.c, 0, dwp[g*pl.og*pl.cg:], pl.cg)
		}
		unpackGrad(pl, dw, dwp, wb)
	case pl.shift != nil:
		shiftBackwardFilter(pl, dw, x, dy)
	default:
		dwp, wb := packedGrad(pl, dw)
		kdim := pl.cg * pl.ka
		colb := getScratch[T](pl.chunk * pl.rows * pl.p)
		defer putScratch(colb)
		yb := getScratch[T](pl.chunk * pl.o * pl.p)
		defer putScratch(yb)
		// Chunks are summed in order with beta = 1: deterministic.
		var beta T
		for n0 := 0; n0 < pl.n; n0 += pl.chunk {
			nb := min(pl.chunk, pl.n-n0)
			ld := nb * pl.p
			im2colChunk(pl, colb.s, x, n0, nb)
			transposeChunk(pl, yb.s, dy, n0, nb, true)
			for g := range pl.groups {
				pgemm(false, true, pl.og, kdim, ld, yb.s[g*pl.og*ld:], ld, colb.s[g*kdim*ld:], ld, beta, dwp[g*pl.og*kdim:], kdim)
			}
			beta = 1
		}
		unpackGrad(pl, dw, dwp, wb)
	}
}

// packFilters returns the filters restricted to the active taps,
// [O, Cg*ka], and the scratch holding them (nil when that is w itself).
func packFilters[T linalg.Float](pl *convPlan, w []T) ([]T, *scratch[T]) {
	if pl.dense {
		return w, nil
	}
	b := getScratch[T](pl.o * pl.cg * pl.ka)
	parallel.For(pl.o, parallel.Grain(pl.o, 16), func(lo, hi int) {
		if pl.ka == 1 {
			tap := pl.taps[0]
			strided(b.s[lo*pl.cg:hi*pl.cg], w[lo*pl.cg*pl.kk+tap:], pl.kk)
			return
		}
		for oc := lo * pl.cg; oc < hi*pl.cg; oc++ {
			src := w[oc*pl.kk:][:pl.kk]
			dst := b.s[oc*pl.ka:][:pl.ka]
			for t, tap := range pl.taps {
				dst[t] = src[tap]
			}
		}
	})
	return b.s, b
}

// packedGrad returns where to accumulate the packed filter gradient: dw
// itself when all taps are active, else scratch.
func packedGrad[T linalg.Float](pl *convPlan, dw []T) ([]T, *scratch[T]) {
	if pl.dense {
		return dw, nil
	}
	b := getScratch[T](pl.o * pl.cg * pl.ka)
	return b.s, b
}

// unpackGrad scatters the packed gradient into dw (zero at inactive taps)
// and releases its scratch.
func unpackGrad[T linalg.Float](pl *convPlan, dw, dwp []T, b *scratch[T]) {
	if b == nil {
		return
	}
	parallel.For(pl.o, parallel.Grain(pl.o, 16), func(lo, hi int) {
		d := dw[lo*pl.cg*pl.kk : hi*pl.cg*pl.kk]
		clear(d)
		if pl.ka == 1 {
			scatterStrided(d[pl.taps[0]:], dwp[lo*pl.cg:hi*pl.cg], pl.kk)
			return
		}
		for oc := lo * pl.cg; oc < hi*pl.cg; oc++ {
			src := dwp[oc*pl.ka:][:pl.ka]
			dst := dw[oc*pl.kk:][:pl.kk]
			for t, tap := range pl.taps {
				dst[tap] = src[t]
			}
		}
	})
	putScratch(b)
}

// im2col writes the rows of channels [c0, c1) of image n's column matrix
// (not for pointwise convolutions, whose column matrix is the image):
// element (c*ka+t, oh*OW+ow) goes to col[(c*ka+t)*ld + oh*OW + ow]. pad is
// scratch for one padded plane (gather path with padding only).
func im2col[T linalg.Float](pl *convPlan, col []T, ld int, x []T, n, c0, c1 int, pad []T) {
	for c := c0; c < c1; c++ {
		xc := x[(n*pl.c+c)*pl.hw:][:pl.hw]
		switch {
		case pl.gather:
			src := xc
			if pl.pad > 0 {
				src = padPlane(pl, pad, xc)
			}
			for t, base := range pl.tapOff {
				gatherRow(col[(c*pl.ka+t)*ld:], src[base:], pl.posOff)
			}
		default:
			im2colRows(pl, col, ld, xc, c)
		}
	}
}

// padPlane copies the plane xc into the middle of the zero-bordered plane
// pad [H+2*padding, W+2*padding] and returns it.
func padPlane[T linalg.Float](pl *convPlan, pad, xc []T) []T {
	wp := pl.w + 2*pl.pad
	pad = pad[:(pl.h+2*pl.pad)*wp]
	clear(pad[:pl.pad*wp])
	clear(pad[(pl.h+pl.pad)*wp:])
	for ih := range pl.h {
		row := pad[(ih+pl.pad)*wp:][:wp]
		src := xc[ih*pl.w:][:pl.w]
		for j := range pl.pad {
			row[j] = 0
			row[wp-1-j] = 0
		}
		// A loop beats copy's call for the narrow planes this serves.
		dst := row[pl.pad:][:len(src)]
		for j, v := range src {
			dst[j] = v
		}
	}
	return pad
}

// im2colRows is im2col for one channel by row copies, for wide planes.
func im2colRows[T linalg.Float](pl *convPlan, col []T, ld int, xc []T, c int) {
	s, ow := pl.stride, pl.ow
	for t := range pl.ka {
		kh, kw := pl.tapH[t], pl.tapW[t]
		row := col[(c*pl.ka+t)*ld:][:pl.p]
		ohLo, ohHi := pl.ohLo[kh], pl.ohHi[kh]
		owLo, owHi := pl.owLo[kw], pl.owHi[kw]
		ihOff, iwOff := kh*pl.dil-pl.pad, kw*pl.dil-pl.pad
		clear(row[:ohLo*ow])
		clear(row[ohHi*ow:])
		for oh := ohLo; oh < ohHi; oh++ {
			seg := row[oh*ow : oh*ow+ow]
			clear(seg[:owLo])
			clear(seg[owHi:])
			src := xc[(oh*s+ihOff)*pl.w:][:pl.w]
			if s == 1 {
				copy(seg[owLo:owHi], src[owLo+iwOff:])
			} else {
				for j := owLo; j < owHi; j++ {
					seg[j] = src[j*s+iwOff]
				}
			}
		}
	}
}

// col2im sets the planes of channels [c0, c1) of image n of dx to the sum
// of their column-matrix entries (the layout of im2col); pad as there.
func col2im[T linalg.Float](pl *convPlan, dx []T, n, c0, c1 int, col []T, ld int, pad []T) {
	for c := c0; c < c1; c++ {
		dxc := dx[(n*pl.c+c)*pl.hw:][:pl.hw]
		switch {
		case pl.gather:
			dst := dxc
			if pl.pad > 0 {
				dst = pad[:(pl.h+2*pl.pad)*(pl.w+2*pl.pad)]
			}
			clear(dst)
			for t, base := range pl.tapOff {
				scatterAddRow(dst[base:], col[(c*pl.ka+t)*ld:], pl.posOff)
			}
			if pl.pad > 0 {
				wp := pl.w + 2*pl.pad
				for ih := range pl.h {
					copy(dxc[ih*pl.w:(ih+1)*pl.w], dst[(ih+pl.pad)*wp+pl.pad:])
				}
			}
		default:
			col2imRows(pl, dxc, col, ld, c)
		}
	}
}

// col2imRows is col2im for one channel by rows, for wide planes.
func col2imRows[T linalg.Float](pl *convPlan, dxc, col []T, ld, c int) {
	s, ow := pl.stride, pl.ow
	clear(dxc)
	for t := range pl.ka {
		kh, kw := pl.tapH[t], pl.tapW[t]
		row := col[(c*pl.ka+t)*ld:][:pl.p]
		owLo, owHi := pl.owLo[kw], pl.owHi[kw]
		ihOff, iwOff := kh*pl.dil-pl.pad, kw*pl.dil-pl.pad
		for oh := pl.ohLo[kh]; oh < pl.ohHi[kh]; oh++ {
			seg := row[oh*ow+owLo : oh*ow+owHi]
			dst := dxc[(oh*s+ihOff)*pl.w:][:pl.w]
			if s == 1 {
				d := dst[owLo+iwOff:][:len(seg)]
				for j, v := range seg {
					d[j] += v
				}
			} else {
				for j, v := range seg {
					dst[(owLo+j)*s+iwOff] += v
				}
			}
		}
	}
}

// padScratch returns scratch for the given number of padded planes (nil
// when the kernels need none).
func padScratch[T linalg.Float](pl *convPlan, planes int) *scratch[T] {
	if !pl.gather || pl.pad == 0 {
		return nil
	}
	return getScratch[T](planes * pl.padLen)
}

// padSlot is the i-th group of the given number of planes of a padScratch
// buffer.
func padSlot[T linalg.Float](pl *convPlan, b *scratch[T], i, planes int) []T {
	if b == nil {
		return nil
	}
	return b.s[i*planes*pl.padLen:][:planes*pl.padLen]
}

// imageBlock is how many images one parallel unit of im2colChunk and
// col2imChunk handles for one channel: enough units for the workers, long
// runs of consecutive writes for each.
func (pl *convPlan) imageBlock(nb int) int {
	return min(nb, max(1, (nb*pl.c+31)/32))
}

// im2colChunk fills the column matrix of images [n0, n0+nb), in parallel
// over (channel, image block) pairs; each writes its rows sequentially.
func im2colChunk[T linalg.Float](pl *convPlan, col, x []T, n0, nb int) {
	ld := nb * pl.p
	ib := pl.imageBlock(nb)
	blocks := (nb + ib - 1) / ib
	units := pl.c * blocks
	grain := parallel.Grain(units, max(1, pl.unitMin/ib))
	pb := padScratch[T](pl, parallel.Chunks(units, grain)*ib)
	defer putScratch(pb)
	parallel.For(units, grain, func(lo, hi int) {
		pad := padSlot(pl, pb, lo/grain, ib)
		for u := lo; u < hi; u++ {
			c, i0 := u/blocks, (u%blocks)*ib
			i1 := min(nb, i0+ib)
			switch {
			case pl.point:
				for i := i0; i < i1; i++ {
					copy(col[c*ld+i*pl.p:][:pl.p], x[((n0+i)*pl.c+c)*pl.hw:][:pl.hw])
				}
			case pl.gather:
				im2colGather(pl, col, ld, x, n0, c, i0, i1, pad)
			default:
				for i := i0; i < i1; i++ {
					im2colRows(pl, col[i*pl.p:], ld, x[((n0+i)*pl.c+c)*pl.hw:][:pl.hw], c)
				}
			}
		}
	})
}

// im2colGather writes the rows of channel c for images [i0, i1) of the
// chunk starting at image n0, by offset tables, row by row.
func im2colGather[T linalg.Float](pl *convPlan, col []T, ld int, x []T, n0, c, i0, i1 int, pad []T) {
	plane := func(i int) []T { return x[((n0+i)*pl.c+c)*pl.hw:][:pl.hw] }
	if pl.pad > 0 {
		for i := i0; i < i1; i++ {
			padPlane(pl, pad[(i-i0)*pl.padLen:], plane(i))
		}
	}
	for t, base := range pl.tapOff {
		row := col[(c*pl.ka+t)*ld:]
		for i := i0; i < i1; i++ {
			var st []T
			if pl.pad > 0 {
				st = pad[(i-i0)*pl.padLen+base:]
			} else {
				st = plane(i)[base:]
			}
			gatherRow(row[i*pl.p:], st, pl.posOff)
		}
	}
}

// gatherRow sets dst[p] = src[off[p]]. It is a function of its own so that
// the loop keeps its state in registers.
func gatherRow[T linalg.Float](dst, src []T, off []int32) {
	dst = dst[:len(off)]
	for p, o := range off {
		dst[p] = src[o]
	}
}

// scatterAddRow adds src[p] to dst[off[p]].
func scatterAddRow[T linalg.Float](dst, src []T, off []int32) {
	src = src[:len(off)]
	for p, o := range off {
		dst[o] += src[p]
	}
}

// col2imChunk is im2colChunk's adjoint: it sets dx of images [n0, n0+nb)
// to the sums of their column-matrix entries.
func col2imChunk[T linalg.Float](pl *convPlan, dx, col []T, n0, nb int) {
	ld := nb * pl.p
	ib := pl.imageBlock(nb)
	blocks := (nb + ib - 1) / ib
	units := pl.c * blocks
	grain := parallel.Grain(units, max(1, pl.unitMin/ib))
	pb := padScratch[T](pl, parallel.Chunks(units, grain)*ib)
	defer putScratch(pb)
	parallel.For(units, grain, func(lo, hi int) {
		pad := padSlot(pl, pb, lo/grain, ib)
		for u := lo; u < hi; u++ {
			c, i0 := u/blocks, (u%blocks)*ib
			i1 := min(nb, i0+ib)
			switch {
			case pl.point:
				for i := i0; i < i1; i++ {
					copy(dx[((n0+i)*pl.c+c)*pl.hw:][:pl.hw], col[c*ld+i*pl.p:][:pl.p])
				}
			case pl.gather:
				col2imGather(pl, dx, col, ld, n0, c, i0, i1, pad)
			default:
				for i := i0; i < i1; i++ {
					col2imRows(pl, dx[((n0+i)*pl.c+c)*pl.hw:][:pl.hw], col[i*pl.p:], ld, c)
				}
			}
		}
	})
}

// col2imGather is im2colGather's adjoint.
func col2imGather[T linalg.Float](pl *convPlan, dx, col []T, ld, n0, c, i0, i1 int, pad []T) {
	plane := func(i int) []T { return dx[((n0+i)*pl.c+c)*pl.hw:][:pl.hw] }
	if pl.pad > 0 {
		clear(pad[:(i1-i0)*pl.padLen])
	} else {
		for i := i0; i < i1; i++ {
			clear(plane(i))
		}
	}
	for t, base := range pl.tapOff {
		row := col[(c*pl.ka+t)*ld:]
		for i := i0; i < i1; i++ {
			var dt []T
			if pl.pad > 0 {
				dt = pad[(i-i0)*pl.padLen+base:]
			} else {
				dt = plane(i)[base:]
			}
			scatterAddRow(dt, row[i*pl.p:], pl.posOff)
		}
	}
	if pl.pad > 0 {
		wp := pl.w + 2*pl.pad
		for i := i0; i < i1; i++ {
			d, src := plane(i), pad[(i-i0)*pl.padLen:]
			for ih := range pl.h {
				copy(d[ih*pl.w:(ih+1)*pl.w], src[(ih+pl.pad)*wp+pl.pad:])
			}
		}
	}
}

// transposeChunk moves images [n0, n0+nb) between the NCHW tensor t
// [N, O, P] and the chunk matrix m [O, nb*P]: into m if toChunk, else out
// of it.
func transposeChunk[T linalg.Float](pl *convPlan, m, t []T, n0, nb int, toChunk bool) {
	ld := nb * pl.p
	parallel.For(nb, parallel.Grain(nb, max(1, (1<<14)/(pl.o*pl.p))), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			img := t[(n0+i)*pl.o*pl.p:][:pl.o*pl.p]
			if pl.p == 1 {
				if toChunk {
					for oc, v := range img {
						m[oc*ld+i] = v
					}
				} else {
					for oc := range img {
						img[oc] = m[oc*ld+i]
					}
				}
				continue
			}
			for oc := range pl.o {
				a := img[oc*pl.p:][:pl.p]
				b := m[oc*ld+i*pl.p:][:pl.p]
				if toChunk {
					copy(b, a)
				} else {
					copy(a, b)
				}
			}
		}
	})
}

var (
	// gonumBLAS is whether linalg runs gonum's pure-Go BLAS.
	gonumBLAS = linalg.Backend == "gonum"
	// useSgemm is whether gemm runs float32 products with sgemm
	// (conv_sgemm.go) instead of gonum's.
	useSgemm = gonumBLAS && haveAVX2FMA()
)

// gemm is linalg.Gemm with alpha 1, computed on the calling goroutine. In
// the default build float32 products go to sgemm where the CPU has AVX2.
// gonum's Sgemm hands products of four or more 64x64 blocks of C to
// goroutines of its own, which would oversubscribe the kernels' workers,
// so under gonum C is computed in pieces of at most three such blocks.
func gemm[T linalg.Float](tA, tB bool, m, n, k int, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if useSgemm {
		if c32, ok := any(c).([]float32); ok {
			sgemm(tA, tB, m, n, k, any(a).([]float32), lda, any(b).([]float32), ldb, float32(beta), c32, ldc)
			return
		}
	}
	const tm, tn = 64, 192
	if !gonumBLAS || m <= tm && n <= tn || m <= 3*tm && n <= tm {
		linalg.Gemm(tA, tB, m, n, k, 1, a, lda, b, ldb, beta, c, ldc)
		return
	}
	for i := 0; i < m; i += tm {
		var ai []T
		if tA {
			ai = a[i:]
		} else {
			ai = a[i*lda:]
		}
		for j := 0; j < n; j += tn {
			var bj []T
			if tB {
				bj = b[j*ldb:]
			} else {
				bj = b[j:]
			}
			linalg.Gemm(tA, tB, min(tm, m-i), min(tn, n-j), k, 1, ai, lda, bj, ldb, beta, c[i*ldc+j:], ldc)
		}
	}
}

// pgemm is gemm split over the larger of C's dimensions into blocks that
// depend only on the sizes, run concurrently. Every element of C is
// computed by one call over the full k, so the result does not depend on
// parallel.Workers.
func pgemm[T linalg.Float](tA, tB bool, m, n, k int, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	const (
		minFlops = 1 << 22 // below this one call is cheaper than a split
		blocks   = 4       // target number of blocks
		align    = 16
	)
	if 2*m*n*k < minFlops || max(m, n) < 2*align {
		gemm(tA, tB, m, n, k, a, lda, b, ldb, beta, c, ldc)
		return
	}
	bs := func(d int) int { return max(align, ((d+blocks-1)/blocks+align-1)/align*align) }
	if n >= m {
		parallel.For(n, bs(n), func(lo, hi int) {
			var bb []T
			if tB {
				bb = b[lo*ldb:]
			} else {
				bb = b[lo:]
			}
			gemm(tA, tB, m, hi-lo, k, a, lda, bb, ldb, beta, c[lo:], ldc)
		})
		return
	}
	parallel.For(m, bs(m), func(lo, hi int) {
		var ab []T
		if tA {
			ab = a[lo:]
		} else {
			ab = a[lo*lda:]
		}
		gemm(tA, tB, hi-lo, n, k, ab, lda, b, ldb, beta, c[lo*ldc:], ldc)
	})
}
