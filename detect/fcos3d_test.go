package detect

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/nn"
	"github.com/disiam/disiam/nn/nntest"
)

// TestLoss3DGradCheck checks FCOS3D's loss kernels against finite
// differences, with background rows holding NaN targets and labels that
// the kernels must not read.
func TestLoss3DGradCheck(t *testing.T) {
	const n, a = 2, 5
	nan := math.NaN()
	fg := []float64{1, 0, 1, 1, 0, 0, 1, 1, 0, 1}
	in := func(name string, v []float64, shape ...int) func(g *G.ExprGraph) *G.Node {
		return func(g *G.ExprGraph) *G.Node {
			return G.NewTensor(g, tensor.Float64, len(shape), G.WithShape(shape...), G.WithName(name),
				G.WithValue(tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v))))
		}
	}
	masked := func(name string, k int, f func(i int, r float64) float64) []float64 {
		v := nntest.RuleValues(name, n*a*k)
		for i := range v {
			v[i] = f(i, v[i])
			if fg[i/k] == 0 {
				v[i] = nan
			}
		}
		return v
	}
	norm := in("norm", []float64{0.3}, 1)
	fgN := in("fg", fg, n, a)
	for _, tc := range []struct {
		name string
		k    int
		w    []float64
		sin  bool
	}{{"offset", 2, []float64{1, 1}, false}, {"depth", 1, []float64{0.2}, false}, {"size", 3, []float64{1, 0.5, 2}, false},
		{"rot", 1, []float64{1}, true}, {"velo", 2, []float64{0.05, 0.05}, false}} {
		// Differences on both sides of β = 1/9 (quadratic and linear parts).
		target := masked("l3.t."+tc.name, tc.k, func(i int, r float64) float64 { return 3 * r })
		pred := nntest.Rand64("l3.p."+tc.name, n, a, tc.k)
		for i, v := range pred.Data().([]float64) {
			tv := target[i]
			if math.IsNaN(tv) {
				tv = 0
			}
			off := 0.05 * v // inside β
			if i%3 == 0 {
				off = 0.4 + v // outside β (|off| ≥ 0.4 − 1 … kept away from ±β below)
				if math.Abs(math.Abs(off)-1.0/9) < 0.02 {
					off += 0.1
				}
			}
			if tc.sin {
				off = 0.05*v + float64(i%2)*math.Pi // sin(p − t) near 0, also across π
				if i%3 == 0 {
					off = 0.6 + 0.3*v
				}
			}
			pred.Data().([]float64)[i] = tv + off
		}
		nntest.GradCheck(t, []*tensor.Dense{pred}, nil, func(xs []*G.Node) *G.Node {
			g := xs[0].Graph()
			tt := in("t", target, n, a, tc.k)(g)
			if tc.sin {
				return SinDiffLoss(xs[0], tt, fgN(g), norm(g), tc.w, 1.0/9)
			}
			return SmoothL1Loss(xs[0], tt, fgN(g), norm(g), tc.w, 1.0/9)
		}, 1e-6)
	}
	labels := masked("l3.lab", 1, func(i int, _ float64) float64 { return float64(i % 3) })
	weights := []float64{1, 0, 0.5, 2, 0, 0, 0.7, 1, 0, 0.2}
	nntest.GradCheck(t, []*tensor.Dense{nntest.Rand64("l3.ce", n, a, 3)}, nil, func(xs []*G.Node) *G.Node {
		g := xs[0].Graph()
		return CrossEntropyLoss(nn.MulConst(xs[0], 3), in("labels", labels, n, a)(g), in("w", weights, n, a)(g), norm(g))
	}, 1e-7)
	x := nntest.Rand64("l3.clamp", 3, 4)
	nntest.GradCheck(t, []*tensor.Dense{x}, nil, func(xs []*G.Node) *G.Node {
		return nn.Exp(ClampMax(nn.MulConst(xs[0], 2), 0.37))
	}, 1e-7)
}

