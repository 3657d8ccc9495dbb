package safetensors

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// rawMetadata returns the __metadata__ object of an encoded file.
func rawMetadata(t *testing.T, file []byte) map[string]string {
	t.Helper()
	hl := binary.LittleEndian.Uint64(file)
	var h struct {
		Meta map[string]string `json:"__metadata__"`
	}
	if err := json.Unmarshal(file[8:8+hl], &h); err != nil {
		t.Fatal(err)
	}
	return h.Meta
}

// Every written file carries the SHA-256 of its data section; Parse checks
// it and hides it from Metadata.
func TestChecksumWritten(t *testing.T) {
	f := sample(t)
	f.Metadata[ChecksumKey] = "a caller's value, replaced"
	path := filepath.Join(t.TempDir(), "c.safetensors")
	if err := WriteFile(path, f); err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	hl := binary.LittleEndian.Uint64(file)
	sum := sha256.Sum256(file[8+hl:])
	if got := rawMetadata(t, file)[ChecksumKey]; got != hex.EncodeToString(sum[:]) {
		t.Errorf("%s = %q, want the data's SHA-256 %x", ChecksumKey, got, sum)
	}
	g, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"format": "pt", "note": "ünïcode \"quoted\""}
	if diff := cmp.Diff(want, g.Metadata); diff != "" {
		t.Errorf("metadata after read (-want +got):\n%s", diff)
	}
	// A file with no metadata of its own reads back with none.
	var empty File
	if err := empty.Set("x", FromFloat32([]int{1}, []float32{2})); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := empty.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	if _, ok := rawMetadata(t, b.Bytes())[ChecksumKey]; !ok {
		t.Error("WriteTo wrote no checksum")
	}
	if e, err := Parse(b.Bytes()); err != nil || e.Metadata != nil {
		t.Errorf("metadata %v, %v; want nil", e.Metadata, err)
	}
}

func TestChecksumVerified(t *testing.T) {
	var b bytes.Buffer
	if _, err := sample(t).WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	good := b.Bytes()
	hl := int(binary.LittleEndian.Uint64(good))
	flipped := slices.Clone(good)
	flipped[8+hl+5] ^= 0x10 // one bit of conv.weight
	sum := sha256.Sum256(flipped[8+hl:])
	tests := []struct {
		name string
		file []byte
		want string
	}{
		{"flipped data bit", flipped, fmt.Sprintf("data checksum mismatch: the header's disiam.sha256 is %s, the %d data bytes hash to %x (corrupt file)",
			rawMetadata(t, good)[ChecksumKey], len(good)-8-hl, sum)},
		{"not hex", encode(`{"__metadata__":{"disiam.sha256":"xyz"}}`, nil), `__metadata__ disiam.sha256 "xyz" is not a hex SHA-256`},
		{"short", encode(`{"__metadata__":{"disiam.sha256":"00ff"}}`, nil), `"00ff" is not a hex SHA-256`},
		{"data of another file", encode(`{"__metadata__":{"disiam.sha256":"`+rawMetadata(t, good)[ChecksumKey]+`"},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, []byte{7}), "data checksum mismatch"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.safetensors")
			if err := os.WriteFile(path, tc.file, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := ReadFile(path)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "safetensors: "+path+": ") {
				t.Errorf("error %v, want one naming %s and containing %q", err, path, tc.want)
			}
		})
	}
	// Files without the key, as PyTorch writes them, load unverified.
	if data, err := os.ReadFile("testdata/torch_small.safetensors"); err == nil {
		if _, ok := rawMetadata(t, data)[ChecksumKey]; ok {
			t.Fatal("the PyTorch fixture has a checksum")
		}
		if _, err := Parse(data); err != nil {
			t.Errorf("PyTorch file: %v", err)
		}
	}
	if _, err := Parse(encode(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, []byte{7})); err != nil {
		t.Errorf("file without checksum: %v", err)
	}
}

func TestCleanTemp(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	stale := []string{".m.safetensors.tmp-123", ".m.safetensors.tmp-4294967295"}
	keep := []string{".m.safetensors.tmp-", ".m.safetensors.tmp-12a", ".n.safetensors.tmp-1", "m.safetensors.tmp-1", ".m.safetensors.tmp-1.bak"}
	for _, n := range append(slices.Clone(stale), keep...) {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, ".m.safetensors.tmp-77"), 0o755); err != nil { // not a file
		t.Fatal(err)
	}
	keep = append(keep, ".m.safetensors.tmp-77")
	removed, err := CleanTemp(path)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, n := range stale {
		want = append(want, filepath.Join(dir, n))
	}
	if diff := cmp.Diff(want, removed); diff != "" {
		t.Errorf("removed (-want +got):\n%s", diff)
	}
	entries, _ := os.ReadDir(dir)
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	slices.Sort(keep)
	if diff := cmp.Diff(keep, left); diff != "" {
		t.Errorf("left (-want +got):\n%s", diff)
	}
	if removed, err := CleanTemp(filepath.Join(dir, "missing", "x.safetensors")); err != nil || removed != nil {
		t.Errorf("missing directory: %v, %v", removed, err)
	}
}
