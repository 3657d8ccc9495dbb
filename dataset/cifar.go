package dataset

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// CIFAR binary layout (https://www.cs.toronto.edu/~kriz/cifar.html): every
// record is its label byte(s) followed by 3072 pixel bytes, the 1024 red
// samples of the 32 x 32 image row by row, then green, then blue: exactly
// U8Set's CHW layout.
const (
	cifarSide     = 32
	cifarPixels   = 3 * cifarSide * cifarSide
	cifarMaxBatch = 50000 // CIFAR-100's train.bin; CIFAR-10 files hold 10000
)

// CIFAR10Classes are CIFAR-10's class names in label order.
var CIFAR10Classes = []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}

// DecodeCIFAR10 parses one CIFAR-10 binary batch (data_batch_N.bin or
// test_batch.bin): records of 1 label byte (0-9) and 3072 pixel bytes.
// name is used in error messages. The file must hold a whole number of
// records, between 1 and 10000.
func DecodeCIFAR10(data []byte, name string) (*U8Set, error) {
	return decodeCIFAR(data, "dataset: cifar10: "+name, 1, 0, 10, 10000, CIFAR10Classes)
}

// DecodeCIFAR100 parses a CIFAR-100 binary file (train.bin or test.bin):
// records of a coarse label byte (0-19), a fine label byte (0-99) and 3072
// pixel bytes. The set is labeled with the fine labels, or the coarse ones
// when coarse is set. The file must hold between 1 and 50000 records.
func DecodeCIFAR100(data []byte, name string, coarse bool) (*U8Set, error) {
	labelAt, classes := 1, 100
	if coarse {
		labelAt, classes = 0, 20
	}
	s, err := decodeCIFAR(data, "dataset: cifar100: "+name, 2, labelAt, classes, cifarMaxBatch, nil)
	if err != nil {
		return nil, err
	}
	// Both labels are validated: a corrupt coarse byte means a corrupt file.
	other, limit := 0, 20
	if coarse {
		other, limit = 1, 100
	}
	rec := 2 + cifarPixels
	for i := range len(data) / rec {
		if l := data[i*rec+other]; int(l) >= limit {
			return nil, fmt.Errorf("dataset: cifar100: %s: record %d: label byte %d is %d, outside [0, %d): %w", name, i, other, l, limit, ErrCorrupt)
		}
	}
	return s, nil
}

func decodeCIFAR(data []byte, prefix string, labelBytes, labelAt, classes, maxRecords int, names []string) (*U8Set, error) {
	rec := labelBytes + cifarPixels
	n := len(data) / rec
	switch {
	case len(data) == 0:
		return nil, fmt.Errorf("%s: empty file: %w", prefix, ErrTruncated)
	case len(data)%rec != 0:
		return nil, fmt.Errorf("%s: record %d: only %d of its %d bytes (file size %d is not a multiple of the record size): %w",
			prefix, n, len(data)%rec, rec, len(data), ErrTruncated)
	case n > maxRecords:
		return nil, fmt.Errorf("%s: %d records, at most %d expected: %w", prefix, n, maxRecords, ErrOversized)
	}
	s := &U8Set{C: 3, H: cifarSide, W: cifarSide, Pix: make([]uint8, n*cifarPixels), Labels: make([]int32, n), NumClasses: classes, Names: names}
	for i := range n {
		r := data[i*rec : (i+1)*rec]
		l := r[labelAt]
		if int(l) >= classes {
			return nil, fmt.Errorf("%s: record %d: label %d outside [0, %d): %w", prefix, i, l, classes, ErrCorrupt)
		}
		s.Labels[i] = int32(l)
		copy(s.Pix[i*cifarPixels:], r[labelBytes:])
	}
	return s, nil
}

// cifarDir returns dir, or its subfolder sub when dir does not hold file
// but sub does (the folder the official archive unpacks to).
func cifarDir(dir, sub, file string) string {
	if _, err := os.Stat(filepath.Join(dir, file)); err != nil {
		if _, err := os.Stat(filepath.Join(dir, sub, file)); err == nil {
			return filepath.Join(dir, sub)
		}
	}
	return dir
}

