"""Golden gradients for the backbone tests: weights and inputs by the value
rule of detweights.py, loss = sum(features * R) with R the rule's
tensor "r" of shape [N, feature_dim], BatchNorm on batch statistics
("train") or running statistics ("eval"), dropout and stochastic depth off.
For each probed parameter the file holds its gradient at indices 0, step,
2*step, ... (at most 1000 values) and the gradient's full L2 norm, in
float64, plus PyTorch's own float32 error.

ReLU networks are piecewise linear: a pre-activation within float32 noise
of 0 flips its gradient mask, so a case is only usable if none is. The file
records the smallest |pre-activation| of any ReLU (relu_margin); with batch
statistics at tiny spatial sizes BatchNorm amplifies float32 noise, which
is why ResNet's case uses 64x64 inputs.

usage (from this folder): /usr/bin/python3 gen_grad_golden.py
"""
import json

import numpy as np
import torch
import torchvision

import golden
from detweights import fill_state_dict, tensor_input

CASES = [
    ("resnet18", (2, 3, 64, 64), 1.0, "train", ["conv1.weight", "bn1.weight", "layer1.0.conv1.weight",
                                       "layer2.0.downsample.0.weight", "layer3.1.conv2.weight",
                                       "layer4.1.bn2.weight", "layer4.1.bn2.bias"]),
    ("resnet18", (4, 3, 32, 32), 1.0, "eval", ["conv1.weight", "layer1.0.conv1.weight", "layer3.0.downsample.0.weight",
                                               "layer4.0.bn1.weight"]),
    ("efficientnet_b0", (4, 3, 32, 32), 2.0, "train", ["features.0.0.weight", "features.0.1.weight",
                                              "features.1.0.block.1.fc1.weight", "features.1.0.block.1.fc2.bias",
                                              "features.2.0.block.1.0.weight", "features.4.1.block.2.fc1.weight",
                                              "features.6.2.block.3.1.weight", "features.8.0.weight"]),
]


def grads(name, shape, gain, mode, probes, dtype):
    model = getattr(torchvision.models, name)()
    fill_state_dict(model, gain)
    model = model.to(dtype)
    if mode == "train":
        golden.bn_train_only(model)
    else:
        model.eval()
    margin = [float("inf")]

    def hook(_mod, inp, _out):
        margin[0] = min(margin[0], inp[0].detach().abs().min().item())
    for m in model.modules():
        if isinstance(m, torch.nn.ReLU):
            m.inplace = False
            m.register_forward_hook(hook)
    x = tensor_input("input", shape).to(dtype)
    f = golden.features_of(model, x)
    r = tensor_input("r", tuple(f.shape)).to(dtype)
    loss = (f * r).sum()
    params = dict(model.named_parameters())
    gs = torch.autograd.grad(loss, [params[p] for p in probes])
    return loss.item(), [g.double().flatten() for g in gs], margin[0]


for name, shape, gain, mode, probes in CASES:
    l64, g64, margin = grads(name, shape, gain, mode, probes, torch.float64)
    l32, g32, _ = grads(name, shape, gain, mode, probes, torch.float32)
    out = {"model": name, "input": {"name": "input", "shape": list(shape)}, "weight_gain": gain,
           "batchnorm": mode, "relu_margin": margin if margin != float("inf") else None, "loss": l64, "probes": {}}
    for p, a, b in zip(probes, g64, g32):
        step = max(1, a.numel() // 1000)
        idx = torch.arange(0, a.numel(), step)[:1000]
        out["probes"][p] = {"step": step, "values": golden.tolist(a[idx]), "norm": a.norm().item(),
                            "torch_float32_rel_err": float((a - b).abs().max() / a.abs().max())}
        print(name, mode, "margin %.2g" % margin, p, a.numel(), "norm %.4g" % a.norm().item(), "f32 err %.2g" % out["probes"][p]["torch_float32_rel_err"])
    json.dump(out, open("%s_%dx%d_%s_grad.json" % (name, shape[2], shape[3], mode), "w"))
