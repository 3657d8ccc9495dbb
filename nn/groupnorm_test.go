package nn_test

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/internal/parallel"
	"github.com/disiam/disiam/nn"
	"github.com/disiam/disiam/nn/nntest"
)

// gnUpGolden is testdata/groupnorm_upsample.json (gen_groupnorm_upsample.py).
type gnUpGolden struct {
	GroupNorm []struct {
		Name          string
		Shape         []int
		Groups        int
		Y, DX, DW, DB []float64
	}
	Upsample []struct {
		Name  string
		Shape []int
		Size  []int
		Y, DX []float64
	}
	NearestChecksums []uint64 `json:"nearest_checksums"`
	Float64Differs   int      `json:"float64_differs"`
}

func loadGnUp(t *testing.T) gnUpGolden {
	t.Helper()
	data, err := os.ReadFile("testdata/groupnorm_upsample.json")
	if err != nil {
		t.Fatal(err)
	}
	var g gnUpGolden
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

// ruleTensor is the rule's values of name as a float32 or float64 tensor,
// with v = a + b·r.
func ruleTensor(name string, f64 bool, a, b float64, shape ...int) *tensor.Dense {
	r := nntest.RuleValues(name, tensor.Shape(shape).TotalSize())
	for i := range r {
		r[i] = a + b*r[i]
	}
	if f64 {
		return t64(shape, r...)
	}
	return t32(shape, r...)
}

// TestGroupNormTorch compares GroupNorm's output and its gradients with
// torch.nn.functional.group_norm (float64 reference): float64 to 1e-12,
// float32 to 2e-6 relative.
func TestGroupNormTorch(t *testing.T) {
	gold := loadGnUp(t)
	for _, tc := range gold.GroupNorm {
		for _, f64 := range []bool{true, false} {
			tol := 1e-12
			if !f64 {
				tol = 2e-6
			}
			c := tc.Shape[1]
			x := ruleTensor(tc.Name+".x", f64, 0, 1, tc.Shape...)
			w := ruleTensor(tc.Name+".weight", f64, 1, 0.1, c)
			b := ruleTensor(tc.Name+".bias", f64, 0, 0.1, c)
			r := nntest.RuleValues(tc.Name+".g", tensor.Shape(tc.Shape).TotalSize())
			y, grads := backward(t, func(xs []*G.Node) *G.Node {
				return nn.GroupNormOp(xs[0], xs[1], xs[2], tc.Groups, 1e-5)
			}, r, x, w, b)
			near(t, tc.Name+" y", y, tc.Y, tol)
			near(t, tc.Name+" dx", grads[0], tc.DX, tol)
			near(t, tc.Name+" dw", grads[1], tc.DW, tol)
			near(t, tc.Name+" db", grads[2], tc.DB, tol)
		}
	}
}

func TestGroupNormLayer(t *testing.T) {
	gn := nn.NewGroupNorm("head.conv.1", 32, 64)
	if gn.Weight.Name != "head.conv.1.weight" || gn.Bias.Name != "head.conv.1.bias" {
		t.Fatalf("names %s, %s", gn.Weight.Name, gn.Bias.Name)
	}
	if gn.Weight.Data()[5] != 1 || gn.Bias.Data()[5] != 0 || gn.Eps != 1e-5 {
		t.Fatalf("init weight %v bias %v eps %v, want 1, 0, 1e-5", gn.Weight.Data()[5], gn.Bias.Data()[5], gn.Eps)
	}
	if n := nn.CountParams(gn); n != 128 {
		t.Fatalf("%d parameters, want 128", n)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("NewGroupNorm(32, 48) did not panic")
		}
	}()
	nn.NewGroupNorm("bad", 32, 48)
}

func TestGroupNormGrad(t *testing.T) {
	for _, tc := range []struct {
		shape  []int
		groups int
	}{{[]int{2, 6, 3, 2}, 3}, {[]int{1, 4, 5}, 2}, {[]int{3, 4, 1, 1}, 4}, {[]int{2, 3}, 1}} {
		c := tc.shape[1]
		nntest.GradCheck(t, []*tensor.Dense{
			nntest.Rand64("gngc.x", tc.shape...),
			ruleTensor("gngc.w", true, 1, 0.5, c),
			ruleTensor("gngc.b", true, 0, 0.5, c),
		}, nil, func(xs []*G.Node) *G.Node { return nn.GroupNormOp(xs[0], xs[1], xs[2], tc.groups, 1e-5) }, 1e-6)
	}
}

