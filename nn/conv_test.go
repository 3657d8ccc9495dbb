package nn_test

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"runtime"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/internal/parallel"
	"github.com/disiam/disiam/nn"
	"github.com/disiam/disiam/nn/nntest"
)

// convCase is one convolution configuration: x [N, C, H, W], w [O, C/g, KH, KW].
type convCase struct {
	name                     string
	x, w                     [4]int
	stride, pad, dil, groups int
}

// The cases cover every code path of the kernels: batched im2col + GEMM,
// per-image GEMM (output planes of 256 and more), pointwise, several
// chunks, inactive taps, the 1x1-plane matrix product, depthwise.
var convCases = []convCase{
	{"3x3", [4]int{2, 3, 6, 6}, [4]int{4, 3, 3, 3}, 1, 1, 1, 1},
	{"3x3 stride 2", [4]int{2, 4, 7, 7}, [4]int{5, 4, 3, 3}, 2, 1, 1, 1},
	{"3x3 stride 3 no padding", [4]int{1, 2, 10, 8}, [4]int{3, 2, 3, 3}, 3, 0, 1, 1},
	{"dilation 2", [4]int{2, 3, 9, 8}, [4]int{4, 3, 3, 3}, 1, 2, 2, 1},
	{"dilation 2 stride 2", [4]int{1, 2, 11, 9}, [4]int{3, 2, 3, 3}, 2, 1, 2, 1},
	{"groups 2", [4]int{2, 4, 6, 5}, [4]int{6, 2, 3, 3}, 1, 1, 1, 2},
	{"groups 2 stride 2", [4]int{3, 6, 8, 8}, [4]int{4, 3, 3, 3}, 2, 1, 1, 2},
	{"depthwise 3x3", [4]int{2, 5, 7, 6}, [4]int{5, 1, 3, 3}, 1, 1, 1, 5},
	{"depthwise 5x5 stride 2", [4]int{2, 4, 9, 8}, [4]int{4, 1, 5, 5}, 2, 2, 1, 4},
	{"depthwise dilation 2", [4]int{1, 3, 8, 8}, [4]int{3, 1, 3, 3}, 1, 2, 2, 3},
	{"depthwise multiplier 2", [4]int{2, 3, 5, 5}, [4]int{6, 1, 3, 3}, 1, 1, 1, 3},
	{"depthwise 1x1 plane", [4]int{3, 4, 1, 1}, [4]int{4, 1, 5, 5}, 1, 2, 1, 4},
	{"1x1", [4]int{2, 6, 5, 4}, [4]int{3, 6, 1, 1}, 1, 0, 1, 1},
	{"1x1 stride 2", [4]int{2, 6, 5, 5}, [4]int{4, 6, 1, 1}, 2, 0, 1, 1},
	{"1x1 per image", [4]int{2, 5, 16, 17}, [4]int{3, 5, 1, 1}, 1, 0, 1, 1},
	{"1x1 groups 2 per image", [4]int{2, 4, 16, 16}, [4]int{6, 2, 1, 1}, 1, 0, 1, 2},
	{"7x7 stride 2 padding 3", [4]int{2, 3, 14, 12}, [4]int{4, 3, 7, 7}, 2, 3, 1, 1},
	{"3x3 per image", [4]int{2, 3, 20, 18}, [4]int{4, 3, 3, 3}, 1, 1, 1, 1},
	{"3x3 groups 2 per image", [4]int{2, 4, 17, 16}, [4]int{4, 2, 3, 3}, 1, 1, 1, 2},
	{"non-square kernel", [4]int{2, 3, 7, 9}, [4]int{4, 3, 2, 5}, 1, 1, 1, 1},
	{"non-square per image", [4]int{1, 2, 12, 30}, [4]int{3, 2, 3, 1}, 1, 1, 1, 1},
	{"2x2 plane stride 2 (4 active taps)", [4]int{3, 6, 2, 2}, [4]int{5, 6, 3, 3}, 2, 1, 1, 1},
	{"1x1 plane 3x3 (centre tap)", [4]int{4, 6, 1, 1}, [4]int{5, 6, 3, 3}, 1, 1, 1, 1},
	{"1x1 plane groups 2", [4]int{3, 4, 1, 1}, [4]int{6, 2, 3, 3}, 1, 1, 1, 2},
	{"1x1 plane 1x1 kernel", [4]int{3, 5, 1, 1}, [4]int{4, 5, 1, 1}, 1, 0, 1, 1},
	{"padding only (no active tap)", [4]int{2, 3, 1, 1}, [4]int{2, 3, 1, 1}, 2, 1, 1, 1},
	{"padding larger than kernel", [4]int{1, 2, 3, 3}, [4]int{2, 2, 2, 2}, 1, 3, 1, 1},
	{"wide plane (row copies)", [4]int{2, 2, 5, 40}, [4]int{3, 2, 3, 3}, 1, 1, 1, 1},
	{"wide plane stride 2 dilation 2", [4]int{1, 2, 9, 75}, [4]int{2, 2, 3, 3}, 2, 2, 2, 1},
	{"batch 16 (shift path)", [4]int{16, 8, 4, 5}, [4]int{6, 8, 3, 3}, 1, 1, 1, 1},
	{"batch 16 stride 2 groups 2", [4]int{16, 4, 6, 6}, [4]int{6, 2, 3, 3}, 2, 1, 1, 2},
	{"several chunks", [4]int{5, 256, 14, 14}, [4]int{8, 256, 3, 3}, 1, 1, 1, 1}, // big: see convRace
}

