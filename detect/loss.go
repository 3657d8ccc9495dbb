package detect

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/internal/parallel"
	"github.com/disiam/disiam/nn"
)

// This file holds FCOS's three losses as fused kernels. Shapes are fixed
// when the graph is built, so the foreground is a mask input, and the
// normalizer 1/max(1, num_fg) is a [1] input filled each step. The masked
// kernels skip background elements entirely: their targets are never read,
// so a background 0/0 can never turn into NaN·0 in a sum or a gradient.
// Sums run in float64 over chunks of fixed boundaries, combined in order,
// so results do not depend on the number of workers.

// slice returns t's elements, also for a scalar tensor.
func slice[T float32 | float64](t *tensor.Dense) []T {
	switch d := t.Data().(type) {
	case []T:
		return d
	case T:
		return []T{d}
	}
	panic(fmt.Sprintf("detect: dtype %v", t.Dtype()))
}

// rowGrain is the chunk length, in anchors, of the loss kernels.
func rowGrain(rows int) int { return parallel.Grain(rows, 256) }

// sumRows returns Σ f(r) over rows [0, n), per chunk in float64 and the
// chunks in order.
func sumRows(n int, f func(lo, hi int) float64) float64 {
	g := rowGrain(n)
	part := make([]float64, parallel.Chunks(n, g))
	parallel.For(n, g, func(lo, hi int) { part[lo/g] = f(lo, hi) })
	var s float64
	for _, v := range part {
		s += v
	}
	return s
}

// setScalar writes v into a kernel's one-element output.
func setScalar(out *tensor.Dense, v float64) error {
	switch d := out.Data().(type) {
	case []float32:
		d[0] = float32(v)
	case []float64:
		d[0] = v
	default:
		return fmt.Errorf("unsupported dtype %v", out.Dtype())
	}
	return nil
}

func checkN(in []tensor.Shape, rows int, what ...string) error {
	for i, s := range in {
		if i == 0 {
			continue
		}
		if what[i] == "norm" {
			if s.TotalSize() != 1 {
				return fmt.Errorf("normalizer has shape %v, want [1]", s)
			}
			continue
		}
		if what[i] == "anchors" {
			if s.TotalSize() != in[0][1]*4 {
				return fmt.Errorf("anchors have shape %v, want [%d, 4]", s, in[0][1])
			}
			continue
		}
		want := rows
		if what[i] == "boxes" {
			want *= 4
		}
		if s.TotalSize() != want {
			return fmt.Errorf("%s has shape %v for %d anchors", what[i], s, rows)
		}
	}
	return nil
}

func scalarOut() tensor.Shape { return tensor.ScalarShape() }

// softplus is log(1 + exp(x)), accurate for all x.
func softplus(x float64) float64 { return math.Max(x, 0) + math.Log1p(math.Exp(-math.Abs(x))) }

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// SigmoidFocalLoss is torchvision.ops.sigmoid_focal_loss(logits, onehot,
// alpha, gamma, reduction="sum") times norm[0], for logits [N, A, C] and
// one-hot targets given as classes [N, A], the target class of each anchor
// (−1: background, every class 0). Per element, with p = σ(x) and t ∈
// {0, 1},
//
//	loss = α_t · BCE(x, t) · (1 − p_t)^γ,  p_t = p·t + (1 − p)(1 − t),  α_t = α·t + (1 − α)(1 − t)
//
// (no α_t when alpha < 0). Every anchor and class contributes, as in
// torchvision. The gradient flows to logits only.
func SigmoidFocalLoss(logits, classes, norm *G.Node, alpha, gamma float64) *G.Node {
	return nn.Apply(focalKernel{alpha, gamma}, logits, classes, norm)
}

type focalKernel struct{ alpha, gamma float64 }

func (k focalKernel) Name() string  { return fmt.Sprintf("SigmoidFocalLoss(%g,%g)", k.alpha, k.gamma) }
func (k focalKernel) InDims() []int { return []int{3, 2, 1} }
func (k focalKernel) OutDims() int  { return 0 }
func (k focalKernel) OutShape(in []tensor.Shape) (tensor.Shape, error) {
	return scalarOut(), checkN(in, in[0][0]*in[0][1], "logits", "classes", "norm")
}
func (k focalKernel) DiffWRT() []bool { return []bool{true, false, false} }
func (k focalKernel) Grad(in G.Nodes, out, dy *G.Node) (G.Nodes, error) {
	return G.Nodes{nn.Apply(focalGradKernel(k), in[0], in[1], in[2], dy), nil, nil}, nil
}

