package weightinit

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gorgonia.org/tensor"

	"github.com/disiam/disiam/internal/parallel"
	"github.com/disiam/disiam/nn"
)

func TestFans(t *testing.T) {
	tests := []struct {
		name    string
		shape   []int
		in, out int
	}{
		{"linear", []int{10, 512}, 512, 10},
		{"stem 7x7", []int{64, 3, 7, 7}, 147, 3136},
		{"depthwise 3x3", []int{32, 1, 3, 3}, 9, 288},
		{"1x1", []int{256, 64, 1, 1}, 64, 256},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, out := Fans(tc.shape)
			if in != tc.in || out != tc.out {
				t.Errorf("Fans(%v) = %d, %d; want %d, %d", tc.shape, in, out, tc.in, tc.out)
			}
		})
	}
	defer func() {
		if recover() == nil {
			t.Error("Fans of a rank-1 shape did not panic")
		}
	}()
	Fans([]int{3})
}

// TestDistributions checks mean, standard deviation and shape of each
// initializer's distribution on ~300k draws. The sample std of n normal
// draws has relative standard error 1/sqrt(2n) ≈ 0.0013 here, so the 1%
// tolerance is over 7 standard errors; the mean must be within 6 standard
// errors of its target.
func TestDistributions(t *testing.T) {
	shape := []int{256, 128, 3, 3} // fan_in 1152, fan_out 2304
	fanIn, fanOut := 1152.0, 2304.0
	tests := []struct {
		name    string
		init    Init
		mean    float64
		std     float64
		uniform bool // else normal
	}{
		{"kaiming normal fan_in", KaimingNormal{Mode: FanIn}, 0, math.Sqrt2 / math.Sqrt(fanIn), false},
		{"kaiming normal fan_out gain ratio 1.5", KaimingNormal{Mode: FanOut, Gain: GainReLU, GainRatio: 1.5}, 0, 2.1213203 / math.Sqrt(fanOut), false},
		{"kaiming normal gain 1 ratio 0.5", KaimingNormal{Mode: FanIn, Gain: 1, GainRatio: 0.5}, 0, 0.5 / math.Sqrt(fanIn), false},
		{"kaiming uniform fan_out ratio 2", KaimingUniform{Mode: FanOut, GainRatio: 2}, 0, 2 * math.Sqrt2 / math.Sqrt(fanOut), true},
		{"kaiming uniform leaky sqrt5 (nn.Linear default)", KaimingUniform{Mode: FanIn, Gain: GainLeakyReLU(math.Sqrt(5))}, 0, 1 / math.Sqrt(3*fanIn), true},
		{"xavier normal", XavierNormal{}, 0, math.Sqrt(2 / (fanIn + fanOut)), false},
		{"xavier uniform gain 2", XavierUniform{Gain: 2}, 0, 2 * math.Sqrt(2/(fanIn+fanOut)), true},
		{"fan uniform fan_in", FanUniform{Mode: FanIn}, 0, 1 / math.Sqrt(3*fanIn), true},
		{"fan uniform fan_out", FanUniform{Mode: FanOut}, 0, 1 / math.Sqrt(3*fanOut), true},
		{"normal", Normal{Mean: 0.5, Std: 2}, 0.5, 2, false},
		{"uniform", Uniform{Low: 1, High: 3}, 2, 2 / math.Sqrt(12), true},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := make([]float32, 256*128*9)
			tc.init.Fill(data, shape, rand.New(rand.NewPCG(uint64(i), 99)))
			n := float64(len(data))
			var sum, sq float64
			for _, v := range data {
				sum += float64(v)
			}
			mean := sum / n
			var tails int
			maxDev := 0.0
			for _, v := range data {
				d := float64(v) - mean
				sq += d * d
				if math.Abs(d) > 2*tc.std {
					tails++
				}
				maxDev = max(maxDev, math.Abs(float64(v)-tc.mean))
			}
			std := math.Sqrt(sq / (n - 1))
			if math.Abs(std-tc.std) > 0.01*tc.std {
				t.Errorf("std %.6g, want %.6g", std, tc.std)
			}
			if math.Abs(mean-tc.mean) > 6*tc.std/math.Sqrt(n) {
				t.Errorf("mean %.6g, want %.6g", mean, tc.mean)
			}
			frac := float64(tails) / n
			if tc.uniform {
				// U(-b, b) with b = sqrt(3) std never leaves [-b, b].
				if b := math.Sqrt(3) * tc.std; maxDev > b*(1+1e-6) || tails != 0 {
					t.Errorf("max deviation %.6g beyond the bound %.6g (%d beyond 2 std)", maxDev, b, tails)
				}
			} else if math.Abs(frac-0.0455) > 0.003 {
				// P(|Z| > 2) = 0.0455 for a normal; a uniform has none.
				t.Errorf("%.4f of the draws beyond 2 std, want 0.0455 for a normal", frac)
			}
		})
	}
}

func TestConstant(t *testing.T) {
	d := []float32{1, 2, 3}
	Constant{Value: -0.5}.Fill(d, nil, nil)
	if !slices.Equal(d, []float32{-0.5, -0.5, -0.5}) {
		t.Errorf("got %v", d)
	}
	Constant{}.Fill(d, nil, nil)
	if !slices.Equal(d, []float32{0, 0, 0}) {
		t.Errorf("got %v", d)
	}
}

// net is a small conv-BN-linear network with a classifier.
type net struct {
	conv *nn.Conv2d
	bn   *nn.BatchNorm
	fc   *nn.Linear
	head *nn.Linear
}

