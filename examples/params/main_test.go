package main

import (
	"strings"
	"testing"
)

// Table 4.1 of the thesis, verbatim.
const thesisTable = `Backbone          Number Parameters
EfficientNet-B0           5,288,548
EfficientNet-B1           7,794,184
EfficientNet-B2           9,109,994
EfficientNet-B3          12,233,232
EfficientNet-B4          19,341,616
EfficientNet-B5          30,389,784
EfficientNet-B6          43,040,704
EfficientNet-B7          66,347,960
ResNet-18                11,689,512
ResNet-34                21,797,672
ResNet-50                25,557,032
ResNet-101               44,549,160
ResNet-152               60,192,808
`

func TestTable(t *testing.T) {
	var b strings.Builder
	if err := table(&b); err != nil {
		t.Fatal(err)
	}
	if b.String() != thesisTable {
		t.Errorf("got\n%s\nwant\n%s", b.String(), thesisTable)
	}
}

func TestCommas(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 5288548: "5,288,548", 123456789: "123,456,789"} {
		if got := commas(n); got != want {
			t.Errorf("commas(%d) = %q, want %q", n, got, want)
		}
	}
}
