// Package nuscenes computes the nuScenes detection metrics (mAP, the TP
// errors and the nuScenes detection score, NDS) exactly as the nuScenes
// devkit does, IoU-based 3D AP, and reads and writes the submission and
// mmdetection3d's COCO-mono3d formats.
//
// # Boxes and frames
//
// A Box is the devkit's DetectionBox: sample, translation, size (w, l, h),
// rotation quaternion (w, x, y, z), velocity (vx, vy), class name,
// attribute name and score, in a right-handed frame with z up. The
// metrics only look at the ground plane: centre distances in (x, y), yaw
// about z, velocities in (x, y). Camera-only data without ego poses
// (KITTI, synthetic scenes) is evaluated in the camera's ground plane
// (x, z): FromCamera converts a detect.Object (camera frame, x right, y
// down, z forward) to a Box with translation (z, −x, −y), so camera
// distances, yaw differences and speeds are preserved.
//
// # Detection metrics
//
// Evaluate follows the devkit's detection_cvpr_2019 configuration
// (DefaultConfig): predictions match ground truths by BEV centre distance
// below 0.5, 1, 2 and 4 m; AP is the area of the precision–recall curve
// above 10% recall and 10% precision; the TP errors (translation, scale,
// orientation, velocity, attribute) are measured on the matches at 2 m;
// NDS = (5·mAP + Σ(1 − min(1, mTP)))/10. The devkit's special rules are
// kept: traffic cones have no orientation, velocity or attribute error,
// barriers no velocity or attribute error (NaN, left out of the means),
// barrier orientation has period π, classes without ground truth get AP 0
// and errors 1, ground truths outside the class range (measured from
// Box.Ego), without points (NoPoints) or bikes in racks (InBikeRack) are
// dropped. Interpolation reproduces numpy.interp, including repeated
// recall values, and ties in score are broken as the devkit's sort breaks
// them.
//
// EvaluateIoU gives the IoU-based mAP@0.25/0.5/... of mmdetection3d's
// indoor evaluation with either the rotated BEV IoU (BEVIoU) or the 3D IoU
// (IoU3D); both rest on detect.RectIntersection (Sutherland–Hodgman
// clipping of the rotated rectangles).
//
// # Files
//
// WriteSubmission and ReadSubmission handle the submission JSON ({"meta":
// ..., "results": {sample_token: [box, ...]}}); ReadMono3D reads the
// COCO-style JSON that mmdetection3d's nuScenes converter writes for
// monocular detectors (per image cam_intrinsic; per annotation bbox_cam3d,
// velo_cam3d, center2d and attribute_id). Bad records are errors naming
// the file, the record and the field (wrapping ErrFormat).
package nuscenes
