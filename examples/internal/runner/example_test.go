package runner_test

import (
	"fmt"

	"github.com/disiam/disiam/examples/internal/runner"
)

// A chain of SimCLR for 2 epochs, then DiSiam for the rest of 5.
func ExampleParseStages() {
	plan, err := runner.ParseStages("", "simclr:2,disiam", 5)
	if err != nil {
		panic(err)
	}
	for _, p := range plan {
		fmt.Println(p.Method, p.Epochs)
	}
	fmt.Println(runner.ChainName(plan))
	// Output:
	// simclr 2
	// disiam 3
	// simclr:2,disiam:3
}
