package optim_test

import (
	"testing"

	"gorgonia.org/tensor"

	"github.com/disiam/disiam/nn"
	"github.com/disiam/disiam/optim"
)

// One optimizer step over 11.7 M parameters (ResNet-18 with its 512-2048-
// 2048 projector has about 11.2 M + 5.2 M; this is the backbone alone),
// reporting parameters updated per second.
func BenchmarkStep(b *testing.B) {
	shapes := [][]int{{512, 512, 3, 3}, {512, 512, 3, 3}, {512, 512, 3, 3}, {256, 256, 3, 3}, {256, 256, 3, 3}, {512}, {512}}
	mk := func() []*nn.Param {
		var ps []*nn.Param
		for i, s := range shapes {
			p := ruleParam("bench"+string(rune('a'+i)), s)
			p.Grad = tensor.New(tensor.WithShape(s...), tensor.WithBacking(append([]float32(nil), p.Data()...)))
			ps = append(ps, p)
		}
		return ps
	}
	cases := []struct {
		name string
		make func([]*nn.Param) optim.Optimizer
	}{
		{"SGD", func(ps []*nn.Param) optim.Optimizer { return optim.NewSGD(ps, optim.SimSiamSGD) }},
		{"LARS", func(ps []*nn.Param) optim.Optimizer { return optim.NewLARS(ps, optim.SimCLRLARS) }},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			ps := mk()
			n := 0
			for _, p := range ps {
				n += p.Numel()
			}
			o := tc.make(ps)
			o.Step(1e-3)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				o.Step(1e-3)
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mparam/s")
		})
	}
}
