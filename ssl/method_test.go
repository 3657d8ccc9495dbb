package ssl_test

import (
	"fmt"
	"math"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/nn"
	"github.com/disiam/disiam/nn/nntest"
	"github.com/disiam/disiam/optim"
	"github.com/disiam/disiam/ssl"
)

// Small heads keep the method tests fast; the structure (blocks, names)
// is the presets'.
const (
	tHid  = 64 // projector hidden and output width
	tPred = 16 // predictor bottleneck
)

func tSimSiamHeads(prefix string, in int) (proj, pred *ssl.MLP) {
	return ssl.NewMLP(prefix+"projection_head", ssl.SimSiamProjector(in, tHid, tHid, 2), 5),
		ssl.NewMLP(prefix+"prediction_head", ssl.SimSiamPredictor(tHid, tPred, tHid), 5)
}

func tBYOLHeads(prefix string, in int) (proj, pred *ssl.MLP) {
	return ssl.NewMLP(prefix+"projection_head", ssl.BYOLProjector(in, tHid, tHid), 5),
		ssl.NewMLP(prefix+"prediction_head", ssl.BYOLPredictor(tHid, tHid, tHid), 5)
}

// methodCase builds one method from fresh tiny backbones with small
// heads, assembled from parts as a user would.
type methodCase struct {
	name    string
	views   int
	build   func() ssl.Method
	targets []string // state_dict prefixes of EMA targets
	lo, hi  float64  // range of the loss
}

func newTiny(seed uint64, widths ...int) *tinyNet {
	n := newTinyNet(seed, widths...)
	n.Depth.P = 0 // deterministic across separately compiled graphs
	return n
}

func methodCases() []methodCase {
	return []methodCase{
		{name: "simclr", views: 2, lo: 0, hi: math.Inf(1), build: func() ssl.Method {
			bb := newTiny(1, 8, 16)
			return &ssl.SimCLR{Backbone: bb, Projector: ssl.NewMLP("projection_head", ssl.SimCLRProjector(16, tHid, 32), 5)}
		}},
		{name: "byol", views: 2, lo: 0, hi: 4, targets: []string{"backbone_momentum.", "projection_head_momentum"}, build: func() ssl.Method {
			bb, tb := newTiny(1, 8, 16), newTiny(2, 8, 16)
			proj, pred := tBYOLHeads("", 16)
			m := &ssl.BYOL{Backbone: bb, Projector: proj, Predictor: pred, TargetBackbone: tb,
				TargetProjector: ssl.NewMLP("projection_head_momentum", proj.Blocks(), 6)}
			m.Start()
			return m
		}},
		{name: "simsiam", views: 2, lo: -1, hi: 1, build: func() ssl.Method {
			bb := newTiny(1, 8, 16)
			proj, pred := tSimSiamHeads("", 16)
			return &ssl.SimSiam{Backbone: bb, Projector: proj, Predictor: pred}
		}},
		{name: "fastsiam", views: 3, lo: -1, hi: 1, build: func() ssl.Method {
			bb := newTiny(1, 8, 16)
			proj, pred := tSimSiamHeads("", 16)
			return &ssl.FastSiam{Backbone: bb, Projector: proj, Predictor: pred, M: 3}
		}},
		{name: "dyol", views: 2, lo: -1, hi: 1, targets: []string{"target_backbone.", "target_projection_head"}, build: func() ssl.Method {
			on, as, tg := newTiny(1, 8, 16), newTiny(2, 8, 24), newTiny(3, 8, 24)
			op, oq := tBYOLHeads("", 16)
			ap, aq := tBYOLHeads("assistant_", 24)
			m := &ssl.DYOL{Online: on, OnlineProjector: op, OnlinePredictor: oq, Assistant: as, AssistantProjector: ap,
				AssistantPredictor: aq, Target: tg, TargetProjector: ssl.NewMLP("target_projection_head", ap.Blocks(), 6)}
			m.Start()
			return m
		}},
		{name: "disiam", views: 2, lo: -1, hi: 1, build: func() ssl.Method { return tDiSiam(2) }},
		{name: "disiam+", views: 3, lo: -1, hi: 1, build: func() ssl.Method { return tDiSiam(3) }},
		{name: "softchain", views: 2, lo: -1, hi: math.Inf(1), build: func() ssl.Method {
			bb := newTiny(1, 8, 16)
			proj, pred := tSimSiamHeads("", 16)
			m := &ssl.SoftChain{Backbone: bb, ContrastiveProjector: ssl.NewMLP("contrastive_projection_head", ssl.SimCLRProjector(16, tHid, 32), 5),
				Projector: proj, Predictor: pred}
			m.BeforeStep(1, 4)
			return m
		}},
	}
}

