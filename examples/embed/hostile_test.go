package main

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/disiam/disiam/safetensors"
)

// rawNpy writes a version 1.0 .npy file with the given shape and data
// bytes, whatever they are.
func rawNpy(t *testing.T, path, shape string, data []byte) {
	t.Helper()
	h := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': %s, }", shape)
	h += strings.Repeat(" ", (64-(10+len(h)+1)%64)%64) + "\n"
	b := append([]byte("\x93NUMPY\x01\x00"), byte(len(h)), byte(len(h)>>8))
	b = append(append(b, h...), data...)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// The reported failures, through the command: hostile sizes in an -input
// header, a -data spec or a flag, inputs with too little or too much data
// or with NaNs, and a corrupt weights file all end in an error that names
// the file and the field, never a panic.
func TestHostileInputs(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "o.npy")
	path := func(name string) string { return filepath.Join(dir, name) }
	pixels := make([]byte, 4*3*4*4)
	nan := append([]byte(nil), pixels...)
	binary.LittleEndian.PutUint32(nan[4*21:], math.Float32bits(float32(math.NaN())))
	rawNpy(t, path("huge.npy"), "(1000000000, 3, 1000, 1000)", make([]byte, 40)) // 168 bytes
	rawNpy(t, path("wrap.npy"), "(4611686018427387904, 3, 4, 4)", nil)
	rawNpy(t, path("short.npy"), "(1, 3, 4, 4)", pixels[:40])
	rawNpy(t, path("long.npy"), "(1, 3, 4, 4)", append(append([]byte(nil), pixels...), 0, 0, 0, 0))
	rawNpy(t, path("nan.npy"), "(1, 3, 4, 4)", nan)
	rawNpy(t, path("ok.npy"), "(1, 3, 4, 4)", pixels)
	if st, _ := os.Stat(path("huge.npy")); st.Size() != 168 {
		t.Fatalf("huge.npy has %d bytes", st.Size())
	}
	folder := path("imgs")
	if err := os.MkdirAll(filepath.Join(folder, "a"), 0o755); err != nil {
		t.Fatal(err)
	}
	weights := path("w.safetensors")
	var w safetensors.File
	if err := w.Set("fc.bias", safetensors.FromFloat32([]int{3}, []float32{1, 2, 3})); err != nil {
		t.Fatal(err)
	}
	if err := safetensors.WriteFile(weights, &w); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(weights)
	raw[len(raw)-1] ^= 1
	os.WriteFile(weights, raw, 0o644)

	tests := []struct {
		name string
		o    options
		want string
	}{
		{"header of 3e15 floats", options{input: path("huge.npy")},
			path("huge.npy") + ": shape [1000000000 3 1000 1000] of <f4 declares 12000000000000000 data bytes, more than the 17179869184 allowed: oversized"},
		{"wrapping shape", options{input: path("wrap.npy")},
			path("wrap.npy") + ": shape [4611686018427387904 3 4 4] of <f4: the data size overflows an int: oversized"},
		{"too little data", options{input: path("short.npy")},
			path("short.npy") + ": shape [1 3 4 4] of <f4 needs 192 data bytes after the 128-byte header, the file has 40: truncated"},
		{"trailing data", options{input: path("long.npy")},
			path("long.npy") + ": shape [1 3 4 4] of <f4 needs 192 data bytes after the 128-byte header, the file has 196 (4 bytes of trailing data): oversized"},
		{"NaN pixel", options{input: path("nan.npy")},
			path("nan.npy") + ": element 21 (index [0 1 1 1]) is NaN; the values must be finite: corrupt"},
		{"-size overflowing", options{input: path("ok.npy"), size: 3037000500}, "-size 3037000500 exceeds the largest image side 8192"},
		{"folder size overflowing", options{data: "folder:" + folder + ",size=3037000500"},
			"dataset: folder:" + folder + ",size=3037000500: option size=3037000500 exceeds the largest image side 8192: oversized"},
		{"folder size out of memory", options{data: "folder:" + folder + ",size=30000"}, "option size=30000 exceeds the largest image side 8192"},
		{"corrupt weights", options{input: path("ok.npy"), weights: weights}, "safetensors: " + weights + ": data checksum mismatch"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.o
			o.backbone, o.output, o.batch, o.normalize, o.split = "resnet18", out, 2, "none", "train"
			err := run(o, quiet)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}
