package backbone

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Config configures a backbone. The zero value builds the network as
// torchvision does: 1000 classes, initialized by torchvision's scheme for
// the family, seed 0.
type Config struct {
	// Classes is the classifier's output size; 0 means 1000 (ImageNet,
	// torchvision's default and the parameter counts of thesis Table 4.1).
	Classes int
	// Seed seeds the weight initialization and the dropout and
	// stochastic-depth masks.
	Seed uint64
	// NoInit skips the random initialization: convolution and linear
	// parameters stay zero (BatchNorm weight 1, bias 0), for building a
	// network only to load weights into it or to count its parameters.
	NoInit bool
	// Width is a ResNet's channel count of the stem and the first stage;
	// the stages have Width, 2·Width, 4·Width and 8·Width base channels
	// (times 4 at the output of a Bottleneck). 0 means torchvision's 64.
	// Narrow ResNets (Width 16: about 1/16 of the parameters and
	// operations) train in minutes on a CPU. Only for ResNets.
	Width int
	// WidthMult multiplies an EfficientNet's channel widths on top of the
	// variant's own multiplier (1.0 for B0, 2.0 for B7): every width c of
	// B0's table becomes _make_divisible(c·variant·WidthMult, 8), as
	// torchvision's width_mult does; the depths stay the variant's. 0 means
	// 1. Only for EfficientNets.
	WidthMult float64
	// CIFARStem replaces a ResNet's ImageNet stem (7x7 stride-2
	// convolution and 3x3 stride-2 max-pool) by the CIFAR stem of He et
	// al.'s small-image ResNets as lightly's and solo-learn's CIFAR-10
	// benchmarks build it: conv1 a 3x3 stride-1 convolution with padding
	// 1, no max-pool. A 32x32 image then reaches layer4 at 4x4 instead of
	// 1x1. The parameter names stay torchvision's (conv1.weight is then
	// [Width, 3, 3, 3]). The thesis keeps the ImageNet stem, the default.
	// Only for ResNets.
	CIFARStem bool
}

// DefaultWidth is torchvision's ResNet width (Config.Width 0).
const DefaultWidth = 64

func (c Config) classes() int {
	if c.Classes == 0 {
		return 1000
	}
	if c.Classes < 0 {
		panic(fmt.Sprintf("backbone: Config.Classes %d < 0", c.Classes))
	}
	return c.Classes
}

// Names lists the architectures New builds, in the order of thesis
// Table 4.1's families: resnet18, resnet34, resnet50, resnet101, resnet152,
// efficientnet_b0 ... efficientnet_b7. New also accepts each with a width
// suffix (see New).
func Names() []string {
	var out []string
	for _, d := range resnetDepths {
		out = append(out, fmt.Sprintf("resnet%d", d))
	}
	for v := range efficientNetVariants {
		out = append(out, fmt.Sprintf("efficientnet_b%d", v))
	}
	return out
}

// New builds the architecture called name: torchvision's function name
// (see Names), optionally with suffixes, the form Backbone.Name returns
// for non-default configurations:
//
//	resnet18-w16          ResNet-18 with Config.Width 16 (stages of 16, 32, 64, 128 channels)
//	resnet18-cifar        ResNet-18 with Config.CIFARStem (3x3 stride-1 conv1, no max-pool)
//	resnet18-cifar-w16    both, in this order
//	efficientnet_b0-x0.5  EfficientNet-B0 with Config.WidthMult 0.5
//
// A suffix and a different non-zero width in cfg contradict each other and
// are an error, as is a field of the other family, and an unknown name
// (the error lists the known ones). Config.CIFARStem with a name without
// -cifar builds the CIFAR stem too (as Config.Width does without -wN).
func New(name string, cfg Config) (Backbone, error) {
	a, err := parseName(name)
	if err != nil {
		return nil, err
	}
	if a.resnet {
		switch {
		case cfg.WidthMult != 0:
			return nil, fmt.Errorf("backbone: %s: Config.WidthMult is for EfficientNets; a ResNet takes Config.Width", name)
		case cfg.Width < 0:
			return nil, fmt.Errorf("backbone: %s: Config.Width %d < 0", name, cfg.Width)
		case a.width != 0 && cfg.Width != 0 && cfg.Width != a.width:
			return nil, fmt.Errorf("backbone: %s: the name says width %d, Config.Width %d", name, a.width, cfg.Width)
		}
		if a.width != 0 {
			cfg.Width = a.width
		}
		cfg.CIFARStem = cfg.CIFARStem || a.cifar
		return NewResNet(a.n, cfg), nil
	}
	switch {
	case cfg.CIFARStem:
		return nil, fmt.Errorf("backbone: %s: Config.CIFARStem is for ResNets", name)
	case cfg.Width != 0:
		return nil, fmt.Errorf("backbone: %s: Config.Width is for ResNets; an EfficientNet takes Config.WidthMult", name)
	case cfg.WidthMult < 0 || math.IsNaN(cfg.WidthMult) || math.IsInf(cfg.WidthMult, 0):
		return nil, fmt.Errorf("backbone: %s: Config.WidthMult %v", name, cfg.WidthMult)
	case a.mult != 0 && cfg.WidthMult != 0 && cfg.WidthMult != a.mult:
		return nil, fmt.Errorf("backbone: %s: the name says width multiplier %v, Config.WidthMult %v", name, a.mult, cfg.WidthMult)
	}
	if a.mult != 0 {
		cfg.WidthMult = a.mult
	}
	return NewEfficientNet(a.n, cfg), nil
}

