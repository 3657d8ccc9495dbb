package probe

import (
	"context"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/optimize"

	"github.com/disiam/disiam/eval"
	"github.com/disiam/disiam/internal/linalg"
	"github.com/disiam/disiam/internal/parallel"
)

// Metric names of the linear probe's accuracies.
const (
	MetricTop1 = "linear_top1"
	MetricTop5 = "linear_top5"
)

// Defaults of Config.
const (
	// DefaultLambda is the L2 penalty λ of the objective
	// mean cross-entropy + λ/2·‖W‖² (see the package doc).
	DefaultLambda = 1e-4
	// DefaultMaxIter bounds the L-BFGS iterations.
	DefaultMaxIter = 1000
	// DefaultGradTol stops L-BFGS when the largest absolute gradient
	// component falls below it.
	DefaultGradTol = 1e-6
	// DefaultValFraction is the share of the training rows held out to
	// choose λ when Config.Lambdas lists candidates.
	DefaultValFraction = 0.2
)

// Normalization is the per-feature preprocessing fitted on the training
// features and applied to every feature vector the classifier sees.
type Normalization int

const (
	// Standardize subtracts the training mean and divides by the training
	// standard deviation (population, ddof = 0, as scikit-learn's
	// StandardScaler; a constant feature is only centred). The default.
	Standardize Normalization = iota
	// L2 scales every vector to unit Euclidean norm, the normalization of
	// the kNN protocol (x / max(‖x‖, 1e-12)).
	L2
	// None feeds the features as they are.
	None
)

// String names the normalization.
func (n Normalization) String() string {
	switch n {
	case Standardize:
		return "standardize"
	case L2:
		return "l2"
	case None:
		return "none"
	}
	return fmt.Sprintf("Normalization(%d)", int(n))
}

// ParseNormalization parses the names String returns.
func ParseNormalization(s string) (Normalization, error) {
	for _, n := range []Normalization{Standardize, L2, None} {
		if n.String() == s {
			return n, nil
		}
	}
	return 0, fmt.Errorf("probe: unknown normalization %q (want standardize, l2 or none)", s)
}

// Config holds the probe's hyper-parameters; the zero value is the
// package's recipe (standardized features, λ = 1e-4, L-BFGS to a gradient
// of 1e-6 or 1000 iterations).
type Config struct {
	// Lambda is the L2 penalty on the weights (not the biases); 0 means
	// DefaultLambda. Ignored when Lambdas is set.
	Lambda float64
	// Lambdas, if not empty, are candidate penalties: each is fitted on a
	// seeded random (1 - ValFraction) of the training rows and scored by
	// top-1 accuracy on the rest; the best (the largest among equals) is
	// then refitted on all training rows.
	Lambdas []float64
	// ValFraction is the held-out share for choosing among Lambdas; 0
	// means DefaultValFraction.
	ValFraction float64
	// Seed draws the held-out rows.
	Seed uint64
	// MaxIter and GradTol stop L-BFGS; 0 means the defaults.
	MaxIter int
	GradTol float64
	// Normalize is the feature preprocessing (default Standardize).
	Normalize Normalization
}

func (c Config) norm() (Config, error) {
	if c.Lambda == 0 {
		c.Lambda = DefaultLambda
	}
	if c.MaxIter == 0 {
		c.MaxIter = DefaultMaxIter
	}
	if c.GradTol == 0 {
		c.GradTol = DefaultGradTol
	}
	if c.ValFraction == 0 {
		c.ValFraction = DefaultValFraction
	}
	switch {
	case !(c.Lambda > 0) || math.IsInf(c.Lambda, 0):
		return c, fmt.Errorf("probe: Lambda = %v, want a finite value > 0", c.Lambda)
	case c.MaxIter < 0:
		return c, fmt.Errorf("probe: MaxIter = %d, want > 0", c.MaxIter)
	case !(c.GradTol > 0):
		return c, fmt.Errorf("probe: GradTol = %v, want > 0", c.GradTol)
	case !(c.ValFraction > 0 && c.ValFraction < 1):
		return c, fmt.Errorf("probe: ValFraction = %v, want in (0, 1)", c.ValFraction)
	case c.Normalize < Standardize || c.Normalize > None:
		return c, fmt.Errorf("probe: unknown normalization %d", int(c.Normalize))
	}
	for i, l := range c.Lambdas {
		if !(l > 0) || math.IsInf(l, 0) {
			return c, fmt.Errorf("probe: Lambdas[%d] = %v, want a finite value > 0", i, l)
		}
	}
	return c, nil
}

