package nn

import (
	"fmt"
	"math"
	"strings"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/internal/parallel"
)

// Forward normalizes x ([N, C] or [N, C, H, W]) per channel and returns a
// node of x's shape.
//
// Each time the graph runs, the op reads b.Training: in Train mode it
// normalizes with the batch mean and the biased batch variance, then
// updates RunningMean and RunningVar in place (running = (1-m)*running +
// m*batch, with the unbiased variance for RunningVar) and adds one to
// NumBatchesTracked; in Eval mode it normalizes with the running
// statistics and changes nothing. Train mode needs more than one value per
// channel (N*H*W > 1) and otherwise makes Run fail, like PyTorch.
//
// The backward pass is the one of the mode the forward pass ran in: the
// full batch-statistics gradient in Train mode, the affine map's gradient
// in Eval mode. Statistics are accumulated in float64 (as PyTorch's CPU
// BatchNorm2d kernel does; its BatchNorm1d accumulates in float32, a few
// ulps away) and then rounded to the input's dtype; the work is split over
// channels, so results do not depend on the number of workers.
//
// A layer applied twice in one graph (two views through one backbone)
// updates its running statistics twice per run, in the order the graph
// runs the two applications (the order they were built in, as far as the
// tests see), like two PyTorch forward calls.
func (b *BatchNorm) Forward(x *G.Node) *G.Node {
	if b.Weight == nil {
		return batchNorm(b, x, nil, nil)
	}
	g := x.Graph()
	return batchNorm(b, x, b.Weight.Node(g), b.Bias.Node(g))
}

// batchNorm applies b's normalization to x with the given weight and bias
// nodes (nil without affine). The running statistics are read from and
// written to b's parameters directly: they are state, not graph inputs.
func batchNorm(b *BatchNorm, x, w, bias *G.Node) *G.Node {
	if x.Dims() != 2 && x.Dims() != 4 {
		panic(fmt.Sprintf("nn: BatchNorm %s: input %v, want [N, C] or [N, C, H, W]", b.name(), x.Shape()))
	}
	if x.Shape()[1] != b.Config.Features {
		panic(fmt.Sprintf("nn: BatchNorm %s: input %v has %d channels, want %d", b.name(), x.Shape(), x.Shape()[1], b.Config.Features))
	}
	k := &bnKernel{layer: b, dims: x.Dims(), affine: w != nil, sync: replicaOf(x.Graph()).SyncBatchNorm}
	if w == nil {
		return Apply(k, x)
	}
	return Apply(k, x, w, bias)
}

// name is the layer's state_dict prefix.
func (b *BatchNorm) name() string { return strings.TrimSuffix(b.RunningMean.Name, ".running_mean") }

// bnKernel is one application of a BatchNorm layer. Its forward pass saves
// the statistics it normalized with; its backward kernels (bnGradKernel,
// then bnParamGradKernel) read them and keep the parameter gradients.
type bnKernel struct {
	layer  *BatchNorm
	dims   int
	affine bool
	// sync, if not nil, reduces the batch statistics over the replicas
	// of a data-parallel run (Replica.SyncBatchNorm).
	sync Reducer

	// Set by each forward run.
	train  bool      // batch statistics were used
	count  float64   // the number of values per channel they came from
	mean   []float64 // per channel, the mean normalized with
	invstd []float64 // 1/sqrt(var + eps) normalized with
	// Set by each backward run.
	dw, db []float64
	// Per-channel work arrays, reused by every run.
	s1, s2, s3, s4 []float64
	both           []float64
}

func (k *bnKernel) Name() string { return "BatchNorm(" + k.layer.name() + ")" }
func (k *bnKernel) InDims() []int {
	if k.affine {
		return []int{k.dims, 1, 1}
	}
	return []int{k.dims}
}

func (k *bnKernel) OutShape(in []tensor.Shape) (tensor.Shape, error) {
	c := k.layer.Config.Features
	if in[0][1] != c {
		return nil, fmt.Errorf("input %v has %d channels, want %d", in[0], in[0][1], c)
	}
	for i := 1; i < len(in); i++ {
		if in[i].TotalSize() != c {
			return nil, fmt.Errorf("input %d has shape %v, want [%d]", i, in[i], c)
		}
	}
	return in[0].Clone(), nil
}

func (k *bnKernel) DiffWRT() []bool { return []bool{true, true, true}[:len(k.InDims())] }

