/*
 * pg_testdb — fresh databases on the shared test cluster, and hard stops
 * and starts of that cluster for crash tests. Contract in pg_testdb.h.
 */
#include "tests/pg/pg_testdb.h"

#include "adapters/pg/pg_embedded.h"
#include "core/common/pv_buf.h"
#include "core/common/pv_time.h"

#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *server_url(void) {
  const char *url = getenv("PIVOTAL_TEST_DATABASE_URL");
  if (!url || !*url) test__fail(__FILE__, __LINE__, "PIVOTAL_TEST_DATABASE_URL is not set");
  return url;
}

bool pg_testdb_available(void) {
  const char *url = getenv("PIVOTAL_TEST_DATABASE_URL");
  return url && *url;
}

/* Appends s quoted for a conninfo ('...' with \' and \\). */
static void add_quoted(pv_buf *b, const char *s) {
  pv_buf_addch(b, '\'');
  for (; *s; s++) {
    if (*s == '\'' || *s == '\\') pv_buf_addch(b, '\\');
    pv_buf_addch(b, *s);
  }
  pv_buf_addch(b, '\'');
}

/* The server's conninfo with dbname replaced; *old_dbname gets the old one
 * when not NULL (caller frees). */
static char *with_dbname(const char *conninfo, const char *dbname, char **old_dbname) {
  char *parse_err = NULL;
  PQconninfoOption *opts = PQconninfoParse(conninfo, &parse_err);
  if (!opts) test__fail(__FILE__, __LINE__, "bad conninfo: %s", parse_err);
  pv_buf b = PV_BUF_INIT;
  for (PQconninfoOption *o = opts; o->keyword; o++) {
    if (!o->val) continue;
    if (!strcmp(o->keyword, "dbname")) {
      if (old_dbname) *old_dbname = pv_xstrdup(o->val);
      continue;
    }
    pv_buf_addf(&b, "%s%s=", b.len ? " " : "", o->keyword);
    add_quoted(&b, o->val);
  }
  PQconninfoFree(opts);
  if (dbname) {
    pv_buf_addstr(&b, " dbname=");
    add_quoted(&b, dbname);
  }
  return pv_buf_detach(&b, NULL);
}

/* Runs one statement on the server's own database. */
static void server_exec(const char *sql_prefix, const char *dbname, const char *sql_suffix) {
  PGconn *conn = PQconnectdb(server_url());
  if (PQstatus(conn) != CONNECTION_OK)
    test__fail(__FILE__, __LINE__, "cannot reach the test server: %s", PQerrorMessage(conn));
  /* Database names cannot be parameters; the name is quoted as an
   * identifier by libpq. */
  char *ident = PQescapeIdentifier(conn, dbname, strlen(dbname));
  pv_buf sql = PV_BUF_INIT;
  pv_buf_addf(&sql, "%s%s%s", sql_prefix, ident, sql_suffix);
  PQfreemem(ident);
  PGresult *res = PQexec(conn, sql.data);
  if (PQresultStatus(res) != PGRES_COMMAND_OK)
    test__fail(__FILE__, __LINE__, "%s: %s", sql.data, PQerrorMessage(conn));
  PQclear(res);
  pv_buf_release(&sql);
  PQfinish(conn);
}

char *pg_testdb_create(void) {
  static unsigned counter;
  char name[64];
  snprintf(name, sizeof name, "test_%ld_%u_%llx", (long)getpid(), counter++,
           (unsigned long long)(pv_mono_ns() & 0xffffffffffULL));
  server_exec("CREATE DATABASE ", name, "");
  return with_dbname(server_url(), name, NULL);
}

/* How long a closed session may take to leave pg_stat_activity: a backend
 * exits asynchronously after the client's Terminate message; arbitrary,
 * far above the milliseconds it takes. */
#define PG_TESTDB_CLOSE_WAIT_MS 10000

/* Fails the case when a session on dbname is still open: every test ends
 * with all its connections closed. */
static void assert_no_sessions(const char *dbname) {
  PGconn *conn = PQconnectdb(server_url());
  if (PQstatus(conn) != CONNECTION_OK)
    test__fail(__FILE__, __LINE__, "cannot reach the test server: %s", PQerrorMessage(conn));
  const char *params[] = {dbname};
  long open_sessions = 0;
  for (int waited_ms = 0; waited_ms <= PG_TESTDB_CLOSE_WAIT_MS; waited_ms += 10) {
    PGresult *res = PQexecParams(conn,
                                 "SELECT count(*) FROM pg_stat_activity WHERE datname = $1",
                                 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
      test__fail(__FILE__, __LINE__, "pg_stat_activity: %s", PQerrorMessage(conn));
    open_sessions = atol(PQgetvalue(res, 0, 0));
    PQclear(res);
    if (open_sessions == 0) break;
    usleep(10 * 1000);
  }
  PQfinish(conn);
  if (open_sessions)
    test__fail(__FILE__, __LINE__, "%ld session(s) still open on %s: a connection was not closed",
               open_sessions, dbname);
}

void pg_testdb_drop(const char *conninfo) {
  char *dbname = NULL;
  free(with_dbname(conninfo, NULL, &dbname));
  if (!dbname) test__fail(__FILE__, __LINE__, "conninfo names no database");
  assert_no_sessions(dbname);
  server_exec("DROP DATABASE IF EXISTS ", dbname, "");
  free(dbname);
}

static const char *data_dir(void) {
  const char *dir = getenv("PIVOTAL_TEST_PG_DATA_DIR");
  if (!dir || !*dir) test__fail(__FILE__, __LINE__, "PIVOTAL_TEST_PG_DATA_DIR is not set");
  return dir;
}

void pg_testdb_server_stop_immediate(void) {
  pv_error err = PV_ERROR_INIT;
  if (pg_embedded_stop(data_dir(), true, &err) != 0)
    test__fail(__FILE__, __LINE__, "stop: %s: %s", err.message, err.detail);
}

void pg_testdb_server_start(void) {
  pv_error err = PV_ERROR_INIT;
  char *conninfo = NULL;
  if (pg_embedded_start(data_dir(), &conninfo, NULL, &err) != 0)
    test__fail(__FILE__, __LINE__, "start: %s: %s", err.message, err.detail);
  free(conninfo);
}

void pg_testdb_guard_cluster(const char *data_dir_path) {
  int fds[2];
  /* Close-on-exec: the servers and tools this process starts must not
   * hold the write end, or the watcher would never see it close. */
  if (pipe2(fds, O_CLOEXEC) != 0) test__fail(__FILE__, __LINE__, "pipe2 failed");
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) test__fail(__FILE__, __LINE__, "fork failed");
  if (pid == 0) {
    setsid(); /* out of the test's process group, which meson may kill */
    close(fds[1]);
    int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) {
      /* Meson reads the test's output until every holder closes it. */
      dup2(devnull, 1);
      dup2(devnull, 2);
    }
    char byte;
    while (read(fds[0], &byte, 1) < 0 && errno == EINTR) {
    }
    pg_embedded_stop(data_dir_path, true, NULL);
    _exit(0);
  }
  close(fds[0]); /* fds[1] stays open until this process ends */
}
