package backbone

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/disiam/disiam/nn"
)

// tableParams are the parameter counts of thesis Table 4.1 (1000 classes).
var tableParams = []struct {
	name   string
	params int
}{
	{"efficientnet_b0", 5_288_548},
	{"efficientnet_b1", 7_794_184},
	{"efficientnet_b2", 9_109_994},
	{"efficientnet_b3", 12_233_232},
	{"efficientnet_b4", 19_341_616},
	{"efficientnet_b5", 30_389_784},
	{"efficientnet_b6", 43_040_704},
	{"efficientnet_b7", 66_347_960},
	{"resnet18", 11_689_512},
	{"resnet34", 21_797_672},
	{"resnet50", 25_557_032},
	{"resnet101", 44_549_160},
	{"resnet152", 60_192_808},
}

func TestParamCounts(t *testing.T) {
	for _, tc := range tableParams {
		t.Run(tc.name, func(t *testing.T) {
			b, err := New(tc.name, Config{NoInit: true})
			if err != nil {
				t.Fatal(err)
			}
			if got := nn.CountParams(b); got != tc.params {
				t.Errorf("%d parameters, thesis Table 4.1 says %d", got, tc.params)
			}
		})
	}
}

// torchEntry is one line of testdata/state_dict/NAME.txt.
type torchEntry struct {
	name, dtype string
	mean, std   float64
	shape       []int
}

type torchListing struct {
	params          int
	batchNorm       string // "eps,momentum"
	dropout         []float64
	stochasticDepth []float64
	entries         []torchEntry
}

// readListing parses a listing written by testdata/gen_state_dicts.py.
func readListing(t testing.TB, name string) torchListing {
	t.Helper()
	f, err := os.Open("testdata/state_dict/" + name + ".txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var l torchListing
	floats := func(fs []string) []float64 {
		var out []float64
		for _, s := range fs {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, v)
		}
		return out
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) == 0 || strings.HasPrefix(fs[0], "#") {
			continue
		}
		switch fs[0] {
		case "params":
			l.params, _ = strconv.Atoi(fs[1])
		case "batchnorm":
			l.batchNorm = strings.Join(fs[1:], " ")
		case "dropout":
			l.dropout = floats(fs[1:])
		case "stochastic_depth":
			l.stochasticDepth = floats(fs[1:])
		default:
			e := torchEntry{name: fs[0], dtype: fs[1]}
			e.mean, _ = strconv.ParseFloat(fs[2], 64)
			e.std, _ = strconv.ParseFloat(fs[3], 64)
			for _, s := range fs[4:] {
				d, _ := strconv.Atoi(s)
				e.shape = append(e.shape, d)
			}
			l.entries = append(l.entries, e)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return l
}

func dtypeName(dt tensor.Dtype) string {
	switch dt {
	case tensor.Float32:
		return "float32"
	case tensor.Int64:
		return "int64"
	}
	return dt.String()
}

// TestStateDictMatchesTorchvision compares names, order, shapes and dtypes
// of every parameter and buffer with torchvision's state_dict, and the
// BatchNorm, dropout and stochastic-depth settings with torchvision's
// modules.
func TestStateDictMatchesTorchvision(t *testing.T) {
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			want := readListing(t, name)
			b, err := New(name, Config{NoInit: true})
			if err != nil {
				t.Fatal(err)
			}
			ps := b.Params()
			if len(ps) != len(want.entries) {
				t.Errorf("%d tensors, torchvision has %d", len(ps), len(want.entries))
			}
			for i := range min(len(ps), len(want.entries)) {
				p, w := ps[i], want.entries[i]
				shape := []int(p.Shape())
				if strings.HasSuffix(p.Name, "num_batches_tracked") && len(w.shape) == 0 {
					shape = nil // [1] here, [] in PyTorch
				}
				if p.Name != w.name || fmt.Sprint(shape) != fmt.Sprint(w.shape) || dtypeName(p.Value.Dtype()) != w.dtype {
					t.Fatalf("tensor %d: %s %v %s, torchvision %s %v %s", i, p.Name, shape, dtypeName(p.Value.Dtype()), w.name, w.shape, w.dtype)
				}
			}
			if got := nn.CountParams(b); got != want.params {
				t.Errorf("%d parameters, torchvision %d", got, want.params)
			}
			var bns []*nn.BatchNorm
			switch b := b.(type) {
			case *ResNet:
				bns = b.BatchNorms()
				if len(want.dropout)+len(want.stochasticDepth) != 0 {
					t.Errorf("torchvision has dropout %v, stochastic depth %v", want.dropout, want.stochasticDepth)
				}
			case *EfficientNet:
				bns = b.BatchNorms()
				if len(want.dropout) != 1 || b.Dropout.P != want.dropout[0] {
					t.Errorf("dropout %v, torchvision %v", b.Dropout.P, want.dropout)
				}
				blocks := b.Blocks()
				if len(blocks) != len(want.stochasticDepth) {
					t.Fatalf("%d blocks, torchvision %d", len(blocks), len(want.stochasticDepth))
				}
				for i, blk := range blocks {
					if blk.StochasticDepth.P != want.stochasticDepth[i] {
						t.Errorf("block %d: stochastic depth %v, torchvision %v", i, blk.StochasticDepth.P, want.stochasticDepth[i])
					}
				}
			}
			nBN := 0
			for _, e := range want.entries {
				if strings.HasSuffix(e.name, "running_mean") {
					nBN++
				}
			}
			if len(bns) != nBN {
				t.Errorf("BatchNorms() returns %d layers, the state_dict has %d", len(bns), nBN)
			}
			for _, bn := range bns {
				if got := fmt.Sprintf("%g,%g", bn.Config.Eps, bn.Config.Momentum); got != want.batchNorm {
					t.Fatalf("%s: BatchNorm eps,momentum %s, torchvision %s", bn.RunningMean.Name, got, want.batchNorm)
				}
			}
		})
	}
}

