#!/bin/sh
# The whole test suite: what `make test` and `.ci/run` run.
#   1. build/       the normal build (gcc), every suite
#   2. build-asan/  the same suites under ASan+UBSan (meson's b_sanitize)
#   3. build-fuzz/  when clang has libFuzzer: each fuzz target runs briefly
#   4. build-bench/ the benchmarks' release build: compiled, not run
# Then one closing line `N passed, N failed` over all of them; exit 1 on any
# failure. Benchmarks are not run here (`make bench`). PostgreSQL tests get a
# throwaway cluster started here (see start_test_pg below).
set -u
cd "$(dirname "$0")/.."
scripts/deps.sh || exit 1

FUZZ_SECONDS=${PIVOTAL_FUZZ_SECONDS:-20}
builds=""
status=0

setup() { # dir, meson options...
  dir=$1; shift
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" "$@" >/dev/null || return 1
  fi
  ninja -C "$dir" >/dev/null || { ninja -C "$dir"; return 1; }
}

run_suites() { # dir, meson test options...
  dir=$1; shift
  meson test -C "$dir" --print-errorlogs --num-processes 2 "$@" >"$dir/test-output.txt" 2>&1
  if grep -qE '^ *[0-9]+/[0-9]+ .*(FAIL|TIMEOUT|ERROR)' "$dir/test-output.txt"; then
    # the failed tests' logs (meson's --print-errorlogs), without the OK lines
    grep -vE '^ *[0-9]+/[0-9]+ .* (OK|SKIP) ' "$dir/test-output.txt" | tail -n 300
  else
    tail -n 12 "$dir/test-output.txt"
  fi
  builds="$builds $dir"
}

# One throwaway PostgreSQL cluster for the whole run, made by the same
# mechanism as the embedded default (`pivotal pg start`): initdb once, then
# every PostgreSQL test makes its own database in it (tests/pg/pg_testdb.h).
# Stopped and removed on any exit, including failure and Ctrl-C.
test_pg_dir=""
test_pg_bin=""
stop_test_pg() {
  [ -n "$test_pg_dir" ] || return 0
  "$test_pg_bin" pg stop --data-dir "$test_pg_dir" --immediate >/dev/null 2>&1
  rm -rf "$test_pg_dir"
  test_pg_dir=""
}
trap stop_test_pg EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
start_test_pg() { # pivotal binary
  [ -n "$test_pg_dir" ] && return 0
  test_pg_bin=$(realpath "$1")
  test_pg_dir=$(mktemp -d /tmp/pivotal-testpg-XXXXXX) || return 1
  chmod 0711 "$test_pg_dir" # as root the cluster runs as `pivotal`, who must enter it
  # No fsync in throwaway clusters (also those the tests make themselves):
  # the disk is shared, and initdb's sync alone took seconds under load.
  export PIVOTAL_PG_NO_FSYNC=1
  url=$("$test_pg_bin" pg start --data-dir "$test_pg_dir") || return 1
  export PIVOTAL_TEST_DATABASE_URL="$url" PIVOTAL_TEST_PG_DATA_DIR="$test_pg_dir"
}

echo "== build (gcc)"
setup build --buildtype=debugoptimized || status=1
[ $status -eq 0 ] && { start_test_pg build/cmd/pivotal || status=1; }
[ $status -eq 0 ] && run_suites build

echo "== sanitizers (ASan+UBSan)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
if setup build-asan --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false &&
    start_test_pg build-asan/cmd/pivotal; then
  run_suites build-asan --timeout-multiplier 3
else
  status=1
fi

if command -v clang >/dev/null 2>&1 && [ "$FUZZ_SECONDS" -gt 0 ]; then
  echo "== fuzz (libFuzzer, ${FUZZ_SECONDS}s per target)"
  if CC=clang CXX=clang++ setup build-fuzz --buildtype=debugoptimized \
      -Dfuzzing_engine=libfuzzer -Db_sanitize=address,undefined -Db_lundef=false; then
    PIVOTAL_FUZZ_SECONDS=$FUZZ_SECONDS run_suites build-fuzz --suite fuzz
  else
    status=1
  fi
fi

# The benchmarks' optimised build (scripts/bench.sh) must compile too: -O3
# warns about things -O2 does not, and -Werror makes those errors. Built,
# not run (benchmarks are `make bench`).
echo "== release build (make bench compiles)"
if setup build-bench --buildtype=release -Db_ndebug=false; then
  echo "build-bench: ok"
else
  echo "FAILED: the release build (build-bench) does not compile"
  status=1
fi

python3 scripts/test-summary.py $builds || status=1
exit $status