// skipBigUnderRace skips the case with the default-sized chunks under the
// race detector.
func skipBigUnderRace(t *testing.T, tc convCase) {
	if convRace && tc.x[0]*tc.x[1]*tc.x[2]*tc.x[3] > 100000 {
		t.Skip("too slow under the race detector")
	}
}

// convRef returns y, dx and dw of the direct definition, in float64, for
// the given x, w and output gradient dy.
func convRef(tc convCase, x, w, dy []float64) (y, dx, dw []float64, oh, ow int) {
	n, c, h, wd := tc.x[0], tc.x[1], tc.x[2], tc.x[3]
	o, kh, kw := tc.w[0], tc.w[2], tc.w[3]
	s, p, d, g := tc.stride, tc.pad, tc.dil, tc.groups
	cg, og := c/g, o/g
	oh = (h+2*p-d*(kh-1)-1)/s + 1
	ow = (wd+2*p-d*(kw-1)-1)/s + 1
	y = make([]float64, n*o*oh*ow)
	dx = make([]float64, len(x))
	dw = make([]float64, len(w))
	for b := range n {
		for oc := range o {
			grp := oc / og
			for i := range oh {
				for j := range ow {
					yi := ((b*o+oc)*oh+i)*ow + j
					var sum float64
					for ci := range cg {
						ch := grp*cg + ci
						for u := range kh {
							for v := range kw {
								ih, iw := i*s-p+u*d, j*s-p+v*d
								if ih < 0 || ih >= h || iw < 0 || iw >= wd {
									continue
								}
								xi := ((b*c+ch)*h+ih)*wd + iw
								wi := ((oc*cg+ci)*kh+u)*kw + v
								sum += x[xi] * w[wi]
								if dy != nil {
									dx[xi] += w[wi] * dy[yi]
									dw[wi] += x[xi] * dy[yi]
								}
							}
						}
					}
					y[yi] = sum
				}
			}
		}
	}
	return y, dx, dw, oh, ow
}

func (tc convCase) outShape() []int {
	oh := (tc.x[2]+2*tc.pad-tc.dil*(tc.w[2]-1)-1)/tc.stride + 1
	ow := (tc.x[3]+2*tc.pad-tc.dil*(tc.w[3]-1)-1)/tc.stride + 1
	return []int{tc.x[0], tc.w[0], oh, ow}
}

