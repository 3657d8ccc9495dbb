package backbone_test

import (
	"fmt"
	"log"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/nn"
)

// Build a ResNet-18 for CIFAR-10 and add its features, logits and feature
// maps to a graph.
func Example() {
	b, err := backbone.New("resnet18", backbone.Config{Classes: 10, Seed: 1})
	if err != nil {
		log.Fatal(err)
	}
	g := G.NewGraph()
	x, _ := nn.Input(g, "x", tensor.Float32, 8, 3, 32, 32) // fill x's tensor with images
	features := b.Features(x)
	logits := b.(backbone.Classifier).Classify(features)
	fmt.Println(b.Name(), nn.CountParams(b), "parameters")
	fmt.Println("features", features.Shape(), "logits", logits.Shape())
	for i, m := range b.(backbone.Pyramid).FeatureMaps(x) {
		fmt.Printf("C%d %v\n", i+3, m.Shape())
	}
	// Output:
	// resnet18 11181642 parameters
	// features (8, 512) logits (8, 10)
	// C3 (8, 128, 4, 4)
	// C4 (8, 256, 2, 2)
	// C5 (8, 512, 1, 1)
}

// Thesis Table 4.1: parameter counts with the 1000-class classifier.
func ExampleNames() {
	for _, name := range backbone.Names() {
		b, err := backbone.New(name, backbone.Config{NoInit: true})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%-16s %10d %5d\n", backbone.Title(name), nn.CountParams(b), b.FeatureDim())
	}
	// Output:
	// ResNet-18          11689512   512
	// ResNet-34          21797672   512
	// ResNet-50          25557032  2048
	// ResNet-101         44549160  2048
	// ResNet-152         60192808  2048
	// EfficientNet-B0     5288548  1280
	// EfficientNet-B1     7794184  1280
	// EfficientNet-B2     9109994  1408
	// EfficientNet-B3    12233232  1536
	// EfficientNet-B4    19341616  1792
	// EfficientNet-B5    30389784  2048
	// EfficientNet-B6    43040704  2304
	// EfficientNet-B7    66347960  2560
}
