package backbone

import (
	"fmt"
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
}

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
// efficientnet_b0 ... efficientnet_b7.
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

// New builds the architecture called name (torchvision's function name,
// see Names). An unknown name is an error that lists the known ones.
func New(name string, cfg Config) (Backbone, error) {
	if d, ok := strings.CutPrefix(name, "resnet"); ok {
		if depth, err := strconv.Atoi(d); err == nil && slices.Contains(resnetDepths, depth) {
			return NewResNet(depth, cfg), nil
		}
	}
	if v, ok := strings.CutPrefix(name, "efficientnet_b"); ok {
		if variant, err := strconv.Atoi(v); err == nil && variant >= 0 && variant < len(efficientNetVariants) && v == strconv.Itoa(variant) {
			return NewEfficientNet(variant, cfg), nil
		}
	}
	return nil, fmt.Errorf("backbone: unknown architecture %q (known: %s)", name, strings.Join(Names(), ", "))
}

// Title is the architecture's name as the thesis prints it: "ResNet-18",
// "EfficientNet-B0". It returns name unchanged if it is not one of Names.
func Title(name string) string {
	if d, ok := strings.CutPrefix(name, "resnet"); ok {
		return "ResNet-" + d
	}
	if v, ok := strings.CutPrefix(name, "efficientnet_b"); ok {
		return "EfficientNet-B" + v
	}
	return name
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