// convRun evaluates Conv2dOp, Conv2dBackwardInput and Conv2dBackwardFilter in
// one compiled graph of the given dtype, twice (the second run must reuse
// everything), and returns the three results in float64.
func convRun(t *testing.T, tc convCase, dt tensor.Dtype, x, w, dy []float64) (y, dx, dw []float64) {
	t.Helper()
	g := G.NewGraph()
	xn, xt := nn.Input(g, "x", dt, tc.x[:]...)
	wn, wt := nn.Input(g, "w", dt, tc.w[:]...)
	dyn, dyt := nn.Input(g, "dy", dt, tc.outShape()...)
	convFill(xt, x)
	convFill(wt, w)
	convFill(dyt, dy)
	var yn, dxn, dwn *G.Node
	if err := nn.Build(func() {
		yn = nn.Conv2dOp(xn, wn, tc.stride, tc.pad, tc.dil, tc.groups)
		dxn = nn.Conv2dBackwardInput(wn, dyn, tensor.Shape(tc.x[:]), tc.stride, tc.pad, tc.dil, tc.groups)
		dwn = nn.Conv2dBackwardFilter(xn, dyn, tensor.Shape(tc.w[:]), tc.stride, tc.pad, tc.dil, tc.groups)
	}); err != nil {
		t.Fatal(err)
	}
	prog, err := nn.Compile(g, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	for range 2 {
		if err := prog.Run(); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := yn.Shape(), tensor.Shape(tc.outShape()); !got.Eq(want) {
		t.Fatalf("output shape %v, want %v", got, want)
	}
	return convValues(t, yn), convValues(t, dxn), convValues(t, dwn)
}

func convFill(t *tensor.Dense, v []float64) {
	switch d := t.Data().(type) {
	case []float32:
		for i := range d {
			d[i] = float32(v[i])
		}
	case []float64:
		copy(d, v)
	}
}

func convValues(t *testing.T, n *G.Node) []float64 {
	t.Helper()
	d, ok := n.Value().(*tensor.Dense)
	if !ok {
		t.Fatalf("%v holds %T", n, n.Value())
	}
	switch v := d.Data().(type) {
	case []float32:
		out := make([]float64, len(v))
		for i, x := range v {
			out[i] = float64(x)
		}
		return out
	case []float64:
		return append([]float64(nil), v...)
	}
	t.Fatalf("%v has dtype %v", n, d.Dtype())
	return nil
}

// closeTo reports the first element where |got - want| > tol*(1 + max|want|).
func convClose(got, want []float64, tol float64) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d values, want %d", len(got), len(want))
	}
	var scale float64
	for _, v := range want {
		scale = max(scale, math.Abs(v))
	}
	for i := range got {
		if d := math.Abs(got[i] - want[i]); !(d <= tol*(1+scale)) {
			return fmt.Errorf("element %d = %.9g, want %.9g (|diff| %.3g, scale %.3g)", i, got[i], want[i], d, scale)
		}
	}
	return nil
}

func convInputs(tc convCase) (x, w, dy []float64) {
	x = nntest.RuleValues("conv.x", convProd(tc.x[:]))
	w = nntest.RuleValues("conv.w", convProd(tc.w[:]))
	dy = nntest.RuleValues("conv.dy", convProd(tc.outShape()))
	return x, w, dy
}

