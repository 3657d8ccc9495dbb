package safetensors

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/disiam/disiam/internal/checked"
)

// MaxHeaderSize is the largest header this package reads (100 MB, the
// limit of the reference implementation): a larger length field means a
// corrupt or foreign file.
const MaxHeaderSize = 100 << 20

// Dtype is a tensor element type as spelled in the header.
type Dtype string

// The element types of the format. F64, F32 and I64 are what PyTorch
// state_dicts of float32/float64 models hold (I64 for
// num_batches_tracked); F16 and BF16 are read and converted to float32, the
// others are carried as raw bytes.
const (
	F64  Dtype = "F64"
	F32  Dtype = "F32"
	F16  Dtype = "F16"
	BF16 Dtype = "BF16"
	I64  Dtype = "I64"
	I32  Dtype = "I32"
	I16  Dtype = "I16"
	I8   Dtype = "I8"
	U64  Dtype = "U64"
	U32  Dtype = "U32"
	U16  Dtype = "U16"
	U8   Dtype = "U8"
	BOOL Dtype = "BOOL"
)

// Size returns the size of one element in bytes, or 0 for a dtype this
// package does not know.
func (d Dtype) Size() int {
	switch d {
	case F64, I64, U64:
		return 8
	case F32, I32, U32:
		return 4
	case F16, BF16, I16, U16:
		return 2
	case I8, U8, BOOL:
		return 1
	}
	return 0
}

// IsFloat reports whether d is a floating-point type.
func (d Dtype) IsFloat() bool { return d == F64 || d == F32 || d == F16 || d == BF16 }

// IsInt reports whether d is an integer type (BOOL excluded).
func (d Dtype) IsInt() bool {
	switch d {
	case I64, I32, I16, I8, U64, U32, U16, U8:
		return true
	}
	return false
}

// Tensor is one named entry: its element type, shape (row-major, empty for
// a scalar) and raw little-endian bytes, len(Data) == Numel()*Dtype.Size().
type Tensor struct {
	Dtype Dtype
	Shape []int
	Data  []byte
}

// Numel is the number of elements (1 for a scalar).
func (t Tensor) Numel() int { return numel(t.Shape) }

func numel(shape []int) int {
	n := 1
	for _, s := range shape {
		n *= s
	}
	return n
}

// FromFloat32 returns an F32 tensor holding a copy of data.
func FromFloat32(shape []int, data []float32) Tensor {
	b := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return Tensor{Dtype: F32, Shape: append([]int{}, shape...), Data: b}
}

// FromFloat64 returns an F64 tensor holding a copy of data.
func FromFloat64(shape []int, data []float64) Tensor {
	b := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(v))
	}
	return Tensor{Dtype: F64, Shape: append([]int{}, shape...), Data: b}
}

// FromInt64 returns an I64 tensor holding a copy of data.
func FromInt64(shape []int, data []int64) Tensor {
	b := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(v))
	}
	return Tensor{Dtype: I64, Shape: append([]int{}, shape...), Data: b}
}

func (t Tensor) check() error {
	sz := t.Dtype.Size()
	if sz == 0 {
		return fmt.Errorf("unknown dtype %q", t.Dtype)
	}
	for _, s := range t.Shape {
		if s < 0 {
			return fmt.Errorf("negative dimension in shape %v", t.Shape)
		}
	}
	n, ok := checked.Product(t.Shape...)
	nb, ok2 := checked.Mul(n, sz)
	if !ok || !ok2 {
		return fmt.Errorf("%s%v: the size in bytes overflows an int", t.Dtype, t.Shape)
	}
	if len(t.Data) != nb {
		return fmt.Errorf("%s%v needs %d bytes, has %d", t.Dtype, t.Shape, nb, len(t.Data))
	}
	return nil
}

