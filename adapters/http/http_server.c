/*
 * http_server — connections on one libuv loop: accept (with a cap), read,
 * parse (http_parse), route and check, call handlers, write answers in
 * order, keep-alive, timeouts, graceful shutdown.
 *
 * One request at a time per connection. http_parse stops at the end of
 * every message; the connection parses no further (and stops reading)
 * until that request is answered, so a pipelined request's body can never
 * reach the previous request's handler, and answers leave in order.
 *
 * One timer per connection, re-armed for the phase it is in: waiting for a
 * request (idle timeout; the header timeout before the first one), reading
 * headers (header timeout from the request's first byte), reading a body
 * (every body window it must have brought body_min_bytes), waiting for the
 * handler (none: the handler owns that time).
 *
 * Request lifetime: created at the end of the headers, freed once it is
 * both answered and its message is complete, or answered after its
 * connection is gone (an "orphan"). The server's shutdown is done only when
 * no connection and no request is left, so a handler answering late never
 * touches freed memory.
 *
 * Thread: the loop's thread, except http_server_stop() (uv_async_send).
 */
#include "adapters/http/http_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>
#include <time.h>

#include "adapters/http/http_metrics.h"
#include "core/common/pv_time.h"

struct http_conn {
  uv_tcp_t tcp;
  uv_timer_t timer;
  http_server *srv;
  http_conn *prev, *next;
  http_parse parse;
  char *rbuf;
  size_t rlen, roff;
  http_request *req;
  uint64_t window_bytes;    /* body bytes since the last body-window tick */
  int closes_pending;
  bool keep_alive;          /* false once we have decided to close */
  bool reading;
  bool closing;
  bool in_drive;
  bool close_after_write;
  bool lingering;           /* answered, write side shut, discarding input */
  uv_shutdown_t shutdown_req;
  bool served_one;          /* first request done: idle timeout applies */
};

struct http_server {
  uv_loop_t *loop;
  http_config cfg;
  const http_route *routes;
  size_t n_routes;
  http_route_stats *stats;  /* n_routes + 1; the last is "no route" */
  uv_tcp_t listener;
  uv_async_t stop_async;
  uv_timer_t drain_timer;
  bool stopping;
  bool finishing;
  int closes_pending;
  http_conn *conns;
  size_t n_conns;
  size_t n_requests;        /* live requests, orphans included */
  uint64_t rejected_conns;
  int port;
  http_authenticate_fn authenticate;
  void *authenticate_ctx;
  http_position_waiter_fn position_waiter;
  void *position_waiter_ctx;
  http_readiness_fn readiness;
  void *readiness_ctx;
  void *app;
  void (*done)(http_server *, void *);
  void *done_ctx;
  time_t date_sec;
  char date[40];
  char busy[256];
  size_t busy_len;
  uint32_t id_prefix;
  uint64_t id_counter;
};

/* The answer to a connection over the cap, sent as is. */
#define BUSY_BODY \
  "{\"type\":\"urn:pivotal:problem:busy\",\"title\":\"server is busy\",\"status\":503}"
static const char busy_response[] =
    "HTTP/1.1 503 Service Unavailable\r\n"
    "Content-Type: application/problem+json\r\n"
    "Content-Length: %zu\r\n"
    "Connection: close\r\n"
    "Retry-After: 1\r\n"
    "\r\n" BUSY_BODY;

static void conn_drive(http_conn *c);
static void conn_linger(http_conn *c);
static void conn_timer(http_conn *c, uint64_t ms, uint64_t repeat);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void conn_close(http_conn *c);
static void server_maybe_done(http_server *srv);

void http_config_init(http_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  snprintf(cfg->host, sizeof cfg->host, "127.0.0.1");
  cfg->port = 8080;
  cfg->backlog = 511;
  cfg->max_connections = 10000;
  cfg->max_header_bytes = 16 * 1024;
  cfg->body_limit_default = 1024 * 1024;
  cfg->header_timeout_ms = 10000;
  cfg->idle_timeout_ms = 15000;
  cfg->body_window_ms = 10000;
  cfg->body_min_bytes = 1024;
  cfg->shutdown_timeout_ms = 10000;
  cfg->position_wait_ms = 2000;
  cfg->access_log = NULL;
}

int http_config_set_listen(http_config *cfg, const char *listen, pv_error *err) {
  const char *colon = listen ? strrchr(listen, ':') : NULL;
  if (!colon) goto bad;
  const char *host = listen;
  size_t host_len = (size_t)(colon - listen);
  if (host_len >= 2 && host[0] == '[' && host[host_len - 1] == ']') {
    host++;
    host_len -= 2;
  }
  char *end;
  long port = strtol(colon + 1, &end, 10);
  if (colon[1] == '\0' || *end || port < 0 || port > 65535 ||
      host_len >= sizeof cfg->host)
    goto bad;
  if (host_len == 0) snprintf(cfg->host, sizeof cfg->host, "0.0.0.0");
  else snprintf(cfg->host, sizeof cfg->host, "%.*s", (int)host_len, host);
  cfg->port = (int)port;
  return 0;
bad:
  pv_error_set(err, PV_EINVAL, "/listen", "invalid listen address \"%s\"",
               listen ? listen : "");
  pv_error_hint(err, "Use HOST:PORT, for example 127.0.0.1:8080.");
  return PV_EINVAL;
}

/* ---- Request ids */

static bool request_id_sane(const char *s) {
  size_t n = 0;
  for (; s[n]; n++) {
    char ch = s[n];
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
    if (!ok || n >= 64) return false;
  }
  return n > 0;
}

static void request_id_make(http_server *srv, char out[65]) {
  snprintf(out, 65, "%08" PRIx32 "-%012" PRIx64, srv->id_prefix,
           ++srv->id_counter);
}

/* ---- Metrics and access log */