// Classifier is a fitted linear probe: logits z = W·norm(x) + b. It is safe
// for concurrent use.
type Classifier struct {
	dim, classes int
	normalize    Normalization
	mean, scale  []float64 // Standardize: x' = (x - mean) * scale
	// W holds the weights, classes×dim row-major (PyTorch's nn.Linear
	// weight layout), B the biases; both in the normalized feature space.
	W, B []float64
	// Lambda is the penalty the classifier was fitted with.
	Lambda float64
	// Loss is the final objective value (mean cross-entropy + λ/2·‖W‖²)
	// on the training rows; Iterations the L-BFGS iterations it took.
	Loss       float64
	Iterations int
	// GradMax is the largest absolute component of the objective's
	// gradient at the returned weights.
	GradMax float64
	// Converged reports whether L-BFGS met GradTol or its function
	// tolerance, or its line search could no longer make progress with a
	// gradient within 10·GradTol (rounding at the optimum), before MaxIter.
	Converged bool
}

// Dim returns the feature width, Classes the number of classes.
func (c *Classifier) Dim() int     { return c.dim }
func (c *Classifier) Classes() int { return c.classes }

// Normalization returns the preprocessing of the classifier's inputs.
func (c *Classifier) Normalization() Normalization { return c.normalize }

// checkFeatures validates a row-major feature matrix and its labels.
func checkFeatures(what string, x []float32, dim int, labels []int, classes int) (int, error) {
	if dim <= 0 {
		return 0, fmt.Errorf("probe: %s: dim = %d, want > 0", what, dim)
	}
	if len(x)%dim != 0 {
		return 0, fmt.Errorf("probe: %s: %d values are not a whole number of rows of %d", what, len(x), dim)
	}
	n := len(x) / dim
	if n == 0 {
		return 0, fmt.Errorf("probe: %s: no rows", what)
	}
	if labels != nil && len(labels) != n {
		return 0, fmt.Errorf("probe: %s: %d labels for %d rows", what, len(labels), n)
	}
	for i, l := range labels {
		if l < 0 || l >= classes {
			return 0, fmt.Errorf("probe: %s: row %d: label %d outside [0, %d)", what, i, l, classes)
		}
	}
	for i, v := range x {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return 0, fmt.Errorf("probe: %s: row %d: feature %d is not finite", what, i/dim, i%dim)
		}
	}
	return n, nil
}

// Fit trains a linear probe on the training features (row-major,
// len(labels)×dim) with labels in [0, classes). ctx cancels a long fit
// between iterations.
func Fit(ctx context.Context, features []float32, dim int, labels []int, classes int, cfg Config) (*Classifier, error) {
	cfg, err := cfg.norm()
	if err != nil {
		return nil, err
	}
	if classes < 2 {
		return nil, fmt.Errorf("probe: classes = %d, want >= 2", classes)
	}
	n, err := checkFeatures("train", features, dim, labels, classes)
	if err != nil {
		return nil, err
	}
	if len(cfg.Lambdas) == 0 {
		return fit(ctx, features, dim, labels, classes, cfg.Lambda, cfg)
	}
	val := int(math.Round(cfg.ValFraction * float64(n)))
	if val < 1 || val >= n {
		return nil, fmt.Errorf("probe: %d training rows leave no room for a validation share of %v", n, cfg.ValFraction)
	}
	perm := permutation(n, cfg.Seed)
	fitIdx, valIdx := slices.Clone(perm[val:]), slices.Clone(perm[:val])
	slices.Sort(fitIdx)
	slices.Sort(valIdx)
	sub := func(idx []int) ([]float32, []int) {
		x := make([]float32, len(idx)*dim)
		y := make([]int, len(idx))
		for k, i := range idx {
			copy(x[k*dim:(k+1)*dim], features[i*dim:(i+1)*dim])
			y[k] = labels[i]
		}
		return x, y
	}
	fx, fy := sub(fitIdx)
	vx, vy := sub(valIdx)
	best, bestAcc := 0.0, -1.0
	for _, l := range cfg.Lambdas {
		c, err := fit(ctx, fx, dim, fy, classes, l, cfg)
		if err != nil {
			return nil, err
		}
		r, err := c.Evaluate(vx, vy)
		if err != nil {
			return nil, err
		}
		if r.Top1 > bestAcc || (r.Top1 == bestAcc && l > best) {
			best, bestAcc = l, r.Top1
		}
	}
	return fit(ctx, features, dim, labels, classes, best, cfg)
}

