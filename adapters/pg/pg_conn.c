/*
 * pg_conn — libpq connection helpers: parameterized statements, error
 * translation into pv_error, async queries on a libuv loop, COPY batches.
 * The contract is in pg_conn.h.
 *
 * Async state machine (one query at a time):
 *   IDLE --pg_query_async--> [RESETTING --PQresetPoll OK-->] SENDING/READING
 *        --PQgetResult NULL--> IDLE + callback
 * The loop watches PQsocket with one uv_poll handle. The handle is closed
 * and a new one made whenever the socket may have changed (every reset):
 * libuv keys its watcher on the fd number, and a new socket can reuse the
 * old number while epoll has already forgotten the old registration.
 */
#include "adapters/pg/pg_conn.h"

#include "core/common/pv_buf.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* COPY data is sent in chunks of this size: arbitrary; large enough that
 * per-call overhead vanishes, small enough to stay in cache. */
#define PG_COPY_CHUNK_BYTES (256 * 1024)

enum pg_state { PG_IDLE, PG_RESETTING, PG_QUERYING, PG_COPYING };

struct pg_conn {
  PGconn *conn;
  uint64_t generation;
  enum pg_state state;
  uv_loop_t *loop;
  uv_poll_t *poll; /* NULL until first async use; owned, freed on close */
  int poll_fd;
  /* The pending async query. sql/values are copies only while resetting. */
  char *sql;
  int nparams;
  char **values;
  pg_query_cb cb;
  void *cb_arg;
  PGresult *result;
  pv_buf copy_buf;
};

/* ---- error translation ------------------------------------------------ */

/* First line of libpq's last error message, without the trailing newline. */
static void first_line(char *dst, size_t size, const char *msg) {
  size_t n = msg ? strcspn(msg, "\n") : 0;
  if (n >= size) n = size - 1;
  if (n) memcpy(dst, msg, n);
  dst[n] = '\0';
}

static int unavailable(pg_conn *c, pv_error *err) {
  char line[256];
  first_line(line, sizeof line, c ? PQerrorMessage(c->conn) : NULL);
  pv_error_set(err, PV_EUNAVAILABLE, NULL, NULL);
  if (line[0]) pv_error_detail(err, "The database said: %s", line);
  pv_error_hint(err, "Check that PostgreSQL is running and the database URL is right.");
  return PV_EUNAVAILABLE;
}

static bool state_is(const char *sqlstate, const char *prefix) {
  return strncmp(sqlstate, prefix, strlen(prefix)) == 0;
}

int pg_result_error(pg_conn *c, const PGresult *res, pv_error *err) {
  if (res) {
    switch (PQresultStatus(res)) {
    case PGRES_COMMAND_OK:
    case PGRES_TUPLES_OK:
    case PGRES_COPY_IN:
    case PGRES_COPY_OUT:
    case PGRES_EMPTY_QUERY:
    case PGRES_SINGLE_TUPLE:
      return 0;
    default:
      break;
    }
  }
  const char *sqlstate = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
  if (!sqlstate) {
    /* No server error: libpq itself failed (lost connection, no memory).
     * After "server closed the connection unexpectedly" libpq may still
     * report CONNECTION_OK; reading once more marks the connection bad
     * (and does not block when there is nothing to read). */
    if (PQstatus(c->conn) == CONNECTION_BAD || !PQconsumeInput(c->conn) ||
        PQstatus(c->conn) == CONNECTION_BAD)
      return unavailable(c, err);
    pv_error_set(err, PV_EINTERNAL, NULL, "database client failed");
    return PV_EINTERNAL;
  }
  const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
  if (state_is(sqlstate, "08") || !strcmp(sqlstate, "57P01") ||
      !strcmp(sqlstate, "57P02") || !strcmp(sqlstate, "57P03") ||
      !strcmp(sqlstate, "53300")) {
    pv_error_set(err, PV_EUNAVAILABLE, NULL, NULL);
    pv_error_detail(err, "The database said: %s", primary ? primary : sqlstate);
    return PV_EUNAVAILABLE;
  }
  if (!strcmp(sqlstate, "23505")) {
    const char *constraint = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);
    pv_error_set(err, PV_EEXISTS, NULL, NULL);
    pv_error_detail(err, "A row with the same key already exists (constraint \"%s\").",
                    constraint ? constraint : "unknown");
    return PV_EEXISTS;
  }
  if (!strcmp(sqlstate, "40001") || !strcmp(sqlstate, "40P01")) {
    pv_error_set(err, PV_ECONFLICT, NULL,
                 "could not complete the transaction because of a concurrent update");
    pv_error_hint(err, "Retry the transaction.");
    return PV_ECONFLICT;
  }
  if (state_is(sqlstate, "22") || state_is(sqlstate, "23")) {
    /* The server's primary message for these quotes the value, not SQL. */
    pv_error_set(err, PV_EINVAL, NULL, NULL);
    pv_error_detail(err, "The database said: %s", primary ? primary : sqlstate);
    return PV_EINVAL;
  }
  if (!strcmp(sqlstate, "57014")) {
    pv_error_set(err, PV_ETIMEDOUT, NULL, "database query timed out");
    return PV_ETIMEDOUT;
  }
  pv_error_set(err, PV_EINTERNAL, NULL, "database query failed");
  pv_error_detail(err, "SQLSTATE %s.", sqlstate);
  return PV_EINTERNAL;
}

