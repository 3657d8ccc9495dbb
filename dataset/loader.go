package dataset

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/disiam/disiam/augment"
)

// LoaderConfig configures a Loader. Only BatchSize is required.
type LoaderConfig struct {
	// BatchSize is the number of images per batch, B.
	BatchSize int
	// Views are the M per-view transforms: every image yields M views,
	// view j made by Views[j] (augment.MultiView(2, augment.SimSiamView(…))
	// for SimSiam). Empty means one view, the image as stored (with an
	// evaluation transform, pass it as the only view).
	Views augment.Views
	// Shuffle visits the images in a new random order every epoch, drawn
	// from (Seed, epoch); otherwise in dataset order.
	Shuffle bool
	// DropLast drops the last batch when it would be smaller than
	// BatchSize (the usual choice for training).
	DropLast bool
	// Seed determines the epoch orders and every augmentation.
	Seed uint64
	// Workers is the number of goroutines preparing batches; zero means
	// runtime.GOMAXPROCS(0). It never changes the batches' content.
	Workers int
	// Prefetch is the number of batch buffers, which bounds memory to
	// Prefetch batches; the batch the caller holds is one of them. Zero
	// means Workers + 1, enough to keep every worker busy.
	Prefetch int

	// Shards > 1 makes the loader deliver one rank's share of every
	// batch in a data-parallel run of Shards ranks: the order and the
	// augmentations stay those of the whole (global) batch of BatchSize
	// images, and rank Shard (from 0) gets BatchSize/Shards of its images,
	// so that the ranks together see exactly the batches of one process.
	// Each global batch is cut into MicroBatches (0 or 1: one) equal
	// micro-batches, as gradient accumulation does, and the rank takes
	// its contiguous Shard-th part of each: images Shard·m … Shard·m+m-1
	// of every micro-batch, m = BatchSize/(MicroBatches·Shards); the
	// rank's micro-batch j then holds its part of the global micro-batch
	// j. Sharding needs DropLast, and BatchSize divisible by
	// MicroBatches·Shards.
	Shards, Shard int
	MicroBatches  int
}

// Batch is one batch of M views of B images. Its storage belongs to the
// Loader and is reused: it is valid until the next call to Next or Close.
type Batch struct {
	Epoch  int // the epoch it belongs to
	Number int // its position in the epoch, from 0
	Size   int // the number of images, B (smaller for a last partial batch)
	// Views[j] is view j of the batch, float32 NCHW: Size images of
	// Shapes[j] = {C, H, W}, the sample of image b, channel c at (x, y)
	// at Views[j][((b*C+c)*H+y)*W+x].
	Views  [][]float32
	Shapes [][3]int
	// Labels[b] and Indices[b] are image b's label and dataset index.
	Labels  []int
	Indices []int

	full  [][]float32
	ready chan error
}

// Loader turns a Dataset into batches of augmented views, with parallel
// workers, prefetching into a bounded pool of reused buffers, and results
// that depend only on the dataset, the configuration and the epoch: every
// image's randomness comes from (Seed, epoch, dataset index) through
// augment.SampleRand, and batches are delivered in order, so the number of
// workers never changes a single value.
type Loader struct {
	ds      Dataset
	cfg     LoaderConfig
	views   augment.Views
	shapes  [][3]int
	batches int
	local   int // images per delivered batch: BatchSize/Shards
	pool    []*Batch
	active  atomic.Bool
}

