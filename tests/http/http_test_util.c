/*
 * http_test_util — see http_test_util.h.
 */
#include "tests/http/http_test_util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/harness/test.h"

void test_config(http_config *cfg) {
  http_config_init(cfg);
  cfg->port = 0;
  cfg->header_timeout_ms = 10000;
  cfg->idle_timeout_ms = 10000;
  cfg->body_window_ms = 10000;
  cfg->body_min_bytes = 1;
  cfg->shutdown_timeout_ms = 2000;
}

void test_config_short_timeouts(http_config *cfg) {
  test_config(cfg);
  cfg->header_timeout_ms = 300;
  cfg->idle_timeout_ms = 300;
  cfg->body_window_ms = 300;
}

static void *server_thread(void *arg) {
  test_server *ts = arg;
  uv_run(&ts->loop, UV_RUN_DEFAULT);
  return NULL;
}

void test_server_start(test_server *ts, const http_config *cfg,
                       const http_route *routes, size_t n,
                       http_authenticate_fn auth, http_readiness_fn ready) {
  pv_error err = PV_ERROR_INIT;
  ASSERT_OK(uv_loop_init(&ts->loop));
  ASSERT_OK(http_server_new(&ts->loop, cfg, routes, n, &ts->srv, &err));
  if (auth) http_server_set_authenticate(ts->srv, auth, NULL);
  if (ready) http_server_set_readiness(ts->srv, ready, NULL);
  ASSERT_OK(http_server_listen(ts->srv, &err));
  ts->port = http_server_port(ts->srv);
  ASSERT(ts->port > 0);
  ASSERT_EQ(pthread_create(&ts->thread, NULL, server_thread, ts), 0);
}

static void count_handle(uv_handle_t *h, void *arg) {
  (void)h;
  (*(int *)arg)++;
}

void test_server_stop(test_server *ts) {
  http_server_stop(ts->srv);
  ASSERT_EQ(pthread_join(ts->thread, NULL), 0);
  int open_handles = 0;
  uv_walk(&ts->loop, count_handle, &open_handles);
  ASSERT_EQ(open_handles, 0);
  ASSERT_EQ(uv_loop_close(&ts->loop), 0);
  http_server_free(ts->srv);
}

int test_try_connect(test_client *c, int port) {
  pv_buf_init(&c->in, 0);
  c->fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT(c->fd >= 0);
  struct timeval tv = {5, 0};
  setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0) {
    int e = errno;
    close(c->fd);
    c->fd = -1;
    return -e;
  }
  return 0;
}

void test_connect(test_client *c, int port) { ASSERT_OK(test_try_connect(c, port)); }

void test_close(test_client *c) {
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  pv_buf_release(&c->in);
}

void test_send(test_client *c, const void *data, size_t len) {
  const char *p = data;
  while (len) {
    ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    ASSERT(n > 0);
    p += n;
    len -= (size_t)n;
  }
}

void test_sends(test_client *c, const char *text) { test_send(c, text, strlen(text)); }

/* Reads more bytes into c->in; Returns: bytes read, 0 on close, -1 on error. */
static ssize_t fill(test_client *c) {
  char buf[16384];
  ssize_t n;
  do n = recv(c->fd, buf, sizeof buf, 0);
  while (n < 0 && errno == EINTR);
  if (n > 0) pv_buf_add(&c->in, buf, (size_t)n);
  return n;
}

int test_read_response(test_client *c, test_response *r) {
  pv_buf_init(&r->head, 0);
  pv_buf_init(&r->body, 0);
  r->status = 0;
  char *end;
  for (;;) {
    end = strstr(c->in.data, "\r\n\r\n");
    if (end) break;
    ssize_t n = fill(c);
    if (n == 0 && c->in.len == 0) return -1;
    ASSERT(n > 0);
  }
  size_t head_len = (size_t)(end - c->in.data) + 4;
  pv_buf_add(&r->head, c->in.data, head_len);
  for (char *p = r->head.data; *p; p++) {
    /* lower-case header names (up to each ':') */
    if (p[0] == '\n') {
      for (char *q = p + 1; *q && *q != ':' && *q != '\r'; q++) *q = (char)tolower((unsigned char)*q);
    }
  }
  ASSERT_EQ(sscanf(r->head.data, "HTTP/1.1 %d", &r->status), 1);
  char cl[32];
  size_t body_len = 0;
  if (test_header(r, "transfer-encoding", cl, sizeof cl) && strcmp(cl, "chunked") == 0) {
    /* a streamed answer: chunk-size CRLF data CRLF ..., ended by 0 CRLF CRLF */
    size_t off = head_len;
    for (;;) {
      char *eol;
      while (!(eol = memmem(c->in.data + off, c->in.len - off, "\r\n", 2))) ASSERT(fill(c) > 0);
      size_t size = strtoul(c->in.data + off, NULL, 16);
      size_t data = (size_t)(eol - c->in.data) + 2;
      while (c->in.len < data + size + 2) ASSERT(fill(c) > 0);
      ASSERT(memcmp(c->in.data + data + size, "\r\n", 2) == 0);
      pv_buf_add(&r->body, c->in.data + data, size);
      off = data + size + 2;
      if (size == 0) break;
      /* drop what is consumed so the buffer stays one chunk long */
      memmove(c->in.data, c->in.data + off, c->in.len - off);
      pv_buf_setlen(&c->in, c->in.len - off);
      off = 0;
    }
    memmove(c->in.data, c->in.data + off, c->in.len - off);
    pv_buf_setlen(&c->in, c->in.len - off);
    return 0;
  }
  if (test_header(r, "content-length", cl, sizeof cl)) body_len = strtoul(cl, NULL, 10);
  while (c->in.len < head_len + body_len) ASSERT(fill(c) > 0);
  pv_buf_add(&r->body, c->in.data + head_len, body_len);
  size_t rest = c->in.len - head_len - body_len;
  memmove(c->in.data, c->in.data + head_len + body_len, rest);
  pv_buf_setlen(&c->in, rest);
  return 0;
}

bool test_wait_closed(test_client *c) {
  if (c->in.len) return false;
  ssize_t n = fill(c);
  if (n < 0) return errno == ECONNRESET;
  return n == 0;
}

const char *test_header(const test_response *r, const char *name, char *out,
                        size_t out_len) {
  char key[128];
  snprintf(key, sizeof key, "\r\n%s:", name);
  const char *p = strstr(r->head.data, key);
  if (!p) return NULL;
  p += strlen(key);
  while (*p == ' ') p++;
  size_t n = strcspn(p, "\r\n");
  if (n >= out_len) n = out_len - 1;
  memcpy(out, p, n);
  out[n] = '\0';
  return out;
}

void test_response_release(test_response *r) {
  pv_buf_release(&r->head);
  pv_buf_release(&r->body);
}

int test_request(int port, const char *raw, test_response *r) {
  test_client c;
  test_connect(&c, port);
  test_sends(&c, raw);
  ASSERT_OK(test_read_response(&c, r));
  test_close(&c);
  return r->status;
}
