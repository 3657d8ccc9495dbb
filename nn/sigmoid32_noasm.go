//go:build !amd64 || purego

package nn

const useAVX2 = false

func sigmoidAVX2(y, x *float32, n int, silu bool) { panic("nn: no assembly") }
func siluGradAVX2(dx, x, dy *float32, n int)      { panic("nn: no assembly") }
