"""Extra golden cases for the backbone tests, by the value rule of
detweights.py (weights and inputs), with golden.py's run_model.
resnet18_32.json and efficientnet_b0_32.json (batch 4) were written by
golden.py itself: python3 golden.py . models resnet18 efficientnet_b0.

Sizes and gains are chosen so that PyTorch's own float32 run stays close to
the float64 reference (torch_float32_max_rel_err in each file): with batch 2
at 32x32 the last stages are 1x1, batch-statistics BatchNorm normalizes
two values per channel and float32 results become chaotic, and deep
EfficientNets at gain 2 are chaotic in eval mode.

usage (from this folder): /usr/bin/python3 gen_golden.py
"""
import json

import numpy as np

import golden

# name, input shape (batch 2 keeps the files small), weight gain
CASES = [
    ("resnet50", (2, 3, 64, 64), 1.0),         # Bottleneck blocks
    ("resnet18", (2, 3, 40, 56), 1.0),         # a non-square size
    ("resnet18", (1, 3, 360, 640), 1.0),       # a driving frame
    ("efficientnet_b3", (2, 3, 64, 64), 1.75),  # width 1.2 / depth 1.4 rounding
    ("efficientnet_b5", (2, 3, 48, 48), 1.7),  # BatchNorm eps 1e-3, momentum 0.01
]

for name, shape, gain in CASES:
    golden.gain_for = lambda _name, g=gain: g
    res = golden.run_model(name, shape)
    fn = "%s_%dx%d.json" % (name, shape[2], shape[3])
    json.dump(res, open(fn, "w"))
    f = np.array(res["eval_features"])
    dep = np.abs(f[0] - f[-1]).max() / np.abs(f).max()  # how much the output depends on the input
    print(fn, res["torch_float32_max_rel_err"], "sample difference / max", dep)
