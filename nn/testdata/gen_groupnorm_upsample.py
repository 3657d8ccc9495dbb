"""PyTorch reference values for nn's GroupNorm and UpsampleNearest tests
(groupnorm_upsample.json).

usage: /usr/bin/python3 gen_groupnorm_upsample.py > groupnorm_upsample.json
(PyTorch 1.13)

Inputs come from the golden value rule (see gen_bn.py), so the Go test
regenerates them with nntest.RuleValues; only results are stored, computed
in float64 from the (float32-exact) rule values.

groupnorm: torch.nn.functional.group_norm(x, G, w, b, 1e-5) with x = r(CASE.x),
w = 1 + 0.1 r(CASE.weight), b = 0.1 r(CASE.bias); loss = sum(y * r(CASE.g)).
upsample: F.interpolate(x, size=(h, w), mode="nearest") on x = r(CASE.x),
loss = sum(y * r(CASE.g)).
nearest_checksums: for every in = 1..59 and out = 1..129 (in-major), the
float32 CPU kernel's source indices src_j of F.interpolate(arange(in),
size=out, mode="nearest"), reduced to sum_j (src_j + 1) * (7919 j + 1).
float64_differs counts the pairs where the same formula in float64 differs.
"""
import json
import math

import torch
import torch.nn.functional as F

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


def gn_case(name, shape, groups):
    c = shape[1]
    x = rule(name + ".x", shape).requires_grad_()
    w = (1 + 0.1 * rule(name + ".weight", [c])).requires_grad_()
    b = (0.1 * rule(name + ".bias", [c])).requires_grad_()
    y = F.group_norm(x, groups, w, b, 1e-5)
    (y * rule(name + ".g", shape)).sum().backward()
    return {"name": name, "shape": shape, "groups": groups, "y": flat(y),
            "dx": flat(x.grad), "dw": flat(w.grad), "db": flat(b.grad)}


def up_case(name, shape, size):
    x = rule(name + ".x", shape).requires_grad_()
    y = F.interpolate(x, size=size, mode="nearest")
    (y * rule(name + ".g", list(y.shape))).sum().backward()
    return {"name": name, "shape": shape, "size": list(size), "y": flat(y), "dx": flat(x.grad)}


def main():
    out = {"groupnorm": [
        gn_case("gn_a", [2, 8, 5, 3], 4),
        gn_case("gn_b", [1, 64, 4, 4], 32),
        gn_case("gn_c", [3, 6, 7], 1),
        gn_case("gn_d", [2, 4, 1, 1], 4),
    ], "upsample": [
        up_case("up_a", [2, 3, 5, 7], (13, 10)),
        up_case("up_b", [1, 2, 4, 4], (8, 8)),
        up_case("up_c", [1, 1, 7, 13], (7, 25)),
        up_case("up_d", [1, 2, 13, 13], (25, 25)),
    ]}
    sums, differs = [], 0
    for n_in in range(1, 60):
        x = torch.arange(n_in, dtype=torch.float32).reshape(1, 1, n_in, 1)
        for n_out in range(1, 130):
            src = F.interpolate(x, size=(n_out, 1), mode="nearest").reshape(-1).long().tolist()
            sums.append(sum((s + 1) * (7919 * j + 1) for j, s in enumerate(src)))
            if n_out != n_in and n_out != 2 * n_in:
                f64 = [min(int(math.floor(j * (n_in / n_out))), n_in - 1) for j in range(n_out)]
                differs += f64 != src
    out["nearest_checksums"] = sums
    out["float64_differs"] = differs
    print(json.dumps(out))


if __name__ == "__main__":
    main()
