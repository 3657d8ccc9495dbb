"""PyTorch peer of nn's BatchNorm, ReLU and MaxPool2d benchmarks
(nn/ops_bench_test.go): forward + backward at the shapes ResNet-18 sees at
32x32 input, batch 64, plus the projection head's BatchNorm1d(2048).

usage: /usr/bin/python3 bench/ops_peer.py [blocks] [threads]

Each case times y = op(x); y.backward(dy) with x.requires_grad set (and
BatchNorm in train mode: batch statistics, running-statistics update,
input/weight/bias gradients). After a warm-up it times `blocks` blocks of
10 calls and prints the fastest block's mean per call, in microseconds,
with the same GB/s and img/s figures as the Go benchmark (GB/s counts the
bytes the pair must move at least). The best block, not the median, is
what stays comparable on a machine shared with other work; run the Go
side as `go test -bench ... -benchtime 10x -count N` and take its best
ns/op likewise.
"""
import sys
import time

import torch
import torch.nn.functional as F

blocks = int(sys.argv[1]) if len(sys.argv) > 1 else 8
torch.set_num_threads(int(sys.argv[2]) if len(sys.argv) > 2 else 2)

BATCH = 64
ACTS = [(64, 16, 16), (64, 8, 8), (128, 4, 4), (256, 2, 2), (512, 1, 1)]


def timeit(fn, per_block=10):
    for _ in range(3):
        fn()
    ts = []
    for _ in range(blocks):
        t = time.perf_counter()
        for _ in range(per_block):
            fn()
        ts.append((time.perf_counter() - t) / per_block)
    return min(ts)


def report(name, sec, batch, nbytes):
    print("%-34s %9.1f us  %7.2f GB/s  %9.0f img/s" % (name, sec * 1e6, nbytes / sec / 1e9, batch / sec), flush=True)


def bench_bn(shape):
    c = shape[1]
    bn = (torch.nn.BatchNorm1d if len(shape) == 2 else torch.nn.BatchNorm2d)(c)
    bn.train()
    x = torch.randn(*shape, requires_grad=True)
    dy = torch.randn(*shape)

    def step():
        x.grad = None
        bn.weight.grad = None
        bn.bias.grad = None
        bn(x).backward(dy)

    name = "BatchNorm/batch=%d/%s" % (shape[0], "x".join(map(str, shape[1:])))
    report(name, timeit(step), shape[0], 5 * 4 * x.numel())


def bench_relu(shape):
    x = torch.randn(*shape, requires_grad=True)
    dy = torch.randn(*shape)

    def step():
        x.grad = None
        F.relu(x).backward(dy)

    report("ReLU/batch=%d/%s" % (shape[0], "x".join(map(str, shape[1:]))), timeit(step), shape[0], 5 * 4 * x.numel())


def bench_maxpool(shape):
    x = torch.randn(*shape, requires_grad=True)
    y = F.max_pool2d(x, 3, 2, 1)
    dy = torch.randn(*y.shape)

    def step():
        x.grad = None
        F.max_pool2d(x, 3, 2, 1).backward(dy)

    report("MaxPool2d/batch=%d/%s" % (shape[0], "x".join(map(str, shape[1:]))), timeit(step), shape[0],
           4 * (2 * x.numel() + 2 * y.numel()))


if __name__ == "__main__":
    print("torch", torch.__version__, "threads", torch.get_num_threads(), flush=True)
    bench_bn((BATCH, 2048))
    for a in ACTS:
        bench_bn((BATCH,) + a)
    for a in ACTS[:3]:
        bench_relu((BATCH,) + a)
    for a in ACTS[:2]:
        bench_maxpool((BATCH,) + a)