// term returns the focal loss of logit x with target t and its derivative.
func (k focalKernel) term(x float64, t bool) (loss, grad float64) {
	g := k.gamma
	if t {
		q := sigmoid(-x) // 1 − p
		p := 1 - q
		ce := softplus(-x)
		a := 1.0
		if k.alpha >= 0 {
			a = k.alpha
		}
		w := math.Pow(q, g)
		return a * ce * w, -a * w * (q + g*p*ce)
	}
	p := sigmoid(x)
	q := sigmoid(-x)
	ce := softplus(x)
	a := 1.0
	if k.alpha >= 0 {
		a = 1 - k.alpha
	}
	w := math.Pow(p, g)
	return a * ce * w, a * w * (p + g*q*ce)
}

func (k focalKernel) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	s := in[0].Shape()
	rows, c := s[0]*s[1], s[2]
	var total float64
	switch out.Dtype() {
	case tensor.Float32:
		total = focalSum(k, slice[float32](in[0]), slice[float32](in[1]), rows, c) * float64(slice[float32](in[2])[0])
	case tensor.Float64:
		total = focalSum(k, slice[float64](in[0]), slice[float64](in[1]), rows, c) * slice[float64](in[2])[0]
	}
	return setScalar(out, total)
}

func focalSum[T float32 | float64](k focalKernel, x, cls []T, rows, c int) float64 {
	return sumRows(rows, func(lo, hi int) float64 {
		var s float64
		for r := lo; r < hi; r++ {
			t := int(cls[r])
			for j, v := range x[r*c : (r+1)*c] {
				l, _ := k.term(float64(v), j == t)
				s += l
			}
		}
		return s
	})
}

type focalGradKernel focalKernel

func (k focalGradKernel) Name() string  { return focalKernel(k).Name() + "Grad" }
func (k focalGradKernel) InDims() []int { return []int{3, 2, 1, 0} }
func (k focalGradKernel) OutShape(in []tensor.Shape) (tensor.Shape, error) {
	return in[0].Clone(), nil
}

func (k focalGradKernel) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	s := in[0].Shape()
	rows, c := s[0]*s[1], s[2]
	switch dx := out.Data().(type) {
	case []float32:
		focalGrad(focalKernel(k), dx, slice[float32](in[0]), slice[float32](in[1]),
			float64(slice[float32](in[2])[0])*float64(slice[float32](in[3])[0]), rows, c)
	case []float64:
		focalGrad(focalKernel(k), dx, slice[float64](in[0]), slice[float64](in[1]),
			slice[float64](in[2])[0]*slice[float64](in[3])[0], rows, c)
	default:
		return fmt.Errorf("unsupported dtype %v", out.Dtype())
	}
	return nil
}

func focalGrad[T float32 | float64](k focalKernel, dx, x, cls []T, scale float64, rows, c int) {
	parallel.For(rows, rowGrain(rows), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			t := int(cls[r])
			d := dx[r*c : (r+1)*c]
			for j, v := range x[r*c : (r+1)*c] {
				_, g := k.term(float64(v), j == t)
				d[j] = T(g * scale)
			}
		}
	})
}

// GIoULoss is torchvision.ops.generalized_box_iou_loss(decode(reg),
// boxes, reduction="sum") over the foreground, times norm[0], with FCOS's
// decode fused in: for an anchor with centre (cx, cy), width w and height
// h, the predicted box is [cx − l·w, cy − t·h, cx + r·w, cy + b·h] for reg
// (l, t, r, b). Inputs: reg [N, A, 4], anchors [A, 4] (shared by the
// images), boxes [N, A, 4] (the target box of each anchor), fg [N, A]
// (1: foreground). Background anchors are skipped. The gradient (to reg
// only) follows PyTorch's autograd through max/min: where two coordinates
// tie, each gets half.
func GIoULoss(reg, anchors, boxes, fg, norm *G.Node) *G.Node {
	return nn.Apply(giouKernel{}, reg, anchors, boxes, fg, norm)
}

