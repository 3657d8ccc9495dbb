//go:build !amd64 || purego

package knn

const useAVX2 = false

func dotLanesAVX2(a, b *float32, n int, l *[dotLanes]float64) { panic("knn: no AVX2") }

func scanGTAVX2(s *float32, n int, t float32) int { panic("knn: no AVX2") }
