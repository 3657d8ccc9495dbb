"""Reference values for package detect's FCOS3D losses: a PyTorch transcription
of mmdetection3d v1.x's FCOSMono3DHead.loss_by_feat (get_targets,
_get_target_single, FCOS3DBBoxCoder.decode in training mode,
add_sin_difference, get_direction_target) with mmdetection 3.x's FocalLoss
(py_sigmoid_focal_loss), SmoothL1Loss, CrossEntropyLoss and
weight_reduce_loss (avg_factor + float32 eps), and mmdetection3d's
points_cam2img.

usage: /usr/bin/python3 gen_fcos3d.py OUTDIR    (writes OUTDIR/fcos3d_golden.json)

mmdetection3d itself cannot be installed here (no Python package index), so
this checks the Go code against a second, independent copy of the same
formulas, written from mmdetection3d's source, not against mmdetection3d.

Inputs follow the golden value rule (r_i in [-1, 1) from FNV-1a 64 of a name
and splitmix64; nntest.RuleValues in Go), in float64:
  raw head outputs per level l (before the per-level scales and exp):
    fcos3d.cls.l     [N, 10, H, W]  3 r - 2
    fcos3d.offset.l  [N, 2, H, W]   r
    fcos3d.depth.l   [N, 1, H, W]   2.5 + r
    fcos3d.size.l    [N, 3, H, W]   0.5 r
    fcos3d.rot.l     [N, 1, H, W]   3 r
    fcos3d.velo.l    [N, 2, H, W]   2 r
    fcos3d.dir.l     [N, 2, H, W]   2 r
    fcos3d.attr.l    [N, 9, H, W]   2 r
    fcos3d.ctr.l     [N, 1, H, W]   2 r
    fcos3d.scales.l  [3]            1 + 0.2 r   (offset, depth, size)
  the objects and cameras below (written to the JSON). Image size 128 x 256,
  strides 8..128, three images: a K|0 camera, a KITTI-like P2 with a non-zero
  fourth column, and an image without objects.
The JSON holds the objects, the per-image target labels (labels_3d), the
nine losses and the gradients of their sum with respect to every raw input
and scale, in float64.
"""
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
M64 = 0xFFFFFFFFFFFFFFFF
INF = 1e8
EPS32 = float(np.finfo(np.float32).eps)


def fnv1a64(name):
    h = 0xCBF29CE484222325
    for b in name.encode("utf-8"):
        h ^= b
        h = (h * 0x100000001B3) & M64
    return h


def splitmix64(x):
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        z = x
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def rule(name, shape):
    n = int(np.prod(shape))
    seed = np.uint64(fnv1a64(name))
    with np.errstate(over="ignore"):
        idx = np.arange(n, dtype=np.uint64) + seed
    u = (splitmix64(idx) >> np.uint64(40)).astype(np.float64) / float(1 << 24)
    return torch.from_numpy((2.0 * u - 1.0).reshape(shape))


# ---- configuration (configs/_base_/models/fcos3d.py) ----
N, H, W = 3, 128, 256
NUM_CLASSES, NUM_ATTRS = 10, 9
STRIDES = [8, 16, 32, 64, 128]
REGRESS_RANGES = ((-1, 48), (48, 96), (96, 192), (192, 384), (384, INF))
RADIUS, CENTERNESS_ALPHA = 1.5, 2.5
CODE_WEIGHT = [1.0, 1.0, 0.2, 1.0, 1.0, 1.0, 1.0, 0.05, 0.05]
BETA = 1.0 / 9.0
DIR_OFFSET, DIR_LIMIT_OFFSET = 0.7854, 0.0
GROUP_REG_DIMS = (2, 1, 3, 1, 2)