// Float32s returns the elements converted to float32 (a new slice). Every
// float and integer dtype converts; BOOL and unknown types are an error.
func (t Tensor) Float32s() ([]float32, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	n := t.Numel()
	out := make([]float32, n)
	b := t.Data
	switch t.Dtype {
	case F32:
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	case F64:
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])))
		}
	case F16:
		for i := range out {
			out[i] = halfToFloat32(binary.LittleEndian.Uint16(b[2*i:]))
		}
	case BF16:
		for i := range out {
			out[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[2*i:])) << 16)
		}
	default:
		ints, err := t.Int64s()
		if err != nil {
			return nil, err
		}
		for i, v := range ints {
			out[i] = float32(v)
		}
	}
	return out, nil
}

// Float64s returns the elements converted to float64 (a new slice).
func (t Tensor) Float64s() ([]float64, error) {
	if t.Dtype == F64 {
		if err := t.check(); err != nil {
			return nil, err
		}
		out := make([]float64, t.Numel())
		for i := range out {
			out[i] = math.Float64frombits(binary.LittleEndian.Uint64(t.Data[8*i:]))
		}
		return out, nil
	}
	f, err := t.Float32s()
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(f))
	for i, v := range f {
		out[i] = float64(v)
	}
	return out, nil
}

// Int64s returns the elements of an integer or BOOL tensor as int64 (a new
// slice); float tensors are an error.
func (t Tensor) Int64s() ([]int64, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	out := make([]int64, t.Numel())
	b := t.Data
	for i := range out {
		switch t.Dtype {
		case I64:
			out[i] = int64(binary.LittleEndian.Uint64(b[8*i:]))
		case U64:
			out[i] = int64(binary.LittleEndian.Uint64(b[8*i:]))
		case I32:
			out[i] = int64(int32(binary.LittleEndian.Uint32(b[4*i:])))
		case U32:
			out[i] = int64(binary.LittleEndian.Uint32(b[4*i:]))
		case I16:
			out[i] = int64(int16(binary.LittleEndian.Uint16(b[2*i:])))
		case U16:
			out[i] = int64(binary.LittleEndian.Uint16(b[2*i:]))
		case I8:
			out[i] = int64(int8(b[i]))
		case U8, BOOL:
			out[i] = int64(b[i])
		default:
			return nil, fmt.Errorf("%s tensor is not an integer tensor", t.Dtype)
		}
	}
	return out, nil
}

// halfToFloat32 converts an IEEE 754 binary16 value.
func halfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0 && mant == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: mant * 2^-24
		f := float32(mant) / (1 << 24)
		if sign != 0 {
			f = -f
		}
		return f
	case exp == 0x1f:
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// File is the content of a .safetensors file: named tensors in order and
// the optional string-to-string metadata. The zero value is an empty file
// ready to use.
type File struct {
	// Metadata is the header's "__metadata__" object (nil if absent).
	Metadata map[string]string

	names   []string
	tensors map[string]Tensor
}

// Names returns the tensor names in order: the order of the data in a file
// that was read, the order of Set otherwise.
func (f *File) Names() []string { return append([]string(nil), f.names...) }

// Len is the number of tensors.
func (f *File) Len() int { return len(f.names) }

// Get returns the tensor called name.
func (f *File) Get(name string) (Tensor, bool) {
	t, ok := f.tensors[name]
	return t, ok
}

// Set adds the tensor called name, or replaces it in place. The file keeps
// t's slices (no copy). It returns an error if the name is empty or
// "__metadata__", or if t's size does not match its dtype and shape.
func (f *File) Set(name string, t Tensor) error {
	if name == "" || name == metadataKey {
		return fmt.Errorf("safetensors: invalid tensor name %q", name)
	}
	if err := t.check(); err != nil {
		return fmt.Errorf("safetensors: %s: %w", name, err)
	}
	if f.tensors == nil {
		f.tensors = map[string]Tensor{}
	}
	if _, ok := f.tensors[name]; !ok {
		f.names = append(f.names, name)
	}
	f.tensors[name] = t
	return nil
}

// Delete removes the tensor called name, if present.
func (f *File) Delete(name string) {
	if _, ok := f.tensors[name]; !ok {
		return
	}
	delete(f.tensors, name)
	for i, n := range f.names {
		if n == name {
			f.names = append(f.names[:i], f.names[i+1:]...)
			break
		}
	}
}

