package dataset_test

import (
	"context"
	"fmt"
	"log"

	"github.com/disiam/disiam/augment"
	"github.com/disiam/disiam/dataset"
)

// Open a dataset by its spec string, as every example and tool does.
func ExampleOpen() {
	ds, err := dataset.Open("synthetic,train=200", dataset.Train)
	if err != nil {
		log.Fatal(err)
	}
	img := ds.Image(0)
	fmt.Println(ds.Len(), "images,", ds.Classes(), "classes,", img.C, "x", img.H, "x", img.W)
	fmt.Println(ds.(dataset.ClassNamer).ClassNames()[:4])
	// Output:
	// 200 images, 10 classes, 3 x 32 x 32
	// [disk square triangle plus]
}

// A SimSiam loader: two augmented views per image, NCHW float32 batches.
func ExampleNewLoader() {
	ds, err := dataset.Open("synthetic,train=300", dataset.Train)
	if err != nil {
		log.Fatal(err)
	}
	l, err := dataset.NewLoader(ds, dataset.LoaderConfig{
		BatchSize: 128,
		Views:     augment.MultiView(2, augment.SimSiamView(32, augment.CIFAR10Norm)),
		Shuffle:   true,
		DropLast:  true,
		Seed:      1,
	})
	if err != nil {
		log.Fatal(err)
	}
	for epoch := range 2 {
		ep := l.Epoch(context.Background(), epoch)
		for b, ok := ep.Next(); ok; b, ok = ep.Next() {
			// b.Views[0] and b.Views[1] back two [128, 3, 32, 32] tensors;
			// they are valid until the next call to Next.
			fmt.Println("epoch", b.Epoch, "batch", b.Number, len(b.Views), "views of", len(b.Views[0]), "floats")
		}
		if err := ep.Err(); err != nil {
			log.Fatal(err)
		}
		ep.Close()
	}
	// Output:
	// epoch 0 batch 0 2 views of 393216 floats
	// epoch 0 batch 1 2 views of 393216 floats
	// epoch 1 batch 0 2 views of 393216 floats
	// epoch 1 batch 1 2 views of 393216 floats
}

// Fashion-MNIST as installed by `apt-get install dataset-fashion-mnist`,
// expanded to 3 channels for RGB backbones.
func ExampleLoadMNIST() {
	ds, err := dataset.Open("fashion-mnist,rgb", dataset.Test)
	if err != nil {
		fmt.Println("Fashion-MNIST is not installed:", err)
		return
	}
	fmt.Println(ds.Len(), ds.Image(0).C)
}
