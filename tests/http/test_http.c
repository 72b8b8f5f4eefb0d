/*
 * End-to-end tests of the HTTP server over real loopback sockets: framing
 * (keep-alive, pipelining, chunked, streaming), limits and smuggling
 * shapes, timeouts, routing and roles, problem+json, request ids, the
 * access log, /metrics, /readyz, the connection cap and graceful shutdown.
 * The server runs on its own thread and loop, as in `pivotal serve`.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "adapters/http/http.h"
#include "adapters/http/http_metrics.h"
#include "tests/harness/test.h"
#include "tests/http/http_test_util.h"

/* ---- Handlers of the test table (run on the server's thread) */

static void h_echo(http_request *req) {
  size_t len;
  const char *body = http_request_body(req, &len);
  http_respond(req, 200, "application/octet-stream", body, len);
}

static void h_json(http_request *req) {
  pv_error err = PV_ERROR_INIT;
  cJSON *doc = NULL;
  const char *name = NULL;
  int64_t age = 0;
  if (http_request_json(req, &doc, &err) ||
      http_json_string(doc, "name", true, &name, &err) ||
      http_json_int64(doc, "age", false, &age, &err)) {
    cJSON_Delete(doc);
    http_respond_error(req, &err);
    return;
  }
  cJSON *out = cJSON_CreateObject();
  cJSON_AddStringToObject(out, "name", name);
  cJSON_AddNumberToObject(out, "age", (double)age);
  cJSON_Delete(doc);
  http_respond_json(req, 201, out);
}

static void h_contact(http_request *req) {
  cJSON *out = cJSON_CreateObject();
  cJSON_AddStringToObject(out, "id", http_request_param(req, "id"));
  cJSON_AddStringToObject(out, "query", http_request_query(req));
  http_respond_json(req, 200, out);
}

static atomic_int slow_started;

static void slow_fire(uv_timer_t *t) {
  http_request *req = t->data;
  http_respond(req, 200, "text/plain", "slow", 4);
  uv_close((uv_handle_t *)t, (uv_close_cb)free);
}

/* Answers 300 ms later from the loop: an asynchronous handler. */
static void h_slow(http_request *req) {
  uv_timer_t *t = malloc(sizeof *t);
  uv_timer_init(http_request_loop(req), t);
  t->data = req;
  atomic_store(&slow_started, 1);
  uv_timer_start(t, slow_fire, 300, 0);
}

typedef struct upload {
  uint64_t bytes;
  uint64_t sum;
  uv_idle_t resume;   /* resumes a paused body on the next loop turn */
  http_request *req;
  unsigned chunks;
} upload;

static void upload_resume(uv_idle_t *i) {
  upload *u = i->data;
  uv_idle_stop(i);
  http_request_resume(u->req);
}

static void upload_chunk(http_request *req, const char *data, size_t len, void *ctx) {
  upload *u = ctx;
  for (size_t i = 0; i < len; i++) u->sum += (unsigned char)data[i];
  u->bytes += len;
  /* Pause on every 16th chunk and resume on a later loop turn: the
   * backpressure path. */
  if (++u->chunks % 16 == 0) {
    http_request_pause(req);
    uv_idle_start(&u->resume, upload_resume);
  }
}

/* Pauses on every chunk: a body whose last bytes arrive paused. */
static void upload_chunk_pause_each(http_request *req, const char *data, size_t len,
                                    void *ctx) {
  upload *u = ctx;
  u->chunks = 15;
  upload_chunk(req, data, len, ctx);
}

static void upload_free(uv_handle_t *h) { free(h->data); }

static void upload_end(http_request *req, int status, void *ctx) {
  upload *u = ctx;
  uv_idle_stop(&u->resume);
  uv_close((uv_handle_t *)&u->resume, upload_free);
  if (status != 0) {
    pv_error e = PV_ERROR_INIT;
    pv_error_set(&e, status, NULL, NULL);
    http_respond_error(req, &e);
    return;
  }
  cJSON *out = cJSON_CreateObject();
  cJSON_AddNumberToObject(out, "bytes", (double)u->bytes);
  cJSON_AddNumberToObject(out, "sum", (double)u->sum);
  http_respond_json(req, 200, out);
}

static void upload_start(http_request *req, http_chunk_fn on_chunk) {
  upload *u = calloc(1, sizeof *u);
  u->req = req;
  uv_idle_init(http_request_loop(req), &u->resume);
  u->resume.data = u;
  http_request_stream(req, on_chunk, upload_end, u);
}

static void h_upload(http_request *req) { upload_start(req, upload_chunk); }

static void h_upload_pause_each(http_request *req) { upload_start(req, upload_chunk_pause_each); }

