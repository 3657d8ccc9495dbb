package distributed_test

import (
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/distributed"
	"github.com/disiam/disiam/nn"
	"github.com/disiam/disiam/nn/nntest"
)

// weightedSiLU returns Σ r·SiLU(x) for a constant r of x's shape.
func weightedSiLU(g *G.ExprGraph, x *G.Node, r *tensor.Dense) *G.Node {
	rn := G.NewTensor(g, x.Dtype(), x.Dims(), G.WithShape(x.Shape().Clone()...), G.WithName("r"), G.WithValue(r))
	return G.Must(G.Sum(G.Must(G.HadamardProd(nn.SiLU(x), rn))))
}

// TestAllGatherGradient checks AllGather's forward and backward passes in
// float64 against one process: N ranks, rank q holding rows
// q·B … q·B+B-1 of X and the loss L_q = Σ r_q·SiLU(AllGather(x_q)), which
// depends on every rank's rows. The data-parallel objective is
// J = (1/N) Σ_q L_q = Σ mean_q(r_q)·SiLU(X); rank q's gradient of its rows
// must be N·∂J/∂x_q (the training loop divides by N when it averages).
// The last case shows that keeping the slice without summing the gradient
// over the ranks gets it wrong.
func TestAllGatherGradient(t *testing.T) {
	const b, d = 3, 4
	for _, n := range []int{1, 2, 3} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			X := nntest.Rand64("X", n*b, d)
			rs := make([]*tensor.Dense, n)
			mean := make([]float64, n*b*d)
			for q := range n {
				rs[q] = nntest.Rand64(fmt.Sprint("r", q), n*b, d)
				for i, v := range rs[q].Data().([]float64) {
					mean[i] += v / float64(n)
				}
			}
			// One process: J over X.
			g := G.NewGraph()
			xp := &nn.Param{Name: "X", Value: X, Trainable: true}
			J := weightedSiLU(g, xp.Node(g), tensor.New(tensor.WithShape(n*b, d), tensor.WithBacking(mean)))
			prog, err := nn.Compile(g, J, []*nn.Param{xp})
			if err != nil {
				t.Fatal(err)
			}
			defer prog.Close()
			if err := prog.Run(); err != nil {
				t.Fatal(err)
			}
			want := xp.Grad.Data().([]float64)

			comms := distributed.NewGroup(n, time.Minute)
			got := make([][]float64, n)
			gathered := make([][]float64, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for q := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rows := append([]float64(nil), X.Data().([]float64)[q*b*d:(q+1)*b*d]...)
					g := G.NewGraph()
					xq := &nn.Param{Name: "x", Value: tensor.New(tensor.WithShape(b, d), tensor.WithBacking(rows)), Trainable: true}
					all := distributed.AllGather(comms[q], xq.Node(g))
					L := weightedSiLU(g, all, rs[q])
					prog, err := nn.Compile(g, L, []*nn.Param{xq})
					if err != nil {
						errs[q] = err
						return
					}
					defer prog.Close()
					if errs[q] = prog.Run(); errs[q] == nil {
						got[q] = xq.Grad.Data().([]float64)
						gathered[q] = all.Value().Data().([]float64)
					}
				}()
			}
			wg.Wait()
			for q := range n {
				if errs[q] != nil {
					t.Fatalf("rank %d: %v", q, errs[q])
				}
				for i, v := range gathered[q] {
					if v != X.Data().([]float64)[i] {
						t.Fatalf("rank %d: gathered[%d] = %v, want %v", q, i, v, X.Data().([]float64)[i])
					}
				}
				for i, v := range got[q] {
					w := want[q*b*d+i]
					if math.Abs(v/float64(n)-w) > 1e-14*(1+math.Abs(w)) {
						t.Fatalf("rank %d: dx[%d]/N = %.17g, want %.17g", q, i, v/float64(n), w)
					}
				}
			}
			if n == 1 {
				return
			}
			// Without the sum, rank q's gradient is ∂L_q/∂x_q alone: far
			// from N·∂J/∂x_q, which is what the test above tells apart.
			worst := 0.0
			for q := range n {
				// ∂L_q/∂x_q = r_q·SiLU'(x) on q's rows; N·∂J/∂x = N·mean(r)·SiLU'(x).
				for i := range b * d {
					k := q*b*d + i
					x := X.Data().([]float64)[k]
					s := 1 / (1 + math.Exp(-x))
					dsilu := s * (1 + x*(1-s))
					worst = math.Max(worst, math.Abs(rs[q].Data().([]float64)[k]*dsilu-float64(n)*want[k]))
				}
			}
			if worst < 1e-3 {
				t.Fatalf("the slice-only gradient is within %g of the right one: the test cannot tell them apart", worst)
			}
		})
	}
}
