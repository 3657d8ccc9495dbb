// Command detect fine-tunes torchvision's FCOS detector on any backbone
// with the shared training loop and measures COCO mAP: the thesis'
// detection transfer protocol (Section 4.4: initialize the detector's
// backbone with pretrained weights, fine-tune the whole detector, report
// mAP@0.5), from a random initialization and from an SSL-pretrained
// encoder side by side.
//
// Usage:
//
//	go run ./examples/quickstart                  # writes quickstart-out/encoder.safetensors
//	go run ./examples/detect                      # random init vs that encoder, synthetic shapes
//	go run ./examples/detect -weights none        # random init only
//	go run ./examples/detect -data coco:/data/train2017,/data/instances_train2017.json,/data/val2017,/data/instances_val2017.json \
//	    -backbone resnet50 -weights resnet50-ssl.safetensors -size 800 -max-size 1333 -batch 16 -epochs 26 -channels 256 -head-convs 4
//
//	go run ./examples/detect -mode predict -backbone resnet18-w16 -classes 10 -weights detect-out/fcos_pretrained.safetensors \
//	    -input images.npy -output dets.json
//	go run ./examples/detect -mode eval -gt gt.json -results dets.json
//
// # Training (-mode train, the default)
//
// The data (-data) are the embedded SyntheticShapes set (package
// detect/synth: several anti-aliased shapes per image, the classes the
// shape kinds, boxes of 8 pixels to nearly the image side) with -train
// training and -test validation images of -size pixels, or a COCO-format
// set, "coco:IMAGES_DIR,ANNOTATIONS.json" (JPEG or PNG files, decoded
// with Go's image packages) with an optional second pair for validation;
// without it the last -test images (0: a tenth) are held out.
//
// Each run builds the backbone (-backbone, any name of package backbone;
// ResNets take a width suffix), loads -weights into it before the
// detector is built (an encoder written by the quickstart or any
// pretraining program: torchvision's state_dict names), and fine-tunes
// FCOS (detect.NewFCOS: FPN with P6/P7, -channels wide, a head of
// -head-convs conv-GroupNorm-ReLU layers per tower) with torchvision's
// detection recipe (detect.Recipe): SGD with momentum 0.9 and weight
// decay 1e-4, a linear warm-up from a factor 1e-3 over the first epoch's
// iterations, ×0.1 at 16/26 and 22/26 of the epochs; horizontal flips
// (probability 0.5), GeneralizedRCNNTransform's resize (-size, -max-size)
// and normalization; gradient-norm clipping with -clip. -freeze none (the
// default) fine-tunes the whole detector, as the thesis does (Section
// 4.4); "auto" freezes BatchNorm and the stem and first stage
// (trainable_backbone_layers 3) of a pretrained backbone and nothing of a
// random one, as torchvision's fcos_resnet50_fpn does; "torchvision"
// always freezes.
//
// -images chooses what the networks see: "rgb" is torchvision's input
// (ImageNet mean and std); "outlines" presents every image as its
// outline (grayscale minus a blur of σ 3 pixels, as the quickstart
// pretrains, normalized by the outlines' statistics) to both runs, so
// that the pretrained encoder sees the kind of input it learned from;
// "auto", the default, is outlines for the synthetic set and rgb
// otherwise.
//
// After every -eval-every epochs the detector is evaluated on the
// validation images with COCO's protocol (detect/coco.Evaluator:
// pycocotools' COCOeval, 12 statistics). The command prints progress,
// then both runs' mAP (IoU 0.50:0.95) and mAP@0.5 side by side, and
// writes into -out:
//
//	detect.png                 loss (left) and mAP@0.5 (right) over the epochs, both runs
//	metrics_<run>.csv          per epoch: loss, the three FCOS losses, learning rate, COCO statistics
//	fcos_<run>.safetensors     the fine-tuned detector (torchvision's FCOS state_dict names)
//	results.json               the final statistics of both runs
//
// A non-finite loss stops a run with an error naming the epoch and step
// (train.DivergedError), and a degenerate box in the data is an error
// naming the image and the object before anything trains.
//
// # Prediction (-mode predict)
//
// Loads a detector saved by a training run (-backbone, -classes,
// -channels and -head-convs as it was trained) and runs it in Eval mode on
// -input, an .npy float32 array [N, 3, H, W] already resized and
// normalized (no transform is applied), and writes -output: a JSON list
// with one object per image, {"boxes": [[x1, y1, x2, y2], ...],
// "scores": [...], "labels": [...]}, after torchvision's postprocessing
// (score > 0.2, top 1000 per level, class-wise NMS at 0.6, the best 100)
// in torchvision's order (descending score); labels are 0-based class
// indices.
//
// # Evaluation (-mode eval)
//
// Evaluates COCO results (-results, the list COCO.loadRes reads) against
// a COCO ground truth (-gt) and prints the 12 statistics, one "name value"
// per line in pycocotools' summary order (AP, AP50, AP75, APs, APm, APl,
// AR1, AR10, AR100, ARs, ARm, ARl).
//
// # The default run
//
// At its defaults (256 training and 64 validation images of 96×96 as
// outlines, the narrow ResNet-18 "resnet18-w16" the quickstart
// pretrains, FPN and head 64 wide with 2 convolutions per tower, 10
// epochs of batch 8 at learning rate 0.04, seed 1) both runs together
// take about 2 minutes on two lightly loaded CPU cores. Measured: mAP@0.5
// 8.6% from the random initialization, 14.6% from the quickstart's
// current encoder (mAP 3.2% and 5.5%; 17.9% and 7.7% with the encoder of
// the earlier quickstart defaults; examples/README.md has the tables). The
// quickstart's encoder is pretrained on 32×32 images of single shapes,
// the detector sees 96×96 scenes of several shapes of 8 to 86 pixels: a
// transfer across data, as the thesis' COCO-pretrained backbones are
// transferred to driving scenes and OpenImages. With the images in
// colour (-images rgb) the same encoder gives no advantage (mAP@0.5 6.8%
// against 7.4% at random), nor in colour with torchvision's freezing
// (-images rgb -freeze auto -lr 0.02: 4.8% against 6.5%): its BatchNorm
// statistics and filters belong to outline images.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/examples/internal/runner"
)

