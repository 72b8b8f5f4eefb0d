/*
 * Helpers shared by the projection tests: a migrated database, a log with
 * events of several tenants and types, a recount of the log to compare the
 * event_counts read model with, and small queries.
 */
#ifndef PV_TESTS_PROJ_TESTUTIL_H
#define PV_TESTS_PROJ_TESTUTIL_H

#include "adapters/pg/pg_migrate.h"
#include "core/mp.h"
#include "core/writer.h"
#include "projections/proj.h"
#include "tests/pg/pg_testdb.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

/* A fresh database with every migration applied. free() it after
 * pg_testdb_drop. */
static inline char *ptu_db(void) {
  char *url = pg_testdb_create();
  pg_conn *c = NULL;
  pv_error err = PV_ERROR_INIT;
  if (pg_connect(&c, url, &err) ||
      pg_migrate(c, pg_schema_migrations, pg_schema_migrations_count, NULL, NULL, NULL, &err))
    test__fail(__FILE__, __LINE__, "migrate: %s: %s", err.message, err.detail);
  pg_conn_free(c);
  return url;
}

static inline log_t *ptu_log(const char *dir, bool read_only) {
  log_t *log = NULL;
  pv_error err = PV_ERROR_INIT;
  log_options opt = {.read_only = read_only};
  if (log_open(&log, dir, &opt, &err)) test__fail(__FILE__, __LINE__, "log: %s", err.message);
  return log;
}

/* Texts that exercise the JSON encoder's escaping, one per event in turn. */
static const char *const ptu_texts[] = {
    "plain", "quote \" backslash \\ slash /", "tab\tnewline\nreturn\r", "ctl \x01\x1f",
    "utf-8 caf\xc3\xa9 \xe2\x82\xac", "bad utf-8 \xff\xfe end",
};
#define PTU_TEXTS (sizeof ptu_texts / sizeof ptu_texts[0])

/* Appends n events in one transaction: tenants t0..t2, three types (the
 * log does not check types against the catalogue), 40 streams. */
static inline uint64_t ptu_append(log_t *log, uint64_t n, int64_t ts_us) {
  pv_buf payload = PV_BUF_INIT;
  log_wtxn *tx;
  ASSERT_OK(log_wtxn_begin(log, &tx));
  uint64_t pos = 0;
  static const char *const types[] = {"note.added", "test.alpha", "test.beta"};
  for (uint64_t i = 0; i < n; i++) {
    uint64_t k = log_head(log) + i;
    char tenant[8], stream[32];
    snprintf(tenant, sizeof tenant, "t%" PRIu64, k % 3);
    snprintf(stream, sizeof stream, "contact-%" PRIu64, k % 40);
    msgpack_packer pk;
    pv_buf_reset(&payload);
    mp_packer_init(&pk, &payload);
    msgpack_pack_map(&pk, 2);
    mp_pack_cstr(&pk, "subject");
    mp_pack_cstr(&pk, stream);
    mp_pack_cstr(&pk, "text");
    mp_pack_cstr(&pk, ptu_texts[k % PTU_TEXTS]);
    log_event_in in = {.tenant = tenant, .stream = stream, .expected_version = LOG_EXPECT_ANY,
                       .type = types[k % 3], .type_version = 1, .actor = k % 2 ? "user:1" : "user:2",
                       .correlation = "req-1", .ts_us = ts_us,
                       .payload = payload.data, .payload_len = payload.len};
    ASSERT_OK(log_append(tx, &in, &pos, NULL, NULL));
  }
  ASSERT_OK(log_wtxn_commit(tx));
  pv_buf_release(&payload);
  return pos;
}

static inline pg_conn *ptu_connect(const char *url) {
  pg_conn *c = NULL;
  pv_error err = PV_ERROR_INIT;
  if (pg_connect(&c, url, &err)) test__fail(__FILE__, __LINE__, "connect: %s", err.message);
  return c;
}

/* The first column of the first row as an integer (a query without
 * parameters, e.g. a count). */
static inline int64_t ptu_query_i64(pg_conn *c, const char *sql) {
  PGresult *res = NULL;
  pv_error err = PV_ERROR_INIT;
  if (pg_exec(c, sql, 0, NULL, &res, &err))
    test__fail(__FILE__, __LINE__, "%s: %s: %s", sql, err.message, err.detail);
  int64_t v = PQntuples(res) ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : -1;
  PQclear(res);
  return v;
}

