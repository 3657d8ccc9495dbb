package weightinit_test

import (
	"fmt"
	"math"

	weightinit "github.com/disiam/disiam/init"
	"github.com/disiam/disiam/nn"
)

// The thesis' random-initialization study: Kaiming normal in fan-out mode
// with gain ratio 1.5 (final gain 1.5·√2 ≈ 2.12).
func ExampleKaiming() {
	conv := nn.NewConv2d("conv", nn.Conv2dConfig{In: 64, Out: 128, Kernel: 3})
	bn := nn.NewBatchNorm2d("bn", 128)
	net := nn.Modules{conv, bn}

	weightinit.Kaiming(weightinit.FanOut, 1.5).Apply(net, 42)

	var sq float64
	for _, v := range conv.Weight.Data() {
		sq += float64(v) * float64(v)
	}
	std := math.Sqrt(sq / float64(conv.Weight.Numel()))
	want := weightinit.KaimingNormal{Mode: weightinit.FanOut, GainRatio: 1.5}.Std([]int{128, 64, 3, 3})
	fmt.Printf("target std %.4f, sample/target %.2f, bn weight %v bias %v\n", want, std/want, bn.Weight.Data()[0], bn.Bias.Data()[0])
	// Output: target std 0.0625, sample/target 1.00, bn weight 1 bias 0
}

func ExampleFans() {
	in, out := weightinit.Fans([]int{64, 3, 7, 7}) // ResNet's stem convolution
	fmt.Println(in, out)
	// Output: 147 3136
}
