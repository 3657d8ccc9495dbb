package runner

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/dataset"
	"github.com/disiam/disiam/ssl"
)

// Exit statuses of the example programs (Main, ParseCommandLine).
const (
	// ExitFailure: the run started and failed (missing files, a
	// diverged run, a refused resume, an interrupt).
	ExitFailure = 1
	// ExitUsage: the command line was rejected before any work was
	// done: a flag the flag package cannot parse, an unknown flag, a
	// positional argument, or a value the rules reject. The flag
	// package exits with the same status for its own usage errors.
	ExitUsage = 2
)

// UsageError is a command line rejected before any work was done; Main
// exits with ExitUsage for it.
type UsageError struct {
	Err error
	// Reported is true when the flag set has already printed the error,
	// with the usage, to its output.
	Reported bool
}

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// FlagError is a flag value a Rule rejects. Its message has the flag
// package's form: invalid value "-1" for flag -lr: must be a finite
// number ≥ 0.
type FlagError struct {
	Flag   string // the flag's name, without the dash
	Value  string // the value as the flag prints it
	Reason string
}

func (e *FlagError) Error() string {
	return fmt.Sprintf("invalid value %q for flag -%s: %s", e.Value, e.Flag, e.Reason)
}

// Values is a parsed flag set as a Rule sees it: every flag's current
// value (given or default) by name.
type Values struct{ fs *flag.FlagSet }

// Has reports whether the set defines the flag.
func (v Values) Has(name string) bool { return v.fs.Lookup(name) != nil }

// IsSet reports whether the flag was given on the command line.
func (v Values) IsSet(name string) bool {
	set := false
	v.fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// get returns the flag's typed value (flag.Getter) or its string form.
func (v Values) get(name string) any {
	f := v.fs.Lookup(name)
	if f == nil {
		return nil
	}
	if g, ok := f.Value.(flag.Getter); ok {
		return g.Get()
	}
	return f.Value.String()
}

// String returns the flag's value as the flag prints it ("" if the set
// does not define it).
func (v Values) String(name string) string {
	if f := v.fs.Lookup(name); f != nil {
		return f.Value.String()
	}
	return ""
}

// Int returns an integer flag's value (0 if the set does not define it).
func (v Values) Int(name string) int {
	switch x := v.get(name).(type) {
	case int:
		return x
	case int64:
		return int(x)
	case uint:
		return int(x)
	case uint64:
		return int(x)
	}
	n, _ := strconv.Atoi(v.String(name))
	return n
}

// Float returns a number flag's value (0 if the set does not define it).
func (v Values) Float(name string) float64 {
	switch x := v.get(name).(type) {
	case float64:
		return x
	case int:
		return float64(x)
	}
	f, _ := strconv.ParseFloat(v.String(name), 64)
	return f
}

// Bool returns a boolean flag's value.
func (v Values) Bool(name string) bool {
	b, _ := v.get(name).(bool)
	return b
}

// Rule checks the value of the flag name; it may consult other flags of
// the set (-views depends on -method, -chain on -epochs). It returns the
// reason the value is wrong, or nil.
type Rule func(v Values, name string) error

// Rules maps flag names to their rules.
type Rules map[string]Rule

// Standard holds the rules of the flags the example programs share, by
// name. A program passes its own Rules to Parse for its other flags and
// to override these where a name means something else to it.
var Standard Rules

func init() {
	count := AtLeast(0)
	Standard = Rules{
		// Data.
		"data":    DataSpec,
		"eval":    OptionalDataSpec,
		"train":   count,
		"test":    count,
		"images":  count,
		"bank":    count,
		"trimap":  count,
		"size":    count,
		"classes": count,
		"split":   OneOf(dataset.Train.String(), dataset.Test.String()),
		"workers": count,
		// Networks and methods.
		"backbone":  Backbone,
		"online":    Backbone,
		"assistant": Backbone,
		"backbones": BackboneList,
		"method":    Method,
		"methods":   MethodList,
		"chain":     Chain,
		"views":     Views,
		"augment":   OneOf(AugmentAuto, AugmentShapes, AugmentMethod),
		"recipe":    OneOf(RecipeAuto, RecipeNone, RecipeThesis),
		"head-dim":  count,
		"seed":      Any,
		"seeds":     Seeds,
		// Optimization.
		"epochs":           AtLeast(1),
		"batch":            AtLeast(1),
		"accumulate":       Accumulate,
		"lr":               FiniteAtLeast(0),
		"lrs":              FloatList(0),
		"warmup":           count,
		"switch-patience":  SwitchPatience,
		"switch-threshold": FiniteAtLeast(0),
		// Evaluation.
		"knn-k":      AtLeast(1),
		"k":          AtLeast(1),
		"knn-tau":    FinitePositive,
		"tau":        FinitePositive,
		"knn-every":  count,
		"eval-start": Any,
		// Output.
		"out":              Any,
		"resume":           Resume,
		"checkpoint-every": count,
		"weights":          Any,
		"prefix":           Any,
		"noplots":          Any,
		"v":                Any,
	}
}

// Validate applies the rules to every flag fs defines (in name order):
// the last of rules that has the flag's name, else Standard's. A boolean
// flag without a rule is accepted; any other flag without a rule is an
// error of the program (every flag a program defines must be checked).
// The rejected values come back as one error (errors.Join) of
// *FlagErrors, each naming its flag.
func Validate(fs *flag.FlagSet, rules ...Rules) error {
	v := Values{fs}
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		var rule Rule
		for _, rs := range slices.Backward(rules) {
			if r, ok := rs[f.Name]; ok {
				rule = r
				break
			}
		}
		if rule == nil {
			rule = Standard[f.Name]
		}
		if rule == nil {
			if _, isBool := v.get(f.Name).(bool); isBool {
				return
			}
			errs = append(errs, fmt.Errorf("%s: flag -%s has no validation rule (add one to runner.Standard or to the program's rules)", fs.Name(), f.Name))
			return
		}
		if err := rule(v, f.Name); err != nil {
			errs = append(errs, &FlagError{Flag: f.Name, Value: f.Value.String(), Reason: err.Error()})
		}
	})
	return errors.Join(errs...)
}