// permutation is a seeded Fisher-Yates shuffle of 0..n-1 (SplitMix64).
func permutation(n int, seed uint64) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	s := seed
	next := func() uint64 {
		s += 0x9e3779b97f4a7c15
		z := s
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		return z ^ (z >> 31)
	}
	for i := n - 1; i > 0; i-- {
		j := int(next() % uint64(i+1))
		p[i], p[j] = p[j], p[i]
	}
	return p
}

// fit runs L-BFGS for one penalty.
func fit(ctx context.Context, features []float32, dim int, labels []int, classes int, lambda float64, cfg Config) (*Classifier, error) {
	n := len(labels)
	c := &Classifier{dim: dim, classes: classes, normalize: cfg.Normalize, Lambda: lambda}
	if cfg.Normalize == Standardize {
		c.mean, c.scale = standardization(features, dim)
	}
	x := c.transform(features)
	obj := &objective{x: x, y: labels, n: n, dim: dim, classes: classes, lambda: lambda}
	obj.init()
	p := optimize.Problem{
		Func: func(w []float64) float64 { return obj.eval(w, nil) },
		Grad: func(g, w []float64) { obj.eval(w, g) },
	}
	settings := &optimize.Settings{
		GradientThreshold: cfg.GradTol,
		MajorIterations:   cfg.MaxIter,
		Recorder:          ctxRecorder{ctx},
	}
	w0 := make([]float64, classes*(dim+1))
	res, err := optimize.Minimize(p, w0, settings, &optimize.LBFGS{})
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if res == nil {
		return nil, fmt.Errorf("probe: L-BFGS: %w", err)
	}
	if err != nil {
		// A line search that can no longer improve the objective near the
		// optimum (rounding) leaves a usable result; anything else is an
		// error.
		if math.IsNaN(res.F) || math.IsInf(res.F, 0) || res.Gradient == nil || maxAbs(res.Gradient) > 1e3*cfg.GradTol {
			return nil, fmt.Errorf("probe: L-BFGS (%v): %w", res.Status, err)
		}
	}
	w := res.X
	c.W = slices.Clone(w[:classes*dim])
	c.B = slices.Clone(w[classes*dim:])
	c.Loss = res.F
	c.Iterations = res.Stats.MajorIterations
	c.GradMax = maxAbs(res.Gradient)
	c.Converged = res.Status == optimize.GradientThreshold || res.Status == optimize.FunctionConvergence || (err != nil && c.GradMax <= 10*cfg.GradTol)
	return c, nil
}

func maxAbs(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = max(m, math.Abs(x))
	}
	return m
}

// ctxRecorder stops the optimization when ctx is done.
type ctxRecorder struct{ ctx context.Context }

func (r ctxRecorder) Init() error { return r.ctx.Err() }
func (r ctxRecorder) Record(*optimize.Location, optimize.Operation, *optimize.Stats) error {
	return r.ctx.Err()
}

// standardization returns the per-feature mean and 1/std (1 for a
// constant feature) of x, accumulated in float64 in row order.
func standardization(x []float32, dim int) (mean, scale []float64) {
	n := len(x) / dim
	mean = make([]float64, dim)
	for i := range n {
		for j, v := range x[i*dim : (i+1)*dim] {
			mean[j] += float64(v)
		}
	}
	for j := range mean {
		mean[j] /= float64(n)
	}
	ss := make([]float64, dim)
	for i := range n {
		for j, v := range x[i*dim : (i+1)*dim] {
			d := float64(v) - mean[j]
			ss[j] += d * d
		}
	}
	scale = make([]float64, dim)
	for j := range scale {
		sd := math.Sqrt(ss[j] / float64(n))
		scale[j] = 1
		if sd > 0 {
			scale[j] = 1 / sd
		}
	}
	return mean, scale
}

