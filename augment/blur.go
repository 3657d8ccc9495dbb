package augment

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// GaussianKernel writes to k (of odd length) torchvision's 1-D Gaussian
// kernel for sigma: x = linspace(-(n-1)/2, (n-1)/2, n), pdf = exp(-0.5 (x/sigma)^2),
// normalized to sum 1, computed in float32 as _get_gaussian_kernel1d does.
func GaussianKernel(k []float32, sigma float64) {
	half := float32(len(k)-1) * 0.5
	s := float32(sigma)
	var sum float32
	for i := range k {
		x := -half + float32(i)
		z := x / s
		k[i] = float32(math.Exp(float64(-0.5 * (z * z))))
		sum += k[i]
	}
	for i := range k {
		k[i] /= sum
	}
}

// reflect maps index i into [0, n) by reflection about the edges without
// repeating them (PyTorch's "reflect" padding: -1 -> 1, n -> n-2), folding
// repeatedly when the padding is wider than the image.
func reflect(i, n int) int {
	if n == 1 {
		return 0
	}
	p := 2 * (n - 1)
	i %= p
	if i < 0 {
		i += p
	}
	if i >= n {
		i = p - i
	}
	return i
}

// Blur writes src convolved with a Gaussian of kernelW x kernelH taps (odd,
// positive) and standard deviations sigmaX, sigmaY (positive) to dst, with
// reflect padding: torchvision's F.gaussian_blur(img, [kernelW, kernelH],
// [sigmaX, sigmaY]). The 2-D kernel is the outer product of the two 1-D
// kernels, applied separably. dst must not share storage with src.
func Blur(dst, src Image, kernelW, kernelH int, sigmaX, sigmaY float64) {
	var ws Workspace
	blur(dst, src, kernelW, kernelH, sigmaX, sigmaY, &ws)
}

func blur(dst, src Image, kw, kh int, sx, sy float64, ws *Workspace) {
	checkSame("Blur", dst, src)
	if kw <= 0 || kh <= 0 || kw%2 == 0 || kh%2 == 0 {
		panic(fmt.Sprintf("augment: Blur: kernel %dx%d is not odd and positive", kw, kh))
	}
	if !(sx > 0 && sy > 0) {
		panic(fmt.Sprintf("augment: Blur: sigma (%v, %v) not positive", sx, sy))
	}
	if overlaps(dst.Pix, src.Pix) {
		panic("augment: Blur: dst overlaps src")
	}
	kern := ws.kernBuf(kw + kh)
	kx, ky := kern[:kw], kern[kw:]
	GaussianKernel(kx, sx)
	GaussianKernel(ky, sy)
	h, w := src.H, src.W
	px, py := kw/2, kh/2
	plane := h * w
	// Vertical pass, src -> dst.
	for c := range src.C {
		sp := src.Pix[c*plane : (c+1)*plane]
		dp := dst.Pix[c*plane : (c+1)*plane]
		for y := range h {
			d := dp[y*w : y*w+w]
			for x := range d {
				d[x] = 0
			}
			for i, k := range ky {
				yy := y + i - py
				if yy < 0 || yy >= h {
					yy = reflect(yy, h)
				}
				row := sp[yy*w : yy*w+w]
				for x, v := range row {
					d[x] += k * v
				}
			}
		}
	}
	// Horizontal pass, in place through a padded row buffer.
	row := ws.rowBuf(w + 2*px)
	for r := range src.C * h {
		d := dst.Pix[r*w : r*w+w]
		for j := range row {
			row[j] = d[reflect(j-px, w)]
		}
		for x := range d {
			var acc float32
			for j, k := range kx {
				acc += k * row[x+j]
			}
			d[x] = acc
		}
	}
}

// GaussianBlur blurs with a kernel of Kernel x Kernel taps and a standard
// deviation drawn uniformly from Sigma, as torchvision's GaussianBlur (the
// transform SimCLR and BYOL use).
type GaussianBlur struct {
	// Kernel is the odd kernel side. Zero means SimCLR's rule, about 10% of
	// the image side: int(0.1 * max(H, W)), made odd by adding 1 if even
	// (23 at 224 x 224, 3 at 32 x 32).
	Kernel int
	// Sigma is the standard deviation range; zero means (0.1, 2.0).
	Sigma [2]float64
}

func (g GaussianBlur) sigma() [2]float64 {
	if g.Sigma == [2]float64{} {
		return [2]float64{0.1, 2.0}
	}
	return g.Sigma
}

// KernelFor returns the kernel side used on an image of height x width.
func (g GaussianBlur) KernelFor(height, width int) int {
	if g.Kernel > 0 {
		return g.Kernel
	}
	k := int(0.1 * float64(max(height, width)))
	if k%2 == 0 {
		k++
	}
	return k
}

// Apply implements Transform.
func (g GaussianBlur) Apply(img Image, rng *rand.Rand, ws *Workspace) Image {
	s := g.sigma()
	sigma := uniform(rng, s[0], s[1])
	k := g.KernelFor(img.H, img.W)
	out := Image{C: img.C, H: img.H, W: img.W}
	out.Pix = ws.Buffer(len(img.Pix), img.Pix, nil)
	blur(out, img, k, k, sigma, sigma, ws)
	return out
}

// Validate implements Validator.
func (g GaussianBlur) Validate() error {
	s := g.sigma()
	if g.Kernel < 0 || (g.Kernel > 0 && g.Kernel%2 == 0) {
		return fmt.Errorf("augment: GaussianBlur: kernel %d is not odd and positive", g.Kernel)
	}
	if !(s[0] > 0 && s[0] <= s[1]) {
		return fmt.Errorf("augment: GaussianBlur: sigma %v is not 0 < min <= max", s)
	}
	return nil
}
