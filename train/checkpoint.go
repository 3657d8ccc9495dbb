package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"gorgonia.org/tensor"

	"github.com/disiam/disiam/nn"
	"github.com/disiam/disiam/optim"
	"github.com/disiam/disiam/safetensors"
)

// CheckpointFile is the file the Loop writes into Config.CheckpointDir:
// the model's state_dict (Parts.StateDict keys), the optimizer's buffers
// under "optimizer." + key, and the loop's position, history, run
// identity and random layers' counters as JSON in the metadata entry
// "disiam.trainer". It is written atomically (a temporary file renamed
// over the old one), so a crash leaves the previous checkpoint intact.
const CheckpointFile = "checkpoint.safetensors"

const (
	optimizerPrefix = "optimizer."
	stateKey        = "disiam.trainer"
	checkpointVer   = 2
)

// state is the loop's position, saved as JSON in a checkpoint.
type state struct {
	Version int `json:"version"`
	// Stage is the stage the model state belongs to; StageEpoch the
	// epochs it completed, StageDone whether it is finished (all its
	// epochs, or a plateau switch); Step its optimizer steps.
	Stage      int    `json:"stage"`
	Name       string `json:"name"`
	StageEpoch int    `json:"stage_epoch"`
	StageDone  bool   `json:"stage_done"`
	Step       int    `json:"step"`
	// Epoch is the number of epochs completed over all stages.
	Epoch int `json:"epoch"`
	// Identity is every setting that changes the run's numbers; a resume
	// must present the same.
	Identity map[string]string `json:"identity"`
	Counter  map[string]uint64 `json:"counters"`
	History  *History          `json:"history"`
}

// checkFinite returns a DivergedError naming the first parameter, buffer
// or optimizer buffer that holds a NaN or an infinity: such a state must
// never be saved as a good checkpoint.
func checkFinite(parts Parts, opt optim.Optimizer, d *DivergedError) error {
	kp, err := parts.Keyed()
	if err != nil {
		return err
	}
	for _, k := range kp {
		if i := nonFinite(k.Param.Value); i >= 0 {
			d.Tensor, d.Index = k.Key, i
			return d
		}
	}
	if opt != nil {
		st := opt.State()
		keys := make([]string, 0, len(st))
		for k := range st {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if i := nonFinite(st[k]); i >= 0 {
				d.Tensor, d.Index = optimizerPrefix+k, i
				return d
			}
		}
	}
	return nil
}

// nonFinite returns the index of the first NaN or infinity of t, or −1.
func nonFinite(t *tensor.Dense) int {
	switch x := t.Data().(type) {
	case []float32:
		for i, v := range x {
			if v-v != 0 {
				return i
			}
		}
	case []float64:
		for i, v := range x {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return i
			}
		}
	}
	return -1
}

// writeCheckpoint writes dir/CheckpointFile atomically.
func writeCheckpoint(dir string, parts Parts, opt optim.Optimizer, st state) error {
	f, err := parts.StateDict()
	if err != nil {
		return err
	}
	if opt != nil {
		for k, t := range opt.State() {
			if err := f.Set(optimizerPrefix+k, safetensors.FromFloat32([]int(t.Shape()), t.Data().([]float32))); err != nil {
				return err
			}
		}
	}
	st.Version = checkpointVer
	st.Counter = map[string]uint64{}
	for _, c := range randomCounters(parts) {
		st.Counter[c.path] = *c.counter
	}
	js, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	f.Metadata = map[string]string{stateKey: string(js), "format": "pt"}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	if err := safetensors.WriteFile(filepath.Join(dir, CheckpointFile), f); err != nil {
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	return nil
}

// readCheckpoint reads dir/CheckpointFile; it returns (nil, nil, nil) if
// there is none.
func readCheckpoint(dir string) (*safetensors.File, *state, error) {
	path := filepath.Join(dir, CheckpointFile)
	f, err := safetensors.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("train: resume: %w", err)
	}
	js, ok := f.Metadata[stateKey]
	if !ok {
		return nil, nil, fmt.Errorf("train: resume: %s: no %q metadata (not a training checkpoint)", path, stateKey)
	}
	var st state
	if err := json.Unmarshal([]byte(js), &st); err != nil {
		return nil, nil, fmt.Errorf("train: resume: %s: %w", path, err)
	}
	if st.Version != checkpointVer {
		return nil, nil, fmt.Errorf("train: resume: %s: checkpoint version %d, want %d (written by another version of disiam)", path, st.Version, checkpointVer)
	}
	if st.History == nil {
		st.History = &History{}
	}
	return f, &st, nil
}

