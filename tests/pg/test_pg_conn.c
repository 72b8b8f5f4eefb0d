/*
 * The libpq adapter against a real server: parameterized round trips, error
 * translation, reconnection, async queries on a libuv loop, COPY batches.
 */
#include "adapters/pg/pg_conn.h"
#include "tests/pg/pg_testdb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fixture {
  char *url;
  pg_conn *conn;
} fixture;

static fixture open_db(void) {
  fixture f = {pg_testdb_create(), NULL};
  pv_error err = PV_ERROR_INIT;
  ASSERT_OK(pg_connect(&f.conn, f.url, &err));
  return f;
}

static void close_db(fixture *f) {
  pg_conn_free(f->conn);
  pg_testdb_drop(f->url);
  free(f->url);
}

static void exec_ok(pg_conn *c, const char *sql) {
  pv_error err = PV_ERROR_INIT;
  int rc = pg_exec(c, sql, 0, NULL, NULL, &err);
  if (rc) test__fail(__FILE__, __LINE__, "%s: %s %s", sql, err.message, err.detail);
}

/* No part of the statement may reach the error a caller sees. */
static void assert_no_sql(const pv_error *err, const char *fragment) {
  ASSERT(strstr(err->message, fragment) == NULL);
  ASSERT(strstr(err->detail, fragment) == NULL);
  ASSERT(strstr(err->hint, fragment) == NULL);
}

static void test_round_trip_parameters(void) {
  fixture f = open_db();
  pv_error err = PV_ERROR_INIT;
  const char *text = "it's \"quoted\" O'Brien; DROP TABLE x; -- ünïcödé ✓ 日本語 🙂";
  const char *values[] = {text, "42", NULL};
  PGresult *res = NULL;
  ASSERT_OK(pg_exec(f.conn, "SELECT $1::text, $2::int + 1, $3::text IS NULL", 3,
                    values, &res, &err));
  ASSERT_EQ(PQntuples(res), 1);
  ASSERT_STR_EQ(PQgetvalue(res, 0, 0), text);
  ASSERT_STR_EQ(PQgetvalue(res, 0, 1), "43");
  ASSERT_STR_EQ(PQgetvalue(res, 0, 2), "t");
  PQclear(res);
  close_db(&f);
}

static void test_unique_violation_is_exists(void) {
  fixture f = open_db();
  pv_error err = PV_ERROR_INIT;
  exec_ok(f.conn, "CREATE TABLE secret_contacts (email text PRIMARY KEY)");
  const char *v[] = {"jane@example.com"};
  const char *insert = "INSERT INTO secret_contacts (email) VALUES ($1)";
  ASSERT_OK(pg_exec(f.conn, insert, 1, v, NULL, &err));
  ASSERT_ERR(pg_exec(f.conn, insert, 1, v, NULL, &err), PV_EEXISTS);
  ASSERT_EQ(err.code, PV_EEXISTS);
  ASSERT(strstr(err.detail, "secret_contacts_pkey") != NULL);
  assert_no_sql(&err, "INSERT");
  close_db(&f);
}

/* Each SQLSTATE class raised by the server maps to its code. */
static void test_sqlstate_mapping(void) {
  fixture f = open_db();
  static const struct {
    const char *sqlstate;
    int code;
  } cases[] = {
      {"40001", PV_ECONFLICT}, {"40P01", PV_ECONFLICT}, {"23505", PV_EEXISTS},
      {"23502", PV_EINVAL},    {"22012", PV_EINVAL},    {"57014", PV_ETIMEDOUT},
      {"57P01", PV_EUNAVAILABLE}, {"42P01", PV_EINTERNAL}, {"XX000", PV_EINTERNAL},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char sql[256];
    snprintf(sql, sizeof sql,
             "DO $$ BEGIN RAISE EXCEPTION 'boom' USING ERRCODE = '%s'; END $$",
             cases[i].sqlstate);
    pv_error err = PV_ERROR_INIT;
    int rc = pg_exec(f.conn, sql, 0, NULL, NULL, &err);
    if (rc != cases[i].code)
      test__fail(__FILE__, __LINE__, "SQLSTATE %s: got %s, want %s", cases[i].sqlstate,
                 pv_err_name(rc), pv_err_name(cases[i].code));
    assert_no_sql(&err, "RAISE");
  }
  close_db(&f);
}