type giouKernel struct{}

func (giouKernel) Name() string  { return "GIoULoss" }
func (giouKernel) InDims() []int { return []int{3, 2, 3, 2, 1} }
func (giouKernel) OutDims() int  { return 0 }
func (giouKernel) OutShape(in []tensor.Shape) (tensor.Shape, error) {
	if in[0][2] != 4 {
		return nil, fmt.Errorf("reg has shape %v, want [N, A, 4]", in[0])
	}
	return scalarOut(), checkN(in, in[0][0]*in[0][1], "reg", "anchors", "boxes", "fg", "norm")
}
func (giouKernel) DiffWRT() []bool { return []bool{true, false, false, false, false} }
func (giouKernel) Grad(in G.Nodes, out, dy *G.Node) (G.Nodes, error) {
	return G.Nodes{nn.Apply(giouGradKernel{}, in[0], in[1], in[2], in[3], in[4], dy), nil, nil, nil, nil}, nil
}

func (giouKernel) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	s := in[0].Shape()
	var total float64
	switch out.Dtype() {
	case tensor.Float32:
		total = giouSum(slice[float32](in[0]), slice[float32](in[1]), slice[float32](in[2]), slice[float32](in[3]), s[0], s[1]) *
			float64(slice[float32](in[4])[0])
	case tensor.Float64:
		total = giouSum(slice[float64](in[0]), slice[float64](in[1]), slice[float64](in[2]), slice[float64](in[3]), s[0], s[1]) *
			slice[float64](in[4])[0]
	}
	return setScalar(out, total)
}

// decodeRow returns the box that reg row (l, t, r, b) decodes to on anchor
// a, and the anchor's width and height.
func decodeRow[T float32 | float64](reg, a []T) (p Box, w, h float64) {
	ax0, ay0, ax1, ay1 := float64(a[0]), float64(a[1]), float64(a[2]), float64(a[3])
	cx, cy := 0.5*(ax0+ax1), 0.5*(ay0+ay1)
	w, h = ax1-ax0, ay1-ay0
	return Box{cx - float64(reg[0])*w, cy - float64(reg[1])*h, cx + float64(reg[2])*w, cy + float64(reg[3])*h}, w, h
}

func boxOf[T float32 | float64](v []T) Box {
	return Box{float64(v[0]), float64(v[1]), float64(v[2]), float64(v[3])}
}

func giouSum[T float32 | float64](reg, anchors, boxes, fg []T, n, a int) float64 {
	return sumRows(n*a, func(lo, hi int) float64 {
		var s float64
		for r := lo; r < hi; r++ {
			if fg[r] <= 0 {
				continue
			}
			p, _, _ := decodeRow(reg[4*r:4*r+4], anchors[4*(r%a):4*(r%a)+4])
			s += 1 - GIoU(p, boxOf(boxes[4*r:4*r+4]))
		}
		return s
	})
}

// tieMax returns d max(a, b)/da as PyTorch's autograd has it: 1 if a > b,
// ½ if a == b, 0 otherwise (tieMin likewise for min).
func tieMax(a, b float64) float64 {
	switch {
	case a > b:
		return 1
	case a == b:
		return 0.5
	}
	return 0
}

func tieMin(a, b float64) float64 { return tieMax(b, a) }

