package dataset

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// cifarRecords builds n CIFAR records with labelBytes label bytes each;
// record i has labels label(i) and pixels (i + j) mod 256.
func cifarRecords(n, labelBytes int, label func(i, b int) byte) []byte {
	rec := labelBytes + cifarPixels
	data := make([]byte, n*rec)
	for i := range n {
		for b := range labelBytes {
			data[i*rec+b] = label(i, b)
		}
		for j := range cifarPixels {
			data[i*rec+labelBytes+j] = byte(i + j)
		}
	}
	return data
}

func TestDecodeCIFAR10(t *testing.T) {
	s, err := DecodeCIFAR10(cifarRecords(3, 1, func(i, _ int) byte { return byte(9 - i) }), "x.bin")
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 3 || s.Classes() != 10 || s.Label(1) != 8 || s.C != 3 || s.H != 32 || s.W != 32 {
		t.Fatalf("got %d images, %d classes, label(1) %d, %dx%dx%d", s.Len(), s.Classes(), s.Label(1), s.C, s.H, s.W)
	}
	// Record 2, channel 1 (green), row 3, column 4: pixel byte j = 1024 + 3*32 + 4.
	img := s.Image(2)
	j := 1024 + 3*32 + 4
	if want := float32(byte(2+j)) / 255; img.Pix[j] != want {
		t.Errorf("pixel %v, want %v", img.Pix[j], want)
	}
	if s.ClassNames()[0] != "airplane" {
		t.Errorf("class names %v", s.ClassNames())
	}
}

// wantErr checks err wraps kind and mentions every fragment.
func wantErr(t *testing.T, err, kind error, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v", kind)
	}
	if kind != nil && !errors.Is(err, kind) {
		t.Errorf("error %q does not wrap %v", err, kind)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q does not mention %q", err, f)
		}
	}
}

