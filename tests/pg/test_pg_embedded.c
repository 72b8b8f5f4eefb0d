/*
 * The embedded cluster on temporary data directories: made and started on
 * first use, reused by a second start, stopped cleanly or hard, with a long
 * path (socket elsewhere) and an unreachable one (clear error). Needs no
 * test server: it makes its own clusters (initdb takes about half a second).
 */
#include "adapters/pg/pg_conn.h"
#include "adapters/pg/pg_embedded.h"
#include "tests/pg/pg_testdb.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A data directory under this case's temporary directory, which the
 * cluster's user (`pivotal` when we are root) must be able to enter; its
 * cluster is stopped when the case ends, however it ends. */
static const char *reachable_dir(const char *name) {
  static char path[512];
  ASSERT_OK(chmod(test_tmpdir(), 0711));
  snprintf(path, sizeof path, "%s/%s", test_tmpdir(), name);
  pg_testdb_guard_cluster(path);
  return path;
}

static void assert_running(const char *dir, bool want) {
  bool running = !want;
  pv_error err = PV_ERROR_INIT;
  ASSERT_OK(pg_embedded_status(dir, &running, &err));
  ASSERT_EQ(running, want);
}

static void exec_ok(pg_conn *c, const char *sql) {
  pv_error err = PV_ERROR_INIT;
  int rc = pg_exec(c, sql, 0, NULL, NULL, &err);
  if (rc) test__fail(__FILE__, __LINE__, "%s: %s %s", sql, err.message, err.detail);
}

static void test_start_query_reuse_stop(void) {
  const char *dir = reachable_dir("data");
  pv_error err = PV_ERROR_INIT;
  assert_running(dir, false);
  char *conninfo = NULL, *again = NULL;
  bool started = false;
  ASSERT_OK(pg_embedded_start(dir, &conninfo, &started, &err));
  ASSERT(started);
  assert_running(dir, true);

  pg_conn *c = NULL;
  ASSERT_OK(pg_connect(&c, conninfo, &err));
  PGresult *res = NULL;
  ASSERT_OK(pg_exec(c, "SELECT current_database(), current_setting('listen_addresses'),"
                       " pg_encoding_to_char(encoding) FROM pg_database"
                       " WHERE datname = current_database()", 0, NULL, &res, &err));
  ASSERT_STR_EQ(PQgetvalue(res, 0, 0), "pivotal");
  ASSERT_STR_EQ(PQgetvalue(res, 0, 1), ""); /* no TCP */
  ASSERT_STR_EQ(PQgetvalue(res, 0, 2), "UTF8");
  PQclear(res);
  const char *no_fsync = getenv("PIVOTAL_PG_NO_FSYNC");
  ASSERT_OK(pg_exec(c, "SELECT current_setting('fsync')", 0, NULL, &res, &err));
  ASSERT_STR_EQ(PQgetvalue(res, 0, 0), no_fsync && !strcmp(no_fsync, "1") ? "off" : "on");
  PQclear(res);
  exec_ok(c, "CREATE TABLE kept (x int)");

  /* A second start on the same data directory finds it running. */
  ASSERT_OK(pg_embedded_start(dir, &again, &started, &err));
  ASSERT(!started);
  ASSERT_STR_EQ(again, conninfo);
  exec_ok(c, "SELECT * FROM kept");
  pg_conn_free(c);

  ASSERT_OK(pg_embedded_stop(dir, false, &err));
  assert_running(dir, false);
  ASSERT_ERR(pg_connect(&c, conninfo, &err), PV_EUNAVAILABLE);
  ASSERT_OK(pg_embedded_stop(dir, false, &err)); /* stopping twice is fine */
  free(conninfo);
  free(again);
}

/* A data directory too long for a socket path: the socket goes to /tmp.
 * Also: a hard stop keeps what was committed. */
static void test_long_path_and_immediate_stop(void) {
  char name[160];
  memset(name, 'd', 120);
  name[120] = '\0';
  const char *dir = reachable_dir(name);
  ASSERT(strlen(dir) > 107);
  pv_error err = PV_ERROR_INIT;
  char *conninfo = NULL;
  bool started = false;
  ASSERT_OK(pg_embedded_start(dir, &conninfo, &started, &err));
  ASSERT(started);
  ASSERT(strstr(conninfo, "host='/tmp/pivotal-pg-") == conninfo);

  pg_conn *c = NULL;
  ASSERT_OK(pg_connect(&c, conninfo, &err));
  exec_ok(c, "CREATE TABLE survivor (x int)");
  exec_ok(c, "INSERT INTO survivor VALUES (7)");
  pg_conn_free(c);

  ASSERT_OK(pg_embedded_stop(dir, true, &err));
  assert_running(dir, false);
  free(conninfo);
  ASSERT_OK(pg_embedded_start(dir, &conninfo, &started, &err));
  ASSERT(started);
  ASSERT_OK(pg_connect(&c, conninfo, &err));
  PGresult *res = NULL;
  ASSERT_OK(pg_exec(c, "SELECT x FROM survivor", 0, NULL, &res, &err));
  ASSERT_EQ(PQntuples(res), 1);
  ASSERT_STR_EQ(PQgetvalue(res, 0, 0), "7");
  PQclear(res);
  pg_conn_free(c);
  ASSERT_OK(pg_embedded_stop(dir, false, &err));
  free(conninfo);
}

/* As root the cluster runs as `pivotal`, which cannot enter a 0700 root
 * directory: a clear error before anything is made. */
static void test_unreachable_dir_is_refused(void) {
  if (geteuid() != 0) return; /* a normal user runs the cluster as itself */
  ASSERT_OK(chmod(test_tmpdir(), 0700));
  char dir[512];
  snprintf(dir, sizeof dir, "%s/data", test_tmpdir());
  pv_error err = PV_ERROR_INIT;
  char *conninfo = NULL;
  ASSERT_ERR(pg_embedded_start(dir, &conninfo, NULL, &err), PV_EINVAL);
  ASSERT(conninfo == NULL);
  ASSERT(strstr(err.detail, test_tmpdir()) != NULL);
  ASSERT(strstr(err.hint, "chmod o+x") != NULL);
  char pgdata[600];
  snprintf(pgdata, sizeof pgdata, "%s/pg", dir);
  ASSERT(access(pgdata, F_OK) != 0);
}

static void test_status_and_stop_without_cluster(void) {
  const char *dir = reachable_dir("never-made");
  pv_error err = PV_ERROR_INIT;
  assert_running(dir, false);
  ASSERT_OK(pg_embedded_stop(dir, false, &err));
}

TEST_MAIN(TEST(test_start_query_reuse_stop), TEST(test_long_path_and_immediate_stop),
          TEST(test_unreachable_dir_is_refused), TEST(test_status_and_stop_without_cluster))
