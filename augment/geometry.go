package augment

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// ResizedCrop writes to dst the rectangle of src with top-left corner
// (top, left) and size height x width, resized to dst's H x W by bilinear
// interpolation with align_corners=False and no antialiasing: torchvision's
// F.resized_crop(img, top, left, height, width, [dst.H, dst.W],
// antialias=False) on a float tensor. Parts of the rectangle outside src read
// as zero, as torchvision pads them. dst.C must equal src.C and dst must not
// share storage with src.
func ResizedCrop(dst, src Image, top, left, height, width int) {
	var ws Workspace
	resizedCrop(dst, src, top, left, height, width, &ws)
}

// Rescale resizes src to dst's H x W by bilinear interpolation
// (align_corners=False): torchvision's F.resize on a float tensor, with or
// without antialias. Without it, it is PyTorch's upsample_bilinear2d, fine
// for upsampling (the thesis' 224 x 224 evaluation) and mild downsampling;
// with it, it is PyTorch's antialiased bilinear (a triangle filter widened by
// the downscale factor, as PIL), the right choice to shrink images a lot.
// dst.C must equal src.C and dst must not share storage with src.
func Rescale(dst, src Image, antialias bool) {
	var ws Workspace
	rescale(dst, src, antialias, &ws)
}

// HFlip writes src mirrored left-right to dst (torchvision's F.hflip).
// dst may be src itself (same Pix) but must not otherwise overlap it.
func HFlip(dst, src Image) {
	checkSame("HFlip", dst, src)
	n := src.C * src.H
	w := src.W
	inPlace := len(dst.Pix) > 0 && &dst.Pix[0] == &src.Pix[0]
	for r := range n {
		s := src.Pix[r*w : r*w+w]
		d := dst.Pix[r*w : r*w+w]
		if inPlace {
			for i, j := 0, w-1; i < j; i, j = i+1, j-1 {
				d[i], d[j] = d[j], d[i]
			}
			continue
		}
		for i := range w {
			d[i] = s[w-1-i]
		}
	}
}

// CenterCropRect returns the top-left corner of the rectangle torchvision's
// F.center_crop takes from an image of height x width for an output of
// outH x outW: centred, rounding half to even as Python's round, and, along
// a side the output exceeds, zero padding split with the odd pixel after
// the image.
func CenterCropRect(height, width, outH, outW int) (top, left int) {
	offset := func(in, out int) int {
		if out > in {
			return -((out - in) / 2)
		}
		return int(math.RoundToEven(float64(in-out) / 2))
	}
	return offset(height, outH), offset(width, outW)
}

func checkSame(op string, dst, src Image) {
	checkImage(op, src)
	checkImage(op, dst)
	if dst.C != src.C || dst.H != src.H || dst.W != src.W {
		panic(fmt.Sprintf("augment: %s: dst %dx%dx%d, src %dx%dx%d", op, dst.C, dst.H, dst.W, src.C, src.H, src.W))
	}
}

func checkImage(op string, m Image) {
	if m.C <= 0 || m.H <= 0 || m.W <= 0 || len(m.Pix) != m.C*m.H*m.W {
		panic(fmt.Sprintf("augment: %s: image %dx%dx%d with %d samples", op, m.C, m.H, m.W, len(m.Pix)))
	}
}

// linearAxis fills, for each of out output positions along an axis of in
// input samples, the two source indices and weights of PyTorch's
// upsample_bilinear2d with align_corners=False (area_pixel_compute_source_index
// and guard_index_and_lambda), offset by off. Indices that fall outside
// [0, limit) get weight zero (torchvision's zero padding of crops).
func linearAxis(idx []int32, wt []float32, in, out, off, limit int) {
	scale := float64(in) / float64(out)
	for o := range out {
		var i0, i1 int
		var l0, l1 float64
		if in == out {
			i0, i1, l0, l1 = o, o, 1, 0
		} else {
			src := scale*(float64(o)+0.5) - 0.5
			if src < 0 {
				src = 0
			}
			i0 = min(int(src), in-1)
			l1 = min(max(src-float64(i0), 0), 1)
			l0 = 1 - l1
			i1 = i0
			if i0 < in-1 {
				i1 = i0 + 1
			}
		}
		i0 += off
		i1 += off
		if i0 < 0 || i0 >= limit {
			i0, l0 = 0, 0
		}
		if i1 < 0 || i1 >= limit {
			i1, l1 = 0, 0
		}
		idx[2*o], idx[2*o+1] = int32(i0), int32(i1)
		wt[2*o], wt[2*o+1] = float32(l0), float32(l1)
	}
}

