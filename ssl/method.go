package ssl

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/nn"
)

// Method is one self-supervised algorithm over one or more networks: a
// composition of backbones, heads and a loss (SimCLR, BYOL, SimSiam,
// FastSiam, DYOL, DiSiam, DiSiam+, SoftChain, or a user's own). The
// Trainer drives it: it builds the graph once with Loss, compiles it with
// the Trainable parameters, and calls AfterStep after every optimizer step.
type Method interface {
	// Params lists every parameter and buffer of every part (EMA targets
	// included), in Parts order, with the names the parts give them; the
	// method's state_dict keys are Part.Prefix + Name (see StateDict).
	// SetTraining switches all parts between Train and Eval mode.
	nn.Module
	// Name is the method's name as the command line spells it: "simclr",
	// "byol", "simsiam", "fastsiam", "dyol", "disiam", "disiam+".
	Name() string
	// Views is the number of augmented views per image that Loss takes
	// (2, or M for the multi-view methods).
	Views() int
	// Loss adds the method's forward passes and loss to the graph of the
	// view nodes (len(views) == Views(), each [B, C, H, W] of the same
	// graph) and returns the scalar loss. Call it once per graph.
	Loss(views []*G.Node) *G.Node
	// Parts lists the method's networks and heads with their state_dict
	// prefixes, the way a PyTorch model holds them as attributes.
	Parts() []Part
	// Trainable returns the parameters gradient descent updates: the
	// trainable parameters of the parts whose Trainable flag is set
	// (online and assistant networks and their heads), never an EMA
	// target's.
	Trainable() []*nn.Param
	// Encoder is the backbone the method trains and outputs: the online
	// one.
	Encoder() backbone.Backbone
	// AfterStep is called after each optimizer step, with the step number
	// (from 0) and the total number of steps of the run; BYOL and DYOL
	// move their EMA targets there, with the momentum schedule at step.
	AfterStep(step, total int)
}

// Part is one named network or head of a Method.
type Part struct {
	// Prefix is prepended to the module's parameter names to form the
	// method's state_dict keys: "backbone." for the online backbone (whose
	// own names are torchvision's, "conv1.weight"), "assistant_backbone."
	// for DiSiam's assistant, "" for heads, whose names already begin with
	// their attribute name ("projection_head.layers.0.weight").
	Prefix string
	Module nn.Module
	// Trainable is false for networks that gradient descent never updates
	// (the EMA targets of BYOL and DYOL): their parameters are saved with
	// the method but given to no optimizer.
	Trainable bool
}

// Starter is implemented by methods that must prepare state when a
// training stage begins, after earlier stages may have changed shared
// weights: BYOL and DYOL copy the online (assistant) network into their EMA
// target, as lightly's deepcopy does when the model is built. The Trainer
// calls Start before a stage's first step, but not when it resumes a stage
// from a checkpoint.
type Starter interface {
	Start()
}

// Monitored is implemented by methods that expose the embedding the
// collapse monitor watches: Monitor returns the online projection of the
// first view ([B, D]) built by the last call to Loss; its value is valid
// after each run of the compiled graph.
type Monitored interface {
	Monitor() *G.Node
}

// Method names, as Method.Name returns them.
const (
	NameSimCLR     = "simclr"
	NameBYOL       = "byol"
	NameSimSiam    = "simsiam"
	NameFastSiam   = "fastsiam"
	NameDYOL       = "dyol"
	NameDiSiam     = "disiam"
	NameDiSiamPlus = "disiam+"
	NameSoftChain  = "softchain"
)

