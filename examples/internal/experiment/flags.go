package experiment

import (
	"errors"
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/dataset"
	"github.com/disiam/disiam/examples/internal/runner"
	"github.com/disiam/disiam/knn"
)

// ThesisSeeds are the seeds of the thesis' Chapter 5 runs.
var ThesisSeeds = []uint64{7, 41, 923}

// Flags are the command-line settings every experiment program shares.
// Set the fields to the program's defaults, then Register them.
type Flags struct {
	Data   string `json:"data"`
	Train  int    `json:"train"` // training images (also the kNN bank); 0: all
	Test   int    `json:"test"`  // kNN query images; 0: all
	Epochs int    `json:"epochs"`
	// MethodEpochs are the epochs of the methods (by ssl name) whose
	// single-stage runs differ from Epochs (the CPU recipe's
	// runner.CPURecipe.MethodEpochs); EpochsFor reads them.
	MethodEpochs map[string]int `json:"method_epochs,omitempty"`
	Seeds        []uint64       `json:"seeds"`
	Backbones    []string       `json:"backbones"`
	Assistant    string         `json:"assistant"`
	Methods      []string       `json:"methods"`
	Batch        int            `json:"batch"`
	// Accumulate splits each batch into micro-batches (gradient
	// accumulation, the thesis' COCO runs); 0 or 1: none.
	Accumulate int     `json:"accumulate,omitempty"`
	LR         float64 `json:"lr"`       // base learning rate; 0: the method's default
	HeadDim    int     `json:"head_dim"` // runner.Networks.HeadDim; 0: the papers' 2048
	Views      int     `json:"views"`    // DiSiam+ views; 0: 4
	// Augment is the view set (runner.AugmentShapes or AugmentMethod;
	// runner.AugmentAuto before Check resolves it).
	Augment string `json:"augment"`
	// Optimizer is runner.OptimizerThesis, OptimizerLARS or OptimizerSGD
	// ("auto" before Check resolves it: lars on the synthetic set, the
	// thesis' recipe otherwise).
	Optimizer string `json:"optimizer"`
	// Warmup is the warmup epochs of the lars and sgd recipes.
	Warmup    int    `json:"warmup"`
	EvalEvery int    `json:"eval_every"`
	K         int    `json:"knn_k"`
	Workers   int    `json:"workers"`
	Out       string `json:"out"`
	NoPlots   bool   `json:"no_plots"`
	// Recipe is runner.RecipeAuto (the dataset's runner.CPURecipe where
	// it has one), RecipeNone or RecipeThesis; ApplyRecipe applies it.
	Recipe  string `json:"recipe"`
	Verbose bool   `json:"-"`
}

