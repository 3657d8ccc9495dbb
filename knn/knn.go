package knn

import (
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/disiam/disiam/internal/linalg"
	"github.com/disiam/disiam/internal/parallel"
)

// Defaults of Config, the values of thesis Section 4.4.
const (
	DefaultK   = 200
	DefaultTau = 0.1
)

// Block sizes of the similarity computation: each worker multiplies a
// block of up to maxQueryBlock normalized queries by bankBlock bank rows at
// a time, so its working set is one block of similarities (2 MiB) plus the
// neighbour buffers of its queries, whatever the sizes of the bank and the
// query set; the bank streams through the cache once per query block. The
// query block shrinks for very large K so that a worker's scratch memory
// stays near workspaceBudget. Block sizes depend only on K and the bank
// size, never on the number of workers, so neither do the results.
const (
	maxQueryBlock   = 512
	bankBlock       = 1024
	workspaceBudget = 32 << 20
)

// Config holds the two hyper-parameters of the weighted kNN rule. The zero
// value is the thesis' setting (k = 200, τ = 0.1).
type Config struct {
	// K is the number of neighbours; 0 means DefaultK (200). A K larger
	// than the bank uses the whole bank.
	K int
	// Tau is the temperature τ of the weights exp(sim/τ); 0 means
	// DefaultTau (0.1).
	Tau float64
}

func (c Config) norm() (Config, error) {
	if c.K == 0 {
		c.K = DefaultK
	}
	if c.Tau == 0 {
		c.Tau = DefaultTau
	}
	if c.K < 0 {
		return c, fmt.Errorf("knn: K = %d, want > 0", c.K)
	}
	if !(c.Tau > 0) || math.IsInf(c.Tau, 0) {
		return c, fmt.Errorf("knn: Tau = %v, want a finite value > 0", c.Tau)
	}
	return c, nil
}

// Classifier is a weighted kNN classifier over a fixed bank of labeled
// feature vectors. It is safe for concurrent use; its methods never modify
// their arguments.
type Classifier struct {
	cfg     Config
	k       int // effective k: min(cfg.K, bank size)
	dim     int
	n       int
	classes int
	bank    []float32 // n×dim, rows L2-normalized
	labels  []int32
	qb      int       // query block size
	pool    sync.Pool // *workspace
}

// NewClassifier returns a classifier whose bank is a copy of the
// n = len(bank)/dim feature vectors in bank (row-major, n×dim),
// L2-normalized, with labels in [0, classes). It returns an error if the
// sizes disagree, a label is out of range or a feature is not finite.
func NewClassifier(bank []float32, dim int, labels []int, classes int, cfg Config) (*Classifier, error) {
	if dim <= 0 {
		return nil, fmt.Errorf("knn: bank: dim = %d, want > 0", dim)
	}
	return newClassifier(append([]float32(nil), bank...), dim, labels, classes, cfg)
}

// newClassifier is NewClassifier taking ownership of bank, which it
// normalizes in place.
func newClassifier(bank []float32, dim int, labels []int, classes int, cfg Config) (*Classifier, error) {
	cfg, err := cfg.norm()
	if err != nil {
		return nil, err
	}
	if dim <= 0 {
		return nil, fmt.Errorf("knn: bank: dim = %d, want > 0", dim)
	}
	if len(bank)%dim != 0 {
		return nil, fmt.Errorf("knn: bank: %d values are not a whole number of rows of %d", len(bank), dim)
	}
	n := len(bank) / dim
	if n == 0 {
		return nil, errors.New("knn: bank: empty")
	}
	if n > math.MaxInt32 {
		return nil, fmt.Errorf("knn: bank: %d rows, at most %d supported", n, math.MaxInt32)
	}
	if len(labels) != n {
		return nil, fmt.Errorf("knn: bank: %d labels for %d rows", len(labels), n)
	}
	if classes <= 0 {
		return nil, fmt.Errorf("knn: classes = %d, want > 0", classes)
	}
	lab := make([]int32, n)
	for i, l := range labels {
		if l < 0 || l >= classes {
			return nil, fmt.Errorf("knn: bank: row %d: label %d outside [0, %d)", i, l, classes)
		}
		lab[i] = int32(l)
	}
	if row := normalizeRows(bank, dim); row >= 0 {
		return nil, fmt.Errorf("knn: bank: row %d: feature is not finite", row)
	}
	c := &Classifier{cfg: cfg, k: min(cfg.K, n), dim: dim, n: n, classes: classes, bank: bank, labels: lab}
	// Per query: similarities, normalized query, and for each neighbour
	// buffer entry (2K+) similarity and index plus rescored similarity and
	// pair index.
	perQuery := 4*min(bankBlock, n) + 4*dim + c.k*(2*8+8+4)
	c.qb = min(max(workspaceBudget/perQuery, 8), maxQueryBlock)
	c.pool.New = func() any { return c.newWorkspace() }
	return c, nil
}

