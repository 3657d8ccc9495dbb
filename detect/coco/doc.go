// Package coco reads and writes COCO-format detection data and evaluates
// box detections exactly as pycocotools' COCOeval(gt, dt, "bbox") does.
//
// # Data
//
// Read (or Decode) loads an instances JSON file: images, annotations (bbox
// as [x, y, width, height], area, iscrowd) and categories. Category ids are
// arbitrary positive numbers; a detector's class indices are 0-based and
// contiguous, in the order of the categories sorted by id. ClassIndex and
// CategoryID convert between the two, Objects gives an image's
// annotations as detect.Objects (xyxy boxes, class indices). Every record
// is validated when it is read: a degenerate box (width or height ≤ 0), a
// non-finite number, a duplicate id or a reference to an unknown image or
// category is an error naming the file, the record's position and id and
// the field (wrapping ErrFormat), never a panic later.
//
// Results are detections in COCO's results format (image_id, category_id,
// bbox xywh, score), the list COCO.loadRes reads and the evaluation servers
// accept; Dataset.Results converts a detector's detect.Detections to them,
// WriteResults and ReadResults store them.
//
// # Evaluation
//
// Evaluate reproduces cocoeval.py's evaluate, accumulate and summarize for
// boxes with the default parameters: IoU thresholds 0.5:0.05:0.95 and
// recall thresholds 0:0.01:1 as numpy.linspace computes them, maxDets 1,
// 10, 100, area ranges all/small/medium/large with inclusive bounds,
// crowd regions that absorb any number of detections, and 101-point
// interpolated precision. Eval.Stats are the 12 numbers summarize prints
// (AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl),
// Eval.ClassStats the same restricted to one category, and
// Eval.Precision/Recall the accumulated arrays. Where pycocotools is
// lenient with results that refer to unknown categories (it drops them
// silently) Evaluate returns an error.
//
// Areas: a ground truth's area is the file's "area" field (the mask area
// in COCO itself), which decides its area range; a detection's area is
// its box's width·height.
//
// # Fine-tuning
//
// Evaluator measures an FCOS detector on a validation detect.Loader for
// the shared training loop (a train.Evaluator): metrics "mAP", "mAP50"
// and the other statistics (MetricNames). FromDataset turns any
// detect.Dataset into the ground truth, and OpenImages opens a COCO set
// with its JPEG or PNG files as a detect.Dataset.
//
// Evaluation is parallel over categories on internal/parallel's workers;
// the result does not depend on the number of workers.
package coco