# ---- objects: (x, y, z gravity centre, l, h, w, yaw, vx, vz), 2D box, class, attribute ----
CAMERAS = [
    [[202.24, 0, 128, 0], [0, 202.24, 64, 0], [0, 0, 1, 0]],
    [[180.0, 0, 130.0, 10.8], [0, 180.0, 60.0, 0.05], [0, 0, 1, 0.003]],
    [[202.24, 0, 128, 0], [0, 202.24, 64, 0], [0, 0, 1, 0]],
]
OBJECTS = [
    [  # a near truck (coarse level), two cars whose centre squares overlap, a truncated car, a pedestrian, a cone
        dict(box3d=[1.5, 0.1, 6.0, 7.5, 3.0, 2.4, 0.4, 5.0, 1.0], box=[90.0, 10.0, 250.0, 128.0], label=1, attr=5),
        dict(box3d=[-3.0, 0.7, 18.0, 4.2, 1.5, 1.8, -1.2, 0.0, 0.0], box=[70.0, 62.0, 110.0, 84.0], label=0, attr=6),
        dict(box3d=[-2.3, 0.7, 19.0, 4.4, 1.6, 1.9, 2.9, -3.0, 8.0], box=[84.0, 60.0, 126.0, 82.0], label=0, attr=5),
        dict(box3d=[-9.5, 0.6, 14.0, 4.0, 1.5, 1.7, 1.6, 0.0, 0.0], box=[0.0, 55.0, 14.0, 88.0], label=0, attr=6),
        dict(box3d=[4.0, 0.6, 22.0, 0.6, 1.7, 0.6, -2.5, 0.5, -1.0], box=[160.0, 52.0, 168.0, 80.0], label=7, attr=2),
        dict(box3d=[2.0, 1.15, 10.0, 0.4, 0.7, 0.4, 0.0, 0.0, 0.0], box=[164.0, 80.0, 174.0, 94.0], label=8, attr=8),
    ],
    [
        dict(box3d=[0.5, 0.8, 12.0, 4.5, 1.6, 1.8, 3.1, 2.0, -6.0], box=[110.0, 55.0, 175.0, 96.0], label=0, attr=5),
        dict(box3d=[-4.0, 0.9, 9.0, 2.5, 1.0, 0.5, -0.3, 0.0, 0.0], box=[20.0, 60.0, 80.0, 100.0], label=9, attr=8),
        dict(box3d=[6.0, 0.3, 30.0, 8.0, 3.0, 2.5, 1.0, 0.0, 10.0], box=[150.0, 40.0, 190.0, 70.0], label=1, attr=7),
    ],
    [],
]


def points_cam2img(points_3d, proj_mat):
    """mmdet3d.structures.points_cam2img with with_depth=True."""
    d1, d2 = proj_mat.shape[:2]
    if d1 == 3:
        proj_mat_expanded = torch.eye(4, dtype=proj_mat.dtype)
        proj_mat_expanded[:d1, :d2] = proj_mat
        proj_mat = proj_mat_expanded
    points_shape = list(points_3d.shape)
    points_shape[-1] = 1
    points_4 = torch.cat([points_3d, points_3d.new_ones(points_shape)], dim=-1)
    point_2d = points_4 @ proj_mat.T
    point_2d_res = point_2d[..., :2] / point_2d[..., 2:3]
    return torch.cat([point_2d_res, point_2d[..., 2:3]], dim=-1)


def limit_period(val, offset=0.5, period=np.pi):
    return val - torch.floor(val / period + offset) * period


def grid_priors(featmap_sizes):
    """mmdet MlvlPointGenerator(strides, offset=0.5).grid_priors."""
    out = []
    for (h, w), s in zip(featmap_sizes, STRIDES):
        shift_x = (torch.arange(0, w) + 0.5) * s
        shift_y = (torch.arange(0, h) + 0.5) * s
        yy, xx = torch.meshgrid(shift_y, shift_x, indexing="ij")
        out.append(torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=-1))
    return out