/* ---- connecting ------------------------------------------------------- */

/* Server notices ("already exists, skipping") are not errors; libpq's
 * default prints them on stderr. */
static void ignore_notice(void *arg, const char *message) {
  (void)arg, (void)message;
}

int pg_connect(pg_conn **out, const char *conninfo, pv_error *err) {
  *out = NULL;
  char *parse_err = NULL;
  PQconninfoOption *opts = PQconninfoParse(conninfo ? conninfo : "", &parse_err);
  if (!opts) {
    char line[256];
    first_line(line, sizeof line, parse_err);
    PQfreemem(parse_err);
    pv_error_set(err, PV_EINVAL, NULL, "invalid database URL");
    if (line[0]) pv_error_detail(err, "%s", line);
    pv_error_hint(err, "Use postgresql://user@host/dbname or \"host=... dbname=...\".");
    return PV_EINVAL;
  }
  PQconninfoFree(opts);

  pg_conn *c = pv_xcalloc(1, sizeof *c);
  c->poll_fd = -1;
  pv_buf_init(&c->copy_buf, 0);
  c->conn = PQconnectdb(conninfo);
  if (!c->conn) {
    free(c);
    return pv_error_set(err, PV_ENOMEM, NULL, NULL);
  }
  if (PQstatus(c->conn) != CONNECTION_OK) {
    int rc = unavailable(c, err);
    pg_conn_free(c);
    return rc;
  }
  PQsetNoticeProcessor(c->conn, ignore_notice, NULL);
  *out = c;
  return 0;
}

PGconn *pg_conn_raw(pg_conn *c) { return c->conn; }

uint64_t pg_conn_generation(const pg_conn *c) { return c->generation; }

static void free_poll(uv_handle_t *h) { free(h); }

static void close_poll(pg_conn *c) {
  if (!c->poll) return;
  uv_close((uv_handle_t *)c->poll, free_poll);
  c->poll = NULL;
  c->poll_fd = -1;
}

static void free_pending(pg_conn *c) {
  free(c->sql);
  c->sql = NULL;
  if (c->values) {
    for (int i = 0; i < c->nparams; i++) free(c->values[i]);
    free(c->values);
    c->values = NULL;
  }
  c->nparams = 0;
}

void pg_conn_free(pg_conn *c) {
  if (!c) return;
  close_poll(c); /* stops epoll on the fd before PQfinish closes it */
  free_pending(c);
  if (c->result) PQclear(c->result);
  pv_buf_release(&c->copy_buf);
  PQfinish(c->conn);
  free(c);
}

/* Blocking reset of a lost connection. */
static int ensure_connected(pg_conn *c, pv_error *err) {
  if (PQstatus(c->conn) != CONNECTION_BAD) return 0;
  close_poll(c);
  PQreset(c->conn);
  if (PQstatus(c->conn) != CONNECTION_OK) return unavailable(c, err);
  c->generation++;
  return 0;
}

static int busy(pv_error *err) {
  return pv_error_set(err, PV_EBUSY, NULL,
                      "database connection is busy with another query");
}

int pg_exec(pg_conn *c, const char *sql, int nparams,
            const char *const *values, PGresult **out, pv_error *err) {
  if (out) *out = NULL;
  if (c->state != PG_IDLE) return busy(err);
  int rc = ensure_connected(c, err);
  if (rc) return rc;
  PQsetnonblocking(c->conn, 0);
  PGresult *res = PQexecParams(c->conn, sql, nparams, NULL, values, NULL, NULL, 0);
  rc = pg_result_error(c, res, err);
  if (rc || !out) {
    PQclear(res);
    return rc;
  }
  *out = res;
  return 0;
}

/* ---- async queries on a loop ----------------------------------------- */

static void on_poll(uv_poll_t *h, int status, int events);

/* Watches c's current socket for `events`, making a new handle when the
 * socket changed. Returns 0 or PV_EUNAVAILABLE. */
