package detect

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/internal/parallel"
	"github.com/disiam/disiam/nn"
)

// This file holds FCOS3D's loss kernels, fused and masked as FCOS's are
// (loss.go): rows of background points are skipped, never read, and sums
// run in float64 over chunks of fixed boundaries.

// SmoothL1Loss is mmdetection's SmoothL1Loss (beta, reduction "mean" with
// an avg_factor) over the foreground: with d = pred − target per element,
//
//	Σ_{rows r with fg > 0} Σ_j weights[j] · (|d| < β ? 0.5·d²/β : |d| − 0.5·β) · norm[0]
//
// for pred and target [N, A, k] (or [N, A] when k is 1), fg [N, A] and
// weights k per-column weights (FCOS3D's code_weight). norm is the
// reciprocal of the avg_factor (FCOS3D: 1/number of positives). The
// gradient flows to pred only.
func SmoothL1Loss(pred, target, fg, norm *G.Node, weights []float64, beta float64) *G.Node {
	return nn.Apply(newSL1(pred, weights, beta, false), pred, target, fg, norm)
}

// SinDiffLoss is SmoothL1Loss after mmdetection3d's add_sin_difference:
// the prediction p becomes sin(p)·cos(t) and the target t becomes
// cos(p)·sin(t), so the loss is that of sin(p − t), which ignores a
// rotation by π (the direction classifier resolves it). Both encodings
// depend on p, and the gradient, which flows to pred only, is that of
// both: sl1'(e)·(cos p cos t + sin p sin t).
func SinDiffLoss(pred, target, fg, norm *G.Node, weights []float64, beta float64) *G.Node {
	return nn.Apply(newSL1(pred, weights, beta, true), pred, target, fg, norm)
}

func newSL1(pred *G.Node, weights []float64, beta float64, sin bool) sl1Kernel {
	k := 1
	if pred.Dims() == 3 {
		k = pred.Shape()[2]
	}
	if len(weights) != k || !(beta > 0) {
		panic(fmt.Sprintf("detect: SmoothL1Loss: %d weights for %d columns, beta %v", len(weights), k, beta))
	}
	return sl1Kernel{dims: pred.Dims(), w: append([]float64(nil), weights...), beta: beta, sin: sin}
}

type sl1Kernel struct {
	dims int
	w    []float64
	beta float64
	sin  bool
}

func (k sl1Kernel) Name() string {
	n := "SmoothL1Loss"
	if k.sin {
		n = "SinDiffLoss"
	}
	return fmt.Sprintf("%s(%v,%g)", n, k.w, k.beta)
}
func (k sl1Kernel) InDims() []int { return []int{k.dims, k.dims, 2, 1} }
func (k sl1Kernel) OutDims() int  { return 0 }
func (k sl1Kernel) OutShape(in []tensor.Shape) (tensor.Shape, error) {
	if !in[0].Eq(in[1]) {
		return nil, fmt.Errorf("pred %v and target %v differ", in[0], in[1])
	}
	if in[0].TotalSize() != in[0][0]*in[0][1]*len(k.w) {
		return nil, fmt.Errorf("pred has shape %v for %d columns", in[0], len(k.w))
	}
	if in[2].TotalSize() != in[0][0]*in[0][1] {
		return nil, fmt.Errorf("fg has shape %v for pred %v", in[2], in[0])
	}
	if in[3].TotalSize() != 1 {
		return nil, fmt.Errorf("normalizer has shape %v, want [1]", in[3])
	}
	return scalarOut(), nil
}
func (k sl1Kernel) DiffWRT() []bool { return []bool{true, false, false, false} }
func (k sl1Kernel) Grad(in G.Nodes, out, dy *G.Node) (G.Nodes, error) {
	return G.Nodes{nn.Apply(sl1GradKernel(k), in[0], in[1], in[2], in[3], dy), nil, nil, nil}, nil
}

// term returns the loss of one element and its derivative by p.
func (k sl1Kernel) term(p, t float64) (loss, grad float64) {
	d, dd := p-t, 1.0
	if k.sin {
		sp, cp := math.Sincos(p)
		st, ct := math.Sincos(t)
		d, dd = sp*ct-cp*st, cp*ct+sp*st
	}
	a := math.Abs(d)
	if a < k.beta {
		return 0.5 * d * d / k.beta, d / k.beta * dd
	}
	s := 0.0
	switch {
	case d > 0:
		s = 1
	case d < 0:
		s = -1
	}
	return a - 0.5*k.beta, s * dd
}