const metadataKey = "__metadata__"

// ChecksumKey is the metadata key under which this package stores the
// SHA-256 of the data section (the bytes after the header), in lower-case
// hex. Every file written by WriteTo or WriteFile carries it, replacing any
// value the caller put in Metadata; Parse verifies it when present and
// removes it from Metadata. Files without it, such as those the Python
// safetensors package writes, load unverified; PyTorch reads files with it
// like any other metadata.
const ChecksumKey = "disiam.sha256"

type entry struct {
	Dtype       Dtype   `json:"dtype"`
	Shape       []int   `json:"shape"`
	DataOffsets []int64 `json:"data_offsets"`
}

// Parse decodes a complete .safetensors file held in data. The tensors'
// Data slices alias data. Every inconsistency of the header (bad length,
// bad JSON, duplicate or unknown keys, unknown dtype, negative shape, size
// that disagrees with dtype and shape, offsets outside the data, gaps or
// overlaps between tensors) is an error.
func Parse(data []byte) (*File, error) {
	if len(data) < 8 {
		return nil, fmt.Errorf("safetensors: file has %d bytes, shorter than the 8-byte header length", len(data))
	}
	hl := binary.LittleEndian.Uint64(data)
	if hl > MaxHeaderSize {
		return nil, fmt.Errorf("safetensors: header length %d exceeds %d bytes (not a safetensors file?)", hl, MaxHeaderSize)
	}
	if hl > uint64(len(data)-8) {
		return nil, fmt.Errorf("safetensors: header length %d exceeds the %d bytes after the length field (truncated file?)", hl, len(data)-8)
	}
	header := data[8 : 8+hl]
	buf := data[8+hl:]
	if len(header) == 0 || header[0] != '{' {
		return nil, fmt.Errorf("safetensors: header does not start with '{'")
	}
	f := &File{tensors: map[string]Tensor{}}
	type located struct {
		name       string
		begin, end int64
		order      int
	}
	var locs []located
	dec := json.NewDecoder(bytes.NewReader(header))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("safetensors: header: %w", err)
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("safetensors: header: %w", err)
		}
		name, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("safetensors: header: unexpected token %v", tok)
		}
		if seen[name] {
			return nil, fmt.Errorf("safetensors: header: duplicate key %q", name)
		}
		seen[name] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("safetensors: header: %q: %w", name, err)
		}
		if name == metadataKey {
			if err := json.Unmarshal(raw, &f.Metadata); err != nil {
				return nil, fmt.Errorf("safetensors: header: __metadata__ must map strings to strings: %w", err)
			}
			continue
		}
		if name == "" {
			return nil, fmt.Errorf("safetensors: header: empty tensor name")
		}
		var e entry
		ed := json.NewDecoder(bytes.NewReader(raw))
		ed.DisallowUnknownFields()
		if err := ed.Decode(&e); err != nil {
			return nil, fmt.Errorf("safetensors: header: tensor %q: %w", name, err)
		}
		if e.Dtype == "" || e.Shape == nil || e.DataOffsets == nil {
			return nil, fmt.Errorf("safetensors: header: tensor %q: needs dtype, shape and data_offsets", name)
		}
		if len(e.DataOffsets) != 2 {
			return nil, fmt.Errorf("safetensors: header: tensor %q: data_offsets has %d entries, want 2", name, len(e.DataOffsets))
		}
		b, en := e.DataOffsets[0], e.DataOffsets[1]
		if b < 0 || en < b || en > int64(len(buf)) {
			return nil, fmt.Errorf("safetensors: tensor %q: data_offsets [%d, %d] outside the %d data bytes", name, b, en, len(buf))
		}
		t := Tensor{Dtype: e.Dtype, Shape: e.Shape, Data: buf[b:en:en]}
		if err := t.check(); err != nil {
			return nil, fmt.Errorf("safetensors: tensor %q: %w", name, err)
		}
		f.tensors[name] = t
		locs = append(locs, located{name, b, en, len(locs)})
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("safetensors: header: %w", err)
	}
	if rest := bytes.TrimRight(header[dec.InputOffset():], " \t\r\n"); len(rest) != 0 {
		return nil, fmt.Errorf("safetensors: header: %d unexpected bytes after the JSON object", len(rest))
	}
	sort.SliceStable(locs, func(i, j int) bool {
		if locs[i].begin != locs[j].begin {
			return locs[i].begin < locs[j].begin
		}
		return locs[i].end < locs[j].end
	})
	var pos int64
	for _, l := range locs {
		if l.begin != pos {
			if l.begin < pos {
				return nil, fmt.Errorf("safetensors: tensor %q: data [%d, %d] overlaps the previous tensor (ending at %d)", l.name, l.begin, l.end, pos)
			}
			return nil, fmt.Errorf("safetensors: tensor %q: data starts at %d, leaving a gap after %d", l.name, l.begin, pos)
		}
		pos = l.end
		f.names = append(f.names, l.name)
	}
	if pos != int64(len(buf)) {
		return nil, fmt.Errorf("safetensors: tensors cover %d of the %d data bytes", pos, len(buf))
	}
	if sum, ok := f.Metadata[ChecksumKey]; ok {
		want, err := hex.DecodeString(sum)
		if err != nil || len(want) != sha256.Size {
			return nil, fmt.Errorf("safetensors: header: __metadata__ %s %q is not a hex SHA-256", ChecksumKey, sum)
		}
		if got := sha256.Sum256(buf); !bytes.Equal(got[:], want) {
			return nil, fmt.Errorf("safetensors: data checksum mismatch: the header's %s is %s, the %d data bytes hash to %x (corrupt file)", ChecksumKey, sum, len(buf), got)
		}
		delete(f.Metadata, ChecksumKey)
		if len(f.Metadata) == 0 {
			f.Metadata = nil
		}
	}
	return f, nil
}

