package dataset

import (
	"bytes"
	"image/color"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Sizes taken from a spec string are bounded before anything is
// allocated: the reported failures were a makeslice panic for
// folder:DIR,size=3037000500 (whose square overflows) and a fatal
// out-of-memory for size=30000.
func TestOpenSizeLimits(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "train", "a", "x.png"), encode(t, solid(3, 3, color.NRGBA{9, 8, 7, 255}), "png"))
	cases := []struct {
		spec      string
		kind      error
		fragments []string
	}{
		{"folder:" + root + ",size=3037000500", ErrOversized, []string{"option size=3037000500 exceeds the largest image side 8192"}},
		{"folder:" + root + ",size=30000", ErrOversized, []string{"option size=30000 exceeds the largest image side 8192"}},
		{"folder:" + root + ",size=0", nil, []string{"option size=0: the image side must be at least 1"}},
		{"folder:" + root + ",size=99999999999999999999", nil, []string{`option size="99999999999999999999" is not a non-negative integer`}},
		{"synthetic,size=8193", ErrOversized, []string{"option size=8193 exceeds the largest image side 8192"}},
		// 2e17 bytes: more than any machine's memory, but no overflow.
		{"synthetic,train=1000000000,size=8192", ErrOversized, []string{"1000000000 images of 3x8192x8192 need 201326592000000000 bytes, more than the", "bytes of memory of this machine"}},
		{"synthetic,train=" + strconv.Itoa(1<<62) + ",size=8192", ErrOversized, []string{"the size overflows an int"}},
	}
	for _, tc := range cases {
		t.Run(tc.spec, func(t *testing.T) {
			_, err := Open(tc.spec, Train)
			wantErr(t, err, tc.kind, append([]string{"dataset: "}, tc.fragments...)...)
		})
	}
	if n := strings.Count(SpecUsage, "at most "+strconv.Itoa(MaxImageSide)); n != 2 {
		t.Errorf("SpecUsage states the size limit %d times, want 2 (synthetic and folder)", n)
	}
	// A size at the limit is accepted by the parser.
	if p, err := parseSpec("folder:" + root + ",size=8192"); err != nil || p.size != 8192 {
		t.Errorf("size=8192: %+v, %v", p, err)
	}
}

func TestLoadFolderLimits(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"a/x.png", "b/y.png"} {
		writeFile(t, filepath.Join(root, f), encode(t, solid(3, 3, color.NRGBA{9, 8, 7, 255}), "png"))
	}
	for _, size := range []int{0, -1, 8193, 3037000500} {
		_, err := LoadFolder(root, size)
		wantErr(t, err, ErrOversized, root, "image size "+strconv.Itoa(size)+" outside [1, 8192]")
	}
	// The whole set is checked against the memory before it is allocated.
	defer func(m int) { memoryLimit = m }(memoryLimit)
	memoryLimit = 1000
	_, err := LoadFolder(root, 32)
	wantErr(t, err, ErrOversized, root, "2 images of 3x32x32 need 6144 bytes, more than the 1000 bytes of memory")
}

// CIFAR files are sized before they are read.
func TestLoadCIFARFileSize(t *testing.T) {
	// sparse creates a file of size zero bytes without writing them.
	sparse := func(path string, size int64) {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := f.Truncate(size); err != nil {
			t.Skip("no sparse files:", err)
		}
	}
	dir := t.TempDir()
	// 10 GB: refused from its size, never read.
	path := filepath.Join(dir, "test_batch.bin")
	sparse(path, 10<<30)
	_, err := LoadCIFAR10(dir, Test)
	wantErr(t, err, ErrOversized, path, "file of 10737418240 bytes, more than the 30730000 bytes of the largest valid file")
	// One byte more than 50000 CIFAR-100 records.
	c100 := filepath.Join(dir, "c100")
	sparse(filepath.Join(c100, "test.bin"), 50000*(2+cifarPixels)+1)
	_, err = LoadCIFAR100(c100, Test, false)
	wantErr(t, err, ErrOversized, "test.bin", "file of 153700001 bytes, more than the 153700000 bytes")
}

// IDX files: the file size is compared with the header before the data is
// allocated, and bytes after a gzip stream are reported as such, not as a
// truncation.
func TestIDXFileSizeAndGzipTrailer(t *testing.T) {
	good := idxBytes([]int{3, 4, 5}, seq(60))
	z := gz(t, good)
	cases := []struct {
		name      string
		data      []byte
		kind      error
		fragments []string
	}{
		{"truncated", good[:len(good)-21], ErrTruncated, []string{"item 1: dimensions [3 4 5] declare 60 data bytes, the file has 39"}},
		{"trailing", append(slices.Clone(good), 1), ErrOversized, []string{"data continues past the 3 items the header declares: dimensions [3 4 5] declare 60 data bytes, the file has 61"}},
		{"huge header, small file", idxBytes([]int{60000, 28, 28}, seq(10)), ErrTruncated, []string{"declare 47040000 data bytes, the file has 10"}},
		{"gzip + 1 byte", append(slices.Clone(z), 'x'), ErrCorrupt, []string{"trailing data after gzip stream, at byte " + strconv.Itoa(len(z)) + " of the file"}},
		{"gzip + text", append(slices.Clone(z), "garbage after the stream"...), ErrCorrupt, []string{"trailing data after gzip stream, at byte " + strconv.Itoa(len(z))}},
		{"gzip + zeros", append(slices.Clone(z), make([]byte, 512)...), ErrCorrupt, []string{"trailing data after gzip stream"}},
		{"short gzip + text", append(gz(t, good[:30]), "junk"...), ErrCorrupt, []string{"trailing data after gzip stream"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "train-images-idx3-ubyte")
			writeFile(t, path, tc.data)
			_, err := LoadIDXFile(path)
			wantErr(t, err, tc.kind, append([]string{"dataset: idx: " + path + ": "}, tc.fragments...)...)
		})
	}
	// Concatenated gzip members (gzip -c a b) are one stream, as for gzip -d.
	split := append(gz(t, good[:25]), gz(t, good[25:])...)
	x, err := ReadIDX(bytes.NewReader(split), "two members")
	if err != nil || !bytes.Equal(x.Data, seq(60)) {
		t.Errorf("two gzip members: %v", err)
	}
	// An error naming the file, not a bare EOF, whatever the reader.
	_, err = ReadIDX(bytes.NewReader(good[:len(good)-21]), "r")
	if !strings.Contains(err.Error(), "r: item 1: data ends after 39 of 60 bytes") {
		t.Errorf("reader: %v", err)
	}
}
