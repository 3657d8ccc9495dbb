"""Markdown table of bench/ssl_run.sh's results: median img/s over the
rounds (and the range), peak RSS, for the default build, -tags openblas
and the PyTorch peer.

usage: python3 bench/ssl_table.py [-cpu] go.txt openblas.txt peer.txt
-cpu reports images per CPU second (all threads) instead of per second.
"""
import re
import statistics
import sys
from collections import defaultdict


cpu = sys.argv[1] == "-cpu"
if cpu:
    del sys.argv[1]
unit = "img/cpu-s" if cpu else "img/s"


def go(path):
    rows = defaultdict(list)
    for line in open(path):
        m = re.match(r"BenchmarkStep/(\S+?)(?:-\d+)?\s", line)
        if not m:
            continue
        ips = float(re.search(r"([\d.]+) " + unit, line).group(1))
        rss = float(re.search(r"([\d.]+) maxrss-MB", line).group(1))
        heap = float(re.search(r"([\d.]+) heap-MB", line).group(1))
        rows[m.group(1)].append((ips, rss, heap))
    return rows


def peer(path):
    rows = defaultdict(list)
    for line in open(path):
        f = line.split("\t")
        if len(f) >= 3:
            ips = float(f[4].split()[0]) if cpu else float(f[1].split()[0])
            rows[f[0]].append((ips, float(f[2].split()[0]), 0))
    return rows


def cell(vals, mem=True):
    if not vals:
        return "-", "-"
    ips = [v[0] for v in vals]
    s = "%.1f" % statistics.median(ips)
    if len(ips) > 1:
        s += " (%.0f-%.0f)" % (min(ips), max(ips))
    return s, "%.0f" % max(v[1] for v in vals)


g, o, p = go(sys.argv[1]), go(sys.argv[2]), peer(sys.argv[3])
u = "img per CPU s, 1 thread" if cpu else "img/s"
print("| step (32x32, batch 64, fwd+bwd+SGD) | default build %s | peak RSS MB | -tags openblas %s | peak RSS MB | PyTorch 1.13 %s | peak RSS MB | openblas / PyTorch |" % (u, u, u))
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for case in dict.fromkeys(list(g) + list(o) + list(p)):
    gi, gm = cell(g.get(case, []))
    oi, om = cell(o.get(case, []))
    pi, pm = cell(p.get(case, []))
    ratio = "-"
    if o.get(case) and p.get(case):
        ratio = "%.2fx" % (statistics.median(v[0] for v in o[case]) / statistics.median(v[0] for v in p[case]))
    print("| %s | %s | %s | %s | %s | %s | %s | %s |" % (case, gi, gm, oi, om, pi, pm, ratio))