// partsParams returns the parameters of parts in order. A module that
// appears in several parts (a backbone shared by the two objectives of a
// SoftChain) is listed once.
func partsParams(parts []Part) []*nn.Param {
	var out []*nn.Param
	seen := map[*nn.Param]bool{}
	for _, pt := range parts {
		for _, p := range pt.Module.Params() {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out
}

// partsTrainable returns the trainable parameters of the trainable parts.
func partsTrainable(parts []Part) []*nn.Param {
	var out []*nn.Param
	seen := map[*nn.Param]bool{}
	for _, pt := range parts {
		if !pt.Trainable {
			continue
		}
		for _, p := range pt.Module.Params() {
			if p.Trainable && !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out
}

func partsSetTraining(parts []Part, training bool) {
	for _, pt := range parts {
		pt.Module.SetTraining(training)
	}
}

// keyedParam is one parameter of a method with its state_dict key.
type keyedParam struct {
	key   string
	p     *nn.Param
	part  int
	train bool // in Trainable()
}

// keyed lists the parameters of a method's parts with their state_dict
// keys, each parameter once, and checks that the keys are unique.
func keyed(parts []Part) ([]keyedParam, error) {
	var out []keyedParam
	seen := map[*nn.Param]bool{}
	keys := map[string]bool{}
	for i, pt := range parts {
		for _, p := range pt.Module.Params() {
			if seen[p] {
				continue
			}
			seen[p] = true
			k := pt.Prefix + p.Name
			if keys[k] {
				return nil, fmt.Errorf("ssl: two parameters with state_dict key %q (give the parts distinct prefixes or head names)", k)
			}
			keys[k] = true
			out = append(out, keyedParam{key: k, p: p, part: i, train: pt.Trainable && p.Trainable})
		}
	}
	return out, nil
}

// checkViews panics unless views holds m.Views() nodes of rank 4 with
// equal shapes (a programmer mistake).
func checkViews(m Method, views []*G.Node) {
	if len(views) != m.Views() {
		panic(fmt.Sprintf("ssl: %s: %d views, want %d", m.Name(), len(views), m.Views()))
	}
	for i, v := range views {
		if v.Dims() != 4 {
			panic(fmt.Sprintf("ssl: %s: view %d has shape %v, want [B, C, H, W]", m.Name(), i, v.Shape()))
		}
		if v.Shape()[0] != views[0].Shape()[0] {
			panic(fmt.Sprintf("ssl: %s: view %d has %d images, view 0 %d", m.Name(), i, v.Shape()[0], views[0].Shape()[0]))
		}
	}
}

// CopyWeights copies every parameter and buffer of src into dst, which
// must have the same architecture (parameters in the same order with the
// same shapes and dtypes): the initialization of BYOL's and DYOL's target
// networks as copies of the online and assistant networks (lightly's
// copy.deepcopy). dst keeps its backing arrays, so graphs built on it stay
// valid. It returns an error naming the first mismatch and then copies
// nothing.
func CopyWeights(dst, src nn.Module) error {
	d, s := dst.Params(), src.Params()
	if len(d) != len(s) {
		return fmt.Errorf("ssl: CopyWeights: %d parameters into %d", len(s), len(d))
	}
	for i := range d {
		if d[i].Value.Dtype() != s[i].Value.Dtype() || !d[i].Shape().Eq(s[i].Shape()) {
			return fmt.Errorf("ssl: CopyWeights: parameter %d: %q %v %v into %q %v %v", i,
				s[i].Name, s[i].Value.Dtype(), s[i].Shape(), d[i].Name, d[i].Value.Dtype(), d[i].Shape())
		}
	}
	for i := range d {
		copyTensor(d[i].Value, s[i].Value)
	}
	return nil
}

// copyTensor copies src's elements into dst (same dtype and size).
func copyTensor(dst, src *tensor.Dense) {
	switch x := dst.Data().(type) {
	case []float32:
		copy(x, src.Data().([]float32))
	case []float64:
		copy(x, src.Data().([]float64))
	case []int64:
		copy(x, src.Data().([]int64))
	default:
		panic(fmt.Sprintf("ssl: unsupported dtype %v", dst.Dtype()))
	}
}

// trainableOf returns the trainable parameters of the modules, in order.
func trainableOf(ms ...nn.Module) []*nn.Param {
	var out []*nn.Param
	for _, m := range ms {
		out = append(out, nn.Trainable(m)...)
	}
	return out
}