static void stats_record(http_server *srv, http_request *req, int status,
                         double seconds) {
  http_route_stats *st =
      &srv->stats[req->route_index >= 0 ? (size_t)req->route_index : srv->n_routes];
  size_t i = 0;
  for (; i < HTTP_ROUTE_STATUSES; i++) {
    if (st->status[i] == status) break;
    if (st->status[i] == 0) {
      st->status[i] = status;
      break;
    }
  }
  if (i < HTTP_ROUTE_STATUSES) st->count[i]++;
  else st->other++;
  size_t b = 0;
  while (b < http_latency_bounds_count && seconds > http_latency_bounds[b]) b++;
  st->latency_buckets[b]++;
  st->latency_sum += seconds;
  st->latency_count++;
}

static void access_log(http_server *srv, http_request *req, int status,
                       size_t bytes, uint64_t duration_us) {
  if (!srv->cfg.access_log) return;
  char when[32];
  pv_format_rfc3339_us(pv_wall_us(), when);
  pv_buf line = PV_BUF_INIT;
  pv_buf_addf(&line, "{\"time\":\"%s\",\"id\":\"", when);
  http_json_escape(&line, req->id);
  pv_buf_addf(&line, "\",\"method\":\"%s\",\"path\":\"", req->method_name);
  http_json_escape(&line, req->path);
  pv_buf_addstr(&line, "\",\"route\":");
  if (req->route_index >= 0) {
    const http_route *r = &srv->routes[req->route_index];
    pv_buf_addf(&line, "\"%s ", http_method_name(r->method));
    http_json_escape(&line, r->path);
    pv_buf_addch(&line, '"');
  } else {
    pv_buf_addstr(&line, "null");
  }
  pv_buf_addf(&line, ",\"status\":%d,\"bytes\":%zu,\"duration_us\":%" PRIu64 "}\n",
              status, bytes, duration_us);
  fwrite(line.data, 1, line.len, srv->cfg.access_log);
  fflush(srv->cfg.access_log);
  pv_buf_release(&line);
}

/* ---- Requests */

static http_request *request_new(http_conn *c) {
  http_server *srv = c->srv;
  http_parse *p = &c->parse;
  http_request *req = pv_xcalloc(1, sizeof *req);
  req->srv = srv;
  req->conn = c;
  req->route_index = -1;
  req->start_ns = pv_mono_ns();
  req->method = http_parse_method(p);
  req->method_name = http_method_name(req->method);
  req->is_head = req->method == HTTP_METHOD_HEAD;
  req->has_body = http_parse_has_body(p);
  /* Take the parser's head buffer: its pointers stay valid in the request
   * even after the connection (and its parser) is gone. */
  req->head = p->head;
  pv_buf_init(&p->head, 0);
  req->n_headers = p->n_headers;
  req->headers = pv_xmalloc((p->n_headers ? p->n_headers : 1) * sizeof *req->headers);
  for (size_t i = 0; i < p->n_headers; i++) {
    req->headers[i].name = req->head.data + p->name_off[i];
    req->headers[i].value = req->head.data + p->value_off[i];
  }
  char *url = req->head.data;
  char *q = strchr(url, '?');
  if (q) {
    *q = '\0';
    req->query = q + 1;
  } else {
    req->query = "";
  }
  char *hash = strchr(req->query, '#');
  if (hash) *hash = '\0';
  req->path = url;
  pv_buf_init(&req->param_values, 0);
  pv_buf_init(&req->body, 0);
  pv_buf_init(&req->resp_headers, 0);
  const char *rid = http_request_header(req, "X-Request-Id");
  if (rid && request_id_sane(rid)) snprintf(req->id, sizeof req->id, "%s", rid);
  else request_id_make(srv, req->id);
  srv->n_requests++;
  return req;
}

static void request_free(http_request *req) {
  http_server *srv = req->srv;
  if (req->principal_free) req->principal_free(req->principal);
  pv_buf_release(&req->head);
  pv_buf_release(&req->param_values);
  pv_buf_release(&req->body);
  pv_buf_release(&req->resp_headers);
  free(req->headers);
  free(req);
  srv->n_requests--;
  server_maybe_done(srv);
}

/* Ends a streaming handler's body with status (once). */
static void request_end_stream(http_request *req, int status) {
  if (req->handler_called && req->on_end && !req->end_called && !req->responded) {
    req->end_called = true;
    req->on_end(req, status, req->stream_ctx);
  }
}

/* ---- Writing */

typedef struct write_req {
  uv_write_t w;
  http_conn *conn;
  char *data;
} write_req;

static void on_write(uv_write_t *w, int status) {
  write_req *wr = (write_req *)w;
  http_conn *c = wr->conn;
  free(wr->data);
  free(wr);
  if (status < 0) {
    conn_close(c);
    return;
  }
  if (c->closing) return;
  if (c->close_after_write && c->tcp.write_queue_size == 0) {
    conn_linger(c);
    return;
  }
  http_request *req = c->req;
  if (req && req->want_writable) {
    if (c->tcp.write_queue_size > HTTP_WRITE_LOW_WATER) {
      conn_timer(c, c->srv->cfg.idle_timeout_ms, 0); /* progress: the stall clock restarts */
      return;
    }
    req->want_writable = false;
    uv_timer_stop(&c->timer);
    req->on_writable(req, 0, req->writable_ctx);
    if (c->closing) return;
  }
  conn_drive(c);
}

static void conn_write(http_conn *c, pv_buf *out) {
  uv_buf_t b = uv_buf_init(out->data, (unsigned)out->len);
  int n = 0;
  if (c->tcp.write_queue_size == 0) n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
  if (n == (int)out->len) {
    pv_buf_release(out);
    if (c->close_after_write) conn_linger(c);
    return;
  }
  if (n < 0 && n != UV_EAGAIN) {
    pv_buf_release(out);
    conn_close(c);
    return;
  }
  if (n < 0) n = 0;
  write_req *wr = pv_xmalloc(sizeof *wr);
  wr->conn = c;
  size_t len;
  wr->data = pv_buf_detach(out, &len);
  b = uv_buf_init(wr->data + n, (unsigned)(len - (size_t)n));
  if (uv_write(&wr->w, (uv_stream_t *)&c->tcp, &b, 1, on_write) < 0) {
    free(wr->data);
    free(wr);
    conn_close(c);
  }
}