func newNet() *net {
	return &net{
		conv: nn.NewConv2d("features.0", nn.Conv2dConfig{In: 16, Out: 64, Kernel: 3, Bias: true}),
		bn:   nn.NewBatchNorm2d("features.1", 64),
		fc:   nn.NewLinear("proj", 64, 300, true),
		head: nn.NewLinear("head", 300, 10, true),
	}
}

func (n *net) Params() []*nn.Param {
	return nn.Modules{n.conv, n.bn, n.fc, n.head}.Params()
}
func (n *net) SetTraining(bool)              {}
func (n *net) ClassifierParams() []*nn.Param { return n.head.Params() }
func std(d []float32) float64                { return math.Sqrt(moment(d, 2)) }
func moment(d []float32, k float64) (s float64) {
	for _, v := range d {
		s += math.Pow(float64(v), k)
	}
	return s / float64(len(d))
}

func TestSchemeRoles(t *testing.T) {
	n := newNet()
	// Dirty every tensor, including the BatchNorm buffers.
	for _, p := range n.Params() {
		switch d := p.Value.Data().(type) {
		case []float32:
			for i := range d {
				d[i] = 7
			}
		case []int64:
			d[0] = 5
		}
	}
	s := Scheme{
		Conv:           KaimingNormal{Mode: FanOut, GainRatio: 2},
		ConvBias:       Constant{Value: 0.25},
		Linear:         XavierUniform{},
		LinearBias:     Constant{Value: -1},
		SkipClassifier: true,
	}
	s.Apply(n, 1)
	if got, want := std(n.conv.Weight.Data()), 2*math.Sqrt2/math.Sqrt(64*9); math.Abs(got-want) > 0.05*want {
		t.Errorf("conv weight std %.4g, want %.4g", got, want)
	}
	check := func(name string, d []float32, want float32) {
		t.Helper()
		for _, v := range d {
			if v != want {
				t.Errorf("%s = %v, want all %v", name, d[:min(4, len(d))], want)
				return
			}
		}
	}
	check("conv bias", n.conv.Bias.Data(), 0.25)
	check("bn weight", n.bn.Weight.Data(), 1)
	check("bn bias", n.bn.Bias.Data(), 0)
	check("running_mean", n.bn.RunningMean.Data(), 0)
	check("running_var", n.bn.RunningVar.Data(), 1)
	if v := n.bn.NumBatchesTracked.Value.Data().([]int64)[0]; v != 0 {
		t.Errorf("num_batches_tracked %d, want 0", v)
	}
	if got, want := std(n.fc.Weight.Data()), math.Sqrt(2.0/364); math.Abs(got-want) > 0.05*want {
		t.Errorf("linear weight std %.4g, want %.4g", got, want)
	}
	check("linear bias", n.fc.Bias.Data(), -1)
	check("skipped classifier weight", n.head.Weight.Data(), 7)
	check("skipped classifier bias", n.head.Bias.Data(), 7)

	s.SkipClassifier = false
	s.Apply(n, 1)
	check("classifier bias", n.head.Bias.Data(), -1)
}

// Values depend only on the seed and the parameter's name: not on the
// worker count, the other parameters, or whether the classifier is skipped.
func TestDeterminism(t *testing.T) {
	snapshot := func(n *net) [][]float32 {
		var out [][]float32
		for _, p := range n.Params() {
			if d, ok := p.Value.Data().([]float32); ok {
				out = append(out, slices.Clone(d))
			}
		}
		return out
	}
	equal := func(a, b [][]float32, upto int) bool {
		for i := range upto {
			if !slices.Equal(a[i], b[i]) {
				return false
			}
		}
		return true
	}
	defer func(w int) { parallel.Workers = w }(parallel.Workers)

	parallel.Workers = 1
	a := newNet()
	ResNet().Apply(a, 42)
	parallel.Workers = 4
	b := newNet()
	ResNet().Apply(b, 42)
	sa, sb := snapshot(a), snapshot(b)
	if !equal(sa, sb, len(sa)) {
		t.Error("results depend on the worker count")
	}
	c := newNet()
	s := ResNet()
	s.SkipClassifier = true
	s.Apply(c, 42)
	if sc := snapshot(c); !equal(sa, sc, len(sa)-2) {
		t.Error("skipping the classifier changed other parameters")
	}
	d := newNet()
	ResNet().Apply(d, 43)
	if sd := snapshot(d); slices.Equal(sa[0], sd[0]) {
		t.Error("seeds 42 and 43 give the same conv weight")
	}
	// Two parameters with the same name (two copies of a network in one
	// module) draw different values.
	e, f := newNet(), newNet()
	ResNet().Apply(nn.Modules{e, f}, 42)
	if slices.Equal(e.conv.Weight.Data(), f.conv.Weight.Data()) {
		t.Error("equally named parameters got equal values")
	}
	if !slices.Equal(e.conv.Weight.Data(), a.conv.Weight.Data()) {
		t.Error("the first occurrence of a name should draw what it draws alone")
	}
}

func TestFloat64Params(t *testing.T) {
	p := &nn.Param{Name: "w.weight", Trainable: true, Value: tensor.New(tensor.WithShape(100, 100), tensor.Of(tensor.Float64))}
	Scheme{Linear: Constant{Value: 0.5}}.Apply(nn.Modules{params{p}}, 0)
	if d := p.Value.Data().([]float64); d[0] != 0.5 || d[9999] != 0.5 {
		t.Errorf("float64 parameter not filled: %v", d[:2])
	}
}

type params []*nn.Param

func (ps params) Params() []*nn.Param { return ps }
func (ps params) SetTraining(bool)    {}
