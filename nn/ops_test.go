package nn_test

import (
	"math"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/nn"
	"github.com/disiam/disiam/nn/nntest"
)

func sig(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

func TestOpsForward(t *testing.T) {
	ln3 := math.Log(3)
	f32 := func(v float64) float64 { return float64(float32(v)) }
	for _, tc := range []struct {
		name   string
		build  func(xs []*G.Node) *G.Node
		inputs []*tensor.Dense
		shape  []int
		want   []float64
		tol    float64
	}{
		{"ReLU", func(xs []*G.Node) *G.Node { return nn.ReLU(xs[0]) },
			[]*tensor.Dense{t32([]int{5}, -2, -0.5, 0, 0.5, 3)},
			[]int{5}, []float64{0, 0, 0, 0.5, 3}, 0},
		{"ReLU/rank4", func(xs []*G.Node) *G.Node { return nn.ReLU(xs[0]) },
			[]*tensor.Dense{t32([]int{1, 2, 1, 2}, 1, -1, -7, 7)},
			[]int{1, 2, 1, 2}, []float64{1, 0, 0, 7}, 0},
		{"Sigmoid", func(xs []*G.Node) *G.Node { return nn.Sigmoid(xs[0]) },
			[]*tensor.Dense{t32([]int{2, 2}, 0, ln3, -ln3, 40)},
			[]int{2, 2}, []float64{0.5, 0.75, 0.25, 1}, 1e-7},
		{"SiLU", func(xs []*G.Node) *G.Node { return nn.SiLU(xs[0]) },
			[]*tensor.Dense{t32([]int{4}, 0, ln3, -ln3, -40)},
			[]int{4}, []float64{0, 0.75 * f32(ln3), -0.25 * f32(ln3), -40 * sig(-40)}, 1e-7},
		{"Add", func(xs []*G.Node) *G.Node { return nn.Add(xs[0], xs[1]) },
			[]*tensor.Dense{t32([]int{1, 3}, 1, 2, 3), t32([]int{1, 3}, 0.5, -2, 10)},
			[]int{1, 3}, []float64{1.5, 0, 13}, 0},
		// x Wᵀ + b with x = [[1 2 3] [4 5 6]], W = [[1 0 -1] [.5 .5 .5]].
		{"Linear", func(xs []*G.Node) *G.Node { return nn.LinearOp(xs[0], xs[1], xs[2]) },
			[]*tensor.Dense{t64([]int{2, 3}, 1, 2, 3, 4, 5, 6), t64([]int{2, 3}, 1, 0, -1, 0.5, 0.5, 0.5), t64([]int{2}, 0.1, -0.2)},
			[]int{2, 2}, []float64{-1.9, 2.8, -1.9, 7.3}, 1e-15},
		{"Linear/nobias", func(xs []*G.Node) *G.Node { return nn.LinearOp(xs[0], xs[1], nil) },
			[]*tensor.Dense{t32([]int{1, 2}, 3, -1), t32([]int{3, 2}, 1, 1, 2, 0, 0, -4)},
			[]int{1, 3}, []float64{2, 6, 4}, 0},
		// Float64 sums: 1e8 + 1 - 1e8 is 1 where a float32 sum gives 0.
		{"LinearAcc64/cancellation", func(xs []*G.Node) *G.Node { return nn.LinearAcc64Op(xs[0], xs[1], xs[2]) },
			[]*tensor.Dense{t32([]int{2, 3}, 1e8, 1, -1e8, 1, 2, 3), t32([]int{1, 3}, 1, 1, 1), t32([]int{1}, 0.5)},
			[]int{2, 1}, []float64{1.5, 6.5}, 0},
		{"AddChannelBias", func(xs []*G.Node) *G.Node { return nn.AddChannelBias(xs[0], xs[1]) },
			[]*tensor.Dense{t32([]int{2, 2, 1, 2}, 1, 2, 3, 4, 5, 6, 7, 8), t32([]int{2}, 10, 20)},
			[]int{2, 2, 1, 2}, []float64{11, 12, 23, 24, 15, 16, 27, 28}, 0},
		{"AddChannelBias/rank2", func(xs []*G.Node) *G.Node { return nn.AddChannelBias(xs[0], xs[1]) },
			[]*tensor.Dense{t32([]int{2, 3}, 1, 2, 3, 4, 5, 6), t32([]int{3}, 1, 0, -1)},
			[]int{2, 3}, []float64{2, 2, 2, 5, 5, 5}, 0},
		// x = 4x4 plane, k3 s2 p1: windows rows {0,1}/{1,2,3} x cols {0,1}/{1,2,3}.
		{"MaxPool2d/k3s2p1", func(xs []*G.Node) *G.Node { return nn.MaxPool2d(xs[0], 3, 2, 1) },
			[]*tensor.Dense{t32([]int{1, 1, 4, 4},
				9, 1, 2, 0,
				3, 4, 8, 5,
				0, 7, 1, 2,
				6, 1, 3, 4)},
			[]int{1, 1, 2, 2}, []float64{9, 8, 7, 8}, 0},
		// All values below any finite padding value would be: padding is -inf.
		{"MaxPool2d/negative", func(xs []*G.Node) *G.Node { return nn.MaxPool2d(xs[0], 3, 2, 1) },
			[]*tensor.Dense{t32([]int{1, 1, 2, 2}, -5, -6, -7, -8)},
			[]int{1, 1, 1, 1}, []float64{-5}, 0},
		{"MaxPool2d/k2s2p0", func(xs []*G.Node) *G.Node { return nn.MaxPool2d(xs[0], 2, 2, 0) },
			[]*tensor.Dense{t32([]int{1, 2, 2, 3},
				1, 2, 3,
				4, 0, 6,
				-1, -2, -3,
				-4, -5, -6)},
			[]int{1, 2, 1, 1}, []float64{4, -1}, 0},
		{"GlobalAvgPool2d", func(xs []*G.Node) *G.Node { return nn.GlobalAvgPool2d(xs[0]) },
			[]*tensor.Dense{t32([]int{1, 2, 2, 2}, 1, 2, 3, 4, -1, -1, -1, 5)},
			[]int{1, 2}, []float64{2.5, 0.5}, 0},
		{"ScaleChannels", func(xs []*G.Node) *G.Node { return nn.ScaleChannels(xs[0], xs[1]) },
			[]*tensor.Dense{t32([]int{2, 2, 1, 2}, 1, 2, 3, 4, 5, 6, 7, 8), t32([]int{2, 2}, 2, -1, 0, 0.5)},
			[]int{2, 2, 1, 2}, []float64{2, 4, -3, -4, 0, 0, 3.5, 4}, 0},
		{"Flatten", func(xs []*G.Node) *G.Node { return nn.Flatten(xs[0]) },
			[]*tensor.Dense{t32([]int{2, 3, 1, 1}, 1, 2, 3, 4, 5, 6)},
			[]int{2, 3}, []float64{1, 2, 3, 4, 5, 6}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, got := forward(t, tc.build, tc.inputs...)
			shapeIs(t, out.Shape(), tc.shape...)
			near(t, "out", got, tc.want, tc.tol)
		})
	}
}

