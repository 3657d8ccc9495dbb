package linalg

import (
	"testing"

	"github.com/disiam/disiam/internal/cputime"
)

// gemmBenchShapes are the float32 products of one SSL training step at
// batch 64, 32x32 images: the 2048-wide projection and prediction heads
// (forward x·Wᵀ, input gradient dy·W, weight gradient dyᵀ·x) and the
// im2col GEMMs of ResNet-18's stages (forward W·col, filter gradient
// dy·colᵀ, column gradient Wᵀ·dy).
var gemmBenchShapes = []struct {
	name    string
	tA, tB  bool
	m, n, k int
}{
	{"head512x2048/fwd", false, true, 64, 2048, 512},
	{"head2048x2048/fwd", false, true, 64, 2048, 2048},
	{"head2048x512/fwd", false, true, 64, 512, 2048},
	{"head2048x2048/dx", false, false, 64, 2048, 2048},
	{"head2048x2048/dw", true, false, 2048, 2048, 64},
	{"conv64x8x8/fwd", false, false, 64, 4096, 576},
	{"conv64x8x8/dw", false, true, 64, 576, 4096},
	{"conv64x8x8/dcol", true, false, 576, 4096, 64},
	{"conv128x4x4/fwd", false, false, 128, 1024, 1152},
	{"conv256x2x2/fwd", false, false, 256, 256, 2304},
}

// BenchmarkGemm reports GFLOP/s (2mnk per product) of ParallelGemm on the
// shapes above, per second of wall-clock time and per second of CPU time
// (which other jobs on a shared machine disturb less):
// go test -run '^$' -bench Gemm -benchtime 20x ./internal/linalg
func BenchmarkGemm(b *testing.B) {
	for _, s := range gemmBenchShapes {
		b.Run(s.name, func(b *testing.B) {
			ar, ac := s.m, s.k
			if s.tA {
				ar, ac = ac, ar
			}
			br, bc := s.k, s.n
			if s.tB {
				br, bc = bc, br
			}
			a := make([]float32, ar*ac)
			bb := make([]float32, br*bc)
			c := make([]float32, s.m*s.n)
			for i := range a {
				a[i] = float32(i%17) * 0.1
			}
			for i := range bb {
				bb[i] = float32(i%13) * 0.1
			}
			ParallelGemm(s.tA, s.tB, s.m, s.n, s.k, 1, a, ac, bb, bc, 0, c, s.n)
			b.ResetTimer()
			cpu0 := cputime.Process()
			for range b.N {
				ParallelGemm(s.tA, s.tB, s.m, s.n, s.k, 1, a, ac, bb, bc, 0, c, s.n)
			}
			cpu := cputime.Process() - cpu0
			gflop := 2 * float64(s.m) * float64(s.n) * float64(s.k) * float64(b.N) / 1e9
			b.ReportMetric(gflop/b.Elapsed().Seconds(), "GFLOP/s")
			b.ReportMetric(gflop/cpu.Seconds(), "GFLOP/cpu-s")
		})
	}
}

// BenchmarkSgemmKernel runs the 6x16 micro-kernel alone on panels in the
// L1 cache (kc = 256): the ceiling of the native GEMM on one core.
func BenchmarkSgemmKernel(b *testing.B) {
	if kernelAsm && !haveAVX2FMA {
		b.Skip("no AVX2/FMA")
	}
	const kc, calls = kcBlock, 100
	a := make([]float32, mr*kc)
	bb := make([]float32, nr*kc)
	c := make([]float32, mr*nr)
	cpu0 := cputime.Process()
	for range b.N {
		for range calls {
			sgemmKernel6x16(kc, &a[0], &bb[0], &c[0], nr, 1, true)
		}
	}
	cpu := cputime.Process() - cpu0
	gflop := 2 * float64(mr*nr*kc) * calls * float64(b.N) / 1e9
	b.ReportMetric(gflop/b.Elapsed().Seconds(), "GFLOP/s")
	b.ReportMetric(gflop/cpu.Seconds(), "GFLOP/cpu-s")
}

// BenchmarkPack times the packing of a 256x256 block of a 2048-wide
// matrix, per element of CPU time, for each layout.
func BenchmarkPack(b *testing.B) {
	const kc = kcBlock
	src := make([]float32, 2048*2048)
	dst := make([]float32, 256*256)
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"B", func() { packB(dst, false, src, 2048, 0, kc, 0, 256) }},
		{"Bt", func() { packB(dst, true, src, 2048, 0, kc, 0, 256) }},
		{"A", func() { packA(dst, false, src, 2048, 0, 252, 0, kc) }},
		{"At", func() { packA(dst, true, src, 2048, 0, 252, 0, kc) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			cpu0 := cputime.Process()
			for range b.N {
				tc.f()
			}
			b.ReportMetric(float64((cputime.Process()-cpu0).Nanoseconds())/float64(b.N)/(256*256), "ns/elem-cpu")
		})
	}
}