func main() { runner.Main("detect", run) }

// Modes of -mode.
const (
	modeTrain, modePredict, modeEval = "train", "predict", "eval"
	defaultWeights                   = "quickstart-out/encoder.safetensors"
)

// config is the command line.
type config struct {
	mode                       string
	backbone, weights, data    string
	freeze, out, images        string
	input, output, gt, results string
	train, test, size, maxSize int
	epochs, batch, evalEvery   int
	classes, channels, convs   int
	lr, clip                   float64
	seed                       uint64
	// weightsSet is true when -weights was given.
	weightsSet bool
	logEvery   time.Duration
}

func flags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("detect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.mode, "mode", modeTrain, "train (fine-tune and compare), predict (detections of an .npy batch) or eval (COCO statistics of results)")
	fs.StringVar(&c.backbone, "backbone", "resnet18-w16", "backbone: "+strings.Join(backbone.Names(), ", ")+"; ResNets take a width suffix (resnet18-w16)")
	fs.StringVar(&c.weights, "weights", defaultWeights, "train: pretrained backbone weights (.safetensors, torchvision names) for the second run, none for the random run only; predict: the detector's weights")
	fs.StringVar(&c.data, "data", "synthetic", "synthetic, or coco:IMAGES_DIR,ANNOTATIONS.json[,VAL_IMAGES_DIR,VAL_ANNOTATIONS.json]")
	fs.IntVar(&c.train, "train", 256, "synthetic training images")
	fs.IntVar(&c.test, "test", 64, "synthetic validation images (coco without a validation pair: held-out images, 0: a tenth)")
	fs.IntVar(&c.size, "size", 96, "synthetic image side, and the resize's min_size")
	fs.IntVar(&c.maxSize, "max-size", 0, "the resize's max_size (0: -size); the batch tensor is max-size rounded up to 32")
	fs.IntVar(&c.epochs, "epochs", 10, "fine-tuning epochs")
	fs.IntVar(&c.batch, "batch", 8, "images per optimizer step")
	fs.Float64Var(&c.lr, "lr", 0.04, "base learning rate (0: torchvision's 0.01·batch/16)")
	fs.Float64Var(&c.clip, "clip", 0, "clip the gradients' total norm to this (0: no clipping)")
	fs.IntVar(&c.channels, "channels", 64, "width of the FPN and the head (a multiple of 32; torchvision: 256)")
	fs.IntVar(&c.convs, "head-convs", 2, "conv-GroupNorm-ReLU layers per head tower (torchvision: 4)")
	fs.StringVar(&c.images, "images", "auto", "rgb (ImageNet-normalized, torchvision), outlines (grayscale minus blur, normalized by their statistics: the input the quickstart pretrains on; both runs) or auto (outlines for the synthetic set)")
	fs.StringVar(&c.freeze, "freeze", "none", "none (fine-tune everything, the thesis' protocol), auto (a pretrained backbone: frozen BatchNorm, stem and layer1, as torchvision; random: nothing), torchvision (always)")
	fs.IntVar(&c.evalEvery, "eval-every", 1, "evaluate COCO mAP every this many epochs (and at the end)")
	fs.IntVar(&c.classes, "classes", 0, "predict: the detector's number of classes")
	fs.StringVar(&c.input, "input", "", "predict: .npy float32 [N, 3, H, W], resized and normalized")
	fs.StringVar(&c.output, "output", "detections.json", "predict: output JSON")
	fs.StringVar(&c.gt, "gt", "", "eval: COCO ground-truth JSON")
	fs.StringVar(&c.results, "results", "", "eval: COCO results JSON")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of the data, the detector's initialization and the augmentations")
	fs.StringVar(&c.out, "out", "detect-out", "train: output directory")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	fs.Visit(func(f *flag.Flag) { c.weightsSet = c.weightsSet || f.Name == "weights" })
	switch c.mode {
	case modeTrain:
		switch {
		case c.epochs <= 0 || c.batch <= 0 || c.size <= 0 || c.train < 0 || c.test < 0 || c.evalEvery < 0:
			return c, fmt.Errorf("-epochs %d, -batch %d, -size %d, -train %d, -test %d, -eval-every %d: need positive sizes", c.epochs, c.batch, c.size, c.train, c.test, c.evalEvery)
		case c.lr < 0 || c.clip < 0:
			return c, fmt.Errorf("-lr %v, -clip %v: need ≥ 0", c.lr, c.clip)
		case c.freeze != "auto" && c.freeze != "none" && c.freeze != "torchvision":
			return c, fmt.Errorf("-freeze %q: auto, none or torchvision", c.freeze)
		case c.images != "rgb" && c.images != "outlines" && c.images != "auto":
			return c, fmt.Errorf("-images %q: auto, rgb or outlines", c.images)
		}
	case modePredict:
		if c.input == "" || c.classes <= 0 || !c.weightsSet {
			return c, errors.New("-mode predict needs -input, -classes and -weights (the detector's)")
		}
	case modeEval:
		if c.gt == "" || c.results == "" {
			return c, errors.New("-mode eval needs -gt and -results")
		}
	default:
		return c, fmt.Errorf("-mode %q: train, predict or eval", c.mode)
	}
	if c.channels <= 0 || c.channels%32 != 0 || c.convs <= 0 {
		return c, fmt.Errorf("-channels %d (a positive multiple of 32), -head-convs %d", c.channels, c.convs)
	}
	return c, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := flags(args, stderr)
	if err != nil {
		return err
	}
	switch c.mode {
	case modePredict:
		return predict(c, stdout)
	case modeEval:
		return evaluate(c, stdout)
	}
	if c.weights != "" && c.weights != "none" {
		if _, err := os.Stat(c.weights); err != nil {
			if c.weightsSet {
				return fmt.Errorf("-weights: %w", err)
			}
			fmt.Fprintf(stdout, "no %s (run go run ./examples/quickstart first): fine-tuning from a random initialization only\n\n", c.weights)
			c.weights = ""
		}
	}
	if c.weights == "none" {
		c.weights = ""
	}
	if c.images == "auto" {
		c.images = "rgb"
		if c.data == "synthetic" {
			c.images = "outlines"
		}
	}
	_, err = compare(ctx, c, stdout)
	return err
}