static const char *status_text(int status) {
  /* llhttp_status_name() aborts on a status it does not know: keep our own. */
  switch (status) {
  case 100: return "Continue";
  case 200: return "OK";
  case 201: return "Created";
  case 202: return "Accepted";
  case 204: return "No Content";
  case 304: return "Not Modified";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 408: return "Request Timeout";
  case 409: return "Conflict";
  case 412: return "Precondition Failed";
  case 413: return "Content Too Large";
  case 415: return "Unsupported Media Type";
  case 422: return "Unprocessable Content";
  case 429: return "Too Many Requests";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  case 507: return "Insufficient Storage";
  default: return "Status";
  }
}

static void date_header(http_server *srv) {
  time_t now = time(NULL);
  if (now == srv->date_sec) return;
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(srv->date, sizeof srv->date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  srv->date_sec = now;
}

void http_response_header(http_request *req, const char *name,
                          const char *value) {
  /* CR or LF in a header would split the response: drop such a header. */
  if (strpbrk(name, "\r\n:") || strpbrk(value, "\r\n")) return;
  pv_buf_addf(&req->resp_headers, "%s: %s\r\n", name, value);
}

void http_respond(http_request *req, int status, const char *content_type,
                  const void *body, size_t len) {
  if (req->responded || req->resp_streaming) abort(); /* a handler answered twice: a bug */
  req->responded = true;
  http_server *srv = req->srv;
  http_conn *c = req->conn;
  uint64_t dur_ns = pv_mono_ns() - req->start_ns;
  stats_record(srv, req, status, (double)dur_ns / 1e9);
  if (!c) {
    access_log(srv, req, status, 0, dur_ns / 1000);
    request_free(req);
    return;
  }
  if ((!req->msg_complete && req->has_body) || srv->stopping)
    c->keep_alive = false;
  date_header(srv);
  pv_buf out = PV_BUF_INIT;
  pv_buf_grow(&out, 256 + len + req->resp_headers.len);
  pv_buf_addf(&out, "HTTP/1.1 %d %s\r\nDate: %s\r\n", status, status_text(status),
              srv->date);
  if (content_type) pv_buf_addf(&out, "Content-Type: %s\r\n", content_type);
  if (status == 204 || status == 304) len = 0; /* no body, no length (RFC 9110) */
  else pv_buf_addf(&out, "Content-Length: %zu\r\n", len);
  pv_buf_addf(&out, "X-Request-Id: %s\r\n", req->id);
  pv_buf_add(&out, req->resp_headers.data, req->resp_headers.len);
  if (!c->keep_alive) pv_buf_addstr(&out, "Connection: close\r\n");
  else if (http_parse_is_http10(&c->parse))
    pv_buf_addstr(&out, "Connection: keep-alive\r\n");
  pv_buf_addstr(&out, "\r\n");
  if (!req->is_head) pv_buf_add(&out, body, len);
  size_t bytes = out.len;
  access_log(srv, req, status, bytes, dur_ns / 1000);

  if (!c->keep_alive) {
    c->close_after_write = true;
    uv_timer_stop(&c->timer);
  }
  if (req->msg_complete || !c->keep_alive) {
    c->req = NULL;
    request_free(req);
  }
  conn_write(c, &out);
  if (!c->closing && !c->close_after_write && !c->req) conn_drive(c);
}

/* ---- Streamed answers (http.h) */

void http_respond_start(http_request *req, int status, const char *content_type,
                        http_writable_fn on_writable, void *ctx) {
  if (req->responded || req->resp_streaming) abort(); /* answered twice: a bug */
  req->resp_streaming = true;
  req->resp_status = status;
  req->on_writable = on_writable;
  req->writable_ctx = ctx;
  http_server *srv = req->srv;
  http_conn *c = req->conn;
  if (!c) return; /* gone: the first chunk says PV_EIO */
  if ((!req->msg_complete && req->has_body) || srv->stopping) c->keep_alive = false;
  req->resp_chunked = !http_parse_is_http10(&c->parse);
  if (!req->resp_chunked) c->keep_alive = false; /* the end of the body is the close */
  date_header(srv);
  pv_buf out = PV_BUF_INIT;
  pv_buf_addf(&out, "HTTP/1.1 %d %s\r\nDate: %s\r\n", status, status_text(status), srv->date);
  if (content_type) pv_buf_addf(&out, "Content-Type: %s\r\n", content_type);
  if (req->resp_chunked) pv_buf_addstr(&out, "Transfer-Encoding: chunked\r\n");
  pv_buf_addf(&out, "X-Request-Id: %s\r\n", req->id);
  pv_buf_add(&out, req->resp_headers.data, req->resp_headers.len);
  if (!c->keep_alive) pv_buf_addstr(&out, "Connection: close\r\n");
  pv_buf_addstr(&out, "\r\n");
  req->resp_bytes += out.len;
  conn_write(c, &out);
}

int http_respond_chunk(http_request *req, const void *data, size_t len) {
  if (!req->resp_streaming || req->responded) abort(); /* not started, or ended: a bug */
  http_conn *c = req->conn;
  if (!c || c->closing || c->lingering) return PV_EIO;
  if (len == 0 || req->is_head) return 0;
  pv_buf out = PV_BUF_INIT;
  pv_buf_grow(&out, len + 32);
  if (req->resp_chunked) pv_buf_addf(&out, "%zx\r\n", len);
  pv_buf_add(&out, data, len);
  if (req->resp_chunked) pv_buf_addstr(&out, "\r\n");
  req->resp_bytes += out.len;
  conn_write(c, &out);
  if (!req->conn || c->closing) return PV_EIO;
  if (c->tcp.write_queue_size > HTTP_WRITE_BACKLOG) {
    if (!req->on_writable) return 0; /* the whole answer is queued at once */
    req->want_writable = true;
    /* a reader that takes nothing for this long is dropped */
    conn_timer(c, req->srv->cfg.idle_timeout_ms, 0);
    return PV_EBUSY;
  }
  return 0;
}

void http_respond_end(http_request *req) {
  if (!req->resp_streaming || req->responded) abort();
  req->responded = true;
  req->want_writable = false;
  http_server *srv = req->srv;
  http_conn *c = req->conn;
  uint64_t dur_ns = pv_mono_ns() - req->start_ns;
  stats_record(srv, req, req->resp_status, (double)dur_ns / 1e9);
  if (!c || c->closing) {
    access_log(srv, req, req->resp_status, req->resp_bytes, dur_ns / 1000);
    if (c) c->req = NULL;
    request_free(req);
    return;
  }
  uv_timer_stop(&c->timer);
  pv_buf out = PV_BUF_INIT;
  if (req->resp_chunked && !req->is_head) pv_buf_addstr(&out, "0\r\n\r\n");
  req->resp_bytes += out.len;
  access_log(srv, req, req->resp_status, req->resp_bytes, dur_ns / 1000);
  if (!c->keep_alive) c->close_after_write = true;
  if (req->msg_complete || !c->keep_alive) {
    c->req = NULL;
    request_free(req);
  }
  if (out.len) {
    conn_write(c, &out);
  } else {
    pv_buf_release(&out);
    if (c->close_after_write && c->tcp.write_queue_size == 0) conn_linger(c);
  }
  if (!c->closing && !c->close_after_write && !c->req) conn_drive(c);
}

void http_respond_abort(http_request *req) {
  if (!req->resp_streaming || req->responded) abort();
  req->responded = true;
  req->want_writable = false;
  http_server *srv = req->srv;
  http_conn *c = req->conn;
  uint64_t dur_ns = pv_mono_ns() - req->start_ns;
  stats_record(srv, req, req->resp_status, (double)dur_ns / 1e9);
  access_log(srv, req, req->resp_status, req->resp_bytes, dur_ns / 1000);
  if (c && !c->closing) {
    c->keep_alive = false;
    conn_close(c); /* frees the answered request */
    return;
  }
  if (c) c->req = NULL;
  request_free(req);
}

/* ---- Connection: parser callbacks */

static void on_timer(uv_timer_t *t);

static void conn_timer(http_conn *c, uint64_t ms, uint64_t repeat) {
  uv_timer_start(&c->timer, on_timer, ms, repeat);
}

static void on_timer(uv_timer_t *t) {
  http_conn *c = t->data;
  http_request *req = c->req;
  if (c->lingering) {
    conn_close(c);
    return;
  }
  if (req && req->has_body && !req->msg_complete && !req->responded) {
    if (c->window_bytes >= c->srv->cfg.body_min_bytes) {
      c->window_bytes = 0;
      return;
    }
    request_end_stream(req, PV_ETIMEDOUT);
  }
  conn_close(c);
}

static void reject(http_request *req, int code, const char *fmt, const char *arg) {
  pv_error e = PV_ERROR_INIT;
  pv_error_set(&e, code, NULL, fmt, arg);
  http_respond_error(req, &e);
}

static void p_on_begin(void *owner) {
  http_conn *c = owner;
  conn_timer(c, c->srv->cfg.header_timeout_ms, 0);
}

static int p_on_head(void *owner) {
  http_conn *c = owner;
  http_server *srv = c->srv;
  http_request *req = request_new(c);
  c->req = req;
  c->served_one = true;
  c->keep_alive = c->keep_alive && http_parse_keep_alive(&c->parse) && !srv->stopping;
  if (req->has_body) {
    c->window_bytes = 0;
    conn_timer(c, srv->cfg.body_window_ms, srv->cfg.body_window_ms);
  } else {
    uv_timer_stop(&c->timer);
  }

  pv_buf allow = PV_BUF_INIT;
  int idx = http_router_match(srv->routes, srv->n_routes, req->method, req->path,
                              req, &allow);
  if (idx == -404) {
    reject(req, PV_ENOTFOUND, "no route for \"%s\"", req->path);
    goto out;
  }
  if (idx == -405) {
    http_response_header(req, "Allow", allow.data);
    /* 405 is a routing outcome, not one of PV_ERRNO_MAP's errors */
    pv_buf detail = PV_BUF_INIT;
    pv_buf_addf(&detail, "Allowed methods on this path: %s.", allow.data);
    http__respond_problem(req, 405, "method-not-allowed", "method not allowed",
                          detail.data, "EMETHOD", NULL, NULL);
    pv_buf_release(&detail);
    goto out;
  }
  req->route_index = idx;
  const http_route *route = &srv->routes[idx];
  if (!(route->roles & HTTP_PUBLIC)) {
    pv_error e = PV_ERROR_INIT;
    int rc;
    if (!srv->authenticate) {
      rc = pv_error_set(&e, PV_EUNAUTHORIZED, NULL, "authentication required");
    } else {
      http_roles roles = 0;
      rc = srv->authenticate(srv->authenticate_ctx, req, &roles, &e);
      if (rc == 0) req->roles = roles;
      else if (e.code == 0) pv_error_set(&e, rc, NULL, NULL);
    }
    if (rc != 0) {
      if (pv_http_status(rc) == 401) http_response_header(req, "WWW-Authenticate", "Bearer");
      http_respond_error(req, &e);
      goto out;
    }
    if (!(req->roles & route->roles)) {
      reject(req, PV_EFORBIDDEN, "%s", "your role does not allow this request");
      goto out;
    }
  }
  req->body_limit = route->body_limit ? route->body_limit : srv->cfg.body_limit_default;
  uint64_t cl = http_parse_content_length(&c->parse);
  if (cl != UINT64_MAX && cl > req->body_limit) {
    pv_error e = PV_ERROR_INIT;
    pv_error_set(&e, PV_ETOOBIG, NULL, "request body too large");
    pv_error_detail(&e, "The body may be at most %zu bytes.", req->body_limit);
    http_respond_error(req, &e);
    goto out;
  }
  if (req->has_body) {
    const char *expect = http_request_header(req, "Expect");
    if (expect && strcasecmp(expect, "100-continue") == 0) {
      pv_buf cont = PV_BUF_INIT;
      pv_buf_addstr(&cont, "HTTP/1.1 100 Continue\r\n\r\n");
      conn_write(c, &cont);
    }
  }
  if (route->streaming) {
    req->handler_called = true;
    route->handler(req);
  }
out:
  pv_buf_release(&allow);
  return c->req && !c->req->responded ? HTTP_PARSE_GO
         : c->keep_alive             ? HTTP_PARSE_GO
                                     : HTTP_PARSE_STOP;
}

/* Calls a buffered route's handler, first holding a query with
 * Pivotal-Min-Position for the position waiter (see http.h). */
static void request_run_handler(http_request *req) {
  http_server *srv = req->srv;
  const http_route *route = &srv->routes[req->route_index];
  req->handler_called = true;
  const char *h = NULL;
  if (req->method == HTTP_METHOD_GET || req->method == HTTP_METHOD_HEAD)
    h = http_request_header(req, "Pivotal-Min-Position");
  if (h) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(h, &end, 10);
    if (h[0] < '0' || h[0] > '9' || *end || errno == ERANGE) {
      pv_error e = PV_ERROR_INIT;
      pv_error_set(&e, PV_EINVAL, "/headers/pivotal-min-position",
                   "invalid Pivotal-Min-Position");
      pv_error_hint(&e, "Send the position a command answered with, a decimal number.");
      http_respond_error(req, &e);
      return;
    }
    req->min_position = v;
    if (srv->position_waiter && v > 0) {
      req->waiting_position = true;
      srv->position_waiter(srv->position_waiter_ctx, req, v, srv->cfg.position_wait_ms);
      return;
    }
  }
  route->handler(req);
}