// Config returns the classifier's configuration with defaults filled in.
func (c *Classifier) Config() Config { return c.cfg }

// Dim returns the feature width.
func (c *Classifier) Dim() int { return c.dim }

// Len returns the number of bank rows.
func (c *Classifier) Len() int { return c.n }

// Classes returns the number of classes.
func (c *Classifier) Classes() int { return c.classes }

// normalizeRows normalizes the rows of x (width dim) in parallel, as
// normalizeRow. It returns the index of the first row with a non-finite
// value, or -1.
func normalizeRows(x []float32, dim int) int {
	const grain = 256
	n := len(x) / dim
	bad := make([]int, parallel.Chunks(n, grain))
	parallel.For(n, grain, func(lo, hi int) {
		r := normalizeRowsSerial(x[lo*dim:hi*dim], dim)
		if r >= 0 {
			r += lo
		}
		bad[lo/grain] = r
	})
	for _, b := range bad {
		if b >= 0 {
			return b
		}
	}
	return -1
}

// workspace is one worker's scratch memory.
type workspace struct {
	q      []float32 // qb×dim normalized queries
	sim    []float32 // qb×bankBlock similarities
	heaps  []topK    // one per query row
	exact  []float64 // qb×k rescored similarities
	start  []int32   // bank size + 1: counting-sort offsets
	order  []int32   // qb×k (row, neighbour) pairs by bank row
	scores []float64 // classes
}

func (c *Classifier) newWorkspace() any {
	w := &workspace{
		q:      make([]float32, c.qb*c.dim),
		sim:    make([]float32, c.qb*min(bankBlock, c.n)),
		heaps:  make([]topK, c.qb),
		exact:  make([]float64, c.qb*c.k),
		start:  make([]int32, c.n+1),
		order:  make([]int32, c.qb*c.k),
		scores: make([]float64, c.classes),
	}
	for i := range w.heaps {
		w.heaps[i] = newTopK(c.k)
	}
	return w
}

// run computes the class scores of every query row of queries (nq×dim) and
// calls visit(i, scores, neighbours, sims) for each, from several
// goroutines but once per row; scores (length Classes), the neighbours
// (best first if sorted, else in an order that depends only on the
// similarities) and their rescored similarities are only valid during the
// call.
// It returns an error if queries has the wrong size or a non-finite value.
func (c *Classifier) run(queries []float32, sorted bool, visit func(i int, scores []float64, nb *topK, sim []float64)) error {
	if len(queries)%c.dim != 0 {
		return fmt.Errorf("knn: queries: %d values are not a whole number of rows of %d", len(queries), c.dim)
	}
	nq := len(queries) / c.dim
	bad := make([]int, parallel.Chunks(nq, c.qb))
	parallel.For(nq, c.qb, func(lo, hi int) {
		w := c.pool.Get().(*workspace)
		defer c.pool.Put(w)
		bad[lo/c.qb] = c.block(w, queries[lo*c.dim:hi*c.dim], lo, sorted, visit)
	})
	for _, b := range bad {
		if b >= 0 {
			return fmt.Errorf("knn: queries: row %d: feature is not finite", b)
		}
	}
	return nil
}