func resizedCrop(dst, src Image, top, left, height, width int, ws *Workspace) {
	checkImage("ResizedCrop", src)
	checkImage("ResizedCrop", dst)
	if dst.C != src.C {
		panic(fmt.Sprintf("augment: ResizedCrop: dst has %d channels, src %d", dst.C, src.C))
	}
	if height <= 0 || width <= 0 {
		panic(fmt.Sprintf("augment: ResizedCrop: crop %dx%d", height, width))
	}
	if overlaps(dst.Pix, src.Pix) {
		panic("augment: ResizedCrop: dst overlaps src")
	}
	oh, ow := dst.H, dst.W
	idx, wt := ws.indices(2*(oh+ow), 2*(oh+ow))
	yi, xi := idx[:2*oh], idx[2*oh:]
	yw, xw := wt[:2*oh], wt[2*oh:]
	linearAxis(yi, yw, height, oh, top, src.H)
	linearAxis(xi, xw, width, ow, left, src.W)
	plane := src.H * src.W
	for c := range src.C {
		sp := src.Pix[c*plane : (c+1)*plane]
		dp := dst.Pix[c*oh*ow : (c+1)*oh*ow]
		for oy := range oh {
			r0 := sp[int(yi[2*oy])*src.W : int(yi[2*oy])*src.W+src.W]
			r1 := sp[int(yi[2*oy+1])*src.W : int(yi[2*oy+1])*src.W+src.W]
			t0, t1 := yw[2*oy], yw[2*oy+1]
			d := dp[oy*ow : oy*ow+ow]
			for ox := range d {
				x0, x1 := xi[2*ox], xi[2*ox+1]
				s0, s1 := xw[2*ox], xw[2*ox+1]
				d[ox] = t0*(s0*r0[x0]+s1*r0[x1]) + t1*(s0*r1[x0]+s1*r1[x1])
			}
		}
	}
}

// aaTaps returns the tap stride of aaAxis for in -> out samples.
func aaTaps(in, out int) int {
	scale := float64(in) / float64(out)
	return int(math.Ceil(max(scale, 1)))*2 + 1
}

// aaAxis computes PyTorch's antialiased bilinear taps
// (_compute_indices_weights_aa with the triangle filter): for each output
// position o, starts[2o] and starts[2o+1] are the first source index and the
// tap count, and the weights, normalized to sum 1, are wts[o*k : o*k+count].
func aaAxis(in, out, k int, wts []float32, starts []int32) {
	scale := float64(in) / float64(out)
	support, invscale := 1.0, 1.0
	if scale >= 1 {
		support, invscale = scale, 1/scale
	}
	filter := func(j, xmin int, center float64) float64 {
		x := math.Abs((float64(j+xmin) - center + 0.5) * invscale)
		if x < 1 {
			return 1 - x
		}
		return 0
	}
	for o := range out {
		center := scale * (float64(o) + 0.5)
		xmin := max(int(center-support+0.5), 0)
		xsize := min(min(int(center+support+0.5), in)-xmin, k)
		var total float64
		for j := range xsize {
			total += filter(j, xmin, center)
		}
		tw := wts[o*k : o*k+k]
		for j := range tw {
			tw[j] = 0
		}
		for j := range xsize {
			w := filter(j, xmin, center)
			if total != 0 {
				w /= total
			}
			tw[j] = float32(w)
		}
		starts[2*o] = int32(xmin)
		starts[2*o+1] = int32(xsize)
	}
}

func rescale(dst, src Image, antialias bool, ws *Workspace) {
	checkImage("Rescale", src)
	checkImage("Rescale", dst)
	if dst.C != src.C {
		panic(fmt.Sprintf("augment: Rescale: dst has %d channels, src %d", dst.C, src.C))
	}
	if overlaps(dst.Pix, src.Pix) {
		panic("augment: Rescale: dst overlaps src")
	}
	if !antialias {
		resizedCrop(dst, src, 0, 0, src.H, src.W, ws)
		return
	}
	// Separable: along W into tmp (C x H x outW), then along H into dst.
	oh, ow := dst.H, dst.W
	kx, ky := aaTaps(src.W, ow), aaTaps(src.H, oh)
	idx, wt := ws.indices(2*(oh+ow), ow*kx+oh*ky)
	xs, ys := idx[:2*ow], idx[2*ow:]
	xw, yw := wt[:ow*kx], wt[ow*kx:]
	aaAxis(src.W, ow, kx, xw, xs)
	aaAxis(src.H, oh, ky, yw, ys)
	tmp := ws.Buffer(src.C*src.H*ow, src.Pix, dst.Pix)
	for r := range src.C * src.H {
		s := src.Pix[r*src.W : r*src.W+src.W]
		d := tmp[r*ow : r*ow+ow]
		for o := range d {
			st, n := int(xs[2*o]), int(xs[2*o+1])
			w := xw[o*kx : o*kx+n]
			var acc float32
			for j, wj := range w {
				acc += wj * s[st+j]
			}
			d[o] = acc
		}
	}
	for c := range src.C {
		tp := tmp[c*src.H*ow : (c+1)*src.H*ow]
		dp := dst.Pix[c*oh*ow : (c+1)*oh*ow]
		for o := range oh {
			st, n := int(ys[2*o]), int(ys[2*o+1])
			w := yw[o*ky : o*ky+n]
			d := dp[o*ow : o*ow+ow]
			for x := range d {
				d[x] = 0
			}
			for j, wj := range w {
				row := tp[(st+j)*ow : (st+j)*ow+ow]
				for x, v := range row {
					d[x] += wj * v
				}
			}
		}
	}
}

