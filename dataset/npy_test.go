package dataset

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"codeberg.org/sbinet/npyio/npy"
)

// npyFile builds a .npy file: version major.0, header dict as given
// (padded as NumPy pads it, to a multiple of 64 bytes with a final
// newline), then data.
func npyFile(major byte, dict string, data []byte) []byte {
	lenBytes := 2
	if major > 1 {
		lenBytes = 4
	}
	pre := 6 + 2 + lenBytes
	h := dict + strings.Repeat(" ", (64-(pre+len(dict)+1)%64)%64) + "\n"
	b := append([]byte(npyMagic), major, 0)
	if lenBytes == 2 {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(h)))
	} else {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(h)))
	}
	return append(append(b, h...), data...)
}

// npyDict is the header dictionary NumPy writes for a C-order array.
func npyDict(descr string, shape ...int) string {
	var dims []string
	for _, d := range shape {
		dims = append(dims, fmt.Sprint(d))
	}
	tuple := "(" + strings.Join(dims, ", ") + ")"
	if len(shape) == 1 {
		tuple = fmt.Sprintf("(%d,)", shape[0])
	}
	return fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, tuple)
}

// f32Bytes and f64Bytes encode values in the given byte order.
func f32Bytes(order binary.AppendByteOrder, v ...float32) []byte {
	var b []byte
	for _, x := range v {
		b = order.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

func f64Bytes(order binary.AppendByteOrder, v ...float64) []byte {
	var b []byte
	for _, x := range v {
		b = order.AppendUint64(b, math.Float64bits(x))
	}
	return b
}

func TestReadNpy(t *testing.T) {
	le, be := binary.LittleEndian, binary.BigEndian
	vals := []float32{0, 1, -2.5, 3e-7, 1e30, 0.125}
	vals64 := []float64{0, 1, -2.5, 3e-7, 1e30, 0.125}
	cases := []struct {
		name  string
		data  []byte
		shape []int
		want  []float32
	}{
		{"f4", npyFile(1, npyDict("<f4", 2, 3), f32Bytes(le, vals...)), []int{2, 3}, vals},
		{"f8", npyFile(1, npyDict("<f8", 1, 2, 3), f64Bytes(le, vals64...)), []int{1, 2, 3}, vals},
		{"big endian f4", npyFile(1, npyDict(">f4", 6), f32Bytes(be, vals...)), []int{6}, vals},
		{"big endian f8", npyFile(1, npyDict(">f8", 3, 2), f64Bytes(be, vals64...)), []int{3, 2}, vals},
		{"version 2", npyFile(2, npyDict("<f4", 6), f32Bytes(le, vals...)), []int{6}, vals},
		{"version 3", npyFile(3, npyDict("<f4", 6), f32Bytes(le, vals...)), []int{6}, vals},
		{"0-d", npyFile(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", f32Bytes(le, 7)), []int{}, []float32{7}},
		{"empty", npyFile(1, npyDict("<f4", 0, 3, 4, 4), nil), []int{0, 3, 4, 4}, []float32{}},
		{"python 2 longs, other key order", npyFile(1, `{"shape": (2L, 3L), "fortran_order": False, "descr": "<f4"}`, f32Bytes(le, vals...)), []int{2, 3}, vals},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, how := range []string{"reader", "file"} {
				var a *Array
				var err error
				if how == "reader" {
					a, err = ReadNpy(bytes.NewReader(tc.data), "x.npy")
				} else {
					path := filepath.Join(t.TempDir(), "x.npy")
					writeFile(t, path, tc.data)
					a, err = LoadNpyFile(path)
				}
				if err != nil {
					t.Fatalf("%s: %v", how, err)
				}
				if !slices.Equal(a.Shape, tc.shape) || !slices.Equal(a.Data, tc.want) {
					t.Errorf("%s: shape %v data %v, want %v %v", how, a.Shape, a.Data, tc.shape, tc.want)
				}
			}
		})
	}
}

// Files written by another .npy implementation (npyio, the writer the
// examples use) read back exactly.
func TestReadNpyFromNpyio(t *testing.T) {
	var buf bytes.Buffer
	want := []float32{1.5, -2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	m := []float32(want)
	if err := npy.Write(&buf, m); err != nil {
		t.Fatal(err)
	}
	a, err := ReadNpy(&buf, "npyio.npy")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.Shape, []int{12}) || !slices.Equal(a.Data, want) {
		t.Errorf("shape %v data %v", a.Shape, a.Data)
	}
}

// Every way a .npy file can be wrong, through both entry points: an error
// of the right kind that names the file and says what is wrong, before any
// allocation the header alone asks for.
func TestReadNpyErrors(t *testing.T) {
	le := binary.LittleEndian
	ok := npyDict("<f4", 1, 3, 4, 4)
	data := f32Bytes(le, make([]float32, 48)...)
	withNaN := slices.Clone(data)
	copy(withNaN[5*4:], f32Bytes(le, float32(math.NaN())))
	withInf := f64Bytes(le, 0, 0, 0, 0, 0, 0, 0, 0, 0, math.Inf(-1), 0, 0)
	v2huge := append([]byte(npyMagic), 2, 0)
	v2huge = le.AppendUint32(v2huge, 1<<31)
	cases := []struct {
		name string
		data []byte
		kind error
		// fragments of the error through LoadNpyFile (size known) and
		// ReadNpy (unknown); nil reader fragments mean the same.
		file, reader []string
	}{
		{"empty", nil, ErrTruncated, []string{"empty file"}, nil},
		{"short preamble", []byte("\x93NUM"), ErrTruncated, []string{"preamble: 4 of 8 bytes"}, nil},
		{"magic", []byte("PK\x03\x04\x14\x00\x00\x00\x08\x00"), ErrCorrupt, []string{"magic string", "not a .npy file"}, nil},
		{"version", npyFile(1, ok, data)[:6:6], ErrTruncated, []string{"preamble: 6 of 8"}, nil},
		{"version 4", append([]byte(npyMagic), 4, 0, 0, 0), ErrCorrupt, []string{"format version 4.0"}, nil},
		{"huge header", v2huge, ErrCorrupt, []string{"header length 2147483648 exceeds 65536"}, nil},
		{"short header", npyFile(1, ok, nil)[:40], ErrTruncated, []string{"header: 30 of 118 bytes"}, nil},
		{"not a dict", npyFile(1, "[1, 2]", nil), ErrCorrupt, []string{"want '{'"}, nil},
		{"missing key", npyFile(1, "{'descr': '<f4', 'shape': (2,)}", nil), ErrCorrupt, []string{`no "fortran_order" key`}, nil},
		{"unknown key", npyFile(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", nil), ErrCorrupt, []string{`unknown key "x"`}, nil},
		{"duplicate key", npyFile(1, "{'descr': '<f4', 'descr': '<f8'}", nil), ErrCorrupt, []string{`key "descr" given twice`}, nil},
		{"negative dim", npyFile(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 3)}", nil), ErrCorrupt, []string{"non-negative integer"}, nil},
		{"dim beyond int", npyFile(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", nil), ErrCorrupt, []string{"does not fit an int"}, nil},
		{"after dict", npyFile(1, ok+" x", data), ErrCorrupt, []string{"unexpected bytes after the dictionary"}, nil},
		{"structured", npyFile(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}", nil), ErrCorrupt, []string{"structured dtypes are not supported"}, nil},
		{"dtype", npyFile(1, npyDict("<i4", 2), make([]byte, 8)), ErrCorrupt, []string{`dtype "<i4"`, "float32"}, nil},
		{"fortran", npyFile(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", make([]byte, 16)), ErrCorrupt, []string{"fortran_order is True"}, nil},
		// The reported failures: a 168-byte file whose header declares
		// 1e9 x 3 x 1000 x 1000 floats, and a shape whose product wraps to
		// 0 in 64-bit arithmetic.
		{"huge shape", npyFile(1, npyDict("<f4", 1_000_000_000, 3, 1000, 1000), make([]byte, 40)), ErrOversized,
			[]string{"shape [1000000000 3 1000 1000] of <f4 declares 12000000000000000 data bytes, more than the 17179869184 allowed"}, nil},
		{"wrapping shape", npyFile(1, npyDict("<f4", 1<<62, 3, 4, 4), make([]byte, 40)), ErrOversized,
			[]string{"shape [4611686018427387904 3 4 4] of <f4: the data size overflows an int"}, nil},
		{"shape beyond the file", npyFile(1, npyDict("<f4", 1000, 3, 1000, 1000), make([]byte, 40)), ErrTruncated,
			[]string{"needs 12000000000 data bytes after the 128-byte header, the file has 40"},
			[]string{"needs 12000000000 data bytes after the 128-byte header, the data ends after 40"}},
		{"short data", npyFile(1, ok, data[:40]), ErrTruncated,
			[]string{"shape [1 3 4 4] of <f4 needs 192 data bytes after the 128-byte header, the file has 40"},
			[]string{"shape [1 3 4 4] of <f4 needs 192 data bytes after the 128-byte header, the data ends after 40"}},
		{"trailing data", npyFile(1, ok, append(slices.Clone(data), 1, 2, 3, 4, 5, 6, 7, 8)), ErrOversized,
			[]string{"needs 192 data bytes after the 128-byte header, the file has 200 (8 bytes of trailing data)"},
			[]string{"data continues past the 192 bytes that shape [1 3 4 4] of <f4 declares"}},
		{"NaN", npyFile(1, ok, withNaN), ErrCorrupt, []string{"element 5 (index [0 0 1 1]) is NaN; the values must be finite"}, nil},
		{"infinity", npyFile(1, npyDict("<f8", 2, 2, 3), withInf), ErrCorrupt, []string{"element 9 (index [1 1 0]) is -Inf"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.npy")
			writeFile(t, path, tc.data)
			_, err := LoadNpyFile(path)
			wantErr(t, err, tc.kind, append([]string{"dataset: npy: " + path + ": "}, tc.file...)...)
			if tc.reader == nil {
				tc.reader = tc.file
			}
			_, err = ReadNpy(bytes.NewReader(tc.data), "bad.npy")
			wantErr(t, err, tc.kind, append([]string{"dataset: npy: bad.npy: "}, tc.reader...)...)
		})
	}
	_, err := LoadNpyFile(filepath.Join(t.TempDir(), "missing.npy"))
	wantErr(t, err, nil, "missing.npy", "no such file")
}
