"""Extra torchvision 0.14 reference values for augment's tests.

Run: /usr/bin/python3 gen_extra.py > extra.json
The input images follow the deterministic value rule of the golden tests
(FNV-1a + splitmix64, r in [-1, 1), written out in
../../backbone/testdata/detweights.py), mapped to [0, 1) as (r + 1) / 2, in
float64, as augment.json.gz's image (written by
../../backbone/testdata/golden.py augment).
"""
import json
import os
import sys

import torch
import torchvision.transforms.functional as TF

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "backbone", "testdata"))
from detweights import tensor_input  # noqa: E402


def img(name, shape):
    return (tensor_input(name, shape).double() + 1) / 2


a = img("aug_small", (3, 12, 14))
# Gray pixels (r = g = b), saturated pixels and pure black/white ones for
# the HSV edge cases.
e = a.clone()
e[:, 0, :5] = e[0, 0, :5]
e[1, 1, :] = e[0, 1, :]
e[:, 2, 0] = 0.0
e[:, 2, 1] = 1.0
e[0, 3, :] = 1.0
e[2, 4, :] = 0.0
g = img("aug_gray", (1, 12, 14))

ops = {
    "crop_oob_t-3_l9_h10_w8_to6x5": TF.resized_crop(a, -3, 9, 10, 8, [6, 5], antialias=False),
    "resize_aa_down_5x4": TF.resize(a, [5, 4], antialias=True),
    "resize_aa_up_17x23": TF.resize(a, [17, 23], antialias=True),
    "resize_aa_mixed_7x30": TF.resize(a, [7, 30], antialias=True),
    "resize_up_20x25": TF.resize(a, [20, 25], antialias=False),
    "resize_down_7x5": TF.resize(a, [7, 5], antialias=False),
    "blur_k7x3_s0.8x2.5": TF.gaussian_blur(a, [7, 3], [0.8, 2.5]),
    "blur_k23_s1.7": TF.gaussian_blur(a, [23, 23], [1.7, 1.7]),
    "solarize_0.6": TF.solarize(a, 0.6),
    "center_crop_7x10": TF.center_crop(a, [7, 10]),
    "center_crop_pad_15x17": TF.center_crop(a, [15, 17]),
    "center_crop_odd_6x9": TF.center_crop(a, [6, 9]),
    "hue_edge_0.5": TF.adjust_hue(e, 0.5),
    "hue_edge_-0.25": TF.adjust_hue(e, -0.25),
    "saturation_edge_0": TF.adjust_saturation(e, 0.0),
    "contrast_edge_1.8": TF.adjust_contrast(e, 1.8),
    "gray_contrast_0.4": TF.adjust_contrast(g, 0.4),
    "gray_brightness_1.6": TF.adjust_brightness(g, 1.6),
    "grayscale_1ch": TF.rgb_to_grayscale(a, 1),
    "normalize_imagenet": TF.normalize(a, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
}
out = {
    "images": {"a": "aug_small 3x12x14", "e": "a with gray, black, white and saturated pixels (see gen_extra.py)", "g": "aug_gray 1x12x14"},
    "e": e.numpy().round(9).tolist(),
    "ops": {k: v.numpy().round(9).tolist() for k, v in ops.items()},
}
json.dump(out, sys.stdout, separators=(",", ":"))
