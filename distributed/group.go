package distributed

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// NewGroup returns the n ranks of an in-process communicator: each Comm is
// meant for one goroutine running one replica, as the processes of an MPI
// run would. It runs the data-parallel code paths without MPI (tests, and
// the equivalence of n replicas with one process on one machine), with the
// same checks as the MPI communicator: calls that disagree between ranks
// fail on every rank, a collective that waits longer than timeout (0:
// DefaultTimeout) fails with ErrTimeout, and once one rank has failed,
// every rank's collectives fail at once with that error.
//
// Sums are taken in rank order, so the results are deterministic and the
// same on every rank.
func NewGroup(n int, timeout time.Duration) []Comm {
	if n < 1 {
		panic(fmt.Sprintf("distributed: NewGroup(%d)", n))
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	g := &group{n: n, timeout: timeout, reqs: make(chan request), broken: make(chan struct{})}
	go g.loop()
	out := make([]Comm, n)
	for r := range out {
		out[r] = &groupComm{g: g, rank: r}
	}
	return out
}

type group struct {
	n       int
	timeout time.Duration
	reqs    chan request
	broken  chan struct{} // closed with err set once a collective failed
	once    sync.Once
	err     error
	closed  atomic.Int32
}

// request is one rank's part of a collective; data is a private copy of
// its input.
type request struct {
	rank  int
	c     call
	f32   []float32
	f64   []float64
	reply chan reply
}

type reply struct {
	f32 []float32
	f64 []float64
}

// fail breaks the group with err (the first error wins) and returns the
// group's error.
func (g *group) fail(err error) error {
	g.once.Do(func() {
		g.err = err
		close(g.broken)
	})
	return g.err
}

// loop collects the ranks' requests and answers each complete round.
func (g *group) loop() {
	pending := make([]*request, g.n)
	count := 0
	for {
		select {
		case <-g.broken:
			return
		case r := <-g.reqs:
			pending[r.rank] = &r
			count++
			if count < g.n {
				continue
			}
			count = 0
			for _, p := range pending {
				if p.c != pending[0].c {
					g.fail(fmt.Errorf("distributed: rank %d called %v while rank %d called %v: the ranks must call the same collectives in the same order with the same lengths",
						p.rank, p.c, pending[0].rank, pending[0].c))
					return
				}
			}
			rep := g.compute(pending)
			for i, p := range pending {
				p.reply <- rep
				pending[i] = nil
			}
		}
	}
}

// compute returns the result of a complete round, shared read-only by the
// ranks.
func (g *group) compute(ps []*request) reply {
	c := ps[0].c
	switch c.op {
	case opAllReduce:
		out := make([]float32, c.n)
		copy(out, ps[0].f32)
		for _, p := range ps[1:] {
			for i, v := range p.f32 {
				out[i] += v
			}
		}
		return reply{f32: out}
	case opAllReduce64:
		out := make([]float64, c.n)
		copy(out, ps[0].f64)
		for _, p := range ps[1:] {
			for i, v := range p.f64 {
				out[i] += v
			}
		}
		return reply{f64: out}
	case opAllGather:
		out := make([]float32, 0, c.n*len(ps))
		for _, p := range ps {
			out = append(out, p.f32...)
		}
		return reply{f32: out}
	case opBroadcast:
		return reply{f32: ps[c.root].f32}
	}
	return reply{}
}

// groupComm is one rank of a group.
type groupComm struct {
	g      *group
	rank   int
	closed bool
}

func (c *groupComm) Rank() int { return c.rank }
func (c *groupComm) Size() int { return c.g.n }

func (c *groupComm) do(cl call, f32 []float32, f64 []float64) (reply, error) {
	g := c.g
	if c.closed {
		return reply{}, ErrClosed
	}
	select {
	case <-g.broken:
		return reply{}, g.err
	default:
	}
	req := request{rank: c.rank, c: cl, f32: append([]float32(nil), f32...), f64: append([]float64(nil), f64...), reply: make(chan reply, 1)}
	timer := time.NewTimer(g.timeout)
	defer timer.Stop()
	timeout := func() error {
		return g.fail(fmt.Errorf("%w: rank %d waited %v in %v", ErrTimeout, c.rank, g.timeout, cl))
	}
	select {
	case g.reqs <- req:
	case <-g.broken:
		return reply{}, g.err
	case <-timer.C:
		return reply{}, timeout()
	}
	select {
	case rep := <-req.reply:
		return rep, nil
	case <-g.broken:
		return reply{}, g.err
	case <-timer.C:
		return reply{}, timeout()
	}
}

func (c *groupComm) AllReduceSum(buf []float32) error {
	rep, err := c.do(call{op: opAllReduce, n: len(buf)}, buf, nil)
	if err == nil {
		copy(buf, rep.f32)
	}
	return err
}

func (c *groupComm) AllReduceSum64(buf []float64) error {
	rep, err := c.do(call{op: opAllReduce64, n: len(buf)}, nil, buf)
	if err == nil {
		copy(buf, rep.f64)
	}
	return err
}

func (c *groupComm) AllGather(send, recv []float32) error {
	if len(recv) != c.g.n*len(send) {
		return fmt.Errorf("distributed: AllGather of %d values into %d, want %d", len(send), len(recv), c.g.n*len(send))
	}
	rep, err := c.do(call{op: opAllGather, n: len(send)}, send, nil)
	if err == nil {
		copy(recv, rep.f32)
	}
	return err
}

func (c *groupComm) Broadcast(buf []float32, root int) error {
	if root < 0 || root >= c.g.n {
		return fmt.Errorf("distributed: Broadcast from rank %d of %d", root, c.g.n)
	}
	rep, err := c.do(call{op: opBroadcast, n: len(buf), root: root}, buf, nil)
	if err == nil {
		copy(buf, rep.f32)
	}
	return err
}

func (c *groupComm) Barrier() error {
	_, err := c.do(call{op: opBarrier}, nil, nil)
	return err
}

// Close implements Comm. When every rank has closed, the group's
// goroutine ends.
func (c *groupComm) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	if int(c.g.closed.Add(1)) == c.g.n {
		c.g.fail(ErrClosed)
	}
	return nil
}
