package nn

import (
	"fmt"
	"math"
	"strings"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/internal/parallel"
)

// GroupNorm normalizes each sample over groups of channels, as
// torch.nn.GroupNorm: the C channels of x [N, C, *] are split into Groups
// consecutive groups, each (sample, group) is normalized with its own mean
// and biased variance over its C/Groups channels and all positions, and
// each channel is then scaled by weight and shifted by bias. Unlike
// BatchNorm it has no running statistics, so Train and Eval mode compute
// the same thing and a batch of one is fine. Parameters: NAME.weight and
// NAME.bias, shape [C], initialized to 1 and 0 as PyTorch does.
type GroupNorm struct {
	Groups, Channels int
	Eps              float64
	Weight, Bias     *Param
}

// NewGroupNorm returns GroupNorm(groups, channels) named name with eps
// 1e-5 and affine parameters (PyTorch's defaults). It panics unless
// channels is a positive multiple of groups.
func NewGroupNorm(name string, groups, channels int) *GroupNorm {
	if groups <= 0 || channels <= 0 || channels%groups != 0 {
		panic(fmt.Sprintf("nn: NewGroupNorm(%q): %d channels do not split into %d groups", name, channels, groups))
	}
	g := &GroupNorm{Groups: groups, Channels: channels, Eps: 1e-5,
		Weight: NewParam(Join(name, "weight"), true, channels),
		Bias:   NewParam(Join(name, "bias"), true, channels)}
	fill(g.Weight.Data(), 1)
	return g
}

// Params implements Module: weight, bias.
func (g *GroupNorm) Params() []*Param { return []*Param{g.Weight, g.Bias} }

// SetTraining implements Module (GroupNorm has no mode).
func (g *GroupNorm) SetTraining(bool) {}

// Forward normalizes x ([N, C] or [N, C, H, W], any rank ≥ 2).
func (g *GroupNorm) Forward(x *G.Node) *G.Node {
	gr := x.Graph()
	return GroupNormOp(x, g.Weight.Node(gr), g.Bias.Node(gr), g.Groups, g.Eps)
}

// GroupNormOp is torch.nn.functional.group_norm(x, groups, w, b, eps) for
// x [N, C, *] and w, b [C]. Per (sample, group) it computes, in float64,
// the mean μ and biased variance σ² of the group's values, then
// y = (x − μ)/sqrt(σ² + eps)·w[c] + b[c]. The gradient is PyTorch's
// (group_norm_backward): with ds[c] = Σ dy·x, db[c] = Σ dy over a channel's
// positions of one sample, D values per group and r = 1/sqrt(σ² + eps),
//
//	dx = r·w[c]·dy + β·x + γ,  β = (Σ_g db·w·μ − Σ_g ds·w)·r³/D,  γ = −β·μ − Σ_g db·w·r/D
//	dw[c] = Σ_n (ds − db·μ)·r,  db[c] = Σ_n db.
//
// Work is split over (sample, group) pairs and the parameter gradients
// reduce over samples in order, so results do not depend on the number of
// workers.
func GroupNormOp(x, w, b *G.Node, groups int, eps float64) *G.Node {
	if x.Dims() < 2 {
		panic(fmt.Sprintf("nn: GroupNorm: input %v, want [N, C, ...]", x.Shape()))
	}
	c := x.Shape()[1]
	if groups <= 0 || c%groups != 0 {
		panic(fmt.Sprintf("nn: GroupNorm: %d channels do not split into %d groups", c, groups))
	}
	return Apply(&gnKernel{dims: x.Dims(), groups: groups, eps: eps}, x, w, b)
}

// gnKernel is one application of GroupNorm. The forward pass saves the
// per-(sample, group) mean and 1/std; the backward kernels read them.
type gnKernel struct {
	dims   int
	groups int
	eps    float64

	mean, rstd []float64 // [N*G], set by each forward run
	ds, db     []float64 // [N*C], set by each backward run
}