def get_target_single(gt, points, regress_ranges, num_points_per_lvl):
    num_points = points.size(0)
    num_gts = len(gt["labels_3d"])
    if num_gts == 0:
        return (torch.full((num_points,), NUM_CLASSES, dtype=torch.long), torch.zeros((num_points, 9)),
                torch.zeros((num_points,)), torch.full((num_points,), NUM_ATTRS, dtype=torch.long))
    gt_bboxes = gt["bboxes"]
    gt_labels_3d = gt["labels_3d"]
    gt_bboxes_3d = gt["bboxes_3d"].clone()
    centers_2d = gt["centers_2d"]
    depths = gt["depths"]
    attr_labels = gt["attr_labels"]

    # change orientation to local yaw
    gt_bboxes_3d[..., 6] = -torch.atan2(gt_bboxes_3d[..., 0], gt_bboxes_3d[..., 2]) + gt_bboxes_3d[..., 6]

    regress_ranges = regress_ranges[:, None, :].expand(num_points, num_gts, 2)
    gt_bboxes = gt_bboxes[None].expand(num_points, num_gts, 4)
    centers_2d = centers_2d[None].expand(num_points, num_gts, 2)
    gt_bboxes_3d = gt_bboxes_3d[None].expand(num_points, num_gts, 9)
    depths = depths[None, :, None].expand(num_points, num_gts, 1)
    xs, ys = points[:, 0], points[:, 1]
    xs = xs[:, None].expand(num_points, num_gts)
    ys = ys[:, None].expand(num_points, num_gts)

    delta_xs = (xs - centers_2d[..., 0])[..., None]
    delta_ys = (ys - centers_2d[..., 1])[..., None]
    bbox_targets_3d = torch.cat((delta_xs, delta_ys, depths, gt_bboxes_3d[..., 3:]), dim=-1)

    left = xs - gt_bboxes[..., 0]
    right = gt_bboxes[..., 2] - xs
    top = ys - gt_bboxes[..., 1]
    bottom = gt_bboxes[..., 3] - ys
    bbox_targets = torch.stack((left, top, right, bottom), -1)

    # condition1: inside a `center bbox`
    center_xs = centers_2d[..., 0]
    center_ys = centers_2d[..., 1]
    center_gts = torch.zeros_like(gt_bboxes)
    stride = center_xs.new_zeros(center_xs.shape)
    lvl_begin = 0
    for lvl_idx, num_points_lvl in enumerate(num_points_per_lvl):
        lvl_end = lvl_begin + num_points_lvl
        stride[lvl_begin:lvl_end] = STRIDES[lvl_idx] * RADIUS
        lvl_begin = lvl_end
    center_gts[..., 0] = center_xs - stride
    center_gts[..., 1] = center_ys - stride
    center_gts[..., 2] = center_xs + stride
    center_gts[..., 3] = center_ys + stride
    cb_dist_left = xs - center_gts[..., 0]
    cb_dist_right = center_gts[..., 2] - xs
    cb_dist_top = ys - center_gts[..., 1]
    cb_dist_bottom = center_gts[..., 3] - ys
    center_bbox = torch.stack((cb_dist_left, cb_dist_top, cb_dist_right, cb_dist_bottom), -1)
    inside_gt_bbox_mask = center_bbox.min(-1)[0] > 0

    # condition2: limit the regression range for each location
    max_regress_distance = bbox_targets.max(-1)[0]
    inside_regress_range = ((max_regress_distance >= regress_ranges[..., 0])
                            & (max_regress_distance <= regress_ranges[..., 1]))

    # center-based criterion to deal with ambiguity
    dists = torch.sqrt(torch.sum(bbox_targets_3d[..., :2]**2, dim=-1))
    dists[inside_gt_bbox_mask == 0] = INF
    dists[inside_regress_range == 0] = INF
    min_dist, min_dist_inds = dists.min(dim=1)

    labels_3d = gt_labels_3d[min_dist_inds]
    attr_labels = attr_labels[min_dist_inds]
    labels_3d[min_dist == INF] = NUM_CLASSES
    attr_labels[min_dist == INF] = NUM_ATTRS

    bbox_targets_3d = bbox_targets_3d[range(num_points), min_dist_inds]
    relative_dists = torch.sqrt(torch.sum(bbox_targets_3d[..., :2]**2, dim=-1)) / (1.414 * stride[:, 0])
    centerness_targets = torch.exp(-CENTERNESS_ALPHA * relative_dists)
    return labels_3d, bbox_targets_3d, centerness_targets, attr_labels


