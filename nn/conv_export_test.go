package nn

// ConvPathModes names the strategy selections ConvPaths can force.
var ConvPathModes = []string{"auto", "im2col", "per image", "shift"}

// ConvPaths forces the convolution kernels' strategy for kernels planned
// from now on and returns a function that restores the default:
// "auto" is the default, "im2col" never takes the shift path nor runs
// pointwise convolutions per image (below 256 outputs), "per image"
// runs every GEMM per image, "shift" takes the shift path wherever it
// applies; the last two also cut the batch into chunks of a few images,
// so that small tests cover the sums over chunks.
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
		convPaths.colCap = 1 << 8
	case "shift":
		convPaths.shiftMaxP = 1 << 30
		convPaths.shiftAll = true
		convPaths.colCap = 1 << 8
	default:
		panic("nn: ConvPaths: unknown mode " + mode)
	}
	return func() { convPaths = old }
}

// ConvDefaultChunks restores the default chunk size (which ConvPaths'
// "per image" and "shift" modes shrink) until the returned function runs.
func ConvDefaultChunks() (restore func()) {
	old := convPaths.colCap
	convPaths.colCap = 1 << 21
	return func() { convPaths.colCap = old }
}