func graphNodes(inputs []*tensor.Dense) []*G.Node {
	_, xs, _ := graph(inputs)
	return xs
}

func TestMaxPool2dNaN(t *testing.T) {
	// A NaN is the maximum of every window containing it; the gradient of
	// such a window goes to its last NaN, like PyTorch's scan.
	// Checked against torch.nn.functional.max_pool2d(x, 3, 1, 1).
	x := t32([]int{1, 1, 1, 4}, 1, math.NaN(), math.NaN(), 2)
	out, grads := backward(t, func(xs []*G.Node) *G.Node { return nn.MaxPool2d(xs[0], 3, 1, 1) }, []float64{1, 10, 100, 1000}, x)
	for i, v := range out {
		if !math.IsNaN(v) {
			t.Fatalf("out[%d] = %v, want NaN", i, v)
		}
	}
	near(t, "dx", grads[0], []float64{0, 1, 1110, 0}, 0)
}

func TestOpsBackward(t *testing.T) {
	// Hand-computed gradients of loss = sum(out * r).
	for _, tc := range []struct {
		name   string
		build  func(xs []*G.Node) *G.Node
		inputs []*tensor.Dense
		r      []float64
		want   [][]float64
	}{
		// Ties go to the first element of each window in scan order; the
		// two overlapping windows of a constant plane add up.
		{"MaxPool2d/ties", func(xs []*G.Node) *G.Node { return nn.MaxPool2d(xs[0], 2, 1, 0) },
			[]*tensor.Dense{t32([]int{1, 1, 3, 3}, 0, 0, 0, 0, 0, 0, 0, 0, 0)},
			[]float64{1, 2, 3, 4},
			[][]float64{{1, 2, 0, 3, 4, 0, 0, 0, 0}}},
		{"MaxPool2d/overlap", func(xs []*G.Node) *G.Node { return nn.MaxPool2d(xs[0], 3, 2, 1) },
			[]*tensor.Dense{t32([]int{1, 1, 3, 3}, 0, 1, 0, 1, 9, 1, 0, 1, 0)},
			[]float64{1, 2, 3, 4},
			[][]float64{{0, 0, 0, 0, 10, 0, 0, 0, 0}}},
		// As torch.relu: zero gradient at 0, a NaN passes dy through.
		{"ReLU", func(xs []*G.Node) *G.Node { return nn.ReLU(xs[0]) },
			[]*tensor.Dense{t32([]int{4}, -1, 0, 2, math.NaN())},
			[]float64{5, 6, 7, 8},
			[][]float64{{0, 0, 7, 8}}},
		{"Add", func(xs []*G.Node) *G.Node { return nn.Add(xs[0], xs[1]) },
			[]*tensor.Dense{t32([]int{2}, 1, 2), t32([]int{2}, 3, 4)},
			[]float64{5, 6},
			[][]float64{{5, 6}, {5, 6}}},
		{"Linear", func(xs []*G.Node) *G.Node { return nn.LinearOp(xs[0], xs[1], xs[2]) },
			[]*tensor.Dense{t32([]int{2, 2}, 1, 2, 3, 4), t32([]int{1, 2}, 1, -1), t32([]int{1}, 0)},
			[]float64{2, 3},
			// dx = r W, dW = rᵀ x = [2*1+3*3, 2*2+3*4], db = 2+3
			[][]float64{{2, -2, 3, -3}, {11, 16}, {5}}},
		{"GlobalAvgPool2d", func(xs []*G.Node) *G.Node { return nn.GlobalAvgPool2d(xs[0]) },
			[]*tensor.Dense{t32([]int{1, 2, 1, 2}, 1, 2, 3, 4)},
			[]float64{4, -2},
			[][]float64{{2, 2, -1, -1}}},
		{"ScaleChannels", func(xs []*G.Node) *G.Node { return nn.ScaleChannels(xs[0], xs[1]) },
			[]*tensor.Dense{t32([]int{1, 2, 1, 2}, 1, 2, 3, 4), t32([]int{1, 2}, 2, -1)},
			[]float64{1, 1, 1, -1},
			[][]float64{{2, 2, -1, 1}, {3, -1}}},
		{"AddChannelBias", func(xs []*G.Node) *G.Node { return nn.AddChannelBias(xs[0], xs[1]) },
			[]*tensor.Dense{t32([]int{2, 2, 1, 1}, 1, 2, 3, 4), t32([]int{2}, 0, 0)},
			[]float64{1, 2, 3, 4},
			[][]float64{{1, 2, 3, 4}, {4, 6}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, grads := backward(t, tc.build, tc.r, tc.inputs...)
			for i := range tc.want {
				near(t, "grad", grads[i], tc.want[i], 0)
			}
		})
	}
}

