package ssl

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/internal/linalg"
	"github.com/disiam/disiam/internal/parallel"
	"github.com/disiam/disiam/nn"
)

// This file holds the nn.Kernel implementations behind the losses of
// loss.go. Every kernel computes in float64 internally (accumulations,
// exponentials, norms) and writes the output in the inputs' dtype, so
// float32 graphs get float32 results and float64 gradient checks are exact
// to rounding.

// normEps is the eps of torch.nn.functional.normalize: a row x is divided
// by max(‖x‖, normEps).
const normEps = 1e-12

// vals returns the elements of t as a slice, also for a scalar tensor of
// shape () (whose Data is a bare value).
func vals[T float32 | float64](t *tensor.Dense) []T {
	switch d := t.Data().(type) {
	case []T:
		return d
	case T:
		return []T{d}
	}
	panic(fmt.Sprintf("ssl: unexpected tensor data %T", t.Data()))
}

// scalarOf returns the value of a scalar (shape () or (1)) tensor.
func scalarOf(t *tensor.Dense) float64 {
	switch d := t.Data().(type) {
	case float32:
		return float64(d)
	case float64:
		return d
	case []float32:
		return float64(d[0])
	case []float64:
		return d[0]
	}
	panic(fmt.Sprintf("ssl: unexpected scalar data %T", t.Data()))
}

func errDtype(dt tensor.Dtype) error { return fmt.Errorf("unsupported dtype %v", dt) }

// rowGrain is the number of rows a parallel chunk handles: chunk
// boundaries depend only on the row count, so results do not depend on the
// number of workers.
func rowGrain(rows int) int { return parallel.Grain(rows, 16) }

// sameMatrices checks that all shapes are equal matrices of at least one
// row and column.
func sameMatrices(in []tensor.Shape) error {
	for i, s := range in {
		if s.Dims() != 2 || s[0] < 1 || s[1] < 1 {
			return fmt.Errorf("input %d has shape %v, want [N, D]", i, s)
		}
		if !s.Eq(in[0]) {
			return fmt.Errorf("input %d has shape %v, input 0 has %v", i, s, in[0])
		}
	}
	return nil
}

// ---------------------------------------------------------------------------
// Row-wise cosine: out = offset + scale * mean_i cos(p_i, z_i).

// cosineLoss is the scalar offset + scale*(1/N)Σ_i cos(p_i, z_i) of two
// [N, D] inputs, with cos computed as torch's
// (normalize(p) * normalize(z)).sum(1). diffZ false makes the kernel
// non-differentiable in z: the losses use it only where z already comes out
// of nn.StopGradient, so that no dead gradient node is built for z.
type cosineLoss struct {
	name          string
	offset, scale float64
	diffZ         bool
	cos           *[]float64 // per-row cosines, reused between runs
}

func (k cosineLoss) Name() string  { return k.name }
func (k cosineLoss) InDims() []int { return []int{2, 2} }
func (k cosineLoss) OutDims() int  { return 0 }
func (k cosineLoss) OutShape(in []tensor.Shape) (tensor.Shape, error) {
	if err := sameMatrices(in); err != nil {
		return nil, err
	}
	return tensor.ScalarShape(), nil
}

func (k cosineLoss) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	switch out.Dtype() {
	case tensor.Float32:
		vals[float32](out)[0] = float32(cosineMean(k.rows(in[0]), vals[float32](in[0]), vals[float32](in[1]), in[0].Shape(), k.offset, k.scale))
	case tensor.Float64:
		vals[float64](out)[0] = cosineMean(k.rows(in[0]), vals[float64](in[0]), vals[float64](in[1]), in[0].Shape(), k.offset, k.scale)
	default:
		return errDtype(out.Dtype())
	}
	return nil
}

// rows returns the kernel's per-row buffer sized for x's rows.
func (k cosineLoss) rows(x *tensor.Dense) []float64 {
	if n := x.Shape()[0]; len(*k.cos) != n {
		*k.cos = make([]float64, n)
	}
	return *k.cos
}

func (k cosineLoss) DiffWRT() []bool { return []bool{true, k.diffZ} }

func (k cosineLoss) Grad(in G.Nodes, _, dOut *G.Node) (G.Nodes, error) {
	gs := G.Nodes{nn.Apply(cosineGrad{scale: k.scale, wrt: 0}, in[0], in[1], dOut), nil}
	if k.diffZ {
		gs[1] = nn.Apply(cosineGrad{scale: k.scale, wrt: 1}, in[0], in[1], dOut)
	}
	return gs, nil
}

