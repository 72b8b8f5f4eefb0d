/*
 * pg_testdb — how a PostgreSQL test gets a database.
 *
 * `make test` (scripts/test.sh) starts one throwaway cluster per run with
 * the embedded mechanism (`pivotal pg start --data-dir DIR`), exports
 *   PIVOTAL_TEST_DATABASE_URL  conninfo of its database `pivotal`
 *   PIVOTAL_TEST_PG_DATA_DIR   DIR, for stopping and starting the server
 * and stops and removes it afterwards. By hand:
 *   d=$(mktemp -d) && chmod 711 $d &&
 *   export PIVOTAL_TEST_PG_DATA_DIR=$d \
 *          PIVOTAL_TEST_DATABASE_URL=$(build/cmd/pivotal pg start --data-dir $d)
 *   meson test -C build --suite pg; build/cmd/pivotal pg stop --data-dir $d
 *
 * Each test case creates its own database (pg_testdb_create), so cases and
 * executables run in parallel without seeing each other, and drops it at
 * the end (pg_testdb_drop). A case that fails early leaves its database
 * behind; it goes with the cluster.
 *
 * Every function here ends the test case (test__fail) on an error, so
 * tests need no error handling around them.
 *
 * Thread: the test's main thread.
 */
#ifndef PG_TESTDB_H
#define PG_TESTDB_H

#include "tests/harness/test.h"

#include <stdbool.h>
#include <stdio.h>

/* True when the test cluster is configured (PIVOTAL_TEST_DATABASE_URL). */
bool pg_testdb_available(void);

/*
 * Creates a fresh, empty database on the test server.
 * Ownership: returns its conninfo; free() it (after pg_testdb_drop).
 */
char *pg_testdb_create(void);

/*
 * Drops the database of conninfo. Fails the case when a session on it is
 * still open (after a bounded wait for closing backends to exit): every
 * test ends with all its connections closed.
 */
void pg_testdb_drop(const char *conninfo);

/*
 * Crash tests: stops the test server hard (pg_ctl stop -m immediate: no
 * checkpoint, crash recovery at the next start), and starts it again.
 * The server is shared by every PostgreSQL test of the run: register a test
 * that stops it with `is_parallel: false` in meson, so nothing else runs
 * meanwhile, and start it again before the case ends.
 */
void pg_testdb_server_stop_immediate(void);
void pg_testdb_server_start(void);

/*
 * For a test that makes its own cluster: stops the embedded cluster of
 * data_dir (pg_ctl stop -m immediate) when the calling test process ends,
 * however it ends (a failed assert, the harness's timeout, meson killing
 * the test's process group), so no server outlives its test. A watcher
 * process in its own session waits for the test process to go away.
 */
void pg_testdb_guard_cluster(const char *data_dir);

/*
 * Like TEST_MAIN, but the executable reports itself skipped (TAP
 * "1..0 # SKIP") when no test cluster is configured, e.g. under a bare
 * `meson test`.
 */
#define PG_TEST_MAIN(...)                                                      \
  int main(int argc, char **argv) {                                            \
    static const test_case cases[] = {__VA_ARGS__};                            \
    if (!pg_testdb_available()) {                                              \
      printf("1..0 # SKIP PIVOTAL_TEST_DATABASE_URL is not set (make test "   \
             "sets it)\n");                                                    \
      return 0;                                                                \
    }                                                                          \
    return test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);       \
  }

#endif
