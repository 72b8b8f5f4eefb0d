/*
 * pg_conn — one libpq connection with the rules Pivotal keeps at the
 * PostgreSQL boundary.
 *
 * - Parameterized statements only: every helper takes the SQL text and its
 *   values separately (PQexecParams / PQsendQueryParams), text format.
 * - libpq failures become pv_error codes here and never above:
 *     connection loss, server shutting down, too many connections
 *                                      -> PV_EUNAVAILABLE
 *     23505 unique_violation           -> PV_EEXISTS
 *     40001 serialization, 40P01 deadlock -> PV_ECONFLICT
 *     class 22 (data exception), class 23 other than 23505
 *                                      -> PV_EINVAL
 *     57014 query_canceled (statement_timeout) -> PV_ETIMEDOUT
 *     anything else                    -> PV_EINTERNAL
 *   The message never carries SQL text: the primary message is ours; the
 *   detail holds the server's primary message only for input errors (it
 *   quotes the offending value, not the statement) and the constraint name
 *   for unique violations; an internal error names only its SQLSTATE.
 * - A lost connection is reset before the next use (blocking for pg_exec and
 *   the COPY helpers, non-blocking through the loop for pg_query_async). The
 *   statement that saw the loss fails with PV_EUNAVAILABLE and is never
 *   retried here: it may have committed. A transaction open at the loss is
 *   gone; pg_conn_generation() lets a caller notice that a reset happened.
 *
 * Thread: a pg_conn belongs to one thread at a time; with a loop, to the
 * loop's thread.
 */
#ifndef PG_CONN_H
#define PG_CONN_H

#include "core/common/pv_error.h"

#include <libpq-fe.h>
#include <stdint.h>
#include <uv.h>

typedef struct pg_conn pg_conn;

/*
 * Connects with a conninfo string ("host=/x dbname=y") or a URL
 * ("postgresql://..."). Blocking.
 * Returns: 0 or PV_EUNAVAILABLE (server unreachable, refused, bad
 * credentials; detail: libpq's first line), PV_EINVAL (conninfo does not
 * parse).
 * Ownership: *out is the caller's; free with pg_conn_free().
 */
int pg_connect(pg_conn **out, const char *conninfo, pv_error *err);

/*
 * Closes the connection and frees c (NULL is fine). When c was used with a
 * loop, its poll handle is closed too: run the loop once more (uv_run
 * UV_RUN_DEFAULT or NOWAIT until it returns 0) before uv_loop_close.
 * Must not be called from inside c's own query callback.
 */
void pg_conn_free(pg_conn *c);

/* The libpq handle, for what these helpers do not cover. Do not PQfinish. */
PGconn *pg_conn_raw(pg_conn *c);

/* Counts resets after losses: a change means session state was lost. */
uint64_t pg_conn_generation(const pg_conn *c);

/*
 * Runs one parameterized statement (values in text format, NULL for SQL
 * NULL; nparams may be 0). Resets a lost connection first. Blocking.
 * Returns: 0 or PV_EUNAVAILABLE, PV_EEXISTS, PV_ECONFLICT, PV_EINVAL,
 * PV_ETIMEDOUT, PV_EINTERNAL (see the top of this file), PV_EBUSY (an async
 * query or a COPY is in progress on c).
 * Ownership: on 0, *out (if out is not NULL) is a PGresult the caller
 * PQclear()s; on error *out is NULL.
 */
int pg_exec(pg_conn *c, const char *sql, int nparams,
            const char *const *values, PGresult **out, pv_error *err);

/*
 * Translates a failed result (or NULL, meaning no result) on c into a
 * code and err, by the table at the top of this file.
 * Returns: the PV_E* code; 0 when res is a success (COMMAND_OK, TUPLES_OK,
 * COPY_IN/OUT).
 */
int pg_result_error(pg_conn *c, const PGresult *res, pv_error *err);

/*
 * Async query on a libuv loop: sends one parameterized statement and
 * returns at once; the loop watches the socket (uv_poll on PQsocket) and
 * calls cb when the whole result is in. Resets a lost connection first,
 * without blocking the loop. One query at a time per connection.
 *
 * The callback gets rc 0 and res (the caller's: PQclear it), or rc a PV_E*
 * code, res NULL and err filled (err is valid during the call only). It is
 * called exactly once for each accepted query, never from inside
 * pg_query_async itself.
 * Returns: 0 (cb will be called) or PV_EBUSY (a query or COPY is in
 * progress), PV_EUNAVAILABLE, PV_EINVAL (the loop differs from the one c was
 * first used with); on an error cb is never called.
 * Ownership: sql and values are copied by libpq before this returns.
 */
typedef void (*pg_query_cb)(pg_conn *c, int rc, PGresult *res,
                            const pv_error *err, void *arg);
int pg_query_async(pg_conn *c, uv_loop_t *loop, const char *sql, int nparams,
                   const char *const *values, pg_query_cb cb, void *arg,
                   pv_error *err);

/*
 * Batch write with COPY FROM STDIN in text format, one round trip for the
 * whole batch. copy_sql is the statement, e.g.
 * "COPY t (a, b) FROM STDIN". Rows are escaped here (backslash, tab,
 * newline, carriage return; NULL becomes \N) and sent in chunks.
 *   pg_copy_begin -> pg_copy_row ... -> pg_copy_end (or pg_copy_abort)
 * All blocking. Nothing is visible to others until pg_copy_end succeeds
 * (and the surrounding transaction, if any, commits).
 * Returns: 0 or the codes of pg_exec; after an error in pg_copy_row call
 * pg_copy_abort. pg_copy_end sets *rows_out (may be NULL) to the row count
 * the server reports.
 * Ownership: values are copied into the chunk buffer.
 */
int pg_copy_begin(pg_conn *c, const char *copy_sql, pv_error *err);
int pg_copy_row(pg_conn *c, int ncols, const char *const *values,
                pv_error *err);
int pg_copy_end(pg_conn *c, uint64_t *rows_out, pv_error *err);
/* Abandons a COPY in progress; nothing of it is written. Never fails. */
void pg_copy_abort(pg_conn *c);

#endif