// transform returns the normalized features in float64.
func (c *Classifier) transform(x []float32) []float64 {
	dim := c.dim
	out := make([]float64, len(x))
	n := len(x) / dim
	parallel.For(n, parallel.Grain(n, 64), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			src, dst := x[i*dim:(i+1)*dim], out[i*dim:(i+1)*dim]
			switch c.normalize {
			case Standardize:
				for j, v := range src {
					dst[j] = (float64(v) - c.mean[j]) * c.scale[j]
				}
			case L2:
				var ss float64
				for _, v := range src {
					ss += float64(v) * float64(v)
				}
				inv := 1 / max(math.Sqrt(ss), 1e-12)
				for j, v := range src {
					dst[j] = float64(v) * inv
				}
			default:
				for j, v := range src {
					dst[j] = float64(v)
				}
			}
		}
	})
	return out
}

// objective is the L2-regularized multinomial logistic loss over
// parameters w = [W (classes×dim), b (classes)].
type objective struct {
	x            []float64
	y            []int
	n, dim       int
	classes      int
	lambda       float64
	grain        int
	loss         []float64   // per chunk
	grads        [][]float64 // per chunk
	logits       [][]float64 // per chunk scratch
	zy           []float64   // logit of the label per row
	lastW, lastG []float64
	lastF        float64
}

// maxChunks bounds the per-chunk gradient buffers; the chunking depends
// only on the number of rows, so results do not depend on the number of
// goroutines.
const maxChunks = 32

func (o *objective) init() {
	o.grain = max(256, (o.n+maxChunks-1)/maxChunks)
	k := parallel.Chunks(o.n, o.grain)
	o.loss = make([]float64, k)
	o.grads = make([][]float64, k)
	o.logits = make([][]float64, k)
	o.zy = make([]float64, o.n)
	for i := range k {
		o.grads[i] = make([]float64, o.classes*(o.dim+1))
		o.logits[i] = make([]float64, o.grain*o.classes)
	}
}

// eval returns the objective at w and, if g is not nil, writes its
// gradient. The last evaluation is cached (L-BFGS asks for the value and
// the gradient at the same point separately).
func (o *objective) eval(w, g []float64) float64 {
	if o.lastW == nil || !slices.Equal(w, o.lastW) {
		o.compute(w)
	}
	if g != nil {
		copy(g, o.lastG)
	}
	return o.lastF
}

func (o *objective) compute(w []float64) {
	dim, cl := o.dim, o.classes
	W, b := w[:cl*dim], w[cl*dim:]
	parallel.For(o.n, o.grain, func(lo, hi int) {
		c := lo / o.grain
		m := hi - lo
		z := o.logits[c][:m*cl]
		xs := o.x[lo*dim : hi*dim]
		zy := o.zy[lo:hi]
		// z = X·Wᵀ
		linalg.Gemm(false, true, m, cl, dim, 1, xs, dim, W, dim, 0, z, cl)
		var loss float64
		for i := range m {
			row := z[i*cl : (i+1)*cl]
			mx := math.Inf(-1)
			for k := range row {
				row[k] += b[k]
				mx = max(mx, row[k])
			}
			zy[i] = row[o.y[lo+i]]
			var s float64
			for k := range row {
				row[k] = math.Exp(row[k] - mx)
				s += row[k]
			}
			y := o.y[lo+i]
			loss += mx + math.Log(s) - zy[i] // logsumexp(z) - z_y
			for k := range row {
				row[k] /= s
			}
			row[y]--
		}
		o.loss[c] = loss
		gr := o.grads[c]
		// dW = Gᵀ·X over this chunk, db = column sums of G
		linalg.Gemm(true, false, cl, dim, m, 1, z, cl, xs, dim, 0, gr[:cl*dim], dim)
		gb := gr[cl*dim:]
		clear(gb)
		for i := range m {
			for k := range cl {
				gb[k] += z[i*cl+k]
			}
		}
	})
	if o.lastG == nil {
		o.lastG = make([]float64, len(w))
	}
	g := o.lastG
	clear(g)
	var loss float64
	inv := 1 / float64(o.n)
	for c := range o.loss {
		loss += o.loss[c]
		for j, v := range o.grads[c] {
			g[j] += v
		}
	}
	var reg float64
	for j, v := range W {
		reg += v * v
		g[j] = g[j]*inv + o.lambda*v
	}
	for j := cl * dim; j < len(g); j++ {
		g[j] *= inv
	}
	o.lastF = loss*inv + 0.5*o.lambda*reg
	o.lastW = append(o.lastW[:0], w...)
}

