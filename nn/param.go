package nn

import (
	"fmt"
	"sync/atomic"
	"weak"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Param is a named tensor owned by a layer: a trainable weight or a buffer
// (BatchNorm running statistics). Its Name is the PyTorch state_dict key.
//
// Value is the live tensor. Graphs read it in place (Node shares its
// backing), optimizers update it in place, and loading a state copies into
// it; its backing array is never replaced, so graphs built earlier stay
// valid. Grad holds the gradient after a Program's backward pass; it is
// owned by the Program that computed it.
type Param struct {
	Name      string
	Value     *tensor.Dense
	Trainable bool // false for buffers such as running_mean

	id uint64
	// nodes maps each graph that reads the parameter to its node there,
	// through weak pointers: a parameter outlives many graphs (every
	// training stage, every evaluation builds one), and a strong map
	// would keep each graph, its nodes and their buffers alive as long as
	// the model. The node lives as long as its graph does (the graph
	// holds it), and entries of collected graphs are dropped.
	nodes map[weak.Pointer[G.ExprGraph]]weak.Pointer[G.Node]
	// Grad is the gradient of the last loss computed by a Program that
	// differentiates this parameter (nil before that).
	Grad *tensor.Dense
}

var paramIDs atomic.Uint64

// NewParam returns a parameter named name holding a zeroed float32 tensor of
// the given shape.
func NewParam(name string, trainable bool, shape ...int) *Param {
	return &Param{
		Name:      name,
		Value:     tensor.New(tensor.WithShape(shape...), tensor.Of(tensor.Float32)),
		Trainable: trainable,
		id:        paramIDs.Add(1),
	}
}

// Shape returns the parameter's shape.
func (p *Param) Shape() tensor.Shape { return p.Value.Shape() }

// Data returns the parameter's float32 backing slice.
func (p *Param) Data() []float32 { return p.Value.Data().([]float32) }

// Numel returns the number of elements.
func (p *Param) Numel() int { return p.Value.Shape().TotalSize() }

// Node returns the graph node that reads this parameter in g, creating it
// on first use. The node shares the parameter's backing array. Node names
// carry a unique suffix so that two networks with equal state_dict names
// (an online and an assistant ResNet) stay distinct in one graph.
func (p *Param) Node(g *G.ExprGraph) *G.Node {
	if p.id == 0 {
		p.id = paramIDs.Add(1)
	}
	if n, ok := p.nodeIn(g); ok {
		return n
	}
	if p.nodes == nil {
		p.nodes = map[weak.Pointer[G.ExprGraph]]weak.Pointer[G.Node]{}
	}
	for k, v := range p.nodes {
		if k.Value() == nil || v.Value() == nil {
			delete(p.nodes, k)
		}
	}
	s := p.Value.Shape()
	n := G.NewTensor(g, p.Value.Dtype(), s.Dims(), G.WithShape(s.Clone()...),
		G.WithName(fmt.Sprintf("%s#%d", p.Name, p.id)), G.WithValue(p.Value))
	p.nodes[weak.Make(g)] = weak.Make(n)
	return n
}

// nodeIn returns the parameter's node in g, if Node has made one.
func (p *Param) nodeIn(g *G.ExprGraph) (*G.Node, bool) {
	n := p.nodes[weak.Make(g)].Value()
	return n, n != nil
}

// Module is anything that owns parameters: a layer, a block, a backbone, a
// head. Params lists parameters and buffers in state_dict order with full
// names; SetTraining switches Train (true) and Eval (false) mode for the
// module and everything it contains.
type Module interface {
	Params() []*Param
	SetTraining(training bool)
}

// Trainable returns the parameters of m that receive gradients.
func Trainable(m Module) []*Param {
	var out []*Param
	for _, p := range m.Params() {
		if p.Trainable {
			out = append(out, p)
		}
	}
	return out
}

// CountParams returns the number of trainable elements of m, the figure
// torchvision users get from sum(p.numel() for p in model.parameters()).
func CountParams(m Module) int {
	n := 0
	for _, p := range Trainable(m) {
		n += p.Numel()
	}
	return n
}

// Join prefixes a state_dict name: Join("layer1.0", "conv1") is
// "layer1.0.conv1"; an empty prefix returns name unchanged.
func Join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	if name == "" {
		return prefix
	}
	return prefix + "." + name
}

// Modules groups modules into one Module; Params concatenates theirs in
// order.
type Modules []Module

// Params implements Module.
func (ms Modules) Params() []*Param {
	var out []*Param
	for _, m := range ms {
		if m != nil {
			out = append(out, m.Params()...)
		}
	}
	return out
}

// SetTraining implements Module.
func (ms Modules) SetTraining(t bool) {
	for _, m := range ms {
		if m != nil {
			m.SetTraining(t)
		}
	}
}
