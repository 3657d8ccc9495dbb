package runner

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
)

// newSet defines the flags a training program typically has.
func newSet() *flag.FlagSet {
	fs := flag.NewFlagSet("prog", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.String("data", "synthetic", "")
	fs.String("method", "simsiam", "")
	fs.String("chain", "", "")
	fs.String("backbone", "resnet18-w16", "")
	fs.Int("train", 10, "")
	fs.Int("epochs", 3, "")
	fs.Int("batch", 8, "")
	fs.Int("accumulate", 1, "")
	fs.Int("views", 0, "")
	fs.Float64("lr", 0, "")
	fs.Float64("knn-tau", 0.1, "")
	fs.Int("knn-k", 200, "")
	fs.Int("switch-patience", 0, "")
	fs.String("seeds", "1", "")
	fs.String("lrs", "", "")
	fs.String("out", "", "")
	fs.Bool("resume", false, "")
	fs.Bool("verbose", false, "") // a boolean needs no rule
	return fs
}

func TestValidate(t *testing.T) {
	cases := []struct {
		args []string
		want string // "" accepts
	}{
		{nil, ""},
		{[]string{"-views", "4", "-method", "disiam+"}, ""},
		{[]string{"-chain", "simclr:1,fastsiam", "-views", "3"}, ""},
		{[]string{"-chain", "simclr:1,disiam:1", "-switch-patience", "1"}, ""},
		{[]string{"-lrs", "0.03,0.06"}, ""},
		{[]string{"-accumulate", "4"}, ""},
		{[]string{"-lr", "-0.5"}, `invalid value "-0.5" for flag -lr: must be a finite number ≥ 0`},
		{[]string{"-lr", "-Inf"}, `invalid value "-Inf" for flag -lr`},
		{[]string{"-knn-tau", "0"}, `invalid value "0" for flag -knn-tau: must be a finite number > 0`},
		{[]string{"-knn-tau", "NaN"}, `flag -knn-tau: must be a finite number > 0`},
		{[]string{"-lrs", "0.03,-1"}, `invalid value "0.03,-1" for flag -lrs: -1: every number must be finite and ≥ 0`},
		{[]string{"-lrs", "0.03,x"}, `for flag -lrs: "x"`},
		{[]string{"-seeds", ""}, `invalid value "" for flag -seeds: must list at least one seed`},
		{[]string{"-seeds", "1,-2"}, `for flag -seeds: seeds "1,-2"`},
		{[]string{"-views", "2", "-chain", "simclr:1,byol"}, `simclr, byol (-chain) take exactly 2 views`},
		{[]string{"-accumulate", "3"}, `must divide -batch 8 into equal micro-batches`},
		{[]string{"-accumulate", "-1"}, `invalid value "-1" for flag -accumulate: must be an integer ≥ 0`},
		{[]string{"-chain", "simclr:2,disiam:2"}, `the stages take 4 epochs, more than -epochs 3`},
		{[]string{"-resume"}, `needs -out`},
		{[]string{"-data", "synthetic,size=big"}, `option size="big"`},
		{[]string{"-switch-patience", "1"}, "applies only to a -chain of at least two stages"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			fs := newSet()
			err := Parse(fs, tc.args)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var u *UsageError
			var fe *FlagError
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.As(err, &u) || !errors.As(err, &fe) {
				t.Fatalf("error %v, want a usage error containing %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), "-"+fe.Flag) {
				t.Errorf("the error does not name its flag -%s", fe.Flag)
			}
		})
	}
}

// TestValidateRuleChoice checks that a program's rules override the
// standard ones and that a flag without any rule is a program error.
func TestValidateRuleChoice(t *testing.T) {
	fs := newSet()
	fs.String("views-set", "auto", "")
	if err := Parse(fs, nil); err == nil || !strings.Contains(err.Error(), "flag -views-set has no validation rule") {
		t.Errorf("unchecked flag: %v", err)
	} else if errors.As(err, new(*UsageError)) {
		t.Error("a missing rule is reported as a usage error")
	}
	fs = newSet()
	fs.String("views-set", "auto", "")
	own := Rules{"views-set": OneOf("auto", "shapes"), "out": NonEmpty}
	err := Parse(fs, []string{"-views-set", "x"}, own)
	if err == nil || !strings.Contains(err.Error(), `invalid value "x" for flag -views-set: must be one of auto, shapes`) ||
		!strings.Contains(err.Error(), `invalid value "" for flag -out: must not be empty`) {
		t.Errorf("program rules: %v", err)
	}
	if err := Parse(newSet(), []string{"-lr", "-1"}, Rules{"lr": Any}); err != nil {
		t.Errorf("an overriding rule was not used: %v", err)
	}
	if err := Parse(newSet(), []string{"-backbones"}, Rules{}); err == nil {
		t.Error("unknown flag accepted")
	}
	if err := Parse(newSet(), []string{"positional"}); err == nil || !strings.Contains(err.Error(), `unexpected arguments ["positional"]`) {
		t.Errorf("positional argument: %v", err)
	}
	if err := Parse(newSet(), []string{"-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
}

func TestIdentity(t *testing.T) {
	fs := newSet()
	if err := Parse(fs, []string{"-lr", "1e6", "-out", "x", "-resume", "-verbose"}); err != nil {
		t.Fatal(err)
	}
	id := Identity(fs, "train")
	if id["-lr"] != "1e+06" || id["-epochs"] != "3" || id["-data"] != "synthetic" {
		t.Errorf("identity %v", id)
	}
	for _, k := range []string{"-out", "-resume", "-verbose", "-train"} {
		if _, ok := id[k]; ok {
			t.Errorf("identity holds %s", k)
		}
	}
}

func TestExitCode(t *testing.T) {
	cases := []struct {
		err  error
		code int
		out  string
	}{
		{nil, 0, ""},
		{flag.ErrHelp, 0, ""},
		{errors.New("boom"), ExitFailure, "prog: boom\n"},
		{&UsageError{Err: errors.Join(&FlagError{"lr", "-1", "r1"}, &FlagError{"train", "-2", "r2"})}, ExitUsage,
			"prog: invalid value \"-1\" for flag -lr: r1\nprog: invalid value \"-2\" for flag -train: r2\n"},
		{&UsageError{Err: errors.New("flag provided but not defined: -x"), Reported: true}, ExitUsage, ""},
	}
	for _, tc := range cases {
		var b bytes.Buffer
		if code := ExitCode(tc.err, &b, "prog"); code != tc.code || b.String() != tc.out {
			t.Errorf("ExitCode(%v) = %d, %q; want %d, %q", tc.err, code, b.String(), tc.code, tc.out)
		}
	}
}
