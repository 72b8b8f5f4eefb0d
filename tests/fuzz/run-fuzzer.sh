#!/bin/sh
# Runs one libFuzzer target for PIVOTAL_FUZZ_SECONDS (default 20), seeded by
# its committed corpus; new inputs go to a scratch directory, so the
# committed corpus is never modified. A crash leaves its input in the
# scratch directory and fails the test.
set -eu
exe=$1
corpus=$2
seconds=${PIVOTAL_FUZZ_SECONDS:-20}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# -error_exitcode: libFuzzer's default of 77 would read as "skipped" to meson
if ! "$exe" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -error_exitcode=1 \
    -artifact_prefix="$scratch/" "$scratch" "$corpus"; then
  for f in "$scratch"/crash-* "$scratch"/leak-* "$scratch"/timeout-* "$scratch"/oom-*; do
    [ -f "$f" ] && echo "failing input ($f):" && od -A x -t x1z "$f" | head -20
  done
  exit 1
fi
