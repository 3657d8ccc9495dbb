package safetensors

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/disiam/disiam/nn"
)

// params is a Module made of loose parameters.
type params []*nn.Param

func (ps params) Params() []*nn.Param { return ps }
func (ps params) SetTraining(bool)    {}

// smallModel mirrors testdata/gen_torch_fixture.py: Sequential(Conv2d(3, 4,
// 3), BatchNorm2d(4), Flatten, Linear(16, 2)) plus a float64 buffer.
func smallModel() nn.Module {
	double := &nn.Param{Name: "extra.double", Value: tensor.New(tensor.WithShape(2, 3), tensor.Of(tensor.Float64))}
	return nn.Modules{
		nn.NewConv2d("0", nn.Conv2dConfig{In: 3, Out: 4, Kernel: 3, Bias: true}),
		nn.NewBatchNorm2d("1", 4),
		nn.NewLinear("3", 16, 2, true),
		params{double},
	}
}

// values returns a parameter's elements as float64.
func values(p *nn.Param) []float64 {
	switch d := p.Value.Data().(type) {
	case []float32:
		out := make([]float64, len(d))
		for i, v := range d {
			out[i] = float64(v)
		}
		return out
	case []float64:
		return append([]float64(nil), d...)
	case []int64:
		out := make([]float64, len(d))
		for i, v := range d {
			out[i] = float64(v)
		}
		return out
	}
	panic("unexpected dtype")
}

