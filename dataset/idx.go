package dataset

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// IDX is one array in LeCun's IDX format (the MNIST and Fashion-MNIST
// files): a big-endian header (two zero bytes, the type code 0x08 for
// unsigned bytes, the number of dimensions, then each dimension as a
// uint32) followed by the samples in row-major order.
type IDX struct {
	Dims []int
	Data []byte
}

// MaxIDXBytes bounds the data size an IDX header may declare, so that a
// corrupt header cannot make ReadIDX allocate without limit (MNIST's
// largest file holds 47 MB).
const MaxIDXBytes = 1 << 31

// ReadIDX parses an IDX array of unsigned bytes from r, gunzipping it first
// when it starts with the gzip magic number (concatenated gzip members are
// read as one stream; other bytes after the last member are an error,
// ErrCorrupt, "trailing data after gzip stream"). name is used in error
// messages. The data must be exactly as long as the header declares.
func ReadIDX(r io.Reader, name string) (*IDX, error) {
	return readIDX(r, name, -1)
}

// readIDX reads an IDX stream of fileSize bytes, or of unknown size when
// fileSize < 0.
func readIDX(r io.Reader, name string, fileSize int64) (*IDX, error) {
	cr := &countingReader{r: r}
	br := bufio.NewReader(cr)
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		fileSize = -1 // the header describes the decompressed data
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("dataset: idx: %s: gzip header: %w: %w", name, ErrCorrupt, err)
		}
		zr.Multistream(false)
		defer zr.Close()
		br = bufio.NewReader(&gzipMembers{zr: zr, src: br, cr: cr})
	}
	fail := func(kind error, format string, args ...any) error {
		return fmt.Errorf("dataset: idx: %s: %s: %w", name, fmt.Sprintf(format, args...), kind)
	}
	var head [4]byte
	if n, err := io.ReadFull(br, head[:]); err != nil {
		if n == 0 && err == io.EOF {
			return nil, fail(ErrTruncated, "empty file")
		}
		return nil, readFail(fail, err, "header: %d of 4 bytes", n)
	}
	if head[0] != 0 || head[1] != 0 {
		return nil, fail(ErrCorrupt, "magic number %02x%02x%02x%02x does not start with two zero bytes", head[0], head[1], head[2], head[3])
	}
	if head[2] != 0x08 {
		return nil, fail(ErrCorrupt, "data type 0x%02x, only unsigned bytes (0x08) are supported", head[2])
	}
	nd := int(head[3])
	if nd < 1 || nd > 4 {
		return nil, fail(ErrCorrupt, "%d dimensions, want 1 to 4", nd)
	}
	dims := make([]int, nd)
	size := 1
	for d := range dims {
		var b [4]byte
		if n, err := io.ReadFull(br, b[:]); err != nil {
			return nil, readFail(fail, err, "header: dimension %d: %d of 4 bytes", d, n)
		}
		v := int(b[0])<<24 | int(b[1])<<16 | int(b[2])<<8 | int(b[3])
		if v == 0 {
			return nil, fail(ErrCorrupt, "dimension %d is 0", d)
		}
		dims[d] = v
		if size > MaxIDXBytes/v {
			return nil, fail(ErrOversized, "dimensions %v declare more than %d bytes", dims[:d+1], MaxIDXBytes)
		}
		size *= v
	}
	item := size / dims[0]
	if fileSize >= 0 {
		// Compare the header with the file before allocating.
		have := fileSize - int64(4+4*nd)
		if have < int64(size) {
			return nil, fail(ErrTruncated, "item %d: dimensions %v declare %d data bytes, the file has %d", have/int64(item), dims, size, have)
		}
		if have > int64(size) {
			return nil, fail(ErrOversized, "data continues past the %d items the header declares: dimensions %v declare %d data bytes, the file has %d", dims[0], dims, size, have)
		}
		data := make([]byte, size)
		if n, err := io.ReadFull(br, data); err != nil {
			return nil, readFail(fail, err, "item %d", n/item)
		}
		return &IDX{Dims: dims, Data: data}, nil
	}
	// Read at most size+1 bytes, growing with the data actually present,
	// so a header that overstates the size costs no more memory than the
	// file holds.
	data, err := io.ReadAll(io.LimitReader(br, int64(size)+1))
	if err != nil {
		return nil, readFail(fail, err, "item %d", len(data)/item)
	}
	if len(data) < size {
		return nil, fail(ErrTruncated, "item %d: data ends after %d of %d bytes", len(data)/item, len(data), size)
	}
	if len(data) > size {
		return nil, fail(ErrOversized, "data continues past the %d items the header declares", dims[0])
	}
	return &IDX{Dims: dims, Data: data}, nil
}

// readFail classifies a read error: an early end is a truncation, anything
// else (a gzip checksum or format error) a corruption.
func readFail(fail func(error, string, ...any) error, err error, format string, args ...any) error {
	var te *trailingGzipError
	if errors.As(err, &te) {
		return fail(ErrCorrupt, "%v", te)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fail(ErrTruncated, format+": the data ends early", args...)
	}
	return fail(ErrCorrupt, format+": %v", append(args, err)...)
}