func (k *bnKernel) Grad(in G.Nodes, out, dy *G.Node) (G.Nodes, error) {
	args := G.Nodes{in[0], out, dy}
	if k.affine {
		args = append(args, in[1])
	}
	dx := Apply(&bnGradKernel{fwd: k}, args...)
	if !k.affine {
		return G.Nodes{dx}, nil
	}
	return G.Nodes{dx,
		Apply(bnParamGradKernel{fwd: k}, dx),
		Apply(bnParamGradKernel{fwd: k, bias: true}, dx)}, nil
}

func (k *bnKernel) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	if err := checkDense(in); err != nil {
		return err
	}
	b := k.layer
	n, c, s := ncs(in[0].Shape())
	k.train = b.Training
	k.count = float64(n * s)
	if k.train && k.sync != nil {
		cnt := []float64{k.count}
		if err := k.sync.AllReduceSum64(cnt); err != nil {
			return fmt.Errorf("synchronized statistics: %w", err)
		}
		k.count = cnt[0]
	}
	if k.train && k.count <= 1 {
		return fmt.Errorf("expected more than 1 value per channel when training, got input %v", in[0].Shape())
	}
	if len(k.mean) != c {
		k.mean, k.invstd = make([]float64, c), make([]float64, c)
		k.s1, k.s2, k.s3, k.s4 = make([]float64, c), make([]float64, c), make([]float64, c), make([]float64, c)
	}
	if b.RunningMean.Value.Dtype() != tensor.Float32 || b.RunningVar.Value.Dtype() != tensor.Float32 {
		return fmt.Errorf("running statistics are %v, want float32", b.RunningMean.Value.Dtype())
	}
	var err error
	switch y := out.Data().(type) {
	case []float32:
		err = bnForward(k, y, in, n, c, s)
	case []float64:
		err = bnForward(k, y, in, n, c, s)
	default:
		return errDtype(out)
	}
	if err != nil {
		return fmt.Errorf("synchronized statistics: %w", err)
	}
	if k.train {
		nbt, ok := b.NumBatchesTracked.Value.Data().([]int64)
		if !ok || len(nbt) != 1 {
			return fmt.Errorf("num_batches_tracked is %v %v, want int64 [1]", b.NumBatchesTracked.Value.Dtype(), b.NumBatchesTracked.Shape())
		}
		nbt[0]++
	}
	return nil
}

// bnForward normalizes x [N, C, S] into y, one block of channels per
// chunk. Every pass walks the chunk row by row (n outer, then the block's
// channels and positions), contiguous in memory: walking one channel at a
// time would stride C*S elements, 4 KiB apart at 256x2x2, which defeats
// the cache. Per channel, sums run over n, each plane reduced by sum4 and
// friends; the order depends only on the shape. With k.sync, the sums
// are reduced over the replicas between the passes, so each pass runs
// over all channels before the next.
func bnForward[T floating](k *bnKernel, y []T, in []*tensor.Dense, n, c, s int) error {
	x := asSlice[T](in[0])
	var w, bias []T
	if k.affine {
		w, bias = asSlice[T](in[1]), asSlice[T](in[2])
	}
	cfg := k.layer.Config
	rm, rv := k.layer.RunningMean.Data(), k.layer.RunningVar.Data()
	m := k.count
	eps := T(cfg.Eps)
	sum, ss, alpha, beta := k.s1, k.s2, k.s3, k.s4
	grain := channelGrain(n, c, s)
	// finish computes the statistics and the affine map of channels
	// [c0, c1) from the sums and normalizes them.
	finish := func(c0, c1 int) {
		for ci := c0; ci < c1; ci++ {
			// The statistics are rounded to T, and alpha and beta
			// computed in T, as PyTorch's CPU kernels do.
			var mean, invstd T
			if k.train {
				mean = T(sum[ci])
				varSum := float64(T(ss[ci]))
				invstd = T(1 / math.Sqrt(varSum/m+cfg.Eps))
				rm[ci] = float32(cfg.Momentum*float64(mean) + (1-cfg.Momentum)*float64(rm[ci]))
				rv[ci] = float32(cfg.Momentum*varSum/(m-1) + (1-cfg.Momentum)*float64(rv[ci]))
			} else {
				mean = T(rm[ci])
				invstd = 1 / T(math.Sqrt(float64(T(rv[ci])+eps)))
			}
			k.mean[ci], k.invstd[ci] = float64(mean), float64(invstd)
			// y = x*alpha + beta, alpha = invstd*w, beta = b - mean*alpha.
			a, b := invstd, -mean*invstd
			if k.affine {
				a = invstd * w[ci]
				b = bias[ci] - mean*a
			}
			alpha[ci], beta[ci] = float64(a), float64(b)
		}
		affineRows(y, x, alpha, beta, n, c, s, c0, c1)
	}
	if k.train && k.sync != nil {
		parallel.For(c, grain, func(c0, c1 int) { sumRows(sum, x, n, c, s, c0, c1) })
		if err := k.sync.AllReduceSum64(sum); err != nil {
			return err
		}
		for ci := range sum {
			sum[ci] /= m // now the global mean
		}
		parallel.For(c, grain, func(c0, c1 int) { sqDevRows(ss, sum, x, n, c, s, c0, c1) })
		if err := k.sync.AllReduceSum64(ss); err != nil {
			return err
		}
		parallel.For(c, grain, finish)
		return nil
	}
	parallel.For(c, grain, func(c0, c1 int) {
		if k.train {
			// Two passes, as PyTorch: the mean, then the sum of squared
			// deviations, both accumulated in float64.
			sumRows(sum, x, n, c, s, c0, c1)
			for ci := c0; ci < c1; ci++ {
				sum[ci] /= m // now the mean
			}
			sqDevRows(ss, sum, x, n, c, s, c0, c1)
		}
		finish(c0, c1)
	})
	return nil
}

