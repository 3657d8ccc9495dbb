"""PyTorch CPU peer of disiam's benchmarks: SSL training-step and kNN
throughput of PyTorch 1.13 / torchvision 0.14 on the same machine, the
reference that BENCHMARKS.md compares disiam with.

usage (from the repository root): /usr/bin/python3 bench/peer/bench.py [steps] [threads]
Prints one line per case: images per second (one image = all its views).
Heads follow the SimSiam CIFAR recipe (projection 2 layers of 2048, prediction
2048-512-2048), as package ssl builds them. bench/ssl_peer.py runs one of its
training-step cases per process, bench/knn_peer.py its kNN case (bench_knn).
"""
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 3
torch.set_num_threads(int(sys.argv[2]) if len(sys.argv) > 2 else 2)


def backbone(name):
    m = getattr(torchvision.models, name)()
    if name.startswith("resnet"):
        dim = m.fc.in_features
        m.fc = nn.Identity()
    else:
        dim = m.classifier[1].in_features
        m.classifier = nn.Identity()
    return m, dim


def mlp(dims, last_bn=True):
    layers = []
    for i in range(len(dims) - 1):
        layers.append(nn.Linear(dims[i], dims[i + 1], bias=False))
        if i < len(dims) - 2 or last_bn:
            layers.append(nn.BatchNorm1d(dims[i + 1]))
        if i < len(dims) - 2:
            layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def D(p, z):
    return -F.cosine_similarity(p, z.detach(), dim=1).mean()


class SimSiam(nn.Module):
    def __init__(self, name):
        super().__init__()
        self.f, d = backbone(name)
        self.g = mlp([d, 2048, 2048])
        self.q = mlp([2048, 512, 2048], last_bn=False)

    def forward(self, views):
        z = [self.g(self.f(v)) for v in views]
        p = [self.q(x) for x in z]
        return 0.5 * (D(p[0], z[1]) + D(p[1], z[0]))


class SimCLR(nn.Module):
    def __init__(self, name, tau=0.5):
        super().__init__()
        self.f, d = backbone(name)
        self.g = nn.Sequential(nn.Linear(d, 2048), nn.ReLU(), nn.Linear(2048, 128))
        self.tau = tau

    def forward(self, views):
        z = F.normalize(torch.cat([self.g(self.f(v)) for v in views]), dim=1)
        n = views[0].shape[0]
        s = (z @ z.t() / self.tau).masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
        t = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
        return F.cross_entropy(s, t)


class DiSiam(nn.Module):
    """Online (small) + assistant/target (shared weights); M views (M=2: DiSiam)."""

    def __init__(self, online, assistant):
        super().__init__()
        self.fo, do = backbone(online)
        self.fa, da = backbone(assistant)
        self.go, self.ga = mlp([do, 2048, 2048]), mlp([da, 2048, 2048])
        self.qo = mlp([2048, 512, 2048], last_bn=False)
        self.qa = mlp([2048, 512, 2048], last_bn=False)

    def forward(self, views):
        za = [self.ga(self.fa(v)) for v in views]
        zo = [self.go(self.fo(v)) for v in views]
        pa = [self.qa(z) for z in za]
        po = [self.qo(z) for z in zo]
        M = len(views)
        lo = sum(D(po[j], za[k]) for j in range(M) for k in range(M) if j != k) / (M * (M - 1))
        la = sum(D(pa[j], za[k]) for j in range(M) for k in range(M) if j != k) / (M * (M - 1))
        return 0.5 * (lo + la)


def bench(label, model, batch, views=2, size=32):
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.03, momentum=0.9, weight_decay=1e-4)
    xs = [torch.randn(batch, 3, size, size) for _ in range(views)]
    ts = []
    for i in range(steps + 1):
        t = time.perf_counter()
        loss = model(xs)
        opt.zero_grad()
        loss.backward()
        opt.step()
        ts.append(time.perf_counter() - t)
    ts = sorted(ts[1:])
    med = ts[len(ts) // 2]
    print("%-44s batch %4d  median step %.3fs  %.1f img/s" % (label, batch, med, batch / med), flush=True)


def bench_knn(n_bank=50000, n_query=10000, d=512, k=200, t=0.1, classes=10):
    bank = F.normalize(torch.randn(n_bank, d), dim=1)
    labels = torch.randint(0, classes, (n_bank,))
    q = F.normalize(torch.randn(n_query, d), dim=1)
    t0 = time.perf_counter()
    for s in range(0, n_query, 500):
        sim = q[s:s + 500] @ bank.t()
        w, idx = sim.topk(k, dim=1)
        w = (w / t).exp()
        oh = torch.zeros(w.shape[0], k, classes).scatter_(2, labels[idx].unsqueeze(-1), 1.0)
        (oh * w.unsqueeze(-1)).sum(1).argsort(dim=1, descending=True)
    dt = time.perf_counter() - t0
    print("knn predict bank %d x %d, %d queries, k=%d: %.2fs  %.0f queries/s" % (n_bank, d, n_query, k, dt, n_query / dt), flush=True)


if __name__ == "__main__":
    print("torch", torch.__version__, "threads", torch.get_num_threads())
    bench_knn()
    for b in (64, 256):
        bench("simsiam resnet18 32px", SimSiam("resnet18"), b)
        bench("simsiam efficientnet_b0 32px", SimSiam("efficientnet_b0"), b)
        bench("simclr resnet18 32px", SimCLR("resnet18"), b)
        bench("disiam effb0+resnet34 32px", DiSiam("efficientnet_b0", "resnet34"), b)
        bench("disiam+ effb0+resnet34 32px 4 views", DiSiam("efficientnet_b0", "resnet34"), b, views=4)
