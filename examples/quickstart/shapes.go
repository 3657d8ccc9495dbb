package main

import (
	"math/rand/v2"

	"github.com/disiam/disiam/augment"
	"github.com/disiam/disiam/dataset"
)

// outlines presents a dataset's images as their outlines: the grayscale
// image (ITU-R 601 luma, as torchvision's Grayscale, in all three
// channels) minus its Gaussian blur (σ = 3/32 of the side, 15 taps at
// 32×32), times 1.5, plus 0.5, clamped to [0, 1]. Edges keep their
// contrast; smooth color gradients, the synthetic set's backgrounds,
// become flat gray. It is applied once, to the training images and the
// kNN queries alike, so the random initialization and the trained encoder
// are measured on the same images.
type outlines struct{ dataset.Dataset }

// Image implements dataset.Dataset.
func (o outlines) Image(i int) augment.Image {
	img := o.Dataset.Image(i)
	gray := augment.NewImage(3, img.H, img.W)
	if img.C == 3 {
		augment.ToGrayscale(gray, img)
	} else {
		for c := range 3 {
			copy(gray.Pix[c*img.H*img.W:], img.Pix[:img.H*img.W])
		}
	}
	sigma := 3 * float64(min(img.H, img.W)) / 32
	k := int(5*sigma) | 1
	blur := augment.NewImage(3, img.H, img.W)
	augment.Blur(blur, gray, k, k, sigma, sigma)
	for j, v := range gray.Pix {
		gray.Pix[j] = min(max(0.5+1.5*(v-blur.Pix[j]), 0), 1)
	}
	return gray
}

// randomInvert replaces every sample x by 1-x with probability P.
type randomInvert struct{ P float64 }

// Apply implements augment.Transform.
func (t randomInvert) Apply(img augment.Image, rng *rand.Rand, _ *augment.Workspace) augment.Image {
	if rng.Float64() < t.P {
		for i, v := range img.Pix {
			img.Pix[i] = 1 - v
		}
	}
	return img
}

// randomRot90 rotates a square image counterclockwise by 0, 90, 180 or 270
// degrees, each with probability 1/4 (torch.rot90(x, k, (1, 2))); other
// images pass through.
type randomRot90 struct{}

// Apply implements augment.Transform.
func (randomRot90) Apply(img augment.Image, rng *rand.Rand, ws *augment.Workspace) augment.Image {
	k := rng.IntN(4)
	if k == 0 || img.H != img.W {
		return img
	}
	n := img.H
	out := augment.Image{C: img.C, H: n, W: n, Pix: ws.Buffer(len(img.Pix), img.Pix, nil)}
	rot90(out, img, k)
	return out
}

// rot90 writes src rotated counterclockwise by k quarter turns into dst
// (both square, of the same size): dst[y][x] is src[x][n-1-y] for one
// turn, as torch.rot90 with dims (H, W).
func rot90(dst, src augment.Image, k int) {
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