// sumRows sets acc[ci] = Σ_n Σ_i x[n, ci, i] for ci in [c0, c1).
func sumRows[T floating](acc []float64, x []T, n, c, s, c0, c1 int) {
	a := acc[c0:c1]
	clear(a)
	for ni := 0; ni < n; ni++ {
		row := x[(ni*c+c0)*s : (ni*c+c1)*s]
		if s == 1 {
			for j, v := range row {
				a[j] += float64(v)
			}
			continue
		}
		for j := range a {
			a[j] += sum4(row[j*s : (j+1)*s])
		}
	}
}

// sqDevRows sets acc[ci] = Σ_n Σ_i (x[n, ci, i] - mean[ci])².
func sqDevRows[T floating](acc, mean []float64, x []T, n, c, s, c0, c1 int) {
	a, mu := acc[c0:c1], mean[c0:c1]
	clear(a)
	for ni := 0; ni < n; ni++ {
		row := x[(ni*c+c0)*s : (ni*c+c1)*s]
		if s == 1 {
			for j, v := range row {
				d := float64(v) - mu[j]
				a[j] += d * d
			}
			continue
		}
		for j := range a {
			a[j] += sqDev4(row[j*s:(j+1)*s], mu[j])
		}
	}
}

// sum4, sqDev4 and dyDot4 reduce one segment (the positions of one
// (n, c) plane) in float64 with four accumulators, which hides the latency
// of the additions; the order is fixed by the segment's length alone.

func sum4[T floating](x []T) float64 {
	var t0, t1, t2, t3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		v := x[i : i+4 : i+4]
		t0 += float64(v[0])
		t1 += float64(v[1])
		t2 += float64(v[2])
		t3 += float64(v[3])
	}
	for ; i < len(x); i++ {
		t0 += float64(x[i])
	}
	return (t0 + t1) + (t2 + t3)
}

func sqDev4[T floating](x []T, m float64) float64 {
	var t0, t1, t2, t3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		v := x[i : i+4 : i+4]
		d0, d1, d2, d3 := float64(v[0])-m, float64(v[1])-m, float64(v[2])-m, float64(v[3])-m
		t0 += d0 * d0
		t1 += d1 * d1
		t2 += d2 * d2
		t3 += d3 * d3
	}
	for ; i < len(x); i++ {
		d := float64(x[i]) - m
		t0 += d * d
	}
	return (t0 + t1) + (t2 + t3)
}

func dyDot4[T floating](x, dy []T, m float64) (sum, dot float64) {
	var s0, s1, s2, s3, d0, d1, d2, d3 float64
	dy = dy[:len(x)]
	i := 0
	for ; i+4 <= len(x); i += 4 {
		v, g := x[i:i+4:i+4], dy[i:i+4:i+4]
		g0, g1, g2, g3 := float64(g[0]), float64(g[1]), float64(g[2]), float64(g[3])
		s0 += g0
		s1 += g1
		s2 += g2
		s3 += g3
		d0 += (float64(v[0]) - m) * g0
		d1 += (float64(v[1]) - m) * g1
		d2 += (float64(v[2]) - m) * g2
		d3 += (float64(v[3]) - m) * g3
	}
	for ; i < len(x); i++ {
		g := float64(dy[i])
		s0 += g
		d0 += (float64(x[i]) - m) * g
	}
	return (s0 + s1) + (s2 + s3), (d0 + d1) + (d2 + d3)
}

