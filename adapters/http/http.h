/*
 * http — Pivotal's HTTP/1.1 server: libuv for I/O, llhttp (strict) for
 * parsing, one route table, problem+json errors, request ids, an access
 * log, /healthz, /readyz and /metrics.
 *
 * The owner (cmd/cmd_serve.c) creates a server on a libuv loop with a route
 * table (adapters/http/routes.def expands into http_routes[]), sets the
 * authenticate and readiness hooks, calls http_server_listen() and runs the
 * loop. http_server_stop() (any thread) or http_server_shutdown() (loop
 * thread) drains it; when the last connection is closed every handle of the
 * server is closed, so uv_run() returns once nothing else holds the loop.
 *
 * For every request the router checks, in this order: method and path (404;
 * 405 with Allow), the authenticate hook unless the row is HTTP_PUBLIC (401),
 * the row's roles (403), the declared body size (413), then calls the
 * handler. A route that is not in the table does not exist.
 *
 * A handler answers exactly once with one of the http_respond* calls, either
 * before it returns or later from the same loop thread (for example when the
 * writer's completion arrives through a uv_async). Requests on one
 * connection are handled one at a time: the next pipelined request is not
 * parsed, and its body not read, until the current one has been answered.
 *
 * Thread: everything here runs on the server's loop thread, except
 * http_server_stop(). Metrics (http_metrics.h) are safe from any thread.
 */
#ifndef HTTP_H
#define HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "core/common/pv_error.h"

typedef struct http_server http_server;
typedef struct http_request http_request;

/* Methods a route may declare. */
typedef enum http_method {
  HTTP_METHOD_GET = 1,
  HTTP_METHOD_HEAD,
  HTTP_METHOD_POST,
  HTTP_METHOD_PUT,
  HTTP_METHOD_PATCH,
  HTTP_METHOD_DELETE,
  HTTP_METHOD_OPTIONS,
} http_method;

/* "GET", ...; "OTHER" for anything else. */
const char *http_method_name(int method);

/*
 * Roles, as bits of a uint32_t. adapters/auth maps a principal to these;
 * a route row lists the roles allowed to call it. HTTP_PUBLIC marks a route
 * that skips authentication altogether (health checks, login).
 */
typedef uint32_t http_roles;
enum http_role {
  HTTP_ROLE_ADMIN            = 1u << 0,
  HTTP_ROLE_CAMPAIGN_MANAGER = 1u << 1,
  HTTP_ROLE_DATA_OPS         = 1u << 2,
  HTTP_ROLE_QA_ANALYST       = 1u << 3,
  HTTP_ROLE_AGENT            = 1u << 4,
  HTTP_ROLE_CLIENT_USER      = 1u << 5,
  HTTP_ROLES_STAFF           = 0x1fu, /* every role but client_user */
  HTTP_ROLES_ALL             = 0x3fu,
  HTTP_PUBLIC                = 1u << 31,
};

typedef void (*http_handler_fn)(http_request *req);

/*
 * One row of a route table. Columns:
 *   method      HTTP_METHOD_*
 *   path        literal segments and `:name` parameters ("/contacts/:id");
 *               a parameter matches one non-empty segment
 *   handler     called once the checks pass (buffered routes: with the whole
 *               body; streaming routes: at the end of the headers)
 *   roles       HTTP_ROLE_* bits allowed, or HTTP_PUBLIC
 *   body_limit  largest body in bytes; 0 takes the config's default. A
 *               streaming route's limit applies to the whole upload.
 *   streaming   the handler calls http_request_stream() and gets the body in
 *               chunks as it arrives; it is never held whole in memory
 *   idempotent  a retry is safe (the command path reads this for
 *               Idempotency-Key handling)
 */
typedef struct http_route {
  int method;
  const char *path;
  http_handler_fn handler;
  http_roles roles;
  size_t body_limit;
  bool streaming;
  bool idempotent;
} http_route;