// rowCos returns cos(a, b) as torch computes it through normalize, with
// the clamped norms of a and b.
func rowCos[T float32 | float64](a, b []T) (c, na, nb float64) {
	var ab, aa, bb float64
	for j := range a {
		x, y := float64(a[j]), float64(b[j])
		ab += x * y
		aa += x * x
		bb += y * y
	}
	na = math.Max(math.Sqrt(aa), normEps)
	nb = math.Max(math.Sqrt(bb), normEps)
	return ab / (na * nb), na, nb
}

func cosineMean[T float32 | float64](cs []float64, p, z []T, s tensor.Shape, offset, scale float64) float64 {
	n, d := s[0], s[1]
	parallel.For(n, rowGrain(n), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			cs[i], _, _ = rowCos(p[i*d:(i+1)*d], z[i*d:(i+1)*d])
		}
	})
	var sum float64
	for _, c := range cs {
		sum += c
	}
	return offset + scale*sum/float64(n)
}

// cosineGrad is the gradient of cosineLoss with respect to input wrt
// (0: p, 1: z), given p, z and the output's gradient.
type cosineGrad struct {
	scale float64
	wrt   int
}

func (k cosineGrad) Name() string  { return fmt.Sprintf("CosineGrad(wrt=%d)", k.wrt) }
func (k cosineGrad) InDims() []int { return []int{2, 2, 0} }
func (k cosineGrad) OutDims() int  { return 2 }
func (k cosineGrad) OutShape(in []tensor.Shape) (tensor.Shape, error) {
	if err := sameMatrices(in[:2]); err != nil {
		return nil, err
	}
	return in[0].Clone(), nil
}

func (k cosineGrad) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	g := scalarOf(in[2])
	switch out.Dtype() {
	case tensor.Float32:
		cosineBackward(vals[float32](out), vals[float32](in[0]), vals[float32](in[1]), in[0].Shape(), g*k.scale, k.wrt)
	case tensor.Float64:
		cosineBackward(vals[float64](out), vals[float64](in[0]), vals[float64](in[1]), in[0].Shape(), g*k.scale, k.wrt)
	default:
		return errDtype(out.Dtype())
	}
	return nil
}

// cosineBackward writes d/d(a) of (s/N) Σ_i cos(p_i, z_i) into out, where
// a is p (wrt 0) or z (wrt 1). With u = a/max(‖a‖, eps) and v the other
// normalized row: d cos/d a = (v - cos·u)/‖a‖ when ‖a‖ ≥ eps, and v/eps
// otherwise (the clamp's gradient is zero), exactly as autograd through
// torch.nn.functional.normalize.
func cosineBackward[T float32 | float64](out, p, z []T, s tensor.Shape, scale float64, wrt int) {
	n, d := s[0], s[1]
	scale /= float64(n)
	parallel.For(n, rowGrain(n), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			a, b := p[i*d:(i+1)*d], z[i*d:(i+1)*d]
			if wrt == 1 {
				a, b = b, a
			}
			c, na, nb := rowCos(a, b)
			o := out[i*d : (i+1)*d]
			proj := c / na // coefficient of a in the tangential projection
			if na == normEps {
				proj = 0
			}
			for j := range o {
				o[j] = T(scale * (float64(b[j])/nb - proj*float64(a[j])) / na)
			}
		}
	})
}

// ---------------------------------------------------------------------------
// NT-Xent.

// ntXent is the NT-Xent (InfoNCE) loss of two [N, D] views, averaged over
// the 2N anchors, with the positive of row i of z1 being row i of z2 and
// vice versa. Its forward pass keeps, in its scratch, the normalized rows
// and the softmax matrix that its two gradient kernels (one per view)
// read: they take the loss node as an input, so they always run after the
// forward pass of the same Run.
type ntXent struct {
	tau float64
	s32 *ntScratch[float32]
	s64 *ntScratch[float64]
}

// ntScratch holds the normalized rows U [2N, D] and their (clamped) norms,
// the matrix P [2N, 2N] (first S = U Uᵀ/τ, then, row by row, the softmax
// over k ≠ r of S[r, k], with P[r, r] = 0) and the per-anchor losses.
type ntScratch[T float32 | float64] struct {
	u, p  []T
	norms []float64
	loss  []float64
}

func (k *ntXent) Name() string  { return fmt.Sprintf("NTXent(tau=%g)", k.tau) }
func (k *ntXent) InDims() []int { return []int{2, 2} }
func (k *ntXent) OutDims() int  { return 0 }
func (k *ntXent) OutShape(in []tensor.Shape) (tensor.Shape, error) {
	if err := sameMatrices(in); err != nil {
		return nil, err
	}
	return tensor.ScalarShape(), nil
}

