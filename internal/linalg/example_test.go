package linalg_test

import (
	"fmt"

	"github.com/disiam/disiam/internal/linalg"
)

// C = A·Bᵀ for row-major A (2×3) and B (2×3): the layout of a linear
// layer's forward pass, y = x·Wᵀ.
func ExampleGemm() {
	a := []float32{1, 2, 3, 4, 5, 6}
	b := []float32{1, 0, -1, 0.5, 0.5, 0.5}
	c := make([]float32, 4)
	linalg.Gemm(false, true, 2, 2, 3, 1, a, 3, b, 3, 0, c, 2)
	fmt.Println(c)
	// Output:
	// [-2 3 -2 7.5]
}