// arch is a parsed architecture name.
type arch struct {
	resnet bool
	cifar  bool    // ResNet -cifar suffix
	n      int     // ResNet depth or EfficientNet variant
	width  int     // ResNet -wN suffix (0: none)
	mult   float64 // EfficientNet -xM suffix (0: none)
}

// parseName parses "resnet18", "resnet18-w16", "resnet18-cifar",
// "resnet18-cifar-w16", "efficientnet_b0", "efficientnet_b0-x0.5". Numbers
// must be written canonically and -cifar comes before -wN, so a name has
// one spelling and Name() round-trips through New.
func parseName(name string) (arch, error) {
	base, suffix, hasSuffix := strings.Cut(name, "-")
	canonical := func(s, prefix string) (int, bool) {
		d, ok := strings.CutPrefix(s, prefix)
		n, err := strconv.Atoi(d)
		return n, ok && err == nil && d == strconv.Itoa(n)
	}
	var a arch
	if depth, ok := canonical(base, "resnet"); ok && slices.Contains(resnetDepths, depth) {
		a = arch{resnet: true, n: depth}
		if rest, ok := strings.CutPrefix(suffix, "cifar"); hasSuffix && ok && (rest == "" || rest[0] == '-') {
			a.cifar = true
			suffix, hasSuffix = strings.CutPrefix(rest, "-")
		}
		if hasSuffix {
			w, ok := canonical(suffix, "w")
			if !ok || w <= 0 {
				return arch{}, fmt.Errorf("backbone: %s: bad suffix %q, want -cifar (the CIFAR stem), -wN with N > 0 channels, or both in this order (e.g. resnet18-w16, resnet18-cifar-w16)", name, suffix)
			}
			a.width = w
		}
		return a, nil
	}
	if v, ok := canonical(base, "efficientnet_b"); ok && v >= 0 && v < len(efficientNetVariants) {
		a = arch{n: v}
		if hasSuffix {
			x, ok := strings.CutPrefix(suffix, "x")
			m, err := strconv.ParseFloat(x, 64)
			if !ok || err != nil || !(m > 0) || math.IsInf(m, 0) || x != formatMult(m) {
				return arch{}, fmt.Errorf("backbone: %s: bad width suffix %q, want -xM with a multiplier M > 0 (e.g. efficientnet_b0-x0.5)", name, suffix)
			}
			a.mult = m
		}
		return a, nil
	}
	return arch{}, fmt.Errorf("backbone: unknown architecture %q (known: %s; ResNets take a stem suffix -cifar and a width suffix -wN, EfficientNets -xM: resnet18-w16, resnet18-cifar-w16, efficientnet_b0-x0.5)",
		name, strings.Join(Names(), ", "))
}

// formatMult is the text of a width multiplier in a name: the shortest
// decimal that parses back to it ("0.5", "1.25").
func formatMult(m float64) string { return strconv.FormatFloat(m, 'f', -1, 64) }

// Title is the architecture's name as the thesis prints it: "ResNet-18",
// "EfficientNet-B0", with a non-default stem or width in parentheses
// ("ResNet-18 (width 16)", "ResNet-18 (CIFAR stem, width 16)",
// "EfficientNet-B0 (width ×0.5)"). It returns name unchanged if New does
// not accept it.
func Title(name string) string {
	a, err := parseName(name)
	switch {
	case err != nil:
		return name
	case a.resnet:
		var notes []string
		if a.cifar {
			notes = append(notes, "CIFAR stem")
		}
		if a.width != 0 {
			notes = append(notes, fmt.Sprintf("width %d", a.width))
		}
		if len(notes) == 0 {
			return fmt.Sprintf("ResNet-%d", a.n)
		}
		return fmt.Sprintf("ResNet-%d (%s)", a.n, strings.Join(notes, ", "))
	case a.mult != 0:
		return fmt.Sprintf("EfficientNet-B%d (width ×%s)", a.n, formatMult(a.mult))
	}
	return fmt.Sprintf("EfficientNet-B%d", a.n)
}

// seedFor derives the seed of one random layer from the network's seed and
// the layer's name.
func seedFor(seed uint64, name string) uint64 {
	h := uint64(0xcbf29ce484222325)
	for i := 0; i < len(name); i++ {
		h ^= uint64(name[i])
		h *= 0x100000001b3
	}
	return h ^ (seed * 0x9E3779B97F4A7C15)
}
