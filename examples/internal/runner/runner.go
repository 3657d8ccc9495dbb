package runner

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/disiam/disiam/augment"
	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/dataset"
	"github.com/disiam/disiam/ssl"
)

// Methods lists the method names Networks.Method builds, in the order the
// thesis introduces them.
var Methods = []string{ssl.NameSimCLR, ssl.NameBYOL, ssl.NameSimSiam, ssl.NameFastSiam, ssl.NameDYOL,
	ssl.NameDiSiam, ssl.NameDiSiamPlus, ssl.NameSoftChain}

// OpenSplit opens a split of the dataset spec (dataset.Open), keeps its
// first n images when n > 0 and presents 1-channel images as RGB for the
// backbones. An empty split is an error.
func OpenSplit(spec string, split dataset.Split, n int) (dataset.Dataset, error) {
	ds, err := dataset.Open(spec, split)
	if err != nil {
		return nil, err
	}
	if n > 0 {
		ds = dataset.Head(ds, n)
	}
	if ds.Len() == 0 {
		return nil, fmt.Errorf("%s: empty %s split", spec, split)
	}
	if ds.Image(0).C == 1 {
		ds = dataset.RGB{Base: ds}
	}
	return ds, nil
}

// OpenBalanced opens a split of the dataset spec as OpenSplit does, but
// reduces it to a class-balanced subset of about n images when 0 < n <
// its size: the first n/classes images of each class (at least one).
// Image folders list their images class by class, so a balanced subset,
// not the first n, keeps every class.
func OpenBalanced(spec string, split dataset.Split, n int) (dataset.Dataset, error) {
	ds, err := OpenSplit(spec, split, 0)
	if err != nil {
		return nil, err
	}
	if n > 0 && n < ds.Len() {
		ds = dataset.PerClass(ds, max(n/ds.Classes(), 1))
	}
	return ds, nil
}

// ChannelStats returns the per-channel mean and standard deviation of the
// training images (at most the first 5000 of them), the normalization of
// both the augmented views and the kNN evaluation. The standard deviation
// is at least 1e-3, so that constant channels stay finite.
func ChannelStats(ds dataset.Dataset) augment.Normalize {
	n := min(ds.Len(), 5000)
	c := ds.Image(0).C
	sum, sq := make([]float64, c), make([]float64, c)
	var count float64
	for i := range n {
		img := ds.Image(i)
		plane := img.H * img.W
		for ch := range c {
			for _, v := range img.Pix[ch*plane : (ch+1)*plane] {
				sum[ch] += float64(v)
				sq[ch] += float64(v) * float64(v)
			}
		}
		count += float64(plane)
	}
	var norm augment.Normalize
	for ch := range c {
		m := sum[ch] / count
		norm.Mean = append(norm.Mean, float32(m))
		norm.Std = append(norm.Std, float32(math.Sqrt(max(sq[ch]/count-m*m, 1e-6))))
	}
	return norm
}

// StagePlan is one stage of a run before its method is built: the method's
// name and its epochs.
type StagePlan struct {
	Method string
	Epochs int
}

// ParseStages returns the stages of a run of epochs epochs in total: the
// single stage method when chain is empty, else the comma-separated stages
// of chain, each "METHOD" or "METHOD:EPOCHS"; at most one stage may omit
// its epochs and gets what the others leave of epochs. The stages' epochs
// may not add up to more than epochs (a chain shorter than epochs trains
// only its own epochs). It does not check the method names (Chain does).
func ParseStages(method, chain string, epochs int) ([]StagePlan, error) {
	if epochs <= 0 {
		return nil, fmt.Errorf("-epochs %d", epochs)
	}
	if chain == "" {
		return []StagePlan{{method, epochs}}, nil
	}
	var plan []StagePlan
	rest, open := epochs, -1
	for i, part := range strings.Split(chain, ",") {
		name, ep, has := strings.Cut(strings.TrimSpace(part), ":")
		p := StagePlan{Method: name}
		if name == "" {
			return nil, fmt.Errorf("stage %d (%q) names no method", i+1, part)
		}
		if has {
			n, err := strconv.Atoi(ep)
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("stage %q: bad epoch count (want METHOD:N with N > 0)", part)
			}
			p.Epochs = n
			rest -= n
		} else {
			if open >= 0 {
				return nil, errors.New("only one stage may omit its epochs")
			}
			open = i
		}
		plan = append(plan, p)
	}
	if open >= 0 && rest <= 0 {
		return nil, fmt.Errorf("the other stages leave no epochs of -epochs %d for stage %q", epochs, plan[open].Method)
	}
	if rest < 0 {
		return nil, fmt.Errorf("the stages take %d epochs, more than -epochs %d", epochs-rest, epochs)
	}
	if open >= 0 {
		plan[open].Epochs = rest
	}
	return plan, nil
}

