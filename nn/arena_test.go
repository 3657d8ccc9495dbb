package nn

import (
	"math"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
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
