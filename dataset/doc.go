// Package dataset holds labeled image collections in memory and turns them
// into batches of augmented views for self-supervised training.
//
// # Datasets
//
// A Dataset is indexed: Len images, Image(i) as an augment.Image (CHW
// float32 in [0, 1]), Label(i) in [0, Classes()). Datasets are read-only
// after construction, so the Loader's workers call them concurrently.
// Every file format decodes to a U8Set, which keeps 8-bit samples (CIFAR-10's
// 50,000 training images take 150 MB, not 600 MB as float32) and
// implements ImageDecoder: DecodeImage(i, dst) converts image i into a
// caller-owned buffer (b / 255, as torchvision's ToTensor), so the Loader
// allocates nothing per image. ClassNamer gives class names where known.
//
// Subset, Head, Shuffle (a deterministic permutation from a seed) and
// PerClass (a class-balanced subset) select images; RGB presents a
// grayscale set (Fashion-MNIST, MNIST) as three identical channels.
//
// # Spec strings
//
// Every example and tool names its data with one string, parsed by Open
// (SpecUsage is the help text):
//
//	synthetic                      the embedded set (below); options train=N, test=N, size=N, seed=N
//	cifar10:DIR                    CIFAR-10 binary version
//	cifar100:DIR                   CIFAR-100 binary version; option coarse (20 superclasses)
//	fashion-mnist[:DIR]            Fashion-MNIST, default DIR /usr/share/datasets/fashion-mnist
//	mnist:DIR                      MNIST
//	folder:DIR                     an image folder; option size=N (default 224)
//	options of all: limit=N (the first N images), rgb (gray as 3 channels)
//
// for example "fashion-mnist,rgb,limit=10000" or "folder:/data/coco,size=64".
// Each has a Train and a Test split. Unknown names and options are errors
// reported before anything is loaded, never silently ignored.
//
// # Formats and where to get them
//
// CIFAR-10 and CIFAR-100 (https://www.cs.toronto.edu/~kriz/cifar.html):
// download cifar-10-binary.tar.gz or cifar-100-binary.tar.gz and unpack
// it; DIR is the unpacked folder (cifar-10-batches-bin with
// data_batch_1.bin … data_batch_5.bin and test_batch.bin; cifar-100-binary
// with train.bin and test.bin) or its parent. Records are a label byte (two
// for CIFAR-100: coarse, fine) and 3072 pixel bytes in CHW order. Files
// must hold a whole number of records, at most 10,000 (CIFAR-10) or 50,000
// (CIFAR-100), with labels in range.
//
// Fashion-MNIST and MNIST use LeCun's IDX format (train-images-idx3-ubyte,
// train-labels-idx1-ubyte, t10k-…), gzipped or not (detected from the
// content). On Debian-based machines `apt-get install dataset-fashion-mnist`
// installs Fashion-MNIST in /usr/share/datasets/fashion-mnist, the default
// of the fashion-mnist spec; otherwise download it from
// https://github.com/zalandoresearch/fashion-mnist. The data must be
// exactly as long as the header declares.
//
// NumPy arrays: ReadNpy and LoadNpyFile read a .npy file (format 1.0, 2.0
// or 3.0, float32 or float64, C order) into an Array of float32, the way to
// bring images exported from Python (examples/embed's -input). The file
// must hold exactly the data its header declares, and every value must be
// finite: the first NaN or infinity is reported with its index.
//
// Image folders follow torchvision's ImageFolder: DIR/<class>/…/<file> with
// classes in sorted order, PNG, JPEG and GIF decoded by the standard
// library, converted to RGB and resized to size x size with PyTorch's
// antialiased bilinear filter; folder:DIR takes the training split from
// DIR/train when it exists (else DIR itself) and the test split from
// DIR/val or DIR/test. This serves COCO and ImageNet subsets (thesis
// Section 4.2).
//
// # Errors
//
// Parsers return errors that name the file and, where it applies, the
// record, and wrap ErrTruncated, ErrOversized or ErrCorrupt for errors.Is:
//
//	dataset: cifar10: /data/cifar/data_batch_3.bin: record 9999: only 100 of its 3073 bytes (…): truncated
//	dataset: idx: /data/fmnist/train-labels-idx1-ubyte.gz: record 17: label 12 outside [0, 10): corrupt
//	dataset: idx: /data/fmnist/t10k-images-idx3-ubyte.gz: trailing data after gzip stream, at byte 4422102 of the file: corrupt
//	dataset: npy: x.npy: shape [1 3 4 4] of <f4 needs 192 data bytes after the 128-byte header, the file has 40: truncated
//	dataset: npy: x.npy: element 21 (index [0 1 1 1]) is NaN; the values must be finite: corrupt
//
// # Size limits
//
// No size read from a file header or a spec string reaches make
// unchecked. Products of dimensions are computed with overflow checks (a
// shape whose product wraps around to a small number would otherwise pass
// a length check and index out of range later) and bounded: an IDX file's
// data by MaxIDXBytes, a .npy file's by MaxNpyBytes, a CIFAR file by the
// size of its largest valid batch (checked from the file size, before
// reading), an image file's header by 2^26 pixels, an image side (the
// size options, LoadFolder) by MaxImageSide, and a whole set of images
// (a folder, the synthetic set) by the machine's physical memory, since
// the Go runtime reports running out of memory as a fatal error no caller
// can recover from. Where the file size is known, it is compared with what
// the header declares before the data is allocated; otherwise memory grows
// with the data actually read.
//
// Every binary parser has a fuzz target (FuzzDecodeCIFAR10,
// FuzzDecodeCIFAR100, FuzzReadIDX, FuzzDecodeImageFile, FuzzReadNpy), and
// so has the spec parser (FuzzParseSpec); their seed corpora run with go
// test.
//
// # The synthetic set
//
// Synthetic generates, in code and in a fraction of a second, 10 classes of
// shapes (SyntheticClasses: disk, square, triangle, plus, ring, diamond,
// cross, frame, stripes, checker) with random colors, positions and
// scales on a plain gray background: the class is the shape, everything
// else a nuisance. Two views of an image share the shape's color, so the
// example programs train on its outlines (examples/internal/runner's
// Outlines and ShapeViews; see Synthetic). It is the default dataset of the quickstart
// and of tests that must run anywhere (5000 training and 1000 test images
// of 32 x 32 by default), deterministic from its seed.
//
// # Loader
//
// NewLoader makes batches of M augmented views (LoaderConfig.Views, e.g.
// augment.MultiView(2, augment.SimSiamView(32, augment.CIFAR10Norm))).
// Loader.Epoch starts the workers for one epoch; Next returns the batches
// in order. A Batch holds, per view j, Views[j]: Size images of
// Shapes[j] = {C, H, W} as float32 NCHW, ready to back a tensor, plus
// Labels and the dataset Indices.
//
// Ownership and memory: batches live in a pool of Prefetch buffers
// (default Workers + 1) that the Loader reuses, so a batch is valid only
// until the next Next or Close, and memory stays at Prefetch batches
// whatever the speed of the consumer. Copy what must outlive the step.
//
// Reproducibility: the epoch order is a permutation drawn from (Seed,
// epoch) when Shuffle is set, and every image's augmentation is drawn from
// its own stream (Seed, epoch, dataset index) (see augment.SampleRand).
// The batches are therefore bit-identical for any number of workers, and
// an image's views do not even depend on the batch size.
//
// Stopping: Close stops the workers and waits for them; cancelling the
// context given to Epoch does the same from outside, Next then returns
// false and Err the context's error. DropLast drops a last partial batch,
// as training usually does.
//
// Speed: on one core the Loader produces 12,000 to 19,000 SimSiam views of
// 32 x 32 per second, depending on the machine's load (BenchmarkLoader,
// ../bench/data.md).
package dataset
