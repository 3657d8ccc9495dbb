package analysis

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/disiam/disiam/internal/parallel"
)

// Constants of the reference implementation of TriMap (Amid & Warmuth,
// 2019; the trimap package, version 1.1).
const (
	trimapPCADim        = 100  // inputs wider than this are reduced by PCA first
	trimapInitScale     = 0.01 // scale of the PCA initialization
	trimapRandInitScale = 1e-4 // scale of the random initialization
	trimapRandWeight    = 0.1  // factor of the random triplets' weights
	trimapInitMomentum  = 0.5
	trimapFinalMomentum = 0.8
	trimapSwitchIter    = 250 // momentum switches after this iteration
	trimapMinGain       = 0.01
	trimapIncreaseGain  = 0.2
	trimapDampGain      = 0.8
	trimapExtraNeigh    = 50 // neighbours beyond the inliers, re-ranked by scaled distance
)

// TriMapConfig configures TriMap. The zero value is the reference
// implementation's defaults: 2 dimensions, 12 inliers, 4 outliers and 3
// random triplets per point, weight temperature 0.5, learning rate 0.1,
// 400 iterations, PCA initialization.
type TriMapConfig struct {
	// Dims is the embedding dimension (0: 2).
	Dims int
	// Inliers is the number of nearest neighbours per point that form
	// triplets, Outliers the number of sampled outliers per inlier, Random
	// the number of random triplets per point (0: 12, 4, 3; a negative
	// Random means none).
	Inliers, Outliers, Random int
	// WeightTemp is the temperature t of the tempered log applied to the
	// triplet weights (0: 0.5; 1 is the natural log).
	WeightTemp float64
	// LR is the learning rate (0: 0.1), Iters the number of iterations
	// (0: 400).
	LR    float64
	Iters int
	// NoPCA skips the reduction of inputs wider than 100 to their first
	// 100 principal components before the neighbour search.
	NoPCA bool
	// RandomInit starts from Gaussian noise of standard deviation 1e-4
	// instead of the first principal components scaled by 0.01.
	RandomInit bool
	// Seed seeds the triplet sampling and a random initialization.
	Seed uint64
	// Progress, if not nil, is called after every iteration with its
	// number (from 1) and the mean loss.
	Progress func(iter int, loss float64)
}

func (c TriMapConfig) norm() (TriMapConfig, error) {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Dims, 2)
	def(&c.Inliers, 12)
	def(&c.Outliers, 4)
	def(&c.Random, 3)
	def(&c.Iters, 400)
	if c.Random < 0 {
		c.Random = 0
	}
	if c.WeightTemp == 0 {
		c.WeightTemp = 0.5
	}
	if c.LR == 0 {
		c.LR = 0.1
	}
	switch {
	case c.Dims < 1:
		return c, fmt.Errorf("analysis: TriMap: Dims = %d, want > 0", c.Dims)
	case c.Inliers < 1 || c.Outliers < 1:
		return c, fmt.Errorf("analysis: TriMap: %d inliers and %d outliers, want > 0", c.Inliers, c.Outliers)
	case c.Iters < 0:
		return c, fmt.Errorf("analysis: TriMap: Iters = %d, want >= 0", c.Iters)
	case !(c.LR > 0) || math.IsInf(c.LR, 0):
		return c, fmt.Errorf("analysis: TriMap: LR = %v, want > 0", c.LR)
	case !(c.WeightTemp > 0) || c.WeightTemp > 1 || math.IsNaN(c.WeightTemp):
		return c, fmt.Errorf("analysis: TriMap: WeightTemp = %v, want in (0, 1]", c.WeightTemp)
	}
	return c, nil
}

// Triplets are TriMap's weighted triplet constraints: point I[t] should lie
// closer to J[t] than to K[t], with weight W[t].
type Triplets struct {
	I, J, K []int32
	W       []float64
	// NearestPerPoint is the number of nearest-neighbour triplets per
	// point (Inliers·Outliers); they come first, grouped by anchor, and the
	// random triplets (Random per point) follow, also grouped by anchor.
	NearestPerPoint, RandomPerPoint int
}

// Len returns the number of triplets.
func (t *Triplets) Len() int { return len(t.I) }

// TriMapResult is an embedding and the record of its optimization.
type TriMapResult struct {
	// Embedding is n×Dims, row-major.
	Embedding []float64
	Dims      int
	// Loss[i] is the mean weighted triplet loss at the point where the
	// gradient of iteration i+1 was evaluated; Initial the loss at the
	// initialization, Final the loss of the returned embedding.
	Loss           []float64
	Initial, Final float64
	// Violated is the fraction of triplets the returned embedding
	// violates (the outlier at least as close as the inlier).
	Violated float64
	// Triplets are the constraints the embedding was optimized for.
	Triplets *Triplets
}

