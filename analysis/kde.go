package analysis

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/floats"

	"github.com/disiam/disiam/internal/parallel"
)

// KDE is a two-dimensional Gaussian kernel density estimate with Scott's
// rule bandwidth, scipy.stats.gaussian_kde's default: the kernel
// covariance is the sample covariance of the points (divided by n-1)
// times n^(−1/3) (Scott's factor n^(−1/(d+4)) squared for d = 2), and the
// density is the mean of the n Gaussian kernels centred on the points.
type KDE struct {
	pts []float64 // n×2
	// Cov is the kernel covariance [[a, b], [b, c]].
	Cov [2][2]float64
	// Ridge is what was added to the diagonal of a singular covariance
	// (points on a line or all equal), 0 normally.
	Ridge float64
	inv   [3]float64 // a, b, c of the inverse
	lnZ   float64    // log of the normalization 1/(n·2π·sqrt(det))
}

// NewKDE estimates the density of the 2D points (row-major, n×2, n ≥ 2).
// scipy refuses a singular covariance; NewKDE instead adds 1e-6 times
// the larger variance (or 1e-12 when both are 0) to its diagonal and
// records it in Ridge, so that a collapsed class still gets a (very
// narrow) density.
func NewKDE(points []float64) (*KDE, error) {
	n, err := checkMatrix64("KDE points", points, 2)
	if err != nil {
		return nil, err
	}
	if n < 2 {
		return nil, errors.New("analysis: KDE needs at least 2 points")
	}
	var mx, my float64
	for i := range n {
		mx += points[2*i]
		my += points[2*i+1]
	}
	mx /= float64(n)
	my /= float64(n)
	var a, b, c float64
	for i := range n {
		dx, dy := points[2*i]-mx, points[2*i+1]-my
		a += dx * dx
		b += dx * dy
		c += dy * dy
	}
	f := math.Pow(float64(n), -1.0/3) / float64(n-1)
	a, b, c = a*f, b*f, c*f
	k := &KDE{pts: append([]float64(nil), points...)}
	if det := a*c - b*b; !(det > 1e-12*max(a, c)*max(a, c)) {
		k.Ridge = max(1e-6*max(a, c), 1e-12)
		a += k.Ridge
		c += k.Ridge
	}
	det := a*c - b*b
	k.Cov = [2][2]float64{{a, b}, {b, c}}
	k.inv = [3]float64{c / det, -b / det, a / det}
	k.lnZ = -math.Log(float64(n)) - math.Log(2*math.Pi) - 0.5*math.Log(det)
	return k, nil
}

// LogDensity returns the log of the estimated density at (x, y),
// accumulated as a log-sum-exp so that it stays finite far from the
// points, where the density itself underflows.
func (k *KDE) LogDensity(x, y float64) float64 {
	n := len(k.pts) / 2
	best := math.Inf(-1)
	for i := range n {
		dx, dy := x-k.pts[2*i], y-k.pts[2*i+1]
		e := -0.5 * (k.inv[0]*dx*dx + 2*k.inv[1]*dx*dy + k.inv[2]*dy*dy)
		best = max(best, e)
	}
	var s float64
	for i := range n {
		dx, dy := x-k.pts[2*i], y-k.pts[2*i+1]
		s += math.Exp(-0.5*(k.inv[0]*dx*dx+2*k.inv[1]*dx*dy+k.inv[2]*dy*dy) - best)
	}
	return best + math.Log(s) + k.lnZ
}

// Density returns the estimated density at (x, y).
func (k *KDE) Density(x, y float64) float64 { return math.Exp(k.LogDensity(x, y)) }

// Grid is a regular grid of Nx×Ny cell centres over [X0, X1]×[Y0, Y1].
type Grid struct {
	X0, X1, Y0, Y1 float64
	Nx, Ny         int
}

// GridFor returns a size×size grid over the bounding box of the 2D points
// (n×2), widened by pad times its extent on every side.
func GridFor(points []float64, size int, pad float64) (Grid, error) {
	n, err := checkMatrix64("grid points", points, 2)
	if err != nil {
		return Grid{}, err
	}
	if size < 2 {
		return Grid{}, fmt.Errorf("analysis: grid of %d cells per side, want >= 2", size)
	}
	g := Grid{X0: math.Inf(1), X1: math.Inf(-1), Y0: math.Inf(1), Y1: math.Inf(-1), Nx: size, Ny: size}
	for i := range n {
		g.X0, g.X1 = min(g.X0, points[2*i]), max(g.X1, points[2*i])
		g.Y0, g.Y1 = min(g.Y0, points[2*i+1]), max(g.Y1, points[2*i+1])
	}
	w, h := max(g.X1-g.X0, 1e-9), max(g.Y1-g.Y0, 1e-9)
	g.X0, g.X1 = g.X0-pad*w, g.X1+pad*w
	g.Y0, g.Y1 = g.Y0-pad*h, g.Y1+pad*h
	return g, nil
}

// X returns the x coordinate of cell column i, Y that of row j.
func (g Grid) X(i int) float64 { return g.X0 + (float64(i)+0.5)*(g.X1-g.X0)/float64(g.Nx) }
func (g Grid) Y(j int) float64 { return g.Y0 + (float64(j)+0.5)*(g.Y1-g.Y0)/float64(g.Ny) }