// affineRows sets y[n, ci, i] = x[n, ci, i]*a[ci] + b[ci] (no addition
// when b is nil), computed in T; a and b hold T values.
func affineRows[T floating](y, x []T, a, b []float64, n, c, s, c0, c1 int) {
	for ni := 0; ni < n; ni++ {
		lo, hi := (ni*c+c0)*s, (ni*c+c1)*s
		xr, yr := x[lo:hi], y[lo:hi]
		if s == 1 {
			aa := a[c0:c1]
			yr = yr[:len(xr)]
			if b == nil {
				for j, v := range xr {
					yr[j] = v * T(aa[j])
				}
				continue
			}
			bb := b[c0:c1]
			for j, v := range xr {
				yr[j] = v*T(aa[j]) + T(bb[j])
			}
			continue
		}
		for j := 0; j < c1-c0; j++ {
			aj := T(a[c0+j])
			xs, ys := xr[j*s:(j+1)*s], yr[j*s:(j+1)*s]
			if b == nil {
				for i, v := range xs {
					ys[i] = v * aj
				}
				continue
			}
			bj := T(b[c0+j])
			for i, v := range xs {
				ys[i] = v*aj + bj
			}
		}
	}
}

// bnGradKernel computes dx from (x, y, dy[, w]) with the statistics the
// forward pass saved, and keeps dw and db for bnParamGradKernel. y is an
// input only so that the backward pass runs after the forward pass.
type bnGradKernel struct{ fwd *bnKernel }

func (k *bnGradKernel) Name() string { return "BatchNormGrad(" + k.fwd.layer.name() + ")" }
func (k *bnGradKernel) InDims() []int {
	d := k.fwd.dims
	if k.fwd.affine {
		return []int{d, d, d, 1}
	}
	return []int{d, d, d}
}
func (k *bnGradKernel) OutShape(in []tensor.Shape) (tensor.Shape, error) {
	return sameShapes(in[:3])
}

func (k *bnGradKernel) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	if err := checkDense(in); err != nil {
		return err
	}
	f := k.fwd
	n, c, s := ncs(in[0].Shape())
	if len(f.mean) != c {
		return fmt.Errorf("backward pass before the forward pass")
	}
	if f.affine && len(f.dw) != c {
		f.dw, f.db = make([]float64, c), make([]float64, c)
	}
	var err error
	switch dx := out.Data().(type) {
	case []float32:
		err = bnBackward(f, dx, in, n, c, s)
	case []float64:
		err = bnBackward(f, dx, in, n, c, s)
	default:
		return errDtype(out)
	}
	if err != nil {
		return fmt.Errorf("synchronized gradient statistics: %w", err)
	}
	return nil
}

// bnBackward computes, per channel with M values, Σdy and Σdy*(x-mean),
// then
//
//	Train: dx = (dy - Σdy/M - (x-mean)*Σdy(x-mean)*invstd²/M) * invstd*w
//	Eval:  dx = dy * invstd*w
//
// and dw = Σdy*(x-mean)*invstd, db = Σdy in both modes. It walks the data
// row by row like bnForward. With f.sync (Train mode), M and the two sums
// in dx are the global batch's (reduced over the replicas) while dw and
// db keep this replica's sums.
func bnBackward[T floating](f *bnKernel, dx []T, in []*tensor.Dense, n, c, s int) error {
	x, dy := asSlice[T](in[0]), asSlice[T](in[2])
	var w []T
	if f.affine {
		w = asSlice[T](in[3])
	}
	m := f.count
	sum, dot, scale, shift := f.s1, f.s2, f.s3, f.s4
	grain := channelGrain(n, c, s)
	// params sets dw, db and the scale invstd*w of channels [c0, c1)
	// from the local sums.
	params := func(c0, c1 int) {
		for ci := c0; ci < c1; ci++ {
			invstd := f.invstd[ci]
			if f.affine {
				f.dw[ci] = dot[ci] * invstd
				f.db[ci] = sum[ci]
			}
			a := T(invstd)
			if f.affine {
				a *= w[ci]
			}
			scale[ci] = float64(a)
		}
	}
	// grad sets dx of channels [c0, c1) from the (global) sums.
	grad := func(c0, c1 int) {
		for ci := c0; ci < c1; ci++ {
			invstd := f.invstd[ci]
			// shift holds Σdy/M, dot becomes Σdy(x-mean)*invstd²/M; both
			// rounded to T like the mean.
			shift[ci] = float64(T(sum[ci] / m))
			dot[ci] = float64(T(dot[ci] * invstd * invstd / m))
		}
		bnGradRows(dx, x, dy, f.mean, shift, dot, scale, n, c, s, c0, c1)
	}
	if f.train && f.sync != nil {
		parallel.For(c, grain, func(c0, c1 int) {
			dyRows(sum, dot, f.mean, x, dy, n, c, s, c0, c1)
			params(c0, c1)
		})
		both := f.sync2(c)
		copy(both, sum)
		copy(both[c:], dot)
		if err := f.sync.AllReduceSum64(both); err != nil {
			return err
		}
		copy(sum, both)
		copy(dot, both[c:])
		parallel.For(c, grain, grad)
		return nil
	}
	parallel.For(c, grain, func(c0, c1 int) {
		if f.train || f.affine {
			dyRows(sum, dot, f.mean, x, dy, n, c, s, c0, c1)
		}
		params(c0, c1)
		if !f.train {
			affineRows(dx, dy, scale, nil, n, c, s, c0, c1)
			return
		}
		grad(c0, c1)
	})
	return nil
}

