package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/safetensors"
)

// TestEmbeddings compares the random initialization with an encoder loaded
// from a file (a differently seeded network) on 200 synthetic images and
// checks the outputs: one figure per encoder, the stacked figure, the
// spectra and a divergence table with a row per encoder.
func TestEmbeddings(t *testing.T) {
	dir := t.TempDir()
	b, err := backbone.New("resnet18-w8", backbone.Config{Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	w := filepath.Join(dir, "other.safetensors")
	if err := safetensors.SaveModule(w, b); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	var stdout bytes.Buffer
	err = run(context.Background(), []string{"-backbone", "resnet18-w8", "-encoders", "random=,seed5=" + w,
		"-data", "synthetic,train=10,test=200,size=16", "-images", "200", "-out", out}, &stdout, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(stdout.String())
	for _, f := range []string{"trimap_random.png", "trimap_seed5.png", "embeddings.png", "spectrum.png"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() < 20000 {
			t.Errorf("%s missing or small: %v", f, err)
		}
	}
	md, err := os.ReadFile(filepath.Join(out, "divergences.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| random (random initialization) |", "| seed5 |", "## seed5: Jensen-Shannon"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("divergences.md lacks %q:\n%s", want, md)
		}
	}
}

func TestBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-encoders", "a=,a=", "-out", "x"}, "\"a\" twice"},
		{[]string{"-encoders", "nofile", "-out", "x"}, "not NAME=FILE"},
		{[]string{"-encoders", "a="}, `invalid value "" for flag -out: must not be empty`},
		{[]string{"-encoders", "a=", "-out", "x", "-images", "-1"}, `invalid value "-1" for flag -images: must be an integer ≥ 0`},
		{[]string{"-encoders", "a=/nonexistent.safetensors", "-out", t.TempDir(), "-data", "synthetic,train=10,test=20", "-images", "20"}, "nonexistent"},
	} {
		err := run(context.Background(), tc.args, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.args, err, tc.want)
		}
	}
}
