/*
 * api — the application behind the HTTP server: the route table's handlers
 * (one file per resource in this folder), authentication of every request
 * against the users aggregate on the write side, and the command path from
 * a handler to the writer and back.
 *
 * The owner (cmd/cmd_serve.c, the API tests) runs a libuv loop on its own
 * thread and, on that thread, creates the api with an open log's running
 * writer: api_new builds the HTTP server on the loop (routes.def), its
 * Argon2 worker pool and the writer's completion handle, and sets the
 * authenticate hook. api_listen binds. The loop runs until api_stop
 * (any thread) has drained the server, closed the pool and the handles;
 * then stop the writer, and api_free.
 *
 * The command path: a handler builds a writer_cmd in an api_op and submits
 * it; the writer calls back on its own thread once the command is durable;
 * the callback queues the op and wakes the loop (uv_async_send, which
 * coalesces: the loop drains the whole queue per wake-up); the op's finish
 * function answers `{"id", "position"}` with a Pivotal-Position header.
 * Idempotency-Key becomes the writer's idempotency key, scoped per tenant
 * (the log's key) and user (prefix "u:<user id>:"). If-Match carries the
 * entity's stream version; a stale one answers 412.
 *
 * Thread: everything on the loop's thread except api_stop.
 */
#ifndef PV_API_H
#define PV_API_H

#include "adapters/auth/auth_password.h"
#include "adapters/http/http.h"
#include "core/accounts.h"
#include "core/writer.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct api api;

typedef struct api_config {
  http_config http;
  const uint8_t *jwt_key; /* HS256 key, at least AUTH_JWT_KEY_MIN_BYTES */
  size_t jwt_key_len;
  const char *issuer;         /* "pivotal": the iss of our tokens */
  int access_ttl_s;           /* 900: issue 4's ceiling, 15 minutes */
  auth_pwpool_config pwpool;  /* threads, capacity, Argon2 cost */
  const char *default_tenant; /* "default": a single-company install */
  /* PostgreSQL of the read models; NULL: no query route can answer (503).
   * The api connects a pool (adapters/pg/pg_pool.h) on its loop. */
  const char *database_conninfo;
  unsigned database_connections; /* 0: PG_POOL_DEFAULT_CONNECTIONS */
  /* HMAC key of one-click unsubscribe links (core/unsub_token.h), 32
   * bytes; NULL: a random key for this process only (tests). */
  const uint8_t *unsub_key;
  /* ISO 3166 alpha-2 region a phone without "+" is read in ("US", the
   * suppressions' default); one for every tenant of the install. */
  const char *phone_region;
  /* The data directory: imports are spooled to DATA_DIR/imports; NULL:
   * the import routes answer 503. */
  const char *data_dir;
  /* Industry enrichment of account creates and upserts: a provider that may
   * block (adapters/enrich/enrich_http.h), run on libuv's thread pool, with
   * the built-in rules answering when it fails or cannot tell; NULL: the
   * rules only, on the loop. Must outlive the api. */
  const acct_enricher *enricher;
} api_config;

/* Fills the defaults (the key is left empty: the owner must set it). */
void api_config_init(api_config *cfg);

/*
 * Creates the api on loop (not yet listening). The writer (and its log)
 * must outlive the api. cfg is copied (the key too).
 * Returns: 0, PV_EINVAL (bad key, issuer, ttl, pool config or route table;
 * err says which), PV_ENOMEM, pg_connect's errors (the read-model database).
 * Thread: the loop's. Ownership: api_free after the loop has stopped.
 */
int api_new(uv_loop_t *loop, writer_t *writer, const api_config *cfg, api **out,
            pv_error *err);

/* Binds cfg.http's address. Returns: as http_server_listen. */
int api_listen(api *a, pv_error *err);

/* The HTTP server, to set its readiness hook or position waiter, or read
 * the bound port. */
http_server *api_http(api *a);

/*
 * Graceful stop, from any thread (a signal thread): stops accepting, lets
 * in-flight requests finish (their commands included), closes the password
 * pool and the api's handles. uv_run on the loop returns after that.
 * Call once, after api_listen.
 */
void api_stop(api *a);

/* Frees the api after the loop has stopped (or when never listened). */
void api_free(api *a);

/*
 * The HS256 signing key: read from key_file when it is not empty (raw
 * bytes, 32..1024), else from DATA_DIR/jwt.key, which is made once (32
 * random bytes, mode 0600) when absent.
 * Returns: 0 and *len; PV_EINVAL (a file too short or too long); PV_EIO
 * (could not read or write; err names the file).
 */
#define API_JWT_KEY_MAX 1024
int api_load_jwt_key(const char *key_file, const char *data_dir,
                     uint8_t key[API_JWT_KEY_MAX], size_t *len, pv_error *err);

/*
 * Read your writes: the projections whose read models route's handler
 * reads (NULL-terminated; empty when it reads none, so a request with
 * Pivotal-Min-Position need not wait), or NULL for a route not listed
 * (api_reads.c), which waits for every projection.
 */
const char *const *api_route_reads(const http_route *route);

/*
 * The projections a request of route with Pivotal-Min-Position waits for:
 * those of running[0..nrunning) that the route reads (all of them for a
 * route not listed), into out[0..cap). 0: it need not wait.
 */
size_t api_route_waits_for(const http_route *route, const char *const *running,
                           size_t nrunning, const char **out, size_t cap);

/*
 * The unsubscribe links' HMAC key: read from key_file when it is not empty
 * (exactly API_UNSUB_KEY_BYTES raw bytes), else from DATA_DIR/unsub.key,
 * made once (random, mode 0600) when absent.
 * Returns: 0; PV_EINVAL (a file of another length); PV_EIO (could not read
 * or write; err names the file).
 */
#define API_UNSUB_KEY_BYTES 32
int api_load_unsub_key(const char *key_file, const char *data_dir,
                       uint8_t key[API_UNSUB_KEY_BYTES], pv_error *err);

#endif