// LoadCIFAR10 reads the CIFAR-10 binary version from dir (the folder that
// holds data_batch_1.bin … data_batch_5.bin and test_batch.bin, or its
// parent holding cifar-10-batches-bin): the 50000 training images or the
// 10000 test images. Download: https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz.
func LoadCIFAR10(dir string, split Split) (*U8Set, error) {
	files := []string{"test_batch.bin"}
	if split == Train {
		files = []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"}
	}
	dir = cifarDir(dir, "cifar-10-batches-bin", files[0])
	var parts []*U8Set
	for _, f := range files {
		path := filepath.Join(dir, f)
		data, err := readBounded(path, "dataset: cifar10", 10000*(1+cifarPixels))
		if err != nil {
			return nil, fmt.Errorf("%w%s", err, hintMissing(err, "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"))
		}
		s, err := DecodeCIFAR10(data, path)
		if err != nil {
			return nil, err
		}
		parts = append(parts, s)
	}
	return concat(parts), nil
}

// LoadCIFAR100 reads the CIFAR-100 binary version from dir (the folder
// holding train.bin and test.bin, or its parent holding cifar-100-binary),
// labeled with the 100 fine classes or the 20 coarse ones. Class names are
// read from fine_label_names.txt / coarse_label_names.txt when present.
// Download: https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz.
func LoadCIFAR100(dir string, split Split, coarse bool) (*U8Set, error) {
	file := "test.bin"
	if split == Train {
		file = "train.bin"
	}
	dir = cifarDir(dir, "cifar-100-binary", file)
	path := filepath.Join(dir, file)
	data, err := readBounded(path, "dataset: cifar100", cifarMaxBatch*(2+cifarPixels))
	if err != nil {
		return nil, fmt.Errorf("%w%s", err, hintMissing(err, "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz"))
	}
	s, err := DecodeCIFAR100(data, path, coarse)
	if err != nil {
		return nil, err
	}
	namesFile := "fine_label_names.txt"
	if coarse {
		namesFile = "coarse_label_names.txt"
	}
	if names, err := readLines(filepath.Join(dir, namesFile)); err == nil && len(names) == s.NumClasses {
		s.Names = names
	}
	return s, nil
}

// readBounded reads the file at path after checking that it holds at most
// limit bytes, so that a wrong file (a multi-gigabyte archive in place of a
// batch) is refused before it is read into memory. prefix starts errors.
func readBounded(path, prefix string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", prefix, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", prefix, err)
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%s: %s: file of %d bytes, more than the %d bytes of the largest valid file: %w", prefix, path, st.Size(), limit, ErrOversized)
	}
	data := make([]byte, st.Size())
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, fmt.Errorf("%s: %s: reading %d bytes: %w", prefix, path, len(data), err)
	}
	return data, nil
}

func hintMissing(err error, url string) string {
	if errors.Is(err, fs.ErrNotExist) {
		return " (download and unpack " + url + ")"
	}
	return ""
}

func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			lines = append(lines, l)
		}
	}
	return lines, sc.Err()
}

// concat joins sets of the same shape and classes.
func concat(parts []*U8Set) *U8Set {
	if len(parts) == 1 {
		return parts[0]
	}
	out := &U8Set{C: parts[0].C, H: parts[0].H, W: parts[0].W, NumClasses: parts[0].NumClasses, Names: parts[0].Names}
	var np, nl int
	for _, p := range parts {
		np += len(p.Pix)
		nl += len(p.Labels)
	}
	out.Pix = make([]uint8, 0, np)
	out.Labels = make([]int32, 0, nl)
	for _, p := range parts {
		out.Pix = append(out.Pix, p.Pix...)
		out.Labels = append(out.Labels, p.Labels...)
	}
	return out
}
