/*
 * http_internal — the structs shared by the files of adapters/http (the
 * server, the router, responses). Not for other modules: they use http.h.
 */
#ifndef HTTP_INTERNAL_H
#define HTTP_INTERNAL_H

#include "adapters/http/http.h"
#include "adapters/http/http_parse.h"
#include "core/common/pv_buf.h"

/* Route parameters per path: 8, arbitrary (our deepest path has 2). */
#define HTTP_MAX_PARAMS 8
/* Statuses counted per route: 16, arbitrary (a route answers few). */
#define HTTP_ROUTE_STATUSES 16
/* Checks in one /readyz answer: 16, arbitrary. */
#define HTTP_READY_MAX 16
/* Read buffer per connection: 64 KiB, libuv's suggested size. */
#define HTTP_READ_BUF 65536
/* Stop parsing a connection's next request while this much of its
 * responses is unsent: 256 KiB, arbitrary (a few large answers). */
#define HTTP_WRITE_BACKLOG 262144

/* Lingering close: 2 s, arbitrary (nginx's lingering_timeout is 5 s); how
 * long a closing connection discards input so its answer is not reset. */
#define HTTP_LINGER_MS 2000

typedef struct http_conn http_conn;

typedef struct http_route_stats {
  int status[HTTP_ROUTE_STATUSES];
  uint64_t count[HTTP_ROUTE_STATUSES];
  uint64_t other;                         /* statuses beyond the slots */
  uint64_t latency_buckets[24];
  double latency_sum;
  uint64_t latency_count;
} http_route_stats;

struct http_request {
  http_server *srv;
  http_conn *conn;          /* NULL once the connection is gone */
  int route_index;          /* -1 when no route matched */
  int method;
  const char *method_name;
  pv_buf head;              /* url (path NUL query NUL), then headers */
  const char *path;
  const char *query;
  http_parse_header *headers;
  size_t n_headers;
  size_t n_params;
  const char *param_name[HTTP_MAX_PARAMS];
  size_t param_name_len[HTTP_MAX_PARAMS];
  size_t param_off[HTTP_MAX_PARAMS];
  pv_buf param_values;
  char id[65];
  uint64_t start_ns;
  http_roles roles;
  void *principal;
  void (*principal_free)(void *);
  size_t body_limit;
  uint64_t body_received;
  pv_buf body;
  http_chunk_fn on_chunk;
  http_end_fn on_end;
  void *stream_ctx;
  uint64_t min_position;    /* Pivotal-Min-Position, 0 when absent */
  bool waiting_position;    /* held for the position waiter */
  bool handler_called;
  bool end_called;
  bool paused;
  bool msg_complete;
  bool responded;
  bool has_body;
  bool is_head;
  bool streaming_out;       /* http_respond_start ran; http_respond_end owed */
  bool chunked;             /* the streamed answer is chunk-encoded */
  int out_status;
  size_t out_bytes;
  pv_buf resp_headers;
};

struct http_readiness {
  size_t n;
  bool ok[HTTP_READY_MAX];
  char name[HTTP_READY_MAX][48];
  char detail[HTTP_READY_MAX][160];
};

/* Router (http_router.c). Returns the matching route's index and fills
 * req's params, or -404 / -405 (allow then lists the path's methods). */
int http_router_match(const http_route *routes, size_t n, int method,
                      const char *path, http_request *req, pv_buf *allow);
/* Checks a table; Returns: 0 or PV_EINVAL. */
int http_router_check(const http_route *routes, size_t n, pv_error *err);

/* Server internals used by handlers in http_routes.c. */
void http_server_render_metrics(http_server *srv, pv_buf *out);
void http_server_readiness(http_server *srv, http_readiness *r);

/* Answers with an application/problem+json body; field and hint may be
 * NULL or "". type_name becomes urn:pivotal:problem:<type_name>. */
void http__respond_problem(http_request *req, int status, const char *type_name,
                           const char *title, const char *detail,
                           const char *code, const char *field, const char *hint);

/* JSON-escapes s into out (without quotes). */
void http_json_escape(pv_buf *out, const char *s);

#endif