// ChainName is the name of a plan as -chain spells it ("simclr:2,disiam:3"),
// or the method's name for a single stage.
func ChainName(plan []StagePlan) string {
	if len(plan) == 1 {
		return plan[0].Method
	}
	parts := make([]string, len(plan))
	for i, p := range plan {
		parts[i] = p.Method + ":" + strconv.Itoa(p.Epochs)
	}
	return strings.Join(parts, ",")
}

// Networks builds the backbones and methods of a run, each backbone once:
// the methods of chained stages share the online backbone and the
// assistant. Set the fields, then call Method for each stage.
type Networks struct {
	// Backbone and Assistant name the online and the assistant backbones
	// (backbone.Names); the assistant is built only for the methods that
	// have one (DYOL, DiSiam, DiSiam+).
	Backbone, Assistant string
	// Seed is the run's seed (see the package documentation).
	Seed uint64
	// Views is the number of views of FastSiam and DiSiam+ (0: 4).
	Views int
	// ProjectionLayers, if not 0, gives the SimSiam projectors of
	// SimSiam, FastSiam, DiSiam and DiSiam+ (online and assistant) this
	// many layers instead of 2 (thesis Figure 5.32 compares 2 and 3).
	ProjectionLayers int
	// HeadDim, if not 0, narrows the heads for small runs: the SimSiam
	// projectors' hidden and output width and the predictors' outer width
	// become HeadDim instead of 2048 (the predictors' bottleneck
	// HeadDim/4 instead of 512), and SimCLR's projector hidden width
	// HeadDim instead of 2048 (its output stays 128). BYOL's and DYOL's
	// heads keep their sizes. The papers' heads cost more than a narrow
	// backbone: on two cores they dominate a step of ResNet-18-w16.
	HeadDim int
	// New builds a backbone; nil means backbone.New. A program that starts
	// from stored weights loads them here.
	New func(name string, c backbone.Config) (backbone.Backbone, error)

	on, asst backbone.Backbone
	count    uint64
}

func (n *Networks) build(name string, c backbone.Config) (backbone.Backbone, error) {
	if n.New != nil {
		return n.New(name, c)
	}
	return backbone.New(name, c)
}

// Online returns the online backbone, built from Seed on the first call.
func (n *Networks) Online() (backbone.Backbone, error) {
	if n.on == nil {
		var err error
		if n.on, err = n.build(n.Backbone, backbone.Config{Seed: n.Seed}); err != nil {
			return nil, err
		}
	}
	return n.on, nil
}

// AssistantNet returns the assistant backbone, built from Seed+1 on the
// first call.
func (n *Networks) AssistantNet() (backbone.Backbone, error) {
	if n.asst == nil {
		var err error
		if n.asst, err = n.build(n.Assistant, backbone.Config{Seed: n.Seed + 1}); err != nil {
			return nil, err
		}
	}
	return n.asst, nil
}

