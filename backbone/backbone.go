package backbone

import (
	G "gorgonia.org/gorgonia"

	"github.com/disiam/disiam/nn"
)

// Backbone is an image encoder: the network SSL methods train, kNN
// evaluates and detectors build on. Input is [N, 3, H, W] float32 (any H, W
// the architecture can reduce to at least 1x1). Params are named as
// torchvision's state_dict keys, including the classifier, so CountParams
// reproduces thesis Table 4.1; graphs built without Classify never use
// (or train) the classifier's parameters. Classifier and Pyramid are the
// optional extensions, the way image.PalettedImage extends image.Image.
type Backbone interface {
	nn.Module
	// Name is the architecture, e.g. "resnet18", "efficientnet_b0".
	Name() string
	// FeatureDim is the width of Features' output (512 for ResNet-18,
	// 2048 for ResNet-50, 1280 for EfficientNet-B0).
	FeatureDim() int
	// Features returns the globally average-pooled representation
	// [N, FeatureDim], the input of torchvision's classifier.
	Features(x *G.Node) *G.Node
}

// Classifier is a Backbone with a classification layer, as torchvision's
// models have: ResNet's fc, EfficientNet's dropout and linear classifier.
// A user's encoder need not have one; the kNN evaluation of logits and
// the random-initialization study use it where it exists.
type Classifier interface {
	Backbone
	// Classify applies the classifier to Features' output, giving logits
	// [N, Classes].
	Classify(features *G.Node) *G.Node
}

// BatchNormer is a backbone with BatchNorm layers (ResNet, EfficientNet):
// BatchNorms lists them in state_dict order, e.g. to re-estimate their
// running statistics (knn.Extractor.UpdateBatchNorm) or to freeze them.
type BatchNormer interface {
	BatchNorms() []*nn.BatchNorm
}

// Pyramid is a Backbone that offers multi-scale feature maps, which a
// detector's feature pyramid network consumes (every ResNet and
// EfficientNet of this package).
type Pyramid interface {
	Backbone
	// FeatureMaps returns the maps finest first: ResNet C3, C4, C5
	// (strides 8, 16, 32); EfficientNet the outputs of the stages with
	// strides 8, 16 and 32.
	FeatureMaps(x *G.Node) []*G.Node
	// MapChannels are the channel counts of FeatureMaps' outputs.
	MapChannels() []int
}

// Staged is a Backbone whose trunk is a sequence of stages, each feeding
// the next (every ResNet and EfficientNet of this package), for looking
// inside it: the activation statistics of each stage, as examples/bnstats
// prints them.
type Staged interface {
	Backbone
	// StageOutputs returns the stages' names (as in the state_dict:
	// "layer1", "features.3") and their outputs for input x, first stage
	// first; the last is the map that Features pools. It shares the trunk
	// with Features and FeatureMaps on the same x.
	StageOutputs(x *G.Node) ([]string, []*G.Node)
}
