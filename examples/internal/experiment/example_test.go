package experiment_test

import (
	"os"

	"github.com/disiam/disiam/examples/internal/experiment"
)

// Results of a batch-size ablation over two seeds arranged as the
// thesis' setting × method table, the best two of each row in bold.
func ExampleGrid_Matrix() {
	var results []experiment.Result
	for i, seed := range []uint64{7, 41} {
		for _, batch := range []string{"batch 256", "batch 512"} {
			for _, m := range []string{"simsiam", "simclr", "disiam"} {
				max := map[string]float64{"simsiam": 0.40, "simclr": 0.65, "disiam": 0.70}[m] + 0.02*float64(i)
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
	// | Batch size | SimSiam | SimCLR | DiSiam |
	// | --- | --- | --- | --- |
	// | batch 256 | 41.00 ± 1.41 | **66.00 ± 1.41** | **71.00 ± 1.41** |
	// | batch 512 | 41.00 ± 1.41 | **66.00 ± 1.41** | **71.00 ± 1.41** |
}
