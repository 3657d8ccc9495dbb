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
// (or train) the classifier's parameters.
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
	// Classify applies the classifier (EfficientNet: dropout then linear;
	// ResNet: fc) to Features' output, giving logits [N, Classes].
	Classify(features *G.Node) *G.Node
	// FeatureMaps returns the multi-scale maps a detector's FPN consumes,
	// finest first: ResNet C3, C4, C5 (strides 8, 16, 32); EfficientNet
	// the outputs of the stages with strides 8, 16 and 32.
	FeatureMaps(x *G.Node) []*G.Node
	// MapChannels are the channel counts of FeatureMaps' outputs.
	MapChannels() []int
}