static void test_errors_carry_no_sql(void) {
  fixture f = open_db();
  pv_error err = PV_ERROR_INIT;
  ASSERT_ERR(pg_exec(f.conn, "SELEC secret_column FROM secret_table", 0, NULL, NULL, &err),
             PV_EINTERNAL);
  assert_no_sql(&err, "secret_");
  assert_no_sql(&err, "SELEC");
  ASSERT(strstr(err.detail, "42601") != NULL);

  const char *v[] = {"not a number"};
  ASSERT_ERR(pg_exec(f.conn, "SELECT $1::int AS secret_alias", 1, v, NULL, &err), PV_EINVAL);
  assert_no_sql(&err, "secret_alias");
  ASSERT(strstr(err.detail, "not a number") != NULL);
  close_db(&f);
}

static void test_bad_conninfo(void) {
  pg_conn *c = NULL;
  pv_error err = PV_ERROR_INIT;
  ASSERT_ERR(pg_connect(&c, "host=/nonexistent/socket/dir port=1 dbname=x connect_timeout=2",
                        &err), PV_EUNAVAILABLE);
  ASSERT(c == NULL);
  ASSERT_STR_EQ(err.message, "could not reach the database");
  ASSERT(strstr(err.hint, "PostgreSQL") != NULL);
  assert_no_sql(&err, "SELECT");

  ASSERT_ERR(pg_connect(&c, "this is = not a conninfo", &err), PV_EINVAL);
  ASSERT_ERR(pg_connect(&c, "postgresql://[bad", &err), PV_EINVAL);
  ASSERT(c == NULL);
}

static char *backend_pid(pg_conn *c) {
  PGresult *res = NULL;
  pv_error err = PV_ERROR_INIT;
  ASSERT_OK(pg_exec(c, "SELECT pg_backend_pid()::text", 0, NULL, &res, &err));
  char *pid = strdup(PQgetvalue(res, 0, 0));
  PQclear(res);
  return pid;
}

static void terminate(const char *url, const char *pid) {
  pg_conn *killer = NULL;
  pv_error err = PV_ERROR_INIT;
  ASSERT_OK(pg_connect(&killer, url, &err));
  const char *v[] = {pid};
  ASSERT_OK(pg_exec(killer, "SELECT pg_terminate_backend($1::int, 5000)", 1, v, NULL, &err));
  pg_conn_free(killer);
}

/* A connection killed by the server fails one statement, then comes back. */
static void test_reconnects_after_loss(void) {
  fixture f = open_db();
  pv_error err = PV_ERROR_INIT;
  char *pid = backend_pid(f.conn);
  terminate(f.url, pid);
  ASSERT_EQ(pg_conn_generation(f.conn), 0);
  ASSERT_ERR(pg_exec(f.conn, "SELECT 1", 0, NULL, NULL, &err), PV_EUNAVAILABLE);
  ASSERT_OK(pg_exec(f.conn, "SELECT 1", 0, NULL, NULL, &err));
  ASSERT_EQ(pg_conn_generation(f.conn), 1);
  char *pid2 = backend_pid(f.conn);
  ASSERT(strcmp(pid, pid2) != 0);
  free(pid);
  free(pid2);
  close_db(&f);
}

typedef struct async_state {
  uv_timer_t timer;
  unsigned ticks;
  unsigned ticks_at_result;
  int rc;
  int calls;
  char value[64];
} async_state;

static void on_tick(uv_timer_t *t) {
  async_state *s = t->data;
  s->ticks++;
}

static void on_result(pg_conn *c, int rc, PGresult *res, const pv_error *err, void *arg) {
  async_state *s = arg;
  s->calls++;
  s->rc = rc;
  s->ticks_at_result = s->ticks;
  if (rc == 0) {
    snprintf(s->value, sizeof s->value, "%s", PQgetvalue(res, 0, 1));
    PQclear(res);
  } else {
    ASSERT(res == NULL);
    ASSERT_EQ(err->code, rc);
  }
  uv_timer_stop(&s->timer);
}

