package dataset

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/disiam/disiam/internal/checked"
)

// Array is a dense float32 array in row-major (C) order: element
// (i0, i1, …) is Data[((i0*Shape[1])+i1)*…], len(Data) is the product of
// Shape (1 for a 0-d array, whose Shape is empty).
type Array struct {
	Shape []int
	Data  []float32
}

// MaxNpyBytes bounds the data size a .npy header may declare (16 GiB), so
// that a corrupt header cannot make ReadNpy allocate without limit even
// when the data is there.
const MaxNpyBytes = 1 << 34

// maxNpyHeader bounds the header's dictionary. NumPy's writer pads it to a
// multiple of 64 bytes and needs well under 1 KiB for any shape; the
// version 1.0 length field allows 65535.
const maxNpyHeader = 1 << 16

// npyMagic starts every .npy file.
const npyMagic = "\x93NUMPY"

// ReadNpy reads a NumPy .npy array (format versions 1.0, 2.0 and 3.0) of
// float32 or float64 in either byte order, C order, converting float64 to
// float32. name is used in error messages. The file must hold exactly the
// data its header declares: a file that ends early is ErrTruncated, one
// with bytes after the data ErrOversized (the header then is not the one
// the data was written with). Every value must be finite: the first NaN or
// infinity is reported with its index as ErrCorrupt, because a single NaN
// pixel turns every output of a network into NaN without saying where it
// came from.
//
// Memory grows with the data actually read, never beyond what the header
// declares, so a header that overstates the size costs no more than the
// file holds; LoadNpyFile moreover compares the header with the file size
// before reading anything.
func ReadNpy(r io.Reader, name string) (*Array, error) {
	return readNpy(r, name, -1)
}

// LoadNpyFile reads the .npy file at path (see ReadNpy), checking first
// that its size is exactly what the header declares.
func LoadNpyFile(path string) (*Array, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: npy: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("dataset: npy: %w", err)
	}
	size := int64(-1)
	if st.Mode().IsRegular() {
		size = st.Size()
	}
	return readNpy(f, path, size)
}

// npyHeader is the decoded header dictionary.
type npyHeader struct {
	descr   string
	fortran bool
	shape   []int
}

