package detect

import (
	"math"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/internal/parallel"
	"github.com/disiam/disiam/nn"
	"github.com/disiam/disiam/nn/nntest"
)

// goldenObjects turns a golden case's targets into objects.
func goldenObjects(c *goldenCase) [][]Object {
	out := make([][]Object, len(c.Targets))
	for i, tg := range c.Targets {
		out[i] = []Object{}
		for k, b := range tg.Boxes {
			out[i] = append(out[i], Object{Class: tg.Labels[k], Box: Box{b[0], b[1], b[2], b[3]}, Attr: -1})
		}
	}
	return out
}

func goldenCases(gf *goldenFile) []struct {
	name string
	c    *goldenCase
} {
	return []struct {
		name string
		c    *goldenCase
	}{{"r18_128", &gf.R18x128}, {"r18_100", &gf.R18x100}, {"effb0_128", &gf.EffB0x128}}
}

// TestGoldenAssignment compares the matched indices with torchvision's on
// the crafted targets (anchors exactly on the centre-sampling radius, on a
// box border and on both scale-range bounds, nested boxes, an image
// without boxes).
func TestGoldenAssignment(t *testing.T) {
	gf := loadGolden(t)
	for _, tc := range goldenCases(gf) {
		c := tc.c
		anchors := make([]Box, len(c.F64.Anchors))
		for i, a := range c.F64.Anchors {
			anchors[i] = Box{a[0], a[1], a[2], a[3]}
		}
		var maps [][2]int
		for _, s := range c.F64.FPNShapes {
			maps = append(maps, [2]int{s[2], s[3]})
		}
		levels, err := NewLevels(c.Shape[2], c.Shape[3], maps, AnchorSizes)
		if err != nil {
			t.Fatal(err)
		}
		tg, err := BuildTargets(CenterSampling{}, levels, anchors, goldenObjects(c), c.Classes, nil)
		if err != nil {
			t.Fatal(err)
		}
		fgCount := 0
		for i, m := range tg.Matched {
			for j, v := range m {
				if float64(v) != c.F64.MatchedIdxs[i][j] {
					t.Fatalf("%s: image %d anchor %d (%v): matched %d, torchvision %v", tc.name, i, j, anchors[j], v, c.F64.MatchedIdxs[i][j])
				}
				if v >= 0 {
					fgCount++
				}
			}
		}
		if fgCount == 0 || fgCount != tg.NumForeground {
			t.Fatalf("%s: %d foreground anchors, NumForeground %d", tc.name, fgCount, tg.NumForeground)
		}
		t.Logf("%s: %d foreground anchors match torchvision", tc.name, fgCount)
	}
}

