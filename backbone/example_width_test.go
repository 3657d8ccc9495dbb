package backbone_test

import (
	"fmt"
	"log"

	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/nn"
)

// Narrow networks for CPU runs: a width suffix on the name (or
// Config.Width, Config.WidthMult) scales every layer's channels. The
// default widths keep torchvision's names and parameter counts.
func ExampleNew_width() {
	for _, name := range []string{"resnet18", "resnet18-w16", "efficientnet_b0", "efficientnet_b0-x0.5"} {
		b, err := backbone.New(name, backbone.Config{Classes: 10, NoInit: true})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%-20s %-28s %9d parameters, %4d features\n", b.Name(), backbone.Title(b.Name()), nn.CountParams(b), b.FeatureDim())
	}
	b, _ := backbone.New("resnet18", backbone.Config{Width: 32, NoInit: true})
	fmt.Println(b.Name())
	// Output:
	// resnet18             ResNet-18                     11181642 parameters,  512 features
	// resnet18-w16         ResNet-18 (width 16)            703386 parameters,  128 features
	// efficientnet_b0      EfficientNet-B0                4020358 parameters, 1280 features
	// efficientnet_b0-x0.5 EfficientNet-B0 (width ×0.5)   1077932 parameters,  640 features
	// resnet18-w32
}
