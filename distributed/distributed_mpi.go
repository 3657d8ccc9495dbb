//go:build mpi

package distributed

/*
#cgo pkg-config: ompi
#include <mpi.h>
#include <sched.h>
#include <time.h>

// dsm_wait tests req until it completes, an MPI call fails or timeout
// seconds pass (*timed_out = 1). Open MPI progresses non-blocking
// collectives inside MPI calls, so it polls without pause for the first
// second (a gradient exchange: a ResNet-18 gradient of 76 MB takes
// 0.1-1 s over shared memory), yielding the CPU between polls, then every
// millisecond (a rank waiting for rank 0's evaluation).
static int dsm_wait(MPI_Request *req, double timeout, int *timed_out) {
	double start = MPI_Wtime();
	struct timespec ts = {0, 0};
	*timed_out = 0;
	for (;;) {
		int flag = 0;
		int rc = MPI_Test(req, &flag, MPI_STATUS_IGNORE);
		if (rc != MPI_SUCCESS) return rc;
		if (flag) return MPI_SUCCESS;
		double el = MPI_Wtime() - start;
		if (el > timeout) {
			*timed_out = 1;
			return MPI_SUCCESS;
		}
		if (el < 1.0) {
			sched_yield();
			continue;
		}
		ts.tv_nsec = 1000000;
		nanosleep(&ts, NULL);
	}
}

static int dsm_init(MPI_Comm *comm, int *rank, int *size, int *provided) {
	int inited = 0;
	MPI_Initialized(&inited);
	if (!inited) {
		int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, provided);
		if (rc != MPI_SUCCESS) return rc;
	}
	// Errors return codes instead of aborting the job, on the world and
	// on our duplicate.
	MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
	int rc = MPI_Comm_dup(MPI_COMM_WORLD, comm);
	if (rc != MPI_SUCCESS) return rc;
	MPI_Comm_set_errhandler(*comm, MPI_ERRORS_RETURN);
	MPI_Comm_rank(*comm, rank);
	return MPI_Comm_size(*comm, size);
}

// dsm_check all-reduces the call's description with MAX over
// {v, -v}: afterwards mx[i] and -mx[n+i] are the largest and smallest
// value of field i over the ranks.
static int dsm_check(MPI_Comm comm, long long *v, int n, double timeout, int *timed_out) {
	MPI_Request req;
	int rc = MPI_Iallreduce(MPI_IN_PLACE, v, 2*n, MPI_LONG_LONG, MPI_MAX, comm, &req);
	if (rc != MPI_SUCCESS) return rc;
	return dsm_wait(&req, timeout, timed_out);
}

static int dsm_allreduce(MPI_Comm comm, void *buf, int n, int f64, double timeout, int *timed_out) {
	MPI_Request req;
	int rc = MPI_Iallreduce(MPI_IN_PLACE, buf, n, f64 ? MPI_DOUBLE : MPI_FLOAT, MPI_SUM, comm, &req);
	if (rc != MPI_SUCCESS) return rc;
	return dsm_wait(&req, timeout, timed_out);
}

static int dsm_allgather(MPI_Comm comm, void *send, void *recv, int n, double timeout, int *timed_out) {
	MPI_Request req;
	int rc = MPI_Iallgather(send, n, MPI_FLOAT, recv, n, MPI_FLOAT, comm, &req);
	if (rc != MPI_SUCCESS) return rc;
	return dsm_wait(&req, timeout, timed_out);
}

static int dsm_bcast(MPI_Comm comm, void *buf, int n, int root, double timeout, int *timed_out) {
	MPI_Request req;
	int rc = MPI_Ibcast(buf, n, MPI_FLOAT, root, comm, &req);
	if (rc != MPI_SUCCESS) return rc;
	return dsm_wait(&req, timeout, timed_out);
}

static void dsm_error_string(int rc, char *buf, int *len) { MPI_Error_string(rc, buf, len); }
static int dsm_finalize(MPI_Comm *comm) { MPI_Comm_free(comm); return MPI_Finalize(); }
*/
import "C"