func (k *gnKernel) Name() string  { return fmt.Sprintf("GroupNorm(%d)", k.groups) }
func (k *gnKernel) InDims() []int { return []int{k.dims, 1, 1} }
func (k *gnKernel) OutShape(in []tensor.Shape) (tensor.Shape, error) {
	c := in[0][1]
	if c%k.groups != 0 {
		return nil, fmt.Errorf("input %v: %d channels do not split into %d groups", in[0], c, k.groups)
	}
	for i := 1; i < 3; i++ {
		if in[i].TotalSize() != c {
			return nil, fmt.Errorf("input %d has shape %v, want [%d]", i, in[i], c)
		}
	}
	return in[0].Clone(), nil
}

func (k *gnKernel) DiffWRT() []bool { return []bool{true, true, true} }

func (k *gnKernel) Grad(in G.Nodes, out, dy *G.Node) (G.Nodes, error) {
	dx := Apply(&gnGradKernel{fwd: k}, in[0], out, dy, in[1])
	return G.Nodes{dx,
		Apply(gnParamGradKernel{fwd: k}, dx),
		Apply(gnParamGradKernel{fwd: k, bias: true}, dx)}, nil
}

func (k *gnKernel) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	if err := checkDense(in); err != nil {
		return err
	}
	n, c, s := ncs(in[0].Shape())
	if len(k.mean) != n*k.groups {
		k.mean, k.rstd = make([]float64, n*k.groups), make([]float64, n*k.groups)
	}
	switch y := out.Data().(type) {
	case []float32:
		gnForward(k, y, asSlice[float32](in[0]), asSlice[float32](in[1]), asSlice[float32](in[2]), n, c, s)
	case []float64:
		gnForward(k, y, asSlice[float64](in[0]), asSlice[float64](in[1]), asSlice[float64](in[2]), n, c, s)
	default:
		return errDtype(out)
	}
	return nil
}

// groupGrain is the chunk length, in (sample, group) pairs of m values, of
// GroupNorm's loops.
func groupGrain(pairs, m int) int { return parallel.Grain(pairs, max(1, 1<<14/max(m, 1))) }

func gnForward[T floating](k *gnKernel, y, x, w, b []T, n, c, s int) {
	d := c / k.groups
	m := d * s
	parallel.For(n*k.groups, groupGrain(n*k.groups, m), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			seg := x[p*m : (p+1)*m]
			mean := sum4(seg) / float64(m)
			v := sqDev4(seg, mean) / float64(m)
			rstd := 1 / math.Sqrt(v+k.eps)
			k.mean[p], k.rstd[p] = mean, rstd
			c0 := (p % k.groups) * d
			for j := 0; j < d; j++ {
				a := rstd * float64(w[c0+j])
				bb := float64(b[c0+j]) - mean*a
				xs, ys := seg[j*s:(j+1)*s], y[p*m+j*s:p*m+(j+1)*s]
				for i, v := range xs {
					ys[i] = T(float64(v)*a + bb)
				}
			}
		}
	})
}

// gnGradKernel computes dx from (x, y, dy, w) and keeps ds, db per
// (sample, channel) for gnParamGradKernel. y is an input only so that it
// runs after the forward pass.
type gnGradKernel struct{ fwd *gnKernel }

func (k *gnGradKernel) Name() string { return fmt.Sprintf("GroupNormGrad(%d)", k.fwd.groups) }
func (k *gnGradKernel) InDims() []int {
	d := k.fwd.dims
	return []int{d, d, d, 1}
}
func (k *gnGradKernel) OutShape(in []tensor.Shape) (tensor.Shape, error) {
	return sameShapes(in[:3])
}

