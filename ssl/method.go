package ssl

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/augment"
	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/nn"
	"github.com/disiam/disiam/train"
)

// Method is one self-supervised algorithm over one or more networks: a
// composition of backbones, heads and a loss (SimCLR, BYOL, SimSiam,
// FastSiam, DYOL, DiSiam, DiSiam+, SoftChain, or a user's own). The
// Trainer builds the graph once per stage with Loss, compiles it with the
// trainable parameters of Parts, and trains it with the shared loop of
// package train. What a method does beyond this is optional: Starter,
// Stepper, Scheduled, Monitored, RecipeProvider and ViewsProvider.
type Method interface {
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
	// prefixes, the way a PyTorch model holds them as attributes; a
	// part's Trainable flag is false for networks gradient descent never
	// updates (EMA targets). Parts is an nn.Module: Parts().Params(),
	// Parts().SetTraining and Parts().Trainable() are the method's.
	Parts() train.Parts
	// Encoder is the backbone the method trains and outputs: the online
	// one.
	Encoder() backbone.Backbone
}

// Part is one named network or head of a Method (train.Part).
type Part = train.Part

// Starter is implemented by methods that must prepare state when a
// training stage begins, after earlier stages may have changed shared
// weights: BYOL and DYOL copy the online (assistant) network into their EMA
// target, as lightly's deepcopy does when the model is built. The Trainer
// calls Start before a stage's first step, but not when it resumes a stage
// from a checkpoint.
type Starter = train.Starter

// Stepper is implemented by methods with state to update after each
// optimizer step: BYOL and DYOL move their EMA targets there, with the
// momentum schedule at step (from 0) of the stage's total.
type Stepper = train.AfterStepper

// Monitored is implemented by methods that expose the embedding the
// collapse monitor watches: Monitor returns the online projection of the
// first view ([B, D]) built by the last call to Loss; its value is valid
// after each run of the compiled graph.
type Monitored interface {
	Monitor() *G.Node
}

// ViewsProvider is implemented by methods that choose their own
// augmentations: DefaultViews returns Views() per-view transforms for
// images of side size, ending with norm. Methods without it train with
// Views() copies of SimSiam's view.
type ViewsProvider interface {
	DefaultViews(size int, norm augment.Normalize) augment.Views
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
