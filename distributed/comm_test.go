package distributed

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// checkCollectives checks every collective of c against the values every
// rank contributes (rank r's element i is r*100 + i + 0.5).
func checkCollectives(c Comm) error {
	r, n := c.Rank(), c.Size()
	val := func(r, i int) float32 { return float32(r*100+i) + 0.5 }
	for _, size := range []int{1, 7, 1000} {
		buf := make([]float32, size)
		buf64 := make([]float64, size)
		for i := range buf {
			buf[i], buf64[i] = val(r, i), float64(val(r, i))/3
		}
		if err := c.AllReduceSum(buf); err != nil {
			return err
		}
		if err := c.AllReduceSum64(buf64); err != nil {
			return err
		}
		for i := range buf {
			var want float32
			var want64 float64
			for q := range n {
				want += val(q, i)
				want64 += float64(val(q, i)) / 3
			}
			if buf[i] != want || abs(buf64[i]-want64) > 1e-12*abs(want64) {
				return fmt.Errorf("rank %d: AllReduceSum[%d] of %d: %v, %v; want %v, %v", r, i, size, buf[i], buf64[i], want, want64)
			}
		}
		send := make([]float32, size)
		for i := range send {
			send[i] = val(r, i)
		}
		recv := make([]float32, n*size)
		if err := c.AllGather(send, recv); err != nil {
			return err
		}
		for q := range n {
			for i := range size {
				if recv[q*size+i] != val(q, i) {
					return fmt.Errorf("rank %d: AllGather: rank %d's element %d is %v, want %v", r, q, i, recv[q*size+i], val(q, i))
				}
			}
		}
		root := n - 1
		if err := c.Broadcast(send, root); err != nil {
			return err
		}
		for i := range send {
			if send[i] != val(root, i) {
				return fmt.Errorf("rank %d: Broadcast: element %d is %v, want %v", r, i, send[i], val(root, i))
			}
		}
		if err := c.Barrier(); err != nil {
			return err
		}
	}
	return nil
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// onRanks runs f on every rank of an in-process group and returns the
// ranks' errors.
func onRanks(comms []Comm, f func(c Comm) error) []error {
	errs := make([]error, len(comms))
	var wg sync.WaitGroup
	for i, c := range comms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(c)
		}()
	}
	wg.Wait()
	return errs
}

func TestLocal(t *testing.T) {
	if err := checkCollectives(Local{}); err != nil {
		t.Fatal(err)
	}
}

func TestGroupCollectives(t *testing.T) {
	for _, n := range []int{1, 2, 3} {
		comms := NewGroup(n, time.Minute)
		for r, err := range onRanks(comms, checkCollectives) {
			if err != nil {
				t.Fatalf("%d ranks, rank %d: %v", n, r, err)
			}
		}
		for _, c := range comms {
			c.Close()
		}
	}
}

func TestGroupMismatch(t *testing.T) {
	comms := NewGroup(2, time.Minute)
	errs := onRanks(comms, func(c Comm) error {
		if c.Rank() == 0 {
			return c.AllReduceSum(make([]float32, 3))
		}
		return c.AllGather(make([]float32, 3), make([]float32, 6))
	})
	for r, err := range errs {
		if err == nil || !strings.Contains(err.Error(), "same collectives") {
			t.Fatalf("rank %d: %v, want a mismatch error", r, err)
		}
	}
	if err := comms[0].Barrier(); err == nil {
		t.Fatal("a broken group's Barrier succeeded")
	}
}

func TestGroupTimeout(t *testing.T) {
	comms := NewGroup(2, 200*time.Millisecond)
	start := time.Now()
	// Rank 1 never calls (it died): rank 0 gives up after the timeout.
	err := comms[0].AllReduceSum(make([]float32, 4))
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("got %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d < 200*time.Millisecond || d > 5*time.Second {
		t.Fatalf("timed out after %v", d)
	}
	// The surviving rank's later calls fail at once.
	if err := comms[1].Barrier(); !errors.Is(err, ErrTimeout) {
		t.Fatalf("rank 1 after the timeout: %v", err)
	}
}
