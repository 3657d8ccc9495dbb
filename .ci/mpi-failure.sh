#!/usr/bin/env bash
# Failure test of data-parallel training over Open MPI, with the pretrain
# example built with -tags mpi (its path is the argument):
#   1. a reference run of 3 epochs on 2 ranks;
#   2. the same run with rank 1 killed (SIGKILL) after the first
#      checkpoint: mpirun must end rank 0 too, with a non-zero status,
#      within 60 s;
#   3. -resume on 2 ranks from that checkpoint: the epochs' losses must be
#      the reference's, bit for bit;
#   4. the same run with rank 1 stopped (SIGSTOP, a hung host) and
#      -mpi-timeout 5s: rank 0 must stop with its timeout error;
#   5. -resume of (4) on 1 rank: the losses must match the reference to
#      float32 reduction-order tolerance, |diff| <= 5e-5·(1+|loss|)
#      (DiSiam's loss lies in [-1, 1] and is near 0 here, so the
#      tolerance is absolute at that scale).
set -euo pipefail
bin=$(realpath "$1")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_MCA_btl=self,vader
mpi=(mpirun --oversubscribe -x GOMAXPROCS=1)
args=(-method disiam -train 32 -test 16 -batch 16 -epochs 3 -knn-every 0 -knn-k 5 -eval-start=false -checkpoint-every 1 -seed 2)

# rank_pid MPIRUN_PID RANK prints the pid of that rank.
rank_pid() {
  for p in $(pgrep -P "$1"); do
    if tr '\0' '\n' < "/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2"; then echo "$p"; return; fi
  done
}

# losses FILE prints the epochs' losses of a metrics file.
losses() { python3 -c 'import json,sys; print(" ".join(repr(json.loads(l)["loss"]) for l in open(sys.argv[1])))' "$1"; }

echo "mpi-failure: reference run"
"${mpi[@]}" -np 2 "$bin" "${args[@]}" -out "$work/ref" > "$work/ref.log" 2>&1
ref=$(losses "$work/ref/metrics.jsonl")
echo "  losses: $ref"

# interrupt SIGNAL DIR [FLAGS...]: runs the job, sends SIGNAL to rank 1
# once the first checkpoint exists, and returns the job's status and its
# time after the signal in $status and $secs.
interrupt() {
  local sig=$1 dir=$2; shift 2
  "${mpi[@]}" -np 2 "$bin" "${args[@]}" -out "$dir" "$@" > "$dir.log" 2>&1 &
  local job=$!
  for _ in $(seq 600); do [ -f "$dir/checkpoint.safetensors" ] && break; sleep 0.2; done
  [ -f "$dir/checkpoint.safetensors" ] || { echo "no checkpoint"; cat "$dir.log"; exit 1; }
  local pid; pid=$(rank_pid "$job" 1)
  [ -n "$pid" ] || { echo "rank 1 not found"; exit 1; }
  local t0; t0=$(date +%s.%N)
  kill "-$sig" "$pid"
  status=0
  timeout 120 tail --pid="$job" -f /dev/null || true
  wait "$job" || status=$?
  secs=$(python3 -c "import sys; print(round($(date +%s.%N) - $t0, 1))")
  kill -KILL "$pid" 2>/dev/null || true
}

echo "mpi-failure: rank 1 killed"
interrupt KILL "$work/killed"
echo "  mpirun exited with status $status ${secs}s after the kill"
[ "$status" != 0 ] || { echo "FAIL: the job succeeded"; exit 1; }
python3 -c "import sys; sys.exit(0 if $secs < 60 else 1)" || { echo "FAIL: took ${secs}s"; exit 1; }
"${mpi[@]}" -np 2 "$bin" "${args[@]}" -out "$work/killed" -resume > "$work/killed-resume.log" 2>&1
got=$(losses "$work/killed/metrics.jsonl")
echo "  resumed on 2 ranks: $got"
[ "$got" = "$ref" ] || { echo "FAIL: resumed losses differ from the reference"; exit 1; }

echo "mpi-failure: rank 1 stopped, -mpi-timeout 5s"
interrupt STOP "$work/stopped" -mpi-timeout 5s
echo "  mpirun exited with status $status ${secs}s after the stop"
grep -a "timed out" "$work/stopped.log" | head -1 | cut -c1-400
[ "$status" != 0 ] && grep -aq "timed out waiting for the other ranks" "$work/stopped.log" || { echo "FAIL: no timeout error"; cat "$work/stopped.log"; exit 1; }
python3 -c "import sys; sys.exit(0 if $secs < 60 else 1)" || { echo "FAIL: took ${secs}s"; exit 1; }
"${mpi[@]}" -np 1 "$bin" "${args[@]}" -out "$work/stopped" -resume > "$work/stopped-resume.log" 2>&1
got=$(losses "$work/stopped/metrics.jsonl")
echo "  resumed on 1 rank: $got"
python3 - "$ref" "$got" <<'PY'
import sys
a, b = [list(map(float, s.split())) for s in sys.argv[1:3]]
assert len(a) == len(b), (a, b)
worst = max(abs(x - y) / (1 + abs(x)) for x, y in zip(a, b))
print("  max |diff|/(1+|loss|) from the reference: %.2g" % worst)
sys.exit(0 if worst <= 5e-5 else 1)
PY
echo "mpi-failure: passed"
