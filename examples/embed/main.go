// Command embed writes a backbone's eval-mode embeddings (pooled features,
// or classifier logits) of a set of images as a float32 .npy file: the way
// to export representations for downstream code, and to compare disiam
// with PyTorch on the same weights.
//
// Usage:
//
//	go run ./examples/embed -backbone NAME [-weights FILE.safetensors] \
//	    (-input X.npy | -data SPEC [-split test]) -output F.npy \
//	    [-logits] [-size N] [-normalize none|cifar10|cifar100|imagenet|fashion-mnist|mnist] \
//	    [-batch 64] [-labels L.npy] [-prefix backbone.] [-classes N] [-seed 0]
//
// NAME is resnet18 .. resnet152 or efficientnet_b0 .. efficientnet_b7.
// -weights is a state dict by torchvision's names (from PyTorch, or saved
// by disiam); without it the network keeps torchvision's random
// initialization drawn from -seed (the thesis' random baseline). The
// classifier size is taken from the file; classifier weights may be absent
// unless -logits is set. -prefix strips a key prefix, e.g. "backbone." for a
// file that holds a whole SSL model.
//
// -input is an NCHW float32 (or float64) array of shape [N, 3, H, W], used
// as is unless -size or -normalize is given; the file must hold exactly the
// data its header declares, and only finite values (dataset.LoadNpyFile). -data is a dataset spec
// (dataset.SpecUsage: cifar10:DIR, fashion-mnist[:DIR],rgb, folder:DIR,
// synthetic, ...), whose images in [0, 1] are resized to -size x -size
// (bilinear) if -size > 0 and standardized with -normalize; -labels then
// writes their labels as int64 .npy.
//
// The output is [N, D] float32, D = the backbone's feature width (512 for
// ResNet-18) or the number of classes with -logits, row i for image i.
package main

import (
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"codeberg.org/sbinet/npyio/npy"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/augment"
	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/dataset"
	"github.com/disiam/disiam/examples/internal/runner"
	"github.com/disiam/disiam/nn"
	"github.com/disiam/disiam/safetensors"
)

// options are the command's flags.
type options struct {
	backbone, weights, prefix string
	input, data, split        string
	output, labels            string
	logits                    bool
	size, batch, classes      int
	normalize                 string
	seed                      uint64
}

func main() {
	var o options
	flag.StringVar(&o.backbone, "backbone", "", "architecture: "+strings.Join(backbone.Names(), ", "))
	flag.StringVar(&o.weights, "weights", "", "state dict `FILE.safetensors` (default: torchvision's random initialization from -seed)")
	flag.StringVar(&o.prefix, "prefix", "", "key `prefix` of the backbone's tensors in -weights (e.g. backbone.)")
	flag.StringVar(&o.input, "input", "", "images as an NCHW float32 `X.npy` [N, 3, H, W]")
	flag.StringVar(&o.data, "data", "", "dataset `SPEC` (see below)")
	flag.StringVar(&o.split, "split", "test", "dataset split with -data: train or test")
	flag.StringVar(&o.output, "output", "", "output `F.npy`, float32 [N, D]")
	flag.StringVar(&o.labels, "labels", "", "with -data, also write the labels as int64 `L.npy`")
	flag.BoolVar(&o.logits, "logits", false, "write classifier logits instead of pooled features")
	flag.IntVar(&o.size, "size", 0, "resize images to `N`xN before the network (0: as they are)")
	flag.StringVar(&o.normalize, "normalize", "none", "standardize images with the statistics of none, cifar10, cifar100, imagenet, fashion-mnist or mnist")
	flag.IntVar(&o.batch, "batch", 64, "images per forward pass")
	flag.IntVar(&o.classes, "classes", 0, "classifier outputs when -weights does not say (default 1000)")
	flag.Uint64Var(&o.seed, "seed", 0, "seed of the random initialization without -weights")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: embed -backbone NAME (-input X.npy | -data SPEC) -output F.npy [flags]\n\n")
		flag.PrintDefaults()
		fmt.Fprintf(flag.CommandLine.Output(), "\n%s\n", dataset.SpecUsage)
	}
	runner.ParseCommandLine("embed", runner.Rules{
		"backbone": runner.Backbone, "data": runner.OptionalDataSpec, "normalize": runner.OneOf(normNames()...),
		"input": runner.Any, "output": runner.Any, "labels": runner.Any,
	})
	log.SetFlags(0)
	log.SetPrefix("embed: ")
	if flag.NArg() > 0 {
		log.Fatalf("unexpected arguments %q", flag.Args())
	}
	if err := run(o, log.Printf); err != nil {
		log.Fatal(err)
	}
}

var norms = map[string]augment.Normalize{
	"none":          {},
	"cifar10":       augment.CIFAR10Norm,
	"cifar100":      augment.CIFAR100Norm,
	"imagenet":      augment.ImageNetNorm,
	"fashion-mnist": augment.FashionMNISTNorm,
	"mnist":         augment.MNISTNorm,
}

