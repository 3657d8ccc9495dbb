package weightinit

import (
	"math/rand/v2"
	"strings"

	"github.com/disiam/disiam/internal/parallel"
	"github.com/disiam/disiam/nn"
)

// Scheme says how to initialize every layer of a network. Layers are
// recognized from their parameters (see Apply); a nil Init leaves those
// tensors unchanged.
type Scheme struct {
	Conv       Init // convolution weights (rank ≥ 3)
	ConvBias   Init
	Linear     Init // fully connected weights (rank 2)
	LinearBias Init
	// SkipClassifier leaves the classifier alone: the parameters a module
	// reports through the Classifier interface (a backbone's fc or
	// classifier.1). The thesis' random-initialization study evaluates
	// backbones both without and with a randomly initialized classifier.
	SkipClassifier bool
}

// Classifier is implemented by modules with a classification head (the
// backbones of package backbone) so that Scheme.SkipClassifier can find it.
type Classifier interface {
	ClassifierParams() []*nn.Param
}

// ResNet is torchvision's initialization of ResNet: convolutions
// kaiming_normal_(mode="fan_out", nonlinearity="relu"), BatchNorm weight 1
// and bias 0, and the fc layer as nn.Linear initializes itself (weight and
// bias U(-1/sqrt(in), 1/sqrt(in))). Convolution biases, which torchvision's
// ResNet does not have, get nn.Conv2d's default.
func ResNet() Scheme {
	return Scheme{
		Conv:       KaimingNormal{Mode: FanOut, Gain: GainReLU},
		ConvBias:   FanUniform{Mode: FanIn},
		Linear:     FanUniform{Mode: FanIn},
		LinearBias: FanUniform{Mode: FanIn},
	}
}

// EfficientNet is torchvision's initialization of EfficientNet:
// convolutions kaiming_normal_(mode="fan_out") (gain sqrt(2)) with zero
// biases (the squeeze-and-excitation convolutions), BatchNorm weight 1 and
// bias 0, Linear weight U(-1/sqrt(out), 1/sqrt(out)) and zero bias.
func EfficientNet() Scheme {
	return Scheme{
		Conv:       KaimingNormal{Mode: FanOut},
		ConvBias:   Constant{},
		Linear:     FanUniform{Mode: FanOut},
		LinearBias: Constant{},
	}
}

// PyTorch is what torch.nn.Conv2d and torch.nn.Linear do on construction:
// weights kaiming_uniform_(a=sqrt(5)), i.e. U(-1/sqrt(fan_in),
// 1/sqrt(fan_in)), and biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
func PyTorch() Scheme {
	u := FanUniform{Mode: FanIn}
	return Scheme{Conv: u, ConvBias: u, Linear: u, LinearBias: u}
}

// Kaiming is the scheme of the thesis' random-initialization study
// (Section 4.8): every convolution and linear weight from
// N(0, std²) with std = gainRatio * sqrt(2) / sqrt(fan), fan chosen by mode,
// biases zero, BatchNorm weight 1 and bias 0. Gain ratio 1.5 is the
// thesis' best setting ("final gain value 2.12" = 1.5 * sqrt(2)).
func Kaiming(mode FanMode, gainRatio float64) Scheme {
	k := KaimingNormal{Mode: mode, Gain: GainReLU, GainRatio: gainRatio}
	return Scheme{Conv: k, ConvBias: Constant{}, Linear: k, LinearBias: Constant{}}
}

