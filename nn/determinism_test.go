package nn_test

import (
	"math"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/internal/parallel"
	"github.com/disiam/disiam/nn"
	"github.com/disiam/disiam/nn/nntest"
)

// detRun runs a float32 graph that uses every op of this package (shapes
// large enough for many chunks), forward and backward, twice, with the
// given number of workers, and returns the output, every gradient and
// the running statistics.
func detRun(t *testing.T, workers int) [][]float64 {
	defer func(w int) { parallel.Workers = w }(parallel.Workers)
	parallel.Workers = workers
	const n, c, h = 8, 16, 12
	bn2 := nn.NewBatchNorm2d("bn2", c)
	bn1 := nn.NewBatchNorm1d("bn1", 10)
	lin := nn.NewLinear("fc", c*3*3, 10, true)
	se := nn.NewLinear("se", c, c, true)
	for _, p := range []*nn.Param{lin.Weight, lin.Bias, se.Weight, se.Bias, bn2.Weight, bn2.Bias} {
		copy(p.Data(), nntest.RuleTensorValues(p.Name, p.Shape(), 1))
	}
	drop := nn.NewDropout(0.3, 1)
	sd := nn.NewStochasticDepth(0.25, 2)

	g := G.NewGraph()
	xp := &nn.Param{Name: "x", Trainable: true, Value: nntest.Rand32("det.x", n, c, h, h)}
	cb := &nn.Param{Name: "cb", Trainable: true, Value: nntest.Rand32("det.cb", c)}
	y := nn.ReLU(bn2.Forward(nn.AddChannelBias(xp.Node(g), cb.Node(g))))
	y = nn.MaxPool2d(y, 3, 2, 1) // 6x6
	s := nn.Sigmoid(se.Forward(nn.GlobalAvgPool2d(y)))
	y = nn.Add(y, sd.Forward(nn.SiLU(nn.ScaleChannels(y, s))))
	f := nn.Flatten(nn.MaxPool2d(y, 2, 2, 0)) // [n, c*3*3]
	z := drop.Forward(nn.ReLU(bn1.Forward(lin.Forward(f))))
	r := nntest.Rand32("det.r", n, 10)
	rn := G.NewTensor(g, tensor.Float32, 2, G.WithShape(n, 10), G.WithName("r"), G.WithValue(r))
	loss := G.Must(G.Sum(G.Must(G.HadamardProd(z, rn))))
	params := []*nn.Param{xp, cb}
	for _, m := range []nn.Module{bn2, bn1, lin, se} {
		params = append(params, nn.Trainable(m)...)
	}
	prog, err := nn.Compile(g, loss, params)
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	for range 2 {
		if err := prog.Run(); err != nil {
			t.Fatal(err)
		}
	}
	out := [][]float64{values(z.Value().(*tensor.Dense))}
	for _, p := range params {
		out = append(out, values(p.Grad))
	}
	for _, p := range []*nn.Param{bn1.RunningMean, bn1.RunningVar, bn2.RunningMean, bn2.RunningVar} {
		out = append(out, values(p.Value))
	}
	return out
}

func TestOpsDeterministic(t *testing.T) {
	one, three := detRun(t, 1), detRun(t, 3)
	nonzero := 0
	for i := range one {
		for j := range one[i] {
			if math.Float64bits(one[i][j]) != math.Float64bits(three[i][j]) {
				t.Fatalf("result %d element %d: %v with 1 worker, %v with 3", i, j, one[i][j], three[i][j])
			}
			if one[i][j] != 0 {
				nonzero++
			}
		}
	}
	if nonzero < len(one[1])/2 { // the input's gradient must be mostly non-zero
		t.Fatalf("only %d non-zero values: the graph does not exercise the ops", nonzero)
	}
}
