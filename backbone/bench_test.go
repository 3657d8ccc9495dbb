package backbone

import (
	"fmt"
	"testing"

	"github.com/disiam/disiam/internal/cputime"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/nn"
)

// benchModels are the thesis' two main backbones.
var benchModels = []string{"resnet18", "efficientnet_b0"}

// BenchmarkForward measures Eval-mode inference of pooled features at
// 32x32, batch 256, in images per second (PyTorch peer:
// bench/backbone_peer.py).
func BenchmarkForward(b *testing.B) {
	for _, name := range benchModels {
		b.Run(fmt.Sprintf("%s/batch=256", name), func(b *testing.B) {
			benchGraph(b, name, 256, false)
		})
	}
}

// BenchmarkForwardBackward measures a Train-mode forward pass (batch
// statistics, stochastic depth) and the backward pass to every trainable
// parameter, for loss = sum of the pooled features, at 32x32, batch 64,
// in images per second.
func BenchmarkForwardBackward(b *testing.B) {
	for _, name := range benchModels {
		b.Run(fmt.Sprintf("%s/batch=64", name), func(b *testing.B) {
			benchGraph(b, name, 64, true)
		})
	}
}

func benchGraph(b *testing.B, name string, batch int, train bool) {
	net, err := New(name, Config{Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	net.SetTraining(train)
	g := G.NewGraph()
	x, buf := nn.Input(g, "x", tensor.Float32, batch, 3, 32, 32)
	copy(buf.Data().([]float32), ruleInput("input", batch*3*32*32))
	f := net.Features(x)
	var loss *G.Node
	var params []*nn.Param
	if train {
		loss = G.Must(G.Sum(f))
		params = nn.Trainable(net)
	}
	prog, err := nn.Compile(g, loss, params)
	if err != nil {
		b.Fatal(err)
	}
	defer prog.Close()
	if err := prog.Run(); err != nil { // warm-up: buffers
		b.Fatal(err)
	}
	b.ResetTimer()
	cpu0 := cputime.Process()
	for range b.N {
		if err := prog.Run(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "img/s")
	b.ReportMetric((cputime.Process()-cpu0).Seconds()*1e3/float64(batch*b.N), "cpu-ms/img")
}
