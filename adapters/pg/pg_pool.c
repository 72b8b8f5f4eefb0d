/* pg_pool — see pg_pool.h. A request is a query or an acquire; requests
 * wait in one FIFO and are started on the loop (a zero-delay idle check
 * would do as well; a uv_async keeps "never from inside the call"). */
#include "adapters/pg/pg_pool.h"

#include "core/common/pv_buf.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct pool_req {
  struct pool_req *next;
  bool acquire;
  /* query */
  const char *sql;
  int nparams;
  char **values;
  pg_query_cb query_cb;
  /* acquire */
  pg_pool_acquire_cb acquire_cb;
  void *arg;
  pg_pool *pool;
  pg_conn *conn; /* while running */
} pool_req;

struct pg_pool {
  uv_loop_t *loop;
  uv_async_t kick; /* starts waiting requests from the loop */
  pg_conn **conns;
  bool *busy;
  unsigned count;
  pool_req *head, *tail;
  size_t waiting;
};

static void req_free(pool_req *r) {
  for (int i = 0; i < r->nparams; i++) free(r->values[i]);
  free(r->values);
  free(r);
}

static int take_free_conn(pg_pool *p) {
  for (unsigned i = 0; i < p->count; i++)
    if (!p->busy[i]) {
      p->busy[i] = true;
      return (int)i;
    }
  return -1;
}

static void give_back(pg_pool *p, pg_conn *c) {
  for (unsigned i = 0; i < p->count; i++)
    if (p->conns[i] == c) p->busy[i] = false;
  if (p->head) uv_async_send(&p->kick);
}

static void query_done(pg_conn *c, int rc, PGresult *res, const pv_error *err, void *arg) {
  pool_req *r = arg;
  pg_pool *p = r->pool;
  r->query_cb(c, rc, res, err, r->arg);
  req_free(r);
  give_back(p, c);
}

static void start_waiting(uv_async_t *h) {
  pg_pool *p = h->data;
  int i;
  while (p->head && (i = take_free_conn(p)) >= 0) {
    pool_req *r = p->head;
    p->head = r->next;
    if (!p->head) p->tail = NULL;
    p->waiting--;
    pg_conn *c = p->conns[i];
    if (r->acquire) {
      pg_pool_acquire_cb cb = r->acquire_cb;
      void *arg = r->arg;
      req_free(r);
      cb(p, c, 0, arg);
      continue;
    }
    pv_error err = PV_ERROR_INIT;
    r->conn = c;
    int rc = pg_query_async(c, p->loop, r->sql, r->nparams, (const char *const *)r->values,
                            query_done, r, &err);
    if (rc) { /* refused at once: answer from here (we are on the loop) */
      r->query_cb(c, rc, NULL, &err, r->arg);
      req_free(r);
      p->busy[i] = false;
    }
  }
}

int pg_pool_new(uv_loop_t *loop, const char *conninfo, unsigned connections, pg_pool **out,
                pv_error *err) {
  pg_pool *p = pv_xcalloc(1, sizeof *p);
  p->loop = loop;
  p->count = connections ? connections : PG_POOL_DEFAULT_CONNECTIONS;
  p->conns = pv_xcalloc(p->count, sizeof *p->conns);
  p->busy = pv_xcalloc(p->count, sizeof *p->busy);
  for (unsigned i = 0; i < p->count; i++) {
    int rc = pg_connect(&p->conns[i], conninfo, err);
    if (rc) {
      for (unsigned j = 0; j < i; j++) pg_conn_free(p->conns[j]);
      free(p->conns);
      free(p->busy);
      free(p);
      return rc;
    }
  }
  uv_async_init(loop, &p->kick, start_waiting);
  p->kick.data = p;
  *out = p;
  return 0;
}

static void free_after_close(uv_handle_t *h) {
  pg_pool *p = h->data;
  free(p);
}

void pg_pool_free(pg_pool *p) {
  if (!p) return;
  while (p->head) {
    pool_req *r = p->head;
    p->head = r->next;
    if (r->acquire) {
      r->acquire_cb(p, NULL, PV_ESHUTDOWN, r->arg);
    } else {
      pv_error err = PV_ERROR_INIT;
      pv_error_set(&err, PV_ESHUTDOWN, NULL, NULL);
      r->query_cb(NULL, PV_ESHUTDOWN, NULL, &err, r->arg);
    }
    req_free(r);
  }
  for (unsigned i = 0; i < p->count; i++) pg_conn_free(p->conns[i]);
  free(p->conns);
  free(p->busy);
  uv_close((uv_handle_t *)&p->kick, free_after_close);
}

static int enqueue(pg_pool *p, pool_req *r) {
  if (p->waiting >= PG_POOL_MAX_WAITING) {
    req_free(r);
    return PV_EBUSY;
  }
  r->pool = p;
  if (p->tail) p->tail->next = r;
  else p->head = r;
  p->tail = r;
  p->waiting++;
  uv_async_send(&p->kick);
  return 0;
}

int pg_pool_query(pg_pool *p, const char *sql, int nparams, const char *const *values,
                  pg_query_cb cb, void *arg) {
  pool_req *r = pv_xcalloc(1, sizeof *r);
  r->sql = sql;
  r->nparams = nparams;
  r->values = pv_xcalloc((size_t)(nparams > 0 ? nparams : 1), sizeof *r->values);
  for (int i = 0; i < nparams; i++) r->values[i] = values[i] ? pv_xstrdup(values[i]) : NULL;
  r->query_cb = cb;
  r->arg = arg;
  return enqueue(p, r);
}

int pg_pool_acquire(pg_pool *p, pg_pool_acquire_cb cb, void *arg) {
  pool_req *r = pv_xcalloc(1, sizeof *r);
  r->acquire = true;
  r->acquire_cb = cb;
  r->arg = arg;
  return enqueue(p, r);
}

void pg_pool_release(pg_pool *p, pg_conn *c) { give_back(p, c); }

size_t pg_pool_waiting(const pg_pool *p) { return p->waiting; }