// TestSmoothL1Values checks the kernels' values against hand-computed
// mmdetection losses.
func TestSmoothL1Values(t *testing.T) {
	g := G.NewGraph()
	k := 0
	c := func(v []float64, shape ...int) *G.Node {
		k++
		return G.NewTensor(g, tensor.Float64, len(shape), G.WithShape(shape...), G.WithName(fmt.Sprintf("c%d", k)),
			G.WithValue(tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v))))
	}
	beta := 1.0 / 9
	p, tt := []float64{0.05, 2, -1, 7}, []float64{0, 0.5, -1, 7}
	fg := []float64{1, 1}
	l := SmoothL1Loss(c(p, 1, 2, 2), c(tt, 1, 2, 2), c(fg, 1, 2), c([]float64{0.5}, 1), []float64{1, 0.2}, beta)
	r := SinDiffLoss(c([]float64{0.3, 2}, 1, 2, 1), c([]float64{0.1, 2 - math.Pi}, 1, 2, 1), c(fg, 1, 2), c([]float64{1}, 1), []float64{1}, beta)
	labels, w := []float64{2, 0}, []float64{0.5, 1}
	logits := []float64{1, 2, 3, 0, 0, 0}
	ce := CrossEntropyLoss(c(logits, 1, 2, 3), c(labels, 1, 2), c(w, 1, 2), c([]float64{1 / 1.5}, 1))
	prog, err := nn.Compile(g, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	if err := prog.Run(); err != nil {
		t.Fatal(err)
	}
	// |0.05| < β: 0.5·0.0025·9; |1.5| ≥ β: (1.5 − β/2)·0.2; 0; 0.
	want := 0.5 * (0.5*0.0025/beta + 0.2*(1.5-beta/2))
	// sin(0.2) ≥ β: linear; sin(π) ≈ 0: quadratic.
	wantR := (math.Sin(0.3)*math.Cos(0.1) - math.Cos(0.3)*math.Sin(0.1) - beta/2) + 0.5*math.Pow(math.Sin(2)*math.Cos(2-math.Pi)-math.Cos(2)*math.Sin(2-math.Pi), 2)/beta
	lse := math.Log(math.Exp(1) + math.Exp(2) + math.Exp(3))
	wantCE := (0.5*(lse-3) + 1*math.Log(3)) / 1.5
	for _, v := range []struct {
		name      string
		got, want float64
	}{{"smooth L1", nn.ScalarValue(l), want}, {"sin difference", nn.ScalarValue(r), wantR}, {"cross-entropy", nn.ScalarValue(ce), wantCE}} {
		if math.Abs(v.got-v.want) > 1e-12 {
			t.Errorf("%s = %.15g, want %.15g", v.name, v.got, v.want)
		}
	}
}

