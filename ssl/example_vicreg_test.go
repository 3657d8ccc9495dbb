package ssl_test

import (
	"context"
	"fmt"

	G "gorgonia.org/gorgonia"

	"github.com/disiam/disiam/augment"
	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/dataset"
	"github.com/disiam/disiam/ssl"
	"github.com/disiam/disiam/train"
)

// VICReg (Bardes, Ponce and LeCun 2022) is a method written outside
// package ssl: a backbone, an expander head and a loss of plain gorgonia
// operations. A Method is these five methods; the Trainer does the rest.
type VICReg struct {
	Backbone backbone.Backbone
	Expander ssl.Head // named "projection_head", as lightly's VICReg
}

func (m *VICReg) Name() string               { return "vicreg" }
func (m *VICReg) Views() int                 { return 2 }
func (m *VICReg) Encoder() backbone.Backbone { return m.Backbone }
func (m *VICReg) Parts() train.Parts {
	return train.Parts{
		{Prefix: "backbone.", Module: m.Backbone, Trainable: true},
		{Module: m.Expander, Trainable: true},
	}
}

func (m *VICReg) Loss(views []*G.Node) *G.Node {
	z1 := m.Expander.Forward(m.Backbone.Features(views[0]))
	z2 := m.Expander.Forward(m.Backbone.Features(views[1]))
	return VICRegLoss(z1, z2)
}

// VICRegLoss is the paper's loss with its coefficients λ = μ = 25, ν = 1:
// the mean squared distance of the two embeddings (invariance), a hinge
// keeping each dimension's standard deviation over the batch at 1
// (variance) and the squared off-diagonal covariances over D
// (covariance), the last two for each embedding [N, D].
func VICRegLoss(z1, z2 *G.Node) *G.Node {
	inv := G.Must(G.Mean(G.Must(G.Square(G.Must(G.Sub(z1, z2))))))
	v1, c1 := varianceCovariance(z1)
	v2, c2 := varianceCovariance(z2)
	return sum(scale(inv, 25), scale(v1, 25), scale(v2, 25), c1, c2)
}

// varianceCovariance returns mean_j relu(1 − sqrt(var_j + 1e-4)) and
// Σ_{i≠j} C_ij² / D, with var and C over the batch (divided by N − 1).
func varianceCovariance(z *G.Node) (variance, covariance *G.Node) {
	n, d := z.Shape()[0], z.Shape()[1]
	centered := G.Must(G.BroadcastSub(z, G.Must(G.Mean(z, 0)), nil, []byte{0}))
	cov := G.Must(G.Mul(G.Must(G.Transpose(centered)), centered))
	cov = scale(cov, 1/float32(n-1))
	vars := scale(G.Must(G.Sum(G.Must(G.Square(centered)), 0)), 1/float32(n-1))
	std := G.Must(G.Sqrt(G.Must(G.Add(vars, G.NewConstant(float32(1e-4))))))
	variance = G.Must(G.Mean(G.Must(G.Rectify(G.Must(G.Sub(G.NewConstant(float32(1)), std))))))
	offDiag := G.Must(G.Sub(G.Must(G.Sum(G.Must(G.Square(cov)))), G.Must(G.Sum(G.Must(G.Square(vars))))))
	return variance, scale(offDiag, 1/float32(d))
}

func scale(x *G.Node, s float32) *G.Node { return G.Must(G.Mul(x, G.NewConstant(s))) }
func sum(xs ...*G.Node) *G.Node {
	out := xs[0]
	for _, x := range xs[1:] {
		out = G.Must(G.Add(out, x))
	}
	return out
}

// A user-defined method trained by the shared loop: VICReg on a narrow
// ResNet-18 for two epochs of the synthetic set, with SimSiam's views
// (the default for a method without ViewsProvider) and the default SGD
// recipe (a method could choose its own with RecipeProvider). At this toy size
// the loss only shows that everything runs; see ExampleTrainer for the
// library's methods.
func Example_userMethod() {
	cfg := dataset.SyntheticConfig{Train: 64, Test: 16, Seed: 3}
	bb, _ := backbone.New("resnet18-w8", backbone.Config{Seed: 1})
	m := &VICReg{Backbone: bb, Expander: ssl.NewMLP("projection_head", ssl.SimSiamProjector(bb.FeatureDim(), 256, 256, 3), 2)}
	trainer := &ssl.Trainer{
		Stages: []ssl.Stage{{Method: m, Epochs: 2}},
		Data:   dataset.Synthetic(cfg, dataset.Train),
		Norm:   augment.CIFAR10Norm,
		Config: train.Config{Batch: 32, Seed: 1},
	}
	h, err := trainer.Run(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, e := range h.Epochs {
		fmt.Printf("epoch %d (%s): %d steps, loss %.2f\n", e.Epoch, e.Name, e.Steps, e.Loss)
	}
	sd, _ := m.Parts().StateDict()
	fmt.Println(len(sd.Names()), "tensors in the state_dict, the first", sd.Names()[0])
	// Output:
	// epoch 1 (vicreg): 2 steps, loss 74.31
	// epoch 2 (vicreg): 4 steps, loss 72.87
	// 138 tensors in the state_dict, the first backbone.conv1.weight
}