// TestGoldenLossKernels feeds torchvision's head outputs (float64) to the
// loss kernels with targets from BuildTargets and compares the three losses
// and their gradients with respect to the head outputs.
func TestGoldenLossKernels(t *testing.T) {
	gf := loadGolden(t)
	for _, tc := range goldenCases(gf) {
		c, ref := tc.c, &tc.c.F64
		n, a := c.Shape[0], len(ref.Anchors)
		anchors := make([]Box, a)
		for i, v := range ref.Anchors {
			anchors[i] = Box{v[0], v[1], v[2], v[3]}
		}
		var maps [][2]int
		for _, s := range ref.FPNShapes {
			maps = append(maps, [2]int{s[2], s[3]})
		}
		levels, _ := NewLevels(c.Shape[2], c.Shape[3], maps, AnchorSizes)
		tg, err := BuildTargets(CenterSampling{}, levels, anchors, goldenObjects(c), c.Classes, nil)
		if err != nil {
			t.Fatal(err)
		}
		g := G.NewGraph()
		param := func(name string, v []float64, shape ...int) (*nn.Param, *G.Node) {
			p := &nn.Param{Name: name, Trainable: true, Value: tensor.New(tensor.WithShape(shape...), tensor.WithBacking(append([]float64(nil), v...)))}
			return p, p.Node(g)
		}
		input := func(name string, v []float64, shape ...int) *G.Node {
			return G.NewTensor(g, tensor.Float64, len(shape), G.WithShape(shape...), G.WithName(name),
				G.WithValue(tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v))))
		}
		pc, cls := param("cls", ref.ClsLogits, n, a, c.Classes)
		pr, reg := param("reg", ref.BBoxRegression, n, a, 4)
		pt, ctr := param("ctr", ref.BBoxCtrness, n, a, 1)
		av := make([]float64, 0, 4*a)
		for _, b := range anchors {
			av = append(av, b[:]...)
		}
		norm := input("norm", []float64{tg.Normalizer()}, 1)
		fg := input("fg", tg.Foreground, n, a)
		lc := SigmoidFocalLoss(cls, input("cls_t", tg.Class, n, a), norm, FocalAlpha, FocalGamma)
		lr := GIoULoss(reg, input("anchors", av, a, 4), input("boxes", tg.Boxes, n, a, 4), fg, norm)
		lt := BCEWithLogitsLoss(ctr, input("ctr_t", tg.Ctrness, n, a), fg, norm)
		loss := nn.Apply(sumScalars{3}, lc, lr, lt)
		prog, err := nn.Compile(g, loss, []*nn.Param{pc, pr, pt})
		if err != nil {
			t.Fatal(err)
		}
		if err := prog.Run(); err != nil {
			t.Fatal(err)
		}
		for _, l := range []struct {
			name      string
			got, want float64
		}{{"classification", nn.ScalarValue(lc), ref.Losses.Classification},
			{"bbox_regression", nn.ScalarValue(lr), ref.Losses.BBoxRegression},
			{"bbox_ctrness", nn.ScalarValue(lt), ref.Losses.BBoxCtrness}} {
			if d := math.Abs(l.got-l.want) / l.want; !(d <= 1e-12) {
				t.Errorf("%s %s = %.15g, torchvision %.15g (rel %.2g)", tc.name, l.name, l.got, l.want, d)
			}
		}
		for _, gr := range []struct {
			name string
			p    *nn.Param
			want []float64
		}{{"d cls_logits", pc, ref.GradCls}, {"d bbox_regression", pr, ref.GradReg}, {"d bbox_ctrness", pt, ref.GradCtr}} {
			if e := relErr(gr.p.Grad.Data().([]float64), gr.want); !(e <= 1e-9) { // the reference is rounded to 12 decimals
				t.Errorf("%s %s: relative error %.3g", tc.name, gr.name, e)
			}
		}
		prog.Close()
	}
}

