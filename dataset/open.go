package dataset

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Split selects a dataset's training or test part.
type Split int

const (
	Train Split = iota // the training split
	Test               // the test (or validation) split
)

// String returns "train" or "test".
func (s Split) String() string {
	switch s {
	case Train:
		return "train"
	case Test:
		return "test"
	}
	return fmt.Sprintf("Split(%d)", int(s))
}

// ParseSplit parses "train", or "test" (alias "val").
func ParseSplit(s string) (Split, error) {
	switch strings.ToLower(s) {
	case "train":
		return Train, nil
	case "test", "val":
		return Test, nil
	}
	return 0, fmt.Errorf("dataset: unknown split %q (want train or test)", s)
}

// SpecUsage documents the dataset spec strings Open accepts, for command
// line help.
const SpecUsage = `dataset spec: NAME[:DIR][,OPTION...]
  synthetic            the embedded 10-class shapes set (options train=N, test=N, size=N (at most 8192), seed=N)
  cifar10:DIR          CIFAR-10 binary (DIR holds data_batch_*.bin, test_batch.bin)
  cifar100:DIR         CIFAR-100 binary (DIR holds train.bin, test.bin; option coarse)
  fashion-mnist[:DIR]  Fashion-MNIST IDX files, gzipped or not (default DIR ` + FashionMNISTDir + `)
  mnist:DIR            MNIST IDX files, gzipped or not
  folder:DIR           images in DIR/train/<class>/ and DIR/val/<class>/ (or DIR/test, or DIR/<class>/ for train only); option size=N (default 224, at most 8192)
options for all: limit=N (the first N images of the split), rgb (1-channel images as 3 channels)`

// Open returns the split of the dataset named by spec, whose grammar is
// SpecUsage's: a name, an optional ":DIR", and comma-separated options
// (so DIR cannot contain a comma). Unknown names and options are errors,
// never silently ignored. Examples:
//
//	synthetic
//	synthetic,train=20000,size=64,seed=3
//	cifar10:/data/cifar-10-batches-bin
//	fashion-mnist,rgb,limit=10000
//	folder:/data/imagenette,size=64
func Open(spec string, split Split) (Dataset, error) {
	if split != Train && split != Test {
		return nil, fmt.Errorf("dataset: %s: unknown split %d", spec, int(split))
	}
	p, err := parseSpec(spec)
	if err != nil {
		return nil, err
	}
	var ds Dataset
	switch p.name {
	case "synthetic":
		d := p.synthetic.withDefaults()
		n := d.Train
		if split != Train {
			n = d.Test
		}
		if err := checkSetSize("dataset: "+spec, n, 3, d.Size, d.Size); err != nil {
			return nil, err
		}
		ds = Synthetic(p.synthetic, split)
	case "cifar10":
		ds, err = LoadCIFAR10(p.dir, split)
	case "cifar100":
		ds, err = LoadCIFAR100(p.dir, split, p.coarse)
	case "fashion-mnist":
		ds, err = LoadMNIST(p.dir, split, FashionMNISTClasses)
	case "mnist":
		ds, err = LoadMNIST(p.dir, split, MNISTClasses)
	case "folder":
		root, ferr := folderSplit(p.dir, split)
		if ferr != nil {
			return nil, ferr
		}
		ds, err = LoadFolder(root, p.size)
	}
	if err != nil {
		return nil, err
	}
	if p.rgb {
		ds = RGB{Base: ds}
	}
	if p.limit > 0 {
		ds = Head(ds, p.limit)
	}
	return ds, nil
}

// parsedSpec is a spec string checked against SpecUsage: everything Open
// needs to load the dataset.
type parsedSpec struct {
	name, dir string
	rgb       bool
	limit     int
	synthetic SyntheticConfig // synthetic's options
	coarse    bool            // cifar100's option
	size      int             // folder's option
}