// Method builds the named method (one of Methods) over the online
// backbone, its heads from their own seed (Seed+100, +101, ... in the
// order of the calls). BYOL's and DYOL's EMA targets are uninitialized
// copies of the architecture they follow; the Trainer copies the weights
// in when their stage starts.
func (n *Networks) Method(name string) (ssl.Method, error) {
	online, err := n.Online()
	if err != nil {
		return nil, err
	}
	seed := n.Seed + 100 + n.count
	n.count++
	switch name {
	case ssl.NameSimCLR:
		m := ssl.NewSimCLR(online, seed)
		if n.HeadDim != 0 {
			m.Projector = ssl.NewMLP("projection_head", ssl.SimCLRProjector(online.FeatureDim(), n.HeadDim, ssl.SimCLROut), seed)
		}
		return m, nil
	case ssl.NameSimSiam:
		m := ssl.NewSimSiam(online, seed)
		n.heads(&m.Projector, &m.Predictor, online, "", seed)
		return m, nil
	case ssl.NameFastSiam:
		m := ssl.NewFastSiam(online, viewsOr4(n.Views), seed)
		n.heads(&m.Projector, &m.Predictor, online, "", seed)
		return m, nil
	case ssl.NameSoftChain:
		return ssl.NewSoftChain(online, seed), nil
	case ssl.NameBYOL:
		target, err := n.build(online.Name(), backbone.Config{NoInit: true})
		if err != nil {
			return nil, err
		}
		return ssl.NewBYOL(online, target, seed), nil
	}
	if !slices.Contains(Methods, name) {
		return nil, fmt.Errorf("unknown method %q (known: %s)", name, strings.Join(Methods, ", "))
	}
	a, err := n.AssistantNet()
	if err != nil {
		return nil, err
	}
	switch name {
	case ssl.NameDYOL:
		target, err := n.build(a.Name(), backbone.Config{NoInit: true})
		if err != nil {
			return nil, err
		}
		return ssl.NewDYOL(online, a, target, seed), nil
	case ssl.NameDiSiam, ssl.NameDiSiamPlus:
		views := 2
		if name == ssl.NameDiSiamPlus {
			views = viewsOr4(n.Views)
		}
		m := ssl.NewDiSiamPlus(online, a, views, seed)
		n.heads(&m.OnlineProjector, &m.OnlinePredictor, online, "", seed)
		n.heads(&m.AssistantProjector, &m.AssistantPredictor, a, "assistant_", seed)
		return m, nil
	}
	return nil, fmt.Errorf("unknown method %q (known: %s)", name, strings.Join(Methods, ", "))
}

// heads replaces the SimSiam projector and predictor (named
// prefix+"projection_head", prefix+"prediction_head", both from seed as
// the ssl constructors do) when ProjectionLayers or HeadDim asks for
// other sizes.
func (n *Networks) heads(proj, pred *ssl.Head, bb backbone.Backbone, prefix string, seed uint64) {
	if n.ProjectionLayers == 0 && n.HeadDim == 0 {
		return
	}
	h, layers := ssl.SimSiamHidden, 2
	if n.HeadDim != 0 {
		h = n.HeadDim
	}
	if n.ProjectionLayers != 0 {
		layers = n.ProjectionLayers
	}
	*proj = ssl.NewMLP(prefix+"projection_head", ssl.SimSiamProjector(bb.FeatureDim(), h, h, layers), seed)
	*pred = ssl.NewMLP(prefix+"prediction_head", ssl.SimSiamPredictor(h, max(h/4, 1), h), seed)
}

// Stages builds the ssl.Stages of a plan over these networks, with base
// learning rate lr (0: the method's default) and, when patience > 0, a
// kNN plateau rule (ssl.Plateau) ending every stage but the last early.
func (n *Networks) Stages(plan []StagePlan, lr float64, patience int, threshold float64) ([]ssl.Stage, error) {
	switch {
	case !(lr >= 0) || math.IsInf(lr, 0):
		return nil, fmt.Errorf("learning rate %v, want a finite number ≥ 0 (0: the method's default)", lr)
	case patience < 0:
		return nil, fmt.Errorf("switch patience %d, want ≥ 0", patience)
	case patience > 0 && (!(threshold >= 0) || math.IsInf(threshold, 0)):
		return nil, fmt.Errorf("switch threshold %v, want a finite number ≥ 0", threshold)
	case n.Views != 0 && n.Views < 2:
		return nil, fmt.Errorf("%d views, want 0 (the method's default) or at least 2", n.Views)
	}
	var stages []ssl.Stage
	for i, p := range plan {
		m, err := n.Method(p.Method)
		if err != nil {
			return nil, err
		}
		st := ssl.Stage{Method: m, Epochs: p.Epochs, BaseLR: lr}
		if patience > 0 && i < len(plan)-1 {
			st.Switch = &ssl.Plateau{Patience: patience, Threshold: threshold}
		}
		stages = append(stages, st)
	}
	return stages, nil
}

func viewsOr4(v int) int {
	if v <= 0 {
		return ssl.DefaultDiSiamPlusViews
	}
	return v
}
