package train

import (
	"fmt"
	"hash/fnv"
	"sort"

	"gorgonia.org/tensor"

	"github.com/disiam/disiam/distributed"
	"github.com/disiam/disiam/eval"
	"github.com/disiam/disiam/nn"
)

// parallel is the data-parallel side of a run: nil-safe helpers that do
// nothing for a single process.
type parallel struct {
	comm distributed.Comm
	sync bool // SyncBatchNorm
	buf  []float32
}

func newParallel(c Config) *parallel {
	if !distributed.Distributed(c.Comm) {
		return nil
	}
	return &parallel{comm: c.Comm, sync: c.SyncBatchNorm}
}

func (p *parallel) size() int {
	if p == nil {
		return 1
	}
	return p.comm.Size()
}

func (p *parallel) rank() int {
	if p == nil {
		return 0
	}
	return p.comm.Rank()
}

// lead reports whether this rank evaluates, logs and writes files.
func (p *parallel) lead() bool { return p.rank() == 0 }

// replica is the nn.Replica of this rank's graphs for micro-batches of
// micro samples.
func (p *parallel) replica(micro int) nn.Replica {
	if p == nil {
		return nn.Replica{}
	}
	r := nn.Replica{Offset: p.rank() * micro}
	if p.sync {
		r.SyncBatchNorm = p.comm
	}
	return r
}

// checkIdentity fails on every rank unless all ranks have the same run
// identity (the same flags and data): it gathers a hash of each.
func (p *parallel) checkIdentity(id map[string]string) error {
	if p == nil {
		return nil
	}
	keys := make([]string, 0, len(id))
	for k := range id {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := fnv.New32a()
	for _, k := range keys {
		fmt.Fprintf(h, "%q=%q;", k, id[k])
	}
	sum := h.Sum32()
	// Two 16-bit halves, exact in float32.
	mine := []float32{float32(sum >> 16), float32(sum & 0xffff)}
	all := make([]float32, 2*p.size())
	if err := p.comm.AllGather(mine, all); err != nil {
		return fmt.Errorf("train: comparing the ranks' settings: %w", err)
	}
	for q := range p.size() {
		if all[2*q] != mine[0] || all[2*q+1] != mine[1] {
			return fmt.Errorf("train: rank %d runs with other settings than rank %d (a different run identity: flags, data or model); every rank must run the same command", q, p.rank())
		}
	}
	return nil
}

// broadcast copies rank 0's float32 parameters and buffers of every
// stage into the other ranks, so that the replicas start equal whatever
// their initialization.
func (p *parallel) broadcast(stages []Stage) error {
	if p == nil {
		return nil
	}
	var params []*nn.Param
	seen := map[*nn.Param]bool{}
	for _, s := range stages {
		for _, q := range s.Parts.Params() {
			if !seen[q] && q.Value.Dtype() == tensor.Float32 {
				seen[q] = true
				params = append(params, q)
			}
		}
	}
	buf := p.flat(params, func(q *nn.Param) []float32 { return q.Data() })
	if err := p.comm.Broadcast(buf, 0); err != nil {
		return fmt.Errorf("train: broadcasting rank 0's weights: %w", err)
	}
	p.unflat(params, buf, func(q *nn.Param) []float32 { return q.Data() }, 1)
	return nil
}

// averageGradients replaces every trainable parameter's gradient by its
// mean over the ranks: one AllReduceSum of all gradients flattened into
// one buffer. Parameters without a gradient (none on every rank: the
// graphs are the same) are skipped.
func (p *parallel) averageGradients(params []*nn.Param) error {
	if p == nil {
		return nil
	}
	var ps []*nn.Param
	for _, q := range params {
		if q.Grad != nil {
			ps = append(ps, q)
		}
	}
	grad := func(q *nn.Param) []float32 { return q.Grad.Data().([]float32) }
	buf := p.flat(ps, grad)
	if err := p.comm.AllReduceSum(buf); err != nil {
		return fmt.Errorf("train: averaging the gradients: %w", err)
	}
	p.unflat(ps, buf, grad, 1/float32(p.size()))
	return nil
}

// flat copies the parameters' slices into p's buffer.
func (p *parallel) flat(ps []*nn.Param, data func(*nn.Param) []float32) []float32 {
	n := 0
	for _, q := range ps {
		n += len(data(q))
	}
	if cap(p.buf) < n {
		p.buf = make([]float32, n)
	}
	buf := p.buf[:n]
	off := 0
	for _, q := range ps {
		off += copy(buf[off:], data(q))
	}
	return buf
}

// unflat copies buf, times scale, back into the parameters' slices.
func (p *parallel) unflat(ps []*nn.Param, buf []float32, data func(*nn.Param) []float32, scale float32) {
	off := 0
	for _, q := range ps {
		d := data(q)
		src := buf[off : off+len(d)]
		if scale == 1 {
			copy(d, src)
		} else {
			for i, v := range src {
				d[i] = v * scale
			}
		}
		off += len(d)
	}
}

// meanLoss returns the mean over the ranks of a step's loss (a non-finite
// loss on any rank makes it non-finite on every rank, so all stop
// together).
func (p *parallel) meanLoss(loss float64) (float64, error) {
	if p == nil {
		return loss, nil
	}
	b := []float64{loss}
	if err := p.comm.AllReduceSum64(b); err != nil {
		return 0, fmt.Errorf("train: averaging the loss: %w", err)
	}
	return b[0] / float64(p.size()), nil
}

// meanMetrics averages observed values over the ranks, in place.
func (p *parallel) meanMetrics(ms eval.Metrics) error {
	if p == nil || len(ms) == 0 {
		return nil
	}
	b := make([]float64, len(ms))
	for i, m := range ms {
		b[i] = m.Value
	}
	if err := p.comm.AllReduceSum64(b); err != nil {
		return fmt.Errorf("train: averaging the observed values: %w", err)
	}
	for i := range ms {
		ms[i].Value = b[i] / float64(p.size())
	}
	return nil
}

// agree returns rank 0's decision on every rank.
func (p *parallel) agree(decision bool) (bool, error) {
	if p == nil {
		return decision, nil
	}
	b := []float32{0}
	if decision {
		b[0] = 1
	}
	if err := p.comm.Broadcast(b, 0); err != nil {
		return false, fmt.Errorf("train: %w", err)
	}
	return b[0] == 1, nil
}

// wait is where the other ranks wait for rank 0's evaluation.
func (p *parallel) wait(what string) error {
	if p == nil {
		return nil
	}
	if err := p.comm.Barrier(); err != nil {
		return fmt.Errorf("train: waiting for rank 0's %s: %w", what, err)
	}
	return nil
}
