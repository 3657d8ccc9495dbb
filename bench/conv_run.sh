#!/bin/sh
# Runs nn's convolution benchmarks under both BLAS builds and the PyTorch
# peer, interleaved for several rounds (other jobs on the machine then
# weigh on all three alike), and prints the Markdown table of bench/conv.md.
#
# Then, unless CPU1=0, one round on one thread each (GOMAXPROCS=1,
# torch.set_num_threads(1)) in CPU seconds: the figure other jobs on the
# machine disturb least.
#
# usage (from the repository root): sh bench/conv_run.sh [rounds] [outdir]
set -e
rounds=${1:-3}
out=${2:-/tmp/conv-bench}
mkdir -p "$out"
rm -f "$out/purego.txt" "$out/openblas.txt" "$out/peer.txt" "$out/load.txt"
go test -c -o "$out/nn_purego.test" ./nn
go test -tags openblas -c -o "$out/nn_openblas.test" ./nn
bench='Conv2dOpResNet18|Conv2dOpEfficientNetB0|Conv2dOpDepthwise|Stack'
for r in $(seq "$rounds"); do
	echo "round $r: $(uptime)" >>"$out/load.txt"
	(cd nn && "$out/nn_purego.test" -test.run '^$' -test.bench "$bench" -test.benchtime 3x) >>"$out/purego.txt"
	(cd nn && "$out/nn_openblas.test" -test.run '^$' -test.bench "$bench" -test.benchtime 3x) >>"$out/openblas.txt"
	/usr/bin/python3 bench/conv_peer.py 7 2 >>"$out/peer.txt"
done
echo "end: $(uptime)" >>"$out/load.txt"
cat "$out/load.txt"
/usr/bin/python3 bench/conv_table.py "$out/purego.txt" "$out/openblas.txt" "$out/peer.txt"

# The load-independent cross-check: one thread each, CPU time.
if [ "${CPU1:-1}" = 1 ]; then
	rm -f "$out/purego1.txt" "$out/openblas1.txt" "$out/peer1.txt"
	(cd nn && GOMAXPROCS=1 "$out/nn_purego.test" -test.run '^$' -test.bench "$bench" -test.benchtime 3x) >"$out/purego1.txt"
	(cd nn && GOMAXPROCS=1 "$out/nn_openblas.test" -test.run '^$' -test.bench "$bench" -test.benchtime 3x) >"$out/openblas1.txt"
	/usr/bin/python3 bench/conv_peer.py 5 1 >"$out/peer1.txt"
	echo
	/usr/bin/python3 bench/conv_table.py -cpu "$out/purego1.txt" "$out/openblas1.txt" "$out/peer1.txt"
fi