/* The application's table, expanded from adapters/http/routes.def. */
extern const http_route http_routes[];
extern const size_t http_routes_count;

/* Built-in handlers named in routes.def (and usable in other tables). */
void http_handle_healthz(http_request *req);
void http_handle_readyz(http_request *req);
void http_handle_metrics(http_request *req);

/*
 * Limits and timeouts. http_config_init() fills the defaults; each default
 * says where it comes from.
 */
typedef struct http_config {
  char host[64];                /* "127.0.0.1": local only until configured */
  int port;                     /* 8080: issue 4; 0 picks an ephemeral port */
  int backlog;                  /* 511: libuv's and nginx's default */
  unsigned max_connections;     /* 10000: arbitrary; about 1.2 GiB at most
                                   with 64 KiB read + 64 KiB header buffers,
                                   well under the default 65k fd limit */
  size_t max_header_bytes;      /* 16 KiB: issue 4 (431 above) */
  size_t body_limit_default;    /* 1 MiB: issue 4 (413 above) */
  unsigned header_timeout_ms;   /* 10 s: issue 4 (from the request's first
                                   byte to the end of its headers; then close) */
  unsigned idle_timeout_ms;     /* 15 s: issue 4 (keep-alive between requests) */
  unsigned body_window_ms;      /* 10 s and */
  size_t body_min_bytes;        /* 1 KiB: a body must progress this much per
                                   window or the connection closes (about
                                   nginx's client_body_timeout 60 s on a
                                   100 B/s link; arbitrary, issue 4 asks for
                                   a minimum rate) */
  unsigned shutdown_timeout_ms; /* 10 s: arbitrary; below systemd's 90 s stop
                                   timeout with room for the writer's flush */
  FILE *access_log;             /* NULL: no access log; one JSON line per
                                   request otherwise, flushed per line */
  unsigned position_wait_ms;    /* 2 s: issue 4 (the longest a query with
                                   Pivotal-Min-Position waits) */
  bool reuse_port;              /* false: set SO_REUSEPORT so several
                                   servers (one per loop thread) can share
                                   the port; off because one loop was
                                   measured enough (docs/http.md) */
} http_config;

void http_config_init(http_config *cfg);

/*
 * Parses "HOST:PORT" (or ":PORT", or "[v6]:PORT") into cfg->host/port.
 * Returns: 0 or PV_EINVAL (field "/listen").
 */
int http_config_set_listen(http_config *cfg, const char *listen, pv_error *err);

/*
 * Authentication hook: decide who sent req (e.g. from its Authorization
 * header). Set *roles to the principal's HTTP_ROLE_* bits and return 0, or
 * return PV_EUNAUTHORIZED (401) / another PV_E code with err filled. May
 * attach the principal with http_request_set_principal().
 * Without a hook every non-public route answers 401.
 */
typedef int (*http_authenticate_fn)(void *ctx, http_request *req,
                                    http_roles *roles, pv_error *err);

/* Readiness hook: add one check per dependency with http_readiness_add(). */
typedef struct http_readiness http_readiness;
typedef void (*http_readiness_fn)(void *ctx, http_readiness *r);
/* Records one check; name and detail are copied. detail may be NULL. */
void http_readiness_add(http_readiness *r, const char *name, bool ok,
                        const char *detail);

/*
 * Creates a server on loop (not yet listening). routes must stay valid for
 * the server's life (normally a static table). Checks the table: a path must
 * start with '/', and no two rows may share method and path.
 * Returns: 0 or PV_EINVAL (bad config or route table; err says which).
 * Thread: the loop's thread. Ownership: free with http_server_free().
 */
int http_server_new(uv_loop_t *loop, const http_config *cfg,
                    const http_route *routes, size_t n_routes,
                    http_server **out, pv_error *err);