// Register defines the flags on fs, with the current field values as
// defaults. A program may then register its own flags.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.Data, "data", f.Data, "dataset spec ("+strings.ReplaceAll(dataset.SpecUsage, "\n", "; ")+")")
	fs.IntVar(&f.Train, "train", f.Train, "training images, class-balanced (also the kNN bank; 0: all)")
	fs.IntVar(&f.Test, "test", f.Test, "kNN query images of the test split, class-balanced (0: all)")
	fs.IntVar(&f.Epochs, "epochs", f.Epochs, "epochs per run (the thesis: 800 on CIFAR-10, 250 on COCO)")
	fs.Var((*seedList)(&f.Seeds), "seeds", "comma-separated seeds (the thesis: 7,41,923)")
	fs.Var((*nameList)(&f.Backbones), "backbones", "comma-separated online backbones ("+strings.Join(backbone.Names(), ", ")+"; a suffix -wN narrows a ResNet, -xM an EfficientNet)")
	fs.StringVar(&f.Assistant, "assistant", f.Assistant, "assistant backbone of DiSiam and DiSiam+ (the thesis: resnet34)")
	fs.Var((*nameList)(&f.Methods), "methods", "comma-separated methods ("+strings.Join(runner.Methods, ", ")+")")
	fs.IntVar(&f.Batch, "batch", f.Batch, "images per optimizer step (the thesis: 1024 unless varied)")
	fs.IntVar(&f.Accumulate, "accumulate", f.Accumulate, "micro-batches per optimizer step (gradient accumulation; -batch must be a multiple)")
	fs.Float64Var(&f.LR, "lr", f.LR, "base learning rate before batch scaling (0: 0.03, SimCLR 0.075; thesis Section 4.3)")
	fs.IntVar(&f.HeadDim, "head-dim", f.HeadDim, "width of the SimSiam-style heads and SimCLR's hidden layer (0: the papers' 2048)")
	fs.IntVar(&f.Views, "views", f.Views, "views per image of DiSiam+ (0: 4)")
	fs.StringVar(&f.Augment, "augment", f.Augment, "views: shapes (the images' outlines; crops, flips, jitter, inversion, 90° rotations), method (each method's own views), auto (shapes on the synthetic set, method otherwise)")
	fs.StringVar(&f.Optimizer, "optimizer", f.Optimizer, "thesis (SGD, SimCLR with LARS; Section 4.3), lars (LARS for every method, base lr 0.075·sqrt(batch)), sgd (SGD for every method), auto (lars on the synthetic set, thesis otherwise)")
	fs.IntVar(&f.Warmup, "warmup", f.Warmup, "warmup epochs of -optimizer lars and sgd")
	fs.IntVar(&f.EvalEvery, "knn-every", f.EvalEvery, "measure the kNN accuracy every N epochs")
	fs.IntVar(&f.K, "knn-k", f.K, "neighbours of the kNN classifier (the thesis: 200)")
	fs.IntVar(&f.Workers, "workers", f.Workers, "data-loading goroutines (0: GOMAXPROCS); never changes results")
	fs.StringVar(&f.Out, "out", f.Out, "output folder")
	fs.BoolVar(&f.NoPlots, "noplots", f.NoPlots, "skip the PNG plots")
	fs.BoolVar(&f.Verbose, "v", f.Verbose, "print the trainer's progress lines")
	fs.StringVar(&f.Recipe, "recipe", f.Recipe, "auto (the dataset's CPU recipe where it has one, e.g. fashion-mnist: backbones, sizes, epochs, LARS; flags given here win), none (the defaults shown here), thesis (the thesis' optimization, the papers' 2048-unit heads, each method's views)")
}

// ApplyRecipe sets the settings that the command line (fs, parsed) did
// not give to those of -recipe: for auto on a dataset with a
// runner.CPURecipe its backbones (the ResNet, with the EfficientNet
// stand-in first when both are wanted; not when the program's default
// Backbones is nil, each study's own), assistant, sizes, epochs, batch,
// warmup, head width and LARS; for thesis the thesis' optimizer, the
// papers' heads and each method's views.
func (f *Flags) ApplyRecipe(fs *flag.FlagSet, both bool) error {
	set := runner.SetFlags(fs)
	put := func(name string, apply func()) {
		if !set[name] {
			apply()
		}
	}
	switch f.Recipe {
	case runner.RecipeNone:
	case runner.RecipeAuto, "":
		r, ok := runner.RecipeFor(f.Data)
		if !ok {
			return nil
		}
		if f.Backbones != nil {
			put("backbones", func() {
				f.Backbones = []string{r.Backbone}
				if both {
					f.Backbones = []string{r.EfficientNet, r.Backbone}
				}
			})
		}
		put("assistant", func() { f.Assistant = r.Assistant })
		put("train", func() { f.Train = r.Train })
		put("test", func() { f.Test = r.Test })
		put("epochs", func() { f.Epochs, f.MethodEpochs = r.Epochs, r.MethodEpochs })
		put("batch", func() { f.Batch = r.Batch })
		put("warmup", func() { f.Warmup = r.Warmup })
		put("head-dim", func() { f.HeadDim = r.HeadDim })
		put("optimizer", func() { f.Optimizer = runner.OptimizerLARS })
		if f.Optimizer == runner.OptimizerLARS {
			put("lr", func() { f.LR = r.LR })
		}
	case runner.RecipeThesis:
		put("optimizer", func() { f.Optimizer = runner.OptimizerThesis })
		put("head-dim", func() { f.HeadDim = 0 })
		put("augment", func() { f.Augment = runner.AugmentMethod })
	default:
		return fmt.Errorf("-recipe %q: auto, none or thesis", f.Recipe)
	}
	return nil
}