// TriMap embeds the rows of x (row-major, n×dim) in cfg.Dims dimensions
// with TriMap (see the package doc for the algorithm). The result depends
// only on x, cfg and the seed, not on the number of goroutines. ctx stops
// a long run between iterations.
func TriMap(ctx context.Context, x []float32, dim int, cfg TriMapConfig) (*TriMapResult, error) {
	cfg, err := cfg.norm()
	if err != nil {
		return nil, err
	}
	n, err := checkMatrix("TriMap input", x, dim)
	if err != nil {
		return nil, err
	}
	if need := cfg.Inliers + cfg.Outliers + 2; n < need {
		return nil, fmt.Errorf("analysis: TriMap: %d points, need at least %d for %d inliers and %d outliers", n, need, cfg.Inliers, cfg.Outliers)
	}
	xs, pcaDone, err := trimapPreprocess(x, n, dim, cfg)
	if err != nil {
		return nil, err
	}
	m := len(xs) / n
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	tr, err := trimapTriplets(xs, n, m, cfg)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	y, err := trimapInit(xs, n, m, pcaDone, cfg)
	if err != nil {
		return nil, err
	}
	return trimapOptimize(ctx, y, n, tr, cfg)
}

// trimapPreprocess reduces wide inputs to their first 100 principal
// components (centred; the reference's TruncatedSVD of the centred data),
// or otherwise rescales all values to [0, 1] by the global minimum and
// maximum and centres the columns, as the reference does.
func trimapPreprocess(x []float32, n, dim int, cfg TriMapConfig) ([]float64, bool, error) {
	if dim > trimapPCADim && !cfg.NoPCA {
		p, err := FitPCA(x, dim)
		if err != nil {
			return nil, false, err
		}
		k := min(trimapPCADim, n, dim)
		return p.transform64(to64(x), n, k), true, nil
	}
	xs := to64(x)
	lo, hi := slices.Min(xs), slices.Max(xs)
	scale := hi - lo
	if scale <= 0 {
		scale = 1
	}
	mean := make([]float64, dim)
	for i := range n {
		for j := range dim {
			v := (xs[i*dim+j] - lo) / scale
			xs[i*dim+j] = v
			mean[j] += v
		}
	}
	for j := range mean {
		mean[j] /= float64(n)
	}
	for i := range n {
		for j := range dim {
			xs[i*dim+j] -= mean[j]
		}
	}
	return xs, false, nil
}

// pointRand is the random stream of point i for one purpose: streams
// depend only on (seed, purpose, i), so sampling can run in parallel.
func pointRand(seed uint64, purpose, i int) *rand.Rand {
	return rand.New(rand.NewPCG(seed, uint64(purpose)<<40|uint64(i)))
}

func sqDist(x []float64, m int, a, b int32) float64 {
	var s float64
	pa, pb := x[int(a)*m:int(a+1)*m], x[int(b)*m:int(b+1)*m]
	for t := range pa {
		e := pa[t] - pb[t]
		s += e * e
	}
	return s
}