// Every case runs under every strategy selection, so each code path sees
// strides, padding, dilation, groups and odd shapes.
func TestConv2dOpMatchesDirectDefinition(t *testing.T) {
	for _, mode := range nn.ConvPathModes {
		t.Run(mode, func(t *testing.T) {
			defer nn.ConvPaths(mode)()
			for _, tc := range convCases {
				t.Run(tc.name, func(t *testing.T) {
					skipBigUnderRace(t, tc)
					x, w, dy := convInputs(tc)
					wantY, wantDx, wantDw, _, _ := convRef(tc, x, w, dy)
					for _, dt := range []struct {
						dt  tensor.Dtype
						tol float64
					}{{tensor.Float64, 1e-12}, {tensor.Float32, 1e-5}} {
						y, dx, dw := convRun(t, tc, dt.dt, x, w, dy)
						for _, r := range []struct {
							what      string
							got, want []float64
						}{{"y", y, wantY}, {"dx", dx, wantDx}, {"dw", dw, wantDw}} {
							if err := convClose(r.got, r.want, dt.tol); err != nil {
								t.Errorf("%v %s: %v", dt.dt, r.what, err)
							}
						}
					}
				})
			}
		})
	}
}

func TestConv2dOpDeterministicAcrossWorkers(t *testing.T) {
	defer func(w int) { parallel.Workers = w }(parallel.Workers)
	for _, mode := range nn.ConvPathModes {
		t.Run(mode, func(t *testing.T) {
			defer nn.ConvPaths(mode)()
			testConvDeterministic(t)
		})
	}
}

func testConvDeterministic(t *testing.T) {
	for _, tc := range convCases {
		t.Run(tc.name, func(t *testing.T) {
			skipBigUnderRace(t, tc)
			x, w, dy := convInputs(tc)
			var first [3][]float64
			for i, workers := range []int{1, 3} {
				parallel.Workers = workers
				y, dx, dw := convRun(t, tc, tensor.Float32, x, w, dy)
				got := [3][]float64{y, dx, dw}
				if i == 0 {
					first = got
					continue
				}
				for k, what := range []string{"y", "dx", "dw"} {
					for j := range got[k] {
						if got[k][j] != first[k][j] {
							t.Fatalf("%s[%d]: %v with 3 workers, %v with 1", what, j, got[k][j], first[k][j])
						}
					}
				}
			}
		})
	}
}

func TestConv2dOpGradCheck(t *testing.T) {
	for _, tc := range []convCase{
		{"stride 2 groups 2", [4]int{2, 4, 5, 5}, [4]int{4, 2, 3, 3}, 2, 1, 1, 2},
		{"dilation 2 non-square", [4]int{1, 2, 6, 7}, [4]int{3, 2, 3, 2}, 1, 2, 2, 1},
		{"depthwise 5x5 stride 2", [4]int{2, 3, 6, 6}, [4]int{3, 1, 5, 5}, 2, 2, 1, 3},
		{"1x1 stride 2", [4]int{2, 3, 4, 4}, [4]int{2, 3, 1, 1}, 2, 0, 1, 1},
		{"1x1 plane", [4]int{3, 4, 1, 1}, [4]int{2, 4, 3, 3}, 1, 1, 1, 1},
		{"per image", [4]int{1, 2, 16, 16}, [4]int{2, 2, 3, 3}, 1, 1, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := nntest.Rand64("conv.x", tc.x[:]...)
			w := nntest.Rand64("conv.w", tc.w[:]...)
			nntest.GradCheck(t, []*tensor.Dense{x, w}, nil, func(xs []*G.Node) *G.Node {
				return nn.Conv2dOp(xs[0], xs[1], tc.stride, tc.pad, tc.dil, tc.groups)
			}, 1e-6)
		})
	}
}

// The backward kernels are themselves differentiable (bilinear), so
// second derivatives work.
func TestConv2dOpBackwardGradCheck(t *testing.T) {
	for _, tc := range []convCase{
		{"groups 2 stride 2", [4]int{2, 4, 5, 5}, [4]int{4, 2, 3, 3}, 2, 1, 1, 2},
		{"depthwise", [4]int{2, 3, 5, 4}, [4]int{3, 1, 3, 3}, 1, 1, 1, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := nntest.Rand64("conv.x", tc.x[:]...)
			w := nntest.Rand64("conv.w", tc.w[:]...)
			dy := nntest.Rand64("conv.dy", tc.outShape()...)
			t.Run("input", func(t *testing.T) {
				nntest.GradCheck(t, []*tensor.Dense{w, dy}, nil, func(xs []*G.Node) *G.Node {
					return nn.Conv2dBackwardInput(xs[0], xs[1], tensor.Shape(tc.x[:]), tc.stride, tc.pad, tc.dil, tc.groups)
				}, 1e-6)
			})
			t.Run("filter", func(t *testing.T) {
				nntest.GradCheck(t, []*tensor.Dense{x, dy}, nil, func(xs []*G.Node) *G.Node {
					return nn.Conv2dBackwardFilter(xs[0], xs[1], tensor.Shape(tc.w[:]), tc.stride, tc.pad, tc.dil, tc.groups)
				}, 1e-6)
			})
		})
	}
}

