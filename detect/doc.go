// Package detect carries self-supervised backbones into object detection:
// 2D detection with FCOS (torchvision's) and monocular 3D detection with
// FCOS3D (mmdetection3d's), on any backbone that offers a feature pyramid,
// with the data formats and metrics (COCO mAP, the nuScenes detection
// score) needed to fine-tune and measure them.
package detect
