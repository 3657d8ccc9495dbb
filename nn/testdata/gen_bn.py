"""PyTorch reference values for nn's BatchNorm tests (bn_torch.json).

usage: /usr/bin/python3 gen_bn.py > bn_torch.json   (PyTorch 1.13, float32)

Every tensor comes from the golden value rule (documented in package nntest,
nn/nntest/doc.go), so the Go test regenerates the inputs with nntest.RuleValues and only the
results are stored. For each case a torch.nn.BatchNorm{1,2}d with weight
1+0.1r, bias 0.1r, running_mean 0.1r and running_var 1+0.25(r+1) runs two
forward passes in train mode, on inputs CASE.x1 and CASE.x2; the second
pass is differentiated for loss = sum(y * CASE.g). Then, in eval mode, it
normalizes CASE.x3. Recorded: the second train-mode output, the running
statistics and num_batches_tracked after the two passes, the gradients of
x2, weight and bias, and the eval-mode output.
"""
import json

import torch

M64 = (1 << 64) - 1


def fnv1a64(s):
    h = 0xCBF29CE484222325
    for b in s.encode():
        h ^= b
        h = (h * 0x100000001B3) & M64
    return h


def splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & M64
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def rule(name, shape):
    n = 1
    for s in shape:
        n *= s
    seed = fnv1a64(name)
    r = [2 * ((splitmix64((seed + i) & M64) >> 40) / float(1 << 24)) - 1 for i in range(n)]
    return torch.tensor(r, dtype=torch.float64).reshape(shape)


def flat(t):
    return [float(v) for v in t.detach().double().reshape(-1)]


def case(name, shape, affine):
    c = shape[1]
    bn = (torch.nn.BatchNorm1d if len(shape) == 2 else torch.nn.BatchNorm2d)(c, affine=affine)
    with torch.no_grad():
        if affine:
            bn.weight.copy_(1 + 0.1 * rule(name + ".weight", [c]))
            bn.bias.copy_(0.1 * rule(name + ".bias", [c]))
        bn.running_mean.copy_(0.1 * rule(name + ".running_mean", [c]))
        bn.running_var.copy_(1 + 0.25 * (rule(name + ".running_var", [c]) + 1))
    bn.train()
    with torch.no_grad():
        bn(rule(name + ".x1", shape).float())
    x2 = rule(name + ".x2", shape).float().requires_grad_()
    y = bn(x2)
    (y * rule(name + ".g", shape).float()).sum().backward()
    bn.eval()
    with torch.no_grad():
        y_eval = bn(rule(name + ".x3", shape).float())
    out = {
        "shape": list(shape),
        "affine": affine,
        "y": flat(y),
        "running_mean": flat(bn.running_mean),
        "running_var": flat(bn.running_var),
        "num_batches_tracked": int(bn.num_batches_tracked),
        "dx": flat(x2.grad),
        "y_eval": flat(y_eval),
    }
    if affine:
        out["dweight"] = flat(bn.weight.grad)
        out["dbias"] = flat(bn.bias.grad)
    return out


if __name__ == "__main__":
    torch.set_num_threads(1)
    cases = {
        "bn1d": case("bn1d", [8, 5], True),
        "bn2d": case("bn2d", [4, 3, 5, 6], True),
        "bn1d_noaffine": case("bn1d_noaffine", [6, 4], False),
        "bn2d_noaffine": case("bn2d_noaffine", [2, 3, 3, 2], False),
    }
    cases["torch_version"] = torch.__version__
    print(json.dumps(cases, indent=None, separators=(",", ":")))
