"""PyTorch CPU peer of backbone/bench_test.go: forward (eval, no_grad) img/s
of ResNet-18 and EfficientNet-B0 at 32x32, batch 256, and forward+backward
(train mode, loss = sum of the pooled features, gradients of all
parameters) at batch 64.

usage: /usr/bin/python3 bench/backbone_peer.py [steps] [threads]
Prints the median and best step of `steps` timed steps after one warm-up,
and the process CPU time per image (all threads; robust to other jobs on
the machine, which inflate wall time). PyTorch runs at its best, with
torch.set_flush_denormal(True).
"""
import sys
import time

import torch
import torchvision

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 5
torch.set_num_threads(int(sys.argv[2]) if len(sys.argv) > 2 else 2)
torch.set_flush_denormal(True)


def features(model, x):
    if type(model).__name__ == "ResNet":
        m = model
        x = m.maxpool(m.relu(m.bn1(m.conv1(x))))
        x = m.layer4(m.layer3(m.layer2(m.layer1(x))))
        return torch.flatten(m.avgpool(x), 1)
    return torch.flatten(model.avgpool(model.features(x)), 1)


def bench(name, batch, train):
    model = getattr(torchvision.models, name)()
    x = torch.randn(batch, 3, 32, 32)
    ts, cs = [], []
    for i in range(steps + 1):
        t, c = time.perf_counter(), time.process_time()
        if train:
            model.train()
            model.zero_grad(set_to_none=True)
            features(model, x).sum().backward()
        else:
            model.eval()
            with torch.no_grad():
                features(model, x)
        ts.append(time.perf_counter() - t)
        cs.append(time.process_time() - c)
    ts, cs = sorted(ts[1:]), sorted(cs[1:])
    med, best, cpu = ts[len(ts) // 2], ts[0], cs[len(cs) // 2]
    what = "forward+backward" if train else "forward (eval)"
    print("%-16s %-17s batch %3d  median %.3fs  %7.1f img/s  (best %7.1f img/s)  %.2f cpu-ms/img"
          % (name, what, batch, med, batch / med, batch / best, 1e3 * cpu / batch), flush=True)


if __name__ == "__main__":
    print("torch", torch.__version__, "threads", torch.get_num_threads())
    for name in ("resnet18", "efficientnet_b0"):
        bench(name, 256, False)
        bench(name, 64, True)
