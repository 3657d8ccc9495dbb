package optim_test

import (
	"fmt"

	"gorgonia.org/tensor"

	"github.com/disiam/disiam/nn"
	"github.com/disiam/disiam/optim"
)

// SimSiam's recipe: SGD with momentum 0.9 and weight decay 1e-4, base
// learning rate 0.03 scaled by batch/256, cosine decay to zero. The
// printed values are torch.optim.SGD's for the same steps.
func Example() {
	w := nn.NewParam("w", true, 2)
	copy(w.Data(), []float32{1, -2})
	opt := optim.NewSGD([]*nn.Param{w}, optim.SimSiamSGD)
	const batch, steps = 512, 4
	sched := optim.Cosine{Base: optim.LinearScaledLR(optim.SimSiamBaseLR, batch), Steps: steps}
	for k := 0; k < steps; k++ {
		// In training, Grad comes from nn.Program.Run; here: the gradient of ½‖w‖².
		w.Grad = tensor.New(tensor.WithShape(2), tensor.WithBacking(append([]float32(nil), w.Data()...)))
		lr := sched.At(k)
		opt.Step(lr)
		fmt.Printf("step %d  lr %.4f  w %.5f\n", k, lr, w.Data())
	}
	// Output:
	// step 0  lr 0.0600  w [0.93999 -1.87999]
	// step 1  lr 0.0512  w [0.84575 -1.69151]
	// step 2  lr 0.0300  w [0.77069 -1.54139]
	// step 3  lr 0.0088  w [0.74413 -1.48827]
}

// SimCLR's schedule: linear warmup for 10 epochs, then cosine decay, with
// the learning rate 0.075·sqrt(batch).
func ExampleWarmupCosine() {
	s := optim.WarmupCosine{Base: optim.SqrtScaledLR(optim.SimCLRBaseLR, 256), Warmup: 10, Steps: 100}
	for _, epoch := range []int{0, 4, 9, 10, 55, 99} {
		fmt.Printf("epoch %2d: %.4f\n", epoch, s.At(epoch))
	}
	// Output:
	// epoch  0: 0.1200
	// epoch  4: 0.6000
	// epoch  9: 1.2000
	// epoch 10: 1.2000
	// epoch 55: 0.6000
	// epoch 99: 0.0004
}

// BYOL's target network follows the online one with a momentum rising
// from 0.99 to 1.
func ExampleEMA() {
	online := nn.NewParam("w", true, 1)
	target := nn.NewParam("w", true, 1)
	online.Data()[0] = 1
	tau := optim.MomentumSchedule{Base: 0.99, Steps: 3}
	for k := 0; k < 3; k++ {
		optim.EMA([]*nn.Param{target}, []*nn.Param{online}, tau.At(k))
		fmt.Printf("τ %.5f  target %.6f\n", tau.At(k), target.Data()[0])
	}
	// Output:
	// τ 0.99000  target 0.010000
	// τ 0.99250  target 0.017425
	// τ 0.99750  target 0.019881
}

// Four micro-batches of 64 simulate one batch of 256.
func ExampleAccumulator() {
	w := nn.NewParam("w", true, 1)
	acc := optim.NewAccumulator([]*nn.Param{w})
	for _, g := range []float32{1, 2, 3, 6} { // each micro-batch's gradient
		w.Grad = tensor.New(tensor.WithShape(1), tensor.WithBacking([]float32{g}))
		acc.Add()
	}
	n := acc.Finish()
	fmt.Println(n, w.Grad.Data())
	// Output: 4 [3]
}