func (k *gnGradKernel) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	if err := checkDense(in); err != nil {
		return err
	}
	f := k.fwd
	n, c, s := ncs(in[0].Shape())
	if len(f.mean) != n*f.groups {
		return fmt.Errorf("backward pass before the forward pass")
	}
	if len(f.ds) != n*c {
		f.ds, f.db = make([]float64, n*c), make([]float64, n*c)
	}
	switch dx := out.Data().(type) {
	case []float32:
		gnBackward(f, dx, asSlice[float32](in[0]), asSlice[float32](in[2]), asSlice[float32](in[3]), n, c, s)
	case []float64:
		gnBackward(f, dx, asSlice[float64](in[0]), asSlice[float64](in[2]), asSlice[float64](in[3]), n, c, s)
	default:
		return errDtype(out)
	}
	return nil
}

func gnBackward[T floating](f *gnKernel, dx, x, dy, w []T, n, c, s int) {
	d := c / f.groups
	m := d * s
	parallel.For(n*f.groups, groupGrain(n*f.groups, m), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			c0 := (p % f.groups) * d
			nc0 := (p/f.groups)*c + c0
			var dsw, dbw float64
			for j := 0; j < d; j++ {
				xs, gs := x[p*m+j*s:p*m+(j+1)*s], dy[p*m+j*s:p*m+(j+1)*s]
				// Σdy and Σdy·x (dyDot4 with mean 0).
				sdy, sdx := dyDot4(xs, gs, 0)
				f.ds[nc0+j], f.db[nc0+j] = sdx, sdy
				wj := float64(w[c0+j])
				dsw += sdx * wj
				dbw += sdy * wj
			}
			mean, rstd := f.mean[p], f.rstd[p]
			beta := (dbw*mean - dsw) * rstd * rstd * rstd / float64(m)
			gamma := -beta*mean - dbw*rstd/float64(m)
			for j := 0; j < d; j++ {
				a := rstd * float64(w[c0+j])
				xs, gs := x[p*m+j*s:p*m+(j+1)*s], dy[p*m+j*s:p*m+(j+1)*s]
				ds := dx[p*m+j*s : p*m+(j+1)*s]
				for i, v := range xs {
					ds[i] = T(a*float64(gs[i]) + beta*float64(v) + gamma)
				}
			}
		}
	})
}

// gnParamGradKernel returns dw (or, with bias, db) from the sums the
// backward kernel whose output dx it takes has kept.
type gnParamGradKernel struct {
	fwd  *gnKernel
	bias bool
}

func (k gnParamGradKernel) Name() string {
	return "GroupNormGrad" + map[bool]string{false: "Weight", true: "Bias"}[k.bias]
}
func (k gnParamGradKernel) InDims() []int { return []int{k.fwd.dims} }
func (k gnParamGradKernel) OutDims() int  { return 1 }
func (k gnParamGradKernel) OutShape(in []tensor.Shape) (tensor.Shape, error) {
	return tensor.Shape{in[0][1]}, nil
}

func (k gnParamGradKernel) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	f := k.fwd
	n, c, _ := ncs(in[0].Shape())
	d := c / f.groups
	grad := func(ci int) float64 {
		var acc float64
		for ni := 0; ni < n; ni++ {
			if k.bias {
				acc += f.db[ni*c+ci]
				continue
			}
			p := ni*f.groups + ci/d
			acc += (f.ds[ni*c+ci] - f.db[ni*c+ci]*f.mean[p]) * f.rstd[p]
		}
		return acc
	}
	switch y := out.Data().(type) {
	case []float32:
		for ci := range y {
			y[ci] = float32(grad(ci))
		}
	case []float64:
		for ci := range y {
			y[ci] = grad(ci)
		}
	default:
		return errDtype(out)
	}
	return nil
}

// name is the layer's state_dict prefix.
func (g *GroupNorm) name() string { return strings.TrimSuffix(g.Weight.Name, ".weight") }

// String describes the layer as PyTorch prints it.
func (g *GroupNorm) String() string {
	return fmt.Sprintf("%s: GroupNorm(%d, %d, eps=%g, affine=True)", g.name(), g.Groups, g.Channels, g.Eps)
}
