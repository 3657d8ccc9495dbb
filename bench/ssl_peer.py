"""PyTorch peer of ssl's BenchmarkStep: one case of bench/peer/bench.py
per process, so that the peak RSS belongs to that case alone.

usage: [SEED=0] [FLUSH_DENORMAL=0] /usr/bin/python3 bench/ssl_peer.py CASE [steps] [threads] [batch]
CASE: simsiam/resnet18, simsiam/efficientnet_b0, simclr/resnet18,
      disiam/efficientnet_b0+resnet34, disiam+/efficientnet_b0+resnet34/4views
Prints one line: case, img/s (median step, one image = all its views),
peak RSS in MB (resource.getrusage), threads, img/cpu-s (the median
step's CPU time of all threads instead of its wall time). Weights and
inputs are drawn from torch.manual_seed(SEED) (bench.py leaves them
unseeded). PyTorch runs at its best, with torch.set_flush_denormal(True):
some draws make its DiSiam steps 20x slower in its default denormal mode
(FLUSH_DENORMAL=0 measures that mode).
"""
import os
import resource
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peer"))
sys.argv, args = sys.argv[:1], sys.argv[1:]  # bench.py reads sys.argv at import
import bench  # noqa: E402

case = args[0]
steps = int(args[1]) if len(args) > 1 else 3
threads = int(args[2]) if len(args) > 2 else 2
batch = int(args[3]) if len(args) > 3 else 64
torch.set_num_threads(threads)
torch.manual_seed(int(os.environ.get("SEED", "0")))
if os.environ.get("FLUSH_DENORMAL", "1") != "0":
    torch.set_flush_denormal(True)

parts = case.split("/")
views = 4 if case.endswith("4views") else 2
if parts[0] == "simsiam":
    model = bench.SimSiam(parts[1])
elif parts[0] == "simclr":
    model = bench.SimCLR(parts[1])
elif parts[0] in ("disiam", "disiam+"):
    online, assistant = parts[1].split("+")
    model = bench.DiSiam(online, assistant)
else:
    sys.exit("unknown case " + case)

model.train()
opt = torch.optim.SGD(model.parameters(), lr=0.03, momentum=0.9, weight_decay=1e-4)
xs = [torch.randn(batch, 3, 32, 32) for _ in range(views)]
ts, cs = [], []
for i in range(steps + 1):
    t, c = time.perf_counter(), time.process_time()
    loss = model(xs)
    opt.zero_grad()
    loss.backward()
    opt.step()
    ts.append(time.perf_counter() - t)
    cs.append(time.process_time() - c)
ts, cs = sorted(ts[1:]), sorted(cs[1:])
med, cmed = ts[len(ts) // 2], cs[len(cs) // 2]
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("%s\t%.1f img/s\t%.0f MB\t%d threads\t%.1f img/cpu-s" % (case, batch / med, rss, torch.get_num_threads(), batch / cmed), flush=True)
