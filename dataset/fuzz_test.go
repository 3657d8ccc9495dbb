package dataset

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"math"
	"slices"
	"strconv"
	"strings"
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

// kindOf returns the parser error kind err wraps.
func kindOf(err error) error {
	for _, k := range []error{ErrTruncated, ErrOversized, ErrCorrupt} {
		if errors.Is(err, k) {
			return k
		}
	}
	return nil
}

func FuzzReadNpy(f *testing.F) {
	le := binary.LittleEndian
	good := npyFile(1, npyDict("<f4", 1, 3, 2, 2), f32Bytes(le, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12))
	f.Add(good)
	f.Add(npyFile(2, npyDict(">f8", 2), f64Bytes(binary.BigEndian, 0.5, -1)))
	f.Add(npyFile(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", f32Bytes(le, 3)))
	f.Add(good[:100])
	f.Add(append(slices.Clone(good), 0))
	f.Add(npyFile(1, npyDict("<f4", 1_000_000_000, 3, 1000, 1000), make([]byte, 40)))
	f.Add(npyFile(1, npyDict("<f4", 1<<62, 3, 4, 4), make([]byte, 40)))
	f.Add(npyFile(1, npyDict("<f4", 2), f32Bytes(le, 1, float32(math.NaN()))))
	f.Add([]byte(npyMagic + "\x02\x00\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := ReadNpy(bytes.NewReader(data), "fuzz")
		// The path that knows the size (LoadNpyFile's) agrees on the
		// outcome and its kind.
		b, errSized := readNpy(bytes.NewReader(data), "fuzz", int64(len(data)))
		if kindOf(err) != kindOf(errSized) {
			t.Fatalf("reader: %v; sized: %v", err, errSized)
		}
		if err != nil {
			checkKind(t, err)
			return
		}
		if !slices.Equal(a.Shape, b.Shape) || !slices.Equal(a.Data, b.Data) {
			t.Fatal("reader and sized reads differ")
		}
		n := 1
		for _, d := range a.Shape {
			if d < 0 {
				t.Fatalf("shape %v", a.Shape)
			}
			n *= d
		}
		if n != len(a.Data) {
			t.Fatalf("shape %v for %d values", a.Shape, len(a.Data))
		}
		for i, v := range a.Data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("element %d is %v", i, v)
			}
		}
		// What reads re-encodes (as float32, NumPy's way) into a file that
		// reads back the same.
		again, err := ReadNpy(bytes.NewReader(npyFile(1, npyDict("<f4", a.Shape...), f32Bytes(le, a.Data...))), "again")
		if err != nil {
			t.Fatalf("re-reading: %v", err)
		}
		if !slices.Equal(again.Shape, a.Shape) || !slices.Equal(again.Data, a.Data) {
			t.Fatal("re-encoding changed the array")
		}
	})
}

// FuzzParseSpec checks Open's spec parsing, which must validate without
// touching the file system: no panic, errors prefixed "dataset: ", every
// accepted size within MaxImageSide, and a canonical re-encoding of an
// accepted spec parses to the same result. Accepted synthetic specs small
// enough to generate go through Open.
func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{
		"synthetic", "synthetic,train=20,test=10,size=8,seed=3", "synthetic,limit=5,rgb",
		"cifar10:/data/c10", "cifar100:/data/c100,coarse,limit=7", "fashion-mnist", "fashion-mnist:,rgb",
		"mnist:/m", "folder:/data/x,size=64", "folder:/x,size=3037000500", "folder:/x,size=30000",
		"synthetic,size=99999999999999999999", "synthetic,train=-1", "synthetic,,", "a:b:c,d=e=f", " synthetic ,rgb",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		p, err := parseSpec(spec)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "dataset: ") {
				t.Fatalf("error %q without the package prefix", err)
			}
			return
		}
		if _, ok := allowedOptions[p.name]; !ok {
			t.Fatalf("accepted unknown dataset %q", p.name)
		}
		if p.size > MaxImageSide || p.synthetic.Size > MaxImageSide || p.size < 0 || p.synthetic.Size < 0 || p.limit < 0 {
			t.Fatalf("accepted %+v", p)
		}
		if p.name == "folder" && p.size < 1 {
			t.Fatalf("folder of size %d", p.size)
		}
		canon := p.name
		if p.name != "synthetic" {
			canon += ":" + p.dir
		}
		opt := func(k string, v int) {
			canon += "," + k + "=" + strconv.Itoa(v)
		}
		opt("limit", p.limit)
		if p.rgb {
			canon += ",rgb"
		}
		switch p.name {
		case "synthetic":
			opt("train", p.synthetic.Train)
			opt("test", p.synthetic.Test)
			opt("size", p.synthetic.Size)
			opt("seed", int(p.synthetic.Seed))
		case "cifar100":
			if p.coarse {
				canon += ",coarse"
			}
		case "folder":
			opt("size", p.size)
		}
		q, err := parseSpec(canon)
		if err != nil {
			t.Fatalf("canonical %q of %q: %v", canon, spec, err)
		}
		if *p != *q {
			t.Fatalf("%q parses to %+v, its canonical form %q to %+v", spec, p, canon, q)
		}
		if p.name == "synthetic" {
			d := p.synthetic.withDefaults()
			if max(d.Train, d.Test)*d.Size*d.Size > 1<<16 {
				return
			}
			ds, err := Open(spec, Test)
			if err != nil {
				t.Fatalf("Open(%q): %v", spec, err)
			}
			want := d.Test
			if p.limit > 0 {
				want = min(want, p.limit)
			}
			if ds.Len() != want {
				t.Fatalf("Open(%q): %d images, want %d", spec, ds.Len(), want)
			}
		}
	})
}