static void h_private(http_request *req) {
  http_respond(req, 200, "text/plain", "secret", 6);
}

static int auth_hook(void *ctx, http_request *req, http_roles *roles, pv_error *err) {
  (void)ctx;
  const char *a = http_request_header(req, "Authorization");
  if (a && strcmp(a, "Bearer admin") == 0) *roles = HTTP_ROLE_ADMIN;
  else if (a && strcmp(a, "Bearer agent") == 0) *roles = HTTP_ROLE_AGENT;
  else return pv_error_set(err, PV_EUNAUTHORIZED, NULL, "missing or invalid token");
  return 0;
}

static const http_route routes[] = {
    {HTTP_METHOD_GET, "/healthz", http_handle_healthz, HTTP_PUBLIC, 0, false, true},
    {HTTP_METHOD_GET, "/readyz", http_handle_readyz, HTTP_PUBLIC, 0, false, true},
    {HTTP_METHOD_GET, "/metrics", http_handle_metrics, HTTP_PUBLIC, 0, false, true},
    {HTTP_METHOD_POST, "/echo", h_echo, HTTP_PUBLIC, 0, false, false},
    {HTTP_METHOD_PUT, "/echo", h_echo, HTTP_PUBLIC, 0, false, true},
    {HTTP_METHOD_POST, "/json", h_json, HTTP_PUBLIC, 0, false, false},
    {HTTP_METHOD_GET, "/contacts/:id", h_contact, HTTP_PUBLIC, 0, false, true},
    {HTTP_METHOD_GET, "/slow", h_slow, HTTP_PUBLIC, 0, false, true},
    {HTTP_METHOD_POST, "/upload", h_upload, HTTP_PUBLIC, 64u << 20, true, false},
    {HTTP_METHOD_GET, "/private", h_private, HTTP_ROLE_ADMIN, 0, false, true},
    {HTTP_METHOD_POST, "/upload-small", h_upload, HTTP_PUBLIC, 100000, true, false},
    {HTTP_METHOD_POST, "/upload-pause-each", h_upload_pause_each, HTTP_PUBLIC, 100000, true,
     false},
};
#define N_ROUTES (sizeof routes / sizeof routes[0])

static test_server ts;

static void start(const http_config *cfg_in) {
  http_config cfg;
  if (cfg_in) cfg = *cfg_in;
  else test_config(&cfg);
  test_server_start(&ts, &cfg, routes, N_ROUTES, auth_hook, NULL);
}

static bool contains(const pv_buf *b, const char *needle) {
  return strstr(b->data, needle) != NULL;
}

#define GET(path) "GET " path " HTTP/1.1\r\nHost: t\r\n\r\n"

/* ---- Framing */

static void test_keep_alive(void) {
  start(NULL);
  test_client c;
  test_connect(&c, ts.port);
  for (int i = 0; i < 5; i++) {
    test_response r;
    test_sends(&c, GET("/healthz"));
    ASSERT_OK(test_read_response(&c, &r));
    ASSERT_EQ(r.status, 200);
    ASSERT(contains(&r.body, "alive"));
    ASSERT(!contains(&r.head, "connection: close"));
    test_response_release(&r);
  }
  test_close(&c);
  test_server_stop(&ts);
}

static void test_pipelined_in_order(void) {
  start(NULL);
  test_client c;
  test_connect(&c, ts.port);
  /* An asynchronous answer first, then two more in the same write: the
   * answers must come back in request order, and /echo must get its own
   * body only. */
  test_sends(&c, GET("/slow") GET("/contacts/7")
                 "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc"
                 GET("/contacts/8"));
  test_response r;
  ASSERT_OK(test_read_response(&c, &r));
  ASSERT_EQ(r.status, 200);
  ASSERT_STR_EQ(r.body.data, "slow");
  test_response_release(&r);
  ASSERT_OK(test_read_response(&c, &r));
  ASSERT(contains(&r.body, "\"id\":\"7\""));
  test_response_release(&r);
  ASSERT_OK(test_read_response(&c, &r));
  ASSERT_STR_EQ(r.body.data, "abc");
  test_response_release(&r);
  ASSERT_OK(test_read_response(&c, &r));
  ASSERT(contains(&r.body, "\"id\":\"8\""));
  test_response_release(&r);
  test_close(&c);
  test_server_stop(&ts);
}

static void test_chunked_body(void) {
  start(NULL);
  test_client c;
  test_connect(&c, ts.port);
  test_sends(&c, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "5\r\nhello\r\n");
  test_sends(&c, "6\r\n world\r\n0\r\n\r\n");
  test_response r;
  ASSERT_OK(test_read_response(&c, &r));
  ASSERT_EQ(r.status, 200);
  ASSERT_STR_EQ(r.body.data, "hello world");
  test_response_release(&r);
  /* the connection stays usable */
  test_sends(&c, GET("/healthz"));
  ASSERT_OK(test_read_response(&c, &r));
  ASSERT_EQ(r.status, 200);
  test_response_release(&r);
  test_close(&c);
  test_server_stop(&ts);
}