// TestLoadPyTorchFile loads a state_dict that PyTorch wrote (see
// testdata/gen_torch_fixture.py) and compares every value.
func TestLoadPyTorchFile(t *testing.T) {
	var want map[string]struct {
		Dtype  string
		Shape  []int
		Values []float64
	}
	data, err := os.ReadFile("testdata/torch_small.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	m := smallModel()
	if err := LoadModule("testdata/torch_small.safetensors", m); err != nil {
		t.Fatal(err)
	}
	if len(m.Params()) != len(want) {
		t.Fatalf("module has %d tensors, fixture %d", len(m.Params()), len(want))
	}
	for _, p := range m.Params() {
		w, ok := want[p.Name]
		if !ok {
			t.Fatalf("%s not in the fixture", p.Name)
		}
		got := values(p)
		if len(got) != len(w.Values) {
			t.Fatalf("%s: %d values, want %d", p.Name, len(got), len(w.Values))
		}
		for i := range got {
			if got[i] != w.Values[i] {
				t.Fatalf("%s[%d] = %v, want %v", p.Name, i, got[i], w.Values[i])
			}
		}
	}
	if nbt := m.Params()[6]; nbt.Name != "1.num_batches_tracked" || nbt.Value.Data().([]int64)[0] != 1 {
		t.Errorf("%s = %v, want 1", nbt.Name, nbt.Value.Data())
	}
}

func TestLoadMismatch(t *testing.T) {
	src := smallModel()
	for i, p := range src.Params() {
		if d, ok := p.Value.Data().([]float32); ok {
			for j := range d {
				d[j] = float32(i) + float32(j)/100
			}
		}
	}
	full, err := StateDict(src)
	if err != nil {
		t.Fatal(err)
	}
	drop := func(names ...string) *File {
		f, _ := StateDict(src)
		for _, n := range names {
			f.Delete(n)
		}
		return f
	}
	reshaped, _ := StateDict(src)
	if err := reshaped.Set("3.weight", FromFloat32([]int{16, 2}, make([]float32, 32))); err != nil {
		t.Fatal(err)
	}
	retyped, _ := StateDict(src)
	if err := retyped.Set("1.num_batches_tracked", FromFloat32(nil, []float32{1})); err != nil {
		t.Fatal(err)
	}
	extra, _ := StateDict(src)
	if err := extra.Set("fc.weight", FromFloat32([]int{1}, []float32{1})); err != nil {
		t.Fatal(err)
	}
	prefixed := &File{}
	for _, n := range full.Names() {
		tt, _ := full.Get(n)
		if err := prefixed.Set("backbone."+n, tt); err != nil {
			t.Fatal(err)
		}
	}
	if err := prefixed.Set("head.weight", FromFloat32([]int{1}, []float32{1})); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		file    *File
		opt     LoadOptions
		missing []string
		extra   []string
		shape   []string // prefixes of the Shape entries
	}{
		{"exact", full, LoadOptions{}, nil, nil, nil},
		{"missing", drop("0.bias", "1.running_var"), LoadOptions{}, []string{"0.bias", "1.running_var"}, nil, nil},
		{"missing allowed", drop("0.bias"), LoadOptions{AllowMissing: true}, nil, nil, nil},
		{"extra", extra, LoadOptions{}, nil, []string{"fc.weight"}, nil},
		{"extra allowed", extra, LoadOptions{AllowExtra: true}, nil, nil, nil},
		{"shape", reshaped, LoadOptions{}, nil, nil, []string{"3.weight: file F32[16 2], module float32[2 16]"}},
		{"dtype", retyped, LoadOptions{}, nil, nil, []string{"1.num_batches_tracked: file F32"}},
		{"prefix", prefixed, LoadOptions{Prefix: "backbone."}, nil, nil, nil},
		{"no prefix", prefixed, LoadOptions{AllowExtra: true}, []string{"0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var", "1.num_batches_tracked", "3.weight", "3.bias", "extra.double"}, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := smallModel()
			err := tc.file.Load(dst, tc.opt)
			if tc.missing == nil && tc.extra == nil && tc.shape == nil {
				if err != nil {
					t.Fatal(err)
				}
				for i, p := range dst.Params() {
					key := tc.opt.Prefix + p.Name
					if _, ok := tc.file.Get(key); !ok {
						continue
					}
					if fmt.Sprint(values(p)) != fmt.Sprint(values(src.Params()[i])) {
						t.Errorf("%s not loaded", p.Name)
					}
				}
				return
			}
			var me *MismatchError
			if !errors.As(err, &me) {
				t.Fatalf("error %v, want a *MismatchError", err)
			}
			if fmt.Sprint(me.Missing) != fmt.Sprint(tc.missing) || fmt.Sprint(me.Extra) != fmt.Sprint(tc.extra) || len(me.Shape) != len(tc.shape) {
				t.Errorf("got missing %v extra %v shape %v", me.Missing, me.Extra, me.Shape)
			}
			for i, s := range tc.shape {
				if i < len(me.Shape) && !strings.HasPrefix(me.Shape[i], s) {
					t.Errorf("shape entry %q, want prefix %q", me.Shape[i], s)
				}
			}
			// Nothing is loaded when anything is wrong.
			for _, p := range dst.Params() {
				if p.Name == "0.weight" && values(p)[1] != 0 {
					t.Error("a failed load changed the module")
				}
			}
			if !strings.HasPrefix(err.Error(), "safetensors: load: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

func TestStateDictDuplicate(t *testing.T) {
	m := nn.Modules{nn.NewLinear("fc", 2, 2, false), nn.NewLinear("fc", 2, 2, false)}
	if _, err := StateDict(m); err == nil || !strings.Contains(err.Error(), "duplicate") {
		t.Errorf("error %v, want a duplicate-name error", err)
	}
}

// TestPyTorchReadsOurFile saves a module from Go and has PyTorch load it
// with load_state_dict(strict=True) and check the values: shapes (including
// num_batches_tracked's []) and dtypes must be what torch expects.
func TestPyTorchReadsOurFile(t *testing.T) {
	const py = "/usr/bin/python3"
	if testing.Short() {
		t.Skip("-short: skipping the PyTorch cross-check")
	}
	if err := exec.Command(py, "-c", "import torch").Run(); err != nil {
		t.Skipf("no PyTorch at %s: %v", py, err)
	}
	m := smallModel()
	for i, p := range m.Params() {
		switch d := p.Value.Data().(type) {
		case []float32:
			for j := range d {
				d[j] = float32(math.Sin(float64(7*i + j)))
			}
		case []float64:
			for j := range d {
				d[j] = math.Cos(float64(j)) / 3
			}
		case []int64:
			d[0] = 17
		}
	}
	path := filepath.Join(t.TempDir(), "go.safetensors")
	if err := SaveModule(path, m); err != nil {
		t.Fatal(err)
	}
	script := `
import json, struct, sys, numpy as np, torch
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
hdr = json.loads(raw[8:8+n])
data = raw[8+n:]
dt = {"F32": np.float32, "F64": np.float64, "I64": np.int64}
sd = {k: torch.from_numpy(np.frombuffer(data[v["data_offsets"][0]:v["data_offsets"][1]], dtype=dt[v["dtype"]]).reshape(v["shape"]).copy())
      for k, v in hdr.items() if k != "__metadata__"}
extra = sd.pop("extra.double")
model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Flatten(), torch.nn.Linear(16, 2))
model.load_state_dict(sd, strict=True)
s = model.state_dict()
assert s["1.num_batches_tracked"].item() == 17 and s["1.num_batches_tracked"].dtype == torch.int64
assert extra.dtype == torch.float64
print(json.dumps({"sum": float(sum(v.double().sum() for k, v in s.items() if v.dtype != torch.int64)), "extra": float(extra.sum())}))
`
	out, err := exec.Command(py, "-c", script, path).CombinedOutput()
	if err != nil {
		t.Fatalf("PyTorch could not load the file: %v\n%s", err, out)
	}
	var got struct{ Sum, Extra float64 }
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var wantSum, wantExtra float64
	for _, p := range m.Params() {
		switch p.Value.Dtype() {
		case tensor.Float32:
			for _, v := range values(p) {
				wantSum += v
			}
		case tensor.Float64:
			for _, v := range values(p) {
				wantExtra += v
			}
		}
	}
	if math.Abs(got.Sum-wantSum) > 1e-9 || math.Abs(got.Extra-wantExtra) > 1e-12 {
		t.Errorf("PyTorch sees sums %v, %v; want %v, %v", got.Sum, got.Extra, wantSum, wantExtra)
	}
}
