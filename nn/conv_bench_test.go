package nn

import (
	"fmt"
	"math"
	"testing"

	"github.com/disiam/disiam/internal/cputime"

	"gorgonia.org/tensor"

	"github.com/disiam/disiam/internal/linalg"
)

// benchConv is one convolution of a network: input [batch, c, h, w],
// filters [o, c/groups, k, k].
type benchConv struct {
	c, h, w, o, k, stride, pad, groups int
	count                              int  // how often the network uses it
	stem                               bool // input is the image: no input gradient
}

func (s benchConv) String() string {
	g := ""
	if s.groups > 1 {
		g = fmt.Sprintf("g%d", s.groups)
	}
	return fmt.Sprintf("%dx%dx%d-k%ds%dp%d%s-o%d", s.c, s.h, s.w, s.k, s.stride, s.pad, g, s.o)
}

// resnet18Convs are the distinct convolutions of torchvision's ResNet-18 at
// 32x32 input (bench/conv_peer.py lists them from the model itself).
var resnet18Convs = []benchConv{
	{3, 32, 32, 64, 7, 2, 3, 1, 1, true},
	{64, 8, 8, 64, 3, 1, 1, 1, 4, false},
	{64, 8, 8, 128, 3, 2, 1, 1, 1, false},
	{128, 4, 4, 128, 3, 1, 1, 1, 3, false},
	{64, 8, 8, 128, 1, 2, 0, 1, 1, false},
	{128, 4, 4, 256, 3, 2, 1, 1, 1, false},
	{256, 2, 2, 256, 3, 1, 1, 1, 3, false},
	{128, 4, 4, 256, 1, 2, 0, 1, 1, false},
	{256, 2, 2, 512, 3, 2, 1, 1, 1, false},
	{512, 1, 1, 512, 3, 1, 1, 1, 3, false},
	{256, 2, 2, 512, 1, 2, 0, 1, 1, false},
}

// effB0Convs are the distinct convolutions of torchvision's EfficientNet-B0
// at 32x32 input, squeeze-and-excitation 1x1 convolutions included (their
// bias is a separate op).
var effB0Convs = []benchConv{
	{3, 32, 32, 32, 3, 2, 1, 1, 1, true},
	{32, 16, 16, 32, 3, 1, 1, 32, 1, false},
	{32, 1, 1, 8, 1, 1, 0, 1, 1, false},
	{8, 1, 1, 32, 1, 1, 0, 1, 1, false},
	{32, 16, 16, 16, 1, 1, 0, 1, 1, false},
	{16, 16, 16, 96, 1, 1, 0, 1, 1, false},
	{96, 16, 16, 96, 3, 2, 1, 96, 1, false},
	{96, 1, 1, 4, 1, 1, 0, 1, 1, false},
	{4, 1, 1, 96, 1, 1, 0, 1, 1, false},
	{96, 8, 8, 24, 1, 1, 0, 1, 1, false},
	{24, 8, 8, 144, 1, 1, 0, 1, 2, false},
	{144, 8, 8, 144, 3, 1, 1, 144, 1, false},
	{144, 1, 1, 6, 1, 1, 0, 1, 2, false},
	{6, 1, 1, 144, 1, 1, 0, 1, 2, false},
	{144, 8, 8, 24, 1, 1, 0, 1, 1, false},
	{144, 8, 8, 144, 5, 2, 2, 144, 1, false},
	{144, 4, 4, 40, 1, 1, 0, 1, 1, false},
	{40, 4, 4, 240, 1, 1, 0, 1, 2, false},
	{240, 4, 4, 240, 5, 1, 2, 240, 1, false},
	{240, 1, 1, 10, 1, 1, 0, 1, 2, false},
	{10, 1, 1, 240, 1, 1, 0, 1, 2, false},
	{240, 4, 4, 40, 1, 1, 0, 1, 1, false},
	{240, 4, 4, 240, 3, 2, 1, 240, 1, false},
	{240, 2, 2, 80, 1, 1, 0, 1, 1, false},
	{80, 2, 2, 480, 1, 1, 0, 1, 3, false},
	{480, 2, 2, 480, 3, 1, 1, 480, 2, false},
	{480, 1, 1, 20, 1, 1, 0, 1, 3, false},
	{20, 1, 1, 480, 1, 1, 0, 1, 3, false},
	{480, 2, 2, 80, 1, 1, 0, 1, 2, false},
	{480, 2, 2, 480, 5, 1, 2, 480, 1, false},
	{480, 2, 2, 112, 1, 1, 0, 1, 1, false},
	{112, 2, 2, 672, 1, 1, 0, 1, 3, false},
	{672, 2, 2, 672, 5, 1, 2, 672, 2, false},
	{672, 1, 1, 28, 1, 1, 0, 1, 3, false},
	{28, 1, 1, 672, 1, 1, 0, 1, 3, false},
	{672, 2, 2, 112, 1, 1, 0, 1, 2, false},
	{672, 2, 2, 672, 5, 2, 2, 672, 1, false},
	{672, 1, 1, 192, 1, 1, 0, 1, 1, false},
	{192, 1, 1, 1152, 1, 1, 0, 1, 4, false},
	{1152, 1, 1, 1152, 5, 1, 2, 1152, 3, false},
	{1152, 1, 1, 48, 1, 1, 0, 1, 4, false},
	{48, 1, 1, 1152, 1, 1, 0, 1, 4, false},
	{1152, 1, 1, 192, 1, 1, 0, 1, 3, false},
	{1152, 1, 1, 1152, 3, 1, 1, 1152, 1, false},
	{1152, 1, 1, 320, 1, 1, 0, 1, 1, false},
	{320, 1, 1, 1280, 1, 1, 0, 1, 1, false},
}

