package report_test

import (
	"fmt"
	"os"

	"github.com/disiam/disiam/report"
)

// Max kNN top-1 over three seeds as a thesis table row, the best two bold.
func ExampleTable() {
	methods := []string{"SimSiam", "SimCLR", "DiSiam"}
	runs := [][]float64{{0.36, 0.47, 0.42}, {0.71, 0.72, 0.71}, {0.74, 0.745, 0.743}}
	means := make([]float64, len(runs))
	for i, r := range runs {
		means[i] = report.Mean(r)
	}
	bold := report.Best(means, 2)
	t := report.Table{Header: []string{"Method", "Max kNN Top-1 (%)"}}
	for i, m := range methods {
		t.Add(m, report.Bold(report.MeanStd(runs[i]), bold[i]))
	}
	t.Write(os.Stdout)
	fmt.Printf("95%% CI of DiSiam: ± %.2f\n", 100*report.CI95(runs[2]))
	// Output:
	// | Method | Max kNN Top-1 (%) |
	// | --- | --- |
	// | SimSiam | 41.67 ± 5.51 |
	// | SimCLR | **71.33 ± 0.58** |
	// | DiSiam | **74.27 ± 0.25** |
	// 95% CI of DiSiam: ± 0.63
}
