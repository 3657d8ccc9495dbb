"""Golden values for package detect's FCOS from torchvision 0.14.1 (PyTorch 1.13).

usage: /usr/bin/python3 golden_detect.py OUTDIR    (writes OUTDIR/fcos_golden.json)

Every state_dict tensor and every input is filled by the deterministic value
rule below (the Go tests regenerate them with nntest.RuleValues), so no weight
file is needed. The transform (resize, normalize, pad) is bypassed: the model's
backbone, head, anchor generator, compute_loss and postprocess_detections are
called directly on [N, 3, H, W] inputs.

Value rule: seed = FNV-1a 64 of the tensor's name; r_i = 2 u_i - 1 with
u_i = (splitmix64(seed + i) >> 40) / 2^24; running_mean 0.1 r, running_var
1 + 0.25 (r + 1), rank >= 2: gain r sqrt(3 / fan_in), rank-1 weight 1 + 0.1 r,
rank-1 bias 0.1 r; inputs r.

Cases (losses in float64 and float32; everything else float64):
  r18_128   ResNet-18 body, FPN+P6P7 and head at 256 channels, 3 classes,
            2x3x128x128; image 1 has no boxes.
  r18_100   ResNet-18 body, 64 channels, 3 classes, 2x3x100x100 (strides
            100//13 = 7, 14, 25, 50, 100): crafted boxes on the radius edge,
            the scale-range edges, the box border and overlapping boxes.
  effb0_128 EfficientNet-B0 features.3/5/7 through BackboneWithFPN, 64
            channels, weight gain 1.5 (at 2 the float32 features drift 30%
            from float64; at 1 features.7 barely depends on the input),
            2x3x128x128.
Standalone: sigmoid_focal_loss, generalized_box_iou_loss, BCE with logits,
box_iou, nms, batched_nms, BoxLinearCoder, clip_boxes_to_image; parameter counts.
"""
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from torchvision.models.detection import FCOS
from torchvision.models.detection.backbone_utils import BackboneWithFPN, _resnet_fpn_extractor
from torchvision.models.detection.fcos import FCOSHead
from torchvision.models.detection.image_list import ImageList
from torchvision.models.detection._utils import BoxLinearCoder
from torchvision.ops import sigmoid_focal_loss, generalized_box_iou_loss, batched_nms, nms, box_iou, clip_boxes_to_image
from torchvision.ops.feature_pyramid_network import LastLevelP6P7
from torchvision.ops import misc as misc_nn_ops

torch.set_num_threads(2)
M64 = 0xFFFFFFFFFFFFFFFF


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


def uniform_r(name, n):
    seed = np.uint64(fnv1a64(name))
    with np.errstate(over="ignore"):
        idx = np.arange(n, dtype=np.uint64) + seed
    u = (splitmix64(idx) >> np.uint64(40)).astype(np.float64) / float(1 << 24)
    return 2.0 * u - 1.0


