package dataset

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"testing"
)

// Fuzz targets for every binary parser. Their seed corpora run in plain
// `go test`; fuzz one with e.g.
//
//	go test -run '^$' -fuzz FuzzReadIDX -fuzztime 60s ./dataset

// checkKind fails unless err wraps one of the parser error kinds.
func checkKind(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrOversized) && !errors.Is(err, ErrCorrupt) {
		t.Fatalf("error %q wraps none of ErrTruncated, ErrOversized, ErrCorrupt", err)
	}
}

// encodeCIFAR writes s back in CIFAR binary form; extra returns the label
// bytes of record i.
func encodeCIFAR(s *U8Set, labels func(i int) []byte) []byte {
	var out []byte
	n := s.C * s.H * s.W
	for i := range s.Len() {
		out = append(out, labels(i)...)
		out = append(out, s.Pix[i*n:(i+1)*n]...)
	}
	return out
}

func FuzzDecodeCIFAR10(f *testing.F) {
	good := cifarRecords(2, 1, func(i, _ int) byte { return byte(3 * i) })
	f.Add(good)
	f.Add(good[:100])
	f.Add([]byte{})
	bad := bytes.Clone(good)
	bad[0] = 200
	f.Add(bad)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := DecodeCIFAR10(data, "fuzz")
		if err != nil {
			checkKind(t, err)
			return
		}
		if err := s.check("fuzz"); err != nil {
			t.Fatal(err)
		}
		// A successful parse is lossless.
		if back := encodeCIFAR(s, func(i int) []byte { return []byte{byte(s.Labels[i])} }); !bytes.Equal(back, data) {
			t.Fatal("re-encoding differs from the input")
		}
	})
}

func FuzzDecodeCIFAR100(f *testing.F) {
	good := cifarRecords(2, 2, func(i, b int) byte { return byte(i + 7*b) })
	f.Add(good, false)
	f.Add(good, true)
	f.Add(good[:3000], false)
	f.Add([]byte{19, 99}, true)
	f.Fuzz(func(t *testing.T, data []byte, coarse bool) {
		s, err := DecodeCIFAR100(data, "fuzz", coarse)
		if err != nil {
			checkKind(t, err)
			return
		}
		if err := s.check("fuzz"); err != nil {
			t.Fatal(err)
		}
		rec := 2 + cifarPixels
		back := encodeCIFAR(s, func(i int) []byte { return data[i*rec : i*rec+2] })
		if !bytes.Equal(back, data) {
			t.Fatal("re-encoding differs from the input")
		}
		at := 1
		if coarse {
			at = 0
		}
		for i := range s.Len() {
			if data[i*rec+at] != byte(s.Labels[i]) {
				t.Fatalf("record %d: label %d from byte %d", i, s.Labels[i], data[i*rec+at])
			}
		}
	})
}

func FuzzReadIDX(f *testing.F) {
	good := idxBytes([]int{2, 3, 2}, seq(12))
	f.Add(good)
	f.Add(gz(f, good))
	f.Add(idxBytes([]int{5}, []byte{1, 2, 3, 4, 5}))
	f.Add(good[:10])
	f.Add([]byte{0, 0, 8, 4, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		x, err := ReadIDX(bytes.NewReader(data), "fuzz")
		if err != nil {
			checkKind(t, err)
			return
		}
		size := 1
		for _, d := range x.Dims {
			if d <= 0 {
				t.Fatalf("dimension %d", d)
			}
			size *= d
		}
		if size != len(x.Data) {
			t.Fatalf("dims %v for %d bytes", x.Dims, len(x.Data))
		}
		if len(data) > 1 && data[0] != 0x1f {
			if back := idxBytes(x.Dims, x.Data); !bytes.Equal(back, data) {
				t.Fatal("re-encoding differs from the input")
			}
		}
	})
}

func FuzzDecodeImageFile(f *testing.F) {
	m := image.NewNRGBA(image.Rect(0, 0, 3, 5))
	for i := range m.Pix {
		m.Pix[i] = byte(i * 13)
	}
	for _, format := range []string{"png", "jpg", "gif"} {
		f.Add(encode(f, m, format))
	}
	f.Add(encode(f, solid(1, 1, color.NRGBA{1, 2, 3, 4}), "png")[:40])
	f.Fuzz(func(t *testing.T, data []byte) {
		dst := make([]uint8, 3*4*4)
		if err := DecodeImageFile(dst, data, 4, nil); err != nil {
			checkKind(t, err)
		}
	})
}
