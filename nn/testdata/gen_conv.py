"""Writes conv_golden.json: PyTorch's conv2d forward and both gradients for a
few configurations, in float64, for nn.TestConv2dOpMatchesPyTorch.

usage (from the repository root):
    /usr/bin/python3 nn/testdata/gen_conv.py > nn/testdata/conv_golden.json

Inputs follow the golden value rule of package nntest (nn/nntest/doc.go; r
values, no scaling): x is named "conv.<case>.x", w "conv.<case>.w" and the output
gradient "conv.<case>.dy"; dx and dw are the gradients of sum(y * dy).
"""
import json
import sys

import torch
import torch.nn.functional as F

MASK = (1 << 64) - 1


def fnv1a64(name):
    h = 0xCBF29CE484222325
    for b in name.encode("utf-8"):
        h ^= b
        h = (h * 0x100000001B3) & MASK
    return h


def splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & MASK
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def rule(name, shape):
    n = 1
    for d in shape:
        n *= d
    seed = fnv1a64(name)
    r = [2.0 * ((splitmix64((seed + i) & MASK) >> 40) / float(1 << 24)) - 1.0 for i in range(n)]
    return torch.tensor(r, dtype=torch.float64).reshape(shape)


CASES = [
    # name, x shape, w shape, stride, padding, dilation, groups
    ("stride2_groups2", (2, 4, 7, 6), (6, 2, 3, 3), 2, 1, 1, 2),
    ("dilation2", (1, 3, 9, 8), (4, 3, 3, 3), 1, 2, 2, 1),
    ("depthwise5x5_stride2", (2, 6, 8, 8), (6, 1, 5, 5), 2, 2, 1, 6),
    ("stem7x7_stride2", (1, 3, 12, 12), (4, 3, 7, 7), 2, 3, 1, 1),
]


def main():
    out = {"torch": torch.__version__, "cases": []}
    for name, xs, ws, s, p, d, g in CASES:
        x = rule("conv.%s.x" % name, xs).requires_grad_()
        w = rule("conv.%s.w" % name, ws).requires_grad_()
        y = F.conv2d(x, w, stride=s, padding=p, dilation=d, groups=g)
        dy = rule("conv.%s.dy" % name, tuple(y.shape))
        (y * dy).sum().backward()
        out["cases"].append({
            "name": name, "x_shape": list(xs), "w_shape": list(ws),
            "stride": s, "padding": p, "dilation": d, "groups": g,
            "y": y.detach().flatten().tolist(),
            "dx": x.grad.flatten().tolist(),
            "dw": w.grad.flatten().tolist(),
        })
    json.dump(out, sys.stdout, separators=(",", ":"))
    print()


if __name__ == "__main__":
    main()
