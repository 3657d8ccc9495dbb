package ssl_test

import (
	"fmt"
	"testing"

	G "gorgonia.org/gorgonia"

	"github.com/disiam/disiam/nn"
	"github.com/disiam/disiam/nn/nntest"
	"github.com/disiam/disiam/ssl"
)

// Forward and backward of the losses at training sizes, float32: the
// figure to compare with a backbone's step (tens to hundreds of ms).
func BenchmarkLosses(b *testing.B) {
	cases := []struct {
		name  string
		n, d  int
		views int
		build func(x []*G.Node) *G.Node
	}{
		{"NTXent/N=256/D=128", 256, 128, 2, func(x []*G.Node) *G.Node { return ssl.NTXent(x[0], x[1], 0.5) }},
		{"NTXent/N=1024/D=128", 1024, 128, 2, func(x []*G.Node) *G.Node { return ssl.NTXent(x[0], x[1], 0.5) }},
		{"SymmetricD/N=256/D=2048", 256, 2048, 4, func(x []*G.Node) *G.Node { return ssl.SymmetricD(x[0], x[1], x[2], x[3]) }},
		{"DiSiamLoss/M=4/N=256/D=2048", 256, 2048, 12, func(x []*G.Node) *G.Node {
			return ssl.DiSiamLoss(x[0:4], x[4:8], x[8:12], ssl.PairwiseTargets)
		}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			g := G.NewGraph()
			var xs []*G.Node
			var ps []*nn.Param
			for v := 0; v < tc.views; v++ {
				p := &nn.Param{Name: fmt.Sprintf("x%d", v), Trainable: true, Value: nntest.Rand32(fmt.Sprintf("bench%d", v), tc.n, tc.d)}
				ps = append(ps, p)
				xs = append(xs, p.Node(g))
			}
			prog, err := nn.Compile(g, tc.build(xs), ps)
			if err != nil {
				b.Fatal(err)
			}
			defer prog.Close()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := prog.Run(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