void http_request_position_done(http_request *req, int status) {
  if (!req->waiting_position) abort(); /* not held, or ended twice: a bug */
  req->waiting_position = false;
  if (status == 0) {
    req->srv->routes[req->route_index].handler(req);
    return;
  }
  pv_error e = PV_ERROR_INIT;
  if (status == PV_ETIMEDOUT) {
    pv_error_set(&e, status, NULL, "the data is not yet at the requested position");
    pv_error_detail(&e, "The read models did not reach position %llu within %u ms.",
                    (unsigned long long)req->min_position, req->srv->cfg.position_wait_ms);
    pv_error_hint(&e, "Retry the query shortly.");
  } else {
    pv_error_set(&e, status, NULL, NULL);
  }
  http_respond_error(req, &e);
}

uint64_t http_request_min_position(const http_request *req) { return req->min_position; }

void http_server_set_position_waiter(http_server *srv, http_position_waiter_fn fn,
                                     void *ctx) {
  srv->position_waiter = fn;
  srv->position_waiter_ctx = ctx;
}

static int p_on_body(void *owner, const char *data, size_t len) {
  http_conn *c = owner;
  http_request *req = c->req;
  if (!req || req->responded) return HTTP_PARSE_STOP;
  c->window_bytes += len;
  req->body_received += len;
  if (req->body_received > req->body_limit) {
    pv_error e = PV_ERROR_INIT;
    pv_error_set(&e, PV_ETOOBIG, NULL, "request body too large");
    pv_error_detail(&e, "The body may be at most %zu bytes.", req->body_limit);
    request_end_stream(req, PV_ETOOBIG);
    if (c->req == req && !req->responded) http_respond_error(req, &e);
    return HTTP_PARSE_STOP;
  }
  if (c->srv->routes[req->route_index].streaming) {
    if (req->on_chunk) req->on_chunk(req, data, len, req->stream_ctx);
    if (c->req == req && req->paused && !req->responded) {
      uv_timer_stop(&c->timer);
      return HTTP_PARSE_STOP;
    }
    return c->req == req && !req->responded ? HTTP_PARSE_GO : HTTP_PARSE_STOP;
  }
  pv_buf_add(&req->body, data, len);
  return HTTP_PARSE_GO;
}

