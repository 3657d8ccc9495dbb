package nn_test

import (
	"sync"
	"testing"
	"time"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/distributed"
	"github.com/disiam/disiam/nn"
	"github.com/disiam/disiam/nn/nntest"
)

// replicaRun builds layer(x) for the rows [lo, hi) of x in a graph with
// the given Replica, differentiates loss = scale·Σ y·r over those rows,
// runs it once and returns y, dx and the layer's parameter gradients.
type replicaOut struct {
	y, dx  []float64
	grads  [][]float64
	params []*nn.Param
}

func replicaRun(t *testing.T, forward func(*G.Node) *G.Node, params []*nn.Param, x *tensor.Dense, r []float64, lo, hi int, scale float64, rep nn.Replica) (replicaOut, error) {
	s := x.Shape().Clone()
	per := s.TotalSize() / s[0]
	s[0] = hi - lo
	xs := append([]float32(nil), x.Data().([]float32)[lo*per:hi*per]...)
	rs := make([]float64, len(xs))
	for i := range rs {
		rs[i] = scale * r[lo*per+i]
	}
	g := G.NewGraph()
	nn.SetReplica(g, rep)
	defer nn.ClearReplica(g)
	xp := &nn.Param{Name: "x", Value: tensor.New(tensor.WithShape(s...), tensor.WithBacking(xs)), Trainable: true}
	y := forward(xp.Node(g))
	rn := G.NewTensor(g, tensor.Float32, s.Dims(), G.WithShape(s...), G.WithName("r"), G.WithValue(t32(s, rs...)))
	loss := G.Must(G.Sum(G.Must(G.HadamardProd(y, rn))))
	prog, err := nn.Compile(g, loss, append([]*nn.Param{xp}, params...))
	if err != nil {
		return replicaOut{}, err
	}
	defer prog.Close()
	if err := prog.Run(); err != nil {
		return replicaOut{}, err
	}
	out := replicaOut{y: values(y.Value().(*tensor.Dense)), dx: values(xp.Grad), params: params}
	for _, p := range params {
		out.grads = append(out.grads, values(p.Grad))
	}
	return out, nil
}

// TestReplicaMatchesSingleProcess checks that N replicas, each with its
// N-th of a batch, a synchronized BatchNorm and the global sample offset,
// compute what one process computes on the whole batch: the outputs, the
// running statistics, the input gradients (each replica's loss is N times
// its share of the global one, as a data-parallel run's mean loss is) and
// the parameter gradients averaged over the replicas.
func TestReplicaMatchesSingleProcess(t *testing.T) {
	type layer struct {
		forward func(*G.Node) *G.Node
		params  []*nn.Param
		state   func() []float64
	}
	bn := func(shape ...int) func() layer {
		return func() layer {
			b := nn.NewBatchNorm("bn", nn.BatchNormConfig{Features: shape[1]})
			copy(b.Weight.Data(), nntest.Rand32("w", shape[1]).Data().([]float32))
			copy(b.Bias.Data(), nntest.Rand32("b", shape[1]).Data().([]float32))
			return layer{b.Forward, []*nn.Param{b.Weight, b.Bias}, func() []float64 {
				return append(values(b.RunningMean.Value), values(b.RunningVar.Value)...)
			}}
		}
	}
	sd := func() layer {
		s := nn.NewStochasticDepth(0.5, 7)
		return layer{s.Forward, nil, func() []float64 { return nil }}
	}
	drop := func() layer {
		d := nn.NewDropout(0.3, 9)
		return layer{d.Forward, nil, func() []float64 { return nil }}
	}
	for _, tc := range []struct {
		name  string
		shape []int
		ranks int
		make  func() layer
		tol   float64
	}{
		{"BatchNorm2d/2", []int{8, 3, 3, 2}, 2, bn(8, 3, 3, 2), 2e-6},
		{"BatchNorm2d/4", []int{8, 5, 2, 2}, 4, bn(8, 5, 2, 2), 2e-6},
		{"BatchNorm1d/2", []int{6, 4}, 2, bn(6, 4), 2e-6},
		{"StochasticDepth/2", []int{16, 3, 2}, 2, sd, 0},
		{"Dropout/4", []int{8, 5}, 4, drop, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := nntest.Rand32("x", tc.shape...)
			r := values(nntest.Rand32("r", tc.shape...))
			one := tc.make()
			want, err := replicaRun(t, one.forward, one.params, x, r, 0, tc.shape[0], 1, nn.Replica{})
			if err != nil {
				t.Fatal(err)
			}
			n := tc.ranks
			comms := distributed.NewGroup(n, time.Minute)
			got := make([]replicaOut, n)
			errs := make([]error, n)
			layers := make([]layer, n)
			var wg sync.WaitGroup
			b := tc.shape[0] / n
			for q := range n {
				layers[q] = tc.make()
				wg.Add(1)
				go func() {
					defer wg.Done()
					got[q], errs[q] = replicaRun(t, layers[q].forward, layers[q].params, x, r, q*b, (q+1)*b, float64(n),
						nn.Replica{SyncBatchNorm: comms[q], Offset: q * b})
				}()
			}
			wg.Wait()
			var y, dx []float64
			for q := range n {
				if errs[q] != nil {
					t.Fatalf("rank %d: %v", q, errs[q])
				}
				y = append(y, got[q].y...)
				for _, v := range got[q].dx {
					dx = append(dx, v/float64(n))
				}
				near(t, "running statistics", layers[q].state(), one.state(), tc.tol)
			}
			near(t, "y", y, want.y, tc.tol)
			near(t, "dx", dx, want.dx, 5*tc.tol)
			for i := range want.grads {
				mean := make([]float64, len(want.grads[i]))
				for q := range n {
					for j, v := range got[q].grads[i] {
						mean[j] += v / float64(n)
					}
				}
				near(t, "parameter gradient", mean, want.grads[i], 5*tc.tol)
			}
		})
	}
}
