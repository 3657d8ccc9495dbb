#!/bin/sh
# Rebuilds BENCHMARKS.md from bench/header.md and the per-area sections.
set -e
cd "$(dirname "$0")/.."
{
  cat bench/header.md
  for s in conv ops backbone ssl knn data detect; do
    [ -f "bench/$s.md" ] || continue
    echo
    cat "bench/$s.md"
  done
} > BENCHMARKS.md