static inline int64_t ptu_checkpoint(pg_conn *c, const char *name) {
  const char *values[] = {name};
  PGresult *res = NULL;
  pv_error err = PV_ERROR_INIT;
  ASSERT_OK(pg_exec(c, "SELECT position FROM pivotal.proj_checkpoint WHERE name = $1", 1, values,
                    &res, &err));
  int64_t v = PQntuples(res) ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : -1;
  PQclear(res);
  return v;
}

/* ---- recount ----------------------------------------------------------- */

typedef struct ptu_count {
  char tenant[16], type[32];
  int64_t n;
} ptu_count;

typedef struct ptu_recount {
  ptu_count rows[64];
  size_t n;
} ptu_recount;

static inline int ptu_recount_visit(void *arg, const evt_envelope *e, const uint8_t *raw,
                                    size_t len) {
  ptu_recount *r = arg;
  char tenant[16], type[32];
  snprintf(tenant, sizeof tenant, "%.*s", (int)e->tenant.len, e->tenant.ptr);
  snprintf(type, sizeof type, "%.*s", (int)e->type.len, e->type.ptr);
  size_t k = 0;
  while (k < r->n && (strcmp(r->rows[k].tenant, tenant) || strcmp(r->rows[k].type, type))) k++;
  if (k == r->n) {
    if (r->n == 64) return PV_ETOOBIG;
    snprintf(r->rows[k].tenant, sizeof r->rows[k].tenant, "%s", tenant);
    snprintf(r->rows[k].type, sizeof r->rows[k].type, "%s", type);
    r->rows[k].n = 0;
    r->n++;
  }
  r->rows[k].n++;
  return 0;
}

/* The event_counts read model equals a recount of the whole log, row for
 * row, and its checkpoint is the head. */
static inline void ptu_assert_counts_exact(pg_conn *c, log_t *log) {
  ptu_recount r = {.n = 0};
  uint64_t next = 1;
  for (;;) {
    uint64_t from = next;
    ASSERT_OK(log_scan(log, from, 10000, 64u << 20, ptu_recount_visit, &r, &next));
    if (next == from) break;
  }
  PGresult *res = NULL;
  pv_error err = PV_ERROR_INIT;
  ASSERT_OK(pg_exec(c, "SELECT tenant, type, n FROM rm_event_counts.counts", 0, NULL, &res, &err));
  ASSERT_EQ(PQntuples(res), r.n);
  for (int i = 0; i < PQntuples(res); i++) {
    size_t k = 0;
    while (k < r.n && (strcmp(r.rows[k].tenant, PQgetvalue(res, i, 0)) ||
                       strcmp(r.rows[k].type, PQgetvalue(res, i, 1))))
      k++;
    ASSERT(k < r.n);
    ASSERT_EQ(strtoll(PQgetvalue(res, i, 2), NULL, 10), r.rows[k].n);
  }
  PQclear(res);
  ASSERT_EQ(ptu_checkpoint(c, "event_counts"), (int64_t)log_head(log));
}

static inline proj_engine *ptu_engine(log_t *log, writer_t *w, const char *url) {
  proj_engine *e = NULL;
  pv_error err = PV_ERROR_INIT;
  /* 50 ms: the retry base small enough that tests see several retries.
   * The two engine-test projections only: the others (tests/read5) have
   * folds of their own. */
  static const char *const names[] = {"event_counts", "audit_events", NULL};
  proj_options opt = {.names = names, .retry_base_ms = 50, .retry_max_ms = 500, .poll_ms = 20};
  if (proj_engine_start(&e, log, w, url, &opt, &err))
    test__fail(__FILE__, __LINE__, "engine: %s", err.message);
  return e;
}

static const char *const ptu_all[] = {"event_counts", "audit_events"};

/* Waits until both projections have passed position (a generous bound:
 * the test fails instead of hanging if they never do). */
static inline void ptu_wait(proj_engine *e, uint64_t position) {
  ASSERT_OK(proj_wait_position_sync(e, ptu_all, 2, position, 60000));
}

#endif