// TestLossGradCheck checks the loss kernels' gradients against finite
// differences, with background rows holding targets that would give NaN if
// they were read (the kernels must skip them).
func TestLossGradCheck(t *testing.T) {
	const n, a, c = 2, 5, 3
	nan := math.NaN()
	cls := []float64{0, -1, 2, -1, 1, -1, -1, 0, 2, -1}
	fg := []float64{1, 0, 1, 0, 1, 0, 0, 1, 1, 0}
	anchors := []float64{-4, -4, 4, 4, 4, -4, 12, 4, 0, 8, 16, 24, 10, 10, 42, 42, 20, 0, 84, 64}
	boxes := make([]float64, 4*n*a)
	ctrT := make([]float64, n*a)
	for r := range fg {
		if fg[r] == 0 {
			for k := range 4 {
				boxes[4*r+k] = nan
			}
			ctrT[r] = nan
			continue
		}
		an := anchors[4*(r%a) : 4*(r%a)+4]
		boxes[4*r], boxes[4*r+1] = an[0]-3+float64(r), an[1]-2
		boxes[4*r+2], boxes[4*r+3] = an[2]+5, an[3]+1+float64(r)
		ctrT[r] = 0.1 * float64(r)
	}
	in := func(name string, v []float64, shape ...int) func(g *G.ExprGraph) *G.Node {
		return func(g *G.ExprGraph) *G.Node {
			return G.NewTensor(g, tensor.Float64, len(shape), G.WithShape(shape...), G.WithName(name),
				G.WithValue(tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v))))
		}
	}
	norm := in("norm", []float64{0.25}, 1)
	nntest.GradCheck(t, []*tensor.Dense{nntest.Rand64("lgc.cls", n, a, c)}, nil, func(xs []*G.Node) *G.Node {
		g := xs[0].Graph()
		return SigmoidFocalLoss(nn.MulConst(xs[0], 3), in("cls", cls, n, a)(g), norm(g), FocalAlpha, FocalGamma)
	}, 1e-7)
	// reg > 0 (after the ReLU), away from GIoU's kinks.
	reg := nntest.Rand64("lgc.reg", n, a, 4)
	for i, v := range reg.Data().([]float64) {
		reg.Data().([]float64)[i] = 0.6 + 0.5*v
	}
	nntest.GradCheck(t, []*tensor.Dense{reg}, nil, func(xs []*G.Node) *G.Node {
		g := xs[0].Graph()
		return GIoULoss(xs[0], in("anchors", anchors, a, 4)(g), in("boxes", boxes, n, a, 4)(g), in("fg", fg, n, a)(g), norm(g))
	}, 1e-6)
	nntest.GradCheck(t, []*tensor.Dense{nntest.Rand64("lgc.ctr", n, a, 1)}, nil, func(xs []*G.Node) *G.Node {
		g := xs[0].Graph()
		return BCEWithLogitsLoss(nn.MulConst(xs[0], 4), in("ctr", ctrT, n, a)(g), in("fg", fg, n, a)(g), norm(g))
	}, 1e-7)
	// Focal loss with alpha < 0 (no weighting) and gamma 0 is plain BCE.
	nntest.GradCheck(t, []*tensor.Dense{nntest.Rand64("lgc.cls2", n, a, c)}, nil, func(xs []*G.Node) *G.Node {
		g := xs[0].Graph()
		return SigmoidFocalLoss(xs[0], in("cls", cls, n, a)(g), norm(g), -1, 0.5)
	}, 1e-7)
}

// TestStandaloneLosses compares the element-wise focal loss, GIoU loss
// (disjoint, identical, nested, partly overlapping and touching boxes)
// and BCE with torchvision's values and autograd gradients.
func TestStandaloneLosses(t *testing.T) {
	s := loadGolden(t).Standalone
	k := focalKernel{FocalAlpha, FocalGamma}
	for i, x := range s.Focal.X {
		l, g := k.term(x, s.Focal.T[i] == 1)
		if math.Abs(l-s.Focal.Loss[i]) > 1e-12*(1+math.Abs(l)) || math.Abs(g-s.Focal.Grad[i]) > 1e-12 {
			t.Errorf("focal %d: loss %.15g grad %.15g, torchvision %.15g %.15g", i, l, g, s.Focal.Loss[i], s.Focal.Grad[i])
		}
	}
	for i := range s.GIoU.Loss {
		p, q := s.GIoU.Boxes1[i], s.GIoU.Boxes2[i]
		a, b := Box{p[0], p[1], p[2], p[3]}, Box{q[0], q[1], q[2], q[3]}
		if l := 1 - GIoU(a, b); math.Abs(l-s.GIoU.Loss[i]) > 1e-12 {
			t.Errorf("GIoU loss %d (%v, %v) = %.15g, torchvision %.15g", i, a, b, l, s.GIoU.Loss[i])
		}
		g1, g2 := giouLossGrad(a, b), giouLossGrad(b, a)
		for j := range 4 {
			if math.Abs(g1[j]-s.GIoU.Grad1[i][j]) > 1e-12 || math.Abs(g2[j]-s.GIoU.Grad2[i][j]) > 1e-12 {
				t.Errorf("GIoU grad %d (%v, %v): %v / %v, torchvision %v / %v", i, a, b, g1, g2, s.GIoU.Grad1[i], s.GIoU.Grad2[i])
				break
			}
		}
	}
	for i, x := range s.BCE.X {
		l, g := softplus(x)-x*s.BCE.T[i], sigmoid(x)-s.BCE.T[i]
		if math.Abs(l-s.BCE.Loss[i]) > 2e-12 || math.Abs(g-s.BCE.Grad[i]) > 2e-12 {
			t.Errorf("BCE %d: %.15g %.15g, torchvision %.15g %.15g", i, l, g, s.BCE.Loss[i], s.BCE.Grad[i])
		}
	}
}