// CropParams draws the crop rectangle of RandomResizedCrop for an image of
// height x width exactly as torchvision's RandomResizedCrop.get_params: up
// to 10 tries of an area fraction uniform in scale and an aspect ratio
// log-uniform in ratio, each rounded half to even; the first that fits is
// placed uniformly at random; if none fits, the central crop of the whole
// image clamped to the ratio range.
func CropParams(rng *rand.Rand, height, width int, scale, ratio [2]float64) (top, left, h, w int) {
	area := float64(height * width)
	lr0, lr1 := math.Log(ratio[0]), math.Log(ratio[1])
	for range 10 {
		target := area * uniform(rng, scale[0], scale[1])
		ar := math.Exp(uniform(rng, lr0, lr1))
		w = int(math.RoundToEven(math.Sqrt(target * ar)))
		h = int(math.RoundToEven(math.Sqrt(target / ar)))
		if 0 < w && w <= width && 0 < h && h <= height {
			top = rng.IntN(height - h + 1)
			left = rng.IntN(width - w + 1)
			return top, left, h, w
		}
	}
	in := float64(width) / float64(height)
	rmin, rmax := min(ratio[0], ratio[1]), max(ratio[0], ratio[1])
	switch {
	case in < rmin:
		w = width
		h = int(math.RoundToEven(float64(w) / rmin))
	case in > rmax:
		h = height
		w = int(math.RoundToEven(float64(h) * rmax))
	default:
		w, h = width, height
	}
	return (height - h) / 2, (width - w) / 2, h, w
}

// RandomResizedCrop crops a random rectangle (area and aspect ratio drawn by
// CropParams) and resizes it to Size x Size by bilinear interpolation
// without antialiasing, as torchvision 0.14's RandomResizedCrop on tensors.
type RandomResizedCrop struct {
	Size  int        // output side, required
	Scale [2]float64 // area fraction range; zero means torchvision's (0.08, 1)
	Ratio [2]float64 // aspect ratio (w/h) range; zero means (3/4, 4/3)
}

func (r RandomResizedCrop) params() (scale, ratio [2]float64) {
	scale, ratio = r.Scale, r.Ratio
	if scale == [2]float64{} {
		scale = [2]float64{0.08, 1}
	}
	if ratio == [2]float64{} {
		ratio = [2]float64{3.0 / 4, 4.0 / 3}
	}
	return scale, ratio
}

// Apply implements Transform.
func (r RandomResizedCrop) Apply(img Image, rng *rand.Rand, ws *Workspace) Image {
	scale, ratio := r.params()
	top, left, h, w := CropParams(rng, img.H, img.W, scale, ratio)
	out := Image{C: img.C, H: r.Size, W: r.Size}
	out.Pix = ws.Buffer(img.C*r.Size*r.Size, img.Pix, nil)
	resizedCrop(out, img, top, left, h, w, ws)
	return out
}

// Validate implements Validator.
func (r RandomResizedCrop) Validate() error {
	scale, ratio := r.params()
	switch {
	case r.Size <= 0:
		return fmt.Errorf("augment: RandomResizedCrop: size %d", r.Size)
	case !(scale[0] > 0 && scale[0] <= scale[1]):
		return fmt.Errorf("augment: RandomResizedCrop: scale %v is not 0 < min <= max", scale)
	case !(ratio[0] > 0 && ratio[0] <= ratio[1]):
		return fmt.Errorf("augment: RandomResizedCrop: ratio %v is not 0 < min <= max", ratio)
	}
	return nil
}

// RandomHorizontalFlip mirrors the image left-right with probability P
// (torchvision's RandomHorizontalFlip: flip when a uniform draw is < p).
type RandomHorizontalFlip struct {
	P float64 // zero means torchvision's default 0.5
}