static void p_on_complete(void *owner) {
  http_conn *c = owner;
  http_request *req = c->req;
  uv_timer_stop(&c->timer);
  if (!req) return;
  req->msg_complete = true;
  if (req->responded) {
    c->req = NULL;
    request_free(req);
    return;
  }
  if (req->route_index < 0) return;
  const http_route *route = &c->srv->routes[req->route_index];
  if (route->streaming) {
    request_end_stream(req, 0);
  } else if (!req->handler_called) {
    request_run_handler(req);
  }
}

static const http_parse_cb parse_cb = {
    .on_begin = p_on_begin,
    .on_head = p_on_head,
    .on_body = p_on_body,
    .on_complete = p_on_complete,
};

/* ---- Connection: reading and driving */

/* The current request holds the connection: its body is paused, or it is
 * complete and waits for its answer. */
static bool conn_blocked(const http_conn *c) {
  const http_request *req = c->req;
  if (c->close_after_write || c->tcp.write_queue_size > HTTP_WRITE_BACKLOG)
    return true;
  return req && !req->responded && (req->msg_complete || req->paused);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  http_conn *c = h->data;
  (void)suggested;
  if (c->lingering) c->rlen = 0;
  *buf = uv_buf_init(c->rbuf + c->rlen, (unsigned)(HTTP_READ_BUF - c->rlen));
}

static void conn_fail(http_conn *c, int status, const char *reason) {
  /* The stream cannot be parsed further: answer (when no answer is owed
   * to an earlier request on this connection) and close. */
  c->keep_alive = false;
  if (c->req && c->req->responded) {
    /* its answer is already out; nothing more to say */
    conn_close(c);
    return;
  }
  if (c->req) {
    http_request *req = c->req;
    request_end_stream(req, PV_EINVAL);
    if (c->req != req || req->responded) return;
    if (req->handler_called) {
      conn_close(c);
      return;
    }
  } else {
    c->req = request_new(c);
  }
  int code = status == 431 ? PV_ETOOBIG : PV_EINVAL;
  pv_error e = PV_ERROR_INIT;
  pv_error_set(&e, code, NULL, status == 431 ? "request header block too large"
                                             : "malformed HTTP request");
  pv_error_detail(&e, "%s.", reason ? reason : "The request could not be parsed");
  /* 431 is not in PV_ERRNO_MAP (whose ETOOBIG is 413): its own shape */
  if (status == 431)
    http__respond_problem(c->req, 431, "headers-too-large",
                          "request header fields too large", e.detail, "EHEADERS",
                          NULL, "Send fewer or shorter headers.");
  else
    http_respond_error(c->req, &e);
}

