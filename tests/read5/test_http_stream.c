/*
 * Streamed (chunked) answers of adapters/http (http_respond_start / chunk /
 * end / abort) over loopback: a body far larger than any buffer arrives
 * whole and in order; a reader that stops reading stops the writer
 * (backpressure: what the handler produced stays bounded by the socket
 * buffers and the write backlog, not by the body); a reader that goes
 * away, or stalls past the idle timeout, is reported to the handler as
 * PV_EIO; HTTP/1.0 gets a raw body ended by the close; an abort truncates.
 */
#include "tests/http/http_test_util.h"
#include "tests/harness/test.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* 96 MiB: far above the loopback socket buffers (4 MiB send, the receive
 * window) and the 256 KiB write backlog. */
#define TOTAL (96u << 20)
#define CHUNK (64u << 10)

static atomic_size_t produced;
static atomic_int blocked, io_error, ended;

typedef struct stream {
  http_request *req;
  size_t sent;
  size_t total;
  bool abort_midway;
  char buf[CHUNK];
} stream;

static void pump(stream *s);

static void on_writable(http_request *req, int status, void *ctx) {
  (void)req;
  stream *s = ctx;
  if (status) {
    atomic_store(&io_error, 1);
    http_respond_end(s->req);
    atomic_store(&ended, 1);
    free(s);
    return;
  }
  pump(s);
}

static void pump(stream *s) {
  while (s->sent < s->total) {
    if (s->abort_midway && s->sent >= s->total / 2) {
      http_respond_abort(s->req);
      atomic_store(&ended, 1);
      free(s);
      return;
    }
    size_t n = s->total - s->sent < CHUNK ? s->total - s->sent : CHUNK;
    for (size_t i = 0; i < n; i++) s->buf[i] = (char)('a' + (s->sent + i) % 26);
    s->sent += n;
    atomic_store(&produced, s->sent);
    int rc = http_respond_chunk(s->req, s->buf, n);
    if (rc == PV_EBUSY) {
      atomic_store(&blocked, 1);
      return; /* on_writable goes on */
    }
    if (rc == PV_EIO) {
      atomic_store(&io_error, 1);
      break;
    }
    ASSERT_EQ(rc, 0);
  }
  http_respond_end(s->req);
  atomic_store(&ended, 1);
  free(s);
}

static void start(http_request *req, size_t total, bool abort_midway) {
  stream *s = calloc(1, sizeof *s);
  s->req = req;
  s->total = total;
  s->abort_midway = abort_midway;
  http_response_header(req, "Content-Disposition", "attachment; filename=\"x.txt\"");
  http_respond_start(req, 200, "text/plain", on_writable, s);
  pump(s);
}

static void h_big(http_request *req) { start(req, TOTAL, false); }
static void h_small(http_request *req) { start(req, 100000, false); }
static void h_abort(http_request *req) { start(req, 4u << 20, true); }

static const http_route routes[] = {
    {HTTP_METHOD_GET, "/big", h_big, HTTP_PUBLIC, 0, false, true},
    {HTTP_METHOD_GET, "/small", h_small, HTTP_PUBLIC, 0, false, true},
    {HTTP_METHOD_HEAD, "/small", h_small, HTTP_PUBLIC, 0, false, true},
    {HTTP_METHOD_GET, "/abort", h_abort, HTTP_PUBLIC, 0, false, true},
};
#define N_ROUTES (sizeof routes / sizeof routes[0])

static void reset(void) {
  atomic_store(&produced, 0);
  atomic_store(&blocked, 0);
  atomic_store(&io_error, 0);
  atomic_store(&ended, 0);
}

/* Waits for a flag the loop thread sets (a hang guard of 20 s, not a
 * timing assertion). */
static void wait_flag(atomic_int *flag) {
  struct timespec ms = {0, 1000000};
  for (int i = 0; i < 20000 && !atomic_load(flag); i++) nanosleep(&ms, NULL);
  ASSERT(atomic_load(flag));
}

static void check_body(const pv_buf *b, size_t total) {
  ASSERT_EQ(b->len, total);
  for (size_t i = 0; i < total; i += 4093)
    if (b->data[i] != (char)('a' + i % 26)) test__fail(__FILE__, __LINE__, "byte %zu", i);
}