def get_targets(points, gts):
    num_levels = len(points)
    expanded_regress_ranges = [points[i].new_tensor(REGRESS_RANGES[i])[None].expand_as(points[i]) for i in range(num_levels)]
    concat_regress_ranges = torch.cat(expanded_regress_ranges, dim=0)
    concat_points = torch.cat(points, dim=0)
    num_points = [p.size(0) for p in points]
    res = [get_target_single(g, concat_points, concat_regress_ranges, num_points) for g in gts]
    labels_3d_list = [r[0].split(num_points, 0) for r in res]
    bbox_targets_3d_list = [r[1].split(num_points, 0) for r in res]
    centerness_targets_list = [r[2].split(num_points, 0) for r in res]
    attr_targets_list = [r[3].split(num_points, 0) for r in res]
    concat_labels_3d, concat_bbox_targets_3d, concat_centerness, concat_attr = [], [], [], []
    for i in range(num_levels):
        concat_labels_3d.append(torch.cat([l[i] for l in labels_3d_list]))
        concat_centerness.append(torch.cat([c[i] for c in centerness_targets_list]))
        bbox_targets_3d = torch.cat([b[i] for b in bbox_targets_3d_list])
        concat_attr.append(torch.cat([a[i] for a in attr_targets_list]))
        bbox_targets_3d[:, :2] = bbox_targets_3d[:, :2] / STRIDES[i]  # norm_on_bbox
        concat_bbox_targets_3d.append(bbox_targets_3d)
    return concat_labels_3d, concat_bbox_targets_3d, concat_centerness, concat_attr, [r[0] for r in res]


def weight_reduce_loss(loss, weight=None, avg_factor=None):
    """mmdet 3.x, reduction='mean'."""
    if weight is not None:
        loss = loss * weight
    if avg_factor is None:
        return loss.mean()
    return loss.sum() / (avg_factor + EPS32)


def py_sigmoid_focal_loss(pred, label, gamma=2.0, alpha=0.25, avg_factor=None):
    target = F.one_hot(label, num_classes=NUM_CLASSES + 1)[:, :NUM_CLASSES].type_as(pred)
    pred_sigmoid = pred.sigmoid()
    pt = (1 - pred_sigmoid) * target + pred_sigmoid * (1 - target)
    focal_weight = (alpha * target + (1 - alpha) * (1 - target)) * pt.pow(gamma)
    loss = F.binary_cross_entropy_with_logits(pred, target, reduction="none") * focal_weight
    return weight_reduce_loss(loss, None, avg_factor)


def smooth_l1(pred, target, weight, avg_factor):
    diff = torch.abs(pred - target)
    loss = torch.where(diff < BETA, 0.5 * diff * diff / BETA, diff - 0.5 * BETA)
    return weight_reduce_loss(loss, weight, avg_factor)


def cross_entropy(pred, label, weight, avg_factor):
    loss = F.cross_entropy(pred, label, reduction="none", ignore_index=-100)
    return weight_reduce_loss(loss, weight, avg_factor)


def bce_mean(pred, label):
    loss = F.binary_cross_entropy_with_logits(pred, label, reduction="none")
    valid = ((label >= 0) & (label != -100)).to(pred.dtype)
    return weight_reduce_loss(loss, valid, None)


def add_sin_difference(boxes1, boxes2):
    rad_pred_encoding = torch.sin(boxes1[..., 6:7]) * torch.cos(boxes2[..., 6:7])
    rad_tg_encoding = torch.cos(boxes1[..., 6:7]) * torch.sin(boxes2[..., 6:7])
    boxes1 = torch.cat([boxes1[..., :6], rad_pred_encoding, boxes1[..., 7:]], dim=-1)
    boxes2 = torch.cat([boxes2[..., :6], rad_tg_encoding, boxes2[..., 7:]], dim=-1)
    return boxes1, boxes2


def get_direction_target(reg_targets, dir_offset=0, dir_limit_offset=0.0, num_bins=2):
    rot_gt = reg_targets[..., 6]
    offset_rot = limit_period(rot_gt - dir_offset, dir_limit_offset, 2 * np.pi)
    dir_cls_targets = torch.floor(offset_rot / (2 * np.pi / num_bins)).long()
    return torch.clamp(dir_cls_targets, min=0, max=num_bins - 1)