// convGolden is testdata/conv_golden.json, written by testdata/gen_conv.py.
type convGolden struct {
	Torch string `json:"torch"`
	Cases []struct {
		Name     string    `json:"name"`
		X        []int     `json:"x_shape"`
		W        []int     `json:"w_shape"`
		Stride   int       `json:"stride"`
		Padding  int       `json:"padding"`
		Dilation int       `json:"dilation"`
		Groups   int       `json:"groups"`
		Y        []float64 `json:"y"`
		Dx       []float64 `json:"dx"`
		Dw       []float64 `json:"dw"`
	} `json:"cases"`
}

func TestConv2dOpMatchesPyTorch(t *testing.T) {
	raw, err := os.ReadFile("testdata/conv_golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var gold convGolden
	if err := json.Unmarshal(raw, &gold); err != nil {
		t.Fatalf("testdata/conv_golden.json: %v", err)
	}
	if len(gold.Cases) == 0 {
		t.Fatal("no cases in testdata/conv_golden.json")
	}
	for _, gc := range gold.Cases {
		t.Run(gc.Name, func(t *testing.T) {
			tc := convCase{name: gc.Name, stride: gc.Stride, pad: gc.Padding, dil: gc.Dilation, groups: gc.Groups}
			copy(tc.x[:], gc.X)
			copy(tc.w[:], gc.W)
			// Inputs by the golden rule under the names gen_conv.py uses.
			x := nntest.RuleValues("conv."+gc.Name+".x", convProd(gc.X))
			w := nntest.RuleValues("conv."+gc.Name+".w", convProd(gc.W))
			dy := nntest.RuleValues("conv."+gc.Name+".dy", convProd(tc.outShape()))
			for _, dt := range []struct {
				dt  tensor.Dtype
				tol float64
			}{{tensor.Float64, 1e-12}, {tensor.Float32, 1e-5}} {
				y, dx, dw := convRun(t, tc, dt.dt, x, w, dy)
				for _, r := range []struct {
					what      string
					got, want []float64
				}{{"y", y, gc.Y}, {"dx", dx, gc.Dx}, {"dw", dw, gc.Dw}} {
					if err := convClose(r.got, r.want, dt.tol); err != nil {
						t.Errorf("%v %s: %v", dt.dt, r.what, err)
					}
				}
			}
		})
	}
}

func convProd(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// Once warm, a program of the three kernels allocates no buffers: scratch
// comes from the pool and outputs are the ops' own. What remains are the
// goroutines' small closures, far below the size of any tensor here.
func TestConv2dOpSteadyStateAllocations(t *testing.T) {
	if convRace {
		// The race detector's bookkeeping of the worker goroutines'
		// synchronization allocates too (18 KiB a run measured); the
		// bound is checked by the normal test run.
		t.Skip("allocation counts under the race detector include its own")
	}
	for _, mode := range nn.ConvPathModes {
		t.Run(mode, func(t *testing.T) {
			defer nn.ConvPaths(mode)()
			defer nn.ConvDefaultChunks()() // a chunk per image would count closures, not buffers
			g := G.NewGraph()
			x, _ := nn.Input(g, "x", tensor.Float32, 16, 32, 8, 8)
			w, _ := nn.Input(g, "w", tensor.Float32, 32, 32, 3, 3)
			dy, _ := nn.Input(g, "dy", tensor.Float32, 16, 32, 8, 8)
			nn.Conv2dOp(x, w, 1, 1, 1, 1)
			nn.Conv2dBackwardInput(w, dy, tensor.Shape{16, 32, 8, 8}, 1, 1, 1, 1)
			nn.Conv2dBackwardFilter(x, dy, tensor.Shape{32, 32, 3, 3}, 1, 1, 1, 1)
			prog, err := nn.Compile(g, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer prog.Close()
			if err := prog.Run(); err != nil {
				t.Fatal(err)
			}
			const runs = 20
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for range runs {
				if err := prog.Run(); err != nil {
					t.Fatal(err)
				}
			}
			runtime.ReadMemStats(&after)
			perRun := (after.TotalAlloc - before.TotalAlloc) / runs
			// The smallest tensor (w) is 36 KiB, a column matrix 1.2 MiB.
			if perRun > 16<<10 {
				t.Fatalf("%d bytes allocated per run, want < 16 KiB", perRun)
			}
		})
	}
}

func TestConv2dOpBackwardRejectsBadShapes(t *testing.T) {
	g := G.NewGraph()
	x, _ := nn.Input(g, "x", tensor.Float32, 2, 3, 6, 6)
	w, _ := nn.Input(g, "w", tensor.Float32, 4, 3, 3, 3)
	dy, _ := nn.Input(g, "dy", tensor.Float32, 2, 4, 5, 6) // want [2 4 6 6]
	for _, tc := range []struct {
		name  string
		build func()
	}{
		{"input gradient", func() { nn.Conv2dBackwardInput(w, dy, tensor.Shape{2, 3, 6, 6}, 1, 1, 1, 1) }},
		{"filter gradient", func() { nn.Conv2dBackwardFilter(x, dy, tensor.Shape{4, 3, 3, 3}, 1, 1, 1, 1) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := nn.Build(tc.build)
			if err == nil || !strings.Contains(err.Error(), "output gradient has shape") {
				t.Fatalf("error %v, want one about the output gradient's shape", err)
			}
		})
	}
}

func TestConv2dOpRejectsBadShapes(t *testing.T) {
	for _, tc := range []struct {
		name                     string
		x, w                     []int
		stride, pad, dil, groups int
		want                     string
	}{
		{"channels", []int{1, 3, 5, 5}, []int{4, 2, 3, 3}, 1, 1, 1, 1, "channels"},
		{"groups do not divide outputs", []int{1, 4, 5, 5}, []int{3, 2, 3, 3}, 1, 1, 1, 2, "divisible"},
		{"kernel larger than input", []int{1, 2, 3, 3}, []int{2, 2, 5, 5}, 1, 0, 1, 1, "larger"},
		{"dilated kernel larger than input", []int{1, 2, 5, 5}, []int{2, 2, 3, 3}, 1, 0, 3, 1, "larger"},
		{"rank", []int{2, 5, 5}, []int{2, 2, 3, 3}, 1, 1, 1, 1, "want"},
		{"zero stride", []int{1, 2, 5, 5}, []int{2, 2, 3, 3}, 0, 1, 1, 1, "invalid"},
		{"negative padding", []int{1, 2, 5, 5}, []int{2, 2, 3, 3}, 1, -1, 1, 1, "invalid"},
		{"zero groups", []int{1, 2, 5, 5}, []int{2, 2, 3, 3}, 1, 1, 1, 0, "invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := G.NewGraph()
			x, _ := nn.Input(g, "x", tensor.Float32, tc.x...)
			w, _ := nn.Input(g, "w", tensor.Float32, tc.w...)
			err := nn.Build(func() { nn.Conv2dOp(x, w, tc.stride, tc.pad, tc.dil, tc.groups) })
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), "nn: ") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want an nn: error mentioning %q", err, tc.want)
			}
		})
	}
}