func tDiSiam(views int) *ssl.DiSiam {
	on, as := newTiny(1, 8, 16), newTiny(2, 8, 24)
	op, oq := tSimSiamHeads("", 16)
	ap, aq := tSimSiamHeads("assistant_", 24)
	return &ssl.DiSiam{Online: on, OnlineProjector: op, OnlinePredictor: oq, Assistant: as, AssistantProjector: ap, AssistantPredictor: aq, M: views}
}

// viewInputs adds m.Views() inputs of n images of side s filled by the
// golden value rule.
func viewInputs(g *G.ExprGraph, views, n, s int) []*G.Node {
	var out []*G.Node
	for j := range views {
		name := fmt.Sprintf("view%d", j)
		x, v := nn.Input(g, name, tensor.Float32, n, 3, s, s)
		copy(v.Data().([]float32), nntest.Rand32(name, n, 3, s, s).Data().([]float32))
		out = append(out, x)
	}
	return out
}

func inSet(ps []*nn.Param) map[*nn.Param]bool {
	m := map[*nn.Param]bool{}
	for _, p := range ps {
		m[p] = true
	}
	return m
}

func TestMethods(t *testing.T) {
	const batch, side = 8, 16
	for _, tc := range methodCases() {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.build()
			if m.Name() != tc.name || m.Views() != tc.views {
				t.Fatalf("Name, Views = %q, %d; want %q, %d", m.Name(), m.Views(), tc.name, tc.views)
			}
			g := G.NewGraph()
			loss := m.Loss(viewInputs(g, m.Views(), batch, side))
			if !loss.IsScalar() {
				t.Fatalf("loss shape %v", loss.Shape())
			}
			mon := m.(ssl.Monitored).Monitor()
			if s := mon.Shape(); len(s) != 2 || s[0] != batch {
				t.Errorf("monitored projection %v, want [%d, D]", s, batch)
			}
			prog, err := nn.Compile(g, loss, m.Parts().Trainable())
			if err != nil {
				t.Fatal(err)
			}
			defer prog.Close()
			if err := prog.Run(); err != nil {
				t.Fatal(err)
			}
			if l := prog.Loss(); !(l >= tc.lo && l <= tc.hi) {
				t.Errorf("loss %v outside [%v, %v]", l, tc.lo, tc.hi)
			}

			// Trainable: the trainable parts' weights, never an EMA target's.
			sd, err := m.Parts().StateDict()
			if err != nil {
				t.Fatal(err)
			}
			if sd.Len() != len(m.Parts().Params()) {
				t.Errorf("state dict has %d tensors, Params %d", sd.Len(), len(m.Parts().Params()))
			}
			train := inSet(m.Parts().Trainable())
			isTarget := map[*nn.Param]bool{}
			for _, pt := range m.Parts() {
				target := false
				for _, pre := range tc.targets {
					target = target || (pt.Prefix != "" && pt.Prefix == pre) || (pt.Prefix == "" && strings.HasPrefix(pt.Module.Params()[0].Name, pre))
				}
				if target == pt.Trainable {
					t.Errorf("part %q (%s...): Trainable %v", pt.Prefix, pt.Module.Params()[0].Name, pt.Trainable)
				}
				for _, p := range pt.Module.Params() {
					isTarget[p] = target
				}
			}
			nTargets := 0
			for _, p := range m.Parts().Params() {
				switch {
				case isTarget[p]:
					nTargets++
					if train[p] {
						t.Errorf("EMA target parameter %s is trainable", p.Name)
					}
					if p.Grad != nil {
						t.Errorf("EMA target parameter %s got a gradient", p.Name)
					}
				case p.Trainable && !train[p]:
					t.Errorf("online parameter %s is not trainable", p.Name)
				case !p.Trainable && train[p]:
					t.Errorf("buffer %s is trainable", p.Name)
				}
			}
			if (nTargets > 0) != (len(tc.targets) > 0) {
				t.Errorf("%d EMA target parameters", nTargets)
			}
			// Every trainable weight but the backbones' classifiers gets a
			// non-zero gradient.
			for _, p := range m.Parts().Trainable() {
				classifier := strings.Contains(p.Name, "fc.")
				if classifier != (p.Grad == nil) {
					t.Errorf("%s: gradient %v", p.Name, p.Grad != nil)
					continue
				}
				if !classifier && norm(p.Grad.Data().([]float32)) == 0 {
					t.Errorf("%s: zero gradient", p.Name)
				}
			}
		})
	}
}