// depthwiseConvs are depthwise convolutions at batch 64 beyond the
// EfficientNet-B0 ones: larger planes, as at 64x64 or 96x96 input.
var depthwiseConvs = []benchConv{
	{32, 32, 32, 32, 3, 1, 1, 32, 1, false},
	{96, 32, 32, 96, 3, 2, 1, 96, 1, false},
	{144, 16, 16, 144, 5, 1, 2, 144, 1, false},
	{240, 8, 8, 240, 5, 1, 2, 240, 1, false},
}

// benchKernels holds one convolution's three kernels and their tensors.
type benchKernels struct {
	s                   benchConv
	fwd                 *convForward
	bin                 *convBackwardInput
	bfl                 *convBackwardFilter
	x, w, y, dy, dx, dw *tensor.Dense
	inFwd, inBin, inBfl []*tensor.Dense
	flops               float64 // one forward, nominal (all taps)
}

func newBenchKernels(s benchConv, batch int) *benchKernels {
	p := convParams{stride: s.stride, pad: s.pad, dil: 1, groups: s.groups}
	xs := tensor.Shape{batch, s.c, s.h, s.w}
	ws := tensor.Shape{s.o, s.c / s.groups, s.k, s.k}
	sh, err := p.shape(xs, ws)
	if err != nil {
		panic(err)
	}
	ys := tensor.Shape{batch, s.o, sh.oh, sh.ow}
	rnd := func(name string, shape tensor.Shape) *tensor.Dense {
		t := tensor.New(tensor.WithShape(shape...), tensor.Of(tensor.Float32))
		d := t.Data().([]float32)
		for i := range d {
			d[i] = float32(math.Sin(float64(i)*0.7 + float64(len(name))))
		}
		return t
	}
	k := &benchKernels{
		s:   s,
		fwd: &convForward{convParams: p},
		bin: &convBackwardInput{convParams: p, xShape: xs},
		bfl: &convBackwardFilter{convParams: p, wShape: ws},
		x:   rnd("x", xs), w: rnd("w", ws), dy: rnd("dy", ys),
		y:  tensor.New(tensor.WithShape(ys...), tensor.Of(tensor.Float32)),
		dx: tensor.New(tensor.WithShape(xs...), tensor.Of(tensor.Float32)),
		dw: tensor.New(tensor.WithShape(ws...), tensor.Of(tensor.Float32)),
	}
	k.inFwd = []*tensor.Dense{k.x, k.w}
	k.inBin = []*tensor.Dense{k.w, k.dy}
	k.inBfl = []*tensor.Dense{k.x, k.dy}
	k.flops = 2 * float64(batch*s.o*sh.oh*sh.ow) * float64(s.c/s.groups*s.k*s.k)
	return k
}