// TestNearestSourceIndex checks the index rule against PyTorch's float32
// CPU kernel for every input size ≤ 59 and output size ≤ 129.
func TestNearestSourceIndex(t *testing.T) {
	gold := loadGnUp(t)
	k, differs := 0, 0
	for in := 1; in <= 59; in++ {
		for out := 1; out <= 129; out++ {
			var sum, sum64 uint64
			for j := 0; j < out; j++ {
				s := nn.NearestSourceIndex(j, in, out)
				sum += uint64(s+1) * uint64(7919*j+1)
				s64 := min(int(math.Floor(float64(j)*(float64(in)/float64(out)))), in-1)
				if out == in || out == 2*in {
					s64 = s
				}
				sum64 += uint64(s64+1) * uint64(7919*j+1)
			}
			if sum != gold.NearestChecksums[k] {
				t.Fatalf("in %d, out %d: indices differ from PyTorch's", in, out)
			}
			if sum64 != sum {
				differs++
			}
			k++
		}
	}
	if differs != gold.Float64Differs || differs == 0 {
		t.Fatalf("float64 rule differs for %d pairs, PyTorch's reference says %d", differs, gold.Float64Differs)
	}
}

func TestUpsampleNearestTorch(t *testing.T) {
	gold := loadGnUp(t)
	for _, tc := range gold.Upsample {
		x := ruleTensor(tc.Name+".x", false, 0, 1, tc.Shape...)
		n := tc.Shape[0] * tc.Shape[1] * tc.Size[0] * tc.Size[1]
		r := nntest.RuleValues(tc.Name+".g", n)
		y, grads := backward(t, func(xs []*G.Node) *G.Node {
			return nn.UpsampleNearest(xs[0], tc.Size[0], tc.Size[1])
		}, r, x)
		near(t, tc.Name+" y", y, tc.Y, 0)
		near(t, tc.Name+" dx", grads[0], tc.DX, 1e-6)
	}
}

func TestNewOpsForward(t *testing.T) {
	for _, tc := range []struct {
		name   string
		build  func(xs []*G.Node) *G.Node
		inputs []*tensor.Dense
		shape  []int
		want   []float64
		tol    float64
	}{
		{"ScaleBy", func(xs []*G.Node) *G.Node { return nn.ScaleBy(xs[0], xs[1]) },
			[]*tensor.Dense{t32([]int{2, 2}, 1, -2, 3, 0.5), t32([]int{1}, -3)},
			[]int{2, 2}, []float64{-3, 6, -9, -1.5}, 0},
		{"MulConst", func(xs []*G.Node) *G.Node { return nn.MulConst(xs[0], 0.5) },
			[]*tensor.Dense{t32([]int{3}, 1, -2, 3)},
			[]int{3}, []float64{0.5, -1, 1.5}, 0},
		{"Exp", func(xs []*G.Node) *G.Node { return nn.Exp(xs[0]) },
			[]*tensor.Dense{t64([]int{3}, 0, 1, -2)},
			[]int{3}, []float64{1, math.E, math.Exp(-2)}, 1e-16},
		// Level 0 [1, 2, 1, 2]: channel 0 = (1, 2), channel 1 = (3, 4);
		// level 1 [1, 2, 1, 1]: (5, 6). Rows are positions, columns channels.
		{"FlattenLevels", func(xs []*G.Node) *G.Node { return nn.FlattenLevels(xs[0], xs[1]) },
			[]*tensor.Dense{t32([]int{1, 2, 1, 2}, 1, 2, 3, 4), t32([]int{1, 2, 1, 1}, 5, 6)},
			[]int{1, 3, 2}, []float64{1, 3, 2, 4, 5, 6}, 0},
		{"UpsampleNearest/2x", func(xs []*G.Node) *G.Node { return nn.UpsampleNearest(xs[0], 2, 4) },
			[]*tensor.Dense{t32([]int{1, 1, 1, 2}, 1, 2)},
			[]int{1, 1, 2, 4}, []float64{1, 1, 2, 2, 1, 1, 2, 2}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, got := forward(t, tc.build, tc.inputs...)
			shapeIs(t, out.Shape(), tc.shape...)
			near(t, tc.name, got, tc.want, tc.tol)
		})
	}
}

