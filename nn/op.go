package nn

import (
	"fmt"
	"hash"
	"hash/fnv"
	"sync/atomic"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Kernel describes one custom gorgonia op: its inputs' ranks, its output
// shape, how to compute it and (see Differentiable) how to differentiate it.
// Every hot or missing op of disiam is a Kernel applied with Apply, which
// supplies the gorgonia Op, SDOp and UsePreallocDoer plumbing and owns the
// output buffer, so a compiled graph runs allocation-free once warm.
//
// The output's rank is the first input's unless the kernel also has a
// method OutDims() int. Kernels support float32 and float64 (the latter for
// gradient checks) by dispatching on out.Dtype().
type Kernel interface {
	// Name returns the op's printable name, including its static parameters.
	Name() string
	// InDims returns the ranks of the inputs (0 for a scalar).
	InDims() []int
	// OutShape returns the output shape for the given input shapes, or an
	// error naming the mismatch.
	OutShape(in []tensor.Shape) (tensor.Shape, error)
	// Forward computes out from in. out has the shape OutShape returned
	// (shape (1) where that is a scalar) and the inputs' dtype; its previous
	// content is undefined. Scalar inputs arrive as tensors of shape ().
	Forward(out *tensor.Dense, in []*tensor.Dense) error
}

// Differentiable is a Kernel with a symbolic gradient.
type Differentiable interface {
	Kernel
	// DiffWRT says which inputs get a gradient.
	DiffWRT() []bool
	// Grad returns the gradient nodes of the inputs (nil where DiffWRT is
	// false), given the op's inputs, its output and the output's gradient.
	Grad(in G.Nodes, out, dOut *G.Node) (G.Nodes, error)
}

var opIDs atomic.Uint64

// customOp adapts a Kernel to gorgonia. Each application gets its own op
// value (and thus its own output buffer and unique hash), so gorgonia never
// merges two applications and kernels may keep per-application state.
type customOp struct {
	k   Kernel
	id  uint64
	out *tensor.Dense
	in  []*G.Node // the children, in order (gorgonia does not export them)
	// skip is set by Compile for a backward op whose result nothing the
	// program computes needs (the input image's gradient at a stem): it
	// then returns its zeroed buffer without running the kernel.
	skip bool
	// arena, when not nil, provides the output buffer (see arena): users
	// is how many inputs of custom ops read this one, left how many of
	// them have yet to run in this run, slot the buffer's index.
	arena       *arena
	users, left int
	slot        int
	// group, when not nil, sums this op's result, one contribution to a
	// parameter's gradient, into the group's buffer (see gradGroup).
	group *gradGroup
}

func newOp(k Kernel) *customOp { return &customOp{k: k, id: opIDs.Add(1)} }

// Apply adds the node k(children...) to the children's graph and panics
// with an "nn:" message on a build-time error (wrong ranks or shapes are
// programmer mistakes).
func Apply(k Kernel, children ...*G.Node) *G.Node {
	op := newOp(k)
	op.in = children
	n, err := G.ApplyOp(op, children...)
	if err != nil {
		panic(fmt.Sprintf("nn: %s: %v", k.Name(), err))
	}
	return n
}

func (op *customOp) Arity() int { return len(op.k.InDims()) }

func typeOfDims(d int, a hm.Type) hm.Type {
	if d == 0 {
		return a
	}
	return &G.TensorType{Dims: d, Of: a}
}

func (op *customOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	dims := op.k.InDims()
	ts := make([]hm.Type, 0, len(dims)+1)
	for _, d := range dims {
		ts = append(ts, typeOfDims(d, a))
	}
	var od int
	if s, ok := op.k.(interface{ OutDims() int }); ok {
		od = s.OutDims()
	} else {
		od = dims[0]
	}
	ts = append(ts, typeOfDims(od, a))
	return hm.NewFnType(ts...)
}

func (op *customOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	shapes := make([]tensor.Shape, len(ds))
	for i, d := range ds {
		s, ok := d.(tensor.Shape)
		if !ok {
			return nil, fmt.Errorf("%s: input %d has no shape", op.k.Name(), i)
		}
		shapes[i] = s.Clone()
	}
	return op.k.OutShape(shapes)
}

func (op *customOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }

// UsePreallocDo ignores the machine's register and writes to the op's own
// buffer: the buffer is allocated on the first run and reused after.
func (op *customOp) UsePreallocDo(_ G.Value, vs ...G.Value) (G.Value, error) {
	in := make([]*tensor.Dense, len(vs))
	shapes := make([]tensor.Shape, len(vs))
	var dt tensor.Dtype
	for i, v := range vs {
		d, err := asDense(v)
		if err != nil {
			return nil, fmt.Errorf("nn: %s: input %d: %w", op.k.Name(), i, err)
		}
		in[i] = d
		shapes[i] = d.Shape()
		if i == 0 {
			dt = d.Dtype()
		} else if d.Dtype() != dt {
			return nil, fmt.Errorf("nn: %s: input %d is %v, input 0 is %v", op.k.Name(), i, d.Dtype(), dt)
		}
	}
	s, err := op.k.OutShape(shapes)
	if err != nil {
		return nil, fmt.Errorf("nn: %s: %w", op.k.Name(), err)
	}
	bs := s
	if s.IsScalar() {
		bs = tensor.Shape{1} // kernels see a scalar output as a 1-element buffer
	}
	if op.group != nil {
		acc, err := op.group.run(op, dt, bs, in)
		if err != nil {
			return nil, fmt.Errorf("nn: %s: %w", op.k.Name(), err)
		}
		op.out = acc
		op.release()
		return acc, nil
	}
	if op.arena != nil {
		op.arenaOut(dt, bs)
		op.left = op.users
	} else if op.out == nil || op.out.Dtype() != dt || !op.out.Shape().Eq(bs) {
		op.out = tensor.New(tensor.WithShape(bs...), tensor.Of(dt))
	}
	if !op.skip {
		if err := op.k.Forward(op.out, in); err != nil {
			return nil, fmt.Errorf("nn: %s: %w", op.k.Name(), err)
		}
	}
	op.release()
	if s.IsScalar() {
		switch dt {
		case tensor.Float32:
			return G.NewF32(op.out.Data().([]float32)[0]), nil
		case tensor.Float64:
			return G.NewF64(op.out.Data().([]float64)[0]), nil
		}
	}
	return op.out, nil
}

func (op *customOp) ReturnsPtr() bool     { return false }
func (op *customOp) CallsExtern() bool    { return false }
func (op *customOp) OverwritesInput() int { return -1 }
func (op *customOp) String() string       { return op.k.Name() }

func (op *customOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "%s#%d", op.k.Name(), op.id) }

func (op *customOp) Hashcode() uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}

func (op *customOp) DiffWRT(n int) []bool {
	if d, ok := op.k.(Differentiable); ok {
		return d.DiffWRT()
	}
	return make([]bool, n)
}

func (op *customOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	d, ok := op.k.(Differentiable)
	if !ok {
		return make(G.Nodes, len(in)), nil
	}
	return d.Grad(in, out, grad)
}

// asDense views a gorgonia value as a dense tensor; scalars become a
// tensor of shape () sharing nothing with the value.
func asDense(v G.Value) (*tensor.Dense, error) {
	switch x := v.(type) {
	case *tensor.Dense:
		return x, nil
	case *G.F32:
		return tensor.New(tensor.FromScalar(float32(*x))), nil
	case *G.F64:
		return tensor.New(tensor.FromScalar(float64(*x))), nil
	case nil:
		return nil, fmt.Errorf("no value")
	}
	return nil, fmt.Errorf("unsupported value type %T", v)
}
