/*
 * pg_pool — a few PostgreSQL connections on one libuv loop, for the
 * queries of the HTTP API: a query runs on a free connection at once, or
 * waits in a bounded FIFO for the next one to free up. Nothing here blocks
 * the loop except pg_pool_new, which connects at start-up.
 *
 * Two ways to use a connection:
 *   pg_pool_query    one parameterized statement; the pool picks the
 *                    connection and takes it back when cb returns.
 *   pg_pool_acquire  a connection of one's own for a sequence of statements
 *                    (a transaction, a cursor streaming an export); give it
 *                    back with pg_pool_release, always.
 *
 * Thread: the loop's, for every function.
 */
#ifndef PG_POOL_H
#define PG_POOL_H

#include "adapters/pg/pg_conn.h"

typedef struct pg_pool pg_pool;

/* 4 connections: the API loop is one thread, so more connections only help
 * while queries wait on PostgreSQL; 4 keep 2 cores busy with room for a
 * long export. 1024 waiting: arbitrary; past it the API answers 503. */
#define PG_POOL_DEFAULT_CONNECTIONS 4
#define PG_POOL_MAX_WAITING 1024

/*
 * Connects `connections` (0 = the default) connections to conninfo.
 * Returns: 0, or pg_connect's errors (nothing is left open).
 */
int pg_pool_new(uv_loop_t *loop, const char *conninfo, unsigned connections, pg_pool **out,
                pv_error *err);

/* Closes every connection. No query may be in flight and no connection
 * acquired; run the loop once more before uv_loop_close (poll handles). */
void pg_pool_free(pg_pool *p);

/*
 * Runs one statement on a free connection (now, or when one frees up).
 * cb is as for pg_query_async; the connection returns to the pool after it.
 * Returns: 0 (cb will be called exactly once, never from inside this call)
 * or PV_EBUSY (PG_POOL_MAX_WAITING already wait), PV_ENOMEM.
 * Ownership: sql must stay valid until cb (use string literals); values are
 * copied.
 */
int pg_pool_query(pg_pool *p, const char *sql, int nparams, const char *const *values,
                  pg_query_cb cb, void *arg);

/* Called with a connection of the caller's own (rc 0), or rc PV_ESHUTDOWN
 * when the pool is freed first. */
typedef void (*pg_pool_acquire_cb)(pg_pool *p, pg_conn *c, int rc, void *arg);

/* Asks for a connection; cb runs when one is free (never from inside this
 * call). Returns: 0 or PV_EBUSY. */
int pg_pool_acquire(pg_pool *p, pg_pool_acquire_cb cb, void *arg);
/* Gives an acquired connection back (after its last query's callback). */
void pg_pool_release(pg_pool *p, pg_conn *c);

/* How many requests wait for a connection (for /metrics). */
size_t pg_pool_waiting(const pg_pool *p);

#endif
