package main

import (
	"cmp"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"

	"github.com/disiam/disiam/augment"
	"github.com/disiam/disiam/dataset"
)

// demoSeeds draw the demo's pretraining and evaluation images from two
// different streams of the synthetic set, so that no evaluation image is
// a pretraining image.
const demoPretrainSeed, demoEvalSeed = 101, 202

// writeDemo writes the demonstration folders under dir and returns their
// dataset specs: pretrain images of the synthetic set (seed 101) in one
// unlabeled folder, dir/pretrain/train/images/, and bank training and
// test query images of another draw (seed 202) in Imagenette's layout,
// dir/eval/train/<class>/ and dir/eval/val/<class>/. Zero counts mean
// 1000 (pretraining, bank) and 200 (queries).
func writeDemo(dir string, pretrain, bank, test int) (pretrainSpec, evalSpec string, err error) {
	pretrain, bank, test = cmp.Or(pretrain, 1000), cmp.Or(bank, 1000), cmp.Or(test, 200)
	pre, err := dataset.Open(fmt.Sprintf("synthetic,seed=%d,train=%d", demoPretrainSeed, pretrain), dataset.Train)
	if err != nil {
		return "", "", err
	}
	if err := writePNGs(filepath.Join(dir, "pretrain", "train"), pre, func(int) string { return "images" }); err != nil {
		return "", "", err
	}
	names := dataset.SyntheticClasses
	class := func(l int) string { return fmt.Sprintf("%02d_%s", l, names[l]) }
	for _, sp := range []struct {
		split dataset.Split
		sub   string
		spec  string
	}{
		{dataset.Train, "train", fmt.Sprintf("synthetic,seed=%d,train=%d", demoEvalSeed, bank)},
		{dataset.Test, "val", fmt.Sprintf("synthetic,seed=%d,test=%d", demoEvalSeed, test)},
	} {
		ds, err := dataset.Open(sp.spec, sp.split)
		if err != nil {
			return "", "", err
		}
		if err := writePNGs(filepath.Join(dir, "eval", sp.sub), ds, func(i int) string { return class(ds.Label(i)) }); err != nil {
			return "", "", err
		}
	}
	size := pre.Image(0).H
	return fmt.Sprintf("folder:%s,size=%d", filepath.Join(dir, "pretrain"), size),
		fmt.Sprintf("folder:%s,size=%d", filepath.Join(dir, "eval"), size), nil
}

// writePNGs writes every image of ds as dir/<folder(i)>/<i>.png, 8-bit RGB.
func writePNGs(dir string, ds dataset.Dataset, folder func(i int) string) error {
	for i := range ds.Len() {
		d := filepath.Join(dir, folder(i))
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		f, err := os.Create(filepath.Join(d, fmt.Sprintf("%05d.png", i)))
		if err != nil {
			return err
		}
		err = png.Encode(f, toRGBA(ds.Image(i)))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// toRGBA converts a CHW image in [0, 1] (1 or 3 channels) to 8 bits.
func toRGBA(im augment.Image) *image.RGBA {
	out := image.NewRGBA(image.Rect(0, 0, im.W, im.H))
	plane := im.H * im.W
	at := func(c, p int) uint8 {
		if im.C == 1 {
			c = 0
		}
		return uint8(math.Round(255 * min(max(float64(im.Pix[c*plane+p]), 0), 1)))
	}
	for y := range im.H {
		for x := range im.W {
			p := y*im.W + x
			out.SetRGBA(x, y, color.RGBA{R: at(0, p), G: at(1, p), B: at(2, p), A: 255})
		}
	}
	return out
}