// Apply implements Transform.
func (f RandomHorizontalFlip) Apply(img Image, rng *rand.Rand, _ *Workspace) Image {
	if rng.Float64() < prob(f.P, 0.5) {
		HFlip(img, img)
	}
	return img
}

// Validate implements Validator.
func (f RandomHorizontalFlip) Validate() error { return checkProb("RandomHorizontalFlip", f.P) }

// Resize resizes by bilinear interpolation (align_corners=False), as
// torchvision's Resize on tensors: with Size > 0 the smaller side becomes
// Size and the other keeps the aspect ratio (int(Size * long / short)),
// otherwise the output is Height x Width. Antialias selects PyTorch's
// antialiased filter (torchvision 0.14's tensor default is off).
type Resize struct {
	Size          int
	Height, Width int
	Antialias     bool
}

// OutputSize returns the size Resize gives an image of height x width.
func (r Resize) OutputSize(height, width int) (h, w int) {
	if r.Size <= 0 {
		return r.Height, r.Width
	}
	if width <= height {
		return int(float64(r.Size) * float64(height) / float64(width)), r.Size
	}
	return r.Size, int(float64(r.Size) * float64(width) / float64(height))
}

// Apply implements Transform.
func (r Resize) Apply(img Image, _ *rand.Rand, ws *Workspace) Image {
	h, w := r.OutputSize(img.H, img.W)
	out := Image{C: img.C, H: h, W: w}
	out.Pix = ws.Buffer(img.C*h*w, img.Pix, nil)
	rescale(out, img, r.Antialias, ws)
	return out
}

// Validate implements Validator.
func (r Resize) Validate() error {
	if r.Size > 0 || (r.Height > 0 && r.Width > 0) {
		return nil
	}
	return fmt.Errorf("augment: Resize: size %d, %dx%d", r.Size, r.Height, r.Width)
}

// CenterCrop takes the central Size x Size rectangle (torchvision's
// CenterCrop; zero-padded when the image is smaller).
type CenterCrop struct {
	Size int
}

// Apply implements Transform.
func (c CenterCrop) Apply(img Image, _ *rand.Rand, ws *Workspace) Image {
	if img.H == c.Size && img.W == c.Size {
		return img
	}
	top, left := CenterCropRect(img.H, img.W, c.Size, c.Size)
	out := Image{C: img.C, H: c.Size, W: c.Size}
	out.Pix = ws.Buffer(img.C*c.Size*c.Size, img.Pix, nil)
	// A crop resized to its own size copies samples exactly.
	resizedCrop(out, img, top, left, c.Size, c.Size, ws)
	return out
}

// Validate implements Validator.
func (c CenterCrop) Validate() error {
	if c.Size <= 0 {
		return fmt.Errorf("augment: CenterCrop: size %d", c.Size)
	}
	return nil
}

// Rot90 writes src rotated counterclockwise by k quarter turns (k taken
// modulo 4, negative k turning clockwise) into dst, as torch.rot90(x, k,
// dims=(1, 2)) on a CHW image: for one turn dst[y][x] = src[x][n-1-y].
// Both images are square and of the same size; dst must not share src's
// pixels unless k is a multiple of 4.
func Rot90(dst, src Image, k int) {
	checkSame("Rot90", dst, src)
	if src.H != src.W {
		panic(fmt.Sprintf("augment: Rot90: %dx%d image is not square", src.H, src.W))
	}
	n := src.H
	for c := range src.C {
		s, d := src.Pix[c*n*n:(c+1)*n*n], dst.Pix[c*n*n:(c+1)*n*n]
		for y := range n {
			for x := range n {
				var sy, sx int
				switch k & 3 {
				case 0:
					sy, sx = y, x
				case 1:
					sy, sx = x, n-1-y
				case 2:
					sy, sx = n-1-y, n-1-x
				case 3:
					sy, sx = n-1-x, y
				}
				d[y*n+x] = s[sy*n+sx]
			}
		}
	}
}

// RandomRot90 rotates a square image counterclockwise by 0, 90, 180 or
// 270 degrees, each with probability 1/4 (a uniformly drawn k of
// torch.rot90). Non-square images pass through unchanged: a quarter turn
// would change their shape. It suits data without a canonical
// orientation (aerial views, the synthetic shapes), not street scenes.
type RandomRot90 struct{}

// Apply implements Transform.
func (RandomRot90) Apply(img Image, rng *rand.Rand, ws *Workspace) Image {
	k := rng.IntN(4)
	if k == 0 || img.H != img.W {
		return img
	}
	out := Image{C: img.C, H: img.H, W: img.W, Pix: ws.Buffer(len(img.Pix), img.Pix, nil)}
	Rot90(out, img, k)
	return out
}
