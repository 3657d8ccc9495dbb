package weightinit

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// FanMode selects the fan Kaiming initialization divides by.
type FanMode int

const (
	// FanIn preserves the variance of activations in the forward pass.
	FanIn FanMode = iota
	// FanOut preserves the variance of gradients in the backward pass
	// (torchvision's choice for ResNet and EfficientNet convolutions).
	FanOut
)

func (m FanMode) String() string {
	switch m {
	case FanIn:
		return "fan_in"
	case FanOut:
		return "fan_out"
	}
	return fmt.Sprintf("FanMode(%d)", int(m))
}

// Fans returns fan_in and fan_out of a weight of the given shape, as
// torch.nn.init._calculate_fan_in_and_fan_out: for [out, in, k1, k2, ...],
// fan_in = in*k1*k2*... and fan_out = out*k1*k2*... (a grouped convolution's
// weight [out, in/groups, k, k] counts in/groups). It panics for fewer than
// two dimensions.
func Fans(shape []int) (fanIn, fanOut int) {
	if len(shape) < 2 {
		panic(fmt.Sprintf("weightinit: fan of a tensor of shape %v (need at least 2 dimensions)", shape))
	}
	rf := 1
	for _, s := range shape[2:] {
		rf *= s
	}
	return shape[1] * rf, shape[0] * rf
}

// Fan returns the fan of shape selected by mode.
func Fan(shape []int, mode FanMode) int {
	in, out := Fans(shape)
	if mode == FanOut {
		return out
	}
	return in
}

// Gains of torch.nn.init.calculate_gain.
const (
	GainLinear = 1.0        // identity, convolution, sigmoid
	GainReLU   = math.Sqrt2 // ReLU, and Kaiming's default (leaky_relu with slope 0)
	GainTanh   = 5.0 / 3.0  // tanh
	GainSELU   = 3.0 / 4.0  // SELU
)

// GainLeakyReLU is the gain of a leaky ReLU with the given negative slope,
// sqrt(2 / (1 + slope²)).
func GainLeakyReLU(slope float64) float64 { return math.Sqrt(2 / (1 + slope*slope)) }

// Init fills one tensor with initial values.
type Init interface {
	// Fill writes initial values into data, the elements of a tensor that
	// belongs to a layer whose weight has shape weightShape (for a bias,
	// the shape of the same layer's weight, which sets the fans).
	Fill(data []float32, weightShape []int, rng *rand.Rand)
}

// KaimingNormal draws from N(0, std²) with std = GainRatio * Gain /
// sqrt(fan): He et al.'s initialization with the thesis' gain ratio
// (Section 4.8). torch.nn.init.kaiming_normal_(w, mode, nonlinearity) is
// KaimingNormal{Mode: mode, Gain: calculate_gain(nonlinearity)}.
type KaimingNormal struct {
	Mode      FanMode
	Gain      float64 // 0 means sqrt(2), the ReLU gain (and PyTorch's default)
	GainRatio float64 // 0 means 1
}

// Std returns the standard deviation for a weight of the given shape.
func (k KaimingNormal) Std(shape []int) float64 {
	return ratio(k.GainRatio) * gain(k.Gain) / math.Sqrt(float64(Fan(shape, k.Mode)))
}

// Fill implements Init.
func (k KaimingNormal) Fill(data []float32, shape []int, rng *rand.Rand) {
	normal(data, 0, k.Std(shape), rng)
}

// KaimingUniform draws from U(-b, b) with b = GainRatio * Gain *
// sqrt(3 / fan), which has KaimingNormal's standard deviation;
// torch.nn.init.kaiming_uniform_.
type KaimingUniform struct {
	Mode      FanMode
	Gain      float64 // 0 means sqrt(2)
	GainRatio float64 // 0 means 1
}

// Bound returns b for a weight of the given shape.
func (k KaimingUniform) Bound(shape []int) float64 {
	return ratio(k.GainRatio) * gain(k.Gain) * math.Sqrt(3/float64(Fan(shape, k.Mode)))
}

// Fill implements Init.
func (k KaimingUniform) Fill(data []float32, shape []int, rng *rand.Rand) {
	b := k.Bound(shape)
	uniform(data, -b, b, rng)
}

// XavierNormal draws from N(0, std²), std = Gain * sqrt(2 / (fan_in +
// fan_out)) (Glorot and Bengio); torch.nn.init.xavier_normal_.
type XavierNormal struct {
	Gain float64 // 0 means 1
}

// Fill implements Init.
func (x XavierNormal) Fill(data []float32, shape []int, rng *rand.Rand) {
	in, out := Fans(shape)
	normal(data, 0, ratio(x.Gain)*math.Sqrt(2/float64(in+out)), rng)
}

// XavierUniform draws from U(-b, b), b = Gain * sqrt(6 / (fan_in +
// fan_out)); torch.nn.init.xavier_uniform_.
type XavierUniform struct {
	Gain float64 // 0 means 1
}

// Fill implements Init.
func (x XavierUniform) Fill(data []float32, shape []int, rng *rand.Rand) {
	in, out := Fans(shape)
	b := ratio(x.Gain) * math.Sqrt(6/float64(in+out))
	uniform(data, -b, b, rng)
}

// FanUniform draws from U(-1/sqrt(fan), 1/sqrt(fan)). With FanIn it is
// PyTorch's default for nn.Linear and nn.Conv2d weights
// (kaiming_uniform_(a=sqrt(5))) and biases; with FanOut on a Linear weight
// [out, in] it is torchvision EfficientNet's classifier initialization,
// U(-1/sqrt(out_features), 1/sqrt(out_features)).
type FanUniform struct {
	Mode FanMode
}

// Fill implements Init.
func (f FanUniform) Fill(data []float32, shape []int, rng *rand.Rand) {
	b := 1 / math.Sqrt(float64(Fan(shape, f.Mode)))
	uniform(data, -b, b, rng)
}

// Constant sets every element to Value (the zero value zeroes).
type Constant struct {
	Value float64
}

// Fill implements Init.
func (c Constant) Fill(data []float32, _ []int, _ *rand.Rand) {
	v := float32(c.Value)
	for i := range data {
		data[i] = v
	}
}

// Uniform draws from U(Low, High).
type Uniform struct {
	Low, High float64
}

// Fill implements Init.
func (u Uniform) Fill(data []float32, _ []int, rng *rand.Rand) { uniform(data, u.Low, u.High, rng) }

// Normal draws from N(Mean, Std²).
type Normal struct {
	Mean, Std float64
}

// Fill implements Init.
func (n Normal) Fill(data []float32, _ []int, rng *rand.Rand) { normal(data, n.Mean, n.Std, rng) }

func gain(g float64) float64 {
	if g == 0 {
		return GainReLU
	}
	return g
}

func ratio(r float64) float64 {
	if r == 0 {
		return 1
	}
	return r
}

func normal(data []float32, mean, std float64, rng *rand.Rand) {
	for i := range data {
		data[i] = float32(mean + std*rng.NormFloat64())
	}
}

func uniform(data []float32, lo, hi float64, rng *rand.Rand) {
	for i := range data {
		data[i] = float32(lo + (hi-lo)*rng.Float64())
	}
}