func (k *ntXent) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	switch out.Dtype() {
	case tensor.Float32:
		k.s32 = ntForward(k.s32, vals[float32](in[0]), vals[float32](in[1]), in[0].Shape(), k.tau)
		vals[float32](out)[0] = float32(k.s32.mean())
	case tensor.Float64:
		k.s64 = ntForward(k.s64, vals[float64](in[0]), vals[float64](in[1]), in[0].Shape(), k.tau)
		vals[float64](out)[0] = k.s64.mean()
	default:
		return errDtype(out.Dtype())
	}
	return nil
}

func (k *ntXent) DiffWRT() []bool { return []bool{true, true} }

func (k *ntXent) Grad(in G.Nodes, out, dOut *G.Node) (G.Nodes, error) {
	return G.Nodes{
		nn.Apply(&ntXentGrad{fwd: k, view: 0}, in[0], in[1], out, dOut),
		nn.Apply(&ntXentGrad{fwd: k, view: 1}, in[0], in[1], out, dOut),
	}, nil
}

func (s *ntScratch[T]) mean() float64 {
	var sum float64
	for _, l := range s.loss {
		sum += l
	}
	return sum / float64(len(s.loss))
}

// ntForward fills the scratch (allocating on first use or on a shape
// change) and the per-anchor losses lse_r - S[r, pos(r)], with lse_r the
// log-sum-exp of row r of S over k ≠ r and pos(r) = (r + N) mod 2N.
func ntForward[T float32 | float64](s *ntScratch[T], z1, z2 []T, shape tensor.Shape, tau float64) *ntScratch[T] {
	n, d := shape[0], shape[1]
	n2 := 2 * n
	if s == nil || len(s.u) != n2*d || len(s.norms) != n2 {
		s = &ntScratch[T]{u: make([]T, n2*d), p: make([]T, n2*n2), norms: make([]float64, n2), loss: make([]float64, n2)}
	}
	parallel.For(n2, rowGrain(n2), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			var x []T
			if r < n {
				x = z1[r*d : (r+1)*d]
			} else {
				x = z2[(r-n)*d : (r-n+1)*d]
			}
			var ss float64
			for _, v := range x {
				ss += float64(v) * float64(v)
			}
			nr := math.Max(math.Sqrt(ss), normEps)
			s.norms[r] = nr
			u := s.u[r*d : (r+1)*d]
			for j, v := range x {
				u[j] = T(float64(v) / nr)
			}
		}
	})
	linalg.ParallelGemm(false, true, n2, n2, d, T(1/tau), s.u, d, s.u, d, 0, s.p, n2)
	parallel.For(n2, rowGrain(n2), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row := s.p[r*n2 : (r+1)*n2]
			m := math.Inf(-1)
			for j, v := range row {
				if j != r && float64(v) > m {
					m = float64(v)
				}
			}
			pos := float64(row[(r+n)%n2])
			var e float64
			for j, v := range row {
				if j == r {
					row[j] = 0
					continue
				}
				x := math.Exp(float64(v) - m)
				row[j] = T(x)
				e += x
			}
			s.loss[r] = m + math.Log(e) - pos
			inv := 1 / e
			for j, v := range row {
				row[j] = T(float64(v) * inv)
			}
		}
	})
	return s
}

// ntXentGrad is the gradient of ntXent with respect to one view (0: z1,
// 1: z2), computed from the forward kernel's scratch. Its inputs are z1,
// z2 (for the shape), the loss node (so that it runs after the forward
// pass) and the loss gradient.
type ntXentGrad struct {
	fwd  *ntXent
	view int
}

func (k *ntXentGrad) Name() string {
	return fmt.Sprintf("NTXentGrad(tau=%g,view=%d)", k.fwd.tau, k.view)
}
func (k *ntXentGrad) InDims() []int { return []int{2, 2, 0, 0} }
func (k *ntXentGrad) OutDims() int  { return 2 }
func (k *ntXentGrad) OutShape(in []tensor.Shape) (tensor.Shape, error) {
	if err := sameMatrices(in[:2]); err != nil {
		return nil, err
	}
	return in[0].Clone(), nil
}

