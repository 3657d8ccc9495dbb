// Package kitti reads the KITTI 3D object detection benchmark's files:
// label_2 annotations and calib matrices.
//
// A label line gives the object type, truncation, occlusion, observation
// angle alpha, the 2D box (x1 y1 x2 y2), the dimensions h w l, the
// location of the box's bottom centre in the rectified camera frame (x
// right, y down, z forward) and rotation_y. Label.Object converts it to a
// detect.Object in detect's conventions: gravity centre (y − h/2), size
// (l, h, w), yaw = rotation_y; depth is the location's z, never a
// projection through P2. The calib file's P2, whose 4th column holds the
// offset from the reference camera, is the detect.Camera of the images
// (image_2): detect.Camera.Project and Unproject use all of it.
//
// Bad lines are errors naming the file, the line and the field (wrapping
// ErrFormat): a wrong field count, a non-finite number, a degenerate box
// or non-positive dimensions (DontCare regions excepted).
//
// Get the data from https://www.cvlibs.net/datasets/kitti/eval_object.php
// (left colour images, calibration files and training labels) and unpack
// it; ReadSample(dir, "000123") reads one sample of training/ or
// testing/.
package kitti
