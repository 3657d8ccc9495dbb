package analysis

import (
	"errors"
	"math"
)

// Collapse holds the dimensional-collapse diagnostics of a set of
// embeddings (see the package doc).
type Collapse struct {
	// Dim is the embedding width, N the number of embeddings.
	Dim, N int
	// NormStd[j] is the standard deviation over the embeddings of
	// coordinate j of the L2-normalized embedding z/‖z‖ (SimSiam's
	// collapse check): about 1/sqrt(Dim) for embeddings spread over the
	// sphere, 0 for a coordinate that does not vary.
	NormStd []float64
	// MeanNormStd is the mean of NormStd; MeanNormStd·sqrt(Dim) is near 1
	// without collapse and near 0 with complete collapse.
	MeanNormStd float64
	// Spectrum holds the singular values of the covariance of the
	// L2-normalized embeddings (its eigenvalues: the covariance is
	// symmetric positive semi-definite), largest first, Dim of them.
	Spectrum []float64
	// EffectiveRank is Roy & Vetterli's effective rank of the covariance:
	// exp(−Σₖ pₖ·ln pₖ) with pₖ = σₖ/Σσ, between 1 (one direction holds
	// all variance) and Dim (all directions equal); 0 when all embeddings
	// are equal.
	EffectiveRank float64
}

// Diagnose computes the collapse diagnostics of the embeddings x
// (row-major, n×dim, n ≥ 2). Zero vectors stay zero when normalized
// (x / max(‖x‖, 1e-12), torch.nn.functional.normalize).
func Diagnose(x []float32, dim int) (*Collapse, error) {
	n, err := checkMatrix("embeddings", x, dim)
	if err != nil {
		return nil, err
	}
	if n < 2 {
		return nil, errors.New("analysis: collapse diagnostics need at least 2 embeddings")
	}
	z := to64(x)
	for i := range n {
		row := z[i*dim : (i+1)*dim]
		var s float64
		for _, v := range row {
			s += v * v
		}
		inv := 1 / max(math.Sqrt(s), 1e-12)
		for j := range row {
			row[j] *= inv
		}
	}
	mean, cov := covariance(z, n, dim)
	c := &Collapse{Dim: dim, N: n, NormStd: make([]float64, dim)}
	// the unbiased standard deviation, as torch.std in SimSiam's check
	for j := range dim {
		c.NormStd[j] = math.Sqrt(max(cov[j*dim+j], 0))
		c.MeanNormStd += c.NormStd[j]
	}
	c.MeanNormStd /= float64(dim)
	p, err := pcaFromCov(mean, cov, dim)
	if err != nil {
		return nil, err
	}
	c.Spectrum = p.Variances
	c.EffectiveRank = EffectiveRank(c.Spectrum)
	return c, nil
}

// EffectiveRank returns exp of the Shannon entropy of the normalized
// singular values σₖ/Σσ (Roy & Vetterli, 2007); 0 if all are 0.
func EffectiveRank(sv []float64) float64 {
	var s float64
	for _, v := range sv {
		s += max(v, 0)
	}
	if s == 0 {
		return 0
	}
	var h float64
	for _, v := range sv {
		if v > 0 {
			p := v / s
			h -= p * math.Log(p)
		}
	}
	return math.Exp(h)
}