static void conn_drive(http_conn *c) {
  if (c->in_drive || c->closing || c->lingering) return;
  c->in_drive = true;
  while (!c->closing && !conn_blocked(c) &&
         (c->roff < c->rlen || http_parse_paused(&c->parse))) {
    size_t used = 0;
    http_parse_result r =
        http_parse_feed(&c->parse, c->rbuf + c->roff, c->rlen - c->roff, &used);
    c->roff += used;
    if (r == HTTP_PARSE_ERROR) {
      conn_fail(c, c->parse.error_status, c->parse.error_reason);
      break;
    }
  }
  c->in_drive = false;
  if (c->closing || c->lingering) return;
  if (c->roff == c->rlen) c->roff = c->rlen = 0;
  bool want_read = !conn_blocked(c) && c->rlen == 0;
  if (want_read && !c->reading) {
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0) c->reading = true;
  } else if (!want_read && c->reading) {
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = false;
  }
  if (!c->req && !c->parse.in_message && !c->close_after_write) {
    if (c->srv->stopping) {
      conn_close(c);
      return;
    }
    if (!uv_is_active((uv_handle_t *)&c->timer))
      conn_timer(c, c->served_one ? c->srv->cfg.idle_timeout_ms
                                  : c->srv->cfg.header_timeout_ms, 0);
  }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  http_conn *c = s->data;
  (void)buf;
  if (nread < 0) {
    conn_close(c);
    return;
  }
  if (c->lingering) return; /* discarded */
  if (nread == 0) return;
  c->rlen += (size_t)nread;
  conn_drive(c);
}

static void on_shutdown(uv_shutdown_t *r, int status) {
  (void)r;
  (void)status;
}

/*
 * Closing after an answer while the client may still be sending (a 413 or
 * 400 in mid-body): close() with unread input makes the kernel send a RST,
 * which can destroy the answer before the client reads it. So shut the
 * write side (the client sees the end), discard what still arrives, and
 * close at EOF or after HTTP_LINGER_MS -- nginx's lingering close.
 */
static void conn_linger(http_conn *c) {
  if (c->lingering || c->closing) return;
  c->lingering = true;
  c->rlen = c->roff = 0;
  if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, on_shutdown) < 0) {
    conn_close(c);
    return;
  }
  conn_timer(c, HTTP_LINGER_MS, 0);
  if (!c->reading && uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
    c->reading = true;
}

static void on_conn_closed(uv_handle_t *h) {
  http_conn *c = h->data;
  if (--c->closes_pending > 0) return;
  http_server *srv = c->srv;
  http_parse_release(&c->parse);
  free(c->rbuf);
  free(c);
  srv->n_conns--;
  server_maybe_done(srv);
}

