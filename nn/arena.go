package nn

import (
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// arena holds the output buffers of a Program's backward intermediates:
// the gradients flowing between layers, each needed only until the ops
// that read it have run. A managed op takes a free buffer when it runs
// and hands its inputs' buffers back once their last reader has run, so
// buffers whose lifetimes do not overlap are the same memory, as PyTorch's
// autograd frees each gradient once consumed. The tape runs in the same
// order every time and a request takes the smallest free buffer that fits
// (the first of equals), so every run makes the same assignment and a
// warm program allocates nothing.
//
// Managed are the custom ops that the backward pass created, that some
// gradient needs, whose result is not a parameter's gradient, and that
// only custom ops read (their readers decrement the count; gorgonia's own
// ops could keep or overwrite the buffer). Forward results stay owned by
// their ops: callers read them after Run, and backward kernels read them.
type arena struct {
	f32 arenaPool[float32]
	f64 arenaPool[float64]
}

type arenaPool[T float32 | float64] struct {
	bufs [][]T
	used []bool
}

// get returns the index of a free buffer of at least n elements, made if
// none is free.
func (p *arenaPool[T]) get(n int) int {
	best := -1
	for i, b := range p.bufs {
		if !p.used[i] && len(b) >= n && (best < 0 || len(b) < len(p.bufs[best])) {
			best = i
		}
	}
	if best < 0 {
		p.bufs = append(p.bufs, make([]T, n))
		p.used = append(p.used, false)
		best = len(p.bufs) - 1
	}
	p.used[best] = true
	return best
}

func (p *arenaPool[T]) reset() { clear(p.used) }

// reset frees every buffer: the start of a run.
func (a *arena) reset() {
	a.f32.reset()
	a.f64.reset()
}

// arenaOut points op's output at a buffer of a for shape bs and dtype dt,
// reusing the tensor header when the buffer is the one of the last run.
func (op *customOp) arenaOut(dt tensor.Dtype, bs tensor.Shape) {
	n := bs.TotalSize()
	var idx int
	var backing any
	switch dt {
	case tensor.Float32:
		idx = op.arena.f32.get(n)
		backing = op.arena.f32.bufs[idx][:n]
	case tensor.Float64:
		idx = op.arena.f64.get(n)
		backing = op.arena.f64.bufs[idx][:n]
	default:
		op.out = tensor.New(tensor.WithShape(bs...), tensor.Of(dt))
		op.slot = -1
		return
	}
	if op.out == nil || op.slot != idx || op.out.Dtype() != dt || !op.out.Shape().Eq(bs) {
		op.out = tensor.New(tensor.WithShape(bs...), tensor.WithBacking(backing))
	}
	op.slot = idx
}

// release hands back the buffers of op's managed inputs whose last reader
// op is.
func (op *customOp) release() {
	if _, ok := op.k.(arenaSink); ok {
		return // not a reader: it only keeps the registers (see planArena)
	}
	for _, c := range op.in {
		in, ok := c.Op().(*customOp)
		if !ok || in.arena == nil || in.slot < 0 {
			continue
		}
		if in.left--; in.left == 0 {
			switch in.out.Dtype() {
			case tensor.Float32:
				in.arena.f32.used[in.slot] = false
			case tensor.Float64:
				in.arena.f64.used[in.slot] = false
			}
		}
	}
}

// planArena gives the managed ops of g (see arena) the arena a. backward
// are the nodes G.Grad created, grads the parameters' gradients.
//
// gorgonia's tape reuses a register once its node's last reader has run,
// and one of its own ops given a register that still holds an old value
// writes its result into that value's memory: into an arena buffer that
// may belong to a later op by then. So planArena adds a node that reads
// every managed node and every gradient and does nothing: it runs last,
// the managed nodes' registers stay theirs until then, and only the arena
// decides when their buffers are free. It returns false, changing
// nothing, where the nodes do not share one dtype (groupGradients has then
// made no groups), or where no node is managed and sink is false. grads
// are the nodes that hold gradients (the parameters' gradients and the
// members of gradient groups): never managed, and read by the sink, so
// that their registers too stay theirs.
func planArena(g *G.ExprGraph, a *arena, backward, grads G.Nodes, sink bool) bool {
	isGrad := map[int64]bool{}
	for _, n := range grads {
		isGrad[n.ID()] = true
	}
	// readers[id] counts the inputs of custom ops that are node id;
	// foreign[id] marks a node some other op reads.
	readers := map[int64]int{}
	foreign := map[int64]bool{}
	for _, n := range g.AllNodes() {
		if op, ok := n.Op().(*customOp); ok {
			for _, c := range op.in {
				readers[c.ID()]++
			}
			continue
		}
		it := g.From(n.ID())
		for it.Next() {
			foreign[it.Node().ID()] = true
		}
	}
	var managed G.Nodes
	for _, n := range backward {
		op, ok := n.Op().(*customOp)
		if !ok || op.skip || isGrad[n.ID()] || foreign[n.ID()] || readers[n.ID()] == 0 {
			continue
		}
		if n.Dtype() != grads[0].Dtype() {
			return false
		}
		managed = append(managed, n)
	}
	if len(managed) == 0 && !sink {
		return false
	}
	for _, n := range grads {
		if n.Dtype() != grads[0].Dtype() {
			return false
		}
	}
	ins := append(append(G.Nodes(nil), managed...), grads...)
	dims := make([]int, len(ins))
	for i, n := range ins {
		dims[i] = n.Dims()
	}
	Apply(arenaSink{dims}, ins...)
	for _, n := range managed {
		op := n.Op().(*customOp)
		op.arena, op.users, op.out = a, readers[n.ID()], nil
	}
	return true
}

// arenaSink is the last node of a program with an arena (see planArena):
// it reads the managed nodes and the gradients and computes nothing.
type arenaSink struct{ dims []int }

func (k arenaSink) Name() string                                  { return "ArenaSink" }
func (k arenaSink) InDims() []int                                 { return k.dims }
func (k arenaSink) OutDims() int                                  { return 0 }
func (k arenaSink) OutShape([]tensor.Shape) (tensor.Shape, error) { return tensor.ScalarShape(), nil }
func (k arenaSink) Forward(*tensor.Dense, []*tensor.Dense) error  { return nil }

// useArena switches the arena on; tests compare with it off.
var useArena = true