static int watch(pg_conn *c, int events) {
  int fd = PQsocket(c->conn);
  if (fd < 0) return PV_EUNAVAILABLE;
  if (c->poll && c->poll_fd != fd) close_poll(c);
  if (!c->poll) {
    c->poll = pv_xmalloc(sizeof *c->poll);
    if (uv_poll_init_socket(c->loop, c->poll, fd) != 0) {
      free(c->poll);
      c->poll = NULL;
      return PV_EUNAVAILABLE;
    }
    c->poll->data = c;
    c->poll_fd = fd;
  }
  return uv_poll_start(c->poll, events, on_poll) ? PV_EUNAVAILABLE : 0;
}

static void finish(pg_conn *c, int rc, pv_error *err) {
  if (c->poll) uv_poll_stop(c->poll);
  free_pending(c);
  PGresult *res = c->result;
  c->result = NULL;
  c->state = PG_IDLE;
  PQsetnonblocking(c->conn, 0);
  if (rc == 0) rc = pg_result_error(c, res, err);
  if (rc) {
    PQclear(res);
    res = NULL;
  }
  c->cb(c, rc, res, err, c->cb_arg);
}

/* Flushes what libpq has buffered and watches for what comes next. */
static int flush_and_watch(pg_conn *c) {
  int f = PQflush(c->conn);
  if (f < 0) return PV_EUNAVAILABLE;
  return watch(c, f == 1 ? UV_READABLE | UV_WRITABLE : UV_READABLE);
}

static int send_query(pg_conn *c, const char *sql, int nparams,
                      const char *const *values) {
  PQsetnonblocking(c->conn, 1);
  if (!PQsendQueryParams(c->conn, sql, nparams, NULL, values, NULL, NULL, 0))
    return PQstatus(c->conn) == CONNECTION_BAD ? PV_EUNAVAILABLE : PV_EINTERNAL;
  c->state = PG_QUERYING;
  return flush_and_watch(c);
}

static void fail(pg_conn *c, int rc) {
  pv_error err = PV_ERROR_INIT;
  if (rc == PV_EUNAVAILABLE || PQstatus(c->conn) == CONNECTION_BAD)
    unavailable(c, &err);
  else
    pv_error_set(&err, rc, NULL, "database query failed");
  finish(c, err.code, &err);
}

static void on_reset_step(pg_conn *c) {
  PostgresPollingStatusType st = PQresetPoll(c->conn);
  switch (st) {
  case PGRES_POLLING_READING:
  case PGRES_POLLING_WRITING: {
    /* The socket may be new: close and re-make the handle every step. */
    close_poll(c);
    int rc = watch(c, st == PGRES_POLLING_READING ? UV_READABLE : UV_WRITABLE);
    if (rc) fail(c, rc);
    return;
  }
  case PGRES_POLLING_OK: {
    c->generation++;
    int rc = send_query(c, c->sql, c->nparams, (const char *const *)c->values);
    if (rc) fail(c, rc);
    return;
  }
  default:
    fail(c, PV_EUNAVAILABLE);
    return;
  }
}

static void on_query_io(pg_conn *c, int events) {
  if (events & UV_READABLE) {
    if (!PQconsumeInput(c->conn)) {
      fail(c, PV_EUNAVAILABLE);
      return;
    }
    while (!PQisBusy(c->conn)) {
      PGresult *r = PQgetResult(c->conn);
      if (!r) {
        finish(c, 0, &(pv_error)PV_ERROR_INIT);
        return;
      }
      /* Keep the first result, unless a later one is the error. */
      if (!c->result) {
        c->result = r;
      } else if (pg_result_error(c, c->result, NULL) == 0 &&
                 pg_result_error(c, r, NULL) != 0) {
        PQclear(c->result);
        c->result = r;
      } else {
        PQclear(r);
      }
    }
  }
  int rc = flush_and_watch(c);
  if (rc) fail(c, rc);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  pg_conn *c = h->data;
  if (status < 0) {
    fail(c, PV_EUNAVAILABLE);
    return;
  }
  if (c->state == PG_RESETTING)
    on_reset_step(c);
  else if (c->state == PG_QUERYING)
    on_query_io(c, events);
}

