//go:build !amd64 || purego

package optim

const useFMA = false

func sgdMomentumAVX2(n int, p, grad, b *float32, wd, scale, m, damp, lr float32, first bool) {
	panic("optim: no assembly")
}

func emaAVX2(n int, t, o *float32, a, b float32) { panic("optim: no assembly") }
