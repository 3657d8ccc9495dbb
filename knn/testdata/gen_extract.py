"""Reference preprocessing for knn's Extractor tests (run with
/usr/bin/python3, PyTorch 1.13): images by the golden value rule,
(r + 1) / 2, resized with F.interpolate(mode="bilinear",
align_corners=False) - antialiased when shrinking, as torchvision's resize
on tensors - then standardized like torchvision's Normalize.

usage: /usr/bin/python3 gen_extract.py > extract.json
"""
import json

import torch
import torch.nn.functional as F

MASK = (1 << 64) - 1


def fnv1a64(s):
    h = 0xCBF29CE484222325
    for b in s.encode():
        h = ((h ^ b) * 0x100000001B3) & MASK
    return h


def splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & MASK
    z = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def rule(name, shape):
    n = 1
    for s in shape:
        n *= s
    seed = fnv1a64(name)
    r = [2 * ((splitmix64((seed + i) & MASK) >> 40) / 2.0 ** 24) - 1 for i in range(n)]
    return torch.tensor(r, dtype=torch.float32).reshape(shape)


MEAN = [0.4914, 0.4822, 0.4465]
STD = [0.2470, 0.2435, 0.2616]
cases = []
for name, shape, size in [("knn_img_up", (2, 3, 5, 6), 8), ("knn_img_down", (2, 3, 11, 13), 8)]:
    img = (rule(name, shape) + 1) / 2
    down = size < shape[2]
    out = F.interpolate(img, size=(size, size), mode="bilinear", align_corners=False, antialias=down)
    m = torch.tensor(MEAN).view(1, 3, 1, 1)
    s = torch.tensor(STD).view(1, 3, 1, 1)
    out = (out - m) / s
    cases.append({"name": name, "shape": list(shape), "size": size, "antialias": down,
                  "out": [round(v, 8) for v in out.flatten().tolist()]})
print(json.dumps({"mean": MEAN, "std": STD, "cases": cases}))
