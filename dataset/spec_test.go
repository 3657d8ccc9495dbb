package dataset

import (
	"strings"
	"testing"

	"github.com/disiam/disiam/augment"
)

// TestCheckSpec checks that CheckSpec accepts the documented specs and
// rejects, without loading anything, what Open would reject for the
// same reason.
func TestCheckSpec(t *testing.T) {
	cases := []struct {
		spec, err string
	}{
		{"synthetic", ""},
		{"synthetic,train=20000,size=64,seed=3", ""},
		{"cifar10:/data/cifar-10-batches-bin", ""},
		{"cifar100:/data/c100,coarse", ""},
		{"fashion-mnist,rgb,limit=10000", ""},
		{"fashion-mnist:/data/fm", ""},
		{"folder:/data/imagenette,size=64", ""},
		{"nosuch", `unknown dataset "nosuch"`},
		{"synthetic,seed=x", `option seed="x" is not a non-negative integer`},
		{"synthetic,seed=-7", `option seed="-7" is not a non-negative integer`},
		{"synthetic,colour=1", `unknown option "colour"`},
		{"synthetic:/x", "synthetic takes no directory"},
		{"synthetic,rgb=1", "option rgb takes no value"},
		{"synthetic,limit=", "option limit has an empty value"},
		{"synthetic,train=1,train=2", "option train given twice"},
		{"cifar10", "cifar10 needs a directory"},
		{"folder:", "folder needs a directory"},
		{"cifar100:/x,coarse=yes", "option coarse takes no value"},
		{"folder:/x,size=big", `option size="big"`},
	}
	for _, tc := range cases {
		t.Run(tc.spec, func(t *testing.T) {
			err := CheckSpec(tc.spec)
			if tc.err == "" {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error %v, want one containing %q", err, tc.err)
			}
			// Open rejects it with the same message.
			if _, oerr := Open(tc.spec, Train); oerr == nil || oerr.Error() != err.Error() {
				t.Errorf("Open: %v, CheckSpec: %v", oerr, err)
			}
		})
	}
}

func TestLoaderConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		cfg  LoaderConfig
		want string
	}{
		{"ok", LoaderConfig{BatchSize: 1}, ""},
		{"batch", LoaderConfig{}, "batch size 0, want > 0"},
		{"negative batch", LoaderConfig{BatchSize: -4}, "batch size -4"},
		{"workers", LoaderConfig{BatchSize: 2, Workers: -1}, "-1 workers"},
		{"prefetch", LoaderConfig{BatchSize: 2, Prefetch: -2}, "prefetch -2"},
		{"views", LoaderConfig{BatchSize: 2, Views: augment.Views{augment.ColorJitter{Hue: 2}}}, "view 0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