func TestCIFARErrors(t *testing.T) {
	rec10 := 1 + cifarPixels
	good := cifarRecords(4, 1, func(i, _ int) byte { return byte(i) })
	badLabel := slices.Clone(good)
	badLabel[2*rec10] = 10
	cases := []struct {
		name      string
		data      []byte
		hundred   bool
		kind      error
		fragments []string
	}{
		{"empty", nil, false, ErrTruncated, []string{"f.bin", "empty"}},
		{"truncated", good[:3*rec10+100], false, ErrTruncated, []string{"f.bin", "record 3", "100 of its 3073 bytes"}},
		{"one byte extra", append(slices.Clone(good), 7), false, ErrTruncated, []string{"record 4"}},
		{"label", badLabel, false, ErrCorrupt, []string{"f.bin", "record 2", "label 10"}},
		{"oversized", make([]byte, 10001*rec10), false, ErrOversized, []string{"10001 records"}},
		{"cifar100 fine", cifarRecords(3, 2, func(i, b int) byte { return byte(i*50 + b) }), true, ErrCorrupt, []string{"record 2", "label 101"}},
		{"cifar100 coarse", cifarRecords(3, 2, func(i, b int) byte { return byte(i*10*(1-b) + b) }), true, ErrCorrupt, []string{"record 2", "label byte 0 is 20"}},
		{"cifar100 truncated", make([]byte, 2*cifarPixels), true, ErrTruncated, []string{"record 1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.hundred {
				_, err = DecodeCIFAR100(tc.data, "f.bin", false)
			} else {
				_, err = DecodeCIFAR10(tc.data, "f.bin")
			}
			wantErr(t, err, tc.kind, tc.fragments...)
		})
	}
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadCIFAR(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "cifar-10-batches-bin")
	for b := 1; b <= 5; b++ {
		writeFile(t, filepath.Join(sub, "data_batch_"+string(rune('0'+b))+".bin"), cifarRecords(2, 1, func(i, _ int) byte { return byte(b) }))
	}
	writeFile(t, filepath.Join(sub, "test_batch.bin"), cifarRecords(3, 1, func(i, _ int) byte { return 7 }))
	for _, d := range []string{dir, sub} {
		tr, err := LoadCIFAR10(d, Train)
		if err != nil {
			t.Fatal(err)
		}
		if tr.Len() != 10 || tr.Label(0) != 1 || tr.Label(9) != 5 {
			t.Errorf("train: %d images, labels %v", tr.Len(), tr.Labels)
		}
		te, err := LoadCIFAR10(d, Test)
		if err != nil || te.Len() != 3 {
			t.Fatalf("test: %v", err)
		}
	}
	os.Remove(filepath.Join(sub, "data_batch_4.bin"))
	_, err := LoadCIFAR10(dir, Train)
	wantErr(t, err, fs.ErrNotExist, "data_batch_4.bin", "cifar-10-binary.tar.gz")

	c100 := filepath.Join(dir, "cifar-100-binary")
	writeFile(t, filepath.Join(c100, "train.bin"), cifarRecords(4, 2, func(i, b int) byte { return byte(i + b*90) }))
	writeFile(t, filepath.Join(c100, "test.bin"), cifarRecords(1, 2, func(i, b int) byte { return 0 }))
	names := make([]string, 20)
	for i := range names {
		names[i] = "coarse" + string(rune('a'+i))
	}
	writeFile(t, filepath.Join(c100, "coarse_label_names.txt"), []byte(strings.Join(names, "\n")+"\n"))
	fine, err := LoadCIFAR100(dir, Train, false)
	if err != nil {
		t.Fatal(err)
	}
	if fine.Classes() != 100 || fine.Label(3) != 93 || fine.ClassNames() != nil {
		t.Errorf("fine: %d classes, label %d, names %v", fine.Classes(), fine.Label(3), fine.ClassNames())
	}
	coarse, err := LoadCIFAR100(dir, Train, true)
	if err != nil {
		t.Fatal(err)
	}
	if coarse.Classes() != 20 || coarse.Label(3) != 3 || coarse.ClassNames()[3] != "coarsed" {
		t.Errorf("coarse: %d classes, label %d, names %v", coarse.Classes(), coarse.Label(3), coarse.ClassNames())
	}
}

// idxBytes builds an IDX file of unsigned bytes.
func idxBytes(dims []int, data []byte) []byte {
	b := []byte{0, 0, 0x08, byte(len(dims))}
	for _, d := range dims {
		b = append(b, byte(d>>24), byte(d>>16), byte(d>>8), byte(d))
	}
	return append(b, data...)
}