func norm(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s)
}

// cloneTiny returns a copy of n (same architecture and weights).
func cloneTiny(t *testing.T, n *tinyNet, widths ...int) *tinyNet {
	c := newTiny(99, widths...)
	if err := ssl.CopyWeights(c, n); err != nil {
		t.Fatal(err)
	}
	return c
}

func cloneHead(t *testing.T, h ssl.Head) *ssl.MLP {
	m := h.(*ssl.MLP)
	c := ssl.NewMLP("clone_"+m.Params()[0].Name, m.Blocks(), 0)
	if err := ssl.CopyWeights(c, m); err != nil {
		t.Fatal(err)
	}
	return c
}

// gradients runs loss's graph once, differentiating params, and returns
// copies of their gradients.
func gradients(t *testing.T, g *G.ExprGraph, loss *G.Node, params []*nn.Param) map[*nn.Param][]float32 {
	t.Helper()
	prog, err := nn.Compile(g, loss, params)
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	if err := prog.Run(); err != nil {
		t.Fatal(err)
	}
	out := map[*nn.Param][]float32{}
	for _, p := range params {
		if p.Grad != nil {
			out[p] = append([]float32(nil), p.Grad.Data().([]float32)...)
		}
	}
	return out
}

func maxRelDiff(a, b []float32) float64 {
	var d, s float64
	for i := range a {
		d = max(d, math.Abs(float64(a[i])-float64(b[i])))
		s = max(s, math.Abs(float64(a[i])))
	}
	if s == 0 {
		return d
	}
	return d / s
}

