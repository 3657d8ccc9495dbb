package nn

import (
	"fmt"
	"testing"

	"gorgonia.org/tensor"
)

// Benchmarks of the non-convolution kernels, forward + backward, at the
// shapes ResNet-18 sees at 32x32 input and batch 64 (bench/ops_peer.py is
// the PyTorch peer; bench/ops.md has the table). They call the kernels
// directly, as the PyTorch peer times the ops without a model around them.
// GB/s counts the bytes a kernel pair must move at least: forward reads x
// and writes y, backward reads the tensors it needs and writes dx.

// resnet18Acts are the BatchNorm2d inputs of ResNet-18 at 32x32: after the
// stem convolution, then stages 1-4.
var resnet18Acts = [][4]int{
	{64, 64, 16, 16},
	{64, 64, 8, 8},
	{64, 128, 4, 4},
	{64, 256, 2, 2},
	{64, 512, 1, 1},
}

func actName(s []int) string {
	return fmt.Sprintf("batch=%d/%dx%dx%d", s[0], s[1], s[2], s[3])
}

func opsBenchTensor(shape ...int) *tensor.Dense {
	t := tensor.New(tensor.WithShape(shape...), tensor.Of(tensor.Float32))
	// Pseudo-random values in [-1, 1): signs and maxima as unpredictable
	// as in a network's activations.
	for i, d := 0, t.Data().([]float32); i < len(d); i++ {
		d[i] = float32(splitmix64(uint64(i))>>40)/(1<<23) - 1
	}
	return t
}

func reportOps(b *testing.B, batch, bytes int) {
	s := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(float64(bytes)/s/1e9, "GB/s")
	b.ReportMetric(float64(batch)/s, "img/s")
	b.ReportMetric(s*1e6, "µs/op")
}

// BenchmarkBatchNorm runs BatchNorm in Train mode, forward (batch
// statistics, normalization, running-statistics update) and backward
// (input, weight and bias gradients).
func BenchmarkBatchNorm(b *testing.B) {
	shapes := append([][]int{}, []int{64, 2048}) // the projection head's BatchNorm1d
	for _, s := range resnet18Acts {
		shapes = append(shapes, s[:])
	}
	for _, s := range shapes {
		name := fmt.Sprintf("batch=%d/%d", s[0], s[1])
		if len(s) == 4 {
			name = actName(s)
		}
		b.Run(name, func(b *testing.B) {
			c := s[1]
			bn := NewBatchNorm("bn", BatchNormConfig{Features: c})
			k := &bnKernel{layer: bn, dims: len(s), affine: true}
			x, dy := opsBenchTensor(s...), opsBenchTensor(s...)
			y := tensor.New(tensor.WithShape(s...), tensor.Of(tensor.Float32))
			dx := tensor.New(tensor.WithShape(s...), tensor.Of(tensor.Float32))
			dw := tensor.New(tensor.WithShape(c), tensor.Of(tensor.Float32))
			db := tensor.New(tensor.WithShape(c), tensor.Of(tensor.Float32))
			gk := &bnGradKernel{fwd: k}
			fwdIn := []*tensor.Dense{x, bn.Weight.Value, bn.Bias.Value}
			bwdIn := []*tensor.Dense{x, y, dy, bn.Weight.Value}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := k.Forward(y, fwdIn); err != nil {
					b.Fatal(err)
				}
				if err := gk.Forward(dx, bwdIn); err != nil {
					b.Fatal(err)
				}
				bnParamGradKernel{fwd: k}.Forward(dw, nil)
				bnParamGradKernel{fwd: k, bias: true}.Forward(db, nil)
			}
			reportOps(b, s[0], 5*4*x.Shape().TotalSize())
		})
	}
}

// BenchmarkReLU runs ReLU forward and backward.
func BenchmarkReLU(b *testing.B) {
	for _, s := range resnet18Acts[:3] {
		b.Run(actName(s[:]), func(b *testing.B) {
			k := unaryKernel{opReLU, 4}
			x, dy := opsBenchTensor(s[:]...), opsBenchTensor(s[:]...)
			y := tensor.New(tensor.WithShape(s[:]...), tensor.Of(tensor.Float32))
			dx := tensor.New(tensor.WithShape(s[:]...), tensor.Of(tensor.Float32))
			fwdIn, bwdIn := []*tensor.Dense{x}, []*tensor.Dense{x, y, dy}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := k.Forward(y, fwdIn); err != nil {
					b.Fatal(err)
				}
				if err := unaryGradKernel(k).Forward(dx, bwdIn); err != nil {
					b.Fatal(err)
				}
			}
			// forward x → y; backward y, dy → dx (x is passed but unread)
			reportOps(b, s[0], 5*4*x.Shape().TotalSize())
		})
	}
}

// BenchmarkMaxPool2d runs ResNet's stem pooling (kernel 3, stride 2,
// padding 1) forward and backward.
func BenchmarkMaxPool2d(b *testing.B) {
	for _, s := range resnet18Acts[:2] {
		b.Run(actName(s[:]), func(b *testing.B) {
			k := &maxPoolKernel{k: 3, s: 2, p: 1}
			x := opsBenchTensor(s[:]...)
			os, err := k.OutShape([]tensor.Shape{x.Shape()})
			if err != nil {
				b.Fatal(err)
			}
			y := tensor.New(tensor.WithShape(os...), tensor.Of(tensor.Float32))
			dy := opsBenchTensor(os...)
			dx := tensor.New(tensor.WithShape(s[:]...), tensor.Of(tensor.Float32))
			gk := maxPoolGradKernel{fwd: k}
			fwdIn, bwdIn := []*tensor.Dense{x}, []*tensor.Dense{x, y, dy}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := k.Forward(y, fwdIn); err != nil {
					b.Fatal(err)
				}
				if err := gk.Forward(dx, bwdIn); err != nil {
					b.Fatal(err)
				}
			}
			// forward x → y; backward dy → dx
			reportOps(b, s[0], 4*(2*x.Shape().TotalSize()+2*os.TotalSize()))
		})
	}
}
