package nn

import (
	"fmt"
	"reflect"
	"strings"
	"unsafe"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/internal/parallel"
	"github.com/disiam/disiam/internal/vec"
)

// A parameter read in several places of a graph (a backbone applied to
// each view, a head to each branch) gets one gradient contribution per
// place, which gorgonia's G.Grad sums with a chain of its own Add ops
// once all of them exist: k full-size buffers per parameter live until
// the end of the backward pass, plus the sums. For DiSiam+ (4 views
// through two networks) that is four times the 43M parameters, about 700
// MB. A gradGroup replaces such a chain: the Add nodes leave the graph,
// and the contributions, each computed by a custom op, are summed into one
// buffer as they are computed, in the tape's order (fixed, so every run
// and every number of goroutines gets the same bits). The first to run
// writes the buffer, each later one writes a scratch buffer from the
// arena, adds it and hands it back at once. PyTorch's autograd
// accumulates a leaf's gradient the same way (AccumulateGrad).
type gradGroup struct {
	acc     *tensor.Dense // the sum: the parameter's gradient
	members G.Nodes       // the contributions' nodes
	done    int           // contributions added in this run
	arena   *arena
	scratch map[*customOp]*tensor.Dense // tensor headers over arena buffers, per member
}

// groupGradients finds, for each gradient of grads, the chain of
// gorgonia Add ops that sums its contributions, removes the chain from g
// and makes the contributions a gradGroup summing into one buffer with
// scratch buffers from a; grads[i] then becomes the group's first member
// (whose value, like every member's, is the sum). Groups need a
// contribution from a custom op at every leaf of the chain, of the
// gradient's shape, and nothing else reading the chain or the leaves; a
// gradient without such a chain is left as it is. It makes no group
// where the gradients do not all have the dtype of the custom ops of g
// (planArena would then keep no arena, and a group needs its scratch
// buffers and sink).
func groupGradients(g *G.ExprGraph, grads G.Nodes, a *arena) []*gradGroup {
	if len(grads) == 0 {
		return nil
	}
	dt := grads[0].Dtype()
	if dt != tensor.Float32 && dt != tensor.Float64 {
		return nil
	}
	for _, n := range grads {
		if n.Dtype() != dt {
			return nil
		}
	}
	for _, n := range g.AllNodes() {
		if _, ok := n.Op().(*customOp); ok && n.Dtype() != dt {
			return nil
		}
	}
	edges := graphEdges(g)
	if edges == nil {
		return nil
	}
	var groups []*gradGroup
	for i, root := range grads {
		adds, leaves, ok := addChain(g, root)
		if !ok {
			continue
		}
		for _, n := range adds {
			g.RemoveNode(n)
		}
		edges.forget(adds, leaves)
		edges.resetIndex()
		gr := &gradGroup{members: leaves, arena: a, scratch: map[*customOp]*tensor.Dense{}}
		for _, n := range leaves {
			n.Op().(*customOp).group = gr
		}
		grads[i] = leaves[0]
		groups = append(groups, gr)
	}
	return groups
}

// exprGraphEdges reaches two unexported fields of gorgonia v0.9.18's
// ExprGraph that RemoveNode leaves stale: byID, a cache of each node's
// index in the node list (RemoveNode shifts the list, so later lookups by
// ID would find the wrong node), and to, each node's readers (RemoveNode
// drops the removed node's own entry but leaves it among its children's
// readers).
type exprGraphEdges struct {
	byID, to reflect.Value
}

// graphEdges returns g's fields, or nil where this gorgonia has other
// ones (groupGradients then removes nothing).
func graphEdges(g *G.ExprGraph) *exprGraphEdges {
	v := reflect.ValueOf(g).Elem()
	byID, to := v.FieldByName("byID"), v.FieldByName("to")
	if !byID.IsValid() || byID.Kind() != reflect.Map || !to.IsValid() || to.Kind() != reflect.Map ||
		to.Type().Key() != reflect.TypeOf((*G.Node)(nil)) || to.Type().Elem() != reflect.TypeOf(G.Nodes(nil)) {
		return nil
	}
	open := func(f reflect.Value) reflect.Value {
		return reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem()
	}
	return &exprGraphEdges{byID: open(byID), to: open(to)}
}

// forget removes the removed nodes from the readers of children.
func (e *exprGraphEdges) forget(removed, children G.Nodes) {
	gone := map[*G.Node]bool{}
	for _, n := range removed {
		gone[n] = true
	}
	for _, c := range children {
		key := reflect.ValueOf(c)
		v := e.to.MapIndex(key)
		if !v.IsValid() {
			continue
		}
		var keep G.Nodes
		for _, r := range v.Interface().(G.Nodes) {
			if !gone[r] {
				keep = append(keep, r)
			}
		}
		e.to.SetMapIndex(key, reflect.ValueOf(keep))
	}
}

