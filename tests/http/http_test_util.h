/*
 * Helpers for the HTTP end-to-end tests: a server on its own thread and
 * loop (the way `pivotal serve` runs it), and a blocking client over real
 * loopback sockets that reads one response at a time (so pipelined answers
 * can be read in order).
 */
#ifndef HTTP_TEST_UTIL_H
#define HTTP_TEST_UTIL_H

#include <pthread.h>
#include <stdbool.h>

#include "adapters/http/http.h"
#include "core/common/pv_buf.h"

typedef struct test_server {
  uv_loop_t loop;
  http_server *srv;
  pthread_t thread;
  int port;
} test_server;

/* Starts srv on an ephemeral port of 127.0.0.1 on a new thread. */
void test_server_start(test_server *ts, const http_config *cfg,
                       const http_route *routes, size_t n,
                       http_authenticate_fn auth, http_readiness_fn ready);
/* http_server_stop(), joins the thread; asserts the loop closed cleanly. */
void test_server_stop(test_server *ts);

/* A config for tests: ephemeral port, and timeouts (10 s) that a loaded CI
 * machine never reaches by accident. */
void test_config(http_config *cfg);

/* The same with the header, idle and body-rate timeouts at 300 ms: for the
 * tests of those timeouts. */
void test_config_short_timeouts(http_config *cfg);

typedef struct test_client {
  int fd;
  pv_buf in;      /* bytes read but not yet consumed */
} test_client;

typedef struct test_response {
  int status;
  pv_buf head;    /* header block, lower-cased names */
  pv_buf body;
} test_response;

/* Connects to 127.0.0.1:port (5 s receive timeout as a hang guard). */
void test_connect(test_client *c, int port);
/* Connects without asserting; Returns: 0 or -errno. */
int test_try_connect(test_client *c, int port);
void test_close(test_client *c);
void test_send(test_client *c, const void *data, size_t len);
void test_sends(test_client *c, const char *text);
/* Reads one response (Content-Length framed). Returns: 0, or -1 when the
 * server closed the connection before a response started. */
int test_read_response(test_client *c, test_response *r);
/* True when the server closes the connection (read returns 0) with no
 * further bytes; false on data. */
bool test_wait_closed(test_client *c);
/* Value of header `name` (lower case) in r, copied into out; NULL if absent. */
const char *test_header(const test_response *r, const char *name, char *out,
                        size_t out_len);
void test_response_release(test_response *r);

/* One request on a fresh connection; returns the status. */
int test_request(int port, const char *raw, test_response *r);

#endif