// block processes the query rows q (at most qb of them, the first
// being row first) and returns the index of a non-finite row, or -1.
//
// Selection: one Gemm of the normalized query block by each bank block
// gives float32 similarities, which stream through a bounded heap per row.
//
// Rescoring: the similarities of the selected neighbours are recomputed
// with float64 accumulation (the products of two float32 values are exact
// in float64) and the neighbours reordered by them. Accumulating in float32 over the feature width leaves errors
// of several ulps on sim, which exp(sim/τ) turns into relative weight
// errors of about 1e-6. The (row, neighbour) pairs of the block are visited
// in bank order, so that the bank streams through the cache once per block
// instead of being read at k random rows per query.
func (c *Classifier) block(w *workspace, q []float32, first int, sorted bool, visit func(int, []float64, *topK, []float64)) int {
	dim, k := c.dim, c.k
	m := len(q) / dim
	qn := w.q[:len(q)]
	copy(qn, q)
	if r := normalizeRowsSerial(qn, dim); r >= 0 {
		return first + r
	}
	for r := 0; r < m; r++ {
		w.heaps[r].reset()
	}
	for b0 := 0; b0 < c.n; b0 += bankBlock {
		bn := min(bankBlock, c.n-b0)
		sim := w.sim[:m*bn]
		linalg.Gemm(false, true, m, bn, dim, 1, qn, dim, c.bank[b0*dim:], dim, 0, sim, bn)
		for r := 0; r < m; r++ {
			w.heaps[r].pushAll(sim[r*bn:(r+1)*bn], int32(b0))
		}
	}
	// Counting sort of the pairs r*k+j by bank row.
	start := w.start
	clear(start)
	for r := 0; r < m; r++ {
		h := &w.heaps[r]
		h.finish(sorted)
		for _, b := range h.idx[:h.n] {
			start[b+1]++
		}
	}
	for i := 1; i < len(start); i++ {
		start[i] += start[i-1]
	}
	order := w.order[:start[c.n]]
	for r := 0; r < m; r++ {
		h := &w.heaps[r]
		for j, b := range h.idx[:h.n] {
			order[start[b]] = int32(r*k + j)
			start[b]++
		}
	}
	exact := w.exact[:m*k]
	for _, p := range order {
		r, j := int(p)/k, int(p)%k
		b := int(w.heaps[r].idx[j])
		exact[p] = dot64(qn[r*dim:(r+1)*dim], c.bank[b*dim:(b+1)*dim])
	}
	for r := 0; r < m; r++ {
		h := &w.heaps[r]
		s, ex := w.scores, exact[r*k:r*k+h.n]
		if sorted {
			h.refine(ex)
		}
		clear(s)
		for j, b := range h.idx[:h.n] {
			s[c.labels[b]] += math.Exp(ex[j] / c.cfg.Tau)
		}
		visit(first+r, s, h, ex)
	}
	return -1
}

// normalizeRowsSerial is normalizeRows on the calling goroutine.
func normalizeRowsSerial(x []float32, dim int) int {
	for r := 0; r < len(x)/dim; r++ {
		if !normalizeRow(x[r*dim : (r+1)*dim]) {
			return r
		}
	}
	return -1
}

// normalizeRow divides row by max(‖row‖₂, 1e-12), as
// torch.nn.functional.normalize, with the norm and the quotients computed in
// float64. It reports false, leaving row alone, if a value is not finite.
func normalizeRow(row []float32) bool {
	var s float64
	for _, v := range row {
		s += float64(v) * float64(v)
	}
	if math.IsNaN(s) || math.IsInf(s, 0) {
		return false
	}
	nrm := max(math.Sqrt(s), 1e-12)
	for i, v := range row {
		row[i] = float32(float64(v) / nrm)
	}
	return true
}

