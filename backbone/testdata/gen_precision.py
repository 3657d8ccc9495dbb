"""The float32 precision case of the backbone tests: a deep network with
large activations, where float32 rounding is amplified from block to
block and PyTorch's own float32 forward is measurably off its float64 one.

EfficientNet-B0 with the weight rule of detweights.py at gain 2, eval
mode, input 2x3x64x64, for eight inputs ("input", "input1" .. "input7", by
the same rule): the float64 pooled features, and how far PyTorch's float32
forward is from them (max abs error / max abs value) with one and with two
threads (its reduction order, and so its error, depends on the thread
count). The errors vary by a factor of 100 between inputs (the sigmoid
gates of squeeze-and-excitation amplify some inputs' rounding more), so
the test compares geometric means over the eight.

usage (from this folder): /usr/bin/python3 gen_precision.py
writes efficientnet_b0_64x64_precision.json.gz
"""
import gzip
import json

import numpy as np
import torch
import torchvision

import golden
from detweights import fill_state_dict, tensor_input

torch.set_flush_denormal(True)
GAIN, SHAPE, INPUTS = 2.0, (2, 3, 64, 64), 8


def model(dtype):
    m = torchvision.models.efficientnet_b0()
    fill_state_dict(m, GAIN)
    return m.to(dtype).eval()


def rel(a, b):
    return float((a.double() - b).abs().max() / b.abs().max())


m64, m32 = model(torch.float64), model(torch.float32)
cases = []
for k in range(INPUTS):
    name = "input" if k == 0 else "input%d" % k
    x = tensor_input(name, SHAPE).double()
    with torch.no_grad():
        f64 = golden.features_of(m64, x)
        case = {"input": name, "eval_features": golden.tolist(f64)}
        for threads in (1, 2):
            torch.set_num_threads(threads)
            case["torch_float32_rel_err_threads%d" % threads] = rel(golden.features_of(m32, x.float()), f64)
    print(name, case["torch_float32_rel_err_threads1"], case["torch_float32_rel_err_threads2"])
    cases.append(case)
res = {"model": "efficientnet_b0", "weight_gain": GAIN, "input_shape": list(SHAPE), "cases": cases}
with gzip.open("efficientnet_b0_64x64_precision.json.gz", "wt") as f:
    json.dump(res, f)