func TestOpsGradCheck(t *testing.T) {
	r := nntest.Rand64
	for _, tc := range []struct {
		name   string
		inputs []*tensor.Dense
		build  func(xs []*G.Node) *G.Node
	}{
		{"ReLU", []*tensor.Dense{rule64("relu.x", []float64{0}, 1e-3, 3, 7)},
			func(xs []*G.Node) *G.Node { return nn.ReLU(xs[0]) }},
		{"SiLU", []*tensor.Dense{r("silu.x", 2, 3, 2, 2)},
			func(xs []*G.Node) *G.Node { return nn.SiLU(xs[0]) }},
		{"Sigmoid", []*tensor.Dense{r("sigmoid.x", 4, 5)},
			func(xs []*G.Node) *G.Node { return nn.Sigmoid(xs[0]) }},
		{"Add", []*tensor.Dense{r("add.a", 2, 3, 2, 2), r("add.b", 2, 3, 2, 2)},
			func(xs []*G.Node) *G.Node { return nn.Add(xs[0], xs[1]) }},
		{"Add/same", []*tensor.Dense{rule64("add.c", []float64{0}, 1e-3, 3, 4)},
			func(xs []*G.Node) *G.Node { return nn.Add(xs[0], nn.ReLU(xs[0])) }},
		{"Add/twice", []*tensor.Dense{r("add.d", 2, 5)},
			func(xs []*G.Node) *G.Node { return nn.Add(xs[0], xs[0]) }},
		{"Linear", []*tensor.Dense{r("lin.x", 3, 4), r("lin.w", 5, 4), r("lin.b", 5)},
			func(xs []*G.Node) *G.Node { return nn.LinearOp(xs[0], xs[1], xs[2]) }},
		{"Linear/nobias", []*tensor.Dense{r("lin.x", 3, 4), r("lin.w", 2, 4)},
			func(xs []*G.Node) *G.Node { return nn.LinearOp(xs[0], xs[1], nil) }},
		{"LinearAcc64", []*tensor.Dense{r("lin.x", 3, 4), r("lin.w", 5, 4), r("lin.b", 5)},
			func(xs []*G.Node) *G.Node { return nn.LinearAcc64Op(xs[0], xs[1], xs[2]) }},
		{"AddChannelBias", []*tensor.Dense{r("acb.x", 2, 3, 2, 2), r("acb.b", 3)},
			func(xs []*G.Node) *G.Node { return nn.AddChannelBias(xs[0], xs[1]) }},
		{"AddChannelBias/rank2", []*tensor.Dense{r("acb.x", 4, 3), r("acb.b", 3)},
			func(xs []*G.Node) *G.Node { return nn.AddChannelBias(xs[0], xs[1]) }},
		{"MaxPool2d/k3s2p1", []*tensor.Dense{distinct("mp.x", 2, 2, 5, 5)},
			func(xs []*G.Node) *G.Node { return nn.MaxPool2d(xs[0], 3, 2, 1) }},
		{"MaxPool2d/k2s1p1", []*tensor.Dense{distinct("mp.x2", 1, 2, 3, 4)},
			func(xs []*G.Node) *G.Node { return nn.MaxPool2d(xs[0], 2, 1, 1) }},
		{"GlobalAvgPool2d", []*tensor.Dense{r("gap.x", 2, 3, 3, 2)},
			func(xs []*G.Node) *G.Node { return nn.GlobalAvgPool2d(xs[0]) }},
		{"ScaleChannels", []*tensor.Dense{r("sc.x", 2, 3, 2, 3), r("sc.s", 2, 3)},
			func(xs []*G.Node) *G.Node { return nn.ScaleChannels(xs[0], xs[1]) }},
		{"Flatten", []*tensor.Dense{r("fl.x", 2, 3, 2, 1)},
			func(xs []*G.Node) *G.Node { return nn.Flatten(xs[0]) }},
		// Squeeze-and-excitation as EfficientNet wires it.
		{"SqueezeExcite", []*tensor.Dense{r("se.x", 2, 4, 3, 3), r("se.w1", 2, 4), r("se.b1", 2), r("se.w2", 4, 2), r("se.b2", 4)},
			func(xs []*G.Node) *G.Node {
				s := nn.GlobalAvgPool2d(xs[0])
				s = nn.SiLU(nn.LinearOp(s, xs[1], xs[2]))
				s = nn.Sigmoid(nn.LinearOp(s, xs[3], xs[4]))
				return nn.ScaleChannels(xs[0], s)
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nntest.GradCheck(t, tc.inputs, nil, tc.build, 1e-6)
		})
	}
}

