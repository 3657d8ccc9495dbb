"""PyTorch reference for package ssl's MLP heads.

usage: /usr/bin/python3 gen_heads.py > heads.json

Builds each preset as lightly's ProjectionHead does (nn.Sequential of
Linear, BatchNorm1d, ReLU modules; the block lists mirror ssl's presets) at
small sizes, fills the state_dict by the golden value rule (documented in
package nn/nntest; gain 1), and records in float64: the
state_dict keys and shapes, the output for input "head_input" [8, in] in
eval mode (running statistics) and in train mode (batch statistics), the
running statistics after the train-mode pass, and the gradients of
sum(out * R) (R = rule "head_R") with respect to the input and every
parameter in train mode.
"""
import json
import math

import torch
import torch.nn as nn

MASK = (1 << 64) - 1


def fnv1a64(s):
    h = 0xcbf29ce484222325
    for b in s.encode():
        h = ((h ^ b) * 0x100000001b3) & MASK
    return h


def splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & MASK
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def r(name, n):
    seed = fnv1a64(name)
    return [2.0 * ((splitmix64((seed + i) & MASK) >> 40) / float(1 << 24)) - 1.0 for i in range(n)]


def value(name, shape):
    n = 1
    for s in shape:
        n *= s
    v = r(name, n)
    if name.endswith("running_mean"):
        out = [0.1 * x for x in v]
    elif name.endswith("running_var"):
        out = [1 + 0.25 * (x + 1) for x in v]
    elif len(shape) >= 2:
        out = [x * math.sqrt(3.0 / (n // shape[0])) for x in v]
    elif name.endswith(".weight"):
        out = [1 + 0.1 * x for x in v]
    else:
        out = [0.1 * x for x in v]
    # rounded to float32 as the rule says
    return torch.tensor(out, dtype=torch.float32).double().reshape(shape)


def build(blocks):
    layers = []
    for i, o, bias, norm, act in blocks:
        layers.append(nn.Linear(i, o, bias=bias))
        if norm == "bn":
            layers.append(nn.BatchNorm1d(o))
        elif norm == "bn_noaffine":
            layers.append(nn.BatchNorm1d(o, affine=False))
        if act == "relu":
            layers.append(nn.ReLU())
    m = nn.Module()
    m.layers = nn.Sequential(*layers)
    return m


def simsiam_projector(i, h, o, layers):
    bs, d = [], i
    for _ in range(layers - 1):
        bs.append((d, h, False, "bn", "relu"))
        d = h
    return bs + [(d, o, False, "bn_noaffine", None)]


PRESETS = {
    "simsiam_projector_2": simsiam_projector(12, 16, 10, 2),
    "simsiam_projector_3": simsiam_projector(12, 16, 10, 3),
    "simsiam_predictor": [(10, 6, False, "bn", "relu"), (6, 10, True, None, None)],
    "simclr_projector": [(12, 16, True, None, "relu"), (16, 10, True, None, None)],
    "byol_projector": [(12, 16, False, "bn", "relu"), (16, 10, True, None, None)],
}

N = 8
res = {}
for name, blocks in PRESETS.items():
    prefix = "head"
    out = {"keys": [], "shapes": [], "state": {}}
    m = build(blocks).double()
    sd = m.state_dict()
    new = {}
    for k, t in sd.items():
        full = prefix + "." + k
        out["keys"].append(full)
        out["shapes"].append(list(t.shape))
        if k.endswith("num_batches_tracked"):
            new[k] = t
        else:
            new[k] = value(full, list(t.shape))
    m.load_state_dict(new)
    x = value_in = torch.tensor(r("head_input", N * blocks[0][0]), dtype=torch.float64).reshape(N, blocks[0][0])
    m.eval()
    with torch.no_grad():
        out["eval"] = m.layers(x).flatten().tolist()
    m.train()
    x = x.clone().requires_grad_()
    y = m.layers(x)
    R = torch.tensor(r("head_R", y.numel()), dtype=torch.float64).reshape(y.shape)
    loss = (y * R).sum()
    params = dict(m.named_parameters())
    grads = torch.autograd.grad(loss, [x] + list(params.values()))
    out["train"] = y.detach().flatten().tolist()
    out["grad_input"] = grads[0].flatten().tolist()
    out["grads"] = {prefix + "." + k: g.flatten().tolist() for k, g in zip(params.keys(), grads[1:])}
    out["running"] = {prefix + "." + k: t.double().flatten().tolist()
                      for k, t in m.state_dict().items() if "running" in k}
    out["input_dim"] = blocks[0][0]
    res[name] = out

print(json.dumps(res))
