package nn

import (
	"sync"

	"github.com/disiam/disiam/internal/linalg"
)

// scratch is a reusable buffer of the convolution kernels' pool.
type scratch[T linalg.Float] struct{ s []T }

// scratchPool holds the free buffers of all convolution kernels. A
// TapeMachine runs one kernel at a time, so a graph's kernels share a few
// buffers sized by the largest working set of one kernel instead of each
// keeping its own; several programs running at once simply take more.
// Buffers are never freed, and a request that finds none large enough
// grows the largest free one, so the pool holds at most as many buffers
// as were ever in use at once and stops allocating after a warm-up run.
var scratchPool struct {
	sync.Mutex
	free []any // *scratch[float32] and *scratch[float64]
}

// getScratch returns a buffer of n elements with undefined content. Give it
// back with putScratch.
func getScratch[T linalg.Float](n int) *scratch[T] {
	scratchPool.Lock()
	defer scratchPool.Unlock()
	fit, big := -1, -1 // smallest buffer that fits, largest one
	fitCap, bigCap := 0, -1
	for i, v := range scratchPool.free {
		b, ok := v.(*scratch[T])
		if !ok {
			continue
		}
		c := cap(b.s)
		if c >= n && (fit < 0 || c < fitCap) {
			fit, fitCap = i, c
		}
		if c > bigCap {
			big, bigCap = i, c
		}
	}
	if fit < 0 {
		fit = big
	}
	var b *scratch[T]
	if fit >= 0 {
		free := scratchPool.free
		b = free[fit].(*scratch[T])
		last := len(free) - 1
		free[fit] = free[last]
		free[last] = nil
		scratchPool.free = free[:last]
	} else {
		b = new(scratch[T])
	}
	if cap(b.s) < n {
		b.s = make([]T, n)
	}
	b.s = b.s[:n]
	return b
}

// putScratch returns b to the pool; nil is ignored.
func putScratch[T linalg.Float](b *scratch[T]) {
	if b == nil {
		return
	}
	scratchPool.Lock()
	scratchPool.free = append(scratchPool.free, b)
	scratchPool.Unlock()
}
