package nn

// ConvPathModes names the strategy selections ConvPaths can force.
var ConvPathModes = []string{"auto", "im2col", "per image", "shift"}

// ConvPaths forces the convolution kernels' strategy for kernels planned
// from now on and returns a function that restores the default:
// "auto" is the default, "im2col" never takes the shift path nor runs
// pointwise convolutions per image (below 256 outputs), "per image"
// runs every GEMM per image, "shift" takes the shift path wherever it
// applies.
func ConvPaths(mode string) (restore func()) {
	old := convPaths
	switch mode {
	case "auto":
	case "im2col":
		convPaths.shiftMaxP = 0
		convPaths.pointPerImg = false
	case "per image":
		convPaths.shiftMaxP = 0
		convPaths.perImageMinP = 1
	case "shift":
		convPaths.shiftMaxP = 1 << 30
		convPaths.shiftAll = true
	default:
		panic("nn: ConvPaths: unknown mode " + mode)
	}
	return func() { convPaths = old }
}