// TestTargetsGetNoGradient checks that the weight-sharing methods'
// targets are true stop-gradients: the gradients of every parameter equal
// those of a reference graph whose targets come from a frozen copy of the
// network (whose parameters are not differentiated), and differ from those
// of a graph without the stop-gradient, so the test can fail.
func TestTargetsGetNoGradient(t *testing.T) {
	const batch, side = 8, 16
	type refs struct{ stopped, open *G.Node }
	cases := []struct {
		name  string
		m     ssl.Method
		build func(m ssl.Method, views []*G.Node) refs
	}{
		{"simsiam", &ssl.SimSiam{Backbone: newTiny(1, 8, 16)}, func(mm ssl.Method, v []*G.Node) refs {
			m := mm.(*ssl.SimSiam)
			fb, fp := cloneTiny(t, m.Backbone.(*tinyNet), 8, 16), cloneHead(t, m.Projector)
			var p, z, zf []*G.Node
			for _, x := range v {
				z = append(z, m.Projector.Forward(m.Backbone.Features(x)))
				p = append(p, m.Predictor.Forward(z[len(z)-1]))
				zf = append(zf, fp.Forward(fb.Features(x)))
			}
			return refs{
				stopped: ssl.SymmetricD(p[0], p[1], zf[0], zf[1]),
				open:    ssl.Mean(ssl.NegativeCosine(p[0], z[1]), ssl.NegativeCosine(p[1], z[0])),
			}
		}},
		{"disiam+", tDiSiam(3), func(mm ssl.Method, v []*G.Node) refs {
			m := mm.(*ssl.DiSiam)
			fb, fp := cloneTiny(t, m.Assistant.(*tinyNet), 8, 24), cloneHead(t, m.AssistantProjector)
			var po, pa, za, zf []*G.Node
			for _, x := range v {
				za = append(za, m.AssistantProjector.Forward(m.Assistant.Features(x)))
				pa = append(pa, m.AssistantPredictor.Forward(za[len(za)-1]))
				po = append(po, m.OnlinePredictor.Forward(m.OnlineProjector.Forward(m.Online.Features(x))))
				zf = append(zf, fp.Forward(fb.Features(x)))
			}
			var open []*G.Node
			for _, ps := range [][]*G.Node{po, pa} {
				for j := range ps {
					for k := range za {
						if j != k {
							open = append(open, ssl.NegativeCosine(ps[j], za[k]))
						}
					}
				}
			}
			return refs{stopped: ssl.DiSiamLoss(po, pa, zf, ssl.PairwiseTargets), open: ssl.Mean(open...)}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if s, ok := tc.m.(*ssl.SimSiam); ok {
				s.Projector, s.Predictor = tSimSiamHeads("", 16)
			}
			params := tc.m.Parts().Trainable()
			g := G.NewGraph()
			got := gradients(t, g, tc.m.Loss(viewInputs(g, tc.m.Views(), batch, side)), params)
			g2 := G.NewGraph()
			r := tc.build(tc.m, viewInputs(g2, tc.m.Views(), batch, side))
			want := gradients(t, g2, r.stopped, params)
			g3 := G.NewGraph()
			open := gradients(t, g3, tc.build(tc.m, viewInputs(g3, tc.m.Views(), batch, side)).open, params)
			sensitive := false
			for _, p := range params {
				if (got[p] == nil) != (want[p] == nil) {
					t.Fatalf("%s: gradient present %v, reference %v", p.Name, got[p] != nil, want[p] != nil)
				}
				if got[p] == nil {
					continue
				}
				if d := maxRelDiff(want[p], got[p]); d > 1e-5 {
					t.Errorf("%s: gradient differs from the frozen-target reference by %.3g (relative)", p.Name, d)
				}
				if maxRelDiff(open[p], got[p]) > 1e-3 {
					sensitive = true
				}
			}
			if !sensitive {
				t.Error("gradients without stop-gradient equal those with it: the test cannot fail")
			}
		})
	}
}

