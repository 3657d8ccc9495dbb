package analysis

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/disiam/disiam/internal/linalg"
	"github.com/disiam/disiam/internal/parallel"
)

// checkMatrix validates a row-major n×dim float32 matrix and returns n.
func checkMatrix(what string, x []float32, dim int) (int, error) {
	if dim <= 0 {
		return 0, fmt.Errorf("analysis: %s: dim = %d, want > 0", what, dim)
	}
	if len(x)%dim != 0 {
		return 0, fmt.Errorf("analysis: %s: %d values are not a whole number of rows of %d", what, len(x), dim)
	}
	n := len(x) / dim
	if n == 0 {
		return 0, fmt.Errorf("analysis: %s: no rows", what)
	}
	for i, v := range x {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return 0, fmt.Errorf("analysis: %s: row %d: value %d is not finite", what, i/dim, i%dim)
		}
	}
	return n, nil
}

// checkMatrix64 is checkMatrix for float64 matrices.
func checkMatrix64(what string, x []float64, dim int) (int, error) {
	if dim <= 0 {
		return 0, fmt.Errorf("analysis: %s: dim = %d, want > 0", what, dim)
	}
	if len(x)%dim != 0 {
		return 0, fmt.Errorf("analysis: %s: %d values are not a whole number of rows of %d", what, len(x), dim)
	}
	n := len(x) / dim
	if n == 0 {
		return 0, fmt.Errorf("analysis: %s: no rows", what)
	}
	for i, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, fmt.Errorf("analysis: %s: row %d: value %d is not finite", what, i/dim, i%dim)
		}
	}
	return n, nil
}

// checkLabels validates labels for n rows.
func checkLabels(labels []int, n, classes int) error {
	if classes <= 0 {
		return fmt.Errorf("analysis: classes = %d, want > 0", classes)
	}
	if len(labels) != n {
		return fmt.Errorf("analysis: %d labels for %d rows", len(labels), n)
	}
	for i, l := range labels {
		if l < 0 || l >= classes {
			return fmt.Errorf("analysis: row %d: label %d outside [0, %d)", i, l, classes)
		}
	}
	return nil
}

// to64 converts a float32 matrix to float64.
func to64(x []float32) []float64 {
	out := make([]float64, len(x))
	parallel.For(len(x), parallel.Grain(len(x), 4096), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			out[i] = float64(x[i])
		}
	})
	return out
}

// PCA is a principal component analysis of a data matrix.
type PCA struct {
	// Dim is the input width.
	Dim int
	// Mean is the per-column mean of the data.
	Mean []float64
	// Variances are the eigenvalues of the sample covariance (divided by
	// n-1, as numpy.cov and scikit-learn's PCA), largest first: the
	// variances along the components, Dim of them.
	Variances []float64
	// Components holds the unit principal axes as rows, Dim×Dim row-major,
	// in the order of Variances. The sign of each is fixed so that its
	// entry of largest magnitude is positive (the first such entry).
	Components []float64
}

// FitPCA computes the principal components of x (row-major, n×dim, n ≥ 2)
// from the eigendecomposition of its sample covariance (gonum's EigenSym):
// for n ≫ dim, as for features of thousands of images, this costs one
// n×dim×dim product instead of an SVD of the data matrix. The covariance
// is accumulated in float64 in fixed row chunks, so the result does not
// depend on the number of goroutines.
func FitPCA(x []float32, dim int) (*PCA, error) {
	n, err := checkMatrix("PCA input", x, dim)
	if err != nil {
		return nil, err
	}
	if n < 2 {
		return nil, errors.New("analysis: PCA needs at least 2 rows")
	}
	mean, cov := covariance(to64(x), n, dim)
	return pcaFromCov(mean, cov, dim)
}

// pcaFromCov finishes FitPCA from the mean and covariance.
func pcaFromCov(mean, cov []float64, dim int) (*PCA, error) {
	var es mat.EigenSym
	if !es.Factorize(mat.NewSymDense(dim, cov), true) {
		return nil, errors.New("analysis: PCA: eigendecomposition did not converge")
	}
	vals := es.Values(nil) // ascending
	var vecs mat.Dense
	es.VectorsTo(&vecs)
	p := &PCA{Dim: dim, Mean: mean, Variances: make([]float64, dim), Components: make([]float64, dim*dim)}
	for c := range dim {
		src := dim - 1 - c
		p.Variances[c] = max(vals[src], 0)
		row := p.Components[c*dim : (c+1)*dim]
		big := 0
		for j := range dim {
			row[j] = vecs.At(j, src)
			if math.Abs(row[j]) > math.Abs(row[big]) {
				big = j
			}
		}
		if row[big] < 0 {
			for j := range row {
				row[j] = -row[j]
			}
		}
	}
	return p, nil
}

// covariance returns the column means and the sample covariance (dim×dim,
// divided by n-1) of x (n×dim, float64).
func covariance(x []float64, n, dim int) (mean, cov []float64) {
	mean = make([]float64, dim)
	for i := range n {
		for j, v := range x[i*dim : (i+1)*dim] {
			mean[j] += v
		}
	}
	for j := range mean {
		mean[j] /= float64(n)
	}
	const rows = 512
	chunks := parallel.Chunks(n, rows)
	parts := make([][]float64, chunks)
	parallel.For(n, rows, func(lo, hi int) {
		m := hi - lo
		c := make([]float64, m*dim)
		for i := range m {
			for j := range dim {
				c[i*dim+j] = x[(lo+i)*dim+j] - mean[j]
			}
		}
		part := make([]float64, dim*dim)
		linalg.Gemm(true, false, dim, dim, m, 1, c, dim, c, dim, 0, part, dim)
		parts[lo/rows] = part
	})
	cov = parts[0]
	for _, p := range parts[1:] {
		for j, v := range p {
			cov[j] += v
		}
	}
	d := float64(max(n-1, 1))
	for i := range dim {
		for j := i; j < dim; j++ {
			v := 0.5 * (cov[i*dim+j] + cov[j*dim+i]) / d
			cov[i*dim+j], cov[j*dim+i] = v, v
		}
	}
	return mean, cov
}

// Transform projects x (row-major, n×Dim) onto the first k components and
// returns the scores, n×k row-major.
func (p *PCA) Transform(x []float32, k int) ([]float64, error) {
	n, err := checkMatrix("PCA input", x, p.Dim)
	if err != nil {
		return nil, err
	}
	if k <= 0 || k > p.Dim {
		return nil, fmt.Errorf("analysis: PCA: %d components of %d", k, p.Dim)
	}
	return p.transform64(to64(x), n, k), nil
}

func (p *PCA) transform64(x []float64, n, k int) []float64 {
	dim := p.Dim
	out := make([]float64, n*k)
	const rows = 512
	parallel.For(n, rows, func(lo, hi int) {
		m := hi - lo
		c := make([]float64, m*dim)
		for i := range m {
			for j := range dim {
				c[i*dim+j] = x[(lo+i)*dim+j] - p.Mean[j]
			}
		}
		linalg.Gemm(false, true, m, k, dim, 1, c, dim, p.Components[:k*dim], dim, 0, out[lo*k:hi*k], k)
	})
	return out
}

// ExplainedVarianceRatio returns each component's share of the total
// variance.
func (p *PCA) ExplainedVarianceRatio() []float64 {
	var s float64
	for _, v := range p.Variances {
		s += v
	}
	out := make([]float64, len(p.Variances))
	for i, v := range p.Variances {
		if s > 0 {
			out[i] = v / s
		}
	}
	return out
}