static void conn_close(http_conn *c) {
  if (c->closing) return;
  c->closing = true;
  http_server *srv = c->srv;
  http_request *req = c->req;
  c->req = NULL;
  if (req) {
    req->conn = NULL;
    if (req->handler_called && !req->responded) {
      /* the handler owes an answer: the request lives on as an orphan
       * that http_respond frees */
      if (req->want_writable) {
        /* a streamed answer waits for room that will never come: it hears
         * it there (and only there: the callback may free the request) */
        req->want_writable = false;
        req->on_writable(req, PV_EIO, req->writable_ctx);
      } else {
        request_end_stream(req, srv->stopping ? PV_ESHUTDOWN : PV_EIO);
      }
    } else {
      request_free(req);
    }
  }
  if (c->prev) c->prev->next = c->next;
  else srv->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  c->closes_pending = 2;
  uv_close((uv_handle_t *)&c->timer, on_conn_closed);
  uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

/* ---- Accepting */

static void on_busy_written(uv_write_t *w, int status) {
  (void)status;
  uv_close((uv_handle_t *)w->handle, (uv_close_cb)free);
  free(w);
}

/* Over the cap: accept (so the client is not left in the backlog), answer
 * 503 and close. */
static void reject_connection(http_server *srv) {
  uv_tcp_t *tcp = pv_xmalloc(sizeof *tcp);
  uv_tcp_init(srv->loop, tcp);
  if (uv_accept((uv_stream_t *)&srv->listener, (uv_stream_t *)tcp) < 0) {
    uv_close((uv_handle_t *)tcp, (uv_close_cb)free);
    return;
  }
  srv->rejected_conns++;
  uv_write_t *w = pv_xmalloc(sizeof *w);
  uv_buf_t b = uv_buf_init(srv->busy, (unsigned)srv->busy_len);
  if (uv_write(w, (uv_stream_t *)tcp, &b, 1, on_busy_written) < 0) {
    free(w);
    uv_close((uv_handle_t *)tcp, (uv_close_cb)free);
  }
}

static void on_connection(uv_stream_t *listener, int status) {
  http_server *srv = listener->data;
  if (status < 0) return;
  if (srv->n_conns >= srv->cfg.max_connections) {
    reject_connection(srv);
    return;
  }
  http_conn *c = pv_xcalloc(1, sizeof *c);
  c->srv = srv;
  uv_tcp_init(srv->loop, &c->tcp);
  uv_timer_init(srv->loop, &c->timer);
  c->tcp.data = c;
  c->timer.data = c;
  c->rbuf = pv_xmalloc(HTTP_READ_BUF);
  c->keep_alive = true;
  http_parse_init(&c->parse, &parse_cb, c, srv->cfg.max_header_bytes);
  c->next = srv->conns;
  if (srv->conns) srv->conns->prev = c;
  srv->conns = c;
  srv->n_conns++;
  if (uv_accept(listener, (uv_stream_t *)&c->tcp) < 0) {
    conn_close(c);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  conn_drive(c);
}

/* ---- Server */

static void on_stop_async(uv_async_t *a) { http_server_shutdown(a->data, NULL, NULL); }

int http_server_new(uv_loop_t *loop, const http_config *cfg,
                    const http_route *routes, size_t n_routes,
                    http_server **out, pv_error *err) {
  *out = NULL;
  if (cfg->max_header_bytes < 256 || cfg->max_connections == 0 ||
      cfg->header_timeout_ms == 0 || cfg->idle_timeout_ms == 0 ||
      cfg->body_window_ms == 0)
    return pv_error_set(err, PV_EINVAL, NULL, "invalid HTTP server limits");
  int rc = http_router_check(routes, n_routes, err);
  if (rc) return rc;
  http_server *srv = pv_xcalloc(1, sizeof *srv);
  srv->loop = loop;
  srv->cfg = *cfg;
  srv->routes = routes;
  srv->n_routes = n_routes;
  srv->stats = pv_xcalloc(n_routes + 1, sizeof *srv->stats);
  srv->busy_len = (size_t)snprintf(srv->busy, sizeof srv->busy, busy_response,
                                   sizeof BUSY_BODY - 1);
  if (getrandom(&srv->id_prefix, sizeof srv->id_prefix, 0) != sizeof srv->id_prefix)
    srv->id_prefix = (uint32_t)pv_wall_us();
  uv_async_init(loop, &srv->stop_async, on_stop_async);
  srv->stop_async.data = srv;
  uv_timer_init(loop, &srv->drain_timer);
  srv->drain_timer.data = srv;
  uv_tcp_init(loop, &srv->listener);
  srv->listener.data = srv;
  *out = srv;
  return 0;
}

void http_server_set_authenticate(http_server *srv, http_authenticate_fn fn,
                                  void *ctx) {
  srv->authenticate = fn;
  srv->authenticate_ctx = ctx;
}

void http_server_set_readiness(http_server *srv, http_readiness_fn fn, void *ctx) {
  srv->readiness = fn;
  srv->readiness_ctx = ctx;
}

void http_server_set_app(http_server *srv, void *app) { srv->app = app; }

int http_server_listen(http_server *srv, pv_error *err) {
  struct sockaddr_storage addr;
  int rc = uv_ip4_addr(srv->cfg.host, srv->cfg.port, (struct sockaddr_in *)&addr);
  if (rc < 0) rc = uv_ip6_addr(srv->cfg.host, srv->cfg.port, (struct sockaddr_in6 *)&addr);
  if (rc < 0) {
    pv_error_set(err, PV_EINVAL, "/listen", "invalid listen host \"%s\"", srv->cfg.host);
    pv_error_hint(err, "Use a numeric IPv4 or IPv6 address.");
    return PV_EINVAL;
  }
  if (srv->cfg.reuse_port) {
    /* libuv 1.44 has no flag for it: open the socket ourselves */
    int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0 ||
        uv_tcp_open(&srv->listener, fd) < 0) {
      if (fd >= 0) close(fd);
      pv_error_set(err, PV_EUNAVAILABLE, "/listen", "could not open a listening socket");
      return PV_EUNAVAILABLE;
    }
  }
  rc = uv_tcp_bind(&srv->listener, (const struct sockaddr *)&addr, 0);
  if (rc == 0) rc = uv_listen((uv_stream_t *)&srv->listener, srv->cfg.backlog, on_connection);
  if (rc < 0) {
    pv_error_set(err, PV_EUNAVAILABLE, "/listen", "could not listen on %s:%d",
                 srv->cfg.host, srv->cfg.port);
    pv_error_detail(err, "%s.", uv_strerror(rc));
    return PV_EUNAVAILABLE;
  }
  struct sockaddr_storage bound;
  int len = sizeof bound;
  uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&bound, &len);
  srv->port = bound.ss_family == AF_INET6
                  ? ntohs(((struct sockaddr_in6 *)&bound)->sin6_port)
                  : ntohs(((struct sockaddr_in *)&bound)->sin_port);
  return 0;
}

int http_server_port(const http_server *srv) { return srv->port; }
uv_loop_t *http_server_loop(const http_server *srv) { return srv->loop; }

static void on_server_handle_closed(uv_handle_t *h) {
  http_server *srv = h->data;
  if (--srv->closes_pending > 0 || !srv->finishing) return;
  if (srv->done) srv->done(srv, srv->done_ctx);
}

static void server_maybe_done(http_server *srv) {
  if (!srv->stopping || srv->finishing || srv->n_conns || srv->n_requests) return;
  srv->finishing = true;
  srv->closes_pending += 2;
  uv_close((uv_handle_t *)&srv->drain_timer, on_server_handle_closed);
  uv_close((uv_handle_t *)&srv->stop_async, on_server_handle_closed);
}

static void on_drain_timeout(uv_timer_t *t) {
  http_server *srv = t->data;
  while (srv->conns) conn_close(srv->conns);
}

void http_server_shutdown(http_server *srv,
                          void (*done)(http_server *srv, void *ctx), void *ctx) {
  if (done) {
    srv->done = done;
    srv->done_ctx = ctx;
  }
  if (srv->stopping) return;
  srv->stopping = true;
  /* Stop accepting: closing the listener closes its socket. */
  srv->closes_pending++;
  uv_close((uv_handle_t *)&srv->listener, on_server_handle_closed);
  uv_timer_start(&srv->drain_timer, on_drain_timeout, srv->cfg.shutdown_timeout_ms, 0);
  for (http_conn *c = srv->conns, *next; c; c = next) {
    next = c->next;
    c->keep_alive = false;
    if (!c->req && !c->parse.in_message && !c->close_after_write) conn_close(c);
  }
  server_maybe_done(srv);
}

void http_server_stop(http_server *srv) { uv_async_send(&srv->stop_async); }

void http_server_free(http_server *srv) {
  if (!srv) return;
  free(srv->stats);
  free(srv);
}

/* ---- Built-in handlers' access to the server */

void http_server_readiness(http_server *srv, http_readiness *r) {
  memset(r, 0, sizeof *r);
  if (srv->stopping) http_readiness_add(r, "server", false, "shutting down");
  if (srv->readiness) srv->readiness(srv->readiness_ctx, r);
}

void http_readiness_add(http_readiness *r, const char *name, bool ok,
                        const char *detail) {
  if (r->n == HTTP_READY_MAX) return;
  r->ok[r->n] = ok;
  snprintf(r->name[r->n], sizeof r->name[r->n], "%s", name);
  snprintf(r->detail[r->n], sizeof r->detail[r->n], "%s", detail ? detail : "");
  r->n++;
}

