// Package augment implements the image augmentations of self-supervised
// learning with torchvision's semantics, on CHW float32 images.
//
// Transforms (RandomResizedCrop, RandomHorizontalFlip, ColorJitter,
// RandomGrayscale, GaussianBlur, Normalize, Resize, RandomApply, Compose)
// draw their randomness from a per-sample *rand.Rand; presets give the
// view distributions of SimSiam, SimCLR and BYOL.
package augment
