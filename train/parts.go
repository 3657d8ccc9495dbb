package train

import (
	"fmt"
	"sort"
	"strings"

	"gorgonia.org/tensor"

	"github.com/disiam/disiam/nn"
	"github.com/disiam/disiam/optim"
	"github.com/disiam/disiam/safetensors"
)

// Part is one named network or head of a model, the way a PyTorch model
// holds its sub-modules as attributes.
type Part struct {
	// Prefix is prepended to the module's parameter names to form the
	// model's state_dict keys: "backbone." for an SSL method's online
	// backbone (whose own names are torchvision's, "conv1.weight"),
	// "assistant_backbone." for DiSiam's assistant, "" for heads whose
	// names already begin with their attribute name
	// ("projection_head.layers.0.weight").
	Prefix string
	Module nn.Module
	// Trainable is false for networks that gradient descent never
	// updates (the EMA targets of BYOL and DYOL): their parameters are
	// saved with the model but given to no optimizer.
	Trainable bool
}

// Parts is a model as a list of parts. It is an nn.Module: Params lists
// every parameter and buffer of every part once, in order (a module that
// appears in several parts, such as a backbone shared by two objectives,
// is listed once), and SetTraining switches every part.
type Parts []Part

// Params implements nn.Module.
func (ps Parts) Params() []*nn.Param {
	var out []*nn.Param
	seen := map[*nn.Param]bool{}
	for _, pt := range ps {
		for _, p := range pt.Module.Params() {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out
}

// SetTraining implements nn.Module.
func (ps Parts) SetTraining(training bool) {
	for _, pt := range ps {
		pt.Module.SetTraining(training)
	}
}

// Trainable returns the parameters gradient descent updates: the
// trainable parameters of the parts whose Trainable flag is set, each
// once, in order.
func (ps Parts) Trainable() []*nn.Param {
	var out []*nn.Param
	seen := map[*nn.Param]bool{}
	for _, pt := range ps {
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

// Keyed is one parameter of a model with its state_dict key.
type Keyed struct {
	// Key is Part.Prefix + Param.Name.
	Key   string
	Param *nn.Param
	// Part is the index of the part that lists it first; Trainable
	// whether it is among Parts.Trainable.
	Part      int
	Trainable bool
}

// Keyed lists the parameters with their state_dict keys, each parameter
// once, and returns an error if two parameters get the same key.
func (ps Parts) Keyed() ([]Keyed, error) {
	var out []Keyed
	seen := map[*nn.Param]bool{}
	keys := map[string]bool{}
	for i, pt := range ps {
		for _, p := range pt.Module.Params() {
			if seen[p] {
				continue
			}
			seen[p] = true
			k := pt.Prefix + p.Name
			if keys[k] {
				return nil, fmt.Errorf("train: two parameters with state_dict key %q (give the parts distinct prefixes or names)", k)
			}
			keys[k] = true
			out = append(out, Keyed{Key: k, Param: p, Part: i, Trainable: pt.Trainable && p.Trainable})
		}
	}
	return out, nil
}

// paramList is a Module over renamed views of parameters: the Params
// share their Value with the originals, so loading into them loads the
// model.
type paramList []*nn.Param

func (l paramList) Params() []*nn.Param { return l }
func (l paramList) SetTraining(bool)    {}

// Module returns the parameters renamed with their state_dict keys as a
// Module whose parameters share their values with the parts': saving it
// saves the model under PyTorch's keys, loading into it loads the model.
func (ps Parts) Module() (nn.Module, error) {
	kp, err := ps.Keyed()
	if err != nil {
		return nil, err
	}
	out := make(paramList, len(kp))
	for i, k := range kp {
		if strings.HasPrefix(k.Key, optimizerPrefix) {
			return nil, fmt.Errorf("train: state_dict key %q collides with a checkpoint's optimizer entries", k.Key)
		}
		out[i] = &nn.Param{Name: k.Key, Value: k.Param.Value, Trainable: k.Param.Trainable}
	}
	return out, nil
}

// StateDict returns the parameters and buffers of every part as a
// safetensors File keyed as PyTorch would key the model's state_dict:
// Part.Prefix + name ("backbone.conv1.weight"). The tensors are copies.
func (ps Parts) StateDict() (*safetensors.File, error) {
	m, err := ps.Module()
	if err != nil {
		return nil, err
	}
	return safetensors.StateDict(m)
}

// LoadStateDict copies the tensors of f into the parts' parameters by
// state_dict key, strictly: a missing, unexpected (other than the
// "optimizer." entries of a checkpoint) or mis-shaped tensor is an error,
// and then nothing is loaded. Parameters keep their backing arrays.
func (ps Parts) LoadStateDict(f *safetensors.File) error {
	m, err := ps.Module()
	if err != nil {
		return err
	}
	g := f
	if hasOptimizer(f) {
		g = &safetensors.File{}
		for _, name := range f.Names() {
			if !strings.HasPrefix(name, optimizerPrefix) {
				t, _ := f.Get(name)
				if err := g.Set(name, t); err != nil {
					return err
				}
			}
		}
	}
	return g.Load(m, safetensors.LoadOptions{})
}

func hasOptimizer(f *safetensors.File) bool {
	for _, name := range f.Names() {
		if strings.HasPrefix(name, optimizerPrefix) {
			return true
		}
	}
	return false
}

// NewOptimizer returns an optimizer over ps.Trainable() made of one
// optimizer per trainable part, each built by newOpt over that part's
// trainable parameters. It behaves as one optimizer over all of them (SGD
// and LARS update every parameter independently), and its State is keyed
// by state_dict keys (Part.Prefix + name), so that two networks whose
// parameters share names (an online and an assistant ResNet both own
// "conv1.weight") can be trained and checkpointed together. It returns an
// error if two parameters have the same key.
func (ps Parts) NewOptimizer(newOpt func(params []*nn.Param) optim.Optimizer) (optim.Optimizer, error) {
	kp, err := ps.Keyed()
	if err != nil {
		return nil, err
	}
	po := &partsOptimizer{key: map[string]partKey{}}
	group := map[int]int{} // part -> index in po.opts
	var params [][]*nn.Param
	for _, k := range kp {
		if !k.Trainable {
			continue
		}
		gi, ok := group[k.Part]
		if !ok {
			gi = len(params)
			group[k.Part] = gi
			params = append(params, nil)
			po.prefix = append(po.prefix, ps[k.Part].Prefix)
		}
		params[gi] = append(params[gi], k.Param)
		po.key[k.Key] = partKey{gi, k.Param.Name}
	}
	for _, p := range params {
		po.opts = append(po.opts, newOpt(p))
	}
	return po, nil
}

type partKey struct {
	opt  int
	name string
}

// partsOptimizer is one optimizer per trainable part (see NewOptimizer).
type partsOptimizer struct {
	opts   []optim.Optimizer
	prefix []string
	key    map[string]partKey
}

// Step implements optim.Optimizer.
func (o *partsOptimizer) Step(lr float64) {
	for _, op := range o.opts {
		op.Step(lr)
	}
}

// State implements optim.Optimizer, keyed by state_dict key.
func (o *partsOptimizer) State() map[string]*tensor.Dense {
	out := map[string]*tensor.Dense{}
	for i, op := range o.opts {
		for name, t := range op.State() {
			out[o.prefix[i]+name] = t
		}
	}
	return out
}

// LoadState implements optim.Optimizer. On an error nothing changes.
func (o *partsOptimizer) LoadState(state map[string]*tensor.Dense) error {
	sub := make([]map[string]*tensor.Dense, len(o.opts))
	for i := range sub {
		sub[i] = map[string]*tensor.Dense{}
	}
	keys := make([]string, 0, len(state))
	for k := range state {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		pk, ok := o.key[k]
		if !ok {
			return fmt.Errorf("train: optimizer state: unknown parameter %q", k)
		}
		sub[pk.opt][pk.name] = state[k]
	}
	old := make([]map[string]*tensor.Dense, len(o.opts))
	for i, op := range o.opts {
		old[i] = op.State()
	}
	for i, op := range o.opts {
		if err := op.LoadState(sub[i]); err != nil {
			for j := range i {
				_ = o.opts[j].LoadState(old[j]) // restore: these loaded before
			}
			return fmt.Errorf("train: optimizer state: %w", err)
		}
	}
	return nil
}
