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
"$exe" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
  -artifact_prefix="$scratch/" "$scratch" "$corpus"
