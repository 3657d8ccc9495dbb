package ssl_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"

	"github.com/disiam/disiam/ssl"
)

func TestCollapseStd(t *testing.T) {
	gauss := func(n, d int) *tensor.Dense {
		r := rand.New(rand.NewPCG(1, 2))
		x := make([]float32, n*d)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		return tensor.New(tensor.WithShape(n, d), tensor.WithBacking(x))
	}
	constant := make([]float64, 10*4)
	for i := range constant {
		constant[i] = float64(i%4) + 1 // every row (1, 2, 3, 4)
	}
	cases := []struct {
		name     string
		z        *tensor.Dense
		want     float64
		tol      float64
		wantErrs bool
	}{
		// rows e1, e2: each dimension holds {1, 0}, unbiased std sqrt(1/2)
		{name: "basis", z: tensor.New(tensor.WithShape(2, 2), tensor.WithBacking([]float64{1, 0, 0, 3})), want: math.Sqrt(0.5), tol: 1e-15},
		{name: "collapsed", z: tensor.New(tensor.WithShape(10, 4), tensor.WithBacking(constant)), want: 0, tol: 1e-15},
		// isotropic Gaussian: about 1/sqrt(d)
		{name: "gaussian d=64", z: gauss(4000, 64), want: 1 / 8.0, tol: 0.003},
		{name: "one row", z: tensor.New(tensor.WithShape(1, 4), tensor.WithBacking([]float32{1, 2, 3, 4})), wantErrs: true},
		{name: "rank 3", z: tensor.New(tensor.WithShape(2, 2, 1), tensor.WithBacking([]float32{1, 2, 3, 4})), wantErrs: true},
		{name: "NaN", z: tensor.New(tensor.WithShape(2, 2), tensor.WithBacking([]float32{1, float32(math.NaN()), 3, 4})), wantErrs: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.z.Clone().(*tensor.Dense)
			got, err := ssl.CollapseStd(tc.z)
			if tc.wantErrs {
				if err == nil {
					t.Fatalf("got %v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(got-tc.want) > tc.tol {
				t.Fatalf("got %v, want %v ± %v", got, tc.want, tc.tol)
			}
			if !tensorsEqual(before, tc.z) {
				t.Fatal("CollapseStd changed its input")
			}
		})
	}
}

func tensorsEqual(a, b *tensor.Dense) bool {
	switch x := a.Data().(type) {
	case []float32:
		y := b.Data().([]float32)
		for i := range x {
			if x[i] != y[i] {
				return false
			}
		}
	case []float64:
		y := b.Data().([]float64)
		for i := range x {
			if x[i] != y[i] {
				return false
			}
		}
	}
	return true
}