static void run_async(fixture *f, uv_loop_t *loop, async_state *s, const char *sql,
                      const char *value) {
  pv_error err = PV_ERROR_INIT;
  memset(s, 0, sizeof *s);
  uv_timer_init(loop, &s->timer);
  s->timer.data = s;
  uv_timer_start(&s->timer, on_tick, 5, 5);
  const char *v[] = {value};
  ASSERT_OK(pg_query_async(f->conn, loop, sql, 1, v, on_result, s, &err));
  ASSERT_EQ(s->calls, 0); /* never called from inside pg_query_async */
  uv_run(loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&s->timer, NULL);
  uv_run(loop, UV_RUN_DEFAULT);
  ASSERT_EQ(s->calls, 1);
}

/* A slow query does not hold the loop: a timer on it keeps firing. */
static void test_async_query_keeps_loop_running(void) {
  fixture f = open_db();
  uv_loop_t loop;
  uv_loop_init(&loop);
  async_state s;
  pv_error err = PV_ERROR_INIT;

  memset(&s, 0, sizeof s);
  uv_timer_init(&loop, &s.timer);
  s.timer.data = &s;
  uv_timer_start(&s.timer, on_tick, 5, 5);
  const char *v[] = {"slow ünïcode"};
  ASSERT_OK(pg_query_async(f.conn, &loop, "SELECT pg_sleep(0.2), $1::text", 1, v,
                           on_result, &s, &err));
  ASSERT_ERR(pg_query_async(f.conn, &loop, "SELECT 1", 0, NULL, on_result, &s, &err),
             PV_EBUSY);
  ASSERT_ERR(pg_exec(f.conn, "SELECT 1", 0, NULL, NULL, &err), PV_EBUSY);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&s.timer, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  ASSERT_EQ(s.calls, 1);
  ASSERT_OK(s.rc);
  ASSERT_STR_EQ(s.value, "slow ünïcode");
  ASSERT(s.ticks_at_result >= 1);

  /* A failing async query reports through the callback. */
  run_async(&f, &loop, &s, "SELECT 1, $1::int", "nope");
  ASSERT_ERR(s.rc, PV_EINVAL);

  /* The connection is usable synchronously again. */
  ASSERT_OK(pg_exec(f.conn, "SELECT 1", 0, NULL, NULL, &err));

  pg_conn_free(f.conn);
  f.conn = NULL;
  uv_run(&loop, UV_RUN_DEFAULT); /* lets the poll handle close */
  ASSERT_OK(uv_loop_close(&loop));
  close_db(&f);
}

/* After a loss, the next async query resets the connection on the loop. */
static void test_async_reconnects(void) {
  fixture f = open_db();
  uv_loop_t loop;
  uv_loop_init(&loop);
  async_state s;
  run_async(&f, &loop, &s, "SELECT 1, $1::text", "before");
  ASSERT_OK(s.rc);

  char *pid = backend_pid(f.conn);
  terminate(f.url, pid);
  free(pid);
  run_async(&f, &loop, &s, "SELECT 1, $1::text", "lost");
  ASSERT_ERR(s.rc, PV_EUNAVAILABLE);
  run_async(&f, &loop, &s, "SELECT 1, $1::text", "after");
  ASSERT_OK(s.rc);
  ASSERT_STR_EQ(s.value, "after");
  ASSERT_EQ(pg_conn_generation(f.conn), 1);

  pg_conn_free(f.conn);
  f.conn = NULL;
  uv_run(&loop, UV_RUN_DEFAULT);
  ASSERT_OK(uv_loop_close(&loop));
  close_db(&f);
}

/* Values that COPY's text format must escape, and SQL NULL. */
static const char *const awkward[] = {
    "tab\there",   "line\nbreak", "back\\slash", "\\N",   "cr\rlf\r\n",
    "\\.",         "ünïcödé ✓",   "",            NULL,    "'quote\"",
    "\\t literal", "end\\",       "a\tb\nc\\d",  " lead", "trail ",
};
#define AWKWARD_COUNT (sizeof awkward / sizeof awkward[0])
#define COPY_ROWS 10000

