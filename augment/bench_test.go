package augment

import (
	"fmt"
	"testing"
)

// BenchmarkViews measures single-goroutine throughput of the presets on
// 32 x 32 (CIFAR) and 224 x 224 inputs, in views per second. Each view
// includes copying the source into the workspace and reseeding the
// per-sample stream, as the Loader does.
func BenchmarkViews(b *testing.B) {
	cases := []struct {
		name string
		side int
		view Transform
	}{
		{"SimSiam/32", 32, SimSiamView(32, CIFAR10Norm)},
		{"SimCLR/32", 32, SimCLRView(32, 0.5, CIFAR10Norm)},
		{"BYOL2/32", 32, BYOLViews(32, CIFAR10Norm)[1]},
		{"SimSiam/224", 224, SimSiamView(224, ImageNetNorm)},
		{"Eval/32to224", 32, EvalView(224, CIFAR10Norm)},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			src := ruleImage(fmt.Sprint("bench", tc.side), 3, tc.side, tc.side)
			var ws Workspace
			sr := NewSampleRand()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				ws.Run(tc.view, src, sr.Seed(1, 0, i))
				i++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "views/s")
		})
	}
}

// BenchmarkOps measures the functional ops on one 3 x 32 x 32 image.
func BenchmarkOps(b *testing.B) {
	src := ruleImage("ops", 3, 32, 32)
	dst := NewImage(3, 32, 32)
	ops := []struct {
		name string
		f    func()
	}{
		{"ResizedCrop", func() { ResizedCrop(dst, src, 3, 4, 20, 25) }},
		{"HFlip", func() { HFlip(dst, src) }},
		{"Brightness", func() { AdjustBrightness(dst, src, 1.2) }},
		{"Contrast", func() { AdjustContrast(dst, src, 0.8) }},
		{"Saturation", func() { AdjustSaturation(dst, src, 1.3) }},
		{"Hue", func() { AdjustHue(dst, src, 0.05) }},
		{"Grayscale", func() { ToGrayscale(dst, src) }},
		{"Blur3", func() { Blur(dst, src, 3, 3, 1, 1) }},
		{"Normalize", func() { Standardize(dst, src, CIFAR10Norm.Mean, CIFAR10Norm.Std) }},
	}
	for _, op := range ops {
		b.Run(op.name, func(b *testing.B) {
			for b.Loop() {
				op.f()
			}
		})
	}
}
