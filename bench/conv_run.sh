#!/bin/sh
# Runs nn's convolution benchmarks under both BLAS builds and the PyTorch
# peer, interleaved for several rounds (other jobs on the machine then
# weigh on all three alike), and prints the Markdown table of bench/conv.md.
#
# usage (from the repository root): sh bench/conv_run.sh [rounds] [outdir]
set -e
rounds=${1:-3}
out=${2:-/tmp/conv-bench}
mkdir -p "$out"
rm -f "$out/gonum.txt" "$out/openblas.txt" "$out/peer.txt" "$out/load.txt"
go test -c -o "$out/nn_gonum.test" ./nn
go test -tags openblas -c -o "$out/nn_openblas.test" ./nn
bench='Conv2DResNet18|Conv2DEfficientNetB0|Conv2DDepthwise|Stack'
for r in $(seq "$rounds"); do
	echo "round $r: $(uptime)" >>"$out/load.txt"
	(cd nn && "$out/nn_gonum.test" -test.run '^$' -test.bench "$bench" -test.benchtime 3x) >>"$out/gonum.txt"
	(cd nn && "$out/nn_openblas.test" -test.run '^$' -test.bench "$bench" -test.benchtime 3x) >>"$out/openblas.txt"
	/usr/bin/python3 bench/conv_peer.py 7 2 >>"$out/peer.txt"
done
echo "end: $(uptime)" >>"$out/load.txt"
cat "$out/load.txt"
/usr/bin/python3 bench/conv_table.py "$out/gonum.txt" "$out/openblas.txt" "$out/peer.txt"
