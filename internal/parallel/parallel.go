// Package parallel runs index ranges over a fixed pool of goroutines.
//
// Work is split into chunks whose boundaries depend only on n and the
// requested grain, never on the number of goroutines, so a kernel that writes
// disjoint outputs per index, or reduces per chunk and then combines chunks in
// chunk order, gives bit-identical results for any GOMAXPROCS.
package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Workers is the number of goroutines For uses; it defaults to GOMAXPROCS at
// start-up. Tests set it to check that results do not depend on it.
var Workers = runtime.GOMAXPROCS(0)

// For calls fn(lo, hi) for consecutive chunks [lo, hi) covering [0, n), each
// at most grain long (grain < 1 means 1), running up to Workers chunks at
// once. It returns when all calls have returned.
func For(n, grain int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	if grain < 1 {
		grain = 1
	}
	chunks := (n + grain - 1) / grain
	w := Workers
	if w > chunks {
		w = chunks
	}
	if w <= 1 {
		for lo := 0; lo < n; lo += grain {
			fn(lo, min(lo+grain, n))
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	wg.Add(w)
	for range w {
		go func() {
			defer wg.Done()
			for {
				c := int(next.Add(1)) - 1
				if c >= chunks {
					return
				}
				lo := c * grain
				fn(lo, min(lo+grain, n))
			}
		}()
	}
	wg.Wait()
}

// Chunks returns how many chunks For(n, grain, …) makes: the size a caller
// needs for per-chunk partial results combined afterwards in chunk order.
func Chunks(n, grain int) int {
	if n <= 0 {
		return 0
	}
	if grain < 1 {
		grain = 1
	}
	return (n + grain - 1) / grain
}

// Grain returns a chunk length that splits n items into about DefaultChunks
// chunks of at least minItems items each. It depends only on n and
// minItems, never on Workers, so chunk boundaries (and any per-chunk
// partial sums) are the same on every machine.
func Grain(n, minItems int) int {
	g := (n + DefaultChunks - 1) / DefaultChunks
	if g < minItems {
		g = minItems
	}
	if g < 1 {
		g = 1
	}
	return g
}

// DefaultChunks is the number of chunks Grain aims for. It is a constant so
// chunk boundaries never depend on the machine.
const DefaultChunks = 16
