package safetensors_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/disiam/disiam/nn"
	"github.com/disiam/disiam/safetensors"
)

// Save a layer's parameters by name and load them into a fresh layer.
func Example() {
	dir, err := os.MkdirTemp("", "safetensors-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "fc.safetensors")

	fc := nn.NewLinear("fc", 3, 2, true)
	copy(fc.Weight.Data(), []float32{1, 2, 3, 4, 5, 6})
	copy(fc.Bias.Data(), []float32{-1, 1})
	if err := safetensors.SaveModule(path, fc); err != nil {
		log.Fatal(err)
	}

	f, err := safetensors.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	for _, name := range f.Names() {
		t, _ := f.Get(name)
		fmt.Println(name, t.Dtype, t.Shape)
	}

	fresh := nn.NewLinear("fc", 3, 2, true)
	if err := f.Load(fresh, safetensors.LoadOptions{}); err != nil {
		log.Fatal(err)
	}
	fmt.Println(fresh.Weight.Data(), fresh.Bias.Data())

	wrong := nn.NewLinear("fc", 2, 2, false)
	fmt.Println(f.Load(wrong, safetensors.LoadOptions{}))
	// Output:
	// fc.weight F32 [2 3]
	// fc.bias F32 [2]
	// [1 2 3 4 5 6] [-1 1]
	// safetensors: load: 1 unexpected: fc.bias; 1 mis-shaped: fc.weight: file F32[2 3], module float32[2 2]
}

// Build a file by hand and inspect it.
func ExampleFile() {
	var f safetensors.File
	f.Metadata = map[string]string{"format": "pt"}
	if err := f.Set("x", safetensors.FromFloat64([]int{2}, []float64{0.5, 1.5})); err != nil {
		log.Fatal(err)
	}
	t, _ := f.Get("x")
	v, _ := t.Float32s()
	fmt.Println(f.Names(), t.Dtype, t.Shape, v)
	// Output: [x] F64 [2] [0.5 1.5]
}