// NewLoader checks cfg against ds and returns a Loader. The output shape of
// each view is taken from the dataset's first image; an image whose view
// has another shape stops the epoch with an error.
func NewLoader(ds Dataset, cfg LoaderConfig) (*Loader, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := ds.Len()
	switch {
	case n == 0:
		return nil, errors.New("dataset: loader: empty dataset")
	case cfg.DropLast && n < cfg.BatchSize:
		return nil, fmt.Errorf("dataset: loader: %d images make no full batch of %d (DropLast)", n, cfg.BatchSize)
	case cfg.Shards < 0 || cfg.MicroBatches < 0 || cfg.Shard < 0 || (cfg.Shard > 0 && cfg.Shard >= cfg.Shards):
		return nil, fmt.Errorf("dataset: loader: shard %d of %d, %d micro-batches", cfg.Shard, cfg.Shards, cfg.MicroBatches)
	}
	cfg.Shards, cfg.MicroBatches = max(cfg.Shards, 1), max(cfg.MicroBatches, 1)
	if cfg.Shards > 1 {
		switch {
		case cfg.BatchSize%(cfg.Shards*cfg.MicroBatches) != 0:
			return nil, fmt.Errorf("dataset: loader: a batch of %d cannot be split into %d micro-batches of %d shards", cfg.BatchSize, cfg.MicroBatches, cfg.Shards)
		case !cfg.DropLast:
			return nil, errors.New("dataset: loader: sharded batches need DropLast")
		}
	}
	if cfg.Workers == 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.Prefetch == 0 {
		cfg.Prefetch = cfg.Workers + 1
	}
	views := cfg.Views
	if len(views) == 0 {
		views = augment.Views{augment.Identity{}}
	}
	if err := views.Validate(); err != nil {
		return nil, fmt.Errorf("dataset: loader: %w", err)
	}
	l := &Loader{ds: ds, cfg: cfg, views: views, batches: n / cfg.BatchSize, local: cfg.BatchSize / cfg.Shards}
	if !cfg.DropLast && n%cfg.BatchSize != 0 {
		l.batches++
	}
	var ws augment.Workspace
	src := ReadImage(ds, 0, augment.Image{})
	rng := augment.NewSampleRand().Seed(cfg.Seed, 0, 0)
	for _, v := range views {
		out := ws.Run(v, src, rng)
		l.shapes = append(l.shapes, [3]int{out.C, out.H, out.W})
	}
	return l, nil
}

// Len returns the number of batches per epoch.
func (l *Loader) Len() int { return l.batches }

// Shapes returns each view's {C, H, W}.
func (l *Loader) Shapes() [][3]int { return l.shapes }

// Dataset returns the dataset the loader reads.
func (l *Loader) Dataset() Dataset { return l.ds }

// Order returns the dataset indices in the order epoch visits them.
func (l *Loader) Order(epoch int) []int {
	n := l.ds.Len()
	if !l.cfg.Shuffle {
		o := make([]int, n)
		for i := range o {
			o[i] = i
		}
		return o
	}
	a, b := augment.SampleSeed(l.cfg.Seed, epoch, -1)
	return rand.New(rand.NewPCG(a, b)).Perm(n)
}

func (l *Loader) newBatch() *Batch {
	b := &Batch{Shapes: l.shapes, ready: make(chan error, 1)}
	B := l.local
	for _, s := range l.shapes {
		b.full = append(b.full, make([]float32, B*s[0]*s[1]*s[2]))
	}
	b.Views = make([][]float32, len(l.shapes))
	b.Labels = make([]int, B)
	b.Indices = make([]int, B)
	return b
}

// Epoch starts producing the batches of epoch (a number from 0 that,
// with Seed, fixes the order and augmentations); read them with Next and
// call Close when done. Cancelling ctx stops the epoch. Only one epoch of
// a Loader may be open at a time.
func (l *Loader) Epoch(ctx context.Context, epoch int) *Epoch {
	if !l.active.CompareAndSwap(false, true) {
		panic("dataset: loader: Epoch called while another epoch is open (Close it first)")
	}
	for len(l.pool) < l.cfg.Prefetch {
		l.pool = append(l.pool, l.newBatch())
	}
	ctx, cancel := context.WithCancel(ctx)
	e := &Epoch{
		l: l, ctx: ctx, cancel: cancel, epoch: epoch, order: l.Order(epoch),
		free:    make(chan *Batch, len(l.pool)),
		jobs:    make(chan *Batch, len(l.pool)),
		pending: make(chan *Batch, len(l.pool)),
	}
	for _, b := range l.pool {
		select { // drop a result left by an epoch closed early
		case <-b.ready:
		default:
		}
		e.free <- b
	}
	e.wg.Add(1 + l.cfg.Workers)
	go e.dispatch()
	for range l.cfg.Workers {
		go e.work()
	}
	return e
}

// Epoch is one pass over the dataset in progress.
type Epoch struct {
	l      *Loader
	ctx    context.Context
	cancel context.CancelFunc
	epoch  int
	order  []int

	free    chan *Batch // buffers ready for reuse
	jobs    chan *Batch // batches for the workers, in order
	pending chan *Batch // the same batches, in order, for Next
	wg      sync.WaitGroup

	held   *Batch
	err    error
	closed bool
}