// TestLossDeterministic runs the loss kernels with 1 and 3 workers on
// many chunks and compares losses and gradients bit for bit.
func TestLossDeterministic(t *testing.T) {
	const n, a, c = 2, 3000, 5
	run := func(workers int) []float64 {
		defer func(w int) { parallel.Workers = w }(parallel.Workers)
		parallel.Workers = workers
		g := G.NewGraph()
		mk := func(name string, f func(i int, r float64) float64, shape ...int) *tensor.Dense {
			v := nntest.RuleValues(name, tensor.Shape(shape).TotalSize())
			out := make([]float32, len(v))
			for i, r := range v {
				out[i] = float32(f(i, r))
			}
			return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(out))
		}
		id := func(_ int, r float64) float64 { return r }
		cls := &nn.Param{Name: "cls", Trainable: true, Value: mk("det.cls", func(_ int, r float64) float64 { return 4 * r }, n, a, c)}
		reg := &nn.Param{Name: "reg", Trainable: true, Value: mk("det.reg", func(_ int, r float64) float64 { return 1 + r }, n, a, 4)}
		ctr := &nn.Param{Name: "ctr", Trainable: true, Value: mk("det.ctr", id, n, a, 1)}
		in := func(t *tensor.Dense) *G.Node {
			return G.NewTensor(g, tensor.Float32, t.Dims(), G.WithShape(t.Shape()...), G.WithValue(t))
		}
		fg := mk("det.fg", func(_ int, r float64) float64 { return math.Max(0, math.Round(r)) }, n, a)
		target := mk("det.t", func(i int, r float64) float64 {
			if fg.Data().([]float32)[i] == 0 {
				return -1
			}
			return float64(int((r + 1) * 2.5))
		}, n, a)
		anchors := mk("det.anchors", func(i int, _ float64) float64 { return float64(i%4/2*16 + i/4) }, a, 4)
		boxes := mk("det.boxes", func(i int, r float64) float64 { return float64(i%(4*a)%4/2*20+i%(4*a)/4) + 3*r }, n, a, 4)
		norm := in(tensor.New(tensor.WithShape(1), tensor.WithBacking([]float32{0.01})))
		l := nn.Apply(sumScalars{3},
			SigmoidFocalLoss(cls.Node(g), in(target), norm, FocalAlpha, FocalGamma),
			GIoULoss(reg.Node(g), in(anchors), in(boxes), in(fg), norm),
			BCEWithLogitsLoss(ctr.Node(g), in(mk("det.ct", id, n, a)), in(fg), norm))
		prog, err := nn.Compile(g, l, []*nn.Param{cls, reg, ctr})
		if err != nil {
			t.Fatal(err)
		}
		defer prog.Close()
		if err := prog.Run(); err != nil {
			t.Fatal(err)
		}
		out := []float64{nn.ScalarValue(l)}
		for _, p := range []*nn.Param{cls, reg, ctr} {
			for _, v := range p.Grad.Data().([]float32) {
				out = append(out, float64(v))
			}
		}
		return out
	}
	one, three := run(1), run(3)
	if math.IsNaN(one[0]) || one[0] == 0 {
		t.Fatalf("loss %v", one[0])
	}
	for i := range one {
		if math.Float64bits(one[i]) != math.Float64bits(three[i]) {
			t.Fatalf("value %d: %v with 1 worker, %v with 3", i, one[i], three[i])
		}
	}
}
