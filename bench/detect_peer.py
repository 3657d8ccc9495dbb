"""PyTorch CPU peer of detect/bench_test.go: one training step (forward,
losses, backward, SGD step) and one inference (eval mode, postprocessing)
of torchvision 0.14's FCOS on a ResNet-18 body (FPN with P6/P7 256 wide,
the head's 4 convolutions per tower, 91 classes) at 2x3x256x256.

GeneralizedRCNNTransform is set to min_size = max_size = 256, so the
images are not resized (it still normalizes, which the Go step does in its
data loader: a negligible difference).

usage: /usr/bin/python3 bench/detect_peer.py [steps] [threads]
Prints the median and best wall time of `steps` timed steps after one
warm-up, and the median process CPU time per step (all threads).
"""
import sys
import time

import torch
import torchvision
from torchvision.models.detection import FCOS
from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
from torchvision.ops.feature_pyramid_network import LastLevelP6P7

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 5
torch.set_num_threads(int(sys.argv[2]) if len(sys.argv) > 2 else 2)
torch.set_flush_denormal(True)
torch.manual_seed(0)

N, S = 2, 256
body = torchvision.models.resnet18()
bb = _resnet_fpn_extractor(body, 5, returned_layers=[2, 3, 4], extra_blocks=LastLevelP6P7(256, 256))
model = FCOS(bb, num_classes=91, min_size=S, max_size=S)
x = (torch.arange(N * 3 * S * S) * 7919 % 1000).float().div(500).sub(1).reshape(N, 3, S, S)
images = [x[i] for i in range(N)]
targets = [
    {"boxes": torch.tensor([[20, 30, 120, 140], [150, 40, 240, 100], [60, 160, 90, 200]], dtype=torch.float32),
     "labels": torch.tensor([1, 17, 3])},
    {"boxes": torch.tensor([[10, 10, 250, 250], [100, 120, 130, 150], [30, 200, 80, 240]], dtype=torch.float32),
     "labels": torch.tensor([5, 62, 1])},
]
opt = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9, weight_decay=1e-4)


def train_step():
    model.train()
    losses = model(images, targets)
    loss = sum(losses.values())
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def infer():
    model.eval()
    with torch.no_grad():
        model(images)


def bench(name, f):
    ts, cs = [], []
    for _ in range(steps + 1):
        t, c = time.perf_counter(), time.process_time()
        f()
        ts.append(time.perf_counter() - t)
        cs.append(time.process_time() - c)
    ts, cs = sorted(ts[1:]), sorted(cs[1:])
    print("%-22s median %7.1f wall-ms/step  best %7.1f  %7.1f cpu-ms/step" % (name, 1e3 * ts[len(ts) // 2], 1e3 * ts[0], 1e3 * cs[len(cs) // 2]), flush=True)


print("torch", torch.__version__, "torchvision", torchvision.__version__, "threads", torch.get_num_threads())
bench("FCOS train step", train_step)
bench("FCOS inference", infer)