// distinct returns a tensor of the given shape holding a permutation of
// 0.01*(k - n/2), k < n: no two elements within 0.01, so a max pool's
// argmax does not move under finite-difference steps.
func distinct(name string, shape ...int) *tensor.Dense {
	t := nntest.Rand64(name, shape...)
	d := t.Data().([]float64)
	idx := make([]int, len(d))
	for i := range idx {
		idx[i] = i
	}
	// rank by the rule's values
	for i := 1; i < len(idx); i++ {
		for j := i; j > 0 && d[idx[j]] < d[idx[j-1]]; j-- {
			idx[j], idx[j-1] = idx[j-1], idx[j]
		}
	}
	for rank, i := range idx {
		d[i] = 0.01 * float64(rank-len(d)/2)
	}
	return t
}

func TestOpsBuildErrors(t *testing.T) {
	x4 := t32([]int{1, 2, 3, 3}, make([]float64, 18)...)
	x2 := t32([]int{2, 3}, make([]float64, 6)...)
	for _, tc := range []struct {
		name   string
		inputs []*tensor.Dense
		build  func(xs []*G.Node)
		msg    string
	}{
		{"Add/shapes", []*tensor.Dense{x2, t32([]int{3, 2}, make([]float64, 6)...)},
			func(xs []*G.Node) { nn.Add(xs[0], xs[1]) }, "Add"},
		{"Linear/in", []*tensor.Dense{x2, t32([]int{4, 2}, make([]float64, 8)...)},
			func(xs []*G.Node) { nn.LinearOp(xs[0], xs[1], nil) }, "in features"},
		{"Linear/bias", []*tensor.Dense{x2, t32([]int{4, 3}, make([]float64, 12)...), t32([]int{3}, 0, 0, 0)},
			func(xs []*G.Node) { nn.LinearOp(xs[0], xs[1], xs[2]) }, "bias"},
		{"Linear/rank", []*tensor.Dense{x4, x2},
			func(xs []*G.Node) { nn.LinearOp(xs[0], xs[1], nil) }, "matrices"},
		{"AddChannelBias", []*tensor.Dense{x4, t32([]int{3}, 0, 0, 0)},
			func(xs []*G.Node) { nn.AddChannelBias(xs[0], xs[1]) }, "channels"},
		{"MaxPool2d/padding", []*tensor.Dense{x4},
			func(xs []*G.Node) { nn.MaxPool2d(xs[0], 3, 2, 2) }, "padding"},
		{"MaxPool2d/small", []*tensor.Dense{x4},
			func(xs []*G.Node) { nn.MaxPool2d(xs[0], 5, 1, 0) }, "smaller"},
		{"MaxPool2d/rank", []*tensor.Dense{x2},
			func(xs []*G.Node) { nn.MaxPool2d(xs[0], 2, 1, 0) }, "[N, C, H, W]"},
		{"ScaleChannels", []*tensor.Dense{x4, x2},
			func(xs []*G.Node) { nn.ScaleChannels(xs[0], xs[1]) }, "does not match"},
		{"GlobalAvgPool2d", []*tensor.Dense{x2},
			func(xs []*G.Node) { nn.GlobalAvgPool2d(xs[0]) }, "[N, C, H, W]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := nn.Build(func() { tc.build(graphNodes(tc.inputs)) })
			if err == nil || !strings.HasPrefix(err.Error(), "nn: ") || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %v, want an nn: error mentioning %q", err, tc.msg)
			}
		})
	}
}
