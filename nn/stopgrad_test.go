package nn_test

import (
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/nn"
	"github.com/disiam/disiam/nn/nntest"
)

// loss = sum(y * sg(y)) with y = x*w gives dL/dw = x^T y, not 2 x^T y.
func TestStopGradientBlocksOneSide(t *testing.T) {
	g := G.NewGraph()
	x := G.NewMatrix(g, tensor.Float64, G.WithShape(2, 3), G.WithName("x"),
		G.WithValue(tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float64{1, 2, 3, 4, 5, 6}))))
	w := &nn.Param{Name: "w", Trainable: true, Value: tensor.New(tensor.WithShape(3, 1), tensor.WithBacking([]float64{0.5, -1, 2}))}
	y := G.Must(G.Mul(x, w.Node(g)))
	loss := G.Must(G.Sum(G.Must(G.HadamardProd(y, nn.StopGradient(y)))))
	prog, err := nn.Compile(g, loss, []*nn.Param{w})
	if err != nil {
		t.Fatal(err)
	}
	for run := 0; run < 2; run++ { // a second run must give the same
		if err := prog.Run(); err != nil {
			t.Fatal(err)
		}
		// y = [4.5, 9], x^T y = [1*4.5+4*9, 2*4.5+5*9, 3*4.5+6*9]
		want := []float64{40.5, 54, 67.5}
		got := w.Grad.Data().([]float64)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("run %d: grad = %v, want %v", run, got, want)
			}
		}
		if l := prog.Loss(); l != 4.5*4.5+81 {
			t.Fatalf("loss %v", l)
		}
	}
}

func TestStopGradientOnlyPath(t *testing.T) {
	// A parameter reached only through a stop-gradient gets a zero gradient.
	g := G.NewGraph()
	w := &nn.Param{Name: "w", Trainable: true, Value: nntest.Rand64("w", 3)}
	v := &nn.Param{Name: "v", Trainable: true, Value: nntest.Rand64("v", 3)}
	loss := G.Must(G.Sum(G.Must(G.HadamardProd(v.Node(g), nn.StopGradient(w.Node(g))))))
	prog, err := nn.Compile(g, loss, []*nn.Param{w, v})
	if err != nil {
		t.Fatal(err)
	}
	if err := prog.Run(); err != nil {
		t.Fatal(err)
	}
	for i, x := range w.Grad.Data().([]float64) {
		if x != 0 {
			t.Fatalf("w.Grad[%d] = %v, want 0", i, x)
		}
	}
	if got, want := v.Grad.Data().([]float64), w.Value.Data().([]float64); got[1] != want[1] {
		t.Fatalf("v.Grad = %v, want %v", got, want)
	}
}