// TestInitMatchesTorchvision compares the mean and standard deviation of
// every initialized tensor with those of torchvision's own initialization
// (recorded by gen_state_dicts.py). Both are samples of the same
// distribution: for n values, each sample std has a relative standard
// error of at most sqrt(1/(2n)) (normal) or sqrt(0.2/n) (uniform), so 6/sqrt(n)
// bounds their difference; means differ by at most 6*std*sqrt(2/n).
func TestInitMatchesTorchvision(t *testing.T) {
	for _, name := range []string{"resnet18", "resnet50", "efficientnet_b0", "efficientnet_b5"} {
		t.Run(name, func(t *testing.T) {
			if testing.Short() && name != "resnet18" && name != "efficientnet_b0" {
				t.Skip("-short")
			}
			want := readListing(t, name)
			b, err := New(name, Config{Seed: 11})
			if err != nil {
				t.Fatal(err)
			}
			checked := 0
			for i, p := range b.Params() {
				w := want.entries[i]
				if p.Value.Dtype() != tensor.Float32 {
					continue
				}
				var sum, sq float64
				d := p.Data()
				for _, v := range d {
					sum += float64(v)
				}
				n := float64(len(d))
				mean := sum / n
				for _, v := range d {
					sq += (float64(v) - mean) * (float64(v) - mean)
				}
				std := math.Sqrt(sq / n)
				if w.std == 0 { // constants: BatchNorm, zero biases, running statistics
					if std != 0 || math.Abs(mean-w.mean) > 1e-6 {
						t.Errorf("%s: mean %g std %g, torchvision the constant %g", p.Name, mean, std, w.mean)
					}
					continue
				}
				if n < 64 {
					continue // too few values for a statistical comparison
				}
				if math.Abs(std-w.std) > 6/math.Sqrt(n)*w.std || math.Abs(mean-w.mean) > 6*w.std*math.Sqrt(2/n) {
					t.Errorf("%s (%d values): mean %.4g std %.4g, torchvision mean %.4g std %.4g", p.Name, len(d), mean, std, w.mean, w.std)
				}
				checked++
			}
			if checked < 20 {
				t.Errorf("only %d tensors compared", checked)
			}
		})
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"resnet18", true},
		{"efficientnet_b7", true},
		{"resnet19", false},
		{"efficientnet_b8", false},
		{"efficientnet_b01", false},
		{"resnet", false},
		{"ResNet18", false},
		{"", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := New(tc.name, Config{NoInit: true, Classes: 10})
			if tc.ok != (err == nil) {
				t.Fatalf("err = %v", err)
			}
			if err != nil {
				if !strings.Contains(err.Error(), "resnet18") || !strings.HasPrefix(err.Error(), "backbone: ") {
					t.Errorf("error %q should list the known names", err)
				}
				return
			}
			if b.Name() != tc.name {
				t.Errorf("Name() = %q", b.Name())
			}
		})
	}
	if got := Title("efficientnet_b3") + " " + Title("resnet152"); got != "EfficientNet-B3 ResNet-152" {
		t.Errorf("Title: %q", got)
	}
}

func TestMakeDivisible(t *testing.T) {
	// Values torchvision's _make_divisible(v, 8) returns.
	tests := []struct {
		v    float64
		want int
	}{
		{32 * 1.1, 32}, {16 * 1.1, 16}, {40 * 1.1, 48}, {320 * 1.1, 352},
		{24 * 1.2, 32}, {112 * 1.4, 160}, {3, 8}, {192 * 1.8, 344}, {40 * 1.8, 72},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.v), func(t *testing.T) {
			if got := makeDivisible(tc.v); got != tc.want {
				t.Errorf("makeDivisible(%v) = %d, want %d", tc.v, got, tc.want)
			}
		})
	}
}