func (k *ntXentGrad) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	g := scalarOf(in[3])
	switch out.Dtype() {
	case tensor.Float32:
		if k.fwd.s32 == nil {
			return fmt.Errorf("forward pass has not run")
		}
		ntBackward(k.fwd.s32, vals[float32](out), in[0].Shape(), k.fwd.tau, g, k.view)
	case tensor.Float64:
		if k.fwd.s64 == nil {
			return fmt.Errorf("forward pass has not run")
		}
		ntBackward(k.fwd.s64, vals[float64](out), in[0].Shape(), k.fwd.tau, g, k.view)
	default:
		return errDtype(out.Dtype())
	}
	return nil
}

// ntBackward writes the gradient of the mean NT-Xent loss, times g, with
// respect to the rows of one view. With P the masked row softmax of S, Y
// the positives and G = (P - Y)/(2N), dL/dS = G, and S = U Uᵀ/τ gives
//
//	dL/dU_m = (1/τ) Σ_j (G_mj + G_jm) U_j
//	        = α (P[m,:] U + P[:,m]ᵀ U - 2 U_pos(m)),   α = g/(2Nτ),
//
// two matrix products over the view's rows (m) and columns. The
// normalization then maps dU_m to (dU_m - (u_m·dU_m) u_m)/‖z_m‖ (dU_m/eps
// where the norm is clamped).
func ntBackward[T float32 | float64](s *ntScratch[T], out []T, shape tensor.Shape, tau, g float64, view int) {
	n, d := shape[0], shape[1]
	n2 := 2 * n
	off := view * n
	alpha := g / (float64(n2) * tau)
	// rows: P[off:off+n, :] U
	linalg.ParallelGemm(false, false, n, d, n2, T(alpha), s.p[off*n2:], n2, s.u, d, 0, out, d)
	// columns: P[:, off:off+n]ᵀ U
	linalg.ParallelGemm(true, false, n, d, n2, T(alpha), s.p[off:], n2, s.u, d, 1, out, d)
	parallel.For(n, rowGrain(n), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			m := off + i
			pos := (m + n) % n2
			o := out[i*d : (i+1)*d]
			up := s.u[pos*d : (pos+1)*d]
			for j := range o {
				o[j] = T(float64(o[j]) - 2*alpha*float64(up[j]))
			}
			nr := s.norms[m]
			if nr == normEps {
				for j := range o {
					o[j] = T(float64(o[j]) / nr)
				}
				continue
			}
			u := s.u[m*d : (m+1)*d]
			var dot float64
			for j := range o {
				dot += float64(u[j]) * float64(o[j])
			}
			for j := range o {
				o[j] = T((float64(o[j]) - dot*float64(u[j])) / nr)
			}
		}
	})
}

// ---------------------------------------------------------------------------
// Linear combinations of same-shape nodes (used for scalars: the terms of
// a symmetric or multi-view loss).

// weightedSum is Σ_i w[i]·x_i over inputs of equal shape. It reads w at
// every run (see WeightedSum).
type weightedSum struct {
	w    []float64
	dims int
}

func (k weightedSum) Name() string { return fmt.Sprintf("WeightedSum(%d)", len(k.w)) }
func (k weightedSum) InDims() []int {
	ds := make([]int, len(k.w))
	for i := range ds {
		ds[i] = k.dims
	}
	return ds
}
func (k weightedSum) OutShape(in []tensor.Shape) (tensor.Shape, error) {
	for i, s := range in {
		if !s.Eq(in[0]) {
			return nil, fmt.Errorf("input %d has shape %v, input 0 has %v", i, s, in[0])
		}
	}
	return in[0].Clone(), nil
}

func (k weightedSum) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	switch out.Dtype() {
	case tensor.Float32:
		combine(vals[float32](out), in, k.w)
	case tensor.Float64:
		combine(vals[float64](out), in, k.w)
	default:
		return errDtype(out.Dtype())
	}
	return nil
}

func combine[T float32 | float64](out []T, in []*tensor.Dense, w []float64) {
	xs := make([][]T, len(in))
	for i, t := range in {
		xs[i] = vals[T](t)
	}
	for j := range out {
		var s float64
		for i, x := range xs {
			s += w[i] * float64(x[j])
		}
		out[j] = T(s)
	}
}

func (k weightedSum) DiffWRT() []bool {
	d := make([]bool, len(k.w))
	for i := range d {
		d[i] = true
	}
	return d
}

func (k weightedSum) Grad(in G.Nodes, _, dOut *G.Node) (G.Nodes, error) {
	gs := make(G.Nodes, len(in))
	for i := range in {
		gs[i] = nn.Apply(scaledBy{w: k.w, i: i, dims: k.dims}, dOut)
	}
	return gs, nil
}