// giouLossGrad returns d(1 − GIoU(p, g))/dp for p = (x1, y1, x2, y2),
// following torchvision's generalized_box_iou_loss step by step.
func giouLossGrad(p, g Box) [4]float64 {
	x1, y1, x2, y2 := p[0], p[1], p[2], p[3]
	xk1, yk1 := math.Max(x1, g[0]), math.Max(y1, g[1])
	xk2, yk2 := math.Min(x2, g[2]), math.Min(y2, g[3])
	inside := yk2 > yk1 && xk2 > xk1
	var inter float64
	if inside {
		inter = (xk2 - xk1) * (yk2 - yk1)
	}
	union := (x2-x1)*(y2-y1) + g.Area() - inter
	xc1, yc1 := math.Min(x1, g[0]), math.Min(y1, g[1])
	xc2, yc2 := math.Max(x2, g[2]), math.Max(y2, g[3])
	ac := (xc2 - xc1) * (yc2 - yc1)
	ue, ce := union+giouEps, ac+giouEps
	// loss = 1 − inter/ue + (ac − union)/ce
	dU := inter/(ue*ue) - 1/ce
	dI := -1/ue - dU // union depends on inter with slope −1
	dA := ue / (ce * ce)
	var d [4]float64
	// union: the predicted area.
	d[0] += -dU * (y2 - y1)
	d[2] += dU * (y2 - y1)
	d[1] += -dU * (x2 - x1)
	d[3] += dU * (x2 - x1)
	if inside {
		d[0] += -dI * (yk2 - yk1) * tieMax(x1, g[0])
		d[2] += dI * (yk2 - yk1) * tieMin(x2, g[2])
		d[1] += -dI * (xk2 - xk1) * tieMax(y1, g[1])
		d[3] += dI * (xk2 - xk1) * tieMin(y2, g[3])
	}
	d[0] += -dA * (yc2 - yc1) * tieMin(x1, g[0])
	d[2] += dA * (yc2 - yc1) * tieMax(x2, g[2])
	d[1] += -dA * (xc2 - xc1) * tieMin(y1, g[1])
	d[3] += dA * (xc2 - xc1) * tieMax(y2, g[3])
	return d
}

type giouGradKernel struct{}

func (giouGradKernel) Name() string  { return "GIoULossGrad" }
func (giouGradKernel) InDims() []int { return []int{3, 2, 3, 2, 1, 0} }
func (giouGradKernel) OutShape(in []tensor.Shape) (tensor.Shape, error) {
	return in[0].Clone(), nil
}

func (giouGradKernel) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	s := in[0].Shape()
	switch dx := out.Data().(type) {
	case []float32:
		giouGrad(dx, slice[float32](in[0]), slice[float32](in[1]), slice[float32](in[2]), slice[float32](in[3]),
			float64(slice[float32](in[4])[0])*float64(slice[float32](in[5])[0]), s[0], s[1])
	case []float64:
		giouGrad(dx, slice[float64](in[0]), slice[float64](in[1]), slice[float64](in[2]), slice[float64](in[3]),
			slice[float64](in[4])[0]*slice[float64](in[5])[0], s[0], s[1])
	default:
		return fmt.Errorf("unsupported dtype %v", out.Dtype())
	}
	return nil
}

func giouGrad[T float32 | float64](dx, reg, anchors, boxes, fg []T, scale float64, n, a int) {
	parallel.For(n*a, rowGrain(n*a), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			d := dx[4*r : 4*r+4]
			if fg[r] <= 0 {
				d[0], d[1], d[2], d[3] = 0, 0, 0, 0
				continue
			}
			p, w, h := decodeRow(reg[4*r:4*r+4], anchors[4*(r%a):4*(r%a)+4])
			g := giouLossGrad(p, boxOf(boxes[4*r:4*r+4]))
			// x1 = cx − l·w, y1 = cy − t·h, x2 = cx + r·w, y2 = cy + b·h.
			d[0] = T(-g[0] * w * scale)
			d[1] = T(-g[1] * h * scale)
			d[2] = T(g[2] * w * scale)
			d[3] = T(g[3] * h * scale)
		}
	})
}

// BCEWithLogitsLoss is torch.nn.functional.binary_cross_entropy_with_logits
// (x, t, reduction="sum") over the elements where mask > 0, times norm[0]:
// Σ max(x, 0) − x·t + log(1 + exp(−|x|)). x is [N, A, 1] or [N, A] (FCOS's
// centre-ness logits), t and mask [N, A]. Masked-out elements are skipped.
// The gradient, (σ(x) − t)·norm, flows to x only.
func BCEWithLogitsLoss(x, t, mask, norm *G.Node) *G.Node {
	return nn.Apply(bceKernel{dims: x.Dims()}, x, t, mask, norm)
}

type bceKernel struct{ dims int }