static void test_copy_batch_awkward_values(void) {
  fixture f = open_db();
  pv_error err = PV_ERROR_INIT;
  exec_ok(f.conn, "CREATE TABLE batch (id int PRIMARY KEY, a text, b text)");
  ASSERT_OK(pg_copy_begin(f.conn, "COPY batch (id, a, b) FROM STDIN", &err));
  for (int i = 0; i < COPY_ROWS; i++) {
    char id[16];
    snprintf(id, sizeof id, "%d", i);
    const char *row[] = {id, awkward[i % AWKWARD_COUNT], awkward[(i / 7) % AWKWARD_COUNT]};
    ASSERT_OK(pg_copy_row(f.conn, 3, row, &err));
  }
  uint64_t rows = 0;
  ASSERT_OK(pg_copy_end(f.conn, &rows, &err));
  ASSERT_EQ(rows, COPY_ROWS);

  PGresult *res = NULL;
  ASSERT_OK(pg_exec(f.conn, "SELECT id, a, b FROM batch ORDER BY id", 0, NULL, &res, &err));
  ASSERT_EQ(PQntuples(res), COPY_ROWS);
  for (int i = 0; i < COPY_ROWS; i++) {
    ASSERT_EQ(atoi(PQgetvalue(res, i, 0)), i);
    const char *want[] = {awkward[i % AWKWARD_COUNT], awkward[(i / 7) % AWKWARD_COUNT]};
    for (int col = 0; col < 2; col++) {
      if (!want[col]) {
        ASSERT(PQgetisnull(res, i, col + 1));
      } else {
        ASSERT(!PQgetisnull(res, i, col + 1));
        ASSERT_STR_EQ(PQgetvalue(res, i, col + 1), want[col]);
      }
    }
  }
  PQclear(res);
  close_db(&f);
}

/* A bad row fails the whole COPY: nothing of it is written. */
static void test_copy_failure_writes_nothing(void) {
  fixture f = open_db();
  pv_error err = PV_ERROR_INIT;
  exec_ok(f.conn, "CREATE TABLE nums (n int NOT NULL)");
  ASSERT_OK(pg_copy_begin(f.conn, "COPY nums (n) FROM STDIN", &err));
  const char *good[] = {"1"}, *bad[] = {"x1"};
  ASSERT_OK(pg_copy_row(f.conn, 1, good, &err));
  ASSERT_OK(pg_copy_row(f.conn, 1, bad, &err));
  ASSERT_ERR(pg_copy_end(f.conn, NULL, &err), PV_EINVAL);
  PGresult *res = NULL;
  ASSERT_OK(pg_exec(f.conn, "SELECT count(*) FROM nums", 0, NULL, &res, &err));
  ASSERT_STR_EQ(PQgetvalue(res, 0, 0), "0");
  PQclear(res);

  ASSERT_OK(pg_copy_begin(f.conn, "COPY nums (n) FROM STDIN", &err));
  ASSERT_OK(pg_copy_row(f.conn, 1, good, &err));
  pg_copy_abort(f.conn);
  ASSERT_OK(pg_exec(f.conn, "SELECT count(*) FROM nums", 0, NULL, &res, &err));
  ASSERT_STR_EQ(PQgetvalue(res, 0, 0), "0");
  PQclear(res);
  ASSERT_ERR(pg_copy_row(f.conn, 1, good, &err), PV_EINVAL);
  close_db(&f);
}

PG_TEST_MAIN(TEST(test_round_trip_parameters), TEST(test_unique_violation_is_exists),
             TEST(test_sqlstate_mapping), TEST(test_errors_carry_no_sql),
             TEST(test_bad_conninfo), TEST(test_reconnects_after_loss),
             TEST(test_async_query_keeps_loop_running), TEST(test_async_reconnects),
             TEST(test_copy_batch_awkward_values), TEST(test_copy_failure_writes_nothing))
