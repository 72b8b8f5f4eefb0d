#!/bin/sh
# Runs the benchmarks in tests/bench from an optimised build (build-bench/).
#   scripts/bench.sh          every benchmark
#   scripts/bench.sh NAME     one (tests/bench/bench_NAME.c)
# Each figure is one line: `bench NAME.FIGURE VALUE UNIT`.
set -eu
cd "$(dirname "$0")/.."
dir=build-bench
if [ ! -f "$dir/build.ninja" ]; then
  meson setup "$dir" --buildtype=release -Db_ndebug=false >/dev/null
fi
ninja -C "$dir" >/dev/null
ran=0
for exe in "$dir"/tests/bench/bench_*; do
  [ -x "$exe" ] || continue
  name=$(basename "$exe" | sed 's/^bench_//')
  if [ -n "${1:-}" ] && [ "$1" != "$name" ]; then continue; fi
  "$exe"
  ran=$((ran + 1))
done
if [ "$ran" -eq 0 ]; then
  echo "no benchmark named ${1:-}" >&2
  exit 2
fi