func TestEMA(t *testing.T) {
	perturb := func(ps []*nn.Param, d float32) {
		for _, p := range ps {
			for i := range p.Data() {
				p.Data()[i] += d
			}
		}
	}
	t.Run("byol", func(t *testing.T) {
		m := methodCases()[1].build().(*ssl.BYOL)
		online := nn.Trainable(nn.Modules{m.Backbone, m.Projector})
		target := nn.Trainable(nn.Modules{m.TargetBackbone, m.TargetProjector})
		for i := range online {
			if maxRelDiff(online[i].Data(), target[i].Data()) != 0 {
				t.Fatalf("%s: target is not a copy after Start", target[i].Name)
			}
		}
		before := append([]float32(nil), target[0].Data()...)
		perturb(online, 1)
		m.AfterStep(0, 100) // τ_0 = 0.99
		for i, v := range target[0].Data() {
			want := float32(before[i]*0.99) + float32(online[0].Data()[i]*float32(1-0.99))
			if v != want {
				t.Fatalf("target[%d] = %v, want %v", i, v, want)
			}
		}
		after := append([]float32(nil), target[0].Data()...)
		perturb(online, 1)
		m.AfterStep(100, 100) // τ_K = 1: the target stays
		if maxRelDiff(after, target[0].Data()) != 0 {
			t.Fatal("the target moved with τ = 1")
		}
	})
	t.Run("dyol follows the assistant", func(t *testing.T) {
		m := methodCases()[4].build().(*ssl.DYOL)
		assistant := nn.Trainable(nn.Modules{m.Assistant, m.AssistantProjector})
		target := nn.Trainable(nn.Modules{m.Target, m.TargetProjector})
		before := append([]float32(nil), target[0].Data()...)
		perturb(nn.Trainable(nn.Modules{m.Online, m.OnlineProjector}), 5)
		perturb(assistant, 1)
		tau := optim.MomentumSchedule{Base: 0.99, Steps: 10}.At(3)
		m.AfterStep(3, 10)
		for i, v := range target[0].Data() {
			want := float32(before[i]*float32(tau)) + float32(assistant[0].Data()[i]*float32(1-tau))
			if v != want {
				t.Fatalf("target[%d] = %v, want %v (EMA of the assistant)", i, v, want)
			}
		}
	})
}

func TestSoftChainMix(t *testing.T) {
	for _, w := range []float64{0, 0.3, 1} {
		t.Run(fmt.Sprint(w), func(t *testing.T) {
			m := methodCases()[7].build().(*ssl.SoftChain)
			m.Weight = func(int, int) float64 { return w }
			m.BeforeStep(0, 10)
			if c, f := m.Mix(); c != 1-w || f != w {
				t.Fatalf("Mix = %v, %v", c, f)
			}
			g := G.NewGraph()
			v := viewInputs(g, 2, 8, 16)
			soft := m.Loss(v)
			h1, h2 := m.Backbone.Features(v[0]), m.Backbone.Features(v[1])
			c := ssl.NTXent(m.ContrastiveProjector.Forward(h1), m.ContrastiveProjector.Forward(h2), ssl.SimCLRTemperature)
			z1, z2 := m.Projector.Forward(h1), m.Projector.Forward(h2)
			f := ssl.SymmetricD(m.Predictor.Forward(z1), m.Predictor.Forward(z2), z1, z2)
			prog, err := nn.Compile(g, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer prog.Close()
			if err := prog.Run(); err != nil {
				t.Fatal(err)
			}
			want := (1-w)*nn.ScalarValue(c) + w*nn.ScalarValue(f)
			if got := nn.ScalarValue(soft); math.Abs(got-want) > 1e-5*max(1, math.Abs(want)) {
				t.Errorf("soft loss %v, want %v", got, want)
			}
		})
	}
	if ssl.CosineRamp(0, 10) != 0 || math.Abs(ssl.CosineRamp(5, 10)-0.5) > 1e-15 || ssl.CosineRamp(10, 10) != 1 || ssl.LinearRamp(5, 10) != 0.5 {
		t.Error("ramps")
	}
}

func TestStateDictKeys(t *testing.T) {
	m := ssl.NewDiSiam(newTiny(1, 8, 16), newTiny(2, 8, 16), 1) // same architecture, same names
	sd, err := m.Parts().StateDict()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"backbone.conv1.weight", "assistant_backbone.conv1.weight", "projection_head.layers.0.weight",
		"assistant_prediction_head.layers.3.bias", "backbone.bn1.num_batches_tracked"} {
		if _, ok := sd.Get(k); !ok {
			t.Errorf("missing %s", k)
		}
	}
	// Load round trip into a fresh method with other weights.
	m2 := ssl.NewDiSiam(newTiny(3, 8, 16), newTiny(4, 8, 16), 9)
	if err := m2.Parts().LoadStateDict(sd); err != nil {
		t.Fatal(err)
	}
	for i, p := range m2.Parts().Params() {
		if p.Value.Dtype() == tensor.Float32 && maxRelDiff(m.Parts().Params()[i].Data(), p.Data()) != 0 {
			t.Fatalf("%s not loaded", p.Name)
		}
	}
	// Strict: a method with other parts does not load.
	if err := ssl.NewSimSiam(newTiny(1, 8, 16), 1).Parts().LoadStateDict(sd); err == nil {
		t.Error("loading DiSiam weights into SimSiam succeeded")
	}
	// Duplicate keys are reported.
	dup := &ssl.DiSiam{Online: newTiny(1, 8, 16), Assistant: newTiny(2, 8, 16), M: 2}
	dup.OnlineProjector, dup.OnlinePredictor = tSimSiamHeads("", 16)
	dup.AssistantProjector, dup.AssistantPredictor = tSimSiamHeads("", 16)
	if _, err := dup.Parts().StateDict(); err == nil || !strings.Contains(err.Error(), "projection_head") {
		t.Errorf("duplicate head names: err = %v", err)
	}
	if _, err := dup.Parts().NewOptimizer(func(ps []*nn.Param) optim.Optimizer { return optim.NewSGD(ps, optim.SimSiamSGD) }); err == nil {
		t.Error("NewOptimizer accepted duplicate keys")
	}
}