// restore loads the model state and random counters of a checkpoint into
// parts, and returns the optimizer state it holds.
func restore(parts Parts, f *safetensors.File, st *state) (map[string]*tensor.Dense, error) {
	if err := parts.LoadStateDict(f); err != nil {
		return nil, fmt.Errorf("train: resume: %w", err)
	}
	cs := randomCounters(parts)
	for _, c := range cs {
		v, ok := st.Counter[c.path]
		if !ok {
			return nil, fmt.Errorf("train: resume: no counter for random layer %s", c.path)
		}
		*c.counter = v
	}
	if len(cs) != len(st.Counter) {
		return nil, fmt.Errorf("train: resume: checkpoint has %d random-layer counters, the model has %d", len(st.Counter), len(cs))
	}
	opt := map[string]*tensor.Dense{}
	for _, name := range f.Names() {
		k, ok := strings.CutPrefix(name, optimizerPrefix)
		if !ok {
			continue
		}
		t, _ := f.Get(name)
		d, err := t.Float32s()
		if err != nil {
			return nil, fmt.Errorf("train: resume: %s: %w", name, err)
		}
		opt[k] = tensor.New(tensor.WithShape(t.Shape...), tensor.WithBacking(d))
	}
	return opt, nil
}

// counterRef is the mask counter of one Dropout or StochasticDepth layer
// of a model, named by its path of exported fields.
type counterRef struct {
	path    string
	counter *uint64
}

// randomCounters finds every nn.Dropout and nn.StochasticDepth reachable
// through exported fields of the parts (EfficientNet's stochastic depth,
// a head's dropout), in a fixed order. Their Counters are part of the
// state a checkpoint must restore for a bit-exact resume (see
// "Determinism" in package nn).
func randomCounters(parts Parts) []counterRef {
	var out []counterRef
	seen := map[uintptr]bool{}
	for i, pt := range parts {
		walkCounters(fmt.Sprintf("part%d(%s)", i, strings.TrimSuffix(pt.Prefix, ".")), reflect.ValueOf(pt.Module), seen, &out)
	}
	return out
}

var (
	dropoutType = reflect.TypeOf(nn.Dropout{})
	depthType   = reflect.TypeOf(nn.StochasticDepth{})
)

func walkCounters(path string, v reflect.Value, seen map[uintptr]bool, out *[]counterRef) {
	switch v.Kind() {
	case reflect.Interface:
		if !v.IsNil() {
			walkCounters(path, v.Elem(), seen, out)
		}
	case reflect.Pointer:
		if v.IsNil() || seen[v.Pointer()] {
			return
		}
		seen[v.Pointer()] = true
		e := v.Elem()
		switch e.Type() {
		case dropoutType:
			*out = append(*out, counterRef{path, &v.Interface().(*nn.Dropout).Counter})
		case depthType:
			*out = append(*out, counterRef{path, &v.Interface().(*nn.StochasticDepth).Counter})
		default:
			walkCounters(path, e, seen, out)
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() || f.Type == reflect.TypeOf(nn.Param{}) || f.Type == reflect.TypeOf(&nn.Param{}) {
				continue
			}
			walkCounters(path+"."+f.Name, v.Field(i), seen, out)
		}
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return
		}
		if k := v.Type().Elem().Kind(); k != reflect.Pointer && k != reflect.Struct && k != reflect.Interface && k != reflect.Slice {
			return // numbers, strings: nothing to find
		}
		for i := range v.Len() {
			walkCounters(fmt.Sprintf("%s[%d]", path, i), v.Index(i), seen, out)
		}
	}
}

// finite reports whether x is neither NaN nor infinite.
func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