func TestNewOpsGrad(t *testing.T) {
	for _, tc := range []struct {
		name   string
		build  func(xs []*G.Node) *G.Node
		inputs []*tensor.Dense
	}{
		{"ScaleBy", func(xs []*G.Node) *G.Node { return nn.ScaleBy(xs[0], xs[1]) },
			[]*tensor.Dense{nntest.Rand64("sb.x", 2, 3, 2), t64([]int{1}, 0.7)}},
		{"MulConst", func(xs []*G.Node) *G.Node { return nn.MulConst(xs[0], -1.5) },
			[]*tensor.Dense{nntest.Rand64("mc.x", 4, 2)}},
		{"Exp", func(xs []*G.Node) *G.Node { return nn.Exp(xs[0]) },
			[]*tensor.Dense{nntest.Rand64("exp.x", 3, 4)}},
		{"FlattenLevels", func(xs []*G.Node) *G.Node { return nn.FlattenLevels(xs[0], xs[1], xs[2]) },
			[]*tensor.Dense{nntest.Rand64("fl.a", 2, 3, 2, 3), nntest.Rand64("fl.b", 2, 3, 1, 2), nntest.Rand64("fl.c", 2, 3, 1, 1)}},
		{"UpsampleNearest", func(xs []*G.Node) *G.Node { return nn.UpsampleNearest(xs[0], 7, 5) },
			[]*tensor.Dense{nntest.Rand64("upg.x", 2, 2, 3, 4)}},
		{"UpsampleNearest/down", func(xs []*G.Node) *G.Node { return nn.UpsampleNearest(xs[0], 2, 3) },
			[]*tensor.Dense{nntest.Rand64("upg.y", 1, 2, 5, 4)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nntest.GradCheck(t, tc.inputs, nil, tc.build, 1e-7)
		})
	}
}

// TestNewOpsDeterministic runs the new ops on shapes with many chunks with
// 1 and 3 workers and compares outputs and gradients bit for bit.
func TestNewOpsDeterministic(t *testing.T) {
	run := func(workers int) [][]float64 {
		defer func(w int) { parallel.Workers = w }(parallel.Workers)
		parallel.Workers = workers
		gn := nn.NewGroupNorm("gn", 8, 32)
		sc := nn.NewScale("sc", 1.5)
		g := G.NewGraph()
		xp := &nn.Param{Name: "x", Trainable: true, Value: nntest.Rand32("det2.x", 4, 32, 24, 24)}
		yp := &nn.Param{Name: "y", Trainable: true, Value: nntest.Rand32("det2.y", 4, 32, 11, 13)}
		a := gn.Forward(xp.Node(g))
		b := nn.Exp(nn.MulConst(sc.Forward(gn.Forward(nn.UpsampleNearest(yp.Node(g), 24, 24))), 0.1))
		z := nn.FlattenLevels(nn.Add(a, b), yp.Node(g))
		r := nntest.Rand32("det2.r", z.Shape()...)
		rn := G.NewTensor(g, tensor.Float32, 3, G.WithShape(z.Shape()...), G.WithName("r"), G.WithValue(r))
		loss := G.Must(G.Sum(G.Must(G.HadamardProd(z, rn))))
		params := append([]*nn.Param{xp, yp}, append(gn.Params(), sc.Params()...)...)
		prog, err := nn.Compile(g, loss, params)
		if err != nil {
			t.Fatal(err)
		}
		defer prog.Close()
		if err := prog.Run(); err != nil {
			t.Fatal(err)
		}
		out := [][]float64{values(z.Value().(*tensor.Dense))}
		for _, p := range params {
			out = append(out, values(p.Grad))
		}
		return out
	}
	one, three := run(1), run(3)
	for i := range one {
		for j := range one[i] {
			if math.Float64bits(one[i][j]) != math.Float64bits(three[i][j]) {
				t.Fatalf("result %d element %d: %v with 1 worker, %v with 3", i, j, one[i][j], three[i][j])
			}
		}
	}
}
