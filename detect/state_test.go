package detect

import (
	"path/filepath"
	"testing"

	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/safetensors"
)

// TestCOCOCheckpointNames compares the state_dict of FCOS on ResNet-50 with
// FrozenBN at 91 classes with torchvision's fcos_resnet50_fpn (the model
// its COCO_V1 weights belong to), key by key and shape by shape, so that
// checkpoint loads with strict names.
func TestCOCOCheckpointNames(t *testing.T) {
	want := loadGolden(t).Standalone.ResNet50FrozenBNStateDict
	if len(want) == 0 {
		t.Fatal("no reference state_dict")
	}
	m, err := NewFCOS(backbone.NewResNet(50, backbone.Config{NoInit: true}), Config{Classes: 91, NoInit: true, FrozenBN: true, FrozenStages: 2})
	if err != nil {
		t.Fatal(err)
	}
	checkStateDict(t, m, want)
}

// TestSafetensorsRoundTrip saves a detector and loads it into a fresh one
// with strict names.
func TestSafetensorsRoundTrip(t *testing.T) {
	build := func(seed uint64) *FCOS {
		m, err := NewFCOS(backbone.NewEfficientNet(0, backbone.Config{Seed: seed, WidthMult: 0.5}),
			Config{Classes: 4, Channels: 32, HeadConvs: 2, Seed: seed, FrozenBN: true})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	a, b := build(1), build(2)
	path := filepath.Join(t.TempDir(), "fcos.safetensors")
	if err := safetensors.SaveModule(path, a); err != nil {
		t.Fatal(err)
	}
	if err := safetensors.LoadModule(path, b); err != nil {
		t.Fatal(err)
	}
	pa, pb := a.Params(), b.Params()
	for i := range pa {
		da, db := pa[i].Data(), pb[i].Data()
		for j := range da {
			if da[j] != db[j] {
				t.Fatalf("%s[%d]: %v after loading, saved %v", pb[i].Name, j, db[j], da[j])
			}
		}
	}
	// A detector without frozen BN has num_batches_tracked: the file
	// lacks it, so a strict load fails and names it.
	c, err := NewFCOS(backbone.NewEfficientNet(0, backbone.Config{WidthMult: 0.5}), Config{Classes: 4, Channels: 32, HeadConvs: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := safetensors.LoadModule(path, c); err == nil {
		t.Fatal("strict load without num_batches_tracked succeeded")
	}
}
