package detect

import (
	"syscall"
	"testing"
	"time"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/nn"
	"github.com/disiam/disiam/optim"
)

// The benchmarks of bench/detect.md: one FCOS training step (forward,
// backward, SGD step, targets assigned in Go) and one inference
// (eval-mode forward and postprocessing) of torchvision's FCOS on a
// full-width ResNet-18 body (FPN and head 256 wide, 4 convolutions per
// tower, 91 classes) at 2×3×256×256; bench/detect_peer.py runs the same in
// PyTorch. They report wall milliseconds and process CPU milliseconds per
// step (the machine is shared: CPU time is what contention barely
// changes).

const benchN, benchSide = 2, 256

func benchModel(b *testing.B) *FCOS {
	m, err := NewFCOS(backbone.NewResNet(18, backbone.Config{Seed: 1}), Config{Classes: 91, Seed: 2})
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// benchImages fills x with a smooth deterministic pattern.
func benchImages(x []float32) {
	for i := range x {
		x[i] = float32((i*7919)%1000)/500 - 1
	}
}

var benchObjects = [][]Object{
	{{Class: 1, Box: Box{20, 30, 120, 140}}, {Class: 17, Box: Box{150, 40, 240, 100}}, {Class: 3, Box: Box{60, 160, 90, 200}}},
	{{Class: 5, Box: Box{10, 10, 250, 250}}, {Class: 62, Box: Box{100, 120, 130, 150}}, {Class: 1, Box: Box{30, 200, 80, 240}}},
}

func cpuNow() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func report(b *testing.B, cpu0 time.Duration) {
	b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "wall-ms/step")
	b.ReportMetric((cpuNow()-cpu0).Seconds()*1e3/float64(b.N), "cpu-ms/step")
}

func BenchmarkFCOSTrainStep(b *testing.B) {
	m := benchModel(b)
	g := G.NewGraph()
	x, xt := nn.Input(g, "images", tensor.Float32, benchN, 3, benchSide, benchSide)
	benchImages(xt.Data().([]float32))
	tg, err := m.TrainingGraph(x)
	if err != nil {
		b.Fatal(err)
	}
	params := nn.Trainable(m)
	prog, err := nn.Compile(g, tg.Loss, params)
	if err != nil {
		b.Fatal(err)
	}
	defer prog.Close()
	opt := optim.NewSGD(params, optim.SGDConfig{Momentum: 0.9, WeightDecay: 1e-4})
	step := func() {
		if err := tg.SetTargets(benchObjects); err != nil {
			b.Fatal(err)
		}
		if err := prog.Run(); err != nil {
			b.Fatal(err)
		}
		opt.Step(1e-4)
	}
	step() // warm-up
	b.ResetTimer()
	cpu0 := cpuNow()
	for range b.N {
		step()
	}
	report(b, cpu0)
}

func BenchmarkFCOSInference(b *testing.B) {
	m := benchModel(b)
	p, err := m.NewPredictor(benchN, benchSide, benchSide)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	benchImages(p.Images().Data().([]float32))
	if _, err := p.Predict(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	cpu0 := cpuNow()
	for range b.N {
		if _, err := p.Predict(); err != nil {
			b.Fatal(err)
		}
	}
	report(b, cpu0)
}