// TestAssign3D pins the assignment rules on crafted objects: the strict
// centre square, the inclusive regress ranges, and ambiguity resolved by
// the distance to the projected centre.
func TestAssign3D(t *testing.T) {
	levels, err := NewLevels3D([][2]int{{16, 32}, {8, 16}, {4, 8}, {2, 4}, {1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	pts := Points3D(levels)
	if pts[0] != [2]float64{4, 4} || pts[1] != [2]float64{12, 4} || pts[levels[1].Offset] != [2]float64{8, 8} || pts[levels[4].Offset+1] != [2]float64{192, 64} {
		t.Fatalf("points %v %v %v %v", pts[0], pts[1], pts[levels[1].Offset], pts[levels[4].Offset+1])
	}
	at := func(l int, x, y float64) int {
		for a := levels[l].Offset; a < levels[l].Offset+levels[l].Len(); a++ {
			if pts[a] == [2]float64{x, y} {
				return a
			}
		}
		t.Fatalf("no point (%v, %v) on level %d", x, y, l)
		return -1
	}
	cases := []struct {
		name    string
		objs    []Object
		centers [][2]float64
		want    map[int]int // point → object; other points −1
	}{
		// Level 0 (stride 8, radius 12): x = 12 and 36 lie exactly 12 from
		// the centre and are out; level 1 reaches no max distance of 48.
		{"radius edge: |dx| = 1.5·8 is outside", []Object{{Box: Box{0, 0, 40, 40}}}, [][2]float64{{24, 12}},
			map[int]int{at(0, 20, 4): 0, at(0, 28, 4): 0, at(0, 20, 12): 0, at(0, 28, 12): 0, at(0, 20, 20): 0, at(0, 28, 20): 0}},
		// Level 0's upper bound: (4, 4) and (4, 12) have max distance 48 exactly.
		{"range bound 48 inclusive on level 0", []Object{{Box: Box{0, 0, 52, 12}}}, [][2]float64{{4, 4}},
			map[int]int{at(0, 4, 4): 0, at(0, 12, 4): 0, at(0, 4, 12): 0, at(0, 12, 12): 0}},
		// Level 1's lower bound: (8, 8) and (8, 24) have max distance 48
		// exactly; on level 0, 52 is out of range.
		{"range bound 48 inclusive on level 1", []Object{{Box: Box{0, 0, 56, 12}}}, [][2]float64{{4, 4}},
			map[int]int{at(0, 12, 4): 0, at(0, 12, 12): 0, at(1, 8, 8): 0, at(1, 8, 24): 0}},
		{"nearest centre wins", []Object{{Box: Box{0, 0, 30, 30}}, {Box: Box{0, 0, 30, 30}}}, [][2]float64{{10, 10}, {14, 10}},
			nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Assign3D(levels, pts, tc.objs, tc.centers, 1.5)
			if tc.want == nil {
				// Every positive point takes the nearer centre (the first on ties).
				n := 0
				for a, g := range got {
					if g < 0 {
						continue
					}
					n++
					d0 := math.Hypot(pts[a][0]-tc.centers[0][0], pts[a][1]-tc.centers[0][1])
					d1 := math.Hypot(pts[a][0]-tc.centers[1][0], pts[a][1]-tc.centers[1][1])
					if want := map[bool]int{true: 0, false: 1}[d0 <= d1]; g != want {
						t.Errorf("point %v: object %d, distances %v %v", pts[a], g, d0, d1)
					}
				}
				if n == 0 {
					t.Fatal("no positives")
				}
				if got[at(0, 12, 12)] != 0 || got[at(0, 20, 12)] != 1 {
					t.Errorf("(12,12) → %d (tie, first), (20,12) → %d", got[at(0, 12, 12)], got[at(0, 20, 12)])
				}
				return
			}
			for a, g := range got {
				if w, ok := tc.want[a]; ok != (g >= 0) || ok && w != g {
					t.Errorf("point %v (level with offset ≤ %d): got %d, want %v", pts[a], a, g, tc.want[a])
				}
			}
		})
	}
}

// testScene returns objects in front of cam with their image boxes.
func testScene(rng *rand.Rand, cam Camera, w, h float64, n int) []Object {
	var out []Object
	for len(out) < n {
		o := randObject(rng)
		o.Class, o.Attr = rng.IntN(5), rng.IntN(9)-1
		b, ok := cam.ImageBox(o, w, h)
		if !ok || b.Width() < 2 || b.Height() < 2 {
			continue
		}
		o.Box = b
		out = append(out, o)
	}
	return out
}

// TestTargets3DRoundTrip: a 3D box → its targets at every positive point
// → decoded with the camera gives the box back to 1e-9, for the synthetic
// camera, a nuScenes-like K and KITTI's P2 (non-zero fourth column).
func TestTargets3DRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, tc := range cameras {
		t.Run(tc.name, func(t *testing.T) {
			W, H := int(tc.w), int(tc.h)
			var maps [][2]int
			for _, s := range Strides3D {
				maps = append(maps, [2]int{(H + int(s) - 1) / int(s), (W + int(s) - 1) / int(s)})
			}
			levels, _ := NewLevels3D(maps)
			pts := Points3D(levels)
			objs := [][]Object{testScene(rng, tc.cam, tc.w, tc.h, 30), {}}
			tg, err := BuildTargets3D(Target3DConfig{Classes: 5, Attrs: 9, Radius: 1.5, Alpha: 2.5}, levels, pts, objs, []Camera{tc.cam, tc.cam})
			if err != nil {
				t.Fatal(err)
			}
			na := len(pts)
			if tg.NumPositive == 0 {
				t.Fatal("no positives")
			}
			hit := map[int]bool{}
			for a, g := range tg.Matched[0] {
				if g < 0 {
					continue
				}
				hit[g] = true
				l := levelOf(levels, a)
				var r Regression3D
				copy(r.Offset[:], tg.Offset[2*a:2*a+2])
				r.Depth = tg.Depth[a]
				copy(r.Size[:], tg.Size[3*a:3*a+3])
				r.Rot = tg.Rot[a] + math.Pi*float64(a%3-1) // any rot ≡ target (mod π)
				copy(r.Velo[:], tg.Velo[2*a:2*a+2])
				r.Dir = int(tg.Dir[a])
				d := DecodeRegression3D(pts[a], l.Stride, r, tc.cam)
				o := objs[0][g]
				for k := range 3 {
					if math.Abs(d.Center[k]-o.Center[k]) > 1e-9 || d.Size[k] != o.Size[k] {
						t.Fatalf("point %v: centre %v size %v, want %v %v", pts[a], d.Center, d.Size, o.Center, o.Size)
					}
				}
				if angleDiff(d.Yaw, o.Yaw) > 1e-9 || d.Velocity != o.Velocity {
					t.Fatalf("point %v: yaw %v velocity %v, want %v %v", pts[a], d.Yaw, d.Velocity, o.Yaw, o.Velocity)
				}
				if tg.Class[a] != float64(o.Class) || (o.Attr >= 0) != (tg.AttrWeight[a] > 0) || !(tg.Ctr[a] > 0 && tg.Ctr[a] <= 1) {
					t.Fatalf("point %v: class %v attr %v/%v ctr %v for %+v", pts[a], tg.Class[a], tg.Attr[a], tg.AttrWeight[a], tg.Ctr[a], o)
				}
			}
			for a := range pts {
				if tg.Foreground[na+a] != 0 || tg.Class[na+a] != -1 {
					t.Fatal("image without objects has positives")
				}
			}
			t.Logf("%d positives for %d of %d objects", tg.NumPositive, len(hit), len(objs[0]))
		})
	}
}

func levelOf(levels []Level3D, a int) Level3D {
	for _, l := range levels {
		if a >= l.Offset && a < l.Offset+l.Len() {
			return l
		}
	}
	panic("point outside the levels")
}

func TestBuildTargets3DErrors(t *testing.T) {
	levels, _ := NewLevels3D([][2]int{{2, 2}, {1, 1}, {1, 1}, {1, 1}, {1, 1}})
	pts := Points3D(levels)
	cam := NewCamera(10, 10, 8, 8)
	good := Object{Class: 1, Box: Box{1, 1, 9, 9}, Center: [3]float64{0, 0, 5}, Size: [3]float64{1, 1, 1}, Attr: -1}
	cfg := Target3DConfig{Classes: 3, Attrs: 9, Radius: 1.5, Alpha: 2.5}
	for _, tc := range []struct {
		name string
		edit func(o *Object)
		want string
	}{
		{"class", func(o *Object) { o.Class = 3 }, "class 3"},
		{"box", func(o *Object) { o.Box[2] = 0 }, "degenerate box"},
		{"size", func(o *Object) { o.Size[1] = 0 }, "size"},
		{"behind", func(o *Object) { o.Center[2] = -1 }, "behind the camera"},
		{"attr", func(o *Object) { o.Attr = 9 }, "attribute 9"},
		{"yaw", func(o *Object) { o.Yaw = math.NaN() }, "non-finite"},
	} {
		o := good
		tc.edit(&o)
		_, err := BuildTargets3D(cfg, levels, pts, [][]Object{{good, o}}, []Camera{cam})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "image 0, object 1") {
			t.Errorf("%s: error %v, want %q naming image 0, object 1", tc.name, err, tc.want)
		}
	}
}

