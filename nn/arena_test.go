package nn

import (
	"fmt"
	"math"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/internal/parallel"
)

// A training program's backward intermediates share buffers: a chain of
// linear layers needs far fewer buffers than it has gradients flowing
// between layers, the gradients are bit for bit those of a program
// without the arena, on every run, and a warm run allocates no buffer.
func TestArenaSharesBackwardBuffers(t *testing.T) {
	const layers, width, batch = 6, 32, 8
	build := func() (*Program, []*Param) {
		g := G.NewGraph()
		x, xv := Input(g, "x", tensor.Float32, batch, width)
		xd := xv.Data().([]float32)
		for i := range xd {
			xd[i] = float32(math.Sin(float64(i)))
		}
		var ps []*Param
		h := x
		for l := range layers {
			w := NewParam("w", true, width, width)
			for i := range w.Data() {
				w.Data()[i] = float32(math.Cos(float64(i*(l+1)))) / 4
			}
			ps = append(ps, w)
			h = SiLU(LinearOp(h, w.Node(g), nil))
		}
		loss := G.Must(G.Sum(h))
		prog, err := Compile(g, loss, ps)
		if err != nil {
			t.Fatal(err)
		}
		return prog, ps
	}
	grads := func(ps []*Param) [][]float32 {
		var gs [][]float32
		for _, p := range ps {
			gs = append(gs, append([]float32(nil), p.Grad.Data().([]float32)...))
		}
		return gs
	}
	useArena = false
	ref, refPs := build()
	useArena = true
	defer ref.Close()
	if err := ref.Run(); err != nil {
		t.Fatal(err)
	}
	want := grads(refPs)

	prog, ps := build()
	defer prog.Close()
	for run := range 3 {
		if err := prog.Run(); err != nil {
			t.Fatal(err)
		}
		for i, g := range grads(ps) {
			for j := range g {
				if math.Float32bits(g[j]) != math.Float32bits(want[i][j]) {
					t.Fatalf("run %d: grad %d[%d] = %v, without the arena %v", run, i, j, g[j], want[i][j])
				}
			}
		}
	}
	managed := 0
	for _, n := range prog.g.AllNodes() {
		if op, ok := n.Op().(*customOp); ok && op.arena != nil {
			managed++
		}
	}
	bufs := len(prog.arena.f32.bufs)
	t.Logf("%d managed backward ops share %d buffers", managed, bufs)
	if managed < 2*layers-2 || bufs > 3 {
		t.Errorf("%d managed ops in %d buffers; want about %d ops in at most 3", managed, bufs, 2*layers)
	}
	before := bufs
	if err := prog.Run(); err != nil {
		t.Fatal(err)
	}
	if len(prog.arena.f32.bufs) != before {
		t.Errorf("a warm run made %d more buffers", len(prog.arena.f32.bufs)-before)
	}
}

// A weight read in several places (a network applied to several views)
// gets its contributions summed into one buffer as they are computed
// (gradGroup) instead of by gorgonia's Add chain at the end: the Add nodes
// leave the graph, the sum equals the chain's to float32 rounding, every
// run and every number of goroutines gives the same bits, and the
// contributions need one scratch buffer between them instead of one each.
func TestGradGroupsSumSharedWeights(t *testing.T) {
	const uses, width, batch = 4, 48, 8
	build := func() (*Program, *Param, *Param) {
		g := G.NewGraph()
		w := NewParam("w", true, width, width)
		b := NewParam("b", true, width)
		for i := range w.Data() {
			w.Data()[i] = float32(math.Cos(float64(i))) / 5
		}
		for i := range b.Data() {
			b.Data()[i] = float32(math.Sin(float64(i))) / 10
		}
		var sum *G.Node
		for u := range uses {
			x, xv := Input(g, fmt.Sprintf("x%d", u), tensor.Float32, batch, width)
			xd := xv.Data().([]float32)
			for i := range xd {
				xd[i] = float32(math.Sin(float64(i*(u+1)) / 7))
			}
			h := SiLU(LinearOp(SiLU(LinearOp(x, w.Node(g), b.Node(g))), w.Node(g), nil))
			if sum == nil {
				sum = h
			} else {
				sum = Add(sum, h)
			}
		}
		loss := G.Must(G.Sum(G.Must(G.Square(sum))))
		prog, err := Compile(g, loss, []*Param{w, b})
		if err != nil {
			t.Fatal(err)
		}
		return prog, w, b
	}
	useArena = false
	ref, rw, rb := build()
	useArena = true
	defer ref.Close()
	if err := ref.Run(); err != nil {
		t.Fatal(err)
	}
	if len(ref.groups) != 0 {
		t.Fatalf("%d groups without the arena", len(ref.groups))
	}
	want := [][]float32{append([]float32(nil), rw.Grad.Data().([]float32)...), append([]float32(nil), rb.Grad.Data().([]float32)...)}

	run := func(workers int) [][]float32 {
		defer func(w int) { parallel.Workers = w }(parallel.Workers)
		parallel.Workers = workers
		prog, w, b := build()
		defer prog.Close()
		if len(prog.groups) != 2 || len(prog.groups[0].members) != 2*uses || len(prog.groups[1].members) != uses {
			t.Fatalf("%d groups, want 2 (the weight's %d contributions, the bias' %d)", len(prog.groups), 2*uses, uses)
		}
		for _, n := range prog.g.AllNodes() {
			if n.Op() != nil && isAdd(n.Op()) && n.Shape().Eq(w.Shape()) {
				t.Fatalf("an Add of the weight's shape is left in the graph: %v", n)
			}
		}
		var got [][]float32
		for r := range 3 {
			if err := prog.Run(); err != nil {
				t.Fatal(err)
			}
			gw, gb := w.Grad.Data().([]float32), b.Grad.Data().([]float32)
			if r > 0 {
				for i := range gw {
					if math.Float32bits(gw[i]) != math.Float32bits(got[0][i]) {
						t.Fatalf("run %d: weight gradient[%d] %v, run 0 %v", r, i, gw[i], got[0][i])
					}
				}
				continue
			}
			got = [][]float32{append([]float32(nil), gw...), append([]float32(nil), gb...)}
		}
		bufs := len(prog.arena.f32.bufs)
		if err := prog.Run(); err != nil {
			t.Fatal(err)
		}
		if len(prog.arena.f32.bufs) != bufs {
			t.Errorf("a warm run made %d more buffers", len(prog.arena.f32.bufs)-bufs)
		}
		return got
	}
	one := run(1)
	for k, name := range []string{"weight", "bias"} {
		var maxErr, maxAbs float64
		for i, v := range one[k] {
			maxErr = math.Max(maxErr, math.Abs(float64(v-want[k][i])))
			maxAbs = math.Max(maxAbs, math.Abs(float64(want[k][i])))
		}
		if maxErr > 1e-6*maxAbs {
			t.Errorf("%s gradient: max error %.3g against gorgonia's sum (max %.3g)", name, maxErr, maxAbs)
		}
	}
	three := run(3)
	for k := range one {
		for i := range one[k] {
			if math.Float32bits(one[k][i]) != math.Float32bits(three[k][i]) {
				t.Fatalf("gradient %d[%d]: %v with 1 goroutine, %v with 3", k, i, one[k][i], three[k][i])
			}
		}
	}
}