func gz(t testing.TB, data []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func seq(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

func TestReadIDX(t *testing.T) {
	good := idxBytes([]int{3, 4, 5}, seq(60))
	for name, data := range map[string][]byte{"plain": good, "gzip": gz(t, good)} {
		t.Run(name, func(t *testing.T) {
			x, err := ReadIDX(bytes.NewReader(data), "f")
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(x.Dims, []int{3, 4, 5}) || !bytes.Equal(x.Data, seq(60)) {
				t.Errorf("dims %v", x.Dims)
			}
		})
	}
	corruptGz := gz(t, good)
	corruptGz[len(corruptGz)-6] ^= 0xff // CRC-32 of the gzip trailer
	cases := []struct {
		name      string
		data      []byte
		kind      error
		fragments []string
	}{
		{"empty", nil, ErrTruncated, []string{"f:", "empty"}},
		{"short header", []byte{0, 0, 8}, ErrTruncated, []string{"header"}},
		{"magic", []byte{1, 0, 8, 1, 0, 0, 0, 1, 5}, ErrCorrupt, []string{"magic"}},
		{"type", []byte{0, 0, 0x0d, 1, 0, 0, 0, 1, 5, 5, 5, 5}, ErrCorrupt, []string{"0x0d"}},
		{"no dims", []byte{0, 0, 8, 0}, ErrCorrupt, []string{"0 dimensions"}},
		{"many dims", []byte{0, 0, 8, 5}, ErrCorrupt, []string{"5 dimensions"}},
		{"zero dim", idxBytes([]int{2, 0}, nil), ErrCorrupt, []string{"dimension 1 is 0"}},
		{"short dims", []byte{0, 0, 8, 2, 0, 0, 0, 1, 0}, ErrTruncated, []string{"dimension 1"}},
		{"huge", idxBytes([]int{1 << 20, 1 << 20}, nil), ErrOversized, []string{"more than"}},
		{"truncated", good[:len(good)-21], ErrTruncated, []string{"item 1", "39 of 60"}},
		{"trailing", append(slices.Clone(good), 1), ErrOversized, []string{"past the 3 items"}},
		{"truncated gzip", gz(t, good)[:30], ErrTruncated, nil},
		{"corrupt gzip", corruptGz, ErrCorrupt, []string{"checksum"}},
		{"gzip header", []byte{0x1f, 0x8b, 0, 0}, ErrCorrupt, []string{"gzip"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadIDX(bytes.NewReader(tc.data), "f")
			wantErr(t, err, tc.kind, tc.fragments...)
		})
	}
}

func TestPairIDX(t *testing.T) {
	images := &IDX{Dims: []int{3, 2, 2}, Data: seq(12)}
	labels := &IDX{Dims: []int{3}, Data: []byte{0, 9, 4}}
	s, err := PairIDX(images, labels, "img", "lbl", 10, MNISTClasses)
	if err != nil || s.Len() != 3 || s.Label(1) != 9 || s.C != 1 || s.H != 2 {
		t.Fatalf("%v %+v", err, s)
	}
	cases := []struct {
		name          string
		images, label *IDX
		fragments     []string
	}{
		{"image rank", &IDX{Dims: []int{12}, Data: seq(12)}, labels, []string{"img", "want images"}},
		{"label rank", images, &IDX{Dims: []int{3, 1}, Data: []byte{0, 1, 2}}, []string{"lbl", "want labels"}},
		{"count", images, &IDX{Dims: []int{2}, Data: []byte{0, 1}}, []string{"2 labels for the 3 images"}},
		{"label value", images, &IDX{Dims: []int{3}, Data: []byte{0, 1, 10}}, []string{"lbl", "record 2", "label 10"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := PairIDX(tc.images, tc.label, "img", "lbl", 10, nil)
			wantErr(t, err, ErrCorrupt, tc.fragments...)
		})
	}
}

func TestLoadMNIST(t *testing.T) {
	dir := t.TempDir()
	img := idxBytes([]int{4, 3, 2}, seq(24))
	lbl := idxBytes([]int{4}, []byte{1, 2, 3, 4})
	writeFile(t, filepath.Join(dir, "train-images-idx3-ubyte.gz"), gz(t, img))
	writeFile(t, filepath.Join(dir, "train-labels-idx1-ubyte"), lbl)
	writeFile(t, filepath.Join(dir, "t10k-images.idx3-ubyte"), idxBytes([]int{1, 3, 2}, seq(6)))
	writeFile(t, filepath.Join(dir, "t10k-labels.idx1-ubyte.gz"), gz(t, idxBytes([]int{1}, []byte{12})))
	s, err := LoadMNIST(dir, Train, MNISTClasses)
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 4 || s.H != 3 || s.W != 2 || s.Label(3) != 4 {
		t.Errorf("%d images %dx%d", s.Len(), s.H, s.W)
	}
	_, err = LoadMNIST(dir, Test, MNISTClasses)
	wantErr(t, err, ErrCorrupt, "t10k-labels.idx1-ubyte.gz", "record 0", "label 12")
	_, err = LoadMNIST(t.TempDir(), Train, MNISTClasses)
	wantErr(t, err, fs.ErrNotExist, "train-images-idx3-ubyte", "apt-get install dataset-fashion-mnist")
}