// trimapTriplets samples and weights the triplets (reference
// generate_triplets).
func trimapTriplets(x []float64, n, m int, cfg TriMapConfig) (*Triplets, error) {
	kn := min(cfg.Inliers+trimapExtraNeigh, n-1)
	nbr, nd, err := Neighbors(x, m, kn)
	if err != nil {
		return nil, err
	}
	// σᵢ: mean distance to the 3rd to 5th nearest neighbours (columns 3:6
	// of the reference, whose column 0 is the point itself).
	sig := make([]float64, n)
	for i := range n {
		lo, hi := 2, min(5, kn)
		if kn <= 3 {
			lo, hi = 0, kn
		}
		var s float64
		for _, d := range nd[i*kn+lo : i*kn+hi] {
			s += d
		}
		sig[i] = max(s/float64(hi-lo), 1e-10)
	}
	tpp := cfg.Inliers * cfg.Outliers
	t := &Triplets{NearestPerPoint: tpp, RandomPerPoint: cfg.Random}
	total := n * (tpp + cfg.Random)
	t.I, t.J, t.K = make([]int32, total), make([]int32, total), make([]int32, total)
	t.W = make([]float64, total)
	parallel.For(n, parallel.Grain(n, 64), func(lo, hi int) {
		type cand struct {
			j int32
			s float64 // scaled squared distance
		}
		cs := make([]cand, kn)
		rejects := make([]int32, 0, cfg.Inliers+1)
		for i := lo; i < hi; i++ {
			// re-rank the neighbours by d²/(σᵢσⱼ)
			for c := range kn {
				j := nbr[i*kn+c]
				d := nd[i*kn+c]
				cs[c] = cand{j, d * d / (sig[i] * sig[j])}
			}
			slices.SortStableFunc(cs, func(a, b cand) int {
				switch {
				case a.s < b.s:
					return -1
				case a.s > b.s:
					return 1
				}
				return 0
			})
			r := pointRand(cfg.Seed, 1, i)
			rejects = append(rejects[:0], int32(i))
			base := i * tpp
			for a := range cfg.Inliers {
				in := cs[a]
				rejects = append(rejects, in.j)
				for o := range cfg.Outliers {
					var k int32
					for {
						k = int32(r.IntN(n))
						if !slices.Contains(rejects, k) && !slices.Contains(t.K[base+a*cfg.Outliers:base+a*cfg.Outliers+o], k) {
							break
						}
					}
					p := base + a*cfg.Outliers + o
					t.I[p], t.J[p], t.K[p] = int32(i), in.j, k
					// log-similarity difference: pₛᵢₘ − pₒᵤₜ with
					// p = −d²/(σᵢσⱼ)
					t.W[p] = sqDist(x, m, int32(i), k)/(sig[i]*sig[k]) - in.s
				}
			}
			if cfg.Random == 0 {
				continue
			}
			r = pointRand(cfg.Seed, 2, i)
			for q := range cfg.Random {
				j := int32(r.IntN(n))
				for j == int32(i) {
					j = int32(r.IntN(n))
				}
				k := int32(r.IntN(n))
				for k == int32(i) || k == j {
					k = int32(r.IntN(n))
				}
				ps := -sqDist(x, m, int32(i), j) / (sig[i] * sig[j])
				po := -sqDist(x, m, int32(i), k) / (sig[i] * sig[k])
				if ps < po {
					j, k, ps, po = k, j, po, ps
				}
				p := n*tpp + i*cfg.Random + q
				t.I[p], t.J[p], t.K[p] = int32(i), j, k
				t.W[p] = trimapRandWeight * (ps - po)
			}
		}
	})
	lo := math.Inf(1)
	for i, w := range t.W {
		if math.IsNaN(w) {
			t.W[i] = 0
			w = 0
		}
		lo = min(lo, w)
	}
	for i, w := range t.W {
		t.W[i] = temperedLog(1+w-lo, cfg.WeightTemp)
	}
	return t, nil
}

// temperedLog is logₜ(x) = (x^(1−t) − 1)/(1 − t), the natural log at t = 1.
func temperedLog(x, t float64) float64 {
	if math.Abs(t-1) < 1e-5 {
		return math.Log(x)
	}
	return (math.Pow(x, 1-t) - 1) / (1 - t)
}

// trimapInit returns the initial embedding.
func trimapInit(x []float64, n, m int, pcaDone bool, cfg TriMapConfig) ([]float64, error) {
	d := cfg.Dims
	y := make([]float64, n*d)
	switch {
	case cfg.RandomInit:
		r := pointRand(cfg.Seed, 3, 0)
		for i := range y {
			y[i] = trimapRandInitScale * r.NormFloat64()
		}
	case pcaDone && m >= d:
		for i := range n {
			for j := range d {
				y[i*d+j] = trimapInitScale * x[i*m+j]
			}
		}
	default:
		if m < d {
			return nil, fmt.Errorf("analysis: TriMap: PCA initialization of %d dimensions from %d", d, m)
		}
		mean, cov := covariance(x, n, m)
		p, err := pcaFromCov(mean, cov, m)
		if err != nil {
			return nil, err
		}
		s := p.transform64(x, n, d)
		for i := range y {
			y[i] = trimapInitScale * s[i]
		}
	}
	return y, nil
}

// trimapChunks is the fixed number of anchor chunks whose gradient
// contributions are accumulated separately and summed in order.
const trimapChunks = 16

// trimapGrad evaluates the summed loss Σ w·dᵢⱼ/(dᵢⱼ+dᵢₖ), dᵢⱼ = 1+‖yᵢ−yⱼ‖²,
// its exact gradient into g and the number of violated triplets.
type trimapGrad struct {
	n, d  int
	t     *Triplets
	grain int
	bufs  [][]float64
	loss  []float64
	viol  []int
}

