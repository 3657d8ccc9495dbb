// Package augment implements the image augmentations of self-supervised
// learning (thesis Section 4.3) with torchvision 0.14's semantics, on
// float32 images, fast enough that training never waits for them.
//
// # Images
//
// An Image is C x H x W float32 samples in [0, 1] (after Normalize, any
// range), channel planes one after the other: the sample of channel c at
// (x, y) is Pix[(c*H+y)*W+x]. This is the layout of one image of a
// PyTorch NCHW batch, so a batch is images laid end to end.
//
// # Functional ops
//
// Deterministic ops mirror torchvision.transforms.functional on float
// tensors and match it number for number (the golden test checks every op
// against torchvision 0.14's float64 results in testdata/augment.json.gz
// and testdata/extra.json within 1e-5; the largest error measured is
// 9e-7):
//
//	ResizedCrop       F.resized_crop, bilinear, align_corners=False, no antialias,
//	                  zero padding where the rectangle leaves the image
//	Rescale           F.resize, bilinear, with or without PyTorch's antialias filter
//	HFlip             F.hflip
//	AdjustBrightness  F.adjust_brightness (blend with black, clamped)
//	AdjustContrast    F.adjust_contrast (blend with the grayscale mean, clamped)
//	AdjustSaturation  F.adjust_saturation (blend with each pixel's gray, clamped)
//	AdjustHue         F.adjust_hue (torchvision's tensor RGB->HSV->RGB, float32)
//	ToGrayscale       F.rgb_to_grayscale: 0.2989 R + 0.587 G + 0.114 B
//	Blur              F.gaussian_blur, torchvision's kernel, reflect padding
//	Solarize          F.solarize
//	Standardize       F.normalize
//	CenterCropRect    F.center_crop's rectangle (crop it with ResizedCrop)
//
// The grayscale weights are torchvision's tensor ones (LumaR = 0.2989), not
// PIL's 0.299: the golden values were made with them and differ by up to
// 1e-4 otherwise. Each op writes to a dst image of the output's size; the
// pointwise ops (flip, color, solarize, standardize) accept dst == src,
// the resampling ones (ResizedCrop, Rescale, Blur) need a separate dst and
// panic on overlap. Misuse (mismatched shapes, an even blur kernel, a hue
// factor outside [-0.5, 0.5]) is a programmer mistake and panics with an
// "augment: " message.
//
// # Transforms
//
// A Transform is one random step, mirroring torchvision.transforms:
// RandomResizedCrop, RandomHorizontalFlip, ColorJitter (random order of
// its four adjustments), RandomGrayscale, GaussianBlur, RandomSolarize,
// Normalize, Resize, CenterCrop, Grayscale3, Identity, and the combinators
// Compose and RandomApply. They are plain structs whose zero fields mean
// torchvision's defaults (RandomResizedCrop{Size: 32} crops with scale
// (0.08, 1) and ratio (3/4, 4/3); RandomHorizontalFlip{} flips with
// p = 0.5), each documented on its field. Validate checks a pipeline's
// parameters and returns an error naming the faulty step; the Loader calls
// it before starting.
//
// Random draws follow torchvision's algorithms (RandomResizedCrop's ten
// tries with a log-uniform aspect ratio and its central-crop fallback,
// ColorJitter's permutation and factor ranges, RandomApply's u <= p) with
// Go's PCG generator instead of PyTorch's: results match torchvision in
// distribution, not draw for draw. The statistical tests check the
// distributions.
//
// # Buffers
//
// Transform.Apply may work in place and may take storage from a
// Workspace, a per-goroutine set of reusable buffers. Workspace.Run copies
// the source first, so a dataset's image is never modified, and returns a
// result that lives in the workspace until its next use. Once the buffers
// have grown to the largest image, augmenting allocates nothing (the
// presets are checked to make zero allocations per image).
//
// # Determinism
//
// All randomness of one image comes from one *rand.Rand. SampleRand gives
// the stream of (seed, epoch, index): a PCG generator seeded through
// splitmix64 hashes of the three numbers, reseeded without allocating. The
// dataset.Loader draws every image's views from its own stream, so batches
// never depend on the number of goroutines, on scheduling or on the batch
// size. Views draws view 0 first, then view 1, ..., from the same stream,
// so the views of an image are independent yet reproducible.
//
// # Presets and multi-view
//
// SimSiamView (also DiSiamView; used for SimSiam, DiSiam and DiSiam+),
// SimCLRView and BYOLViews give the papers' view distributions, each
// citing its paper; Gaussian blur is left out at 32 x 32 and below, as in
// the CIFAR experiments of those papers. EvalView is the deterministic
// evaluation transform (optionally upsampling, e.g. CIFAR-10 to 224 x 224).
// CIFAR10Norm, CIFAR100Norm, ImageNetNorm, FashionMNISTNorm and MNISTNorm
// are the usual normalization constants. MultiView(M, t) makes the M views
// of SimSiam/DiSiam (M = 2) and FastSiam/DiSiam+ (M > 2); BYOLViews is a
// Views of two different transforms.
//
// # Speed
//
// On one core of the project's 2-core machines a SimSiam view of a
// 32 x 32 image takes 50-160 µs depending on the machine's load (6,000 to
// 20,000 views/s, about 15 times torchvision's tensor pipeline; see
// BenchmarkViews and ../bench/data.md), far more than a training step
// consumes.
package augment