def value_for(name, shape, gain):
    n = int(np.prod(shape)) if len(shape) else 1
    r = uniform_r(name, n)
    if name.endswith("running_mean"):
        v = 0.1 * r
    elif name.endswith("running_var"):
        v = 1.0 + 0.25 * (r + 1.0)
    elif len(shape) >= 2:
        v = gain * r * np.sqrt(3.0 / (n // shape[0]))
    elif name.endswith("weight"):
        v = 1.0 + 0.1 * r
    else:
        v = 0.1 * r
    return v.astype(np.float32).reshape(shape)


def fill_state_dict(model, gain):
    sd = model.state_dict()
    new = {k: (t if k.endswith("num_batches_tracked") else torch.from_numpy(value_for(k, tuple(t.shape), gain)))
           for k, t in sd.items()}
    model.load_state_dict(new)


def rule_input(name, shape):
    return torch.from_numpy(uniform_r(name, int(np.prod(shape))).astype(np.float32).reshape(shape))


def tl(t):
    return np.asarray(t.detach().double().numpy()).round(12).tolist()


def flat(t):
    return [round(float(v), 12) for v in t.detach().double().reshape(-1)]


def build(arch, channels, num_classes, dtype, gain):
    if arch == "resnet18":
        bb = _resnet_fpn_extractor(torchvision.models.resnet18(), 5, returned_layers=[2, 3, 4],
                                   extra_blocks=LastLevelP6P7(256, 256))
        if channels != 256:
            bb = _resnet_fpn_extractor(torchvision.models.resnet18(), 5, returned_layers=[2, 3, 4],
                                       extra_blocks=LastLevelP6P7(channels, channels))
            bb.fpn = torchvision.ops.FeaturePyramidNetwork([128, 256, 512], channels, extra_blocks=LastLevelP6P7(channels, channels))
            bb.out_channels = channels
    else:
        bb = BackboneWithFPN(torchvision.models.efficientnet_b0().features, {"3": "0", "5": "1", "7": "2"},
                             [40, 112, 320], channels, extra_blocks=LastLevelP6P7(channels, channels))
    m = FCOS(bb, num_classes, head=FCOSHead(channels, 1, num_classes))
    fill_state_dict(m, gain)
    return m.to(dtype).eval()


GRAD_PARAMS = ("head.classification_head.cls_logits.bias", "head.regression_head.bbox_ctrness.bias",
               "head.regression_head.bbox_reg.bias", "head.classification_head.conv.1.weight")
GRAD_SUMS = ("backbone.body.conv1.weight", "backbone.body.0.0.weight", "backbone.fpn.inner_blocks.0.0.weight",
             "backbone.fpn.extra_blocks.p7.weight", "head.regression_head.conv.0.weight")


def sample(t, k=97):
    f = t.detach().double().reshape(-1)
    return flat(f[::max(1, f.numel() // k)][:k])


def edge_report(anchors, napl, boxes):
    """Counts (anchor, box) pairs that sit exactly on an assignment edge."""
    if len(boxes) == 0:
        return {}
    a = anchors.double()
    ctr = (a[:, :2] + a[:, 2:]) / 2
    size = a[:, 2] - a[:, 0]
    b = boxes.double()
    gc = (b[:, :2] + b[:, 2:]) / 2
    d = (ctr[:, None, :] - gc[None]).abs().max(dim=2).values
    x, y = ctr[:, 0:1], ctr[:, 1:2]
    ltrb = torch.stack([x - b[None, :, 0], y - b[None, :, 1], b[None, :, 2] - x, b[None, :, 3] - y], dim=2)
    lo = size * 4
    lo[: napl[0]] = 0
    hi = size * 8
    hi[-napl[-1]:] = float("inf")
    mx = ltrb.max(dim=2).values
    return {"radius_edge": int((d == 1.5 * size[:, None]).sum()),
            "border_edge": int((ltrb.min(dim=2).values == 0).sum()),
            "lower_edge": int((mx == lo[:, None]).sum()),
            "upper_edge": int((mx == hi[:, None]).sum())}


def run_case(arch, channels, N, H, W, boxes, labels, gain, postprocess_rule):
    C = 3
    res = {"arch": arch, "channels": channels, "classes": C, "input": "input" if (H, W) == (128, 128) and arch == "resnet18" else "input%dx%d" % (H, W),
           "shape": [N, 3, H, W], "weight_gain": gain,
           "targets": [{"boxes": b, "labels": l} for b, l in zip(boxes, labels)]}
    for dtype, tag in ((torch.float64, "f64"), (torch.float32, "f32")):
        m = build(arch, channels, C, dtype, gain)
        x = rule_input(res["input"], (N, 3, H, W)).to(dtype)
        feats = list(m.backbone(x).values())
        head = m.head(feats)
        for v in head.values():
            v.retain_grad()
        il = ImageList(x, [(H, W)] * N)
        anchors = m.anchor_generator(il, feats)
        napl = [f.size(2) * f.size(3) for f in feats]
        targets = [{"boxes": torch.tensor(b, dtype=dtype).reshape(-1, 4), "labels": torch.tensor(l, dtype=torch.int64)}
                   for b, l in zip(boxes, labels)]
        # the matched indices, as FCOS.compute_loss computes them
        captured = {}
        orig = m.head.compute_loss

        def cap(targets_, head_outputs, anchors_, matched_idxs):
            captured["m"] = matched_idxs
            return orig(targets_, head_outputs, anchors_, matched_idxs)

        m.head.compute_loss = cap
        losses = m.compute_loss(targets, head, anchors, napl)
        m.head.compute_loss = orig
        sum(losses.values()).backward()
        r = {"losses": {k: float(v) for k, v in losses.items()},
             # float32 runs also give PyTorch's own float32 error, the yardstick for Go's
             "grad_params": {k: flat(p.grad) for k, p in m.named_parameters() if k in GRAD_PARAMS},
             "grad_param_sums": {k: float(p.grad.double().sum()) for k, p in m.named_parameters() if k in GRAD_SUMS}}
        if tag == "f64":
            r.update({
                "fpn_shapes": [list(f.shape) for f in feats],
                "fpn_sums": [float(f.sum()) for f in feats],
                "fpn_abs_sums": [float(f.abs().sum()) for f in feats],
                "fpn_samples": [sample(f) for f in feats],
                "cls_logits": flat(head["cls_logits"]),
                "bbox_regression": flat(head["bbox_regression"]),
                "bbox_ctrness": flat(head["bbox_ctrness"]),
                "anchors": tl(anchors[0]),
                "num_anchors_per_level": napl,
                "state_dict": [[k, list(v.shape)] for k, v in m.state_dict().items()],
                "matched_idxs": [flat(mi) for mi in captured["m"]],
                "edges": [edge_report(anchors[0], napl, t["boxes"]) for t in targets],
                "grad_cls_logits": flat(head["cls_logits"].grad),
                "grad_bbox_regression": flat(head["bbox_regression"].grad),
                "grad_bbox_ctrness": flat(head["bbox_ctrness"].grad),
            })
            with torch.no_grad():
                split = {k: list(v.split(napl, dim=1)) for k, v in head.items()}
                sa = [list(a.split(napl)) for a in anchors]
                dets = m.postprocess_detections(split, sa, [(H, W)] * N)
            r["postprocess_model"] = [{k: tl(v) for k, v in d.items()} for d in dets]
            if postprocess_rule:
                A = sum(napl)
                ho = {
                    "cls_logits": torch.from_numpy(4 * uniform_r("pp_cls_logits", N * A * C).reshape(N, A, C)),
                    "bbox_regression": torch.from_numpy(2 * (uniform_r("pp_bbox_regression", N * A * 4).reshape(N, A, 4) + 1)),
                    "bbox_ctrness": torch.from_numpy(4 * uniform_r("pp_bbox_ctrness", N * A).reshape(N, A, 1)),
                }
                split = {k: list(v.split(napl, dim=1)) for k, v in ho.items()}
                dets = m.postprocess_detections(split, sa, [(H, W)] * N)
                r["postprocess_rule"] = [{k: tl(v) for k, v in d.items()} for d in dets]
        res[tag] = r
    return res


def standalone():
    out = {}
    # sigmoid focal loss, elementwise, with its gradient
    x = torch.from_numpy(3 * uniform_r("focal.x", 24)).reshape(8, 3).requires_grad_()
    t = torch.zeros(8, 3, dtype=torch.float64)
    for i, c in enumerate([0, -1, 2, 1, -1, 0, 2, -1]):
        if c >= 0:
            t[i, c] = 1
    loss = sigmoid_focal_loss(x, t, alpha=0.25, gamma=2, reduction="none")
    loss.sum().backward()
    out["focal"] = {"x": flat(x), "t": flat(t), "loss": flat(loss), "grad": flat(x.grad)}
    # GIoU loss: disjoint, identical, nested, partial, touching
    b1 = torch.tensor([[0, 0, 10, 10], [5, 5, 15, 20], [0, 0, 20, 20], [2, 3, 12, 9], [0, 0, 4, 4], [1, 1, 3, 7]], dtype=torch.float64, requires_grad=True)
    b2 = torch.tensor([[20, 20, 30, 25], [5, 5, 15, 20], [5, 4, 10, 12], [6, 1, 16, 7], [4, 0, 8, 4], [0.5, 2, 3.5, 5]], dtype=torch.float64, requires_grad=True)
    loss = generalized_box_iou_loss(b1, b2, reduction="none")
    loss.sum().backward()
    out["giou"] = {"boxes1": tl(b1), "boxes2": tl(b2), "loss": flat(loss), "grad1": tl(b1.grad), "grad2": tl(b2.grad)}
    # BCE with logits
    x = torch.from_numpy(5 * uniform_r("bce.x", 10)).requires_grad_()
    t = torch.from_numpy((uniform_r("bce.t", 10) + 1) / 2)
    loss = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    loss.sum().backward()
    out["bce"] = {"x": flat(x), "t": flat(t), "loss": flat(loss), "grad": flat(x.grad)}
    # box_iou, nms, batched_nms on rule boxes with distinct scores
    n = 60
    xy = (uniform_r("nms.xy", 2 * n).reshape(n, 2) + 1) * 40
    wh = (uniform_r("nms.wh", 2 * n).reshape(n, 2) + 1.2) * 15
    boxes = torch.from_numpy(np.concatenate([xy, xy + wh], axis=1)).float().double()
    scores = torch.from_numpy((uniform_r("nms.scores", n) + 1) / 2).float().double()
    labels = torch.from_numpy(((uniform_r("nms.labels", n) + 1) * 1.5).astype(np.int64).clip(0, 2))
    out["nms"] = {"boxes": tl(boxes), "scores": flat(scores), "labels": labels.tolist(),
                  "box_iou": tl(box_iou(boxes[:12], boxes[12:20])),
                  "keep": {str(th): nms(boxes, scores, th).tolist() for th in (0.3, 0.5, 0.6)},
                  "batched_keep": {str(th): batched_nms(boxes, scores, labels, th).tolist() for th in (0.3, 0.6)}}
    # BoxLinearCoder and clipping
    coder = BoxLinearCoder(normalize_by_size=True)
    anchors = torch.tensor([[-4, -4, 4, 4], [12, 4, 28, 20], [40, 40, 104, 104]], dtype=torch.float64)
    gt = torch.tensor([[-2, -3, 10, 2], [10, 0, 30, 25], [30, 50, 100, 120]], dtype=torch.float64)
    rel = coder.encode(anchors, gt)
    out["coder"] = {"anchors": tl(anchors), "gt": tl(gt), "encoded": tl(rel), "decoded": tl(coder.decode(rel, anchors)),
                    "clipped": tl(clip_boxes_to_image(gt, (100, 90)))}
    # parameter counts, 91 classes
    counts = {}
    for depth, fn in ((18, torchvision.models.resnet18), (50, torchvision.models.resnet50)):
        for frozen in (False, True):
            body = fn(norm_layer=misc_nn_ops.FrozenBatchNorm2d) if frozen else fn()
            ch = 512 if depth == 18 else 2048
            bb = _resnet_fpn_extractor(body, 5 if not frozen else 3, returned_layers=[2, 3, 4], extra_blocks=LastLevelP6P7(256, 256))
            m = FCOS(bb, 91)
            counts["resnet%d%s" % (depth, "_frozenbn" if frozen else "")] = sum(p.numel() for p in m.parameters())
            if frozen and depth == 50:
                # fcos_resnet50_fpn(weights=COCO_V1)'s state_dict: FrozenBatchNorm2d has no num_batches_tracked
                out["resnet50_frozenbn_state_dict"] = [[k, list(v.shape)] for k, v in m.state_dict().items()]
            if frozen:
                counts["resnet%d_frozenbn_trainable3" % depth] = sum(p.numel() for p in m.parameters() if p.requires_grad)
                counts["resnet%d_frozenbn_state_keys" % depth] = len(m.state_dict())
            else:
                counts["resnet%d_state_keys" % depth] = len(m.state_dict())
    out["param_counts"] = counts
    return out


def main(outdir):
    t0 = time.time()
    res = {"r18_128": run_case("resnet18", 256, 2, 128, 128,
                               [[[10, 12, 60, 70], [30, 20, 120, 110], [5, 90, 20, 126]], []],
                               [[0, 2, 1], []], 1.0, True)}
    # 100x100: P3 13x13 stride 7 size 8, P4 7x7 stride 14, P5 4x4 stride 25, P6 2x2 stride 50, P7 1x1 stride 100.
    crafted = [
        [13, 1, 53, 41],      # centre (33, 21): P3 anchor (21, 21) exactly 12 = 1.5*8 away (radius edge)
        [20, 36, 120, 76],    # P4 anchors (56, 56) and (84, 56) see max(l,t,r,b) = 64 exactly (range edge)
        [21, 70, 63, 98],     # left border on P3 column 3 (x = 21): l = 0 there
        [0, 50, 60, 100],     # overlaps the next one, area 3000
        [10, 60, 50, 95],     # inside the previous one, area 1400: wins the shared anchors
        [-100, -60, 150, 120],  # large, reaches P5..P7; P6 anchors (50, 50): max = 150
    ]
    res["r18_100"] = run_case("resnet18", 64, 2, 100, 100, [crafted, [[40, 30, 90, 85]]], [[0, 1, 2, 0, 1, 2], [1]], 1.0, False)
    res["effb0_128"] = run_case("efficientnet_b0", 64, 2, 128, 128,
                                [[[10, 12, 60, 70], [30, 20, 120, 110], [5, 90, 20, 126]], []],
                                [[0, 2, 1], []], 1.5, False)
    res["standalone"] = standalone()
    res["seconds"] = time.time() - t0
    with open(os.path.join(outdir, "fcos_golden.json"), "w") as f:
        json.dump(res, f, separators=(",", ":"))
    for k in ("r18_128", "r18_100", "effb0_128"):
        print(k, res[k]["f64"]["losses"], res[k]["f32"]["losses"], res[k]["f64"]["edges"],
              [len(d["scores"]) for d in res[k]["f64"]["postprocess_model"]])
    print(res["standalone"]["param_counts"], "seconds", res["seconds"])


if __name__ == "__main__":
    main(sys.argv[1])