func (k bceKernel) Name() string  { return "BCEWithLogitsLoss" }
func (k bceKernel) InDims() []int { return []int{k.dims, 2, 2, 1} }
func (k bceKernel) OutDims() int  { return 0 }
func (k bceKernel) OutShape(in []tensor.Shape) (tensor.Shape, error) {
	rows := in[0].TotalSize()
	if in[0][0]*in[0][1] != rows {
		return nil, fmt.Errorf("logits have shape %v, want [N, A] or [N, A, 1]", in[0])
	}
	return scalarOut(), checkN(in, rows, "logits", "targets", "mask", "norm")
}
func (k bceKernel) DiffWRT() []bool { return []bool{true, false, false, false} }
func (k bceKernel) Grad(in G.Nodes, out, dy *G.Node) (G.Nodes, error) {
	return G.Nodes{nn.Apply(bceGradKernel(k), in[0], in[1], in[2], in[3], dy), nil, nil, nil}, nil
}

func (k bceKernel) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	var total float64
	switch out.Dtype() {
	case tensor.Float32:
		total = bceSum(slice[float32](in[0]), slice[float32](in[1]), slice[float32](in[2])) * float64(slice[float32](in[3])[0])
	case tensor.Float64:
		total = bceSum(slice[float64](in[0]), slice[float64](in[1]), slice[float64](in[2])) * slice[float64](in[3])[0]
	}
	return setScalar(out, total)
}

func bceSum[T float32 | float64](x, t, mask []T) float64 {
	return sumRows(len(x), func(lo, hi int) float64 {
		var s float64
		for r := lo; r < hi; r++ {
			if mask[r] <= 0 {
				continue
			}
			v := float64(x[r])
			s += softplus(v) - v*float64(t[r])
		}
		return s
	})
}

type bceGradKernel bceKernel

func (k bceGradKernel) Name() string  { return "BCEWithLogitsLossGrad" }
func (k bceGradKernel) InDims() []int { return []int{k.dims, 2, 2, 1, 0} }
func (k bceGradKernel) OutShape(in []tensor.Shape) (tensor.Shape, error) {
	return in[0].Clone(), nil
}

func (k bceGradKernel) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	switch dx := out.Data().(type) {
	case []float32:
		bceGrad(dx, slice[float32](in[0]), slice[float32](in[1]), slice[float32](in[2]),
			float64(slice[float32](in[3])[0])*float64(slice[float32](in[4])[0]))
	case []float64:
		bceGrad(dx, slice[float64](in[0]), slice[float64](in[1]), slice[float64](in[2]),
			slice[float64](in[3])[0]*slice[float64](in[4])[0])
	default:
		return fmt.Errorf("unsupported dtype %v", out.Dtype())
	}
	return nil
}

func bceGrad[T float32 | float64](dx, x, t, mask []T, scale float64) {
	parallel.For(len(x), rowGrain(len(x)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			if mask[r] <= 0 {
				dx[r] = 0
				continue
			}
			dx[r] = T((sigmoid(float64(x[r])) - float64(t[r])) * scale)
		}
	})
}

// sumScalars adds scalar nodes (the three FCOS losses).
type sumScalars struct{ n int }

func (k sumScalars) Name() string  { return fmt.Sprintf("SumScalars(%d)", k.n) }
func (k sumScalars) InDims() []int { return make([]int, k.n) }
func (k sumScalars) OutShape(in []tensor.Shape) (tensor.Shape, error) {
	return scalarOut(), nil
}
func (k sumScalars) DiffWRT() []bool {
	d := make([]bool, k.n)
	for i := range d {
		d[i] = true
	}
	return d
}
func (k sumScalars) Grad(in G.Nodes, out, dy *G.Node) (G.Nodes, error) {
	g := make(G.Nodes, k.n)
	for i := range g {
		g[i] = dy
	}
	return g, nil
}
func (k sumScalars) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	var s float64
	for _, t := range in {
		switch d := t.Data().(type) {
		case float32:
			s += float64(d)
		case float64:
			s += d
		case []float32:
			s += float64(d[0])
		case []float64:
			s += d[0]
		}
	}
	return setScalar(out, s)
}
