package safetensors

import (
	"fmt"
	"strings"

	"gorgonia.org/tensor"

	"github.com/disiam/disiam/nn"
)

// StateDict returns the parameters and buffers of m as a File, keyed by
// their names (PyTorch state_dict keys) in m's order. The tensors are
// copies: later changes to m do not show in the File. float32 and float64
// parameters become F32 and F64, int64 buffers I64; a num_batches_tracked
// buffer (shape [1] here) is written with PyTorch's scalar shape [] so that
// torch's load_state_dict accepts it. Two parameters with the same name
// are an error.
func StateDict(m nn.Module) (*File, error) {
	f := &File{}
	for _, p := range m.Params() {
		if _, dup := f.Get(p.Name); dup {
			return nil, fmt.Errorf("safetensors: state dict: duplicate parameter name %q", p.Name)
		}
		shape := []int(p.Value.Shape())
		if isScalarBuffer(p.Name) && p.Value.Shape().TotalSize() == 1 {
			shape = []int{}
		}
		var t Tensor
		switch d := p.Value.Data().(type) {
		case []float32:
			t = FromFloat32(shape, d)
		case []float64:
			t = FromFloat64(shape, d)
		case []int64:
			t = FromInt64(shape, d)
		case float32:
			t = FromFloat32(shape, []float32{d})
		case float64:
			t = FromFloat64(shape, []float64{d})
		case int64:
			t = FromInt64(shape, []int64{d})
		default:
			return nil, fmt.Errorf("safetensors: state dict: %s: unsupported dtype %v", p.Name, p.Value.Dtype())
		}
		if err := f.Set(p.Name, t); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// isScalarBuffer reports whether PyTorch stores the tensor called name with
// shape [] (BatchNorm's num_batches_tracked).
func isScalarBuffer(name string) bool {
	return name == "num_batches_tracked" || strings.HasSuffix(name, ".num_batches_tracked")
}

// SaveModule writes m's state dict (see StateDict) to path, atomically.
func SaveModule(path string, m nn.Module) error {
	f, err := StateDict(m)
	if err != nil {
		return err
	}
	return WriteFile(path, f)
}

// LoadModule reads path and loads it into m strictly: every parameter and
// buffer of m must be in the file with its shape, and the file must hold
// nothing else.
func LoadModule(path string, m nn.Module) error {
	f, err := ReadFile(path)
	if err != nil {
		return err
	}
	if err := f.Load(m, LoadOptions{}); err != nil {
		return fmt.Errorf("safetensors: %s: %s", path, strings.TrimPrefix(err.Error(), "safetensors: "))
	}
	return nil
}

// LoadOptions relaxes Load. The zero value is strict, like PyTorch's
// load_state_dict(strict=True).
type LoadOptions struct {
	// Prefix is prepended to each parameter name to find its tensor:
	// "backbone." loads a backbone from a file that holds a whole SSL
	// model, "module." a file saved from DataParallel. Tensors whose name
	// lacks the prefix are ignored. Empty: names match as they are.
	Prefix string
	// AllowMissing leaves parameters that the file lacks unchanged
	// instead of failing.
	AllowMissing bool
	// AllowExtra ignores tensors of the file that match no parameter
	// instead of failing.
	AllowExtra bool
}

// MismatchError lists every disagreement between a file and a module
// found by Load. Nothing was loaded when Load returns it.
type MismatchError struct {
	Missing []string // parameters of the module absent from the file
	Extra   []string // tensors of the file that match no parameter
	Shape   []string // "name: file F32[3 4], module [4 3]" for wrong shapes or dtypes
}

func (e *MismatchError) Error() string {
	var parts []string
	list := func(what string, xs []string) {
		if len(xs) == 0 {
			return
		}
		const show = 5
		s := strings.Join(xs[:min(len(xs), show)], ", ")
		if len(xs) > show {
			s += fmt.Sprintf(", ... (%d more)", len(xs)-show)
		}
		parts = append(parts, fmt.Sprintf("%d %s: %s", len(xs), what, s))
	}
	list("missing", e.Missing)
	list("unexpected", e.Extra)
	list("mis-shaped", e.Shape)
	return "safetensors: load: " + strings.Join(parts, "; ")
}

// Load copies the file's tensors into m's parameters by name, converting
// between float dtypes (F64, F16 and BF16 into float32 parameters) and
// between integer dtypes. Parameters keep their backing arrays, so graphs
// built earlier see the new values. A tensor of shape [] loads into a
// one-element parameter and vice versa (num_batches_tracked). Load first
// checks everything and returns a *MismatchError listing all missing,
// unexpected and mis-shaped tensors, changing nothing; it then copies.
func (f *File) Load(m nn.Module, opt LoadOptions) error {
	params := m.Params()
	e := &MismatchError{}
	used := map[string]bool{}
	type pair struct {
		p *nn.Param
		t Tensor
	}
	var todo []pair
	for _, p := range params {
		key := opt.Prefix + p.Name
		if used[key] {
			return fmt.Errorf("safetensors: load: module has two parameters named %q", p.Name)
		}
		used[key] = true
		t, ok := f.Get(key)
		if !ok {
			if !opt.AllowMissing {
				e.Missing = append(e.Missing, key)
			}
			continue
		}
		if msg := compatible(p, t); msg != "" {
			e.Shape = append(e.Shape, fmt.Sprintf("%s: %s", key, msg))
			continue
		}
		todo = append(todo, pair{p, t})
	}
	if !opt.AllowExtra {
		for _, name := range f.names {
			if strings.HasPrefix(name, opt.Prefix) && !used[name] {
				e.Extra = append(e.Extra, name)
			}
		}
	}
	if len(e.Missing)+len(e.Extra)+len(e.Shape) > 0 {
		return e
	}
	for _, q := range todo {
		if err := copyInto(q.p, q.t); err != nil {
			return fmt.Errorf("safetensors: load: %s: %w", q.p.Name, err)
		}
	}
	return nil
}

// compatible returns "" if t can load into p, else why not.
func compatible(p *nn.Param, t Tensor) string {
	ps := []int(p.Value.Shape())
	n := p.Value.Shape().TotalSize()
	shapeOK := equalShape(ps, t.Shape) || (n == 1 && t.Numel() == 1 && (len(ps) == 0 || len(t.Shape) == 0))
	dt := p.Value.Dtype()
	var dtypeOK bool
	switch dt {
	case tensor.Float32, tensor.Float64:
		dtypeOK = t.Dtype.IsFloat()
	case tensor.Int64:
		dtypeOK = t.Dtype.IsInt()
	}
	if shapeOK && dtypeOK {
		return ""
	}
	return fmt.Sprintf("file %s%v, module %v%v", t.Dtype, t.Shape, dt, ps)
}

func equalShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// copyInto converts t and copies it into p's backing array.
func copyInto(p *nn.Param, t Tensor) error {
	switch d := p.Value.Data().(type) {
	case []float32:
		v, err := t.Float32s()
		if err != nil {
			return err
		}
		copy(d, v)
	case []float64:
		v, err := t.Float64s()
		if err != nil {
			return err
		}
		copy(d, v)
	case []int64:
		v, err := t.Int64s()
		if err != nil {
			return err
		}
		copy(d, v)
	default:
		return fmt.Errorf("unsupported parameter dtype %v", p.Value.Dtype())
	}
	return nil
}