// Read reads a whole .safetensors stream and parses it.
func Read(r io.Reader) (*File, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	return Parse(data)
}

// ReadFile reads and parses the file at path; errors name the path.
func ReadFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	f, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %s: %s", path, strings.TrimPrefix(err.Error(), "safetensors: "))
	}
	return f, nil
}

// header builds the JSON header, padded with spaces to a multiple of 8
// bytes so that the data section stays 8-byte aligned. Its metadata is
// f.Metadata plus ChecksumKey, the SHA-256 of the tensors' data in order.
func (f *File) header() ([]byte, error) {
	sum := sha256.New()
	for _, name := range f.names {
		t := f.tensors[name]
		if err := t.check(); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		sum.Write(t.Data)
	}
	meta := map[string]string{ChecksumKey: hex.EncodeToString(sum.Sum(nil))}
	for k, v := range f.Metadata {
		if k != ChecksumKey {
			meta[k] = v
		}
	}
	var b bytes.Buffer
	b.WriteByte('{')
	first := true
	sep := func() {
		if !first {
			b.WriteByte(',')
		}
		first = false
	}
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	sep()
	b.WriteString(`"__metadata__":{`)
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kj, _ := json.Marshal(k)
		vj, _ := json.Marshal(meta[k])
		b.Write(kj)
		b.WriteByte(':')
		b.Write(vj)
	}
	b.WriteByte('}')
	var off int64
	for _, name := range f.names {
		t := f.tensors[name]
		sep()
		nj, _ := json.Marshal(name)
		b.Write(nj)
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		ej, err := json.Marshal(entry{Dtype: t.Dtype, Shape: shape, DataOffsets: []int64{off, off + int64(len(t.Data))}})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		b.WriteByte(':')
		b.Write(ej)
		off += int64(len(t.Data))
	}
	b.WriteByte('}')
	for b.Len()%8 != 0 {
		b.WriteByte(' ')
	}
	if b.Len() > MaxHeaderSize {
		return nil, fmt.Errorf("header of %d bytes exceeds %d", b.Len(), MaxHeaderSize)
	}
	return b.Bytes(), nil
}

