package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func sample(t testing.TB) *File {
	t.Helper()
	f := &File{Metadata: map[string]string{"format": "pt", "note": "ünïcode \"quoted\""}}
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(f.Set("conv.weight", FromFloat32([]int{2, 1, 2, 2}, []float32{1, -2, 3.5, -4, 5, 6, 7, float32(math.Inf(-1))})))
	must(f.Set("bn.num_batches_tracked", FromInt64([]int{}, []int64{42})))
	must(f.Set("double", FromFloat64([]int{3}, []float64{math.Pi, -1e-300, 0})))
	must(f.Set("empty", FromFloat32([]int{0, 5}, nil)))
	must(f.Set("half", Tensor{Dtype: F16, Shape: []int{2}, Data: []byte{0x00, 0x3c, 0x00, 0xc0}})) // 1, -2
	return f
}

func TestRoundTrip(t *testing.T) {
	f := sample(t)
	path := filepath.Join(t.TempDir(), "x.safetensors")
	if err := WriteFile(path, f); err != nil {
		t.Fatal(err)
	}
	g, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(f.Names(), g.Names()); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(f.Metadata, g.Metadata); diff != "" {
		t.Errorf("metadata (-want +got):\n%s", diff)
	}
	for _, name := range f.Names() {
		a, _ := f.Get(name)
		b, ok := g.Get(name)
		if !ok {
			t.Fatalf("%s missing after round trip", name)
		}
		if a.Dtype != b.Dtype || !equalShape(a.Shape, b.Shape) || !bytes.Equal(a.Data, b.Data) {
			t.Errorf("%s: got %s%v, want %s%v", name, b.Dtype, b.Shape, a.Dtype, a.Shape)
		}
	}
	// Writing is deterministic, and the header keeps the data 8-byte aligned.
	var b1, b2 bytes.Buffer
	if _, err := f.WriteTo(&b1); err != nil {
		t.Fatal(err)
	}
	if _, err := g.WriteTo(&b2); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b1.Bytes(), b2.Bytes()) {
		t.Error("re-encoding a decoded file changed its bytes")
	}
	if hl := binary.LittleEndian.Uint64(b1.Bytes()); hl%8 != 0 {
		t.Errorf("header length %d is not a multiple of 8", hl)
	}
	onDisk, _ := os.ReadFile(path)
	if !bytes.Equal(onDisk, b1.Bytes()) {
		t.Error("WriteFile and WriteTo disagree")
	}
}

