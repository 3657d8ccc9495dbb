"""Builds the Markdown table of bench/conv.md from saved benchmark output.

usage: /usr/bin/python3 bench/conv_table.py [-cpu] PUREGO.txt OPENBLAS.txt PEER.txt

PUREGO.txt (default build) and OPENBLAS.txt (-tags openblas) are
`go test -bench` outputs of nn's convolution benchmarks, PEER.txt the output of bench/conv_peer.py; each
may hold several rounds, and the median over rounds is used.
Times are milliseconds per forward + backward at batch 64; the ratios are ours
over PyTorch's (below 1: we are faster). With -cpu the table shows CPU
milliseconds instead of wall-clock ones (meant for single-threaded runs,
where PyTorch's CPU time holds no spin-waiting).
"""
import re
import statistics
import sys


CPU = False


def go_times(path):
    runs = {}
    for line in open(path):
        m = re.match(r"^Benchmark(\S+?)(-\d+)?\s+\d+\s+([\d.]+) ns/op", line)
        if not m:
            continue
        name = m.group(1)
        t = float(m.group(3)) / 1e9
        if CPU:
            c = re.search(r"([\d.]+) cpu-(ms/op|s/pass)", line)
            if not c:
                continue
            t = float(c.group(1)) / (1e3 if c.group(2) == "ms/op" else 1)
        for prefix, net in (("Conv2dOpResNet18/", "ResNet18/"), ("Conv2dOpEfficientNetB0/", "EfficientNetB0/"),
                            ("Conv2dOpDepthwise/", "Depthwise/")):
            if name.startswith(prefix):
                name = net + name[len(prefix):]
        runs.setdefault(name, []).append(t)
    return {k: statistics.median(v) for k, v in runs.items()}


def peer_times(path):
    runs = {}
    for line in open(path):
        m = re.match(r"^(\S+)(?: \(\d+ convs\))?\t([\d.]+) s\t[\d.]+ GFLOP/s\t([\d.]+) cpu-s", line)
        if m:
            runs.setdefault(m.group(1), []).append(float(m.group(3 if CPU else 2)))
    return {k: statistics.median(v) for k, v in runs.items()}


def fmt(t):
    if t is None:
        return "-"
    ms = t * 1e3
    return "%.3f" % ms if ms < 10 else "%.1f" % ms


def ratio(a, b):
    return "%.2f" % (a / b) if a is not None and b else "-"


def main():
    global CPU
    args = sys.argv[1:]
    if args and args[0] == "-cpu":
        CPU, args = True, args[1:]
    gonum, openblas, peer = go_times(args[0]), go_times(args[1]), peer_times(args[2])
    names = [n for n in list(gonum) + [n for n in openblas if n not in gonum]]
    order = lambda n: (0 if "Stack" in n else 1, names.index(n))
    unit = "CPU ms" if CPU else "ms"
    print("| shape | ours, pure Go (%s) | ours, openblas (%s) | PyTorch (%s) | pure Go / PyTorch | openblas / PyTorch |"
          % (unit, unit, unit))
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for n in sorted(names, key=order):
        g, o, p = gonum.get(n), openblas.get(n), peer.get(n)
        label = "**%s**" % n if "Stack" in n else n
        print("| %s | %s | %s | %s | %s | %s |" % (label, fmt(g), fmt(o), fmt(p), ratio(g, p), ratio(o, p)))


if __name__ == "__main__":
    main()
