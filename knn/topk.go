package knn

// topK keeps the k largest similarities offered to it, with their bank
// indices, in a binary min-heap ordered by eviction priority: the root is
// the smallest similarity, and among equal similarities the largest index.
// Offering candidates in increasing index order therefore keeps, among
// equal similarities, the lowest indices, a deterministic rule that does
// not depend on how the bank is split into blocks.
type topK struct {
	k, n int
	sim  []float32
	idx  []int32
}

func newTopK(k int) topK {
	return topK{k: k, sim: make([]float32, k), idx: make([]int32, k)}
}

func (h *topK) reset() { h.n = 0 }

// before reports whether entry i is evicted before entry j.
func (h *topK) before(i, j int) bool {
	return h.sim[i] < h.sim[j] || (h.sim[i] == h.sim[j] && h.idx[i] > h.idx[j])
}

func (h *topK) swap(i, j int) {
	h.sim[i], h.sim[j] = h.sim[j], h.sim[i]
	h.idx[i], h.idx[j] = h.idx[j], h.idx[i]
}

func (h *topK) up(j int) {
	for j > 0 {
		p := (j - 1) / 2
		if !h.before(j, p) {
			return
		}
		h.swap(j, p)
		j = p
	}
}

func (h *topK) down(i, n int) {
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		c := l
		if r := l + 1; r < n && h.before(r, l) {
			c = r
		}
		if !h.before(c, i) {
			return
		}
		h.swap(i, c)
		i = c
	}
}

// pushAll offers s[j] with index off+j for every j, in increasing j. The
// indices must be larger than any offered before since the last reset.
func (h *topK) pushAll(s []float32, off int32) {
	j := 0
	for ; j < len(s) && h.n < h.k; j++ {
		h.sim[h.n], h.idx[h.n] = s[j], off+int32(j)
		h.n++
		h.up(h.n - 1)
	}
	if h.n == 0 {
		return
	}
	// A later index ties with the root only to rank below it, so only a
	// strictly larger similarity enters.
	t := h.sim[0]
	for ; j < len(s); j++ {
		if v := s[j]; v > t {
			h.sim[0], h.idx[0] = v, off+int32(j)
			h.down(0, h.n)
			t = h.sim[0]
		}
	}
}

// sortDesc orders the kept entries by decreasing similarity, equal
// similarities by increasing index (a heap sort; it destroys the heap, so
// reset before the next pushAll).
func (h *topK) sortDesc() {
	for end := h.n - 1; end > 0; end-- {
		h.swap(0, end)
		h.down(0, end)
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
