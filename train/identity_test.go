package train

import (
	"math"

	"github.com/disiam/disiam/optim"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestSameStages checks that resuming with other epoch counts is refused
// with the reason (the schedule depends on them), and that other changes
// of the stages fall through to the general message.
func TestSameStages(t *testing.T) {
	cases := []struct {
		saved, now, want string
	}{
		{"simsiam:6", "simsiam:6", ""},
		{"simsiam:6", "simsiam:8", "written by a run of simsiam:6 epochs; this run asks for simsiam:8: a run cannot be continued with another number of epochs, since its learning-rate schedule (the cosine decay) depends on the epoch count"},
		{"simclr:2,disiam:4", "simclr:2,disiam:3", "simclr:2,disiam:4 epochs"},
		{"simsiam:6", "byol:6", ""},
		{"simsiam:6", "simclr:2,simsiam:4", ""},
	}
	for _, tc := range cases {
		err := sameStages("ckpt", tc.saved, tc.now)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s -> %s: %v", tc.saved, tc.now, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s -> %s: %v, want an error with %q", tc.saved, tc.now, err, tc.want)
		}
	}
	// Through sameIdentity, the epochs message comes before any other
	// differing key.
	err := sameIdentity("ckpt", map[string]string{"-epochs": "6", "stages": "simsiam:6"}, map[string]string{"-epochs": "8", "stages": "simsiam:8"})
	if err == nil || !strings.Contains(err.Error(), "depends on the epoch count") {
		t.Errorf("sameIdentity: %v", err)
	}
}

func TestRemoveStale(t *testing.T) {
	dir := t.TempDir()
	files := []string{"checkpoint.safetensors", ".checkpoint.safetensors.tmp-123", ".encoder.safetensors.tmp-9", ".other.tmp-1", "metrics.jsonl", ".metrics.jsonl.tmp-77"}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	l := &Loop{Stages: []Stage{{Exports: []Export{{File: "encoder.safetensors"}}}},
		Config: Config{CheckpointDir: dir, MetricsPath: filepath.Join(dir, "metrics.jsonl")}}
	l.removeStale()
	ents, _ := os.ReadDir(dir)
	var left []string
	for _, e := range ents {
		left = append(left, e.Name())
	}
	if want := []string{".other.tmp-1", "checkpoint.safetensors", "metrics.jsonl"}; !slices.Equal(left, want) {
		t.Errorf("left %q, want %q", left, want)
	}
}

func TestCheckSchedule(t *testing.T) {
	good := optim.WarmupCosine{Base: 0.1, Warmup: 2, Steps: 10}
	if err := checkSchedule(good, 10); err != nil {
		t.Errorf("good schedule: %v", err)
	}
	for _, tc := range []struct {
		base float64
		want string
	}{
		{-1, "the learning rate at step 0 is -1"},
		{math.NaN(), "the learning rate at step 0 is NaN"},
		{math.Inf(1), "the learning rate at step 0 is +Inf"},
	} {
		err := checkSchedule(optim.Cosine{Base: tc.base, Steps: 10}, 10)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("base %v: %v, want %q", tc.base, err, tc.want)
		}
	}
}

func TestCheckSchedulePanic(t *testing.T) {
	err := checkSchedule(optim.Cosine{Base: 0.1}, 3)
	if err == nil || !strings.Contains(err.Error(), "the learning-rate schedule fails at step 0: optim: Cosine: Steps 0") {
		t.Errorf("%v", err)
	}
}
