package nntest_test

import (
	"fmt"

	"github.com/disiam/disiam/nn/nntest"
)

// The golden rule's values for a tensor name (see the package
// documentation): the same numbers PyTorch's reference scripts generate (checked against
// an independent Python implementation of the rule), so Go tests and
// Python fixtures fill their inputs and weights identically.
func ExampleRuleValues() {
	fmt.Printf("%.6f\n", nntest.RuleValues("conv1.weight", 3))
	w := nntest.RuleTensorValues("bn1.running_var", []int{2}, 1)
	fmt.Printf("%.6f\n", w)
	x := nntest.Rand32("x", 2, 3)
	fmt.Println(x.Shape())
	// Output:
	// [0.090150 -0.850371 0.920038]
	// [1.321154 1.242403]
	// (2, 3)
}