func TestCopyWeightsMismatch(t *testing.T) {
	if err := ssl.CopyWeights(newTiny(1, 8, 16), newTiny(1, 8, 24)); err == nil {
		t.Error("copying between different architectures succeeded")
	}
	defer func() {
		if recover() == nil {
			t.Error("NewBYOL with a target of another architecture did not panic")
		}
	}()
	ssl.NewBYOL(newTiny(1, 8, 16), newTiny(1, 8, 24), 1)
}

// The optimizer over parts behaves as one SGD over all parameters.
func TestNewOptimizerMatchesSGD(t *testing.T) {
	build := func() (*ssl.DiSiam, *G.Node, *G.ExprGraph) {
		m := tDiSiam(2)
		g := G.NewGraph()
		return m, m.Loss(viewInputs(g, 2, 8, 16)), g
	}
	m1, l1, g1 := build()
	m2, l2, g2 := build()
	opt1, err := m1.Parts().NewOptimizer(func(ps []*nn.Param) optim.Optimizer { return optim.NewSGD(ps, optim.SimSiamSGD) })
	if err != nil {
		t.Fatal(err)
	}
	// The reference: one SGD over renamed copies (names must be unique).
	var flat []*nn.Param
	for i, p := range m2.Parts().Trainable() {
		flat = append(flat, &nn.Param{Name: fmt.Sprint(i), Value: p.Value, Trainable: true})
	}
	opt2 := optim.NewSGD(flat, optim.SimSiamSGD)
	p1, err := nn.Compile(g1, l1, m1.Parts().Trainable())
	if err != nil {
		t.Fatal(err)
	}
	p2, err := nn.Compile(g2, l2, m2.Parts().Trainable())
	if err != nil {
		t.Fatal(err)
	}
	for step := range 2 {
		if err := p1.Run(); err != nil {
			t.Fatal(err)
		}
		if err := p2.Run(); err != nil {
			t.Fatal(err)
		}
		for i, p := range m2.Parts().Trainable() {
			flat[i].Grad = p.Grad
		}
		opt1.Step(0.1)
		opt2.Step(0.1)
		for i, p := range m1.Parts().Trainable() {
			if d := maxRelDiff(m2.Parts().Trainable()[i].Data(), p.Data()); d != 0 {
				t.Fatalf("step %d: %s differs by %g", step, p.Name, d)
			}
		}
	}
	st := opt1.State()
	if _, ok := st["assistant_backbone.conv1.weight"]; !ok {
		t.Errorf("optimizer state keys are not state_dict keys: %d entries", len(st))
	}
	if err := opt1.LoadState(map[string]*tensor.Dense{"nope": nil}); err == nil {
		t.Error("LoadState accepted an unknown key")
	}
}

var _ backbone.Backbone = (*tinyNet)(nil)
