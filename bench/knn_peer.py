"""PyTorch peer of knn.BenchmarkEvaluate: only the kNN part of
bench/peer/bench.py (bench_knn), repeated. Besides queries/s it
prints queries per CPU-second of all threads (time.process_time).

usage: /usr/bin/python3 bench/knn_peer.py [repeats] [threads]
"""
import sys
import time

import torch
import torch.nn.functional as F


def bench_knn(n_bank=50000, n_query=10000, d=512, k=200, t=0.1, classes=10):
    # Identical to bench_knn in bench/peer/bench.py, but for the CPU time.
    bank = F.normalize(torch.randn(n_bank, d), dim=1)
    labels = torch.randint(0, classes, (n_bank,))
    q = F.normalize(torch.randn(n_query, d), dim=1)
    t0, c0 = time.perf_counter(), time.process_time()
    for s in range(0, n_query, 500):
        sim = q[s:s + 500] @ bank.t()
        w, idx = sim.topk(k, dim=1)
        w = (w / t).exp()
        oh = torch.zeros(w.shape[0], k, classes).scatter_(2, labels[idx].unsqueeze(-1), 1.0)
        (oh * w.unsqueeze(-1)).sum(1).argsort(dim=1, descending=True)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    print("knn predict bank %d x %d, %d queries, k=%d: %.2fs  %.0f queries/s  %.0f queries/cpu-s"
          % (n_bank, d, n_query, k, dt, n_query / dt, n_query / cpu), flush=True)


if __name__ == "__main__":
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    torch.set_num_threads(int(sys.argv[2]) if len(sys.argv) > 2 else 2)
    torch.manual_seed(0)
    print("torch", torch.__version__, "threads", torch.get_num_threads())
    for _ in range(repeats):
        bench_knn()
