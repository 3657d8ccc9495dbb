package nn

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Input adds an input node of the given dtype and shape to g, bound to a
// zeroed tensor that the caller fills in place (copy into Data()) before
// each Run.
func Input(g *G.ExprGraph, name string, dt tensor.Dtype, shape ...int) (*G.Node, *tensor.Dense) {
	t := tensor.New(tensor.WithShape(shape...), tensor.Of(dt))
	n := G.NewTensor(g, dt, len(shape), G.WithShape(shape...), G.WithName(name), G.WithValue(t))
	return n, t
}

// Program is a compiled graph: a forward pass and, when it has a loss, the
// backward pass to a set of parameters. Build the graph once, compile it
// once, and Run it for every batch: buffers are reused between runs.
type Program struct {
	g       *G.ExprGraph
	arena   *arena // buffers of the backward intermediates
	groups  []*gradGroup
	vm      G.VM
	loss    *G.Node
	params  []*Param
	grads   []*G.Node
	blocked []*Param // parameters g uses only behind a stop-gradient
}

// Compile compiles g. If loss is not nil it must be a scalar, and the
// program also computes the gradient of loss with respect to every param
// that g uses (params absent from g are skipped); after Run each such
// Param's Grad holds it.
func Compile(g *G.ExprGraph, loss *G.Node, params []*Param) (prog *Program, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("nn: compile: %v", r)
		}
	}()
	prog = &Program{g: g, loss: loss}
	forward := g.AllNodes()
	forward = forward[:len(forward):len(forward)]
	if loss != nil {
		if !loss.IsScalar() {
			return nil, fmt.Errorf("nn: compile: loss has shape %v, want a scalar", loss.Shape())
		}
		var wrt G.Nodes
		reach := reachability(loss)
		for _, p := range params {
			n, ok := p.nodeIn(g)
			if !ok {
				continue
			}
			if reach(n) {
				wrt = append(wrt, n)
				prog.params = append(prog.params, p)
			} else {
				// Only behind stop-gradients: a zero gradient, so that
				// optimizers still see every parameter (weight decay).
				p.Grad = tensor.New(tensor.WithShape(p.Value.Shape().Clone()...), tensor.Of(p.Value.Dtype()))
				prog.blocked = append(prog.blocked, p)
			}
		}
		if len(wrt) > 0 {
			grads, err := G.Grad(loss, wrt...)
			if err != nil {
				return nil, fmt.Errorf("nn: compile: gradient: %w", err)
			}
			prog.grads = grads
		}
	}
	var kept G.Nodes // every node that holds (part of) a gradient
	if prog.grads != nil && useArena {
		prog.arena = new(arena)
		prog.groups = groupGradients(g, prog.grads, prog.arena)
		kept = append(kept, prog.grads...)
		for _, gr := range prog.groups {
			kept = append(kept, gr.members...)
		}
	} else {
		kept = prog.grads
	}
	skipUnneeded(g, append(append(G.Nodes{}, forward...), kept...))
	if prog.arena != nil && !planArena(g, prog.arena, g.AllNodes()[len(forward):], kept, len(prog.groups) > 0) {
		prog.arena = nil
	}
	prog.vm = G.NewTapeMachine(g)
	return prog, nil
}

// skipUnneeded marks the custom ops of g that no node of roots depends on
// to skip their kernels. G.Grad differentiates every input of every op on
// the way, such as the image's gradient at a stem convolution or the
// gradient of a constant in the loss; those nodes stay in the tape
// (dropping them from the graph would change gorgonia's register
// allocation, which lets an element-wise op overwrite an input it reads
// last, and a caller may read that input after Run), but their kernels
// cost nothing. roots are the nodes that existed before the backward pass
// (callers may read any of them) and the parameters' gradients.
func skipUnneeded(g *G.ExprGraph, roots G.Nodes) {
	needed := map[int64]bool{}
	stack := append(G.Nodes(nil), roots...)
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if needed[n.ID()] {
			continue
		}
		needed[n.ID()] = true
		if op, ok := n.Op().(*customOp); ok {
			stack = append(stack, op.in...)
			continue
		}
		it := g.From(n.ID())
		for it.Next() {
			stack = append(stack, it.Node().(*G.Node))
		}
	}
	for _, n := range g.AllNodes() {
		if op, ok := n.Op().(*customOp); ok {
			op.skip = !needed[n.ID()]
		}
	}
}

// Run executes the program once: forward, then backward if it has a loss.
func (p *Program) Run() error {
	defer p.vm.Reset()
	if p.arena != nil {
		p.arena.reset()
	}
	for _, gr := range p.groups {
		gr.done = 0
	}
	if err := p.vm.RunAll(); err != nil {
		return err
	}
	for i, gn := range p.grads {
		d, err := asDense(gn.Value())
		if err != nil {
			return fmt.Errorf("nn: gradient of %s: %w", p.params[i].Name, err)
		}
		p.params[i].Grad = d
	}
	return nil
}

// Params returns the parameters the program differentiates, in order,
// followed by those the graph uses only behind a stop-gradient (whose Grad
// is zero).
func (p *Program) Params() []*Param { return append(append([]*Param(nil), p.params...), p.blocked...) }

// reachability returns a predicate telling whether the loss depends on a
// node through a Differentiable path (one not cut by a stop-gradient).
func reachability(loss *G.Node) func(*G.Node) bool {
	g := loss.Graph()
	// up[n] = the loss depends on n differentiably.
	up := map[int64]bool{loss.ID(): true}
	seen := map[int64]bool{}
	var visit func(n *G.Node)
	visit = func(n *G.Node) {
		if seen[n.ID()] {
			return
		}
		seen[n.ID()] = true
		var children []*G.Node
		var diff []bool
		if op, ok := n.Op().(*customOp); ok {
			children = op.in
			diff = op.DiffWRT(len(children))
		} else if n.Op() != nil {
			it := g.From(n.ID())
			for it.Next() {
				children = append(children, it.Node().(*G.Node))
			}
			all := true
			if sd, ok := n.Op().(G.SDOp); ok {
				all = false
				for _, b := range sd.DiffWRT(len(children)) {
					all = all || b
				}
			}
			diff = make([]bool, len(children))
			for i := range diff {
				diff[i] = all // stock ops: child order unknown, be permissive
			}
		}
		for i, c := range children {
			if diff != nil && i < len(diff) && diff[i] {
				up[c.ID()] = true
				visit(c)
			}
		}
	}
	// visit is only entered for nodes the loss depends on differentiably,
	// so each needs processing once.
	visit(loss)
	return func(n *G.Node) bool { return up[n.ID()] }
}

// Loss returns the loss value of the last Run as float64.
func (p *Program) Loss() float64 {
	if p.loss == nil {
		return 0
	}
	return ScalarValue(p.loss)
}

// Close releases the machine.
func (p *Program) Close() error { return p.vm.Close() }

// ScalarValue returns the value of a scalar node after a run as float64.
func ScalarValue(n *G.Node) float64 {
	switch v := n.Value().(type) {
	case *G.F32:
		return float64(*v)
	case *G.F64:
		return float64(*v)
	case *tensor.Dense:
		switch d := v.Data().(type) {
		case float32:
			return float64(d)
		case float64:
			return d
		case []float32:
			return float64(d[0])
		case []float64:
			return d[0]
		}
	}
	panic(fmt.Sprintf("nn: node %v holds no scalar value", n))
}

// Build runs f, turning an "nn:" panic raised while building a graph (a
// shape or rank mismatch) into an error.
func Build(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	f()
	return nil
}