// scaledBy is w[i]·x, reading w at every run; it is weightedSum's gradient.
type scaledBy struct {
	w    []float64
	i    int
	dims int
}

func (k scaledBy) Name() string  { return fmt.Sprintf("ScaledBy(w[%d])", k.i) }
func (k scaledBy) InDims() []int { return []int{k.dims} }
func (k scaledBy) OutShape(in []tensor.Shape) (tensor.Shape, error) {
	return in[0].Clone(), nil
}
func (k scaledBy) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	w := []float64{k.w[k.i]}
	switch out.Dtype() {
	case tensor.Float32:
		combine(vals[float32](out), in, w)
	case tensor.Float64:
		combine(vals[float64](out), in, w)
	default:
		return errDtype(out.Dtype())
	}
	return nil
}
func (k scaledBy) DiffWRT() []bool { return []bool{true} }
func (k scaledBy) Grad(_ G.Nodes, _, dOut *G.Node) (G.Nodes, error) {
	return G.Nodes{nn.Apply(k, dOut)}, nil
}

// ---------------------------------------------------------------------------
// L2 normalization of rows.

// l2Normalize is x_i / max(‖x_i‖, 1e-12) for each row of [N, D].
type l2Normalize struct{}

func (l2Normalize) Name() string  { return "L2Normalize" }
func (l2Normalize) InDims() []int { return []int{2} }
func (l2Normalize) OutShape(in []tensor.Shape) (tensor.Shape, error) {
	if err := sameMatrices(in); err != nil {
		return nil, err
	}
	return in[0].Clone(), nil
}
func (l2Normalize) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	switch out.Dtype() {
	case tensor.Float32:
		normalizeRows(vals[float32](out), vals[float32](in[0]), in[0].Shape())
	case tensor.Float64:
		normalizeRows(vals[float64](out), vals[float64](in[0]), in[0].Shape())
	default:
		return errDtype(out.Dtype())
	}
	return nil
}
func (l2Normalize) DiffWRT() []bool { return []bool{true} }
func (l2Normalize) Grad(in G.Nodes, _, dOut *G.Node) (G.Nodes, error) {
	return G.Nodes{nn.Apply(l2NormalizeGrad{}, in[0], dOut)}, nil
}

func normalizeRows[T float32 | float64](out, x []T, s tensor.Shape) {
	n, d := s[0], s[1]
	parallel.For(n, rowGrain(n), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			r := x[i*d : (i+1)*d]
			var ss float64
			for _, v := range r {
				ss += float64(v) * float64(v)
			}
			nr := math.Max(math.Sqrt(ss), normEps)
			o := out[i*d : (i+1)*d]
			for j, v := range r {
				o[j] = T(float64(v) / nr)
			}
		}
	})
}

// l2NormalizeGrad maps the output gradient g of a row to
// (g - (u·g) u)/‖x‖, or g/eps where the norm is clamped.
type l2NormalizeGrad struct{}

func (l2NormalizeGrad) Name() string  { return "L2NormalizeGrad" }
func (l2NormalizeGrad) InDims() []int { return []int{2, 2} }
func (l2NormalizeGrad) OutShape(in []tensor.Shape) (tensor.Shape, error) {
	if err := sameMatrices(in); err != nil {
		return nil, err
	}
	return in[0].Clone(), nil
}
func (l2NormalizeGrad) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	switch out.Dtype() {
	case tensor.Float32:
		normalizeBackward(vals[float32](out), vals[float32](in[0]), vals[float32](in[1]), in[0].Shape())
	case tensor.Float64:
		normalizeBackward(vals[float64](out), vals[float64](in[0]), vals[float64](in[1]), in[0].Shape())
	default:
		return errDtype(out.Dtype())
	}
	return nil
}

func normalizeBackward[T float32 | float64](out, x, g []T, s tensor.Shape) {
	n, d := s[0], s[1]
	parallel.For(n, rowGrain(n), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			r, gr, o := x[i*d:(i+1)*d], g[i*d:(i+1)*d], out[i*d:(i+1)*d]
			var ss, xg float64
			for j, v := range r {
				ss += float64(v) * float64(v)
				xg += float64(v) * float64(gr[j])
			}
			nr := math.Max(math.Sqrt(ss), normEps)
			if nr == normEps {
				for j, v := range gr {
					o[j] = T(float64(v) / nr)
				}
				continue
			}
			c := xg / (nr * nr * nr)
			for j, v := range r {
				o[j] = T(float64(gr[j])/nr - c*float64(v))
			}
		}
	})
}