// resetIndex empties the ID cache, which fills again on use.
func (e *exprGraphEdges) resetIndex() { e.byID.Set(reflect.MakeMap(e.byID.Type())) }

// addChain returns the Add nodes of gorgonia's sum of gradient
// contributions rooted at root and the contributions (custom op nodes of
// root's shape), or false where root is not such a sum.
func addChain(g *G.ExprGraph, root *G.Node) (adds, leaves G.Nodes, ok bool) {
	var walk func(n *G.Node, parents int) bool
	walk = func(n *G.Node, parents int) bool {
		if parentCount(g, n) != parents || !n.Shape().Eq(root.Shape()) {
			return false
		}
		if op, ok := n.Op().(*customOp); ok {
			if op.skip || op.group != nil {
				return false
			}
			leaves = append(leaves, n)
			return true
		}
		if n.Op() == nil || !isAdd(n.Op()) {
			return false
		}
		adds = append(adds, n)
		it := g.From(n.ID())
		var children G.Nodes
		for it.Next() {
			children = append(children, it.Node().(*G.Node))
		}
		if len(children) != 2 || children[0] == children[1] {
			return false
		}
		return walk(children[0], 1) && walk(children[1], 1)
	}
	if root.Op() == nil || !isAdd(root.Op()) || !walk(root, 0) {
		return nil, nil, false
	}
	return adds, leaves, len(leaves) >= 2
}

// parentCount returns the number of nodes of g that read n.
func parentCount(g *G.ExprGraph, n *G.Node) int {
	ns := g.To(n.ID())
	if ns == nil {
		return 0
	}
	return ns.Len()
}

// isAdd reports whether op is gorgonia's element-wise addition of two
// tensors, the op of G.Add and so of G.ReduceAdd.
func isAdd(op G.Op) bool {
	if op.Arity() != 2 {
		return false
	}
	name := op.String()
	return name == "+" || strings.HasPrefix(name, "+ ")
}

// run computes member op's contribution with its kernel on inputs in and
// adds it to the group's sum; it returns the sum.
func (gr *gradGroup) run(op *customOp, dt tensor.Dtype, bs tensor.Shape, in []*tensor.Dense) (*tensor.Dense, error) {
	if gr.acc == nil || gr.acc.Dtype() != dt || !gr.acc.Shape().Eq(bs) {
		gr.acc = tensor.New(tensor.WithShape(bs...), tensor.Of(dt))
	}
	if gr.done == 0 {
		if err := op.k.Forward(gr.acc, in); err != nil {
			return nil, err
		}
		gr.done++
		return gr.acc, nil
	}
	n := bs.TotalSize()
	var out *tensor.Dense
	switch dt {
	case tensor.Float32:
		idx := gr.arena.f32.get(n)
		out = gr.header(op, bs, gr.arena.f32.bufs[idx][:n])
		defer func() { gr.arena.f32.used[idx] = false }()
	case tensor.Float64:
		idx := gr.arena.f64.get(n)
		out = gr.header(op, bs, gr.arena.f64.bufs[idx][:n])
		defer func() { gr.arena.f64.used[idx] = false }()
	default:
		return nil, fmt.Errorf("gradient of dtype %v", dt)
	}
	if err := op.k.Forward(out, in); err != nil {
		return nil, err
	}
	switch acc := gr.acc.Data().(type) {
	case []float32:
		addInto(acc, out.Data().([]float32))
	case []float64:
		addInto(acc, out.Data().([]float64))
	}
	gr.done++
	return gr.acc, nil
}

// header returns a tensor of shape bs over backing, reusing op's header
// of the last run when it already is one.
func (gr *gradGroup) header(op *customOp, bs tensor.Shape, backing any) *tensor.Dense {
	t := gr.scratch[op]
	if t != nil && t.Shape().Eq(bs) && sameBacking(t.Data(), backing) {
		return t
	}
	t = tensor.New(tensor.WithShape(bs...), tensor.WithBacking(backing))
	gr.scratch[op] = t
	return t
}

func sameBacking(a, b any) bool {
	switch x := a.(type) {
	case []float32:
		y := b.([]float32)
		return len(x) == len(y) && &x[0] == &y[0]
	case []float64:
		y := b.([]float64)
		return len(x) == len(y) && &x[0] == &y[0]
	}
	return false
}

// addInto sets acc += x, in parallel chunks.
func addInto[T floating](acc, x []T) {
	parallel.For(len(x), parallel.Grain(len(x), 1<<14), func(lo, hi int) {
		switch a := any(acc[lo:hi]).(type) {
		case []float32:
			vec.Saxpy(1, any(x[lo:hi]).([]float32), a)
		case []float64:
			xs := any(x[lo:hi]).([]float64)
			for i := range a {
				a[i] += xs[i]
			}
		}
	})
}