// source yields the images to embed.
type source interface {
	Len() int
	// Fill writes image i, transformed, into dst ([3, H, W]).
	Fill(i int, dst []float32) error
	// Shape is the transformed images' [C, H, W].
	Shape() [3]int
}

func run(o options, logf func(string, ...any)) error {
	if o.backbone == "" || o.output == "" {
		return errors.New("-backbone and -output are required")
	}
	if (o.input == "") == (o.data == "") {
		return errors.New("give exactly one of -input and -data")
	}
	if o.batch <= 0 || o.size < 0 || o.classes < 0 {
		return errors.New("-batch must be positive, -size and -classes not negative")
	}
	if o.size > dataset.MaxImageSide {
		return fmt.Errorf("-size %d exceeds the largest image side %d", o.size, dataset.MaxImageSide)
	}
	norm, ok := norms[o.normalize]
	if !ok {
		return fmt.Errorf("unknown -normalize %q", o.normalize)
	}
	var wf *safetensors.File
	classes := o.classes
	if o.weights != "" {
		var err error
		if wf, err = safetensors.ReadFile(o.weights); err != nil {
			return err
		}
		if n := classesOf(wf, o.prefix); n > 0 {
			if classes > 0 && classes != n {
				return fmt.Errorf("-classes %d, but %s has a %d-class classifier", classes, o.weights, n)
			}
			classes = n
		}
	}
	b, err := backbone.New(o.backbone, backbone.Config{Classes: classes, Seed: o.seed, NoInit: wf != nil})
	if err != nil {
		return err
	}
	if wf != nil {
		if err := load(wf, b, o); err != nil {
			return fmt.Errorf("%s: %w", o.weights, err)
		}
	} else {
		logf("no -weights: %s with torchvision's random initialization (seed %d)", o.backbone, o.seed)
	}
	b.SetTraining(false)

	var src source
	var labels []int64
	if o.input != "" {
		if src, err = readInput(o.input, o.size, norm); err != nil {
			return err
		}
	} else {
		split, err := dataset.ParseSplit(o.split)
		if err != nil {
			return err
		}
		ds, err := dataset.Open(o.data, split)
		if err != nil {
			return err
		}
		dsrc, err := newDatasetSource(ds, o.size, norm)
		if err != nil {
			return fmt.Errorf("%s: %w", o.data, err)
		}
		src = dsrc
		for i := range ds.Len() {
			labels = append(labels, int64(ds.Label(i)))
		}
	}
	start := time.Now()
	out, dim, err := embed(b, src, o.batch, o.logits)
	if err != nil {
		return err
	}
	logf("%s: %d images of %v -> [%d, %d] in %.1fs", o.backbone, src.Len(), src.Shape(), src.Len(), dim, time.Since(start).Seconds())
	if err := writeNpy(o.output, out); err != nil {
		return err
	}
	if o.labels != "" {
		if labels == nil {
			return errors.New("-labels needs -data")
		}
		if err := writeNpy(o.labels, labels); err != nil {
			return err
		}
	}
	return nil
}

// classesOf returns the classifier size stored in f, or 0.
func classesOf(f *safetensors.File, prefix string) int {
	for _, k := range []string{"fc.bias", "classifier.1.bias"} {
		if t, ok := f.Get(prefix + k); ok && len(t.Shape) == 1 {
			return t.Shape[0]
		}
	}
	return 0
}

// load loads wf into b strictly, except that a file without classifier
// weights is accepted when only features are asked for.
func load(wf *safetensors.File, b backbone.Backbone, o options) error {
	err := wf.Load(b, safetensors.LoadOptions{Prefix: o.prefix, AllowExtra: o.prefix != ""})
	var me *safetensors.MismatchError
	if o.logits || !errors.As(err, &me) || len(me.Extra)+len(me.Shape) > 0 {
		return err
	}
	classifier := map[string]bool{}
	for _, p := range b.(interface{ ClassifierParams() []*nn.Param }).ClassifierParams() {
		classifier[o.prefix+p.Name] = true
	}
	for _, name := range me.Missing {
		if !classifier[name] {
			return err
		}
	}
	return wf.Load(b, safetensors.LoadOptions{Prefix: o.prefix, AllowExtra: o.prefix != "", AllowMissing: true})
}

