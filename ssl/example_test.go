package ssl_test

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/nn"
	"github.com/disiam/disiam/nn/nntest"
	"github.com/disiam/disiam/optim"
	"github.com/disiam/disiam/ssl"
)

// SimSiam assembled from its parts: a projector and a predictor over the
// features of two views, the symmetric negative cosine with stop-gradient
// targets, SGD. Here the "backbone features" of a batch of 32 images are
// fixed inputs; with a backbone.Backbone they would be bb.Features(view).
func Example() {
	const batch, feat = 32, 64
	g := G.NewGraph()
	x1, v1 := nn.Input(g, "view1", tensor.Float32, batch, feat)
	x2, v2 := nn.Input(g, "view2", tensor.Float32, batch, feat)
	copy(v1.Data().([]float32), nntest.Rand32("view1", batch, feat).Data().([]float32))
	copy(v2.Data().([]float32), nntest.Rand32("view2", batch, feat).Data().([]float32))

	proj := ssl.NewMLP("projection_head", ssl.SimSiamProjector(feat, 128, 128, 2), 1)
	pred := ssl.NewMLP("prediction_head", ssl.SimSiamPredictor(128, 32, 128), 2)
	z1, z2 := proj.Forward(x1), proj.Forward(x2)
	p1, p2 := pred.Forward(z1), pred.Forward(z2)
	loss := ssl.SymmetricD(p1, p2, z1, z2)

	params := nn.Trainable(nn.Modules{proj, pred})
	prog, err := nn.Compile(g, loss, params)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer prog.Close()
	opt := optim.NewSGD(params, optim.SimSiamSGD)
	for step := 0; step < 40; step++ {
		if err := prog.Run(); err != nil {
			fmt.Println(err)
			return
		}
		if step%10 == 0 {
			std, _ := ssl.CollapseStd(z1.Value().(*tensor.Dense))
			fmt.Printf("step %2d  loss %.2f  std %.3f\n", step, prog.Loss(), std)
		}
		opt.Step(0.1)
	}
	// Output:
	// step  0  loss 0.00  std 0.090
	// step 10  loss -0.21  std 0.090
	// step 20  loss -0.35  std 0.090
	// step 30  loss -0.49  std 0.090
}

// NT-Xent of two views whose samples are their own positives (and
// orthogonal to the others): every anchor has loss log(1 + 4·exp(-1/τ)),
// low at a low temperature.
func ExampleNTXent() {
	g := G.NewGraph()
	e := tensor.New(tensor.WithShape(3, 3), tensor.WithBacking([]float64{1, 0, 0, 0, 1, 0, 0, 0, 1}))
	z1 := G.NewMatrix(g, tensor.Float64, G.WithValue(e), G.WithName("z1"))
	z2 := G.NewMatrix(g, tensor.Float64, G.WithValue(e.Clone()), G.WithName("z2"))
	l1 := ssl.NTXent(z1, z2, 0.1)
	l5 := ssl.NTXent(z1, z2, 0.5)
	prog, _ := nn.Compile(g, nil, nil)
	defer prog.Close()
	_ = prog.Run()
	fmt.Printf("τ=0.1: %.6f\nτ=0.5: %.6f\n", nn.ScalarValue(l1), nn.ScalarValue(l5))
	// Output:
	// τ=0.1: 0.000182
	// τ=0.5: 0.432653
}

// The two multi-view target modes on M = 3 views: every pair, or the mean
// of the other views' projections (lightly's FastSiam).
func ExampleMultiViewD() {
	g := G.NewGraph()
	var ps, zs []*G.Node
	for j := 0; j < 3; j++ {
		ps = append(ps, G.NewMatrix(g, tensor.Float64, G.WithValue(nntest.Rand64(fmt.Sprintf("p%d", j), 4, 8)), G.WithName(fmt.Sprintf("p%d", j))))
		zs = append(zs, G.NewMatrix(g, tensor.Float64, G.WithValue(nntest.Rand64(fmt.Sprintf("z%d", j), 4, 8)), G.WithName(fmt.Sprintf("z%d", j))))
	}
	pair := ssl.MultiViewD(ps, zs, ssl.PairwiseTargets)
	mean := ssl.MultiViewD(ps, zs, ssl.MeanTargets)
	prog, _ := nn.Compile(g, nil, nil)
	defer prog.Close()
	_ = prog.Run()
	fmt.Printf("pairwise %.4f\nmean     %.4f\n", nn.ScalarValue(pair), nn.ScalarValue(mean))
	// Output:
	// pairwise -0.0714
	// mean     -0.1133
}

// Heads are data: the blocks of a preset, and the state_dict names of the
// head built from them.
func ExampleSimSiamProjector() {
	blocks := ssl.SimSiamProjector(512, 2048, 2048, 2)
	for _, b := range blocks {
		fmt.Printf("%d -> %d  bias %v  %v  %v\n", b.In, b.Out, b.Bias, b.Norm, b.Activation)
	}
	head := ssl.NewMLP("projection_head", blocks, 1)
	for _, p := range head.Params() {
		fmt.Println(p.Name, p.Shape())
	}
	// Output:
	// 512 -> 2048  bias false  batchnorm  relu
	// 2048 -> 2048  bias false  batchnorm(affine=false)  none
	// projection_head.layers.0.weight (2048, 512)
	// projection_head.layers.1.weight (2048)
	// projection_head.layers.1.bias (2048)
	// projection_head.layers.1.running_mean (2048)
	// projection_head.layers.1.running_var (2048)
	// projection_head.layers.1.num_batches_tracked (1)
	// projection_head.layers.3.weight (2048, 2048)
	// projection_head.layers.4.running_mean (2048)
	// projection_head.layers.4.running_var (2048)
	// projection_head.layers.4.num_batches_tracked (1)
}