func (k sl1Kernel) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	var total float64
	switch out.Dtype() {
	case tensor.Float32:
		total = sl1Sum(k, slice[float32](in[0]), slice[float32](in[1]), slice[float32](in[2])) * float64(slice[float32](in[3])[0])
	case tensor.Float64:
		total = sl1Sum(k, slice[float64](in[0]), slice[float64](in[1]), slice[float64](in[2])) * slice[float64](in[3])[0]
	}
	return setScalar(out, total)
}

func sl1Sum[T float32 | float64](k sl1Kernel, p, t, fg []T) float64 {
	c := len(k.w)
	return sumRows(len(fg), func(lo, hi int) float64 {
		var s float64
		for r := lo; r < hi; r++ {
			if fg[r] <= 0 {
				continue
			}
			for j, w := range k.w {
				l, _ := k.term(float64(p[r*c+j]), float64(t[r*c+j]))
				s += w * l
			}
		}
		return s
	})
}

type sl1GradKernel sl1Kernel

func (k sl1GradKernel) Name() string  { return sl1Kernel(k).Name() + "Grad" }
func (k sl1GradKernel) InDims() []int { return []int{k.dims, k.dims, 2, 1, 0} }
func (k sl1GradKernel) OutShape(in []tensor.Shape) (tensor.Shape, error) {
	return in[0].Clone(), nil
}

func (k sl1GradKernel) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	switch dx := out.Data().(type) {
	case []float32:
		sl1Grad(sl1Kernel(k), dx, slice[float32](in[0]), slice[float32](in[1]), slice[float32](in[2]),
			float64(slice[float32](in[3])[0])*float64(slice[float32](in[4])[0]))
	case []float64:
		sl1Grad(sl1Kernel(k), dx, slice[float64](in[0]), slice[float64](in[1]), slice[float64](in[2]),
			slice[float64](in[3])[0]*slice[float64](in[4])[0])
	default:
		return fmt.Errorf("unsupported dtype %v", out.Dtype())
	}
	return nil
}

func sl1Grad[T float32 | float64](k sl1Kernel, dx, p, t, fg []T, scale float64) {
	c := len(k.w)
	parallel.For(len(fg), rowGrain(len(fg)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			d := dx[r*c : (r+1)*c]
			if fg[r] <= 0 {
				clear(d)
				continue
			}
			for j, w := range k.w {
				_, g := k.term(float64(p[r*c+j]), float64(t[r*c+j]))
				d[j] = T(w * g * scale)
			}
		}
	})
}

// CrossEntropyLoss is torch.nn.functional.cross_entropy(logits, labels,
// reduction="none") weighted per row and summed, times norm[0]:
//
//	Σ_{rows r with weight > 0} weight[r] · (logsumexp(x_r) − x_r[label_r]) · norm[0]
//
// for logits [N, A, K], labels and weights [N, A]. Rows of weight ≤ 0 are
// skipped (their labels are not read). FCOS3D's direction loss has
// weight 1 on the positives and norm 1/positives (a mean), its attribute
// loss the centre-ness target as weight and norm 1/Σ weights
// (mmdetection's weighted CrossEntropyLoss with that avg_factor). The
// gradient, weight·(softmax(x_r) − onehot(label_r))·norm, flows to logits
// only.
func CrossEntropyLoss(logits, labels, weights, norm *G.Node) *G.Node {
	return nn.Apply(ceKernel{}, logits, labels, weights, norm)
}

type ceKernel struct{}

func (ceKernel) Name() string  { return "CrossEntropyLoss" }
func (ceKernel) InDims() []int { return []int{3, 2, 2, 1} }
func (ceKernel) OutDims() int  { return 0 }
func (ceKernel) OutShape(in []tensor.Shape) (tensor.Shape, error) {
	return scalarOut(), checkN(in, in[0][0]*in[0][1], "logits", "labels", "weights", "norm")
}
func (ceKernel) DiffWRT() []bool { return []bool{true, false, false, false} }
func (ceKernel) Grad(in G.Nodes, out, dy *G.Node) (G.Nodes, error) {
	return G.Nodes{nn.Apply(ceGradKernel{}, in[0], in[1], in[2], in[3], dy), nil, nil, nil}, nil
}

// logSumExp returns log Σ exp(x) (shifted by the maximum).
func logSumExp[T float32 | float64](x []T) float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, float64(v))
	}
	var s float64
	for _, v := range x {
		s += math.Exp(float64(v) - m)
	}
	return m + math.Log(s)
}

func (ceKernel) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	s := in[0].Shape()
	var total float64
	switch out.Dtype() {
	case tensor.Float32:
		total = ceSum(slice[float32](in[0]), slice[float32](in[1]), slice[float32](in[2]), s[2])
		total *= float64(slice[float32](in[3])[0])
	case tensor.Float64:
		total = ceSum(slice[float64](in[0]), slice[float64](in[1]), slice[float64](in[2]), s[2])
		total *= slice[float64](in[3])[0]
	}
	return setScalar(out, total)
}