// Scores returns the logits of the queries (row-major, n×Dim), n×Classes.
func (c *Classifier) Scores(queries []float32) ([]float64, error) {
	n, err := checkFeatures("queries", queries, c.dim, nil, c.classes)
	if err != nil {
		return nil, err
	}
	x := c.transform(queries)
	z := make([]float64, n*c.classes)
	grain := parallel.Grain(n, 256)
	parallel.For(n, grain, func(lo, hi int) {
		m := hi - lo
		zz := z[lo*c.classes : hi*c.classes]
		linalg.Gemm(false, true, m, c.classes, c.dim, 1, x[lo*c.dim:hi*c.dim], c.dim, c.W, c.dim, 0, zz, c.classes)
		for i := range m {
			for k := range c.classes {
				zz[i*c.classes+k] += c.B[k]
			}
		}
	})
	return z, nil
}

// Predict returns the class with the largest logit for every query
// (ties: the lowest class index).
func (c *Classifier) Predict(queries []float32) ([]int, error) {
	z, err := c.Scores(queries)
	if err != nil {
		return nil, err
	}
	n := len(z) / c.classes
	out := make([]int, n)
	for i := range n {
		out[i] = rank(z[i*c.classes:(i+1)*c.classes], 1)[0]
	}
	return out, nil
}

// rank returns the indices of the k largest scores, best first, equal
// scores by index.
func rank(s []float64, k int) []int {
	idx := make([]int, len(s))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case s[a] > s[b]:
			return -1
		case s[a] < s[b]:
			return 1
		}
		return 0
	})
	return idx[:min(k, len(idx))]
}

// Result is the outcome of evaluating a probe on labeled queries.
// Accuracies are fractions in [0, 1].
type Result struct {
	// Top1 and Top5 are the fractions of queries whose label has the
	// largest logit, or is among the five largest (among all classes when
	// there are at most five).
	Top1, Top5 float64
	// Correct1, Correct5 count those queries; Queries is their number.
	Correct1, Correct5, Queries int
	// PerClass[c] is the top-1 accuracy over the Support[c] queries of
	// class c (0 when Support[c] is 0).
	PerClass []float64
	Support  []int
	// Lambda is the penalty of the classifier (the chosen one with
	// Config.Lambdas); Iterations its L-BFGS iterations.
	Lambda     float64
	Iterations int
}

// String formats the result in percent.
func (r Result) String() string {
	return fmt.Sprintf("linear top-1 %.2f%%  top-5 %.2f%%  (%d queries, λ=%g)", 100*r.Top1, 100*r.Top5, r.Queries, r.Lambda)
}

// Metrics returns the result as the named metrics linear_top1 and
// linear_top5.
func (r Result) Metrics() eval.Metrics {
	return eval.Metrics{
		{Name: MetricTop1, Value: r.Top1, Percent: true},
		{Name: MetricTop5, Value: r.Top5, Percent: true},
	}
}

// Evaluate classifies the queries (row-major, len(labels)×Dim) and compares
// the predictions with their labels.
func (c *Classifier) Evaluate(queries []float32, labels []int) (Result, error) {
	n, err := checkFeatures("queries", queries, c.dim, labels, c.classes)
	if err != nil {
		return Result{}, err
	}
	z, err := c.Scores(queries)
	if err != nil {
		return Result{}, err
	}
	r := Result{Queries: n, PerClass: make([]float64, c.classes), Support: make([]int, c.classes), Lambda: c.Lambda, Iterations: c.Iterations}
	correct := make([]int, c.classes)
	for i := range n {
		top := rank(z[i*c.classes:(i+1)*c.classes], 5)
		y := labels[i]
		r.Support[y]++
		if top[0] == y {
			r.Correct1++
			correct[y]++
		}
		if slices.Contains(top, y) {
			r.Correct5++
		}
	}
	r.Top1 = float64(r.Correct1) / float64(n)
	r.Top5 = float64(r.Correct5) / float64(n)
	for k := range correct {
		if r.Support[k] > 0 {
			r.PerClass[k] = float64(correct[k]) / float64(r.Support[k])
		}
	}
	return r, nil
}
