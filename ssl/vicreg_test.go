package ssl_test

import (
	"math"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/nn"
	"github.com/disiam/disiam/nn/nntest"
)

// vicregReference computes VICReg's loss in float64 from its definition.
func vicregReference(z1, z2 []float64, n, d int) float64 {
	var inv float64
	for i := range z1 {
		inv += (z1[i] - z2[i]) * (z1[i] - z2[i])
	}
	inv /= float64(n * d)
	vc := func(z []float64) (float64, float64) {
		mean := make([]float64, d)
		for i := range n {
			for j := range d {
				mean[j] += z[i*d+j] / float64(n)
			}
		}
		var v, c float64
		for a := range d {
			for b := range d {
				var cov float64
				for i := range n {
					cov += (z[i*d+a] - mean[a]) * (z[i*d+b] - mean[b])
				}
				cov /= float64(n - 1)
				if a == b {
					v += math.Max(0, 1-math.Sqrt(cov+1e-4)) / float64(d)
				} else {
					c += cov * cov / float64(d)
				}
			}
		}
		return v, c
	}
	v1, c1 := vc(z1)
	v2, c2 := vc(z2)
	return 25*inv + 25*(v1+v2) + c1 + c2
}

// The user-defined VICReg loss of the example agrees with its definition.
func TestVICRegLoss(t *testing.T) {
	for _, tc := range []struct{ n, d int }{{4, 3}, {8, 16}, {32, 5}} {
		g := G.NewGraph()
		a, ad := nn.Input(g, "vicreg_z1", tensor.Float32, tc.n, tc.d)
		b, bd := nn.Input(g, "vicreg_z2", tensor.Float32, tc.n, tc.d)
		ra := nntest.RuleValues("vicreg_z1", tc.n*tc.d)
		rb := nntest.RuleValues("vicreg_z2", tc.n*tc.d)
		for i := range ra {
			rb[i] = ra[i] + 0.3*rb[i] // correlated views
		}
		for i := range ra {
			ad.Data().([]float32)[i], bd.Data().([]float32)[i] = float32(ra[i]), float32(rb[i])
		}
		var loss *G.Node
		if err := nn.Build(func() { loss = VICRegLoss(a, b) }); err != nil {
			t.Fatal(err)
		}
		prog, err := nn.Compile(g, loss, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := prog.Run(); err != nil {
			t.Fatal(err)
		}
		got, want := prog.Loss(), vicregReference(ra, rb, tc.n, tc.d)
		if math.Abs(got-want) > 1e-5*math.Max(1, math.Abs(want)) {
			t.Errorf("N=%d D=%d: loss %v, want %v", tc.n, tc.d, got, want)
		}
		prog.Close()
	}
}