// sync2 returns the kernel's buffer of 2c values for the backward
// reduction.
func (k *bnKernel) sync2(c int) []float64 {
	if len(k.both) != 2*c {
		k.both = make([]float64, 2*c)
	}
	return k.both
}

// dyRows sets sum[ci] = Σ dy and dot[ci] = Σ (x - mean[ci])*dy over the
// channel's values, in float64.
func dyRows[T floating](sum, dot, mean []float64, x, dy []T, n, c, s, c0, c1 int) {
	sa, da, mu := sum[c0:c1], dot[c0:c1], mean[c0:c1]
	clear(sa)
	clear(da)
	for ni := 0; ni < n; ni++ {
		lo, hi := (ni*c+c0)*s, (ni*c+c1)*s
		xr, gr := x[lo:hi], dy[lo:hi]
		if s == 1 {
			for j, v := range xr {
				g := float64(gr[j])
				sa[j] += g
				da[j] += (float64(v) - mu[j]) * g
			}
			continue
		}
		for j := range sa {
			ts, td := dyDot4(xr[j*s:(j+1)*s], gr[j*s:(j+1)*s], mu[j])
			sa[j] += ts
			da[j] += td
		}
	}
}

// bnGradRows sets dx = (dy - gm - (x - mu)*k) * a per channel, in T (the
// per-channel factors hold T values).
func bnGradRows[T floating](dx, x, dy []T, mu, gm, k, a []float64, n, c, s, c0, c1 int) {
	for ni := 0; ni < n; ni++ {
		lo, hi := (ni*c+c0)*s, (ni*c+c1)*s
		xr, gr, dr := x[lo:hi], dy[lo:hi], dx[lo:hi]
		if s == 1 {
			m, g0, kk, aa := mu[c0:c1], gm[c0:c1], k[c0:c1], a[c0:c1]
			for j, v := range xr {
				dr[j] = (gr[j] - T(g0[j]) - (v-T(m[j]))*T(kk[j])) * T(aa[j])
			}
			continue
		}
		for j := 0; j < c1-c0; j++ {
			ci := c0 + j
			m, g0, kk, aa := T(mu[ci]), T(gm[ci]), T(k[ci]), T(a[ci])
			xs, gs, ds := xr[j*s:(j+1)*s], gr[j*s:(j+1)*s], dr[j*s:(j+1)*s]
			for i, v := range xs {
				ds[i] = (gs[i] - g0 - (v-m)*kk) * aa
			}
		}
	}
}

// bnParamGradKernel returns the dw (or, with bias, db) that the backward
// kernel whose output dx it takes has computed.
type bnParamGradKernel struct {
	fwd  *bnKernel
	bias bool
}

func (k bnParamGradKernel) Name() string {
	if k.bias {
		return "BatchNormGradBias(" + k.fwd.layer.name() + ")"
	}
	return "BatchNormGradWeight(" + k.fwd.layer.name() + ")"
}
func (k bnParamGradKernel) InDims() []int { return []int{k.fwd.dims} }
func (k bnParamGradKernel) OutDims() int  { return 1 }
func (k bnParamGradKernel) OutShape(in []tensor.Shape) (tensor.Shape, error) {
	return tensor.Shape{in[0][1]}, nil
}

func (k bnParamGradKernel) Forward(out *tensor.Dense, _ []*tensor.Dense) error {
	src := k.fwd.dw
	if k.bias {
		src = k.fwd.db
	}
	switch d := out.Data().(type) {
	case []float32:
		for i, v := range src {
			d[i] = float32(v)
		}
	case []float64:
		copy(d, src)
	default:
		return errDtype(out)
	}
	return nil
}
