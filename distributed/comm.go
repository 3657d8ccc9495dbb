package distributed

import (
	"errors"
	"fmt"
	"time"
)

// Comm is a communicator: the ranks 0 … Size()-1 of a data-parallel run,
// each a process (or, with NewGroup, a goroutine) training a replica of
// the same model.
//
// Every method but Rank, Size and Close is a collective: every rank must
// call it, in the same order as the other ranks, with buffers of the same
// length. A Comm checks this (a rank calling another collective, or the
// same one with another length, gets an error naming both) and gives up
// after its timeout (a rank that died or stopped), so a broken run ends
// with an error instead of a hang. After an error the Comm is broken:
// every later collective returns the same error, and the process should
// exit (under mpirun, with a non-zero status, which ends the other
// ranks).
//
// Methods may be called from any goroutine, but not concurrently: a
// collective's order must be the same on every rank.
type Comm interface {
	// Rank is this process's rank, from 0.
	Rank() int
	// Size is the number of ranks.
	Size() int
	// AllReduceSum replaces buf by the element-wise sum of every rank's
	// buf. The result is the same on every rank.
	AllReduceSum(buf []float32) error
	// AllReduceSum64 is AllReduceSum for float64 buffers (statistics
	// accumulated in float64, losses).
	AllReduceSum64(buf []float64) error
	// AllGather fills recv, of length Size()*len(send), with every rank's
	// send in rank order.
	AllGather(send, recv []float32) error
	// Broadcast copies root's buf into every rank's buf.
	Broadcast(buf []float32, root int) error
	// Barrier returns once every rank has called it.
	Barrier() error
	// Close releases the communicator (MPI_Finalize for MPI). It is not a
	// collective for a broken Comm, which it leaves without waiting for
	// the other ranks.
	Close() error
}

// DefaultTimeout is how long a collective waits for the other ranks when
// the Comm was given no timeout. It bounds the time a rank waits for
// rank 0's evaluation and checkpoint, so it is generous; a dead rank is
// usually noticed sooner, by the launcher (mpirun ends every rank when
// one exits with an error or a signal).
const DefaultTimeout = 10 * time.Minute

// ErrTimeout is wrapped by the error of a collective that timed out.
var ErrTimeout = errors.New("distributed: timed out waiting for the other ranks (one died, stopped or called another collective)")

// ErrClosed is returned by the collectives of a closed Comm.
var ErrClosed = errors.New("distributed: communicator closed")

// op names a collective in the consistency check.
type op int

const (
	opAllReduce op = iota + 1
	opAllReduce64
	opAllGather
	opBroadcast
	opBarrier
)

func (o op) String() string {
	switch o {
	case opAllReduce:
		return "AllReduceSum"
	case opAllReduce64:
		return "AllReduceSum64"
	case opAllGather:
		return "AllGather"
	case opBroadcast:
		return "Broadcast"
	case opBarrier:
		return "Barrier"
	}
	return fmt.Sprintf("op(%d)", int(o))
}

// call is one rank's view of a collective: its kind, length and root,
// which must agree on every rank.
type call struct {
	op   op
	n    int
	root int
}

func (c call) String() string {
	switch c.op {
	case opBarrier:
		return "Barrier"
	case opBroadcast:
		return fmt.Sprintf("Broadcast of %d values from rank %d", c.n, c.root)
	}
	return fmt.Sprintf("%v of %d values", c.op, c.n)
}

// mismatch is the error of a collective whose calls disagree.
func mismatch(rank int, mine call, other string) error {
	return fmt.Errorf("distributed: rank %d called %v while %s: the ranks must call the same collectives in the same order with the same lengths", rank, mine, other)
}

// Local is the communicator of a single-process run: rank 0 of 1. Its
// collectives return at once (AllReduceSum leaves buf as it is, AllGather
// copies send to recv). It is the default of every package that takes a
// Comm.
type Local struct{}

// Rank implements Comm: 0.
func (Local) Rank() int { return 0 }

// Size implements Comm: 1.
func (Local) Size() int { return 1 }

// AllReduceSum implements Comm: buf is already the sum.
func (Local) AllReduceSum([]float32) error { return nil }

// AllReduceSum64 implements Comm.
func (Local) AllReduceSum64([]float64) error { return nil }

// AllGather implements Comm: it copies send into recv.
func (Local) AllGather(send, recv []float32) error {
	if len(recv) != len(send) {
		return fmt.Errorf("distributed: AllGather of %d values into %d, want %d", len(send), len(recv), len(send))
	}
	copy(recv, send)
	return nil
}

// Broadcast implements Comm.
func (Local) Broadcast(_ []float32, root int) error {
	if root != 0 {
		return fmt.Errorf("distributed: Broadcast from rank %d of 1", root)
	}
	return nil
}

// Barrier implements Comm.
func (Local) Barrier() error { return nil }

// Close implements Comm.
func (Local) Close() error { return nil }

// Distributed reports whether c has more than one rank (false for nil).
func Distributed(c Comm) bool { return c != nil && c.Size() > 1 }

// Or returns c, or Local for nil.
func Or(c Comm) Comm {
	if c == nil {
		return Local{}
	}
	return c
}