// embed runs b over src in batches of at most batch images and returns the
// [N, D] outputs. The graph is built for a full batch; a last partial batch
// is padded with zero images, harmless in Eval mode where samples do not
// interact.
func embed(b backbone.Backbone, src source, batch int, logits bool) ([][]float32, int, error) {
	n := src.Len()
	if n == 0 {
		return nil, 0, errors.New("no images")
	}
	batch = min(batch, n)
	s := src.Shape()
	cl, ok := b.(backbone.Classifier)
	if logits && !ok {
		return nil, 0, fmt.Errorf("%s has no classifier", b.Name())
	}
	g := G.NewGraph()
	x, buf := nn.Input(g, "x", tensor.Float32, batch, s[0], s[1], s[2])
	var y *G.Node
	if err := nn.Build(func() {
		y = b.Features(x)
		if logits {
			y = cl.Classify(y)
		}
	}); err != nil {
		return nil, 0, err
	}
	prog, err := nn.Compile(g, nil, nil)
	if err != nil {
		return nil, 0, err
	}
	defer prog.Close()
	dim := y.Shape()[1]
	xs := buf.Data().([]float32)
	per := s[0] * s[1] * s[2]
	out := make([][]float32, 0, n)
	for lo := 0; lo < n; lo += batch {
		hi := min(lo+batch, n)
		for i := lo; i < hi; i++ {
			if err := src.Fill(i, xs[(i-lo)*per:(i-lo+1)*per]); err != nil {
				return nil, 0, err
			}
		}
		clear(xs[(hi-lo)*per:])
		if err := prog.Run(); err != nil {
			return nil, 0, fmt.Errorf("batch at image %d: %w", lo, err)
		}
		ys := y.Value().Data().([]float32)
		for i := range hi - lo {
			out = append(out, append([]float32(nil), ys[i*dim:(i+1)*dim]...))
		}
	}
	return out, dim, nil
}

// arraySource is an in-memory NCHW array, optionally transformed.
type arraySource struct {
	n     int
	in    [3]int // stored C, H, W
	out   [3]int
	data  []float32
	xform augment.Transform // nil: copy
	ws    augment.Workspace
}

func (a *arraySource) Len() int      { return a.n }
func (a *arraySource) Shape() [3]int { return a.out }
func (a *arraySource) Fill(i int, dst []float32) error {
	per := a.in[0] * a.in[1] * a.in[2]
	img := augment.Image{C: a.in[0], H: a.in[1], W: a.in[2], Pix: a.data[i*per : (i+1)*per]}
	if a.xform != nil {
		img = a.ws.Run(a.xform, img, nil)
	}
	copy(dst, img.Pix)
	return nil
}

// evalTransform resizes to size x size if size > 0, then standardizes.
func evalTransform(size int, norm augment.Normalize) augment.Transform {
	if size == 0 && len(norm.Mean) == 0 {
		return nil
	}
	return augment.EvalView(size, norm)
}

// readInput reads an [N, 3, H, W] float32 or float64 .npy file with
// dataset.LoadNpyFile, which checks the header against the file size
// before allocating and rejects non-finite values.
func readInput(path string, size int, norm augment.Normalize) (*arraySource, error) {
	arr, err := dataset.LoadNpyFile(path)
	if err != nil {
		return nil, err
	}
	s := arr.Shape
	if len(s) != 4 || s[1] != 3 || s[2] == 0 || s[3] == 0 {
		return nil, fmt.Errorf("%s: array of shape %v, want a C-order [N, 3, H, W] with H, W > 0", path, s)
	}
	a := &arraySource{n: s[0], in: [3]int{3, s[2], s[3]}, data: arr.Data, xform: evalTransform(size, norm)}
	a.out = a.in
	if size > 0 {
		a.out[1], a.out[2] = size, size
	}
	return a, nil
}

// datasetSource reads a dataset's images through the evaluation transform.
type datasetSource struct {
	ds    dataset.Dataset
	shape [3]int
	xform augment.Transform
	ws    augment.Workspace
}

func newDatasetSource(ds dataset.Dataset, size int, norm augment.Normalize) (*datasetSource, error) {
	if ds.Len() == 0 {
		return nil, errors.New("no images")
	}
	img := ds.Image(0)
	if img.C != 3 {
		return nil, fmt.Errorf("images have %d channels; the backbones take 3 (add the option ,rgb)", img.C)
	}
	s := &datasetSource{ds: ds, shape: [3]int{3, img.H, img.W}, xform: evalTransform(size, norm)}
	if size > 0 {
		s.shape[1], s.shape[2] = size, size
	}
	return s, nil
}

func (s *datasetSource) Len() int      { return s.ds.Len() }
func (s *datasetSource) Shape() [3]int { return s.shape }
func (s *datasetSource) Fill(i int, dst []float32) error {
	img := s.ds.Image(i)
	if s.xform != nil {
		img = s.ws.Run(s.xform, img, nil)
	}
	if img.C != s.shape[0] || img.H != s.shape[1] || img.W != s.shape[2] {
		return fmt.Errorf("image %d is %dx%dx%d, image 0 %v: give -size to resize them all", i, img.C, img.H, img.W, s.shape)
	}
	copy(dst, img.Pix)
	return nil
}

// writeNpy writes v (a [][]float32 or []int64) atomically.
func writeNpy(path string, v any) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = npy.Write(tmp, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err = tmp.Chmod(0o644); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// normNames lists the -normalize choices, sorted.
func normNames() []string {
	names := make([]string, 0, len(norms))
	for n := range norms {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
