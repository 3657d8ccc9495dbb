"""The running-variance measurement of examples/bnstats in torchvision itself.

usage: /usr/bin/python3 torch_bnstats.py [ARCH] [PASSES]   (default efficientnet_b0 31)

Fashion-MNIST (/usr/share/datasets/fashion-mnist, the first 2,048 training
images) padded to 32x32 and repeated to RGB, standardized. A randomly
initialized torchvision model (torch.manual_seed(0)) runs PASSES train-mode
forward passes of 64 images without any weight change, then one eval-mode
pass of 512 images. For every BatchNorm2d it prints the median over channels
of: the variance of its input in the last train-mode pass, its running_var,
the variance of its input in eval mode, and the eval-mode offset
|mean - running_mean| / sqrt(running_var). For EfficientNet-B0 the depthwise
BatchNorms (block.1.1, and block.0.1 in features.1) show train-mode input
variances of 1e-5 to 1e-2 against a running_var that still holds
0.9^PASSES of its initial 1, and the eval-mode input variance falling block
after block; see the command's documentation.
"""
import gzip
import sys

import numpy as np
import torch
import torchvision


def load(n):
    raw = gzip.open("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz").read()
    x = np.frombuffer(raw, np.uint8, offset=16)[: n * 784].reshape(n, 1, 28, 28) / 255.0
    x = torch.nn.functional.pad(torch.tensor(x, dtype=torch.float32), (2, 2, 2, 2)).repeat(1, 3, 1, 1)
    return (x - x.mean()) / x.std()


def main():
    arch = sys.argv[1] if len(sys.argv) > 1 else "efficientnet_b0"
    passes = int(sys.argv[2]) if len(sys.argv) > 2 else 31
    torch.set_num_threads(1)
    torch.manual_seed(0)
    x = load(2048)
    m = getattr(torchvision.models, arch)()
    bns = [(n, b) for n, b in m.named_modules() if isinstance(b, torch.nn.BatchNorm2d)]
    seen = {}

    def hook(name):
        def f(mod, inp, out):
            seen[name] = (inp[0].var(dim=(0, 2, 3)), inp[0].mean(dim=(0, 2, 3)), tuple(inp[0].shape[2:]))
        return f

    for n, b in bns:
        b.register_forward_hook(hook(n))
    m.train()
    with torch.no_grad():
        for t in range(passes):
            i = (t * 64) % 2048
            m(x[i : i + 64])
    train = dict(seen)
    m.eval()
    with torch.no_grad():
        m(x[:512])
    print("%-28s %-8s %10s %11s %10s %8s" % ("BatchNorm", "map", "train var", "running_var", "eval var", "offset"))
    for n, b in bns:
        tv, _, hw = train[n]
        ev, em, _ = seen[n]
        off = ((em - b.running_mean) / b.running_var.sqrt()).abs().median().item()
        print("%-28s %-8s %10.3g %11.3g %10.3g %8.3g" % (n, "%dx%d" % hw, tv.median(), b.running_var.median(), ev.median(), off))


if __name__ == "__main__":
    main()
