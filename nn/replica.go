package nn

import (
	"sync"

	G "gorgonia.org/gorgonia"
)

// Reducer sums float64 buffers element-wise over the replicas of a
// data-parallel run, in place. Every replica calls it in the same order
// with buffers of the same length; distributed.Comm implements it.
type Reducer interface {
	AllReduceSum64(buf []float64) error
}

// Replica describes this process's share of a data-parallel batch to the
// ops that couple the samples of a batch, so that the replicas together
// compute what one process computes on the whole batch:
//
//   - SyncBatchNorm, if not nil, makes every Train-mode BatchNorm of the
//     graph normalize with the statistics of the global batch (the
//     per-channel sums of all replicas, reduced in float64: two
//     reductions in the forward pass, the sum and then the squared
//     deviations from the global mean, as the single-process kernel's two
//     passes; one in the backward pass, Σdy and Σdy·(x-mean)). The
//     running statistics then follow the global batch and are the same on
//     every replica. The parameter gradients dw and db stay local sums:
//     the replicas' gradients are averaged afterwards like every other
//     parameter's (see package train). This is PyTorch's SyncBatchNorm.
//   - Offset is the index, in the global batch, of this replica's first
//     sample: StochasticDepth draws sample i's mask as the single process
//     draws sample Offset+i's, and Dropout element e's as element
//     Offset·(elements per sample)+e's, so the masks of a data-parallel
//     run are those of the single process.
//
// The zero Replica is a single process.
type Replica struct {
	SyncBatchNorm Reducer
	Offset        int
}

var replicas sync.Map // *G.ExprGraph → Replica

// SetReplica makes r apply to the ops added to g from now on (set it
// before building the graph); ClearReplica(g) forgets it. The training
// loop of package train sets it for the graph of each stage.
func SetReplica(g *G.ExprGraph, r Replica) { replicas.Store(g, r) }

// ClearReplica removes g's Replica (the ops already built keep theirs).
func ClearReplica(g *G.ExprGraph) { replicas.Delete(g) }

// replicaOf returns g's Replica (the zero Replica if none was set).
func replicaOf(g *G.ExprGraph) Replica {
	if v, ok := replicas.Load(g); ok {
		return v.(Replica)
	}
	return Replica{}
}