// countingReader counts the bytes read from r.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// gzipMembers decompresses a gzip file member after member (as gzip -d
// does for concatenated files) and reports bytes after the last member that
// do not start another one as a *trailingGzipError, rather than as the
// truncated member header gzip.Reader would take them for.
type gzipMembers struct {
	zr  *gzip.Reader // reading one member at a time
	src *bufio.Reader
	cr  *countingReader // src's source, for the offset of trailing data
}

// trailingGzipError reports data after the end of a gzip stream.
type trailingGzipError struct{ offset int64 }

func (e *trailingGzipError) Error() string {
	return fmt.Sprintf("trailing data after gzip stream, at byte %d of the file", e.offset)
}

func (g *gzipMembers) Read(p []byte) (int, error) {
	for {
		n, err := g.zr.Read(p)
		if err != io.EOF {
			return n, err
		}
		if n > 0 {
			return n, nil
		}
		next, perr := g.src.Peek(2)
		if len(next) == 0 && perr == io.EOF {
			return 0, io.EOF
		}
		if len(next) < 2 || next[0] != 0x1f || next[1] != 0x8b {
			return 0, &trailingGzipError{offset: g.cr.n - int64(g.src.Buffered())}
		}
		if err := g.zr.Reset(g.src); err != nil {
			return 0, err
		}
		g.zr.Multistream(false)
	}
}

// LoadIDXFile reads an IDX file, gzipped or not. An uncompressed file's
// size is compared with the size its header declares before the data is
// allocated.
func LoadIDXFile(path string) (*IDX, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: idx: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("dataset: idx: %w", err)
	}
	size := int64(-1)
	if st.Mode().IsRegular() {
		size = st.Size()
	}
	return readIDX(f, path, size)
}

// PairIDX combines an images array (N x H x W) and a labels array (N) into
// a 1-channel set with the given number of classes; the names are used in
// error messages.
func PairIDX(images, labels *IDX, imagesName, labelsName string, classes int, names []string) (*U8Set, error) {
	if len(images.Dims) != 3 {
		return nil, fmt.Errorf("dataset: idx: %s: dimensions %v, want images N x H x W: %w", imagesName, images.Dims, ErrCorrupt)
	}
	if len(labels.Dims) != 1 {
		return nil, fmt.Errorf("dataset: idx: %s: dimensions %v, want labels N: %w", labelsName, labels.Dims, ErrCorrupt)
	}
	n := images.Dims[0]
	if labels.Dims[0] != n {
		return nil, fmt.Errorf("dataset: idx: %s has %d labels for the %d images of %s: %w", labelsName, labels.Dims[0], n, imagesName, ErrCorrupt)
	}
	s := &U8Set{C: 1, H: images.Dims[1], W: images.Dims[2], Pix: images.Data, Labels: make([]int32, n), NumClasses: classes, Names: names}
	for i, l := range labels.Data {
		if int(l) >= classes {
			return nil, fmt.Errorf("dataset: idx: %s: record %d: label %d outside [0, %d): %w", labelsName, i, l, classes, ErrCorrupt)
		}
		s.Labels[i] = int32(l)
	}
	return s, nil
}

// FashionMNISTClasses are Fashion-MNIST's class names in label order.
var FashionMNISTClasses = []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}

// MNISTClasses are MNIST's class names (the digits).
var MNISTClasses = []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}

// FashionMNISTDir is where Debian's dataset-fashion-mnist package
// (apt-get install dataset-fashion-mnist) installs Fashion-MNIST, the
// default directory of the fashion-mnist spec.
const FashionMNISTDir = "/usr/share/datasets/fashion-mnist"

// LoadMNIST reads an MNIST-style folder: train-images-idx3-ubyte,
// train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte,
// each optionally gzipped (.gz) or named with a dot before "idx". It serves
// MNIST and Fashion-MNIST (pass their class names); images are
// 1 x 28 x 28.
func LoadMNIST(dir string, split Split, names []string) (*U8Set, error) {
	prefix := "t10k"
	if split == Train {
		prefix = "train"
	}
	imgPath, err := findIDX(dir, prefix+"-images", "idx3-ubyte")
	if err != nil {
		return nil, err
	}
	lblPath, err := findIDX(dir, prefix+"-labels", "idx1-ubyte")
	if err != nil {
		return nil, err
	}
	images, err := LoadIDXFile(imgPath)
	if err != nil {
		return nil, err
	}
	labels, err := LoadIDXFile(lblPath)
	if err != nil {
		return nil, err
	}
	return PairIDX(images, labels, imgPath, lblPath, len(names), names)
}

func findIDX(dir, stem, kind string) (string, error) {
	for _, sep := range []string{"-", "."} {
		for _, ext := range []string{".gz", ""} {
			p := filepath.Join(dir, stem+sep+kind+ext)
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("dataset: idx: %s: no %s-%s[.gz]: %w (Fashion-MNIST: apt-get install dataset-fashion-mnist, or https://github.com/zalandoresearch/fashion-mnist; MNIST: https://yann.lecun.com/exdb/mnist/)",
		dir, stem, kind, fs.ErrNotExist)
}