/*
 * Read your writes. A GET or HEAD request carrying `Pivotal-Min-Position: N`
 * (N a decimal u64; anything else is 400 with field
 * "/headers/pivotal-min-position") is held, once authorized and its body
 * read, until the position waiter says the data the route reads has passed
 * N. The waiter is called on the loop thread once per such request (N > 0)
 * with cfg.position_wait_ms, and must call http_request_position_done(req,
 * status) exactly once, on the loop thread, within about that time:
 * status 0 runs the handler; PV_ETIMEDOUT answers 504 problem+json (the
 * read models are behind; retry); another PV_E code answers that error.
 * The waiter may look at http_request_route(req) to know what the route
 * reads. Without a waiter the handler runs at once (the header is still
 * checked). Commands ignore the header: they decide on the write side,
 * which is always current.
 */
typedef void (*http_position_waiter_fn)(void *ctx, http_request *req,
                                        uint64_t position, unsigned timeout_ms);
void http_server_set_position_waiter(http_server *srv,
                                     http_position_waiter_fn fn, void *ctx);
/* Ends the wait of a held request (see above). Thread: the loop's. */
void http_request_position_done(http_request *req, int status);
/* The request's Pivotal-Min-Position (0 when absent). */
uint64_t http_request_min_position(const http_request *req);

/* Hooks and the application context; set before http_server_listen(). */
void http_server_set_authenticate(http_server *srv, http_authenticate_fn fn,
                                  void *ctx);
void http_server_set_readiness(http_server *srv, http_readiness_fn fn,
                               void *ctx);
void http_server_set_app(http_server *srv, void *app);

/*
 * Binds and listens on cfg's host:port.
 * Returns: 0, PV_EINVAL (bad address) or PV_EUNAVAILABLE (bind or listen
 * failed, e.g. the port is taken; err's detail names the reason).
 */
int http_server_listen(http_server *srv, pv_error *err);

/* The port actually bound (useful with port 0); 0 before listen. */
int http_server_port(const http_server *srv);

uv_loop_t *http_server_loop(const http_server *srv);

/*
 * Graceful shutdown: stop accepting, close idle connections, let in-flight
 * requests finish (their responses carry Connection: close), and after
 * cfg.shutdown_timeout_ms close whatever connection is left (a streaming
 * handler hears PV_ESHUTDOWN). done (may be NULL) runs once every handle of
 * the server is closed and every handler has answered: a handler that never
 * answers keeps the loop alive. Calling it twice is harmless.
 * Thread: the loop's thread.
 */
void http_server_shutdown(http_server *srv,
                          void (*done)(http_server *srv, void *ctx), void *ctx);

/* Same as http_server_shutdown(srv, NULL, NULL), from any thread (a signal
 * thread), until the shutdown is done (its uv_async is closed then). */
void http_server_stop(http_server *srv);

/* Frees the server. Call after shutdown is done (or before listen). */
void http_server_free(http_server *srv);

/* ---- Requests. Pointers returned stay valid until the request is answered. */

int http_request_method(const http_request *req);
/* Path without the query string, as sent (not percent-decoded). */
const char *http_request_path(const http_request *req);
/* Query string without '?', or "" */
const char *http_request_query(const http_request *req);
/* Value of the first header named `name` (case-insensitive), or NULL. */
const char *http_request_header(const http_request *req, const char *name);
/* Value of the route parameter `name` (":id" -> "id"), or NULL. */
const char *http_request_param(const http_request *req, const char *name);
/* The request id echoed in X-Request-Id. */
const char *http_request_id(const http_request *req);
/* The peer's IP address as text (IPv4 dotted or IPv6) into out.
 * Returns: 0, or -1 when the connection is gone or the address unknown. */
int http_request_peer(const http_request *req, char *out, size_t cap);
/* Buffered routes: the whole body (NUL-terminated; "" when none). */
const char *http_request_body(const http_request *req, size_t *len);
const http_route *http_request_route(const http_request *req);
void *http_request_app(const http_request *req);
/* The server's loop, for handlers that answer later (timers, uv_async). */
uv_loop_t *http_request_loop(const http_request *req);
http_roles http_request_roles(const http_request *req);
/* Attaches the authenticated principal; free_fn (may be NULL) runs when the
 * request ends. */
