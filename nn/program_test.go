package nn_test

import (
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/nn"
)

// A compiled program runs the kernels of only the backward nodes that the
// parameters' gradients need: the input's gradient of a linear layer
// (dy·W) is never computed (its buffer stays zero), its weight's (dyᵀ·x)
// is, and every forward node still runs.
func TestProgramPrunesUnneededGradients(t *testing.T) {
	g := G.NewGraph()
	x, xv := nn.Input(g, "x", tensor.Float32, 4, 3)
	copy(xv.Data().([]float32), []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	w := nn.NewParam("w", true, 2, 3)
	copy(w.Data(), []float32{1, 0, -1, 0.5, 0.5, 0.5})
	y := nn.LinearOp(x, w.Node(g), nil)
	side := nn.ReLU(y) // read by nobody but the caller
	loss := G.Must(G.Sum(y))
	prog, err := nn.Compile(g, loss, []*nn.Param{w})
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	if err := prog.Run(); err != nil {
		t.Fatal(err)
	}
	var ran, skipped []string
	for _, n := range g.AllNodes() {
		if n.Op() == nil {
			continue
		}
		switch name := n.Op().String(); name {
		case "MatMul", "MatMulTN":
			v, _ := n.Value().(*tensor.Dense)
			computed := false
			if v != nil {
				for _, e := range v.Data().([]float32) {
					computed = computed || e != 0
				}
			}
			if !computed {
				skipped = append(skipped, name)
			} else {
				ran = append(ran, name)
			}
		}
	}
	if len(ran) != 1 || ran[0] != "MatMulTN" || len(skipped) != 1 || skipped[0] != "MatMul" {
		t.Errorf("ran %v, skipped %v; want dW = dyᵀx (MatMulTN) run and dx = dy W (MatMul) skipped", ran, skipped)
	}
	if side.Value() == nil {
		t.Error("a forward node outside the loss did not run")
	}
	// dW = dyᵀ x with dy = 1: the column sums of x in both rows.
	want := []float32{22, 26, 30, 22, 26, 30}
	for i, v := range w.Grad.Data().([]float32) {
		if v != want[i] {
			t.Fatalf("dW = %v, want %v", w.Grad.Data(), want)
		}
	}
}
