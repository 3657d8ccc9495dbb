// Package weightinit initializes network weights: the Kaiming (He),
// Xavier (Glorot), constant, normal and uniform distributions, the exact
// default schemes torchvision applies to ResNet and EfficientNet, and the
// thesis' gain-ratio variant of Kaiming initialization used in its study
// of randomly initialized backbones.
//
// The directory is init/ but the package is weightinit: Go reserves the
// identifier init (a package named init cannot be imported), so import it as
//
//	import "github.com/disiam/disiam/init" // package weightinit
//
// and refer to it as weightinit.
//
// # Distributions
//
// An Init fills one float32 tensor given the shape of its layer's weight,
// from which it takes the fans (Fans, as PyTorch computes them: fan_in =
// in_channels/groups × kernel area, fan_out = out_channels × kernel area):
//
//	KaimingNormal{Mode, Gain, GainRatio}   N(0, (GainRatio·Gain/√fan)²)
//	KaimingUniform{Mode, Gain, GainRatio}  U(±GainRatio·Gain·√(3/fan))
//	XavierNormal{Gain}                     N(0, Gain²·2/(fan_in+fan_out))
//	XavierUniform{Gain}                    U(±Gain·√(6/(fan_in+fan_out)))
//	FanUniform{Mode}                       U(±1/√fan)
//	Constant{Value}, Normal{Mean, Std}, Uniform{Low, High}
//
// Zero Gain means √2 (GainReLU) for Kaiming and 1 for Xavier; zero
// GainRatio means 1. The thesis' gain ratio (Section 4.8) multiplies the
// gain: std = gain_ratio · gain / √fan, so its best setting, ratio 1.5, is
// a final gain of 1.5·√2 ≈ 2.12 (the "final gain value 2.12" it reports).
//
// # Schemes
//
// A Scheme assigns an Init to convolution weights and biases and linear
// weights and biases, and Scheme.Apply runs it over a whole module:
// normalization layers get weight 1 and bias 0 and fresh running
// statistics. Presets:
//
//	ResNet()        torchvision ResNet: conv kaiming_normal_(fan_out, relu), fc as nn.Linear
//	EfficientNet()  torchvision EfficientNet: conv kaiming_normal_(fan_out), zero conv biases,
//	                Linear U(±1/√out_features), zero bias
//	PyTorch()       what nn.Conv2d / nn.Linear do on construction
//	Kaiming(mode, ratio)  the thesis' study: all conv and linear weights Kaiming normal
//	                with gain ratio·√2, zero biases
//
// "Random initialization" therefore means the same distribution as in
// PyTorch; the values differ, since PyTorch's generator is not reproduced.
// Set SkipClassifier to leave a backbone's classifier as it is (the
// Classifier interface says which parameters that is).
//
// # Reproducibility
//
// Randomness comes only from the seed given to Apply (or the *rand.Rand
// given to Init.Fill). Apply gives every tensor its own PCG stream, keyed by
// the seed and the parameter's name, so results do not depend on the number
// of goroutines, on the order of parameters or on which other parameters are
// initialized; two parameters with the same name in one module (two copies
// of a network) still draw different values.
package weightinit
