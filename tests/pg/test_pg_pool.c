/*
 * The connection pool on a libuv loop: more queries than connections all
 * run (the rest wait, in order), acquired connections hold a transaction of
 * their own, values are copied, and freeing the pool answers whoever waits.
 */
#include "adapters/pg/pg_pool.h"
#include "tests/pg/pg_testdb.h"

#include <stdlib.h>
#include <string.h>

typedef struct counter {
  int done, failed;
  int order[32];
  int n;
} counter;

typedef struct tagged {
  counter *c;
  int tag;
} tagged;

static void on_row(pg_conn *conn, int rc, PGresult *res, const pv_error *err, void *arg) {
  tagged *t = arg;
  if (rc) {
    t->c->failed++;
    return;
  }
  ASSERT_EQ(atoi(PQgetvalue(res, 0, 0)), t->tag);
  PQclear(res);
  t->c->order[t->c->n++] = t->tag;
  t->c->done++;
}

static void test_more_queries_than_connections(void) {
  char *url = pg_testdb_create();
  uv_loop_t loop;
  uv_loop_init(&loop);
  pg_pool *pool;
  pv_error err = PV_ERROR_INIT;
  ASSERT_OK(pg_pool_new(&loop, url, 2, &pool, &err));
  counter c = {0};
  tagged tags[10];
  for (int i = 0; i < 10; i++) {
    tags[i] = (tagged){&c, i};
    char value[16];
    snprintf(value, sizeof value, "%d", i);
    const char *v[] = {value}; /* copied: the buffer dies with this iteration */
    ASSERT_OK(pg_pool_query(pool, "SELECT $1::int FROM pg_sleep(0.02)", 1, v, on_row, &tags[i]));
  }
  ASSERT_EQ(c.done, 0); /* never from inside the call */
  while (c.done + c.failed < 10) uv_run(&loop, UV_RUN_ONCE);
  ASSERT_EQ(c.done, 10);
  pg_pool_free(pool);
  uv_run(&loop, UV_RUN_DEFAULT);
  ASSERT_OK(uv_loop_close(&loop));
  pg_testdb_drop(url);
  free(url);
}

typedef struct txn_state {
  pg_pool *pool;
  pg_conn *conn;
  int step;
} txn_state;

static void on_txn_step(pg_conn *c, int rc, PGresult *res, const pv_error *err, void *arg) {
  txn_state *s = arg;
  ASSERT_OK(rc);
  if (s->step == 3) ASSERT_EQ(atoi(PQgetvalue(res, 0, 0)), 42);
  PQclear(res);
  s->step++;
}

static void on_acquired(pg_pool *p, pg_conn *c, int rc, void *arg) {
  txn_state *s = arg;
  ASSERT_OK(rc);
  s->conn = c;
}

static void test_acquire_holds_a_connection(void) {
  char *url = pg_testdb_create();
  uv_loop_t loop;
  uv_loop_init(&loop);
  pg_pool *pool;
  pv_error err = PV_ERROR_INIT;
  ASSERT_OK(pg_pool_new(&loop, url, 1, &pool, &err));
  txn_state s = {pool, NULL, 0};
  ASSERT_OK(pg_pool_acquire(pool, on_acquired, &s));
  while (!s.conn) uv_run(&loop, UV_RUN_ONCE);
  /* the only connection is ours: a pool query waits until we release it */
  counter c = {0};
  tagged t = {&c, 7};
  const char *v[] = {"7"};
  ASSERT_OK(pg_pool_query(pool, "SELECT $1::int", 1, v, on_row, &t));
  ASSERT_EQ(pg_pool_waiting(pool), 1);
  static const char *const steps[] = {
      "BEGIN", "CREATE TEMP TABLE t (n int) ON COMMIT DROP", "INSERT INTO t VALUES (41), (1)",
      "SELECT sum(n) FROM t", "COMMIT"};
  for (int i = 0; i < 5; i++) {
    int before = s.step;
    ASSERT_OK(pg_query_async(s.conn, &loop, steps[i], 0, NULL, on_txn_step, &s, &err));
    while (s.step == before) uv_run(&loop, UV_RUN_ONCE);
    ASSERT_EQ(c.done, 0);
  }
  pg_pool_release(pool, s.conn);
  while (c.done == 0) uv_run(&loop, UV_RUN_ONCE);
  ASSERT_EQ(c.order[0], 7);
  pg_pool_free(pool);
  uv_run(&loop, UV_RUN_DEFAULT);
  ASSERT_OK(uv_loop_close(&loop));
  pg_testdb_drop(url);
  free(url);
}

static void on_shutdown(pg_conn *c, int rc, PGresult *res, const pv_error *err, void *arg) {
  ASSERT_ERR(rc, PV_ESHUTDOWN);
  (*(int *)arg)++;
}

static void test_free_answers_waiting_requests(void) {
  char *url = pg_testdb_create();
  uv_loop_t loop;
  uv_loop_init(&loop);
  pg_pool *pool;
  pv_error err = PV_ERROR_INIT;
  ASSERT_OK(pg_pool_new(&loop, url, 1, &pool, &err));
  int answered = 0;
  ASSERT_OK(pg_pool_query(pool, "SELECT 1", 0, NULL, on_shutdown, &answered));
  pg_pool_free(pool); /* before the loop ever ran: the query still waits */
  ASSERT_EQ(answered, 1);
  uv_run(&loop, UV_RUN_DEFAULT);
  ASSERT_OK(uv_loop_close(&loop));
  pg_testdb_drop(url);
  free(url);
}

PG_TEST_MAIN(TEST(test_more_queries_than_connections), TEST(test_acquire_holds_a_connection),
             TEST(test_free_answers_waiting_requests))