// EpochsFor returns the epochs of a single-stage run of method: its
// MethodEpochs entry, or Epochs.
func (f *Flags) EpochsFor(method string) int {
	if n, ok := f.MethodEpochs[method]; ok {
		return n
	}
	return f.Epochs
}

// EpochsText describes the epochs of the runs: "30 epochs", or with
// MethodEpochs "30 epochs (DiSiam+ 24)".
func (f *Flags) EpochsText() string {
	s := fmt.Sprintf("%d epochs", f.Epochs)
	var other []string
	for _, m := range f.Methods {
		if n := f.EpochsFor(m); n != f.Epochs {
			other = append(other, fmt.Sprintf("%s %d", MethodTitle(m), n))
		}
	}
	if len(other) > 0 {
		s += " (" + strings.Join(other, ", ") + ")"
	}
	return s
}

// Rules are the rules (runner.Validate) of the flags Register defines
// beyond runner.Standard's: the view sets and optimizers, a kNN
// measurement at least every epoch count, an output folder. A program
// passes them to runner.Parse with its own.
var Rules = runner.Rules{
	"augment":   runner.OneOf(runner.AugmentAuto, runner.AugmentShapes, runner.AugmentMethod),
	"optimizer": runner.OneOf(OptimizerAuto, runner.OptimizerThesis, runner.OptimizerLARS, runner.OptimizerSGD),
	"knn-every": runner.AtLeast(1),
	"out":       runner.NonEmpty,
}

// Check validates the settings: known backbones and methods, positive
// sizes.
func (f *Flags) Check() error {
	switch {
	case f.Epochs <= 0:
		return fmt.Errorf("-epochs %d", f.Epochs)
	case f.Batch < 2:
		return fmt.Errorf("-batch %d: at least 2", f.Batch)
	case f.Train < 0 || f.Test < 0:
		return errors.New("-train and -test must be >= 0")
	case len(f.Seeds) == 0:
		return errors.New("no seeds")
	case f.Accumulate < 0 || f.Accumulate > 1 && f.Batch%f.Accumulate != 0:
		return fmt.Errorf("-accumulate %d: -batch %d must be a multiple", f.Accumulate, f.Batch)
	case f.LR < 0 || f.HeadDim < 0 || f.Views < 0 || f.EvalEvery <= 0 || f.K <= 0:
		return errors.New("-lr, -head-dim and -views must be >= 0, -knn-every and -knn-k > 0")
	case f.Out == "":
		return errors.New("no -out folder")
	case f.Warmup < 0:
		return fmt.Errorf("-warmup %d", f.Warmup)
	}
	aug, ok := runner.ResolveAugment(f.Augment, f.Data)
	if !ok {
		return fmt.Errorf("-augment %q: auto, shapes or method", f.Augment)
	}
	f.Augment = aug
	switch f.Optimizer {
	case runner.OptimizerThesis, runner.OptimizerLARS, runner.OptimizerSGD:
	case OptimizerAuto, "":
		f.Optimizer = runner.OptimizerThesis
		if runner.IsSynthetic(f.Data) {
			f.Optimizer = runner.OptimizerLARS
		}
	default:
		return fmt.Errorf("-optimizer %q: auto, thesis, lars or sgd", f.Optimizer)
	}
	for _, m := range f.Methods {
		if !slices.Contains(runner.Methods, m) {
			return fmt.Errorf("unknown method %q (known: %s)", m, strings.Join(runner.Methods, ", "))
		}
	}
	names := append(slices.Clone(f.Backbones), f.Assistant)
	for _, n := range names {
		if err := CheckBackbone(n); err != nil {
			return err
		}
	}
	return nil
}

// CheckBackbone returns an error unless backbone.New knows name.
func CheckBackbone(name string) error {
	_, err := backbone.New(name, backbone.Config{NoInit: true})
	return err
}

// OptimizerAuto is the default -optimizer: runner.OptimizerLARS on the
// synthetic set, runner.OptimizerThesis otherwise.
const OptimizerAuto = "auto"

