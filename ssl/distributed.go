package ssl

import (
	G "gorgonia.org/gorgonia"

	"github.com/disiam/disiam/distributed"
)

// Gatherer is implemented by the methods whose loss couples the samples
// of a batch beyond BatchNorm: SimCLR and SoftChain, whose NT-Xent takes
// the other samples of the batch as negatives. In a data-parallel run
// (train.Config.Comm with more than one rank) the Trainer calls UseComm
// before it builds the graph, and the loss then gathers every rank's
// projections (distributed.AllGather) and computes NT-Xent over the
// global batch, so that the negatives are the global batch's, as in one
// process.
//
// Every rank computes the whole NT-Xent of the 2·N·B gathered samples,
// the same value on every rank and the single process's loss, and the
// gather's backward pass sums the gradient of the gathered rows over the
// ranks; with the training loop's averaging of the parameter gradients
// this is the gradient of the single process. (Computing each rank's
// anchors only, as lightly's gather_distributed does, would save
// 2B × 2NB similarities of the 2NB × 2NB: a few per cent of a ResNet-18
// step at N = 8, not worth a second kernel.)
type Gatherer interface {
	UseComm(c distributed.Comm)
}

// UseComm implements Gatherer.
func (m *SimCLR) UseComm(c distributed.Comm) { m.Comm = c }

// UseComm implements Gatherer.
func (m *SoftChain) UseComm(c distributed.Comm) { m.Comm = c }

// gather returns z gathered over c's ranks, or z itself for one process.
func gather(c distributed.Comm, z *G.Node) *G.Node {
	if !distributed.Distributed(c) {
		return z
	}
	return distributed.AllGather(c, z)
}
