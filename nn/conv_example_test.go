package nn_test

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/nn"
)

// A 3x3 Laplacian filter over a zero-padded 3x3 image (padding 1 keeps the
// size), and the gradient of sum(y) with respect to the filter.
func ExampleConv2dOp() {
	g := G.NewGraph()
	x, xt := nn.Input(g, "x", tensor.Float32, 1, 1, 3, 3) // [N, C, H, W]
	copy(xt.Data().([]float32), []float32{1, 2, 3, 4, 5, 6, 7, 8, 9})
	w := nn.NewParam("laplace.weight", true, 1, 1, 3, 3) // [O, C/groups, KH, KW]
	copy(w.Data(), []float32{0, 1, 0, 1, -4, 1, 0, 1, 0})

	y := nn.Conv2dOp(x, w.Node(g), 1, 1, 1, 1) // stride, padding, dilation, groups
	loss := G.Must(G.Sum(y))
	prog, err := nn.Compile(g, loss, []*nn.Param{w})
	if err != nil {
		panic(err)
	}
	defer prog.Close()
	if err := prog.Run(); err != nil {
		panic(err)
	}
	fmt.Println(y.Shape(), y.Value().Data())
	fmt.Println(w.Grad.Data()) // each tap: the sum of the pixels it sees
	// Output:
	// (1, 1, 3, 3) [2 1 -4 -3 0 -7 -16 -11 -22]
	// [12 21 16 27 45 33 24 39 28]
}