// Parse parses args into fs and validates the flags (Validate); positional
// arguments are an error. A parse or validation failure comes back as a
// *UsageError, so that Main exits with ExitUsage; -h comes back as
// flag.ErrHelp.
func Parse(fs *flag.FlagSet, args []string, rules ...Rules) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &UsageError{Err: err, Reported: true}
	}
	if fs.NArg() > 0 {
		return &UsageError{Err: fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	if err := Validate(fs, rules...); err != nil {
		var fe *FlagError
		if errors.As(err, &fe) {
			return &UsageError{Err: err}
		}
		return err
	}
	return nil
}

// ParseCommandLine is Parse for a program on the global flag set: it
// parses os.Args and, on a rejected command line, prints "name: error" and
// exits with ExitUsage (0 for -h).
func ParseCommandLine(name string, rules ...Rules) {
	if err := Parse(flag.CommandLine, os.Args[1:], rules...); err != nil {
		os.Exit(ExitCode(err, os.Stderr, name))
	}
}

// Any accepts every value.
func Any(Values, string) error { return nil }

// Optional accepts an empty value and applies r to any other.
func Optional(r Rule) Rule {
	return func(v Values, name string) error {
		if v.String(name) == "" {
			return nil
		}
		return r(v, name)
	}
}

// NonEmpty rejects an empty value.
func NonEmpty(v Values, name string) error {
	if strings.TrimSpace(v.String(name)) == "" {
		return errors.New("must not be empty")
	}
	return nil
}

// Seeds accepts a non-empty comma-separated list of seeds (ParseSeeds).
func Seeds(v Values, name string) error {
	seeds, err := ParseSeeds(v.String(name))
	if err != nil {
		return err
	}
	if len(seeds) == 0 {
		return errors.New("must list at least one seed")
	}
	return nil
}

// AtLeast accepts integers ≥ min.
func AtLeast(min int) Rule {
	return func(v Values, name string) error {
		if v.Int(name) < min {
			return fmt.Errorf("must be an integer ≥ %d", min)
		}
		return nil
	}
}

// ZeroOrAtLeast accepts 0 (the default) and integers ≥ min.
func ZeroOrAtLeast(min int) Rule {
	return func(v Values, name string) error {
		if n := v.Int(name); n != 0 && n < min {
			return fmt.Errorf("must be 0 (the default) or an integer ≥ %d", min)
		}
		return nil
	}
}

// FiniteAtLeast accepts finite numbers ≥ min (NaN and ±Inf are rejected).
func FiniteAtLeast(min float64) Rule {
	return func(v Values, name string) error {
		if x := v.Float(name); !(x >= min) || math.IsInf(x, 0) {
			return fmt.Errorf("must be a finite number ≥ %g", min)
		}
		return nil
	}
}

// FinitePositive accepts finite numbers > 0.
func FinitePositive(v Values, name string) error {
	if x := v.Float(name); !(x > 0) || math.IsInf(x, 0) {
		return errors.New("must be a finite number > 0")
	}
	return nil
}

// FloatList accepts a comma-separated list (possibly empty) of finite
// numbers ≥ min.
func FloatList(min float64) Rule {
	return func(v Values, name string) error {
		xs, err := ParseFloats(v.String(name))
		if err != nil {
			return err
		}
		for _, x := range xs {
			if !(x >= min) || math.IsInf(x, 0) {
				return fmt.Errorf("%v: every number must be finite and ≥ %g", x, min)
			}
		}
		return nil
	}
}

// OneOf accepts the listed strings.
func OneOf(choices ...string) Rule {
	return func(v Values, name string) error {
		if !slices.Contains(choices, v.String(name)) {
			return fmt.Errorf("must be one of %s", strings.Join(choices, ", "))
		}
		return nil
	}
}

// DataSpec accepts a dataset spec that dataset.CheckSpec parses, without
// loading anything.
func DataSpec(v Values, name string) error {
	return dataset.CheckSpec(v.String(name))
}

// OptionalDataSpec is DataSpec, or empty.
func OptionalDataSpec(v Values, name string) error {
	if v.String(name) == "" {
		return nil
	}
	return DataSpec(v, name)
}

// Backbone accepts an architecture backbone.New builds.
func Backbone(v Values, name string) error { return CheckBackbone(v.String(name)) }

// BackboneList accepts a non-empty comma-separated list of architectures.
func BackboneList(v Values, name string) error {
	names := ParseList(v.String(name))
	if len(names) == 0 {
		return errors.New("must name at least one backbone")
	}
	for _, n := range names {
		if err := CheckBackbone(n); err != nil {
			return err
		}
	}
	return nil
}

// CheckBackbone returns an error unless backbone.New knows name. It
// builds the architecture without initializing its weights.
func CheckBackbone(name string) error {
	_, err := backbone.New(name, backbone.Config{NoInit: true})
	return err
}

// Method accepts one of Methods.
func Method(v Values, name string) error { return checkMethod(v.String(name)) }

// MethodList accepts a non-empty comma-separated list of Methods.
func MethodList(v Values, name string) error {
	names := ParseList(v.String(name))
	if len(names) == 0 {
		return errors.New("must name at least one method")
	}
	for _, n := range names {
		if err := checkMethod(n); err != nil {
			return err
		}
	}
	return nil
}

func checkMethod(name string) error {
	if !slices.Contains(Methods, name) {
		return fmt.Errorf("unknown method %q (known: %s)", name, strings.Join(Methods, ", "))
	}
	return nil
}

// Chain accepts an empty -chain, or one ParseStages reads with -epochs:
// known methods, stage epochs > 0 that together do not exceed -epochs.
func Chain(v Values, name string) error {
	chain := v.String(name)
	if chain == "" {
		return nil
	}
	plan, err := ParseStages("", chain, max(v.Int("epochs"), 1))
	if err != nil {
		return err
	}
	for _, p := range plan {
		if err := checkMethod(p.Method); err != nil {
			return err
		}
	}
	return nil
}

// MultiViewMethods are the methods whose number of views -views sets;
// every other method takes two.
var MultiViewMethods = []string{ssl.NameFastSiam, ssl.NameDiSiamPlus}

// Views accepts 0 (the method's default) or at least 2 views, and a
// non-zero value only if a method of the run (-chain, else -method, or
// -methods) is one of MultiViewMethods.
func Views(v Values, name string) error {
	n := v.Int(name)
	if n == 0 {
		return nil
	}
	if n < 2 {
		return errors.New("must be 0 (the method's default) or at least 2 views")
	}
	methods, flagName := runMethods(v)
	if len(methods) == 0 {
		return nil // no method flag, or the program's own methods
	}
	for _, m := range methods {
		if slices.Contains(MultiViewMethods, m) {
			return nil
		}
	}
	verb := "takes"
	if len(methods) > 1 {
		verb = "take"
	}
	return fmt.Errorf("%s (-%s) %s exactly 2 views; -%s applies only to %s", strings.Join(methods, ", "), flagName, verb, name, strings.Join(MultiViewMethods, " and "))
}

// runMethods returns the methods a run trains and the flag naming them
// ("" if the set has none).
func runMethods(v Values) ([]string, string) {
	if v.Has("chain") && v.String("chain") != "" {
		var out []string
		for _, p := range ParseList(v.String("chain")) {
			m, _, _ := strings.Cut(p, ":")
			out = append(out, strings.TrimSpace(m))
		}
		return out, "chain"
	}
	for _, f := range []string{"method", "methods"} {
		if v.Has(f) {
			return ParseList(v.String(f)), f
		}
	}
	return nil, ""
}

// Accumulate accepts 0 or 1 (no accumulation) or a number of micro-batches
// that divides -batch.
func Accumulate(v Values, name string) error {
	n := v.Int(name)
	if n < 0 {
		return errors.New("must be an integer ≥ 0")
	}
	if b := v.Int("batch"); n > 1 && b%n != 0 {
		return fmt.Errorf("must divide -batch %d into equal micro-batches", b)
	}
	return nil
}

// SwitchPatience accepts 0, or a patience ≥ 1 for a -chain of at least
// two stages (the plateau rule ends every stage but the last).
func SwitchPatience(v Values, name string) error {
	n := v.Int(name)
	if n < 0 {
		return errors.New("must be an integer ≥ 0")
	}
	if stages, _ := runMethods(v); n > 0 && v.Has("chain") && len(stages) < 2 {
		return errors.New("applies only to a -chain of at least two stages")
	}
	return nil
}

// Resume accepts -resume only with an -out folder to resume from.
func Resume(v Values, name string) error {
	if v.Bool(name) && v.Has("out") && v.String("out") == "" {
		return errors.New("needs -out, the folder of the run to continue")
	}
	return nil
}

// NoIdentity lists the flags that never change a run's numbers, which
// Identity leaves out: where the run is written and how it is resumed,
// loading goroutines, checkpoint and log frequency, verbosity, plots.
var NoIdentity = []string{"out", "resume", "workers", "checkpoint-every", "v", "verbose", "noplots", "log-every", "log-interval"}

// Identity returns the values of fs's flags, keyed "-name", for
// train.Config.Identity: every flag that may change the numbers of a run,
// so that resuming with another value of any of them is refused. It leaves
// out NoIdentity and the flags in skip.
func Identity(fs *flag.FlagSet, skip ...string) map[string]string {
	id := map[string]string{}
	fs.VisitAll(func(f *flag.Flag) {
		if !slices.Contains(NoIdentity, f.Name) && !slices.Contains(skip, f.Name) {
			id["-"+f.Name] = f.Value.String()
		}
	})
	return id
}