static void test_backpressure_bounds_what_is_produced(void) {
  reset();
  test_server ts;
  http_config cfg;
  test_config(&cfg);
  cfg.idle_timeout_ms = 20000; /* the reader pauses on purpose */
  test_server_start(&ts, &cfg, routes, N_ROUTES, NULL, NULL);
  test_client c;
  test_connect(&c, ts.port);
  test_sends(&c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
  /* not reading: the handler must stop at PV_EBUSY */
  wait_flag(&blocked);
  size_t at_block = atomic_load(&produced);
  ASSERT_LE(at_block, 48u << 20);
  ASSERT(!atomic_load(&ended));
  test_response r;
  ASSERT_OK(test_read_response(&c, &r));
  ASSERT_EQ(r.status, 200);
  char h[64];
  ASSERT_STR_EQ(test_header(&r, "transfer-encoding", h, sizeof h), "chunked");
  check_body(&r.body, TOTAL);
  test_response_release(&r);
  /* the connection stays usable: keep-alive after the terminator */
  test_sends(&c, "GET /small HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_OK(test_read_response(&c, &r));
  check_body(&r.body, 100000);
  test_response_release(&r);
  test_close(&c);
  test_server_stop(&ts);
}

static void test_reader_gone_or_stalled_is_eio(void) {
  reset();
  test_server ts;
  http_config cfg;
  test_config_short_timeouts(&cfg); /* idle 300 ms: a stalled reader is dropped */
  test_server_start(&ts, &cfg, routes, N_ROUTES, NULL, NULL);
  test_client c;
  test_connect(&c, ts.port);
  test_sends(&c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
  wait_flag(&blocked);
  wait_flag(&io_error); /* the stall timer, or the reset */
  wait_flag(&ended);
  test_close(&c);
  /* gone mid-stream: the close is noticed at the next write */
  reset();
  test_connect(&c, ts.port);
  test_sends(&c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
  wait_flag(&blocked);
  test_close(&c);
  wait_flag(&ended);
  ASSERT(atomic_load(&io_error));
  /* the server still answers */
  test_response r;
  ASSERT_EQ(test_request(ts.port, "GET /small HTTP/1.1\r\nHost: x\r\n\r\n", &r), 200);
  check_body(&r.body, 100000);
  test_response_release(&r);
  test_server_stop(&ts);
}

static void test_http10_head_and_abort(void) {
  reset();
  test_server ts;
  http_config cfg;
  test_config(&cfg);
  test_server_start(&ts, &cfg, routes, N_ROUTES, NULL, NULL);
  /* HTTP/1.0: no chunked framing; the body ends with the connection */
  test_client c;
  test_connect(&c, ts.port);
  test_sends(&c, "GET /small HTTP/1.0\r\n\r\n");
  pv_buf all = PV_BUF_INIT;
  char buf[65536];
  for (;;) {
    ssize_t n = read(c.fd, buf, sizeof buf);
    ASSERT(n >= 0);
    if (n == 0) break;
    pv_buf_add(&all, buf, (size_t)n);
  }
  test_close(&c);
  char *body = strstr(all.data, "\r\n\r\n");
  ASSERT(body != NULL);
  ASSERT(strstr(all.data, "Transfer-Encoding") == NULL);
  ASSERT(strstr(all.data, "Connection: close") != NULL);
  pv_buf b = PV_BUF_INIT;
  pv_buf_add(&b, body + 4, all.len - (size_t)(body + 4 - all.data));
  check_body(&b, 100000);
  pv_buf_release(&b);
  pv_buf_release(&all);
  /* HEAD: the headers only (then the close asked for) */
  test_connect(&c, ts.port);
  test_sends(&c, "HEAD /small HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  pv_buf_init(&all, 0);
  for (;;) {
    ssize_t n = read(c.fd, buf, sizeof buf);
    ASSERT(n >= 0);
    if (n == 0) break;
    pv_buf_add(&all, buf, (size_t)n);
  }
  test_close(&c);
  ASSERT(strncmp(all.data, "HTTP/1.1 200", 12) == 0);
  body = strstr(all.data, "\r\n\r\n");
  ASSERT(body != NULL && body + 4 == all.data + all.len);
  pv_buf_release(&all);
  /* an abort closes without the terminator: the reader sees a cut body */
  test_connect(&c, ts.port);
  test_sends(&c, "GET /abort HTTP/1.1\r\nHost: x\r\n\r\n");
  wait_flag(&ended);
  size_t got = 0;
  bool terminated = false;
  for (;;) {
    ssize_t n = read(c.fd, buf, sizeof buf);
    if (n <= 0) break;
    got += (size_t)n;
    if (n >= 5 && memcmp(buf + n - 5, "0\r\n\r\n", 5) == 0) terminated = true;
  }
  ASSERT(!terminated);
  ASSERT(got < (4u << 20));
  test_close(&c);
  test_server_stop(&ts);
}

TEST_MAIN(TEST(test_backpressure_bounds_what_is_produced), TEST(test_reader_gone_or_stalled_is_eio),
          TEST(test_http10_head_and_abort))
