package experiment_test

import (
	"os"

	"github.com/disiam/disiam/examples/internal/experiment"
)

// Results of a batch-size ablation over two seeds arranged as the
// thesis' setting × method table.
func ExampleGrid_Matrix() {
	var results []experiment.Result
	for i, seed := range []uint64{7, 41} {
		for _, batch := range []string{"batch 256", "batch 512"} {
			for _, m := range []string{"simsiam", "disiam"} {
				max := map[string]float64{"simsiam": 0.40, "disiam": 0.70}[m] + 0.02*float64(i)
				results = append(results, experiment.Result{
					Job: experiment.Job{Group: batch, Series: experiment.MethodTitle(m), Seed: seed},
					Max: max,
				})
			}
		}
	}
	g := experiment.NewGrid(results)
	g.Matrix(os.Stdout, "Batch size")
	// Output:
	// | Batch size | SimSiam | DiSiam |
	// | --- | --- | --- |
	// | batch 256 | **41.00 ± 1.41** | **71.00 ± 1.41** |
	// | batch 512 | **41.00 ± 1.41** | **71.00 ± 1.41** |
}