static void route_label(pv_buf *out, const http_server *srv, size_t i) {
  if (i == srv->n_routes) {
    pv_buf_addstr(out, "none");
    return;
  }
  pv_buf_addf(out, "%s ", http_method_name(srv->routes[i].method));
  http_json_escape(out, srv->routes[i].path);
}

void http_server_render_metrics(http_server *srv, pv_buf *out) {
  pv_buf_addstr(out, "# HELP pivotal_http_requests_total HTTP requests answered, by route and status.\n"
                     "# TYPE pivotal_http_requests_total counter\n");
  for (size_t i = 0; i <= srv->n_routes; i++) {
    http_route_stats *st = &srv->stats[i];
    for (size_t k = 0; k < HTTP_ROUTE_STATUSES && st->status[k]; k++) {
      pv_buf_addstr(out, "pivotal_http_requests_total{route=\"");
      route_label(out, srv, i);
      pv_buf_addf(out, "\",status=\"%d\"} %" PRIu64 "\n", st->status[k], st->count[k]);
    }
    if (st->other) {
      pv_buf_addstr(out, "pivotal_http_requests_total{route=\"");
      route_label(out, srv, i);
      pv_buf_addf(out, "\",status=\"other\"} %" PRIu64 "\n", st->other);
    }
  }
  pv_buf_addstr(out, "# HELP pivotal_http_request_duration_seconds Time from the end of the request headers to the answer, by route.\n"
                     "# TYPE pivotal_http_request_duration_seconds histogram\n");
  for (size_t i = 0; i <= srv->n_routes; i++) {
    http_route_stats *st = &srv->stats[i];
    if (!st->latency_count) continue;
    uint64_t cumulative = 0;
    for (size_t b = 0; b <= http_latency_bounds_count; b++) {
      cumulative += st->latency_buckets[b];
      pv_buf_addstr(out, "pivotal_http_request_duration_seconds_bucket{route=\"");
      route_label(out, srv, i);
      if (b < http_latency_bounds_count)
        pv_buf_addf(out, "\",le=\"%g\"} %" PRIu64 "\n", http_latency_bounds[b], cumulative);
      else
        pv_buf_addf(out, "\",le=\"+Inf\"} %" PRIu64 "\n", cumulative);
    }
    pv_buf_addstr(out, "pivotal_http_request_duration_seconds_sum{route=\"");
    route_label(out, srv, i);
    pv_buf_addf(out, "\"} %.9f\n", st->latency_sum);
    pv_buf_addstr(out, "pivotal_http_request_duration_seconds_count{route=\"");
    route_label(out, srv, i);
    pv_buf_addf(out, "\"} %" PRIu64 "\n", st->latency_count);
  }
  pv_buf_addf(out, "# HELP pivotal_http_connections Open HTTP connections.\n"
                   "# TYPE pivotal_http_connections gauge\n"
                   "pivotal_http_connections %zu\n"
                   "# HELP pivotal_http_connections_rejected_total Connections refused with 503 over the cap.\n"
                   "# TYPE pivotal_http_connections_rejected_total counter\n"
                   "pivotal_http_connections_rejected_total %" PRIu64 "\n",
              srv->n_conns, srv->rejected_conns);
  http_metrics_render(out);
}

/* ---- Request accessors */

int http_request_method(const http_request *req) { return req->method; }
const char *http_request_path(const http_request *req) { return req->path; }
const char *http_request_query(const http_request *req) { return req->query; }
const char *http_request_id(const http_request *req) { return req->id; }
const http_route *http_request_route(const http_request *req) {
  return req->route_index >= 0 ? &req->srv->routes[req->route_index] : NULL;
}
void *http_request_app(const http_request *req) { return req->srv->app; }
uv_loop_t *http_request_loop(const http_request *req) { return req->srv->loop; }
http_roles http_request_roles(const http_request *req) { return req->roles; }
void *http_request_principal(const http_request *req) { return req->principal; }

void http_request_set_principal(http_request *req, void *principal,
                                void (*free_fn)(void *)) {
  if (req->principal_free) req->principal_free(req->principal);
  req->principal = principal;
  req->principal_free = free_fn;
}

const char *http_request_header(const http_request *req, const char *name) {
  for (size_t i = 0; i < req->n_headers; i++)
    if (strcasecmp(req->headers[i].name, name) == 0) return req->headers[i].value;
  return NULL;
}

int http_request_peer(const http_request *req, char *out, size_t cap) {
  if (!req->conn) return -1;
  struct sockaddr_storage ss;
  int len = sizeof ss;
  if (uv_tcp_getpeername(&req->conn->tcp, (struct sockaddr *)&ss, &len) != 0) return -1;
  int rc = ss.ss_family == AF_INET6
               ? uv_ip6_name((const struct sockaddr_in6 *)&ss, out, cap)
               : uv_ip4_name((const struct sockaddr_in *)&ss, out, cap);
  return rc == 0 ? 0 : -1;
}

const char *http_request_param(const http_request *req, const char *name) {
  size_t n = strlen(name);
  for (size_t i = 0; i < req->n_params; i++)
    if (req->param_name_len[i] == n && memcmp(req->param_name[i], name, n) == 0)
      return req->param_values.data + req->param_off[i];
  return NULL;
}

const char *http_request_body(const http_request *req, size_t *len) {
  if (len) *len = req->body.len;
  return req->body.data;
}

void http_request_stream(http_request *req, http_chunk_fn on_chunk,
                         http_end_fn on_end, void *ctx) {
  req->on_chunk = on_chunk;
  req->on_end = on_end;
  req->stream_ctx = ctx;
}

void http_request_pause(http_request *req) { req->paused = true; }

void http_request_resume(http_request *req) {
  if (!req->paused) return;
  req->paused = false;
  http_conn *c = req->conn;
  if (!c || c->closing || req->responded) return;
  if (!req->msg_complete) {
    c->window_bytes = 0;
    conn_timer(c, c->srv->cfg.body_window_ms, c->srv->cfg.body_window_ms);
  }
  conn_drive(c);
}