// Apply initializes m's parameters in place by s, drawing from seed.
//
// Each parameter's role comes from its name and rank, as in PyTorch
// state_dicts: a rank ≥ 3 "weight" is a convolution, a rank-2 one a linear
// layer, a rank-1 one a normalization layer; a "bias" belongs to the layer
// whose "weight" has the same prefix. Normalization layers are reset to
// weight 1 and bias 0, and their buffers to a fresh state (running_mean 0,
// running_var 1, num_batches_tracked 0), as in a newly built network.
// Other parameters are left unchanged.
//
// Every tensor draws from its own generator, seeded from seed and the
// parameter's name (and, for repeated names, their occurrence), so its
// values depend neither on the other parameters nor on the number of
// goroutines Apply uses: skipping the classifier leaves the rest of the
// network identical.
func (s Scheme) Apply(m nn.Module, seed uint64) {
	skip := map[*nn.Param]bool{}
	if s.SkipClassifier {
		collectClassifier(m, skip)
	}
	type job struct {
		p      *nn.Param
		init   Init
		wshape []int
		key    uint64
	}
	var jobs []job
	weights := map[string][]int{} // layer prefix -> shape of its weight
	seen := map[string]int{}
	for _, p := range m.Params() {
		key := fnv1a64(p.Name) + uint64(seen[p.Name])*0x9E3779B97F4A7C15
		seen[p.Name]++
		prefix, leaf := splitName(p.Name)
		shape := []int(p.Value.Shape())
		if leaf == "weight" {
			weights[prefix] = shape
		}
		if skip[p] {
			continue
		}
		if !p.Trainable {
			resetBuffer(p, leaf)
			continue
		}
		var in Init
		ws := shape
		switch leaf {
		case "weight":
			switch {
			case len(shape) >= 3:
				in = s.Conv
			case len(shape) == 2:
				in = s.Linear
			case len(shape) == 1:
				in = Constant{Value: 1}
			}
		case "bias":
			w, ok := weights[prefix]
			if !ok {
				continue
			}
			ws = w
			switch {
			case len(w) >= 3:
				in = s.ConvBias
			case len(w) == 2:
				in = s.LinearBias
			case len(w) == 1:
				in = Constant{}
			}
		}
		if in != nil {
			jobs = append(jobs, job{p, in, ws, key})
		}
	}
	parallel.For(len(jobs), 1, func(lo, hi int) {
		for _, j := range jobs[lo:hi] {
			rng := rand.New(rand.NewPCG(seed, j.key))
			fill(j.p, j.init, j.wshape, rng)
		}
	})
}

// fill runs in on p's elements, converting for float64 parameters.
func fill(p *nn.Param, in Init, wshape []int, rng *rand.Rand) {
	switch d := p.Value.Data().(type) {
	case []float32:
		in.Fill(d, wshape, rng)
	case []float64:
		tmp := make([]float32, len(d))
		in.Fill(tmp, wshape, rng)
		for i, v := range tmp {
			d[i] = float64(v)
		}
	}
}

func resetBuffer(p *nn.Param, leaf string) {
	var v float64
	switch leaf {
	case "running_mean", "num_batches_tracked":
		v = 0
	case "running_var":
		v = 1
	default:
		return
	}
	switch d := p.Value.Data().(type) {
	case []float32:
		for i := range d {
			d[i] = float32(v)
		}
	case []float64:
		for i := range d {
			d[i] = v
		}
	case []int64:
		for i := range d {
			d[i] = int64(v)
		}
	}
}

// collectClassifier marks the classifier parameters of m and of the
// modules an nn.Modules holds.
func collectClassifier(m nn.Module, out map[*nn.Param]bool) {
	if c, ok := m.(Classifier); ok {
		for _, p := range c.ClassifierParams() {
			out[p] = true
		}
	}
	if ms, ok := m.(nn.Modules); ok {
		for _, sub := range ms {
			if sub != nil {
				collectClassifier(sub, out)
			}
		}
	}
}

// splitName splits "layer1.0.bn1.weight" into "layer1.0.bn1" and "weight".
func splitName(name string) (prefix, leaf string) {
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		return name[:i], name[i+1:]
	}
	return "", name
}

func fnv1a64(s string) uint64 {
	h := uint64(0xcbf29ce484222325)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 0x100000001b3
	}
	return h
}
