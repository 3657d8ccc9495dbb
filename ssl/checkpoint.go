package ssl

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"gorgonia.org/tensor"

	"github.com/disiam/disiam/nn"
	"github.com/disiam/disiam/optim"
	"github.com/disiam/disiam/safetensors"
)

// Checkpoint files written by the Trainer into its CheckpointDir.
const (
	// CheckpointFile holds everything needed to resume: the method's
	// state_dict (StateDict keys), the optimizer's buffers under
	// "optimizer." + key, and the trainer's position, history and random
	// layers' counters as JSON in the metadata entry "disiam.trainer".
	CheckpointFile = "checkpoint.safetensors"
	// EncoderFile holds the online encoder alone, with torchvision's
	// state_dict names: what detectors and the kNN evaluation load.
	EncoderFile = "encoder.safetensors"
)

const (
	optimizerPrefix = "optimizer."
	stateKey        = "disiam.trainer"
	checkpointVer   = 1
)

// paramList is a Module over renamed views of parameters: the Params share
// their Value with the originals, so loading into them loads the method.
type paramList []*nn.Param

func (l paramList) Params() []*nn.Param { return l }
func (l paramList) SetTraining(bool)    {}

// keyedModule returns m's parameters renamed with their state_dict keys.
func keyedModule(m Method) (paramList, error) {
	kp, err := keyed(m.Parts())
	if err != nil {
		return nil, err
	}
	out := make(paramList, len(kp))
	for i, k := range kp {
		if strings.HasPrefix(k.key, optimizerPrefix) {
			return nil, fmt.Errorf("ssl: state_dict key %q collides with the checkpoint's optimizer entries", k.key)
		}
		out[i] = &nn.Param{Name: k.key, Value: k.p.Value, Trainable: k.p.Trainable}
	}
	return out, nil
}

// StateDict returns the parameters and buffers of every part of m (EMA
// targets included) as a safetensors File keyed as PyTorch would key the
// method's state_dict: Part.Prefix + name ("backbone.conv1.weight",
// "projection_head.layers.0.weight", "assistant_backbone.layer1.0.bn1.
// running_mean"). The tensors are copies. It returns an error if two
// parameters get the same key.
func StateDict(m Method) (*safetensors.File, error) {
	km, err := keyedModule(m)
	if err != nil {
		return nil, err
	}
	return safetensors.StateDict(km)
}

// LoadStateDict copies the tensors of f into m's parameters by state_dict
// key (see StateDict), strictly: a missing, unexpected (other than the
// "optimizer." entries of a checkpoint) or mis-shaped tensor is an error,
// and then nothing is loaded. Parameters keep their backing arrays.
func LoadStateDict(m Method, f *safetensors.File) error {
	km, err := keyedModule(m)
	if err != nil {
		return err
	}
	g := f
	if hasOptimizer(f) {
		g = &safetensors.File{}
		for _, name := range f.Names() {
			if !strings.HasPrefix(name, optimizerPrefix) {
				t, _ := f.Get(name)
				if err := g.Set(name, t); err != nil {
					return err
				}
			}
		}
	}
	if err := g.Load(km, safetensors.LoadOptions{}); err != nil {
		return fmt.Errorf("ssl: %s: %w", m.Name(), err)
	}
	return nil
}

func hasOptimizer(f *safetensors.File) bool {
	for _, name := range f.Names() {
		if strings.HasPrefix(name, optimizerPrefix) {
			return true
		}
	}
	return false
}

// trainerState is the trainer's position, saved as JSON in a checkpoint.
type trainerState struct {
	Version int `json:"version"`
	// Stage is the stage the method state belongs to; StageEpoch the
	// epochs it completed, StageDone whether it is finished (all its
	// epochs, or a plateau switch); Step its optimizer steps.
	Stage      int    `json:"stage"`
	Method     string `json:"method"`
	StageEpoch int    `json:"stage_epoch"`
	StageDone  bool   `json:"stage_done"`
	Step       int    `json:"step"`
	// Epoch is the number of epochs completed over all stages.
	Epoch   int               `json:"epoch"`
	Seed    uint64            `json:"seed"`
	Batch   int               `json:"batch"`
	Counter map[string]uint64 `json:"counters"`
	History *History          `json:"history"`
}

