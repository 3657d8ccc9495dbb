package nn

import (
	"runtime"
	"testing"

	G "gorgonia.org/gorgonia"
)

// A parameter does not keep the graphs that read it alive: once a graph is
// unreachable it is collected, and its entry goes at the next Node call.
// A live graph keeps getting the same node.
func TestParamDoesNotRetainGraphs(t *testing.T) {
	p := NewParam("w", true, 3)
	live := G.NewGraph()
	n := p.Node(live)
	for range 5 {
		g := G.NewGraph()
		p.Node(g)
	}
	collected := false
	for range 10 {
		runtime.GC()
		if p.Node(live) != n {
			t.Fatal("a live graph got a second node")
		}
		p.Node(G.NewGraph()) // sweeps
		if len(p.nodes) <= 2 {
			collected = true
			break
		}
	}
	if !collected {
		t.Errorf("%d graphs still referenced after GC", len(p.nodes))
	}
	runtime.KeepAlive(live)
}