// dispatch hands out buffers in batch order: batch k always gets a buffer
// before batch k+1, so the batch Next waits for is always being prepared
// and the bounded pool cannot deadlock.
func (e *Epoch) dispatch() {
	defer e.wg.Done()
	defer close(e.jobs)
	defer close(e.pending)
	B := e.l.cfg.BatchSize
	for k := range e.l.batches {
		var b *Batch
		select {
		case b = <-e.free:
		case <-e.ctx.Done():
			return
		}
		b.Epoch, b.Number = e.epoch, k
		b.Size = min(B, len(e.order)-k*B)
		if l := e.l; l.cfg.Shards > 1 {
			b.Size = l.local // DropLast: every batch is full
		}
		for j, s := range b.Shapes {
			b.Views[j] = b.full[j][:b.Size*s[0]*s[1]*s[2]]
		}
		b.Labels, b.Indices = b.Labels[:b.Size], b.Indices[:b.Size]
		e.jobs <- b    // buffered to the pool size: never blocks
		e.pending <- b // idem
	}
}

func (e *Epoch) work() {
	defer e.wg.Done()
	w := worker{sr: augment.NewSampleRand()}
	for b := range e.jobs {
		b.ready <- w.fill(e, b)
	}
}

// worker holds one goroutine's reusable state.
type worker struct {
	ws  augment.Workspace
	sr  *augment.SampleRand
	src augment.Image
}

func (w *worker) fill(e *Epoch, b *Batch) error {
	l := e.l
	dec, isDec := l.ds.(ImageDecoder)
	B := l.cfg.BatchSize
	for s := range b.Size {
		if s%16 == 0 && e.ctx.Err() != nil {
			return e.ctx.Err()
		}
		idx := e.order[b.Number*B+l.position(s)]
		var img augment.Image
		if isDec {
			w.src = dec.DecodeImage(idx, w.src)
			img = w.src
		} else {
			img = l.ds.Image(idx)
		}
		rng := w.sr.Seed(l.cfg.Seed, e.epoch, idx)
		for j, v := range l.views {
			out := w.ws.Run(v, img, rng)
			sh := b.Shapes[j]
			if out.C != sh[0] || out.H != sh[1] || out.W != sh[2] {
				return fmt.Errorf("dataset: loader: image %d: view %d is %dx%dx%d, want %dx%dx%d (the first image's)",
					idx, j, out.C, out.H, out.W, sh[0], sh[1], sh[2])
			}
			n := len(out.Pix)
			copy(b.Views[j][s*n:(s+1)*n], out.Pix)
		}
		b.Labels[s] = l.ds.Label(idx)
		b.Indices[s] = idx
	}
	return nil
}

// position returns the position in its global batch of image s of a
// delivered batch.
func (l *Loader) position(s int) int {
	if l.cfg.Shards == 1 {
		return s
	}
	m := l.local / l.cfg.MicroBatches // the rank's part of a micro-batch
	j, i := s/m, s%m
	return j*m*l.cfg.Shards + l.cfg.Shard*m + i
}

// Next returns the next batch, or false at the end of the epoch, after an
// error or once ctx is cancelled (see Err). The batch stays valid until the
// next call to Next or Close. The epoch closes itself when it returns false.
func (e *Epoch) Next() (*Batch, bool) {
	if e.closed {
		return nil, false
	}
	if e.held != nil {
		e.free <- e.held // the pool size bounds the channel: never blocks
		e.held = nil
	}
	if err := e.ctx.Err(); err != nil {
		e.err = err
		e.Close()
		return nil, false
	}
	var b *Batch
	var ok bool
	select {
	case b, ok = <-e.pending:
	case <-e.ctx.Done():
	}
	if !ok {
		if err := e.ctx.Err(); err != nil && e.err == nil {
			e.err = err
		}
		e.Close()
		return nil, false
	}
	select {
	case err := <-b.ready:
		if err != nil {
			e.err = err
			e.Close()
			return nil, false
		}
	case <-e.ctx.Done():
		e.err = e.ctx.Err()
		e.Close()
		return nil, false
	}
	e.held = b
	return b, true
}

// Err returns the error that ended the epoch early: a view of unexpected
// shape, or the context's error. It is nil after a complete epoch or an
// early Close.
func (e *Epoch) Err() error { return e.err }

// Close stops the epoch's goroutines, waits for them and returns the
// buffers to the Loader; the last batch becomes invalid. It is safe to call
// more than once.
func (e *Epoch) Close() {
	if e.closed {
		return
	}
	e.closed = true
	e.cancel()
	e.wg.Wait()
	e.held = nil
	e.l.active.Store(false)
}

// Len returns the number of images in the batch, Size.
func (b *Batch) Len() int { return b.Size }