// WriteTo writes f in the safetensors format: the header lists the tensors
// in f's order and their data follows in the same order.
func (f *File) WriteTo(w io.Writer) (int64, error) {
	n, err := f.write(w)
	if err != nil {
		return n, fmt.Errorf("safetensors: %w", err)
	}
	return n, nil
}

func (f *File) write(w io.Writer) (int64, error) {
	h, err := f.header()
	if err != nil {
		return 0, err
	}
	return f.writeWithHeader(w, h)
}

// writeWithHeader writes the length field, h (f.header()) and the data.
func (f *File) writeWithHeader(w io.Writer, h []byte) (int64, error) {
	var n int64
	var lenField [8]byte
	binary.LittleEndian.PutUint64(lenField[:], uint64(len(h)))
	for _, chunk := range [][]byte{lenField[:], h} {
		k, err := w.Write(chunk)
		n += int64(k)
		if err != nil {
			return n, err
		}
	}
	for _, name := range f.names {
		k, err := w.Write(f.tensors[name].Data)
		n += int64(k)
		if err != nil {
			return n, fmt.Errorf("%s: %w", name, err)
		}
	}
	return n, nil
}

// WriteFile writes f to path atomically and durably: it writes a temporary
// file .NAME.tmp-* in the same directory, syncs it, renames it over path
// and syncs the directory (on Unix), so that readers see either the old
// file or the complete new one, never a partial write, and the new one
// survives a power loss once WriteFile has returned. On error no temporary
// file is left behind and path is untouched. A process killed during the
// write (SIGKILL, a crash) cannot remove its temporary file, so WriteFile
// first removes those of earlier writes to path (CleanTemp). The file
// carries the SHA-256 of its data (ChecksumKey), which ReadFile verifies.
func WriteFile(path string, f *File) error {
	if err := writeFile(path, f); err != nil {
		return fmt.Errorf("safetensors: %s: %w", path, err)
	}
	return nil
}

func writeFile(path string, f *File) (err error) {
	h, err := f.header()
	if err != nil {
		return err
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	// A failure to remove stale files must not prevent the write.
	_, _ = CleanTemp(path)
	tmp, err := os.CreateTemp(dir, tempPrefix(base)+"*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if testHookWriting != nil {
		testHookWriting(tmp.Name())
	}
	w := bufio.NewWriterSize(tmp, 1<<20)
	if _, err = f.writeWithHeader(w, h); err != nil {
		return err
	}
	if err = w.Flush(); err != nil {
		return err
	}
	if err = tmp.Chmod(0o644); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	// The rename is durable only once the directory is synced. The file
	// is in place by now, so no temporary file is left to remove.
	if serr := syncDir(dir); serr != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, serr)
	}
	return nil
}

// testHookWriting, when set by a test, is called with the temporary
// file's name once it exists, before anything is written to it.
var testHookWriting func(tmp string)

// tempPrefix is the name prefix of WriteFile's temporary files for a
// target named base; os.CreateTemp appends a decimal random number.
func tempPrefix(base string) string { return "." + base + ".tmp-" }

// CleanTemp removes the temporary files WriteFile leaves next to path
// when its process is killed during a write (.NAME.tmp-DIGITS, NAME being
// path's base name) and returns the paths it removed. WriteFile calls it
// before every write, so stale files of a target live only until its next
// write; call it directly to clean up a target that is no longer written.
// It must not run while another process writes the same path, whose
// temporary file it would remove (that write then fails at its rename;
// two processes writing one path race in any case). A missing directory
// is not an error.
func CleanTemp(path string) ([]string, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("safetensors: clean temporary files of %s: %w", path, err)
	}
	prefix := tempPrefix(base)
	var removed []string
	var errs []error
	for _, e := range entries {
		name := e.Name()
		suffix, ok := strings.CutPrefix(name, prefix)
		if !ok || suffix == "" || strings.Trim(suffix, "0123456789") != "" || !e.Type().IsRegular() {
			continue
		}
		p := filepath.Join(dir, name)
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, p)
	}
	if err := errors.Join(errs...); err != nil {
		return removed, fmt.Errorf("safetensors: clean temporary files of %s: %w", path, err)
	}
	return removed, nil
}
