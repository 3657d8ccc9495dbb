package detect

import (
	"strings"
	"testing"

	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/nn"
)

// TestParamCounts compares parameter counts and state_dict sizes with
// torchvision's FCOS at 91 classes: trainable BatchNorm, FrozenBatchNorm2d
// (fcos_resnet50_fpn's COCO weights: 32,269,600) and FrozenBatchNorm2d with
// trainable_backbone_layers 3.
func TestParamCounts(t *testing.T) {
	want := loadGolden(t).Standalone.ParamCounts
	for _, arch := range []string{"resnet18", "resnet50"} {
		for _, tc := range []struct {
			suffix   string
			frozenBN bool
			frozen   int
		}{{"", false, 0}, {"_frozenbn", true, 0}, {"_frozenbn_trainable3", true, 2}} {
			b, err := backbone.New(arch, backbone.Config{NoInit: true})
			if err != nil {
				t.Fatal(err)
			}
			m, err := NewFCOS(b, Config{Classes: 91, NoInit: true, FrozenBN: tc.frozenBN, FrozenStages: tc.frozen})
			if err != nil {
				t.Fatal(err)
			}
			if n, w := nn.CountParams(m), want[arch+tc.suffix]; n != w || w == 0 {
				t.Errorf("%s%s: %d trainable parameters, torchvision %d", arch, tc.suffix, n, w)
			}
			if tc.frozen == 0 {
				key := arch + "_state_keys"
				if tc.frozenBN {
					key = arch + "_frozenbn_state_keys"
				}
				if n := len(m.Params()); n != want[key] {
					t.Errorf("%s%s: %d state_dict entries, torchvision %d", arch, tc.suffix, n, want[key])
				}
			}
		}
	}
	if want["resnet18"] != 19303072 || want["resnet50"] != 32322720 || want["resnet50_frozenbn"] != 32269600 {
		t.Fatalf("golden counts %v", want)
	}
}

// TestFrozenStages checks which backbone parameters train with frozen
// early stages (torchvision's trainable_backbone_layers) and that frozen
// BatchNorms stay in Eval mode.
func TestFrozenStages(t *testing.T) {
	b := backbone.NewResNet(18, backbone.Config{NoInit: true})
	m, err := NewFCOS(b, Config{Classes: 3, NoInit: true, Channels: 32, FrozenBN: true, FrozenStages: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Params() {
		frozen := strings.HasPrefix(p.Name, "backbone.body.conv1.") || strings.HasPrefix(p.Name, "backbone.body.layer1.") ||
			strings.Contains(p.Name, "bn") || strings.Contains(p.Name, "downsample.1")
		if p.Trainable == frozen && !strings.Contains(p.Name, "running_") {
			t.Errorf("%s: trainable %v", p.Name, p.Trainable)
		}
		if strings.HasSuffix(p.Name, "num_batches_tracked") {
			t.Errorf("%s in the state_dict of a frozen-BN model", p.Name)
		}
	}
	m.SetTraining(true)
	if b.BN1.Training || b.Layers[3][1].(*backbone.BasicBlock).BN2.Training {
		t.Error("frozen BatchNorm in Train mode")
	}

	e := backbone.NewEfficientNet(0, backbone.Config{NoInit: true})
	me, err := NewFCOS(e, Config{Classes: 3, NoInit: true, Channels: 32, FrozenStages: 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range me.Params() {
		if !strings.HasPrefix(p.Name, "backbone.body.") || !strings.HasSuffix(p.Name, "weight") {
			continue
		}
		s := strings.TrimPrefix(p.Name, "backbone.body.")
		frozen := s[0] <= '3' && s[1] == '.' // features.0 .. features.3
		if p.Trainable == frozen {
			t.Errorf("%s: trainable %v", p.Name, p.Trainable)
		}
		if strings.HasPrefix(s, "8.") {
			t.Errorf("%s: features.8 is not part of the detector", p.Name)
		}
	}

	for _, cfg := range []Config{{Classes: 0}, {Classes: 3, Channels: 48}, {Classes: 3, FrozenStages: 6}} {
		if _, err := NewFCOS(backbone.NewResNet(18, backbone.Config{NoInit: true}), cfg); err == nil {
			t.Errorf("NewFCOS(%+v) accepted", cfg)
		}
	}
	if _, err := NewFCOS(b, Config{Classes: 3}); err == nil || !strings.Contains(err.Error(), "already") {
		t.Errorf("a second detector on one backbone: %v", err)
	}
}

// TestNonSquareLevels builds a detector on a 100×160 input: the maps, the
// per-axis integer-division strides and the anchors of the first
// positions.
func TestNonSquareLevels(t *testing.T) {
	m, err := NewFCOS(backbone.NewResNet(18, backbone.Config{Width: 8}), Config{Classes: 2, Channels: 32, HeadConvs: 1})
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.NewPredictor(1, 100, 160)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	want := []Level{{13, 20, 7, 8, 8, 0}, {7, 10, 14, 16, 16, 260}, {4, 5, 25, 32, 32, 330},
		{2, 3, 50, 53, 64, 350}, {1, 2, 100, 80, 128, 356}}
	got := p.Outputs().Levels
	for l := range want {
		if got[l] != want[l] {
			t.Fatalf("level %d: %+v, want %+v", l, got[l], want[l])
		}
	}
	a := p.Outputs().Anchors
	if len(a) != 358 || a[1] != (Box{4, -4, 12, 4}) || a[20] != (Box{-4, 3, 4, 11}) || a[357] != (Box{16, -64, 144, 64}) {
		t.Fatalf("%d anchors, a[1] %v a[20] %v a[357] %v", len(a), a[1], a[20], a[357])
	}
	if _, err := p.Predict(); err != nil {
		t.Fatal(err)
	}
}
