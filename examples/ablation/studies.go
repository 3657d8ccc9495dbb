package main

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/examples/internal/experiment"
	"github.com/disiam/disiam/examples/internal/runner"
	"github.com/disiam/disiam/ssl"
)

// study is one ablation of thesis Section 5.3: a setting varied over
// -values (the groups of its table and plots) for each method (the
// series), over the seeds.
type study struct {
	name    string
	section string // thesis section and figures it mirrors
	title   string
	// axis is the table header of the varied setting.
	axis string
	// values is the default -values; full the thesis-scale command's
	// flags after -study.
	values, full string
	// methods and backbones are the default -methods and -backbones.
	methods, backbones []string
	// jobs returns the job templates of the study (seeds not set).
	jobs func(o *options) ([]experiment.Job, error)
	// byBackbone reports the study as a comparison of series within each
	// backbone (Table 5.4's shape) instead of a setting × method matrix.
	byBackbone bool
}

var (
	// disiam is the default -methods of most studies: the thesis' method
	// alone keeps a study within half an hour on two cores; -methods
	// simsiam,simclr,disiam,disiam+ runs the thesis' set.
	disiam = []string{ssl.NameDiSiam}
	// small backbones: the defaults' stand-ins for EfficientNet-B0 and
	// ResNet-18 that train in minutes on two cores.
	smallEff = experiment.SmallEfficientNet
	smallRes = experiment.SmallResNet
)

// thesisScale are the flags every full-scale command starts with (CIFAR-10,
// 800 epochs, batch 1024 unless varied, full heads, ResNet-34 assistant);
// each study's full adds its seeds and settings.
const thesisScale = "-data cifar10:/data/cifar-10-batches-bin -train 0 -test 0 -epochs 800 -batch 1024 -head-dim 0 -knn-every 10 -assistant resnet34"

var studies = []study{
	{
		name: "batch", section: "5.3.1, Figure 5.17", title: "Batch size", axis: "Batch size",
		values: "32,64,128", full: "-seeds 7,41,923 -backbones efficientnet_b0 -methods simsiam,simclr,disiam,disiam+ -values 64,128,256,512,1024",
		methods: disiam, backbones: []string{smallRes},
		jobs: perMethod(true, func(j *experiment.Job, v string) error {
			b, err := strconv.Atoi(v)
			if err != nil || b < 2 {
				return fmt.Errorf("batch size %q", v)
			}
			j.Batch, j.Group = b, "batch "+v
			return nil
		}),
	},
	{
		name: "lr", section: "5.3.2, Figure 5.18", title: "Learning rate", axis: "Base learning rate",
		values: "0.0375,0.075,0.15", full: "-seeds 7,41 -backbones efficientnet_b0 -methods simsiam,disiam,disiam+ -values 0.01,0.03,0.06,0.1",
		methods: disiam, backbones: []string{smallRes},
		jobs: perMethod(true, func(j *experiment.Job, v string) error {
			lr, err := strconv.ParseFloat(v, 64)
			if err != nil || !(lr > 0) {
				return fmt.Errorf("learning rate %q", v)
			}
			j.LR, j.Group = lr, "lr "+v
			return nil
		}),
	},
	{
		name: "backbone", section: "5.3.3, Figures 5.19-5.22", title: "Backbone size", axis: "Backbone",
		values:  smallRes + ",resnet34-w16",
		full:    "-seeds 7,41,923 -methods simsiam,simclr,disiam,disiam+ -values efficientnet_b0,efficientnet_b1,efficientnet_b2,efficientnet_b3,efficientnet_b4,efficientnet_b5,efficientnet_b6,efficientnet_b7",
		methods: disiam,
		jobs:    perMethod(false, setBackbone),
	},
	{
		name: "arch", section: "5.3.4, Figure 5.25, Table 5.5", title: "Backbone architecture", axis: "Backbone, learning rate",
		values:  smallRes + "," + smallEff,
		full:    "-seeds 7,41,923 -methods simsiam,simclr,disiam,disiam+ -lrs 0.03,0.06 -values resnet18,resnet34,resnet50,efficientnet_b0,efficientnet_b1,efficientnet_b2,efficientnet_b3",
		methods: disiam,
		jobs:    archJobs,
	},
	{
		name: "assistant", section: "5.3.5, Figures 5.26-5.27", title: "Assistant backbone size", axis: "Assistant",
		values: "resnet18-w16,resnet34-w16", full: "-seeds 7,41,923 -backbones efficientnet_b0 -methods disiam,disiam+ -values resnet18,resnet34,resnet50,resnet101,resnet152",
		methods: []string{ssl.NameDiSiam}, backbones: []string{smallRes},
		jobs: perMethod(true, func(j *experiment.Job, v string) error {
			if err := experiment.CheckBackbone(v); err != nil {
				return err
			}
			j.Assistant, j.Group = v, "assistant "+backbone.Title(v)
			return nil
		}),
	},
	{
		name: "chain", section: "5.3.6, Figures 5.28-5.29", title: "Chaining SimCLR before a negative-free method", axis: "Backbone",
		values: "", full: "-seeds 7,41,923 -backbones efficientnet_b0,resnet18 -methods simsiam,disiam,disiam+ -switch 400",
		methods: disiam, backbones: []string{smallRes},
		jobs: chainJobs, byBackbone: true,
	},
	{
		name: "projection", section: "5.4, Figure 5.32; the thesis pretrained on COCO, here on -data", title: "Projection layers", axis: "Projection layers",
		values: "2,3", full: "-seeds 7,41,923 -backbones efficientnet_b0 -methods simsiam,disiam,disiam+ -values 2,3",
		methods: disiam, backbones: []string{smallRes},
		jobs: perMethod(true, func(j *experiment.Job, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return fmt.Errorf("projection layers %q", v)
			}
			j.ProjectionLayers, j.Group = n, v+" layers"
			return nil
		}),
	},
	{
		name: "pytorch-weights", section: "5.3.7, Figure 5.30", title: "Kaiming initialization vs PyTorch weights, native and 224×224",
		axis: "Strategy", full: "-seeds 7,41,923 -backbones resnet18 -weights resnet18.safetensors -methods disiam+",
		methods: []string{ssl.NameDiSiamPlus}, backbones: []string{"resnet18"},
	},
}