// Defaults returns the settings every experiment starts from: the thesis'
// seeds and kNN rule, one kNN measurement per epoch, automatic views and
// optimizer, 2 warmup epochs for lars and sgd, the dataset's CPU recipe
// (-recipe auto).
func Defaults() Flags {
	return Flags{Seeds: slices.Clone(ThesisSeeds), EvalEvery: 1, K: knn.DefaultK,
		Augment: runner.AugmentAuto, Optimizer: OptimizerAuto, Warmup: 2, Recipe: runner.RecipeAuto}
}

// Stand-ins for the thesis' backbones in the scaled-down defaults: the
// same architectures, narrowed to train in minutes on two cores.
const (
	SmallResNet       = "resnet18-w16"          // ResNet-18 with 16 base channels (0.7M parameters)
	SmallEfficientNet = "efficientnet_b0-x0.25" // EfficientNet-B0 at width ×0.25 (0.3M parameters)
)

// LARSBaseLR is the base learning rate of -optimizer lars when -lr is 0:
// SimCLR's 0.075·sqrt(batch), 0.6 at the small defaults' batch of 64.
const LARSBaseLR = 0.075

// Small returns the scaled-down settings the experiment programs default
// to: the quickstart's recipe, with which DiSiam gains about 20 kNN
// points over the random initialization for every seed tried. That is
// 2,000 training images (also the kNN bank) and 1,000 queries of the
// synthetic set, 24 epochs of batch 64 (744 optimizer steps), shape views
// and LARS (auto) with 3 warmup epochs, heads of width 512, and the narrow
// ResNet-18 as online backbone and as DiSiam's assistant: a DiSiam run
// takes about 2.5 minutes on two CPU cores, SimSiam and SimCLR about half
// that, DiSiam+ (4 views) twice. Shorter runs leave the negative-free
// methods at their random initialization for most seeds (measured: 1,000
// images, 16 epochs of batch 32, DiSiam at seed 1 went from 30.0% to
// 48.4%, at seeds 7 and 41 it stayed at 31-35%), while SimCLR learns
// within a few epochs. Programs then set their seeds, methods and output
// folder.
func Small() Flags {
	f := Defaults()
	f.Data = "synthetic"
	f.Train, f.Test = 2000, 1000
	f.Epochs, f.Batch, f.Warmup = 24, 64, 3
	f.Backbones, f.Assistant = []string{SmallResNet}, SmallResNet
	f.HeadDim = 512
	return f
}

// Describe says in a sentence how the runs are optimized and which views
// they train on.
func (f *Flags) Describe() string {
	var s string
	switch f.Optimizer {
	case runner.OptimizerLARS:
		s = fmt.Sprintf("Every method with LARS (base lr %s·sqrt(batch), %d warmup epochs, cosine)", lrOr(f.LR, LARSBaseLR), f.Warmup)
	case runner.OptimizerSGD:
		s = fmt.Sprintf("Every method with SGD (base lr %s·batch/256, %d warmup epochs, cosine)", lrOr(f.LR, 0.03), f.Warmup)
	default:
		s = fmt.Sprintf("The thesis' optimization (Section 4.3: SGD with base lr %s·batch/256, SimCLR LARS with %s·sqrt(batch))", lrOr(f.LR, 0.03), lrOr(f.LR, 0.075))
	}
	if f.Augment == runner.AugmentShapes {
		return s + ", on the images' outlines with shape views (crops, flips, jitter, inversion, 90° rotations; runner.ShapeViews)."
	}
	return s + ", with each method's own views."
}

func lrOr(lr, def float64) string {
	if lr == 0 {
		lr = def
	}
	return strconv.FormatFloat(lr, 'g', -1, 64)
}

// seedList is a flag.Value of comma-separated seeds.
type seedList []uint64

func (s *seedList) String() string {
	if s == nil {
		return ""
	}
	parts := make([]string, len(*s))
	for i, v := range *s {
		parts[i] = strconv.FormatUint(v, 10)
	}
	return strings.Join(parts, ",")
}

func (s *seedList) Set(v string) error {
	seeds, err := runner.ParseSeeds(v)
	*s = seeds
	return err
}

// nameList is a flag.Value of comma-separated names.
type nameList []string

func (n *nameList) String() string {
	if n == nil {
		return ""
	}
	return strings.Join(*n, ",")
}

func (n *nameList) Set(v string) error { *n = runner.ParseList(v); return nil }
