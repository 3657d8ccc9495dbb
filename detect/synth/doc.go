// Package synth generates the embedded detection datasets: synthetic
// images with exact labels, computed in code from a seed, so every example
// and test runs without downloads.
//
// SyntheticShapes is a cheap 2D detection set: several of dataset's
// anti-aliased shapes per image (the classes are the shape kinds) at
// sizes from 8 pixels to nearly the image side, so objects reach every FPN
// level the image size allows. SyntheticDriving is a monocular 3D set in
// the nuScenes mould: a level pinhole camera (65° field of view, the
// horizon at the middle row) over a flat road, with shaded, motion-blurred
// cuboid cars, trucks, pedestrians, traffic cones and barriers labelled
// with their exact 3D boxes, velocities, attributes and converter-style
// 2D boxes, in nuScenes' class and attribute indices.
//
// Both return a *detect.Set (a detect.Dataset): 8-bit CHW images in memory,
// per-image objects and cameras. Image i of a split depends only on (Seed,
// split, i) through augment.SampleRand, so sets are reproducible and
// generation runs in parallel on internal/parallel's workers with results
// that do not depend on their number. The training and test splits draw
// from different streams.
//
// Sizes and speed: the default driving set (256 training and 64 test
// images of 256×128) takes 24 MB and about a second per 100 images on one
// core (measured on a shared 2-core machine); the default shapes set (512
// + 128 images of 256×256) takes 126 MB and about 0.65 s per 100 images.
package synth