void http_request_set_principal(http_request *req, void *principal,
                                void (*free_fn)(void *));
void *http_request_principal(const http_request *req);

/*
 * Decodes a buffered JSON body: Content-Type must be application/json
 * (parameters such as charset=utf-8 allowed) and the body one JSON value.
 * Returns: 0 (*out is the tree; cJSON_Delete it), PV_EUNSUPPORTED (415:
 * another content type) or PV_EINVAL (400: not JSON; detail gives the byte
 * offset).
 */
int http_request_json(const http_request *req, cJSON **out, pv_error *err);

/* Same decoding over bytes, for callers and fuzzing. */
int http_json_decode(const char *body, size_t len, cJSON **out, pv_error *err);

/*
 * Reads a member of a JSON object, naming it as a JSON pointer in err
 * ("/name") when it is missing (and required) or has the wrong type.
 * Returns: 0 (*out set, or left alone when absent and optional), PV_EINVAL
 * (missing) or PV_EBADTYPE (wrong type).
 */
int http_json_string(const cJSON *obj, const char *key, bool required,
                     const char **out, pv_error *err);
int http_json_int64(const cJSON *obj, const char *key, bool required,
                    int64_t *out, pv_error *err);
int http_json_bool(const cJSON *obj, const char *key, bool required,
                   bool *out, pv_error *err);

/*
 * Streaming routes: the handler (called at the end of the headers) registers
 * on_chunk for each piece of body as it arrives, and on_end once: status 0
 * when the body is complete, PV_ETIMEDOUT / PV_ESHUTDOWN / PV_EIO when it
 * will never be (client too slow, server stopping, connection lost). After
 * on_end the handler must still answer (answering a lost connection only
 * frees the request). Answering earlier stops the body and closes the
 * connection after the response.
 */
typedef void (*http_chunk_fn)(http_request *req, const char *data, size_t len,
                              void *ctx);
typedef void (*http_end_fn)(http_request *req, int status, void *ctx);
void http_request_stream(http_request *req, http_chunk_fn on_chunk,
                         http_end_fn on_end, void *ctx);
/* Stops reading the body after the current chunk (backpressure) / goes on. */
void http_request_pause(http_request *req);
void http_request_resume(http_request *req);

/* ---- Responses: exactly one http_respond* per request; the request is
 * freed by it (answering twice is a bug and aborts). */

/* Adds a response header (copied); call before answering. */
void http_response_header(http_request *req, const char *name,
                          const char *value);
/* Answers with status and body (copied). content_type NULL when len is 0. */
void http_respond(http_request *req, int status, const char *content_type,
                  const void *body, size_t len);
/* Answers with JSON. Ownership: takes json (deleted here). */
void http_respond_json(http_request *req, int status, cJSON *json);
/*
 * Answers with RFC 9457 application/problem+json built from e: type, title,
 * status (pv_http_status), detail, instance (the request id), code
 * (pv_err_name) and field (when set), plus hint when set.
 */
void http_respond_error(http_request *req, const pv_error *e);

/*
 * A streamed answer of unknown length (an export): http_respond_start sends
 * the status and headers with Transfer-Encoding: chunked (HTTP/1.0: no
 * coding, the connection closes after), each http_respond_chunk one chunk
 * (data copied; empty ones are skipped), http_respond_end the last chunk
 * and frees the request. start counts as the request's one answer; end must
 * follow, also when the connection was lost meanwhile (chunks are then
 * dropped). Errors after start cannot change the status: end early, and
 * the client sees a body that stops (a chunked one without its last chunk
 * if the connection is closed instead).
 * Thread: the loop's.
 */
void http_respond_start(http_request *req, int status, const char *content_type);
void http_respond_chunk(http_request *req, const void *data, size_t len);
void http_respond_end(http_request *req);

#endif
