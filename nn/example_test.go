package nn_test

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/nn"
)

// A projection-head block, Linear → BatchNorm1d → ReLU, built once,
// compiled once and run in Train mode, then in Eval mode.
func Example() {
	fc := nn.NewLinear("head.0", 3, 2, false)
	bn := nn.NewBatchNorm1d("head.1", 2)
	copy(fc.Weight.Data(), []float32{1, 2, 3, -1, 0, 1})

	g := G.NewGraph()
	x, xData := nn.Input(g, "x", tensor.Float32, 4, 3)
	y := nn.ReLU(bn.Forward(fc.Forward(x)))
	prog, err := nn.Compile(g, nil, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer prog.Close()

	copy(xData.Data().([]float32), []float32{1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1})
	show := func(mode string) {
		if err := prog.Run(); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s: %.4f\n", mode, y.Value().Data())
	}
	show("train") // batch statistics; updates the running statistics
	fmt.Printf("%s %.4f\n", bn.RunningMean.Name, bn.RunningMean.Data())
	fmt.Printf("%s %.4f\n", bn.RunningVar.Name, bn.RunningVar.Data())
	fmt.Printf("%s %d\n", bn.NumBatchesTracked.Name, bn.NumBatchesTracked.Value.Data())
	nn.Modules{fc, bn}.SetTraining(false)
	show("eval") // running statistics, left unchanged

	// Output:
	// train: [0.0000 0.0000 0.0000 0.0000 0.0000 1.4142 1.6036 0.0000]
	// head.1.running_mean [0.3000 0.0000]
	// head.1.running_var [1.3667 0.9667]
	// head.1.num_batches_tracked [1]
	// eval: [0.5988 0.0000 1.4542 0.0000 2.3096 1.0171 4.8758 0.0000]
}
