// Command params prints thesis Table 4.1, the backbones and their number of
// parameters (with the 1000-class classifier), counted on the networks
// package backbone builds, in the thesis' order.
//
// Usage:
//
//	go run ./examples/params
package main

import (
	"fmt"
	"io"
	"log"
	"os"
	"strconv"

	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/nn"
)

// order is Table 4.1's row order.
var order = []string{
	"efficientnet_b0", "efficientnet_b1", "efficientnet_b2", "efficientnet_b3",
	"efficientnet_b4", "efficientnet_b5", "efficientnet_b6", "efficientnet_b7",
	"resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
}

func main() {
	if err := table(os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// table writes the table to w. The networks are built without random
// initialization: counting needs only their shapes.
func table(w io.Writer) error {
	if _, err := fmt.Fprintf(w, "%-16s %18s\n", "Backbone", "Number Parameters"); err != nil {
		return err
	}
	for _, name := range order {
		b, err := backbone.New(name, backbone.Config{NoInit: true})
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "%-16s %18s\n", backbone.Title(name), commas(nn.CountParams(b))); err != nil {
			return err
		}
	}
	return nil
}

// commas formats n with thousands separators, as the thesis prints it.
func commas(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
