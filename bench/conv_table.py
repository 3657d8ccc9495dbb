"""Builds the Markdown table of bench/conv.md from saved benchmark output.

usage: /usr/bin/python3 bench/conv_table.py GONUM.txt OPENBLAS.txt PEER.txt

GONUM.txt and OPENBLAS.txt are `go test -bench` outputs of nn's
convolution benchmarks, PEER.txt the output of bench/conv_peer.py; each
may hold several rounds, and the median over rounds is used.
Times are seconds per forward + backward at batch 64; the ratios are ours
over PyTorch's (below 1: we are faster).
"""
import re
import statistics
import sys


def go_times(path):
    runs = {}
    for line in open(path):
        m = re.match(r"^Benchmark(\S+?)(-\d+)?\s+\d+\s+([\d.]+) ns/op", line)
        if not m:
            continue
        name = m.group(1)
        for prefix, net in (("Conv2DResNet18/", "ResNet18/"), ("Conv2DEfficientNetB0/", "EfficientNetB0/"),
                            ("Conv2DDepthwise/", "Depthwise/")):
            if name.startswith(prefix):
                name = net + name[len(prefix):]
        runs.setdefault(name, []).append(float(m.group(3)) / 1e9)
    return {k: statistics.median(v) for k, v in runs.items()}


def peer_times(path):
    runs = {}
    for line in open(path):
        m = re.match(r"^(\S+)(?: \(\d+ convs\))?\t([\d.]+) s", line)
        if m:
            runs.setdefault(m.group(1), []).append(float(m.group(2)))
    return {k: statistics.median(v) for k, v in runs.items()}


def fmt(t):
    if t is None:
        return "-"
    return "%.4f" % t if t < 1 else "%.3f" % t


def ratio(a, b):
    return "%.2f" % (a / b) if a is not None and b else "-"


def main():
    gonum, openblas, peer = go_times(sys.argv[1]), go_times(sys.argv[2]), peer_times(sys.argv[3])
    names = [n for n in list(gonum) + [n for n in openblas if n not in gonum]]
    order = lambda n: (0 if "Stack" in n else 1, names.index(n))
    print("| shape | ours, gonum (s) | ours, openblas (s) | PyTorch (s) | gonum / PyTorch | openblas / PyTorch |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for n in sorted(names, key=order):
        g, o, p = gonum.get(n), openblas.get(n), peer.get(n)
        label = "**%s**" % n if "Stack" in n else n
        print("| %s | %s | %s | %s | %s | %s |" % (label, fmt(g), fmt(o), fmt(p), ratio(g, p), ratio(o, p)))


if __name__ == "__main__":
    main()
