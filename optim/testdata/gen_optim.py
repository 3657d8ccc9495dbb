"""PyTorch reference trajectories for package optim's tests.

usage: /usr/bin/python3 gen_optim.py > optim.json

Parameters and per-step gradients follow the golden rule (FNV-1a +
splitmix64, r in [-1, 1); see ../../backbone/testdata/detweights.py): parameter
NAME holds rule("NAME") and its gradient at step k is rule("grad.NAME.k")
(times 0.1 for every third step, so that gradient norms vary). Each case
runs a few steps with the given learning rates and records every parameter
after every step (float32 values). LARS is lightly's (lightly/utils/lars.py,
from PyTorch Lightning Bolts), copied below, with rank-1 parameters
(biases, BatchNorm) in a group with weight decay 0, as lightly's SimCLR
benchmarks do; SGD is torch.optim.SGD.
"""
import json

import torch
from torch.optim.optimizer import Optimizer

torch.set_num_threads(1)
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
    n = 1
    for s in shape:
        n *= s
    r = [2.0 * ((splitmix64((seed + i) & MASK) >> 40) / float(1 << 24)) - 1.0 for i in range(n)]
    return torch.tensor(r, dtype=torch.float64).reshape(shape).float()


class LARS(Optimizer):
    """lightly.utils.lars.LARS (PyTorch Lightning Bolts), unchanged."""

    def __init__(self, params, lr, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, trust_coefficient=0.001, eps=1e-8):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov,
                        trust_coefficient=trust_coefficient, eps=eps)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            weight_decay = group["weight_decay"]
            momentum = group["momentum"]
            dampening = group["dampening"]
            nesterov = group["nesterov"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                d_p = p.grad
                p_norm = torch.norm(p.data)
                g_norm = torch.norm(p.grad.data)
                if weight_decay != 0:
                    if p_norm != 0 and g_norm != 0:
                        lars_lr = p_norm / (g_norm + p_norm * weight_decay + group["eps"])
                        lars_lr *= group["trust_coefficient"]
                        d_p = d_p.add(p, alpha=weight_decay)
                        d_p *= lars_lr
                if momentum != 0:
                    param_state = self.state[p]
                    if "momentum_buffer" not in param_state:
                        buf = param_state["momentum_buffer"] = torch.clone(d_p).detach()
                    else:
                        buf = param_state["momentum_buffer"]
                        buf.mul_(momentum).add_(d_p, alpha=1 - dampening)
                    if nesterov:
                        d_p = d_p.add(buf, alpha=momentum)
                    else:
                        d_p = buf
                p.add_(d_p, alpha=-group["lr"])


SHAPES = {"fc.weight": [5, 7], "fc.bias": [5], "conv.weight": [4, 3, 3, 3], "bn.weight": [4]}
LRS = [0.1, 0.05, 0.2, 0.0, 0.3]


def params():
    return {n: torch.nn.Parameter(rule(n, s)) for n, s in SHAPES.items()}


def run(make_opt):
    ps = params()
    opt = make_opt(ps)
    traj = []
    for k, lr in enumerate(LRS):
        for n, p in ps.items():
            g = rule("grad.%s.%d" % (n, k), SHAPES[n])
            if k % 3 == 2:
                g = g * 0.1
            p.grad = g
        for group in opt.param_groups:
            group["lr"] = lr
        opt.step()
        traj.append({n: p.detach().double().flatten().tolist() for n, p in ps.items()})
    return traj


def groups(ps, wd):
    decay = [p for p in ps.values() if p.ndim != 1]
    no_decay = [p for p in ps.values() if p.ndim == 1]
    return [{"params": decay}, {"params": no_decay, "weight_decay": 0.0}]


cases = {
    "sgd_m0.9_wd1e-4": run(lambda ps: torch.optim.SGD(ps.values(), lr=1, momentum=0.9, weight_decay=1e-4)),
    "sgd_plain": run(lambda ps: torch.optim.SGD(ps.values(), lr=1)),
    "sgd_nesterov_wd5e-4": run(lambda ps: torch.optim.SGD(ps.values(), lr=1, momentum=0.8, weight_decay=5e-4, nesterov=True)),
    "sgd_dampening": run(lambda ps: torch.optim.SGD(ps.values(), lr=1, momentum=0.9, dampening=0.5, weight_decay=1e-3)),
    "lars_m0.9_wd1e-6": run(lambda ps: LARS(groups(ps, 1e-6), lr=1, momentum=0.9, weight_decay=1e-6)),
    "lars_m0.9_wd1e-2": run(lambda ps: LARS(groups(ps, 1e-2), lr=1, momentum=0.9, weight_decay=1e-2)),
}

# EMA (lightly.models.utils.update_momentum) with the BYOL schedule.
ema = {}
online = {n: rule(n, s) for n, s in SHAPES.items()}
target = {n: rule("target." + n, s) for n, s in SHAPES.items()}
for n in SHAPES:
    t = target[n].clone()
    for m in (0.99, 0.995, 0.999):
        t = t * m + online[n] * (1.0 - m)
    ema[n] = t.double().flatten().tolist()

print(json.dumps({"shapes": SHAPES, "lrs": LRS, "cases": cases,
                  "ema": {"taus": [0.99, 0.995, 0.999], "target": ema}}))