func smallFCOS3D(t testing.TB, seed uint64) *FCOS3D {
	b := backbone.NewResNet(18, backbone.Config{Width: 8, Seed: seed})
	m, err := NewFCOS3D(b, Config3D{Classes: 10, Channels: 32, Branch: 32, CtrChannels: 32, Seed: seed + 1})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestFCOS3DNames checks the state_dict names (mmdetection's) and that
// every parameter is named once.
func TestFCOS3DNames(t *testing.T) {
	m := smallFCOS3D(t, 1)
	var names []string
	for _, p := range m.Params() {
		names = append(names, p.Name)
	}
	for _, want := range []string{
		"backbone.conv1.weight", "backbone.layer4.1.bn2.running_var",
		"neck.lateral_convs.0.conv.weight", "neck.fpn_convs.2.conv.bias", "neck.fpn_convs.3.conv.weight", "neck.fpn_convs.4.conv.bias",
		"bbox_head.cls_convs.0.conv.weight", "bbox_head.cls_convs.1.gn.bias", "bbox_head.reg_convs.1.conv.bias",
		"bbox_head.conv_cls_prev.0.conv.weight", "bbox_head.conv_cls.bias",
		"bbox_head.conv_reg_prevs.0.0.conv.weight", "bbox_head.conv_reg_prevs.3.0.gn.weight", "bbox_head.conv_regs.4.weight",
		"bbox_head.conv_dir_cls_prev.0.conv.weight", "bbox_head.conv_dir_cls.bias",
		"bbox_head.conv_attr_prev.0.gn.weight", "bbox_head.conv_attr.weight",
		"bbox_head.conv_centerness_prev.0.conv.weight", "bbox_head.conv_centerness.bias",
		"bbox_head.scales.0.0.scale", "bbox_head.scales.4.2.scale",
	} {
		if !slices.Contains(names, want) {
			t.Errorf("no parameter %q", want)
		}
	}
	for _, bad := range []string{"bbox_head.conv_reg_prevs.4.0.conv.weight", "backbone.fc.weight"} {
		if slices.Contains(names, bad) {
			t.Errorf("unexpected parameter %q", bad)
		}
	}
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			t.Errorf("%q twice", n)
		}
		seen[n] = true
	}
	if v := m.Head.Cls.Bias.Data()[0]; math.Abs(float64(v)+4.59511985) > 1e-6 {
		t.Errorf("conv_cls bias %v", v)
	}
	if v := m.Head.Regs[RegDepth].Bias.Data()[0]; v != 0 {
		t.Errorf("conv_regs.1 bias %v", v)
	}
}