// writeCheckpoint writes dir/CheckpointFile atomically.
func writeCheckpoint(dir string, m Method, opt optim.Optimizer, st trainerState) error {
	f, err := StateDict(m)
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
	for _, c := range randomCounters(m) {
		st.Counter[c.path] = *c.counter
	}
	js, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("ssl: checkpoint: %w", err)
	}
	f.Metadata = map[string]string{stateKey: string(js), "format": "pt"}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("ssl: checkpoint: %w", err)
	}
	if err := safetensors.WriteFile(filepath.Join(dir, CheckpointFile), f); err != nil {
		return fmt.Errorf("ssl: checkpoint: %w", err)
	}
	return nil
}

// readCheckpoint reads dir/CheckpointFile; it returns (nil, nil, nil) if
// there is none.
func readCheckpoint(dir string) (*safetensors.File, *trainerState, error) {
	path := filepath.Join(dir, CheckpointFile)
	f, err := safetensors.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("ssl: resume: %w", err)
	}
	js, ok := f.Metadata[stateKey]
	if !ok {
		return nil, nil, fmt.Errorf("ssl: resume: %s: no %q metadata (not a trainer checkpoint)", path, stateKey)
	}
	var st trainerState
	if err := json.Unmarshal([]byte(js), &st); err != nil {
		return nil, nil, fmt.Errorf("ssl: resume: %s: %w", path, err)
	}
	if st.Version != checkpointVer {
		return nil, nil, fmt.Errorf("ssl: resume: %s: checkpoint version %d, want %d", path, st.Version, checkpointVer)
	}
	if st.History == nil {
		st.History = &History{}
	}
	return f, &st, nil
}

// restore loads the method state and random counters of a checkpoint
// into m, and returns the optimizer state it holds.
func restore(m Method, f *safetensors.File, st *trainerState) (map[string]*tensor.Dense, error) {
	if err := LoadStateDict(m, f); err != nil {
		return nil, fmt.Errorf("ssl: resume: %w", err)
	}
	cs := randomCounters(m)
	for _, c := range cs {
		v, ok := st.Counter[c.path]
		if !ok {
			return nil, fmt.Errorf("ssl: resume: no counter for random layer %s", c.path)
		}
		*c.counter = v
	}
	if len(cs) != len(st.Counter) {
		return nil, fmt.Errorf("ssl: resume: checkpoint has %d random-layer counters, %s has %d", len(st.Counter), m.Name(), len(cs))
	}
	state := map[string]*tensor.Dense{}
	for _, name := range f.Names() {
		k, ok := strings.CutPrefix(name, optimizerPrefix)
		if !ok {
			continue
		}
		t, _ := f.Get(name)
		d, err := t.Float32s()
		if err != nil {
			return nil, fmt.Errorf("ssl: resume: %s: %w", name, err)
		}
		state[k] = tensor.New(tensor.WithShape(t.Shape...), tensor.WithBacking(d))
	}
	return state, nil
}

// counterRef is the mask counter of one Dropout or StochasticDepth layer
// of a method, named by its path of exported fields.
type counterRef struct {
	path    string
	counter *uint64
}

// randomCounters finds every nn.Dropout and nn.StochasticDepth reachable
// through exported fields of m's parts (EfficientNet's stochastic depth,
// a head's dropout), in a fixed order. Their Counters are part of the
// state a checkpoint must restore for a bit-exact resume (see "Determinism"
// in package nn).
func randomCounters(m Method) []counterRef {
	var out []counterRef
	seen := map[uintptr]bool{}
	for i, pt := range m.Parts() {
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