func TestConversions(t *testing.T) {
	tests := []struct {
		name string
		t    Tensor
		want []float32
	}{
		{"f32", FromFloat32([]int{2}, []float32{1.5, -3}), []float32{1.5, -3}},
		{"f64", FromFloat64([]int{2}, []float64{0.1, -2}), []float32{0.1, -2}},
		{"i64", FromInt64([]int{2}, []int64{-7, 9}), []float32{-7, 9}},
		// 0x3555 = 0.333251953125, 0x0001 = 2^-24 (subnormal), 0x7bff = 65504, 0xfc00 = -inf
		{"f16", Tensor{F16, []int{4}, []byte{0x55, 0x35, 0x01, 0x00, 0xff, 0x7b, 0x00, 0xfc}},
			[]float32{0.333251953125, 1.0 / (1 << 24), 65504, float32(math.Inf(-1))}},
		// 0x3f80 = 1, 0xc0a0 = -5
		{"bf16", Tensor{BF16, []int{2}, []byte{0x80, 0x3f, 0xa0, 0xc0}}, []float32{1, -5}},
		{"i8", Tensor{I8, []int{2}, []byte{0xff, 0x05}}, []float32{-1, 5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.t.Float32s()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if _, err := FromFloat32([]int{1}, []float32{1}).Int64s(); err == nil {
		t.Error("Int64s of an F32 tensor: no error")
	}
	if _, err := (Tensor{Dtype: F32, Shape: []int{2}, Data: make([]byte, 4)}).Float32s(); err == nil {
		t.Error("Float32s of a short tensor: no error")
	}
}

// encode builds a file from a raw header string and data section.
func encode(header string, data []byte) []byte {
	b := make([]byte, 8, 8+len(header)+len(data))
	binary.LittleEndian.PutUint64(b, uint64(len(header)))
	return append(append(b, header...), data...)
}

func TestParseErrors(t *testing.T) {
	huge := make([]byte, 8)
	binary.LittleEndian.PutUint64(huge, MaxHeaderSize+1)
	tests := []struct {
		name string
		file []byte
		want string // substring of the error
	}{
		{"short", []byte{1, 2, 3}, "shorter than the 8-byte header length"},
		{"huge header", huge, "exceeds"},
		{"truncated header", encode(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, nil)[:20], "truncated"},
		{"not an object", encode(`[1,2]   `, nil), "does not start with '{'"},
		{"bad json", encode(`{"a":}`, nil), "header"},
		{"duplicate", encode(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)), "duplicate key"},
		{"unknown dtype", encode(`{"a":{"dtype":"F8","shape":[1],"data_offsets":[0,1]}}`, make([]byte, 1)), "unknown dtype"},
		{"unknown field", encode(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}}`, make([]byte, 4)), "unknown field"},
		{"missing offsets", encode(`{"a":{"dtype":"F32","shape":[1]}}`, make([]byte, 4)), "needs dtype, shape and data_offsets"},
		{"three offsets", encode(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, make([]byte, 4)), "want 2"},
		{"negative shape", encode(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, make([]byte, 4)), "negative dimension"},
		{"size mismatch", encode(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, make([]byte, 4)), "needs 8 bytes"},
		{"outside", encode(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 4)), "outside"},
		{"gap", encode(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)), "gap"},
		{"overlap", encode(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)), "overlaps"},
		{"uncovered tail", encode(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 8)), "cover 4 of the 8"},
		{"bad metadata", encode(`{"__metadata__":{"a":1}}`, nil), "__metadata__"},
		{"trailing garbage", encode(`{} x`, nil), "unexpected bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.file)
			if err == nil {
				t.Fatalf("no error, want one containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "safetensors: ") {
				t.Errorf("error %q, want prefix \"safetensors: \" and %q", err, tc.want)
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	tests := []struct {
		name string
		file []byte
		want []string
	}{
		{"empty", encode(`{}`, nil), nil},
		{"padded header", encode(`{"a":{"dtype":"U8","shape":[],"data_offsets":[0,1]}}    `, []byte{9}), []string{"a"}},
		// names come in data order, not header order
		{"data order", encode(`{"b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, []byte{1, 2}), []string{"a", "b"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, f.Names()); diff != "" {
				t.Errorf("names (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadFileNamesPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.safetensors")
	if err := os.WriteFile(path, []byte("nonsense"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ReadFile(path)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("error %v does not name %s", err, path)
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "w.safetensors")
	old := &File{}
	if err := old.Set("x", FromFloat32([]int{1}, []float32{1})); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, old); err != nil {
		t.Fatal(err)
	}
	// A file that cannot be encoded fails before touching path.
	bad := &File{names: []string{"x"}, tensors: map[string]Tensor{"x": {Dtype: F32, Shape: []int{2}, Data: make([]byte, 3)}}}
	if err := WriteFile(path, bad); err == nil {
		t.Error("writing an inconsistent tensor: no error")
	}
	// A failing write leaves neither a partial file nor a temporary.
	if err := WriteFile(filepath.Join(dir, "missing-dir", "w.safetensors"), old); err == nil {
		t.Error("writing into a missing directory: no error")
	}
	if err := WriteFile(path, sample(t)); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "w.safetensors" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want only w.safetensors", names)
	}
	g, err := ReadFile(path)
	if err != nil || g.Len() != sample(t).Len() {
		t.Errorf("after overwrite: %v, %d tensors", err, g.Len())
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, %v; want 0644", st.Mode(), err)
	}
}

func TestSetDelete(t *testing.T) {
	var f File
	if err := f.Set("", FromFloat32(nil, []float32{1})); err == nil {
		t.Error("empty name accepted")
	}
	if err := f.Set("__metadata__", FromFloat32(nil, []float32{1})); err == nil {
		t.Error("__metadata__ accepted as a tensor name")
	}
	for _, n := range []string{"a", "b", "c"} {
		if err := f.Set(n, FromFloat32([]int{1}, []float32{1})); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Set("b", FromFloat32([]int{2}, []float32{1, 2})); err != nil {
		t.Fatal(err)
	}
	f.Delete("a")
	f.Delete("nope")
	if diff := cmp.Diff([]string{"b", "c"}, f.Names()); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	if b, _ := f.Get("b"); b.Numel() != 2 {
		t.Errorf("replaced tensor has %d elements", b.Numel())
	}
}

// The header JSON of a written file is valid JSON with the spec's fields.
func TestHeaderIsPlainJSON(t *testing.T) {
	var b bytes.Buffer
	if _, err := sample(t).WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	hl := binary.LittleEndian.Uint64(b.Bytes())
	var h map[string]json.RawMessage
	if err := json.Unmarshal(b.Bytes()[8:8+hl], &h); err != nil {
		t.Fatal(err)
	}
	if _, ok := h["__metadata__"]; !ok || len(h) != 6 {
		t.Errorf("header has %d keys (metadata %v)", len(h), ok)
	}
}

func FuzzParse(f *testing.F) {
	var b bytes.Buffer
	if _, err := sample(f).WriteTo(&b); err != nil {
		f.Fatal(err)
	}
	f.Add(b.Bytes())
	f.Add(encode(`{}`, nil))
	f.Add(encode(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)))
	if data, err := os.ReadFile("testdata/torch_small.safetensors"); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		if err != nil {
			return
		}
		// Whatever parses re-encodes into a file that parses to the same tensors.
		var out bytes.Buffer
		if _, err := file.WriteTo(&out); err != nil {
			t.Fatalf("re-encoding: %v", err)
		}
		again, err := Parse(out.Bytes())
		if err != nil {
			t.Fatalf("re-parsing: %v", err)
		}
		if diff := cmp.Diff(file.Names(), again.Names()); diff != "" {
			t.Fatalf("names changed: %s", diff)
		}
		for _, n := range file.Names() {
			a, _ := file.Get(n)
			c, _ := again.Get(n)
			if !bytes.Equal(a.Data, c.Data) || a.Dtype != c.Dtype || !equalShape(a.Shape, c.Shape) {
				t.Fatalf("%s changed", n)
			}
		}
	})
}
