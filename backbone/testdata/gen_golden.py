"""Extra golden cases for the backbone tests, by the rule of
shared/golden/README.md (weights and inputs from detweights.py), with
shared/peers/golden.py's run_model. resnet18_32.json and
efficientnet_b0_32.json are copies of shared/golden's files (batch 4).

Sizes and gains are chosen so that PyTorch's own float32 run stays close to
the float64 reference (torch_float32_max_rel_err in each file): with batch 2
at 32x32 the last stages are 1x1, batch-statistics BatchNorm normalizes
two values per channel and float32 results become chaotic, and deep
EfficientNets at gain 2 are chaotic in eval mode.

usage: /usr/bin/python3 gen_golden.py [PEERS_DIR]
"""
import json
import sys

import numpy as np

sys.path.insert(0, sys.argv[1] if len(sys.argv) > 1 else "../../../shared/peers")
import golden  # noqa: E402

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
