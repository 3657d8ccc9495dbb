package augment_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/disiam/disiam/augment"
)

// ResizedCrop upsamples with PyTorch's bilinear rule (align_corners=False):
// samples are pixel centres, and the edges repeat.
func ExampleResizedCrop() {
	src := augment.Image{C: 1, H: 2, W: 2, Pix: []float32{0, 1, 2, 3}}
	dst := augment.NewImage(1, 4, 4)
	augment.ResizedCrop(dst, src, 0, 0, 2, 2)
	for y := range 4 {
		fmt.Println(dst.Pix[y*4 : y*4+4])
	}
	// Output:
	// [0 0.25 0.75 1]
	// [0.5 0.75 1.25 1.5]
	// [1.5 1.75 2.25 2.5]
	// [2 2.25 2.75 3]
}

// Two SimSiam views of one image, drawn from the image's own random
// stream: the same (seed, epoch, index) gives the same views.
func ExampleMultiView() {
	img := augment.NewImage(3, 48, 48)
	for i := range img.Pix {
		img.Pix[i] = float32(i%97) / 96
	}
	views := augment.MultiView(2, augment.SimSiamView(32, augment.CIFAR10Norm))
	var ws augment.Workspace
	sr := augment.NewSampleRand()
	rng := sr.Seed(42, 0, 7) // seed 42, epoch 0, image 7
	for j, v := range views {
		out := ws.Run(v, img, rng)
		fmt.Printf("view %d: %dx%dx%d\n", j, out.C, out.H, out.W)
	}
	// Output:
	// view 0: 3x32x32
	// view 1: 3x32x32
}

// A custom pipeline: transforms are structs whose zero fields mean
// torchvision's defaults.
func ExampleCompose() {
	t := augment.Compose{
		augment.RandomResizedCrop{Size: 24}, // scale (0.08, 1), ratio (3/4, 4/3)
		augment.RandomHorizontalFlip{},      // p = 0.5
		augment.RandomApply{P: 0.8, Transform: augment.ColorJitter{Brightness: 0.4, Contrast: 0.4, Saturation: 0.4, Hue: 0.1}},
		augment.RandomGrayscale{P: 0.2},
		augment.ImageNetNorm,
	}
	if err := augment.Validate(t); err != nil {
		fmt.Println(err)
		return
	}
	var ws augment.Workspace
	out := ws.Run(t, augment.NewImage(3, 64, 80), rand.New(rand.NewPCG(1, 2)))
	fmt.Println(out.C, out.H, out.W)
	fmt.Println(augment.Validate(augment.Compose{augment.ColorJitter{Hue: 0.7}}))
	// Output:
	// 3 24 24
	// augment: Compose[0]: augment: ColorJitter: hue 0.7 outside [0, 0.5]
}
