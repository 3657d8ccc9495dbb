//go:build amd64 && !purego

package knn

import "golang.org/x/sys/cpu"

// useAVX2 reports whether the CPU and the OS support the AVX, AVX2 and FMA
// instructions of dotLanesAVX2 and scanGTAVX2. golang.org/x/sys/cpu reads
// the CPUID feature bits; its HasAVX and HasAVX2 are true only when the OS
// also saves the YMM registers on a context switch (the OSXSAVE bit, and
// XGETBV reporting XMM and YMM state enabled in XCR0).
var useAVX2 = cpu.X86.HasAVX && cpu.X86.HasAVX2 && cpu.X86.HasFMA

// dotLanesAVX2 adds a[i]*b[i] (in float64) to l[i%16] for i < n; n is a
// positive multiple of 16.
//
//go:noescape
func dotLanesAVX2(a, b *float32, n int, l *[dotLanes]float64)

// scanGTAVX2 returns the index of the first of the n values at s greater
// than t, or n; n is a positive multiple of 8.
//
//go:noescape
func scanGTAVX2(s *float32, n int, t float32) int