// TestFCOS3DEmptyImages: a batch without objects gives finite losses
// (only the classification loss non-zero) and finite gradients; a batch
// with objects gives positive losses.
func TestFCOS3DEmptyImages(t *testing.T) {
	m := smallFCOS3D(t, 2)
	const n, h, w = 2, 128, 128
	g := G.NewGraph()
	x, xt := nn.Input(g, "images", tensor.Float32, n, 3, h, w)
	copy(xt.Data().([]float32), nntest.Rand32("fcos3d.img", n, 3, h, w).Data().([]float32))
	tg, err := m.TrainingGraph(x)
	if err != nil {
		t.Fatal(err)
	}
	params := nn.Trainable(m)
	prog, err := nn.Compile(g, tg.Loss, params)
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	cam := NewCamera(100, 100, 64, 64)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name string
		objs [][]Object
	}{{"empty", [][]Object{{}, {}}}, {"objects", [][]Object{testScene(rng, cam, w, h, 3), {}}}} {
		if err := tg.SetTargets(tc.objs, []Camera{cam, cam}); err != nil {
			t.Fatal(err)
		}
		if err := prog.Run(); err != nil {
			t.Fatal(err)
		}
		if err := tg.CheckFinite(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		ls := tg.Losses()
		for i, v := range ls {
			if tc.name == "empty" && i > 0 && v != 0 || tc.name == "objects" && !(v > 0) || i == 0 && !(v > 0) {
				t.Errorf("%s: %s = %v", tc.name, Loss3DNames[i], v)
			}
		}
		for _, p := range params {
			for _, v := range p.Grad.Data().([]float32) {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Fatalf("%s: gradient of %s not finite", tc.name, p.Name)
				}
			}
		}
		t.Logf("%s: %v", tc.name, ls)
	}
}
