package knn

import "math"

// topK keeps the k best of the similarities offered to it, with their bank
// indices. "Better" means a larger similarity, and among equal
// similarities a lower index, so the result is a deterministic function of
// the similarities, independent of how the bank is split into blocks.
//
// Candidates are offered in increasing index order. Those above a
// threshold are appended to a buffer of about 2k entries; when it is full,
// a quickselect keeps the k best and the threshold becomes the k-th best
// similarity. A later candidate equal to the threshold has a larger index
// than the k-th best and so ranks below it: only strictly larger
// similarities enter. This costs O(1) per accepted candidate, against
// O(log k) for a heap, and the scan itself is one comparison per bank row.
type topK struct {
	k, n int
	thr  float32
	sim  []float32
	idx  []int32
}

func newTopK(k int) topK {
	c := max(2*k, k+64)
	h := topK{k: k, sim: make([]float32, c), idx: make([]int32, c)}
	h.reset()
	return h
}

func (h *topK) reset() { h.n, h.thr = 0, float32(math.Inf(-1)) }

// pushAll offers s[j] with index off+j for every j, in increasing j. The
// indices must be larger than any offered since the last reset, and the
// similarities finite.
func (h *topK) pushAll(s []float32, off int32) {
	for j := 0; ; j++ {
		j += scanGT(s[j:], h.thr)
		if j >= len(s) {
			return
		}
		h.sim[h.n], h.idx[h.n] = s[j], off+int32(j)
		h.n++
		if h.n == len(h.sim) {
			h.compact()
		}
	}
}

// compact keeps the k best buffered entries and raises the threshold to
// the k-th best similarity.
func (h *topK) compact() {
	h.selectBest(h.k)
	h.n = h.k
	h.thr = h.sim[h.k-1]
}

// better reports whether entry i ranks above entry j.
func (h *topK) better(i, j int) bool {
	return h.sim[i] > h.sim[j] || (h.sim[i] == h.sim[j] && h.idx[i] < h.idx[j])
}

func (h *topK) swap(i, j int) {
	h.sim[i], h.sim[j] = h.sim[j], h.sim[i]
	h.idx[i], h.idx[j] = h.idx[j], h.idx[i]
}

// selectBest rearranges the first n entries so that the first k are the k
// best, with the k-th best at position k-1 (a quickselect; indices are
// distinct, so every pair of entries is strictly ordered).
func (h *topK) selectBest(k int) {
	lo, hi, target := 0, h.n-1, k-1
	for lo < hi {
		mid := lo + (hi-lo)/2
		if h.better(mid, lo) {
			h.swap(mid, lo)
		}
		if h.better(hi, lo) {
			h.swap(hi, lo)
		}
		if h.better(hi, mid) {
			h.swap(hi, mid)
		}
		ps, pi := h.sim[mid], h.idx[mid]
		i, j := lo, hi
		for i <= j {
			for h.sim[i] > ps || (h.sim[i] == ps && h.idx[i] < pi) {
				i++
			}
			for ps > h.sim[j] || (ps == h.sim[j] && pi < h.idx[j]) {
				j--
			}
			if i <= j {
				h.swap(i, j)
				i++
				j--
			}
		}
		// Now [lo, j] rank above or equal the pivot, [i, hi] below or equal.
		switch {
		case target <= j:
			hi = j
		case target >= i:
			lo = i
		default:
			return
		}
	}
}

// finish keeps the k best entries and, if sorted, sorts them best first.
func (h *topK) finish(sorted bool) {
	if h.n > h.k {
		h.selectBest(h.k)
		h.n = h.k
	}
	if !sorted {
		return
	}
	// Heap sort with the worst entry at the root of a heap, moved to the
	// end one at a time.
	for i := h.n/2 - 1; i >= 0; i-- {
		h.down(i, h.n)
	}
	for end := h.n - 1; end > 0; end-- {
		h.swap(0, end)
		h.down(0, end)
	}
}

// down restores the heap property (parent worse than children) below i in
// the first n entries.
func (h *topK) down(i, n int) {
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		c := l
		if r := l + 1; r < n && h.better(l, r) {
			c = r
		}
		if !h.better(i, c) {
			return
		}
		h.swap(i, c)
		i = c
	}
}

// refine reorders the sorted entries by the more exact similarities ex
// (ex[j] belongs to entry j), decreasing, equal values by increasing index,
// moving ex along. The float32 order is nearly right, so insertion sort
// takes about one pass.
func (h *topK) refine(ex []float64) {
	for j := 1; j < h.n; j++ {
		e, s, i := ex[j], h.sim[j], h.idx[j]
		p := j
		for p > 0 && (ex[p-1] < e || (ex[p-1] == e && h.idx[p-1] > i)) {
			ex[p], h.sim[p], h.idx[p] = ex[p-1], h.sim[p-1], h.idx[p-1]
			p--
		}
		ex[p], h.sim[p], h.idx[p] = e, s, i
	}
}