import (
	"fmt"
	"math"
	"runtime"
	"time"
	"unsafe"
)

// MPIAvailable reports whether this build can open an MPI communicator
// (it was built with -tags mpi).
const MPIAvailable = true

// mpiComm is a communicator over MPI_COMM_WORLD (a duplicate of it, with
// MPI_ERRORS_RETURN). One goroutine, locked to its OS thread, makes every
// MPI call (MPI_THREAD_FUNNELED); the methods hand it their work.
type mpiComm struct {
	rank, size int
	timeout    time.Duration
	work       chan func()
	comm       C.MPI_Comm
	err        error // set once a collective failed
	// dead is set when a collective timed out or MPI failed: the ranks
	// are out of step, and finalizing could wait for ever. (A mismatch
	// found by the check leaves them in step: every rank saw it.)
	dead   bool
	closed bool
	// pinned keeps the buffers of collectives that timed out pinned (MPI
	// may still write to them).
	pinned []*runtime.Pinner
}

// openMPI initializes MPI on a dedicated, locked thread.
func openMPI(timeout time.Duration) (Comm, error) {
	c := &mpiComm{timeout: timeout, work: make(chan func())}
	started := make(chan error)
	go func() {
		runtime.LockOSThread() // for ever: MPI was initialized on this thread
		var rank, size, provided C.int
		if rc := C.dsm_init(&c.comm, &rank, &size, &provided); rc != C.MPI_SUCCESS {
			started <- fmt.Errorf("distributed: MPI_Init_thread: %s", mpiError(rc))
			return
		}
		c.rank, c.size = int(rank), int(size)
		started <- nil
		for f := range c.work {
			f()
		}
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return c, nil
}

func mpiError(rc C.int) string {
	var buf [C.MPI_MAX_ERROR_STRING + 1]C.char
	var n C.int
	C.dsm_error_string(rc, &buf[0], &n)
	return fmt.Sprintf("%s (MPI error %d)", C.GoStringN(&buf[0], n), int(rc))
}

// run runs f on the MPI thread.
func (c *mpiComm) run(f func()) {
	done := make(chan struct{})
	c.work <- func() { f(); close(done) }
	<-done
}

func (c *mpiComm) Rank() int { return c.rank }
func (c *mpiComm) Size() int { return c.size }

// collective checks that every rank makes the same call, then runs f
// (which starts and waits for the MPI operation) with buf pinned.
func (c *mpiComm) collective(cl call, buf unsafe.Pointer, extra unsafe.Pointer, f func(timeout C.double, timedOut *C.int) C.int) error {
	if c.closed {
		return ErrClosed
	}
	if c.err != nil {
		return c.err
	}
	if cl.n > math.MaxInt32 {
		return fmt.Errorf("distributed: %v: more than %d values", cl, math.MaxInt32)
	}
	var err error
	dead := true
	c.run(func() {
		timeout := C.double(c.timeout.Seconds())
		var timedOut C.int
		desc := [6]C.longlong{C.longlong(cl.op), C.longlong(cl.n), C.longlong(cl.root)}
		for i := range 3 {
			desc[3+i] = -desc[i]
		}
		if rc := C.dsm_check(c.comm, &desc[0], 3, timeout, &timedOut); rc != C.MPI_SUCCESS {
			err = fmt.Errorf("distributed: rank %d: %v: %s", c.rank, cl, mpiError(rc))
			return
		}
		if timedOut != 0 {
			err = fmt.Errorf("%w: rank %d waited %v in %v", ErrTimeout, c.rank, c.timeout, cl)
			return
		}
		if desc[0] != -desc[3] || desc[1] != -desc[4] || desc[2] != -desc[5] {
			dead = false
			err = mismatch(c.rank, cl, fmt.Sprintf("other ranks' calls range over %v..%v with %d..%d values (root %d..%d)",
				op(-desc[3]), op(desc[0]), -desc[4], desc[1], -desc[5], desc[2]))
			return
		}
		if f == nil {
			return
		}
		var p runtime.Pinner
		if buf != nil {
			p.Pin(buf)
		}
		if extra != nil {
			p.Pin(extra)
		}
		rc := f(timeout, &timedOut)
		switch {
		case rc != C.MPI_SUCCESS:
			err = fmt.Errorf("distributed: rank %d: %v: %s", c.rank, cl, mpiError(rc))
		case timedOut != 0:
			c.pinned = append(c.pinned, &p) // MPI may still use the buffers
			err = fmt.Errorf("%w: rank %d waited %v in %v", ErrTimeout, c.rank, c.timeout, cl)
			return
		}
		p.Unpin()
	})
	if err != nil {
		c.err, c.dead = err, dead
	}
	return err
}

func ptr[T any](s []T) unsafe.Pointer {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Pointer(&s[0])
}

func (c *mpiComm) AllReduceSum(buf []float32) error {
	p := ptr(buf)
	return c.collective(call{op: opAllReduce, n: len(buf)}, p, nil, func(t C.double, to *C.int) C.int {
		if p == nil {
			return C.MPI_SUCCESS
		}
		return C.dsm_allreduce(c.comm, p, C.int(len(buf)), 0, t, to)
	})
}

func (c *mpiComm) AllReduceSum64(buf []float64) error {
	p := ptr(buf)
	return c.collective(call{op: opAllReduce64, n: len(buf)}, p, nil, func(t C.double, to *C.int) C.int {
		if p == nil {
			return C.MPI_SUCCESS
		}
		return C.dsm_allreduce(c.comm, p, C.int(len(buf)), 1, t, to)
	})
}

func (c *mpiComm) AllGather(send, recv []float32) error {
	if len(recv) != c.size*len(send) {
		return fmt.Errorf("distributed: AllGather of %d values into %d, want %d", len(send), len(recv), c.size*len(send))
	}
	s, r := ptr(send), ptr(recv)
	return c.collective(call{op: opAllGather, n: len(send)}, s, r, func(t C.double, to *C.int) C.int {
		if s == nil {
			return C.MPI_SUCCESS
		}
		return C.dsm_allgather(c.comm, s, r, C.int(len(send)), t, to)
	})
}

func (c *mpiComm) Broadcast(buf []float32, root int) error {
	if root < 0 || root >= c.size {
		return fmt.Errorf("distributed: Broadcast from rank %d of %d", root, c.size)
	}
	p := ptr(buf)
	return c.collective(call{op: opBroadcast, n: len(buf), root: root}, p, nil, func(t C.double, to *C.int) C.int {
		if p == nil {
			return C.MPI_SUCCESS
		}
		return C.dsm_bcast(c.comm, p, C.int(len(buf)), C.int(root), t, to)
	})
}

// Barrier implements Comm: the all-reduce that checks the calls is the
// barrier.
func (c *mpiComm) Barrier() error {
	return c.collective(call{op: opBarrier}, nil, nil, nil)
}

// Close implements Comm: MPI_Finalize after a barrier, unless a collective
// timed out or MPI failed, in which case it returns at once without finalizing (the other
// ranks may be gone, and finalizing would wait for them): exit the
// process with a non-zero status, and the launcher ends the others.
func (c *mpiComm) Close() error {
	if c.closed {
		return nil
	}
	if c.dead {
		c.closed = true
		return nil
	}
	c.err = nil // after a mismatch every rank is in step and closes
	err := c.Barrier()
	c.closed = true
	if err != nil {
		return err
	}
	var rc C.int
	c.run(func() { rc = C.dsm_finalize(&c.comm) })
	close(c.work)
	if rc != C.MPI_SUCCESS {
		return fmt.Errorf("distributed: MPI_Finalize: %s", mpiError(rc))
	}
	return nil
}