int pg_query_async(pg_conn *c, uv_loop_t *loop, const char *sql, int nparams,
                   const char *const *values, pg_query_cb cb, void *arg,
                   pv_error *err) {
  if (c->state != PG_IDLE) return busy(err);
  if (c->loop && c->loop != loop)
    return pv_error_set(err, PV_EINVAL, NULL,
                        "database connection belongs to another event loop");
  c->loop = loop;
  c->cb = cb;
  c->cb_arg = arg;
  if (PQstatus(c->conn) == CONNECTION_BAD) {
    close_poll(c);
    if (!PQresetStart(c->conn)) return unavailable(c, err);
    /* Keep copies: the query is sent only once the reset completes. */
    c->sql = pv_xstrdup(sql);
    c->nparams = nparams;
    c->values = nparams ? pv_xcalloc((size_t)nparams, sizeof *c->values) : NULL;
    for (int i = 0; i < nparams; i++)
      c->values[i] = values[i] ? pv_xstrdup(values[i]) : NULL;
    c->state = PG_RESETTING;
    if (watch(c, UV_WRITABLE) != 0) {
      free_pending(c);
      c->state = PG_IDLE;
      return unavailable(c, err);
    }
    return 0;
  }
  int rc = send_query(c, sql, nparams, values);
  if (rc) {
    if (c->poll) uv_poll_stop(c->poll);
    c->state = PG_IDLE;
    PQsetnonblocking(c->conn, 0);
    if (rc == PV_EUNAVAILABLE) return unavailable(c, err);
    return pv_error_set(err, rc, NULL, "database query failed");
  }
  return 0;
}

/* ---- COPY batches ----------------------------------------------------- */

int pg_copy_begin(pg_conn *c, const char *copy_sql, pv_error *err) {
  PGresult *res = NULL;
  int rc = pg_exec(c, copy_sql, 0, NULL, &res, err);
  if (rc) return rc;
  ExecStatusType st = PQresultStatus(res);
  PQclear(res);
  if (st != PGRES_COPY_IN)
    return pv_error_set(err, PV_EINTERNAL, NULL, "statement is not COPY FROM STDIN");
  pv_buf_reset(&c->copy_buf);
  c->state = PG_COPYING;
  return 0;
}

static int copy_flush(pg_conn *c, pv_error *err) {
  if (c->copy_buf.len == 0) return 0;
  if (PQputCopyData(c->conn, c->copy_buf.data, (int)c->copy_buf.len) != 1)
    return unavailable(c, err);
  pv_buf_reset(&c->copy_buf);
  return 0;
}

/* Text-format escaping: backslash, and the characters that would end a
 * field or a row. Everything else goes through as is. */
static void copy_escape(pv_buf *b, const char *v) {
  const char *run = v;
  for (const char *p = v; *p; p++) {
    const char *esc;
    switch (*p) {
    case '\\': esc = "\\\\"; break;
    case '\t': esc = "\\t"; break;
    case '\n': esc = "\\n"; break;
    case '\r': esc = "\\r"; break;
    default: continue;
    }
    pv_buf_add(b, run, (size_t)(p - run));
    pv_buf_add(b, esc, 2);
    run = p + 1;
  }
  pv_buf_addstr(b, run);
}

int pg_copy_row(pg_conn *c, int ncols, const char *const *values,
                pv_error *err) {
  if (c->state != PG_COPYING)
    return pv_error_set(err, PV_EINVAL, NULL, "no COPY in progress");
  for (int i = 0; i < ncols; i++) {
    if (i) pv_buf_addch(&c->copy_buf, '\t');
    if (values[i])
      copy_escape(&c->copy_buf, values[i]);
    else
      pv_buf_add(&c->copy_buf, "\\N", 2);
  }
  pv_buf_addch(&c->copy_buf, '\n');
  return c->copy_buf.len >= PG_COPY_CHUNK_BYTES ? copy_flush(c, err) : 0;
}

/* Reads results until libpq has none left; returns the first error. */
static int drain_results(pg_conn *c, uint64_t *rows_out, pv_error *err) {
  int rc = 0;
  PGresult *res;
  while ((res = PQgetResult(c->conn)) != NULL) {
    int r = pg_result_error(c, res, rc ? NULL : err);
    if (r && !rc) rc = r;
    if (!r && rows_out) *rows_out = strtoull(PQcmdTuples(res), NULL, 10);
    PQclear(res);
  }
  return rc;
}

int pg_copy_end(pg_conn *c, uint64_t *rows_out, pv_error *err) {
  if (rows_out) *rows_out = 0;
  if (c->state != PG_COPYING)
    return pv_error_set(err, PV_EINVAL, NULL, "no COPY in progress");
  c->state = PG_IDLE;
  int rc = copy_flush(c, err);
  if (rc) {
    pg_copy_abort(c);
    return rc;
  }
  if (PQputCopyEnd(c->conn, NULL) != 1) return unavailable(c, err);
  return drain_results(c, rows_out, err);
}

void pg_copy_abort(pg_conn *c) {
  c->state = PG_IDLE;
  pv_buf_reset(&c->copy_buf);
  if (PQstatus(c->conn) == CONNECTION_BAD) return;
  if (PQputCopyEnd(c->conn, "aborted by the client") == 1)
    drain_results(c, NULL, NULL);
}