// readNpy reads an .npy stream whose total length is size bytes, or
// unknown when size < 0.
func readNpy(r io.Reader, name string, size int64) (*Array, error) {
	fail := func(kind error, format string, args ...any) error {
		return fmt.Errorf("dataset: npy: %s: %s: %w", name, fmt.Sprintf(format, args...), kind)
	}
	br := bufio.NewReader(r)
	var pre [12]byte // magic, version, header length
	if n, err := io.ReadFull(br, pre[:8]); err != nil {
		if n == 0 && err == io.EOF {
			return nil, fail(ErrTruncated, "empty file")
		}
		return nil, readFail(fail, err, "preamble: %d of 8 bytes", n)
	}
	if string(pre[:6]) != npyMagic {
		return nil, fail(ErrCorrupt, "magic string %q, want %q (not a .npy file)", pre[:6], npyMagic)
	}
	major, minor := pre[6], pre[7]
	lenBytes := 4
	switch {
	case major == 1 && minor == 0:
		lenBytes = 2
	case (major == 2 || major == 3) && minor == 0:
	default:
		return nil, fail(ErrCorrupt, "format version %d.%d, want 1.0, 2.0 or 3.0", major, minor)
	}
	lb := pre[8 : 8+lenBytes]
	if n, err := io.ReadFull(br, lb); err != nil {
		return nil, readFail(fail, err, "header length: %d of %d bytes", n, lenBytes)
	}
	var hlen int
	if lenBytes == 2 {
		hlen = int(binary.LittleEndian.Uint16(lb))
	} else {
		hlen = int(binary.LittleEndian.Uint32(lb))
	}
	if hlen > maxNpyHeader {
		return nil, fail(ErrCorrupt, "header length %d exceeds %d bytes", hlen, maxNpyHeader)
	}
	hbuf := make([]byte, hlen)
	if n, err := io.ReadFull(br, hbuf); err != nil {
		return nil, readFail(fail, err, "header: %d of %d bytes", n, hlen)
	}
	h, err := parseNpyHeader(hbuf)
	if err != nil {
		return nil, fail(ErrCorrupt, "header %q: %v", bytes.TrimRight(hbuf, " \n"), err)
	}
	var order binary.ByteOrder
	var elem int
	switch h.descr {
	case "<f4", "<f8":
		order = binary.LittleEndian
	case ">f4", ">f8":
		order = binary.BigEndian
	default:
		return nil, fail(ErrCorrupt, "dtype %q, want float32 ('<f4') or float64 ('<f8')", h.descr)
	}
	elem = int(h.descr[2] - '0')
	if h.fortran {
		return nil, fail(ErrCorrupt, "fortran_order is True, want a C-order array")
	}
	n, ok := checked.Product(h.shape...)
	nbytes, ok2 := checked.Mul(n, elem)
	switch {
	case !ok || !ok2:
		return nil, fail(ErrOversized, "shape %v of %s: the data size overflows an int", h.shape, h.descr)
	case nbytes > MaxNpyBytes:
		return nil, fail(ErrOversized, "shape %v of %s declares %d data bytes, more than the %d allowed", h.shape, h.descr, nbytes, MaxNpyBytes)
	}
	dataAt := int64(6 + 2 + lenBytes + hlen)
	if size >= 0 {
		switch have := size - dataAt; {
		case have < int64(nbytes):
			return nil, fail(ErrTruncated, "shape %v of %s needs %d data bytes after the %d-byte header, the file has %d", h.shape, h.descr, nbytes, dataAt, max(have, 0))
		case have > int64(nbytes):
			return nil, fail(ErrOversized, "shape %v of %s needs %d data bytes after the %d-byte header, the file has %d (%d bytes of trailing data)", h.shape, h.descr, nbytes, dataAt, have, have-int64(nbytes))
		}
	}
	// Decode in chunks: with the size known the result is allocated once;
	// otherwise it grows with the data actually present.
	a := &Array{Shape: h.shape}
	if size >= 0 {
		a.Data = make([]float32, 0, n)
	}
	chunk := make([]byte, min(max(nbytes, elem), 1<<16)/elem*elem)
	for len(a.Data) < n {
		want := min(len(chunk), (n-len(a.Data))*elem)
		got, err := io.ReadFull(br, chunk[:want])
		if err != nil {
			read := len(a.Data)*elem + got
			if size < 0 && (err == io.EOF || err == io.ErrUnexpectedEOF) {
				return nil, fail(ErrTruncated, "shape %v of %s needs %d data bytes after the %d-byte header, the data ends after %d", h.shape, h.descr, nbytes, dataAt, read)
			}
			return nil, readFail(fail, err, "data: element %d", read/elem)
		}
		for i := 0; i < want; i += elem {
			var v float32
			if elem == 4 {
				v = math.Float32frombits(order.Uint32(chunk[i:]))
			} else {
				v = float32(math.Float64frombits(order.Uint64(chunk[i:])))
			}
			a.Data = append(a.Data, v)
		}
	}
	if size < 0 {
		if _, err := br.ReadByte(); err == nil {
			return nil, fail(ErrOversized, "data continues past the %d bytes that shape %v of %s declares", nbytes, h.shape, h.descr)
		}
	}
	for i, v := range a.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fail(ErrCorrupt, "element %d (index %v) is %v; the values must be finite", i, unravel(i, h.shape), v)
		}
	}
	return a, nil
}

// unravel returns the multi-index of flat index i in a C-order array of
// the given shape.
func unravel(i int, shape []int) []int {
	idx := make([]int, len(shape))
	for d := len(shape) - 1; d >= 0; d-- {
		idx[d] = i % shape[d]
		i /= shape[d]
	}
	return idx
}