// run does forward and backward (no input gradient for a stem) and
// returns the nominal flops.
func (k *benchKernels) run() float64 {
	if err := k.fwd.Forward(k.y, k.inFwd); err != nil {
		panic(err)
	}
	if err := k.bfl.Forward(k.dw, k.inBfl); err != nil {
		panic(err)
	}
	if k.s.stem {
		return 2 * k.flops
	}
	if err := k.bin.Forward(k.dx, k.inBin); err != nil {
		panic(err)
	}
	return 3 * k.flops
}

const benchBatch = 64

func benchShapes(b *testing.B, shapes []benchConv) {
	for _, s := range shapes {
		b.Run(s.String(), func(b *testing.B) {
			k := newBenchKernels(s, benchBatch)
			k.run() // warm the plans and the scratch pool
			b.ReportAllocs()
			b.ResetTimer()
			var flops float64
			cpu0 := cputime.Process()
			for b.Loop() {
				flops += k.run()
			}
			b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			b.ReportMetric((cputime.Process()-cpu0).Seconds()*1e3/float64(b.N), "cpu-ms/op")
		})
	}
}

// BenchmarkConv2dOpResNet18 times forward + backward of each distinct
// convolution of ResNet-18 at 32x32 input, batch 64. GFLOP/s counts the
// nominal flops (2 per multiply-add, all taps, including those that only
// see padding), as PyTorch's would be counted.
func BenchmarkConv2dOpResNet18(b *testing.B) {
	b.Logf("BLAS backend %s", linalg.Backend)
	benchShapes(b, resnet18Convs)
}

// BenchmarkConv2dOpEfficientNetB0 does the same for EfficientNet-B0.
func BenchmarkConv2dOpEfficientNetB0(b *testing.B) {
	b.Logf("BLAS backend %s", linalg.Backend)
	benchShapes(b, effB0Convs)
}

// BenchmarkConv2dOpDepthwise times depthwise convolutions with larger planes.
func BenchmarkConv2dOpDepthwise(b *testing.B) { benchShapes(b, depthwiseConvs) }

func benchStack(b *testing.B, shapes []benchConv) {
	var ks []*benchKernels
	for _, s := range shapes {
		k := newBenchKernels(s, benchBatch)
		k.run()
		for range s.count {
			ks = append(ks, k)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	var flops float64
	cpu0 := cputime.Process()
	for b.Loop() {
		for _, k := range ks {
			flops += k.run()
		}
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(sec/float64(b.N), "s/pass")
	b.ReportMetric(flops/sec/1e9, "GFLOP/s")
	b.ReportMetric((cputime.Process()-cpu0).Seconds()/float64(b.N), "cpu-s/pass")
}

// BenchmarkResNet18Stack runs forward + backward of all 20 convolutions of
// ResNet-18 (each shape as often as the network has it) at batch 64,
// 32x32 input: the convolution part of one training step.
func BenchmarkResNet18Stack(b *testing.B) {
	b.Logf("BLAS backend %s", linalg.Backend)
	benchStack(b, resnet18Convs)
}

// BenchmarkEfficientNetB0Stack does the same for the 81 convolutions of
// EfficientNet-B0.
func BenchmarkEfficientNetB0Stack(b *testing.B) {
	b.Logf("BLAS backend %s", linalg.Backend)
	benchStack(b, effB0Convs)
}
