package report

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// Table is a Markdown table: a header row and rows of cells.
type Table struct {
	Header []string
	Rows   [][]string
}

// Add appends a row.
func (t *Table) Add(cells ...string) { t.Rows = append(t.Rows, cells) }

// Write writes the table in Markdown: the header row, the "| --- |"
// separator and the rows, one line each, short rows padded with empty
// cells (cells beyond the header's are not written). It returns the first
// error of w.
func (t *Table) Write(w io.Writer) error {
	var err error
	printf := func(format string, a ...any) {
		if err == nil {
			_, err = fmt.Fprintf(w, format, a...)
		}
	}
	row := func(cells []string) {
		printf("|")
		for i := range t.Header {
			c := ""
			if i < len(cells) {
				c = cells[i]
			}
			printf(" %s |", c)
		}
		printf("\n")
	}
	row(t.Header)
	printf("|%s\n", strings.Repeat(" --- |", len(t.Header)))
	for _, r := range t.Rows {
		row(r)
	}
	return err
}

// Best returns which of values are among the k largest (NaN never is),
// the cells the thesis prints in bold ("the two best results"). When no
// more than k values are present none is marked: there is nothing to
// single out.
func Best(values []float64, k int) []bool {
	idx := make([]int, 0, len(values))
	for i, v := range values {
		if !math.IsNaN(v) {
			idx = append(idx, i)
		}
	}
	out := make([]bool, len(values))
	if len(idx) <= k {
		return out
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(values[b], values[a]) })
	for _, i := range idx[:k] {
		out[i] = true
	}
	return out
}

// Bold wraps s in Markdown bold when b is set.
func Bold(s string, b bool) string {
	if b {
		return "**" + s + "**"
	}
	return s
}
