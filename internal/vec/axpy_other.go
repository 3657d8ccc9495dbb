//go:build !amd64 || purego

package vec

const haveFMA = false

func saxpyFMA(n int, a float32, x, y *float32) { panic("vec: no assembly") }