static long max_rss_kib(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

static void test_streaming_upload_50mib(void) {
  start(NULL);
  const size_t total = 50u << 20, piece = 64u << 10;
  char *buf = malloc(piece);
  uint64_t sum = 0;
  for (size_t i = 0; i < piece; i++) buf[i] = (char)(i * 31 + 7);
  for (size_t i = 0; i < piece; i++) sum += (unsigned char)buf[i];
  sum *= total / piece;
  long rss_before = max_rss_kib();
  test_client c;
  test_connect(&c, ts.port);
  char head[128];
  snprintf(head, sizeof head,
           "POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n\r\n", total);
  test_sends(&c, head);
  for (size_t sent = 0; sent < total; sent += piece) test_send(&c, buf, piece);
  test_response r;
  ASSERT_OK(test_read_response(&c, &r));
  ASSERT_EQ(r.status, 200);
  char want[96];
  snprintf(want, sizeof want, "{\"bytes\":%zu,\"sum\":%llu}", total, (unsigned long long)sum);
  ASSERT_STR_EQ(r.body.data, want);
  /* The 50 MiB never sat in memory: the peak grew by well under its size
   * (the server reads through one 64 KiB buffer). */
  ASSERT_LE(max_rss_kib() - rss_before, 8 * 1024);
  test_response_release(&r);
  test_close(&c);
  free(buf);
  test_server_stop(&ts);
}

/* The handler pauses on the body's last bytes, which end the read buffer:
 * after the resume the message is still completed and answered (it once
 * waited for bytes that never came). */
static void test_body_paused_at_its_end(void) {
  start(NULL);
  for (int i = 0; i < 3; i++) {
    test_response r;
    ASSERT_EQ(test_request(ts.port,
                           "POST /upload-pause-each HTTP/1.1\r\nHost: t\r\n"
                           "Content-Length: 5\r\n\r\nhello", &r), 200);
    ASSERT_STR_EQ(r.body.data, "{\"bytes\":5,\"sum\":532}");
    test_response_release(&r);
  }
  test_server_stop(&ts);
}

static void test_half_close_still_answered(void) {
  start(NULL);
  test_client c;
  test_connect(&c, ts.port);
  test_sends(&c, GET("/slow"));
  shutdown(c.fd, SHUT_WR);
  test_response r;
  ASSERT_OK(test_read_response(&c, &r));
  ASSERT_EQ(r.status, 200);
  ASSERT_STR_EQ(r.body.data, "slow");
  /* (no more reading while a request waits for its answer, so the EOF is
   * seen, and the connection closed, after the answer) */
  ASSERT(test_wait_closed(&c));
  test_response_release(&r);
  test_close(&c);
  test_server_stop(&ts);
}

static void test_http10_closes(void) {
  start(NULL);
  test_client c;
  test_connect(&c, ts.port);
  test_sends(&c, "GET /healthz HTTP/1.0\r\n\r\n");
  test_response r;
  ASSERT_OK(test_read_response(&c, &r));
  ASSERT_EQ(r.status, 200);
  ASSERT(test_wait_closed(&c));
  test_response_release(&r);
  test_close(&c);
  test_server_stop(&ts);
}

/* ---- Limits and smuggling shapes */

static void expect_status_then_close(const char *raw, int status) {
  test_client c;
  test_connect(&c, ts.port);
  test_sends(&c, raw);
  test_response r;
  ASSERT_OK(test_read_response(&c, &r));
  ASSERT_EQ(r.status, status);
  char ct[64];
  ASSERT_STR_EQ(test_header(&r, "content-type", ct, sizeof ct), "application/problem+json");
  ASSERT(contains(&r.head, "connection: close"));
  ASSERT(test_wait_closed(&c));
  test_response_release(&r);
  test_close(&c);
}

static void test_oversized_headers_431(void) {
  start(NULL);
  pv_buf raw = PV_BUF_INIT;
  pv_buf_addstr(&raw, "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: ");
  for (int i = 0; i < 20000; i++) pv_buf_addch(&raw, 'a');
  pv_buf_addstr(&raw, "\r\n\r\n");
  expect_status_then_close(raw.data, 431);
  pv_buf_release(&raw);
  /* many headers */
  pv_buf_addstr(&raw, "GET /healthz HTTP/1.1\r\n");
  for (int i = 0; i < 150; i++) pv_buf_addf(&raw, "X-H%d: v\r\n", i);
  pv_buf_addstr(&raw, "\r\n");
  expect_status_then_close(raw.data, 431);
  pv_buf_release(&raw);
  /* padding llhttp skips without reporting it still counts */
  pv_buf_addstr(&raw, "GET /healthz HTTP/1.1\r\nX-Pad:");
  for (int i = 0; i < 20000; i++) pv_buf_addch(&raw, ' ');
  pv_buf_addstr(&raw, "v\r\n\r\n");
  expect_status_then_close(raw.data, 431);
  pv_buf_release(&raw);
  /* just under the limit is fine */
  pv_buf_addstr(&raw, "GET /healthz HTTP/1.1\r\nX-Big: ");
  for (int i = 0; i < 15000; i++) pv_buf_addch(&raw, 'b');
  pv_buf_addstr(&raw, "\r\n\r\n");
  test_response r;
  ASSERT_EQ(test_request(ts.port, raw.data, &r), 200);
  test_response_release(&r);
  pv_buf_release(&raw);
  test_server_stop(&ts);
}

static void test_oversized_body_413(void) {
  start(NULL);
  /* declared too large: refused before the body is read */
  expect_status_then_close(
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2000000\r\n\r\nabc", 413);
  /* chunked: refused when it crosses the limit */
  test_client c;
  test_connect(&c, ts.port);
  test_sends(&c, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
  char *chunk = malloc(70000);
  memset(chunk, 'x', 70000);
  char size_line[32];
  snprintf(size_line, sizeof size_line, "%x\r\n", 65536);
  int status = 0;
  for (int i = 0; i < 20 && status == 0; i++) {
    test_sends(&c, size_line);
    test_send(&c, chunk, 65536);
    test_sends(&c, "\r\n");
  }
  test_response r;
  ASSERT_OK(test_read_response(&c, &r));
  ASSERT_EQ(r.status, 413);
  ASSERT(contains(&r.body, "\"code\":\"ETOOBIG\""));
  test_response_release(&r);
  free(chunk);
  test_close(&c);
  test_server_stop(&ts);
}

static void test_cl_with_te_400(void) {
  start(NULL);
  expect_status_then_close(
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
      "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /healthz HTTP/1.1\r\n\r\n", 400);
  test_server_stop(&ts);
}

static void test_two_content_lengths_400(void) {
  start(NULL);
  expect_status_then_close(
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
      "Content-Length: 5\r\n\r\nabcde", 400);
  test_server_stop(&ts);
}

static void test_bad_chunk_size_400(void) {
  start(NULL);
  expect_status_then_close(
      "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
      "zz\r\nhello\r\n0\r\n\r\n", 400);
  test_server_stop(&ts);
}

/* ---- Timeouts (test_config_short_timeouts: 300 ms) */

static void test_slow_headers_closed(void) {
  http_config cfg;
  test_config_short_timeouts(&cfg);
  start(&cfg);
  test_client c;
  test_connect(&c, ts.port);
  test_sends(&c, "GET /healthz HTTP/1.1\r\nHost: t\r\n");
  ASSERT(test_wait_closed(&c));
  test_close(&c);
  test_server_stop(&ts);
}

static void test_idle_keep_alive_closed(void) {
  http_config cfg;
  test_config_short_timeouts(&cfg);
  start(&cfg);
  test_client c;
  test_connect(&c, ts.port);
  test_sends(&c, GET("/healthz"));
  test_response r;
  ASSERT_OK(test_read_response(&c, &r));
  test_response_release(&r);
  ASSERT(test_wait_closed(&c));
  test_close(&c);
  test_server_stop(&ts);
}

static void test_stalled_body_closed(void) {
  http_config cfg;
  test_config_short_timeouts(&cfg);
  cfg.body_min_bytes = 1000;
  start(&cfg);
  test_client c;
  test_connect(&c, ts.port);
  test_sends(&c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\nab");
  ASSERT(test_wait_closed(&c));
  test_close(&c);
  test_server_stop(&ts);
}

/* ---- JSON, content type, routing, roles */

static void test_malformed_json_400(void) {
  start(NULL);
  test_response r;
  ASSERT_EQ(test_request(ts.port,
                         "POST /json HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                         "Content-Length: 9\r\n\r\n{\"name\":}", &r), 400);
  char ct[64];
  ASSERT_STR_EQ(test_header(&r, "content-type", ct, sizeof ct), "application/problem+json");
  cJSON *p = cJSON_Parse(r.body.data);
  ASSERT(p);
  ASSERT_STR_EQ(cJSON_GetObjectItem(p, "code")->valuestring, "EINVAL");
  ASSERT_EQ(cJSON_GetObjectItem(p, "status")->valueint, 400);
  ASSERT(strstr(cJSON_GetObjectItem(p, "detail")->valuestring, "byte 8"));
  ASSERT(strstr(cJSON_GetObjectItem(p, "instance")->valuestring, "urn:pivotal:request:"));
  cJSON_Delete(p);
  test_response_release(&r);

  /* a well-formed body with a wrong field names it as a JSON pointer */
  ASSERT_EQ(test_request(ts.port,
                         "POST /json HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                         "Content-Length: 10\r\n\r\n{\"name\":5}", &r), 400);
  p = cJSON_Parse(r.body.data);
  ASSERT_STR_EQ(cJSON_GetObjectItem(p, "field")->valuestring, "/name");
  ASSERT_STR_EQ(cJSON_GetObjectItem(p, "code")->valuestring, "EBADTYPE");
  cJSON_Delete(p);
  test_response_release(&r);

  ASSERT_EQ(test_request(ts.port,
                         "POST /json HTTP/1.1\r\nHost: t\r\nContent-Type: application/json; charset=utf-8\r\n"
                         "Content-Length: 23\r\n\r\n{\"name\":\"Ann\",\"age\":41}", &r), 201);
  ASSERT_STR_EQ(r.body.data, "{\"name\":\"Ann\",\"age\":41}");
  test_response_release(&r);
  test_server_stop(&ts);
}

static void test_wrong_content_type_415(void) {
  start(NULL);
  test_response r;
  ASSERT_EQ(test_request(ts.port,
                         "POST /json HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\n"
                         "Content-Length: 2\r\n\r\n{}", &r), 415);
  ASSERT(contains(&r.body, "\"code\":\"EUNSUPPORTED\""));
  test_response_release(&r);
  test_server_stop(&ts);
}

static void test_404_405(void) {
  start(NULL);
  test_response r;
  ASSERT_EQ(test_request(ts.port, GET("/nowhere"), &r), 404);
  ASSERT(contains(&r.body, "\"code\":\"ENOTFOUND\""));
  test_response_release(&r);
  ASSERT_EQ(test_request(ts.port, "DELETE /echo HTTP/1.1\r\nHost: t\r\n\r\n", &r), 405);
  char allow[64];
  ASSERT_STR_EQ(test_header(&r, "allow", allow, sizeof allow), "POST, PUT");
  test_response_release(&r);
  /* a parameter matches one non-empty segment only */
  ASSERT_EQ(test_request(ts.port, GET("/contacts/"), &r), 404);
  test_response_release(&r);
  ASSERT_EQ(test_request(ts.port, GET("/contacts/1/x"), &r), 404);
  test_response_release(&r);
  ASSERT_EQ(test_request(ts.port, GET("/contacts/abc?x=1"), &r), 200);
  ASSERT_STR_EQ(r.body.data, "{\"id\":\"abc\",\"query\":\"x=1\"}");
  test_response_release(&r);
  test_server_stop(&ts);
}

static void test_roles(void) {
  start(NULL);
  test_response r;
  ASSERT_EQ(test_request(ts.port, GET("/private"), &r), 401);
  ASSERT(contains(&r.head, "www-authenticate: Bearer"));
  test_response_release(&r);
  ASSERT_EQ(test_request(ts.port,
                         "GET /private HTTP/1.1\r\nAuthorization: Bearer agent\r\n\r\n", &r), 403);
  ASSERT(contains(&r.body, "\"code\":\"EFORBIDDEN\""));
  test_response_release(&r);
  ASSERT_EQ(test_request(ts.port,
                         "GET /private HTTP/1.1\r\nAuthorization: Bearer admin\r\n\r\n", &r), 200);
  test_response_release(&r);
  test_server_stop(&ts);
}

/* ---- Request ids, access log, metrics, readiness */

static void test_request_id(void) {
  char path[512];
  snprintf(path, sizeof path, "%s/access.log", test_tmpdir());
  http_config cfg;
  test_config(&cfg);
  cfg.access_log = fopen(path, "w+");
  start(&cfg);
  test_response r;
  char id[80];
  ASSERT_EQ(test_request(ts.port, "GET /healthz HTTP/1.1\r\nX-Request-Id: abc.DEF_1-2\r\n\r\n", &r), 200);
  ASSERT_STR_EQ(test_header(&r, "x-request-id", id, sizeof id), "abc.DEF_1-2");
  test_response_release(&r);
  ASSERT_EQ(test_request(ts.port, "GET /healthz HTTP/1.1\r\nX-Request-Id: bad id!\r\n\r\n", &r), 200);
  ASSERT(test_header(&r, "x-request-id", id, sizeof id));
  ASSERT(strcmp(id, "bad id!") != 0 && strlen(id) > 8);
  test_response_release(&r);
  test_server_stop(&ts);
  /* one JSON line per request, with the fields of the brief */
  rewind(cfg.access_log);
  char line[1024];
  ASSERT(fgets(line, sizeof line, cfg.access_log));
  cJSON *j = cJSON_Parse(line);
  ASSERT(j);
  ASSERT_STR_EQ(cJSON_GetObjectItem(j, "id")->valuestring, "abc.DEF_1-2");
  ASSERT_STR_EQ(cJSON_GetObjectItem(j, "method")->valuestring, "GET");
  ASSERT_STR_EQ(cJSON_GetObjectItem(j, "path")->valuestring, "/healthz");
  ASSERT_STR_EQ(cJSON_GetObjectItem(j, "route")->valuestring, "GET /healthz");
  ASSERT_EQ(cJSON_GetObjectItem(j, "status")->valueint, 200);
  ASSERT(cJSON_GetObjectItem(j, "bytes")->valueint > 0);
  ASSERT(cJSON_IsNumber(cJSON_GetObjectItem(j, "duration_us")));
  ASSERT(cJSON_IsString(cJSON_GetObjectItem(j, "time")));
  cJSON_Delete(j);
  ASSERT(fgets(line, sizeof line, cfg.access_log));
  ASSERT(!fgets(line, sizeof line, cfg.access_log));
  fclose(cfg.access_log);
}

static void test_metrics(void) {
  static const double bounds[] = {1, 10, 100};
  http_metric *batches = http_metric_counter("pivotal_test_batches_total", "Test batches.");
  http_metric *lag = http_metric_gauge("pivotal_test_lag", "Test lag.");
  http_metric *sizes = http_metric_histogram("pivotal_test_batch_size", "Test sizes.", bounds, 3);
  ASSERT(batches && lag && sizes);
  ASSERT(http_metric_counter("pivotal_test_batches_total", "again") == batches);
  ASSERT(http_metric_gauge("pivotal_test_batches_total", "other kind") == NULL);
  ASSERT(http_metric_counter("bad name", "x") == NULL);
  http_metric_add(batches, 3);
  http_metric_set(lag, 2.5);
  http_metric_observe(sizes, 5);
  http_metric_observe(sizes, 500);
  start(NULL);
  test_response r;
  for (int i = 0; i < 2; i++) {
    ASSERT_EQ(test_request(ts.port, GET("/healthz"), &r), 200);
    test_response_release(&r);
  }
  ASSERT_EQ(test_request(ts.port, GET("/nowhere"), &r), 404);
  test_response_release(&r);
  ASSERT_EQ(test_request(ts.port, GET("/metrics"), &r), 200);
  char ct[64];
  ASSERT_STR_EQ(test_header(&r, "content-type", ct, sizeof ct),
                "text/plain; version=0.0.4; charset=utf-8");
  ASSERT(contains(&r.body, "# TYPE pivotal_http_requests_total counter\n"));
  ASSERT(contains(&r.body, "pivotal_http_requests_total{route=\"GET /healthz\",status=\"200\"} 2\n"));
  ASSERT(contains(&r.body, "pivotal_http_requests_total{route=\"none\",status=\"404\"} 1\n"));
  ASSERT(contains(&r.body, "pivotal_http_request_duration_seconds_bucket{route=\"GET /healthz\",le=\"+Inf\"} 2\n"));
  ASSERT(contains(&r.body, "pivotal_http_request_duration_seconds_count{route=\"GET /healthz\"} 2\n"));
  ASSERT(contains(&r.body, "pivotal_test_batches_total 3\n"));
  ASSERT(contains(&r.body, "pivotal_test_lag 2.5\n"));
  ASSERT(contains(&r.body, "pivotal_test_batch_size_bucket{le=\"10\"} 1\n"));
  ASSERT(contains(&r.body, "pivotal_test_batch_size_bucket{le=\"+Inf\"} 2\n"));
  ASSERT(contains(&r.body, "pivotal_test_batch_size_sum 505\n"));
  test_response_release(&r);
  test_server_stop(&ts);
}

static void ready_hook(void *ctx, http_readiness *r) {
  (void)ctx;
  http_readiness_add(r, "log", true, NULL);
  http_readiness_add(r, "postgresql", false, "connection refused");
}

static void test_readyz(void) {
  start(NULL);
  test_response r;
  ASSERT_EQ(test_request(ts.port, GET("/readyz"), &r), 200);
  test_response_release(&r);
  test_server_stop(&ts);
  /* with a failing check */
  http_config cfg;
  test_config(&cfg);
  test_server_start(&ts, &cfg, routes, N_ROUTES, NULL, ready_hook);
  ASSERT_EQ(test_request(ts.port, GET("/readyz"), &r), 503);
  ASSERT(contains(&r.body, "{\"name\":\"postgresql\",\"ok\":false,\"detail\":\"connection refused\"}"));
  ASSERT(contains(&r.body, "\"status\":\"not ready\""));
  test_response_release(&r);
  test_server_stop(&ts);
}

/* ---- Connection cap and shutdown */

static void test_connection_cap_503(void) {
  http_config cfg;
  test_config(&cfg);
  cfg.max_connections = 2;
  start(&cfg);
  test_client a, b, c;
  test_connect(&a, ts.port);
  test_connect(&b, ts.port);
  /* make sure both are accepted before the third */
  test_response r;
  test_sends(&a, GET("/healthz"));
  ASSERT_OK(test_read_response(&a, &r));
  test_response_release(&r);
  test_sends(&b, GET("/healthz"));
  ASSERT_OK(test_read_response(&b, &r));
  test_response_release(&r);
  test_connect(&c, ts.port);
  ASSERT_OK(test_read_response(&c, &r));
  ASSERT_EQ(r.status, 503);
  ASSERT(test_wait_closed(&c));
  test_response_release(&r);
  test_close(&a);
  test_close(&b);
  test_close(&c);
  test_server_stop(&ts);
}

static void test_graceful_shutdown(void) {
  http_config cfg;
  test_config(&cfg);
  start(&cfg);
  test_client busy, idle;
  test_connect(&idle, ts.port);
  test_response r;
  test_sends(&idle, GET("/healthz"));
  ASSERT_OK(test_read_response(&idle, &r));
  test_response_release(&r);
  test_connect(&busy, ts.port);
  atomic_store(&slow_started, 0);
  test_sends(&busy, GET("/slow"));
  while (!atomic_load(&slow_started)) usleep(1000);
  http_server_stop(ts.srv);
  /* the idle keep-alive connection is closed */
  ASSERT(test_wait_closed(&idle));
  /* the in-flight request is finished, with Connection: close */
  ASSERT_OK(test_read_response(&busy, &r));
  ASSERT_EQ(r.status, 200);
  ASSERT_STR_EQ(r.body.data, "slow");
  ASSERT(contains(&r.head, "connection: close"));
  ASSERT(test_wait_closed(&busy));
  test_response_release(&r);
  test_close(&busy);
  test_close(&idle);
  /* no longer accepting */
  test_client late;
  ASSERT(test_try_connect(&late, ts.port) < 0);
  /* the loop ends on its own: every handle closed */
  test_server_stop(&ts);
}

static void test_streaming_limit_and_abort(void) {
  start(NULL);
  /* a chunked upload crossing the route's limit (100000 bytes) gets 413 */
  test_client c;
  test_connect(&c, ts.port);
  test_sends(&c, "POST /upload-small HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
  char chunk[40000];
  memset(chunk, 'y', sizeof chunk);
  for (int i = 0; i < 3; i++) {
    test_sends(&c, "9c40\r\n");
    test_send(&c, chunk, sizeof chunk);
    test_sends(&c, "\r\n");
  }
  test_response r;
  ASSERT_OK(test_read_response(&c, &r));
  ASSERT_EQ(r.status, 413);
  ASSERT(test_wait_closed(&c));
  test_response_release(&r);
  test_close(&c);
  /* a client that goes away mid-upload: the handler hears PV_EIO and its
   * late answer frees the request (ASan checks nothing leaks) */
  test_connect(&c, ts.port);
  test_sends(&c, "POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n");
  test_send(&c, chunk, sizeof chunk);
  test_close(&c);
  /* a handler answering after its client left (an orphan) */
  test_connect(&c, ts.port);
  atomic_store(&slow_started, 0);
  test_sends(&c, GET("/slow"));
  while (!atomic_load(&slow_started)) usleep(1000);
  test_close(&c);
  /* shutdown waits for the orphan's answer, then the loop ends cleanly */
  test_server_stop(&ts);
}

static void test_reuse_port_two_loops(void) {
  http_config cfg;
  test_config(&cfg);
  cfg.reuse_port = true;
  test_server a, b;
  test_server_start(&a, &cfg, routes, N_ROUTES, NULL, NULL);
  cfg.port = a.port;
  test_server_start(&b, &cfg, routes, N_ROUTES, NULL, NULL);
  ASSERT_EQ(b.port, a.port);
  for (int i = 0; i < 8; i++) {
    test_response r;
    ASSERT_EQ(test_request(a.port, GET("/healthz"), &r), 200);
    test_response_release(&r);
  }
  /* without SO_REUSEPORT the port is taken */
  cfg.reuse_port = false;
  uv_loop_t loop;
  uv_loop_init(&loop);
  http_server *srv;
  pv_error err = PV_ERROR_INIT;
  ASSERT_OK(http_server_new(&loop, &cfg, routes, N_ROUTES, &srv, &err));
  ASSERT_ERR(http_server_listen(srv, &err), PV_EUNAVAILABLE);
  ASSERT_STR_EQ(err.field, "/listen");
  http_server_shutdown(srv, NULL, NULL);
  ASSERT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ASSERT_EQ(uv_loop_close(&loop), 0);
  http_server_free(srv);
  test_server_stop(&a);
  test_server_stop(&b);
}

/* Mutated requests in odd splits never crash the server: each gets an
 * answer or a close, and the server still serves afterwards. */
static void test_mutated_requests(void) {
  static const char *const seeds[] = {
      "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
      "POST /json HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n{\"name\":5}",
      "GET /contacts/1?x=2 HTTP/1.1\r\nX-Request-Id: a\r\n\r\n",
      "POST /upload HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcd",
  };
  start(NULL);
  srand(42);
  for (int i = 0; i < 200; i++) {
    char buf[256];
    const char *seed = seeds[i % 4];
    size_t n = strlen(seed);
    memcpy(buf, seed, n);
    for (int k = 0; k < 1 + rand() % 4; k++) buf[rand() % n] = (char)(rand() % 256);
    test_client c;
    test_connect(&c, ts.port);
    for (size_t off = 0; off < n;) {
      size_t piece = 1 + (size_t)rand() % 40;
      if (piece > n - off) piece = n - off;
      test_send(&c, buf + off, piece);
      off += piece;
    }
    shutdown(c.fd, SHUT_WR);
    test_response r;
    while (test_read_response(&c, &r) == 0) {
      ASSERT(r.status >= 200 && r.status < 600);
      test_response_release(&r);
      if (c.in.len == 0) break;
    }
    test_close(&c);
  }
  test_response r;
  ASSERT_EQ(test_request(ts.port, GET("/healthz"), &r), 200);
  test_response_release(&r);
  test_server_stop(&ts);
}

static void test_config_listen(void) {
  http_config cfg;
  pv_error err = PV_ERROR_INIT;
  http_config_init(&cfg);
  ASSERT_STR_EQ(cfg.host, "127.0.0.1");
  ASSERT_EQ(cfg.port, 8080);
  ASSERT_OK(http_config_set_listen(&cfg, "0.0.0.0:9000", &err));
  ASSERT_STR_EQ(cfg.host, "0.0.0.0");
  ASSERT_EQ(cfg.port, 9000);
  ASSERT_OK(http_config_set_listen(&cfg, "[::1]:81", &err));
  ASSERT_STR_EQ(cfg.host, "::1");
  ASSERT_ERR(http_config_set_listen(&cfg, "nohost", &err), PV_EINVAL);
  ASSERT_STR_EQ(err.field, "/listen");
  ASSERT_ERR(http_config_set_listen(&cfg, "h:99999", &err), PV_EINVAL);
  ASSERT_ERR(http_config_set_listen(&cfg, "h:", &err), PV_EINVAL);
  /* a table with a duplicate row is refused */
  static const http_route dup[] = {
      {HTTP_METHOD_GET, "/a", h_echo, HTTP_PUBLIC, 0, false, true},
      {HTTP_METHOD_GET, "/a", h_echo, HTTP_PUBLIC, 0, false, true},
  };
  http_server *srv = NULL;
  ASSERT_ERR(http_server_new(uv_default_loop(), &cfg, dup, 2, &srv, &err), PV_EINVAL);
  ASSERT(srv == NULL);
}

TEST_MAIN(TEST(test_keep_alive), TEST(test_pipelined_in_order),
          TEST(test_chunked_body), TEST(test_streaming_upload_50mib),
          TEST(test_body_paused_at_its_end),
          TEST(test_http10_closes), TEST(test_half_close_still_answered), TEST(test_oversized_headers_431),
          TEST(test_oversized_body_413), TEST(test_cl_with_te_400),
          TEST(test_two_content_lengths_400), TEST(test_bad_chunk_size_400),
          TEST(test_slow_headers_closed), TEST(test_idle_keep_alive_closed),
          TEST(test_stalled_body_closed), TEST(test_malformed_json_400),
          TEST(test_wrong_content_type_415), TEST(test_404_405), TEST(test_roles),
          TEST(test_request_id), TEST(test_metrics), TEST(test_readyz),
          TEST(test_connection_cap_503), TEST(test_graceful_shutdown),
          TEST(test_streaming_limit_and_abort), TEST(test_reuse_port_two_loops),
          TEST(test_mutated_requests),
          TEST(test_config_listen))