def decode(bbox, scale):
    """FCOS3DBBoxCoder.decode in training mode (no stride multiplication)."""
    clone_bbox = bbox.clone()
    bbox[:, :2] = scale[0] * clone_bbox[:, :2]
    bbox[:, 2] = scale[1] * clone_bbox[:, 2]
    bbox[:, 3:6] = scale[2] * clone_bbox[:, 3:6]
    bbox[:, 2] = bbox[:, 2].exp()
    bbox[:, 3:6] = bbox[:, 3:6].exp()
    return bbox


def loss_by_feat(cls_scores, bbox_preds, dir_cls_preds, attr_preds, centernesses, gts):
    featmap_sizes = [f.size()[-2:] for f in cls_scores]
    all_level_points = grid_priors(featmap_sizes)
    labels_3d, bbox_targets_3d, centerness_targets, attr_targets, per_image_labels = get_targets(all_level_points, gts)
    num_imgs = cls_scores[0].size(0)
    flatten_cls_scores = torch.cat([c.permute(0, 2, 3, 1).reshape(-1, NUM_CLASSES) for c in cls_scores])
    flatten_bbox_preds = torch.cat([b.permute(0, 2, 3, 1).reshape(-1, sum(GROUP_REG_DIMS)) for b in bbox_preds])
    flatten_dir_cls_preds = torch.cat([d.permute(0, 2, 3, 1).reshape(-1, 2) for d in dir_cls_preds])
    flatten_centerness = torch.cat([c.permute(0, 2, 3, 1).reshape(-1) for c in centernesses])
    flatten_labels_3d = torch.cat(labels_3d)
    flatten_bbox_targets_3d = torch.cat(bbox_targets_3d)
    flatten_centerness_targets = torch.cat(centerness_targets)
    pos_inds = ((flatten_labels_3d >= 0) & (flatten_labels_3d < NUM_CLASSES)).nonzero().reshape(-1)
    num_pos = len(pos_inds)
    loss_cls = py_sigmoid_focal_loss(flatten_cls_scores, flatten_labels_3d, avg_factor=num_pos + num_imgs)
    pos_bbox_preds = flatten_bbox_preds[pos_inds]
    pos_dir_cls_preds = flatten_dir_cls_preds[pos_inds]
    pos_centerness = flatten_centerness[pos_inds]
    flatten_attr_preds = torch.cat([a.permute(0, 2, 3, 1).reshape(-1, NUM_ATTRS) for a in attr_preds])
    flatten_attr_targets = torch.cat(attr_targets)
    pos_attr_preds = flatten_attr_preds[pos_inds]
    assert num_pos > 0
    pos_bbox_targets_3d = flatten_bbox_targets_3d[pos_inds]
    pos_centerness_targets = flatten_centerness_targets[pos_inds]
    pos_attr_targets = flatten_attr_targets[pos_inds]
    bbox_weights = pos_centerness_targets.new_ones(len(pos_centerness_targets), sum(GROUP_REG_DIMS))
    equal_weights = pos_centerness_targets.new_ones(pos_centerness_targets.shape)
    bbox_weights = bbox_weights * bbox_weights.new_tensor(CODE_WEIGHT)
    pos_dir_cls_targets = get_direction_target(pos_bbox_targets_3d, DIR_OFFSET, DIR_LIMIT_OFFSET)
    pos_bbox_preds, pos_bbox_targets_3d = add_sin_difference(pos_bbox_preds, pos_bbox_targets_3d)
    ew = equal_weights.sum()
    losses = dict(
        loss_cls=loss_cls,
        loss_offset=smooth_l1(pos_bbox_preds[:, :2], pos_bbox_targets_3d[:, :2], bbox_weights[:, :2], ew),
        loss_depth=smooth_l1(pos_bbox_preds[:, 2], pos_bbox_targets_3d[:, 2], bbox_weights[:, 2], ew),
        loss_size=smooth_l1(pos_bbox_preds[:, 3:6], pos_bbox_targets_3d[:, 3:6], bbox_weights[:, 3:6], ew),
        loss_rotsin=smooth_l1(pos_bbox_preds[:, 6], pos_bbox_targets_3d[:, 6], bbox_weights[:, 6], ew),
        loss_velo=smooth_l1(pos_bbox_preds[:, 7:9], pos_bbox_targets_3d[:, 7:9], bbox_weights[:, 7:9], ew),
        loss_dir=cross_entropy(pos_dir_cls_preds, pos_dir_cls_targets, equal_weights, ew),
        loss_attr=cross_entropy(pos_attr_preds, pos_attr_targets, pos_centerness_targets, pos_centerness_targets.sum()),
        loss_centerness=bce_mean(pos_centerness, pos_centerness_targets),
    )
    return losses, per_image_labels, num_pos


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    sizes = [((H + s - 1) // s, (W + s - 1) // s) for s in STRIDES]
    leaves = {}

    def leaf(name, shape, f):
        t = f(rule(name, shape)).clone().requires_grad_(True)
        leaves[name] = t
        return t

    cls_scores, bbox_preds, dir_preds, attr_preds, ctrs = [], [], [], [], []
    for l, (h, w) in enumerate(sizes):
        cls_scores.append(leaf(f"fcos3d.cls.{l}", (N, NUM_CLASSES, h, w), lambda r: 3 * r - 2))
        parts = [leaf(f"fcos3d.offset.{l}", (N, 2, h, w), lambda r: r),
                 leaf(f"fcos3d.depth.{l}", (N, 1, h, w), lambda r: 2.5 + r),
                 leaf(f"fcos3d.size.{l}", (N, 3, h, w), lambda r: 0.5 * r),
                 leaf(f"fcos3d.rot.{l}", (N, 1, h, w), lambda r: 3 * r),
                 leaf(f"fcos3d.velo.{l}", (N, 2, h, w), lambda r: 2 * r)]
        scale = leaf(f"fcos3d.scales.{l}", (3,), lambda r: 1 + 0.2 * r)
        raw = torch.cat(parts, dim=1)
        # decode works on [M, 9] rows; apply it per position
        flat = raw.permute(0, 2, 3, 1).reshape(-1, 9)
        dec = decode(flat.clone(), scale).reshape(N, h, w, 9).permute(0, 3, 1, 2)
        bbox_preds.append(dec)
        dir_preds.append(leaf(f"fcos3d.dir.{l}", (N, 2, h, w), lambda r: 2 * r))
        attr_preds.append(leaf(f"fcos3d.attr.{l}", (N, NUM_ATTRS, h, w), lambda r: 2 * r))
        ctrs.append(leaf(f"fcos3d.ctr.{l}", (N, 1, h, w), lambda r: 2 * r))

    gts = []
    for cam, objs in zip(CAMERAS, OBJECTS):
        P = torch.tensor(cam)
        b3 = torch.tensor([o["box3d"] for o in objs]).reshape(-1, 9)
        c2 = points_cam2img(b3[:, :3], P) if len(objs) else torch.zeros((0, 3))
        gts.append(dict(bboxes=torch.tensor([o["box"] for o in objs]).reshape(-1, 4), bboxes_3d=b3,
                        labels_3d=torch.tensor([o["label"] for o in objs], dtype=torch.long),
                        attr_labels=torch.tensor([o["attr"] for o in objs], dtype=torch.long),
                        centers_2d=c2[:, :2], depths=c2[:, 2]))
    losses, labels, num_pos = loss_by_feat(cls_scores, bbox_preds, dir_preds, attr_preds, ctrs, gts)
    total = sum(losses.values())
    total.backward()
    res = dict(
        image=[H, W], cameras=CAMERAS, objects=OBJECTS, num_pos=num_pos,
        labels_3d=[[int(v) if v < NUM_CLASSES else -1 for v in l] for l in labels],
        losses={k: float(v) for k, v in losses.items()},
        grads={k: [float(x) for x in t.grad.reshape(-1)] for k, t in leaves.items()},
    )
    path = os.path.join(out, "fcos3d_golden.json")
    with open(path, "w") as f:
        json.dump(res, f)
    print(path, num_pos, {k: round(float(v), 6) for k, v in losses.items()})


if __name__ == "__main__":
    main()
