"""PyTorch peer of nn's convolution benchmarks (nn/conv_bench_test.go):
forward + backward of each distinct Conv2d of torchvision's ResNet-18 and
EfficientNet-B0 at 32x32 input, batch 64, and the whole ResNet-18 /
EfficientNet-B0 convolution stacks.

usage: /usr/bin/python3 bench/conv_peer.py [repeats] [threads] [only]

The shapes are read from the models themselves (forward hooks), so they are
exactly the ones the networks run; nn's benchmark tables list the same.
Each case times y = conv2d(x, w); y.backward(dy), with x.requires_grad off
for the stem (its input is the image), and prints the median of `repeats`
runs after one warm-up, and the median CPU time of the process (all
threads; with 2 threads it includes OpenMP's spin-waiting, with 1 thread it
is the work itself). `only` restricts to cases whose name contains it
(e.g. "ResNet18").
"""
import statistics
import sys
import time

import torch
import torch.nn.functional as F
import torchvision

BATCH = 64

# Depthwise convolutions with larger planes (nn's BenchmarkConv2dOpDepthwise):
# (C, H, W, O, K, stride, padding, dilation, groups).
DEPTHWISE = [
    (32, 32, 32, 32, 3, 1, 1, 1, 32),
    (96, 32, 32, 96, 3, 2, 1, 1, 96),
    (144, 16, 16, 144, 5, 1, 2, 1, 144),
    (240, 8, 8, 240, 5, 1, 2, 1, 240),
]


def conv_shapes(model):
    """Distinct convolutions of model at 32x32 input, in order of first use,
    with how often each occurs."""
    seen = {}

    def hook(mod, inp, out):
        x = inp[0]
        key = (x.shape[1], x.shape[2], x.shape[3], mod.out_channels, mod.kernel_size[0],
               mod.stride[0], mod.padding[0], mod.dilation[0], mod.groups)
        seen[key] = seen.get(key, 0) + 1

    hs = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 3, 32, 32))
    for h in hs:
        h.remove()
    return list(seen.items())


def name(key):
    c, h, w, o, k, s, p, d, g = key
    gs = "g%d" % g if g > 1 else ""
    return "%dx%dx%d-k%ds%dp%d%s-o%d" % (c, h, w, k, s, p, gs, o)


class Case:
    def __init__(self, key):
        c, h, w, o, k, s, p, d, g = key
        self.key = key
        self.stem = c == 3
        self.x = torch.randn(BATCH, c, h, w, requires_grad=not self.stem)
        self.w = torch.randn(o, c // g, k, k, requires_grad=True)
        self.args = dict(stride=s, padding=p, dilation=d, groups=g)
        oh = (h + 2 * p - d * (k - 1) - 1) // s + 1
        ow = (w + 2 * p - d * (k - 1) - 1) // s + 1
        self.dy = torch.randn(BATCH, o, oh, ow)
        fwd = 2.0 * BATCH * o * oh * ow * (c // g) * k * k
        self.flops = fwd * (2 if self.stem else 3)

    def run(self):
        self.x.grad = None
        self.w.grad = None
        y = F.conv2d(self.x, self.w, **self.args)
        y.backward(self.dy)


CPU = []  # CPU seconds (all threads) of the runs median_time timed last


def median_time(fn, repeats):
    fn()  # warm-up
    ts = []
    CPU.clear()
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        ts.append(time.perf_counter() - t0)
        CPU.append(time.process_time() - c0)
    return statistics.median(ts)


def main():
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    torch.set_num_threads(int(sys.argv[2]) if len(sys.argv) > 2 else 2)
    only = sys.argv[3] if len(sys.argv) > 3 else ""
    torch.manual_seed(0)
    print("torch %s, threads %d, mkldnn %s, batch %d, median of %d"
          % (torch.__version__, torch.get_num_threads(), torch.backends.mkldnn.is_available(), BATCH, repeats))
    for net, model in [("ResNet18", torchvision.models.resnet18()),
                       ("EfficientNetB0", torchvision.models.efficientnet_b0())]:
        shapes = conv_shapes(model)
        cases = [(Case(k), n) for k, n in shapes]
        if not only or only in net + "/":
            for case, _ in cases:
                t = median_time(case.run, repeats)
                print("%s/%s\t%.6f s\t%.2f GFLOP/s\t%.6f cpu-s"
                      % (net, name(case.key), t, case.flops / t / 1e9, statistics.median(CPU)), flush=True)
        if not only or only in net + "Stack":
            def stack():
                for case, n in cases:
                    for _ in range(n):
                        case.run()
            flops = sum(case.flops * n for case, n in cases)
            t = median_time(stack, repeats)
            print("%sStack (%d convs)\t%.6f s\t%.2f GFLOP/s\t%.6f cpu-s"
                  % (net, sum(n for _, n in cases), t, flops / t / 1e9, statistics.median(CPU)), flush=True)
    if not only or only in "Depthwise/":
        for key in DEPTHWISE:
            case = Case(key)
            t = median_time(case.run, repeats)
            print("Depthwise/%s\t%.6f s\t%.2f GFLOP/s\t%.6f cpu-s"
                  % (name(case.key), t, case.flops / t / 1e9, statistics.median(CPU)), flush=True)


if __name__ == "__main__":
    main()