// parseNpyHeader parses the header dictionary, a Python literal such as
// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } followed
// by padding spaces and a newline. The three keys must each appear once
// and no other key may.
func parseNpyHeader(b []byte) (npyHeader, error) {
	var h npyHeader
	p := &pyLexer{s: string(b)}
	if err := p.expect('{'); err != nil {
		return h, err
	}
	seen := map[string]bool{}
	for {
		if p.peek() == '}' {
			p.pos++
			break
		}
		key, err := p.str()
		if err != nil {
			return h, fmt.Errorf("key: %w", err)
		}
		if seen[key] {
			return h, fmt.Errorf("key %q given twice", key)
		}
		seen[key] = true
		if err := p.expect(':'); err != nil {
			return h, err
		}
		switch key {
		case "descr":
			if h.descr, err = p.str(); err != nil {
				return h, fmt.Errorf("descr: %w (structured dtypes are not supported)", err)
			}
		case "fortran_order":
			if h.fortran, err = p.boolean(); err != nil {
				return h, fmt.Errorf("fortran_order: %w", err)
			}
		case "shape":
			if h.shape, err = p.tuple(); err != nil {
				return h, fmt.Errorf("shape: %w", err)
			}
		default:
			return h, fmt.Errorf("unknown key %q", key)
		}
		if p.peek() == ',' {
			p.pos++
		} else if p.peek() != '}' {
			return h, fmt.Errorf("want ',' or '}' at byte %d", p.pos)
		}
	}
	if rest := strings.TrimRight(p.s[p.pos:], " \t\r\n\x00"); rest != "" {
		return h, fmt.Errorf("%d unexpected bytes after the dictionary", len(rest))
	}
	for _, k := range []string{"descr", "fortran_order", "shape"} {
		if !seen[k] {
			return h, fmt.Errorf("no %q key", k)
		}
	}
	return h, nil
}

// pyLexer reads the few Python literals of a .npy header.
type pyLexer struct {
	s   string
	pos int
}

// peek skips white space and returns the next byte, or 0 at the end.
func (p *pyLexer) peek() byte {
	for p.pos < len(p.s) && strings.IndexByte(" \t\r\n", p.s[p.pos]) >= 0 {
		p.pos++
	}
	if p.pos == len(p.s) {
		return 0
	}
	return p.s[p.pos]
}

func (p *pyLexer) expect(c byte) error {
	if p.peek() != c {
		return fmt.Errorf("want %q at byte %d", c, p.pos)
	}
	p.pos++
	return nil
}

// str reads a quoted string without escapes (dtype strings have none).
func (p *pyLexer) str() (string, error) {
	q := p.peek()
	if q != '\'' && q != '"' {
		return "", fmt.Errorf("want a quoted string at byte %d", p.pos)
	}
	end := strings.IndexByte(p.s[p.pos+1:], q)
	if end < 0 {
		return "", fmt.Errorf("unterminated string at byte %d", p.pos)
	}
	v := p.s[p.pos+1 : p.pos+1+end]
	if strings.IndexByte(v, '\\') >= 0 {
		return "", fmt.Errorf("escape in string at byte %d", p.pos)
	}
	p.pos += end + 2
	return v, nil
}

func (p *pyLexer) boolean() (bool, error) {
	p.peek()
	for _, w := range []string{"True", "False"} {
		if strings.HasPrefix(p.s[p.pos:], w) {
			p.pos += len(w)
			return w == "True", nil
		}
	}
	return false, fmt.Errorf("want True or False at byte %d", p.pos)
}

// tuple reads a tuple of non-negative integers: (), (n,), (n, m), …,
// allowing Python 2's long suffix L.
func (p *pyLexer) tuple() ([]int, error) {
	if err := p.expect('('); err != nil {
		return nil, err
	}
	dims := []int{}
	for {
		if p.peek() == ')' {
			p.pos++
			return dims, nil
		}
		start := p.pos
		for p.pos < len(p.s) && p.s[p.pos] >= '0' && p.s[p.pos] <= '9' {
			p.pos++
		}
		if p.pos == start {
			return nil, fmt.Errorf("want a non-negative integer at byte %d", start)
		}
		d, err := strconv.Atoi(p.s[start:p.pos])
		if err != nil {
			return nil, fmt.Errorf("dimension %s does not fit an int", p.s[start:p.pos])
		}
		dims = append(dims, d)
		if p.pos < len(p.s) && p.s[p.pos] == 'L' {
			p.pos++
		}
		switch p.peek() {
		case ',':
			p.pos++
		case ')':
		default:
			return nil, fmt.Errorf("want ',' or ')' at byte %d", p.pos)
		}
		if len(dims) > 64 { // NumPy 2's maximum number of dimensions
			return nil, fmt.Errorf("more than 64 dimensions")
		}
	}
}