func ceSum[T float32 | float64](x, label, w []T, k int) float64 {
	return sumRows(len(w), func(lo, hi int) float64 {
		var s float64
		for r := lo; r < hi; r++ {
			if w[r] <= 0 {
				continue
			}
			row := x[r*k : (r+1)*k]
			lse := logSumExp(row)
			l := int(label[r])
			if l < 0 || l >= k {
				return math.NaN() // a weighted row without a label: a bug of the caller, surfaced as NaN
			}
			s += float64(w[r]) * (lse - float64(row[l]))
		}
		return s
	})
}

type ceGradKernel struct{}

func (ceGradKernel) Name() string  { return "CrossEntropyLossGrad" }
func (ceGradKernel) InDims() []int { return []int{3, 2, 2, 1, 0} }
func (ceGradKernel) OutShape(in []tensor.Shape) (tensor.Shape, error) {
	return in[0].Clone(), nil
}

func (ceGradKernel) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	k := in[0].Shape()[2]
	switch dx := out.Data().(type) {
	case []float32:
		ceGrad(dx, slice[float32](in[0]), slice[float32](in[1]), slice[float32](in[2]),
			float64(slice[float32](in[3])[0])*float64(slice[float32](in[4])[0]), k)
	case []float64:
		ceGrad(dx, slice[float64](in[0]), slice[float64](in[1]), slice[float64](in[2]),
			slice[float64](in[3])[0]*slice[float64](in[4])[0], k)
	default:
		return fmt.Errorf("unsupported dtype %v", out.Dtype())
	}
	return nil
}

func ceGrad[T float32 | float64](dx, x, label, w []T, scale float64, k int) {
	parallel.For(len(w), rowGrain(len(w)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			d := dx[r*k : (r+1)*k]
			if w[r] <= 0 {
				clear(d)
				continue
			}
			row := x[r*k : (r+1)*k]
			lse := logSumExp(row)
			l := int(label[r])
			f := float64(w[r]) * scale
			for j, v := range row {
				g := math.Exp(float64(v) - lse)
				if j == l {
					g--
				}
				d[j] = T(g * f)
			}
		}
	})
}

// ClampMax returns min(x, hi) element-wise; the gradient passes where
// x ≤ hi and is 0 above (torch.clamp's).
func ClampMax(x *G.Node, hi float64) *G.Node { return nn.Apply(clampKernel{hi: hi, dims: x.Dims()}, x) }

type clampKernel struct {
	hi   float64
	dims int
}

func (k clampKernel) Name() string  { return fmt.Sprintf("ClampMax(%g)", k.hi) }
func (k clampKernel) InDims() []int { return []int{k.dims} }
func (k clampKernel) OutShape(in []tensor.Shape) (tensor.Shape, error) {
	return in[0].Clone(), nil
}
func (k clampKernel) DiffWRT() []bool { return []bool{true} }
func (k clampKernel) Grad(in G.Nodes, out, dy *G.Node) (G.Nodes, error) {
	return G.Nodes{nn.Apply(clampGradKernel(k), in[0], dy)}, nil
}
func (k clampKernel) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	switch y := out.Data().(type) {
	case []float32:
		clampMax(y, slice[float32](in[0]), float32(k.hi))
	case []float64:
		clampMax(y, slice[float64](in[0]), k.hi)
	default:
		return fmt.Errorf("unsupported dtype %v", out.Dtype())
	}
	return nil
}

func clampMax[T float32 | float64](y, x []T, hi T) {
	for i, v := range x {
		y[i] = min(v, hi)
	}
}

type clampGradKernel clampKernel

func (k clampGradKernel) Name() string  { return clampKernel(k).Name() + "Grad" }
func (k clampGradKernel) InDims() []int { return []int{k.dims, k.dims} }
func (k clampGradKernel) OutShape(in []tensor.Shape) (tensor.Shape, error) {
	return in[0].Clone(), nil
}
func (k clampGradKernel) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	switch dx := out.Data().(type) {
	case []float32:
		clampGrad(dx, slice[float32](in[0]), slice[float32](in[1]), float32(k.hi))
	case []float64:
		clampGrad(dx, slice[float64](in[0]), slice[float64](in[1]), k.hi)
	default:
		return fmt.Errorf("unsupported dtype %v", out.Dtype())
	}
	return nil
}

func clampGrad[T float32 | float64](dx, x, dy []T, hi T) {
	for i, v := range x {
		if v <= hi {
			dx[i] = dy[i]
		} else {
			dx[i] = 0
		}
	}
}
