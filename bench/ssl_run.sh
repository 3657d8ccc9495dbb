#!/bin/sh
# Runs ssl's training-step benchmarks (BenchmarkStep) under both BLAS
# builds and the PyTorch peer (bench/ssl_peer.py over
# bench/peer/bench.py), one case per process (peak RSS per case),
# interleaved case by case for several rounds so that other jobs on the
# machine weigh on all three alike, and prints the Markdown table of
# bench/ssl.md (median over rounds).
#
# usage (from the repository root): sh bench/ssl_run.sh [rounds] [steps] [outdir]
set -e
rounds=${1:-3}
steps=${2:-3}
out=${3:-/tmp/ssl-bench}
mkdir -p "$out"
rm -f "$out/go.txt" "$out/openblas.txt" "$out/peer.txt" "$out/load.txt"
go test -c -o "$out/ssl_default.test" ./ssl
go test -tags openblas -c -o "$out/ssl_openblas.test" ./ssl
cases="simsiam/resnet18 simsiam/efficientnet_b0 simclr/resnet18 disiam/efficientnet_b0+resnet34 disiam+/efficientnet_b0+resnet34/4views"
for r in $(seq "$rounds"); do
	echo "round $r: $(uptime)" >>"$out/load.txt"
	for c in $cases; do
		pat="^BenchmarkStep\$/$(echo "$c" | sed 's/+/\\+/g; s#\([^/]*\)#^\1$#g')"
		(cd ssl && "$out/ssl_default.test" -test.run '^$' -test.bench "$pat" -test.benchtime "${steps}x") | grep '^Benchmark' >>"$out/go.txt"
		(cd ssl && "$out/ssl_openblas.test" -test.run '^$' -test.bench "$pat" -test.benchtime "${steps}x") | grep '^Benchmark' >>"$out/openblas.txt"
		/usr/bin/python3 bench/ssl_peer.py "$c" "$steps" 2 >>"$out/peer.txt"
	done
done
echo "end: $(uptime)" >>"$out/load.txt"
cat "$out/load.txt"
/usr/bin/python3 bench/ssl_table.py "$out/go.txt" "$out/openblas.txt" "$out/peer.txt"

# The load-independent cross-check, unless CPU1=0: one thread each
# (GOMAXPROCS=1, torch.set_num_threads(1)), images per CPU second.
if [ "${CPU1:-1}" = 1 ]; then
	rm -f "$out/go1.txt" "$out/openblas1.txt" "$out/peer1.txt"
	for c in $cases; do
		pat="^BenchmarkStep\$/$(echo "$c" | sed 's/+/\\+/g; s#\([^/]*\)#^\1$#g')"
		(cd ssl && GOMAXPROCS=1 "$out/ssl_default.test" -test.run '^$' -test.bench "$pat" -test.benchtime "${steps}x") | grep '^Benchmark' >>"$out/go1.txt"
		(cd ssl && GOMAXPROCS=1 "$out/ssl_openblas.test" -test.run '^$' -test.bench "$pat" -test.benchtime "${steps}x") | grep '^Benchmark' >>"$out/openblas1.txt"
		/usr/bin/python3 bench/ssl_peer.py "$c" "$steps" 1 >>"$out/peer1.txt"
	done
	echo
	/usr/bin/python3 bench/ssl_table.py -cpu "$out/go1.txt" "$out/openblas1.txt" "$out/peer1.txt"
fi