// LogDensities evaluates the log density at every cell centre, row-major
// (index j·Nx + i for column i, row j).
func (k *KDE) LogDensities(g Grid) []float64 {
	out := make([]float64, g.Nx*g.Ny)
	parallel.For(g.Ny, 1, func(lo, hi int) {
		for j := lo; j < hi; j++ {
			for i := range g.Nx {
				out[j*g.Nx+i] = k.LogDensity(g.X(i), g.Y(j))
			}
		}
	})
	return out
}

// ClassDensities estimates one KDE per class of the 2D embedding (n×2)
// and evaluates its log density on the grid. A class with fewer than 2
// points gets nil.
func ClassDensities(emb []float64, labels []int, classes int, g Grid) ([][]float64, error) {
	n, err := checkMatrix64("embedding", emb, 2)
	if err != nil {
		return nil, err
	}
	if err := checkLabels(labels, n, classes); err != nil {
		return nil, err
	}
	pts := make([][]float64, classes)
	for i, l := range labels {
		pts[l] = append(pts[l], emb[2*i], emb[2*i+1])
	}
	out := make([][]float64, classes)
	for c, p := range pts {
		if len(p) < 4 {
			continue
		}
		k, err := NewKDE(p)
		if err != nil {
			return nil, fmt.Errorf("class %d: %w", c, err)
		}
		out[c] = k.LogDensities(g)
	}
	return out, nil
}

// Divergences are the pairwise divergences of class densities discretized
// on a grid: each density becomes the probabilities of the grid cells
// (its values normalized to sum 1). All are in nats.
type Divergences struct {
	// KL[a][b] is the Kullback-Leibler divergence KL(p_a ‖ p_b).
	KL [][]float64
	// SymKL[a][b] is the symmetric (Jeffreys) divergence
	// KL(p_a ‖ p_b) + KL(p_b ‖ p_a).
	SymKL [][]float64
	// JS[a][b] is the Jensen-Shannon divergence
	// ½KL(p_a ‖ m) + ½KL(p_b ‖ m), m = ½(p_a + p_b), at most ln 2.
	JS [][]float64
	// MeanSymKL and MeanJS average over the pairs a < b of classes that
	// have a density.
	MeanSymKL, MeanJS float64
}

// CompareDensities computes the pairwise divergences of log densities on
// a common grid (nil entries, classes without a density, stay NaN). They
// are the sums of gonum's stat.KullbackLeibler and stat.JensenShannon,
// but formed from the log probabilities of the cells rather than the
// probabilities: far from a class its density underflows to 0 or to
// subnormal numbers in float64 while another class's does not, which makes
// those functions return +Inf or NaN although the log densities are
// finite. Where nothing underflows, the results agree with gonum's to
// rounding (the tests check it).
func CompareDensities(logd [][]float64) (*Divergences, error) {
	c := len(logd)
	lp := make([][]float64, c)
	p := make([][]float64, c)
	cells := -1
	for a, l := range logd {
		if l == nil {
			continue
		}
		if cells >= 0 && len(l) != cells {
			return nil, fmt.Errorf("analysis: density %d has %d cells, others %d", a, len(l), cells)
		}
		cells = len(l)
		z := floats.LogSumExp(l)
		lp[a] = make([]float64, len(l))
		p[a] = make([]float64, len(l))
		for i, v := range l {
			lp[a][i] = v - z
			p[a][i] = math.Exp(v - z)
		}
	}
	nan := func() [][]float64 {
		m := make([][]float64, c)
		for i := range m {
			m[i] = make([]float64, c)
			for j := range m[i] {
				m[i][j] = math.NaN()
			}
		}
		return m
	}
	d := &Divergences{KL: nan(), SymKL: nan(), JS: nan()}
	var sk, sj float64
	pairs := 0
	for a := range c {
		for b := range c {
			if p[a] == nil || p[b] == nil {
				continue
			}
			var kl float64
			for i, v := range p[a] {
				if v != 0 {
					kl += v * (lp[a][i] - lp[b][i])
				}
			}
			d.KL[a][b] = kl
		}
	}
	for a := range c {
		for b := range c {
			if p[a] == nil || p[b] == nil {
				continue
			}
			d.SymKL[a][b] = d.KL[a][b] + d.KL[b][a]
			d.JS[a][b] = jensenShannon(p[a], p[b], lp[a], lp[b])
			if a < b {
				sk += d.SymKL[a][b]
				sj += d.JS[a][b]
				pairs++
			}
		}
	}
	if pairs > 0 {
		d.MeanSymKL, d.MeanJS = sk/float64(pairs), sj/float64(pairs)
	} else {
		d.MeanSymKL, d.MeanJS = math.NaN(), math.NaN()
	}
	return d, nil
}

// jensenShannon is stat.JensenShannon(p, q) evaluated with the log
// probabilities lp, lq: log m = logaddexp(lp, lq) − ln 2.
func jensenShannon(p, q, lp, lq []float64) float64 {
	var js float64
	for i := range p {
		a, b := lp[i], lq[i]
		hi, lo := max(a, b), min(a, b)
		lm := hi + math.Log1p(math.Exp(lo-hi)) - math.Ln2
		if p[i] != 0 {
			js += 0.5 * p[i] * (a - lm)
		}
		if q[i] != 0 {
			js += 0.5 * q[i] * (b - lm)
		}
	}
	return js
}
