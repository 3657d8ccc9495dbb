"""PyTorch references for optim's detection additions: MultiStep,
LinearWarmup and GradClipper.

usage: /usr/bin/python3 gen_detect_optim.py > detect_optim.json

schedules: the learning rate of every iteration of
  - "torchvision": references/detection/train.py and engine.py of
    torchvision 0.14: MultiStepLR(milestones, gamma) stepped per epoch,
    and in epoch 0 a LinearLR(start_factor 1e-3, total_iters
    min(1000, len(loader) - 1)) stepped per iteration;
  - "chained": LinearLR and MultiStepLR (milestones in iterations) both
    stepped every iteration.
clip: torch.nn.utils.clip_grad_norm_ on gradients set by the golden rule
(see gen_optim.py), for several max norms and norm types: the returned
total norm and the gradients afterwards.
"""
import json
import math

import torch

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


def torchvision_lrs(base, spe, epochs, milestones, gamma):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=base, momentum=0.9, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=milestones, gamma=gamma)
    out = []
    for epoch in range(epochs):
        warm = None
        if epoch == 0:
            warm = torch.optim.lr_scheduler.LinearLR(opt, start_factor=1.0 / 1000, total_iters=min(1000, spe - 1))
        for _ in range(spe):
            out.append(opt.param_groups[0]["lr"])
            opt.step()
            if warm is not None:
                warm.step()
        sched.step()
    return out


def chained_lrs(base, steps, warmup, factor, milestones, gamma):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=base)
    a = torch.optim.lr_scheduler.LinearLR(opt, start_factor=factor, total_iters=warmup)
    b = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=milestones, gamma=gamma)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        a.step()
        b.step()
    return out


schedules = [
    dict(name="torchvision", kind="torchvision", base=0.01, spe=7, epochs=6, milestones=[3, 5], gamma=0.1,
         lrs=torchvision_lrs(0.01, 7, 6, [3, 5], 0.1)),
    dict(name="torchvision one step", kind="torchvision", base=0.02, spe=2, epochs=3, milestones=[2], gamma=0.5,
         lrs=torchvision_lrs(0.02, 2, 3, [2], 0.5)),
    dict(name="chained", kind="chained", base=0.1, steps=30, warmup=12, factor=0.25, milestones=[5, 20, 20, 26], gamma=0.3,
         lrs=chained_lrs(0.1, 30, 12, 0.25, [5, 20, 20, 26], 0.3)),
]

shapes = {"conv.weight": [4, 3, 3, 3], "conv.bias": [4], "fc.weight": [5, 4]}
clips = []
for max_norm, norm_type, scale in [(1.0, 2.0, 1.0), (1e6, 2.0, 1.0), (0.5, 3.0, 1.0), (0.25, math.inf, 1.0), (35.0, 2.0, 40.0)]:
    params = []
    for name, shape in shapes.items():
        p = torch.nn.Parameter(rule(name, shape))
        p.grad = rule("grad." + name, shape) * scale
        params.append(p)
    total = torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type=norm_type)
    clips.append(dict(max_norm=max_norm, norm_type="inf" if math.isinf(norm_type) else norm_type, scale=scale,
                      total=float(total), grads={n: p.grad.flatten().tolist() for n, p in zip(shapes, params)}))

print(json.dumps(dict(torch=torch.__version__, shapes=shapes, schedules=schedules, clip=clips)))
