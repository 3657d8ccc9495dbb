package ssl_test

import (
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/disiam/disiam/internal/cputime"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/nn"
	"github.com/disiam/disiam/nn/nntest"
	"github.com/disiam/disiam/optim"
	"github.com/disiam/disiam/ssl"
)

// stepCase is one training step of peers/bench.py: a method over
// torchvision backbones at 32×32, batch 64, with SimSiam's CIFAR heads
// (SimCLR: its 2048-128 projector), SGD with momentum 0.9 and weight decay
// 1e-4.
type stepCase struct {
	name  string
	views int
	build func() ssl.Method
}

func mustBackbone(name string, seed uint64) backbone.Backbone {
	b, err := backbone.New(name, backbone.Config{Seed: seed})
	if err != nil {
		panic(err)
	}
	return b
}

var stepCases = []stepCase{
	{"simsiam/resnet18", 2, func() ssl.Method { return ssl.NewSimSiam(mustBackbone("resnet18", 1), 1) }},
	{"simsiam/efficientnet_b0", 2, func() ssl.Method { return ssl.NewSimSiam(mustBackbone("efficientnet_b0", 1), 1) }},
	{"simclr/resnet18", 2, func() ssl.Method { return ssl.NewSimCLR(mustBackbone("resnet18", 1), 1) }},
	{"disiam/efficientnet_b0+resnet34", 2, func() ssl.Method {
		return ssl.NewDiSiam(mustBackbone("efficientnet_b0", 1), mustBackbone("resnet34", 2), 1)
	}},
	{"disiam+/efficientnet_b0+resnet34/4views", 4, func() ssl.Method {
		return ssl.NewDiSiamPlus(mustBackbone("efficientnet_b0", 1), mustBackbone("resnet34", 2), 4, 1)
	}},
}

// BenchmarkStep measures one training step (forward, backward, SGD) per
// iteration, as peers/bench.py does (bench/ssl_peer.py runs its cases one
// per process for the peak RSS): img/s counts each image once whatever the
// number of views, img/cpu-s divides by the CPU time of all threads instead
// (the figure other jobs on a shared machine disturb least, with
// GOMAXPROCS=1); heap-MB is the Go heap in use after the steps
// (compiled graph buffers, weights, gradients, optimizer state) and
// maxrss-MB the process's peak resident set, meaningful when one case runs
// per process (go test -bench 'Step/simsiam/resnet18$').
func BenchmarkStep(b *testing.B) {
	const batch, side = 64, 32
	for _, sc := range stepCases {
		// The testing package calls a benchmark function once with
		// b.N = 1 and again with the requested b.N: the model and its
		// program are built on the first call and reused, so that the peak
		// RSS is one model's (two built in one process held both until the
		// GC ran, about twice the memory).
		var step func()
		b.Run(sc.name, func(b *testing.B) {
			if step == nil {
				step = newStep(b, sc, batch, side)
				step() // warm-up: buffers are allocated on the first run
			}
			b.ResetTimer()
			cpu0 := cputime.Process()
			start := time.Now()
			for range b.N {
				step()
			}
			el := time.Since(start)
			cpu := cputime.Process() - cpu0
			b.StopTimer()
			b.ReportMetric(float64(batch*b.N)/el.Seconds(), "img/s")
			b.ReportMetric(float64(batch*b.N)/cpu.Seconds(), "img/cpu-s")
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MB")
			var ru syscall.Rusage
			if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
				b.ReportMetric(float64(ru.Maxrss)/1024, "maxrss-MB")
			}
		})
	}
}

// newStep builds sc's method, its compiled program and its optimizer,
// and returns one training step. The program is never closed: it lives
// as long as the benchmark binary.
func newStep(b *testing.B, sc stepCase, batch, side int) func() {
	m := sc.build()
	g := G.NewGraph()
	var views []*G.Node
	for j := range sc.views {
		name := fmt.Sprintf("view%d", j)
		x, v := nn.Input(g, name, tensor.Float32, batch, 3, side, side)
		copy(v.Data().([]float32), nntest.Rand32(name, batch, 3, side, side).Data().([]float32))
		views = append(views, x)
	}
	loss := m.Loss(views)
	prog, err := nn.Compile(g, loss, m.Parts().Trainable())
	if err != nil {
		b.Fatal(err)
	}
	opt, err := m.Parts().NewOptimizer(func(ps []*nn.Param) optim.Optimizer { return optim.NewSGD(ps, optim.SimSiamSGD) })
	if err != nil {
		b.Fatal(err)
	}
	return func() {
		if err := prog.Run(); err != nil {
			b.Fatal(err)
		}
		opt.Step(0.03)
	}
}