// parseSpec parses and validates spec without touching the file system:
// unknown names and options, bad values and image sizes beyond
// MaxImageSide are errors.
func parseSpec(spec string) (*parsedSpec, error) {
	head, opts, err := parseOptions(spec)
	if err != nil {
		return nil, err
	}
	name, dir, hasDir := strings.Cut(head, ":")
	p := &parsedSpec{name: name, dir: dir}
	need := func() error {
		if !hasDir || dir == "" {
			return fmt.Errorf("dataset: %s: %s needs a directory: %s:DIR", spec, name, name)
		}
		return nil
	}
	if _, known := allowedOptions[name]; !known {
		return nil, fmt.Errorf("dataset: %s: unknown dataset %q\n%s", spec, name, SpecUsage)
	}
	if err := opts.allow(allowedOptions[name]...); err != nil {
		return nil, err
	}
	// Check the common options before loading anything.
	if p.rgb, err = opts.flag("rgb"); err != nil {
		return nil, err
	}
	if p.limit, err = opts.int("limit", 0); err != nil {
		return nil, err
	}
	switch name {
	case "synthetic":
		if hasDir {
			return nil, fmt.Errorf("dataset: %s: synthetic takes no directory", spec)
		}
		cfg := &p.synthetic
		if cfg.Train, err = opts.int("train", 0); err != nil {
			return nil, err
		}
		if cfg.Test, err = opts.int("test", 0); err != nil {
			return nil, err
		}
		if cfg.Size, err = opts.side("size", 0); err != nil {
			return nil, err
		}
		seed, err := opts.int("seed", 0)
		if err != nil {
			return nil, err
		}
		cfg.Seed = uint64(seed)
	case "cifar10", "mnist":
		if err := need(); err != nil {
			return nil, err
		}
	case "cifar100":
		if err := need(); err != nil {
			return nil, err
		}
		if p.coarse, err = opts.flag("coarse"); err != nil {
			return nil, err
		}
	case "fashion-mnist":
		if p.dir == "" {
			p.dir = FashionMNISTDir
		}
	case "folder":
		if err := need(); err != nil {
			return nil, err
		}
		if p.size, err = opts.side("size", 224); err != nil {
			return nil, err
		}
		if p.size == 0 {
			return nil, fmt.Errorf("dataset: %s: option size=0: the image side must be at least 1", spec)
		}
	}
	return p, nil
}

// allowedOptions lists each dataset's own options (limit and rgb apply to
// all).
var allowedOptions = map[string][]string{
	"synthetic":     {"train", "test", "size", "seed"},
	"cifar100":      {"coarse"},
	"folder":        {"size"},
	"cifar10":       nil,
	"fashion-mnist": nil,
	"mnist":         nil,
}

// folderSplit picks the split's folder under dir.
func folderSplit(dir string, split Split) (string, error) {
	isDir := func(p string) bool { st, err := os.Stat(p); return err == nil && st.IsDir() }
	if split == Train {
		if p := filepath.Join(dir, "train"); isDir(p) {
			return p, nil
		}
		if !isDir(dir) {
			return "", fmt.Errorf("dataset: folder: %s is not a directory", dir)
		}
		return dir, nil
	}
	for _, sub := range []string{"val", "test"} {
		if p := filepath.Join(dir, sub); isDir(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("dataset: folder: %s has no val/ or test/ subfolder for the test split", dir)
}

type options struct {
	spec string
	kv   map[string]string
}

func parseOptions(spec string) (string, *options, error) {
	parts := strings.Split(spec, ",")
	o := &options{spec: spec, kv: map[string]string{}}
	for _, p := range parts[1:] {
		k, v, hasValue := strings.Cut(p, "=")
		if hasValue && v == "" {
			return "", nil, fmt.Errorf("dataset: %s: option %s has an empty value", spec, k)
		}
		if k == "" {
			return "", nil, fmt.Errorf("dataset: %s: empty option", spec)
		}
		if _, dup := o.kv[k]; dup {
			return "", nil, fmt.Errorf("dataset: %s: option %s given twice", spec, k)
		}
		o.kv[k] = v
	}
	return strings.TrimSpace(parts[0]), o, nil
}

func (o *options) int(key string, def int) (int, error) {
	v, ok := o.kv[key]
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("dataset: %s: option %s=%q is not a non-negative integer", o.spec, key, v)
	}
	return n, nil
}

// side reads an image side option, which must not exceed MaxImageSide.
func (o *options) side(key string, def int) (int, error) {
	n, err := o.int(key, def)
	if err != nil {
		return 0, err
	}
	if n > MaxImageSide {
		return 0, fmt.Errorf("dataset: %s: option %s=%d exceeds the largest image side %d: %w", o.spec, key, n, MaxImageSide, ErrOversized)
	}
	return n, nil
}

func (o *options) flag(key string) (bool, error) {
	v, ok := o.kv[key]
	if ok && v != "" {
		return false, fmt.Errorf("dataset: %s: option %s takes no value", o.spec, key)
	}
	return ok, nil
}

// allow reports the first option (in sorted order) that is neither in
// names nor common to all datasets, before anything is loaded.
func (o *options) allow(names ...string) error {
	var keys []string
	for k := range o.kv {
		if !slices.Contains(names, k) && k != "limit" && k != "rgb" {
			keys = append(keys, k)
		}
	}
	if len(keys) > 0 {
		slices.Sort(keys)
		return fmt.Errorf("dataset: %s: unknown option %q for this dataset\n%s", o.spec, keys[0], SpecUsage)
	}
	return nil
}