func studyNamed(name string) (study, bool) {
	i := slices.IndexFunc(studies, func(s study) bool { return s.name == name })
	if i < 0 {
		return study{}, false
	}
	return studies[i], true
}

func studyNames() []string {
	var out []string
	for _, s := range studies {
		out = append(out, s.name)
	}
	return out
}

// perMethod returns the jobs function of a study that varies one setting
// (set applies value v to a job and labels its group) for every method
// and, if overBackbones, every online backbone of -backbones (the group
// then names the backbone too when there are several).
func perMethod(overBackbones bool, set func(j *experiment.Job, v string) error) func(*options) ([]experiment.Job, error) {
	return func(o *options) ([]experiment.Job, error) {
		backbones := o.Backbones
		if !overBackbones {
			backbones = []string{""}
		}
		var out []experiment.Job
		for _, bb := range backbones {
			for _, v := range o.Values {
				for _, m := range o.Methods {
					j := experiment.Job{Series: experiment.MethodTitle(m), Backbone: bb,
						Plan: []runner.StagePlan{{Method: m, Epochs: o.EpochsFor(m)}}}
					if err := set(&j, v); err != nil {
						return nil, err
					}
					if len(backbones) > 1 {
						j.Group = backbone.Title(bb) + ", " + j.Group
					}
					out = append(out, j)
				}
			}
		}
		return out, nil
	}
}

// setBackbone makes the value the online backbone.
func setBackbone(j *experiment.Job, v string) error {
	if err := experiment.CheckBackbone(v); err != nil {
		return err
	}
	j.Backbone, j.Group = v, backbone.Title(v)
	return nil
}

// archJobs varies the online backbone over both families and, with
// -lrs, the learning rate: a group per (backbone, learning rate).
func archJobs(o *options) ([]experiment.Job, error) {
	lrs := o.LRs
	if len(lrs) == 0 {
		lrs = []float64{o.LR}
	}
	var out []experiment.Job
	for _, v := range o.Values {
		for _, lr := range lrs {
			for _, m := range o.Methods {
				j := experiment.Job{Series: experiment.MethodTitle(m), Plan: []runner.StagePlan{{Method: m, Epochs: o.EpochsFor(m)}}, LR: lr}
				if err := setBackbone(&j, v); err != nil {
					return nil, err
				}
				j.Group += ", lr " + lrText(lr)
				out = append(out, j)
			}
		}
	}
	return out, nil
}

// chainJobs builds, per online backbone: SimCLR alone, and for each
// negative-free method M of -methods, M alone and SimCLR for -switch
// epochs followed by M for the rest (thesis Section 3.5: the stages
// share the online backbone).
func chainJobs(o *options) ([]experiment.Job, error) {
	f := o.Flags
	sw := o.Switch
	if sw == 0 {
		sw = f.Epochs / 2
	}
	if sw <= 0 || sw >= f.Epochs {
		return nil, fmt.Errorf("-switch %d: the SimCLR stage needs at least one epoch and must leave one of -epochs %d", sw, f.Epochs)
	}
	var out []experiment.Job
	for _, bb := range f.Backbones {
		add := func(plan ...runner.StagePlan) {
			name := runner.ChainName(plan)
			out = append(out, experiment.Job{Group: backbone.Title(bb), Series: experiment.MethodTitle(name), Plan: plan, Backbone: bb})
		}
		add(runner.StagePlan{Method: ssl.NameSimCLR, Epochs: f.Epochs})
		for _, m := range f.Methods {
			if m == ssl.NameSimCLR {
				continue
			}
			add(runner.StagePlan{Method: m, Epochs: f.Epochs})
			add(runner.StagePlan{Method: ssl.NameSimCLR, Epochs: sw}, runner.StagePlan{Method: m, Epochs: f.Epochs - sw})
		}
	}
	return out, nil
}

func lrText(lr float64) string {
	if lr == 0 {
		return "default"
	}
	return strconv.FormatFloat(lr, 'g', -1, 64)
}