func newTrimapGrad(n, d int, t *Triplets) *trimapGrad {
	g := &trimapGrad{n: n, d: d, t: t, grain: (n + trimapChunks - 1) / trimapChunks}
	k := parallel.Chunks(n, g.grain)
	g.bufs = make([][]float64, k)
	for c := range g.bufs {
		g.bufs[c] = make([]float64, n*d)
	}
	g.loss = make([]float64, k)
	g.viol = make([]int, k)
	return g
}

func (g *trimapGrad) eval(y, grad []float64) (loss float64, violated int) {
	d, t := g.d, g.t
	tpp, rpp := t.NearestPerPoint, t.RandomPerPoint
	parallel.For(g.n, g.grain, func(lo, hi int) {
		c := lo / g.grain
		buf := g.bufs[c]
		clear(buf)
		var l float64
		var v int
		do := func(p int) {
			i, j, k := int(t.I[p]), int(t.J[p]), int(t.K[p])
			yi, yj, yk := y[i*d:(i+1)*d], y[j*d:(j+1)*d], y[k*d:(k+1)*d]
			dij, dik := 1.0, 1.0
			for a := range d {
				e, f := yi[a]-yj[a], yi[a]-yk[a]
				dij += e * e
				dik += f * f
			}
			if dij > dik {
				v++
			}
			s := dij + dik
			w := t.W[p]
			l += w * dij / s
			sc := 2 * w / (s * s)
			gi, gj, gk := buf[i*d:(i+1)*d], buf[j*d:(j+1)*d], buf[k*d:(k+1)*d]
			for a := range d {
				gs := (yi[a] - yj[a]) * dik * sc
				gout := (yi[a] - yk[a]) * dij * sc
				gi[a] += gs - gout
				gj[a] -= gs
				gk[a] += gout
			}
		}
		for p := lo * tpp; p < hi*tpp; p++ {
			do(p)
		}
		base := g.n * tpp
		for p := base + lo*rpp; p < base+hi*rpp; p++ {
			do(p)
		}
		g.loss[c], g.viol[c] = l, v
	})
	parallel.For(len(grad), parallel.Grain(len(grad), 1024), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			var s float64
			for _, b := range g.bufs {
				s += b[i]
			}
			grad[i] = s
		}
	})
	for c := range g.loss {
		loss += g.loss[c]
		violated += g.viol[c]
	}
	return loss, violated
}

// trimapOptimize runs the delta-bar-delta optimizer of the reference
// implementation.
func trimapOptimize(ctx context.Context, y []float64, n int, t *Triplets, cfg TriMapConfig) (*TriMapResult, error) {
	d := cfg.Dims
	nt := float64(t.Len())
	if nt == 0 {
		return nil, errors.New("analysis: TriMap: no triplets")
	}
	g := newTrimapGrad(n, d, t)
	grad := make([]float64, n*d)
	vel := make([]float64, n*d)
	gain := make([]float64, n*d)
	for i := range gain {
		gain[i] = 1
	}
	eval := make([]float64, n*d)
	// The reference's gradient omits the factor 2 of the derivative and
	// uses the step lr·n/#triplets; with the exact gradient the same
	// step is half that.
	lr := 0.5 * cfg.LR * float64(n) / nt
	res := &TriMapResult{Dims: d, Triplets: t, Loss: make([]float64, 0, cfg.Iters)}
	l0, _ := g.eval(y, grad)
	res.Initial = l0 / nt
	for it := range cfg.Iters {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		gamma := trimapInitMomentum
		if it > trimapSwitchIter {
			gamma = trimapFinalMomentum
		}
		for i := range eval {
			eval[i] = y[i] + gamma*vel[i]
		}
		l, _ := g.eval(eval, grad)
		for i := range y {
			if sign(vel[i]) != sign(grad[i]) {
				gain[i] += trimapIncreaseGain
			} else {
				gain[i] = max(gain[i]*trimapDampGain, trimapMinGain)
			}
			vel[i] = gamma*vel[i] - lr*gain[i]*grad[i]
			y[i] += vel[i]
		}
		res.Loss = append(res.Loss, l/nt)
		if cfg.Progress != nil {
			cfg.Progress(it+1, l/nt)
		}
	}
	l, v := g.eval(y, grad)
	res.Final, res.Violated = l/nt, float64(v)/nt
	res.Embedding = y
	return res, nil
}

func sign(v float64) int {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}
