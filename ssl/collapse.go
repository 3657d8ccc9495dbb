package ssl

import (
	"fmt"
	"math"

	"gorgonia.org/tensor"
)

// CollapseStd returns the representation-collapse measure of the SimSiam
// paper (Chen & He 2021, Sec. 4.1 and Fig. 2): each row of z [N, D] is
// L2-normalized, the standard deviation over the batch is taken per
// dimension, and the mean over the D dimensions is returned. "If the output
// z has a zero-mean isotropic Gaussian distribution" the value is about
// 1/sqrt(D) (healthy); outputs collapsed to a constant vector give 0.
// Like lightly's std_of_l2_normalized (torch.std), the standard deviation
// is the unbiased one (divided by N-1). z is float32 or float64; it is read,
// not changed. It returns an error for fewer than two rows or a NaN/Inf.
func CollapseStd(z *tensor.Dense) (float64, error) {
	s := z.Shape()
	if s.Dims() != 2 || s[0] < 2 || s[1] < 1 {
		return 0, fmt.Errorf("ssl: CollapseStd: shape %v, want [N ≥ 2, D]", s)
	}
	var x []float64
	switch d := z.Data().(type) {
	case []float32:
		x = make([]float64, len(d))
		for i, v := range d {
			x[i] = float64(v)
		}
	case []float64:
		x = append([]float64(nil), d...)
	default:
		return 0, fmt.Errorf("ssl: CollapseStd: unsupported dtype %v", z.Dtype())
	}
	n, dim := s[0], s[1]
	normalizeRows(x, x, s)
	var total float64
	for j := 0; j < dim; j++ {
		var mean float64
		for i := 0; i < n; i++ {
			mean += x[i*dim+j]
		}
		mean /= float64(n)
		var ss float64
		for i := 0; i < n; i++ {
			d := x[i*dim+j] - mean
			ss += d * d
		}
		total += math.Sqrt(ss / float64(n-1))
	}
	r := total / float64(dim)
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return 0, fmt.Errorf("ssl: CollapseStd: output contains NaN or Inf")
	}
	return r, nil
}
