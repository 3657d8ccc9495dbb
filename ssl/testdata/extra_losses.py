"""Extra PyTorch reference values for package ssl's losses.

usage: /usr/bin/python3 extra_losses.py > extra_losses.json

Complements losses.json (written by backbone/testdata/golden.py, mode
"losses") with the losses it
does not cover: BYOL's symmetrized normalized MSE, lightly's FastSiam
mean-of-other-views targets, NegativeCosine differentiable in both inputs
and NT-Xent at another size. Inputs follow the golden rule (FNV-1a +
splitmix64, r in [-1, 1)); values and gradients are float64, unrounded.
"""
import json

import numpy as np
import torch
import torch.nn.functional as Fn

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


def rule(name, shape):
    seed = fnv1a64(name)
    n = int(np.prod(shape))
    r = [2.0 * ((splitmix64((seed + i) & MASK) >> 40) / float(1 << 24)) - 1.0 for i in range(n)]
    return torch.tensor(r, dtype=torch.float64).reshape(shape).requires_grad_()


def tolist(t):
    return t.detach().numpy().tolist()


def nmse(p, z):
    return (2 - 2 * (Fn.normalize(p, dim=1) * Fn.normalize(z.detach(), dim=1)).sum(1)).mean()


def neg_cos(p, z):
    return -(Fn.normalize(p, dim=1) * Fn.normalize(z, dim=1)).sum(1).mean()


def case(names, loss, inputs, extra=None):
    gs = torch.autograd.grad(loss, inputs)
    out = {"inputs": names, "shape": list(inputs[0].shape), "loss": loss.item()}
    for nm, g in zip(names, gs):
        out["grad_" + nm] = tolist(g)
    out.update(extra or {})
    return out


res = {}
N, D = 8, 16
p1, p2, t1, t2 = (rule(n, (N, D)) for n in ("p1", "p2", "t1", "t2"))
res["byol"] = case(["p1", "p2"], 0.5 * nmse(p1, t2) + 0.5 * nmse(p2, t1), [p1, p2],
                   {"targets": ["t1", "t2"], "formula": "0.5*(2-2cos(p1,sg(t2))) + 0.5*(2-2cos(p2,sg(t1)))"})

M = 4
ps = [rule("fs_p%d" % j, (N, D)) for j in range(M)]
zs = [rule("fs_z%d" % j, (N, D)) for j in range(M)]
zst = torch.stack([z.detach() for z in zs])
loss = 0.0
for i in range(M):  # lightly's FastSiam example
    mask = torch.arange(M) != i
    loss = loss + neg_cos(ps[i], zst[mask].mean(0)) / M
res["fastsiam_mean_M4"] = case(["fs_p%d" % j for j in range(M)], loss, ps,
                               {"targets": ["fs_z%d" % j for j in range(M)],
                                "formula": "1/M sum_j D(p_j, sg(mean_{k!=j} z_k))"})

a, b = rule("nc_a", (N, D)), rule("nc_b", (N, D))
res["negative_cosine"] = case(["nc_a", "nc_b"], neg_cos(a, b), [a, b])

n2, d2, tau = 13, 5, 0.2
z1, z2 = rule("nx_z1", (n2, d2)), rule("nx_z2", (n2, d2))
z = Fn.normalize(torch.cat([z1, z2]), dim=1)
s = (z @ z.t() / tau).masked_fill(torch.eye(2 * n2, dtype=torch.bool), float("-inf"))
tgt = torch.cat([torch.arange(n2, 2 * n2), torch.arange(0, n2)])
res["nt_xent_13x5_tau_0.2"] = case(["nx_z1", "nx_z2"], Fn.cross_entropy(s, tgt), [z1, z2], {"tau": tau})

print(json.dumps(res))
