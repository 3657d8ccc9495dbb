"""PyTorch/torchvision peer of augment's BenchmarkViews: the SimSiam view
at 32 x 32 on float tensors, one thread, views per second.

Run: /usr/bin/python3 bench/data_peer.py
"""
import time

import torch
import torchvision.transforms as T

torch.set_num_threads(1)
torch.manual_seed(0)
view = T.Compose([
    T.RandomResizedCrop(32, scale=(0.2, 1.0), antialias=False),
    T.RandomApply([T.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
    T.RandomGrayscale(p=0.2),
    T.RandomHorizontalFlip(),
    T.Normalize([0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616]),
])
img = torch.rand(3, 32, 32)
for _ in range(200):
    view(img)
best = 0.0
for _ in range(3):
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < 2.0:
        view(img)
        n += 1
    best = max(best, n / (time.perf_counter() - t0))
print(f"torchvision SimSiam view 32x32, 1 thread: {best:.0f} views/s (best of 3)")