// Scores returns the class scores of the queries (row-major, nq×dim): row i
// of the result (nq×Classes, row-major) holds, for each class, the sum of
// exp(sim/τ) over those of the query's K nearest bank rows (by cosine
// similarity sim) that carry the class.
func (c *Classifier) Scores(queries []float32) ([]float64, error) {
	out := make([]float64, len(queries)/c.dim*c.classes)
	err := c.run(queries, false, func(i int, s []float64, _ *topK, _ []float64) {
		copy(out[i*c.classes:], s)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Predict returns, for each query, the n highest-scoring classes, best
// first (row-major, nq×n; n is capped at Classes). Equal scores rank by
// class index, lowest first.
func (c *Classifier) Predict(queries []float32, n int) ([]int, error) {
	n = min(max(n, 0), c.classes)
	out := make([]int, len(queries)/c.dim*n)
	err := c.run(queries, false, func(i int, s []float64, _ *topK, _ []float64) {
		rankInto(out[i*n:(i+1)*n], s)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Neighbours returns, for each query, the indices of its K nearest bank
// rows by cosine similarity, most similar first (row-major, nq×K with K
// capped at the bank size), and their cosine similarities, the values the
// weights use. Equal similarities rank by bank index, lowest first. See the
// package documentation on precision.
func (c *Classifier) Neighbours(queries []float32) (idx []int, sim []float64, err error) {
	k := c.k
	idx = make([]int, len(queries)/c.dim*k)
	sim = make([]float64, len(idx))
	err = c.run(queries, true, func(i int, _ []float64, h *topK, exact []float64) {
		for j := 0; j < h.n; j++ {
			idx[i*k+j] = int(h.idx[j])
		}
		copy(sim[i*k:], exact)
	})
	if err != nil {
		return nil, nil, err
	}
	return idx, sim, nil
}

// rankInto writes the indices of the len(dst) largest scores to dst, in
// decreasing order of score, ties by lower index, without sorting all of s.
func rankInto(dst []int, s []float64) {
	n := 0
	for j, v := range s {
		// Insert j into dst[:n] (sorted) unless it ranks below all n kept.
		if n == len(dst) {
			if w := s[dst[n-1]]; !(v > w) {
				continue
			}
			n--
		}
		p := n
		for p > 0 && v > s[dst[p-1]] {
			dst[p] = dst[p-1]
			p--
		}
		dst[p] = j
		n++
	}
}

// Result is the outcome of evaluating a classifier on labeled queries.
// Accuracies are fractions in [0, 1] (multiply by 100 for the thesis'
// percentages).
type Result struct {
	// Top1 is the fraction of queries whose best-scoring class is their
	// label; Top5 the fraction whose label is among the five best (among
	// all classes when there are at most five).
	Top1, Top5 float64
	// Correct1 and Correct5 count those queries; Queries is their number.
	Correct1, Correct5, Queries int
	// PerClass[c] is the top-1 accuracy over the Support[c] queries of
	// class c (0 when Support[c] is 0).
	PerClass []float64
	Support  []int
}

// String formats the result as the thesis reports it, in percent.
func (r Result) String() string {
	return fmt.Sprintf("top-1 %.2f%%  top-5 %.2f%%  (%d queries)", 100*r.Top1, 100*r.Top5, r.Queries)
}

// Evaluate classifies the queries (row-major, nq×dim) and compares the
// predictions with their labels, each in [0, Classes).
func (c *Classifier) Evaluate(queries []float32, labels []int) (Result, error) {
	nq := len(queries) / c.dim
	if len(queries)%c.dim == 0 && len(labels) != nq {
		return Result{}, fmt.Errorf("knn: queries: %d labels for %d rows", len(labels), nq)
	}
	for i, l := range labels {
		if l < 0 || l >= c.classes {
			return Result{}, fmt.Errorf("knn: queries: row %d: label %d outside [0, %d)", i, l, c.classes)
		}
	}
	top := min(5, c.classes)
	hits := make([]int8, nq) // 0 miss, 1 top-5 only, 2 top-1
	err := c.run(queries, false, func(i int, s []float64, _ *topK, _ []float64) {
		var best [5]int
		rankInto(best[:top], s)
		for j, b := range best[:top] {
			if b == labels[i] {
				hits[i] = 1
				if j == 0 {
					hits[i] = 2
				}
				break
			}
		}
	})
	if err != nil {
		return Result{}, err
	}
	r := Result{Queries: nq, PerClass: make([]float64, c.classes), Support: make([]int, c.classes)}
	correct := make([]int, c.classes)
	for i, h := range hits {
		r.Support[labels[i]]++
		if h >= 1 {
			r.Correct5++
		}
		if h == 2 {
			r.Correct1++
			correct[labels[i]]++
		}
	}
	if nq > 0 {
		r.Top1 = float64(r.Correct1) / float64(nq)
		r.Top5 = float64(r.Correct5) / float64(nq)
	}
	for j := range correct {
		if r.Support[j] > 0 {
			r.PerClass[j] = float64(correct[j]) / float64(r.Support[j])
		}
	}
	return r, nil
}

// Evaluate builds a classifier on the bank (row-major, n×dim, labels in
// [0, classes)) and evaluates it on the labeled queries: the one-call form
// of NewClassifier followed by Classifier.Evaluate.
func Evaluate(bank []float32, bankLabels []int, queries []float32, queryLabels []int, dim, classes int, cfg Config) (Result, error) {
	c, err := NewClassifier(bank, dim, bankLabels, classes, cfg)
	if err != nil {
		return Result{}, err
	}
	return c.Evaluate(queries, queryLabels)
}
