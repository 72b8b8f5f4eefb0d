/*
 * bench_http — throughput and latency of the HTTP server on /healthz with
 * keep-alive. The server runs in this process on its own thread and loop,
 * as `pivotal serve` runs it; then two servers on two loops share the port
 * (SO_REUSEPORT) for comparison:
 *        bench http.healthz_rps_2loops VALUE req/s
 *
 *   1. wrk (closed loop: as fast as it can) for BENCH_HTTP_SECONDS (5 s):
 *        bench http.healthz_rps VALUE req/s
 *   2. our own open-loop client at half that rate, measuring each latency
 *      from the moment the request was due (so a stall is not hidden by a
 *      client that waits: no coordinated omission):
 *        bench http.healthz_p99_at_half_rps VALUE ms
 *
 * BENCH_HTTP_RATE=N sets the open-loop rate instead (req/s).
 * wrk2 (the rate-limited wrk) is not in Debian; the open-loop client below
 * stands in for it. The machine is shared: figures vary from run to run.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "adapters/http/http.h"
#include "core/common/pv_time.h"

/* One server per loop thread; with more than one they share the port
 * through SO_REUSEPORT and the kernel spreads connections over them. */
#define MAX_LOOPS 2

typedef struct bench_server {
  uv_loop_t loop;
  http_server *srv;
  pthread_t thread;
} bench_server;

static void *server_thread(void *arg) {
  bench_server *b = arg;
  uv_run(&b->loop, UV_RUN_DEFAULT);
  return NULL;
}

/* Starts n servers on one port; Returns: the port, or -1. */
static int servers_start(bench_server *bs, int n) {
  int port = 0;
  for (int i = 0; i < n; i++) {
    http_config cfg;
    http_config_init(&cfg);
    cfg.port = port;
    cfg.reuse_port = n > 1;
    pv_error err = PV_ERROR_INIT;
    uv_loop_init(&bs[i].loop);
    if (http_server_new(&bs[i].loop, &cfg, http_routes, http_routes_count, &bs[i].srv, &err) ||
        http_server_listen(bs[i].srv, &err)) {
      fprintf(stderr, "bench_http: %s %s\n", err.message, err.detail);
      return -1;
    }
    port = http_server_port(bs[i].srv);
    pthread_create(&bs[i].thread, NULL, server_thread, &bs[i]);
  }
  return port;
}

static void servers_stop(bench_server *bs, int n) {
  for (int i = 0; i < n; i++) {
    http_server_stop(bs[i].srv);
    pthread_join(bs[i].thread, NULL);
    uv_loop_close(&bs[i].loop);
    http_server_free(bs[i].srv);
  }
}

static double run_wrk(int port, int seconds) {
  char cmd[256];
  /* 1 thread, 64 connections: wrk needs one core; the server the other. */
  snprintf(cmd, sizeof cmd,
           "wrk -t1 -c64 -d%ds http://127.0.0.1:%d/healthz 2>&1", seconds, port);
  FILE *p = popen(cmd, "r");
  if (!p) return -1;
  char line[512];
  double rps = -1;
  while (fgets(line, sizeof line, p)) {
    if (sscanf(line, "Requests/sec: %lf", &rps) == 1) continue;
    if (strstr(line, "Socket errors") || strstr(line, "Non-2xx")) fputs(line, stderr);
  }
  if (pclose(p) != 0) return -1;
  return rps;
}

/* ---- Open-loop client: C connections, one request in flight on each;
 * request i is due at start + i/rate; its latency runs from that moment
 * to the end of its response. */

#define CONNS 32

typedef struct client_conn {
  int fd;
  bool busy;
  uint64_t due_ns;
  char in[4096];
  size_t in_len;
} client_conn;

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Consumes one whole response from c->in if there is one. */
static bool take_response(client_conn *c) {
  c->in[c->in_len < sizeof c->in ? c->in_len : sizeof c->in - 1] = '\0';
  char *end = strstr(c->in, "\r\n\r\n");
  if (!end) return false;
  const char *cl = strstr(c->in, "Content-Length: ");
  size_t body = cl ? strtoul(cl + 16, NULL, 10) : 0;
  size_t total = (size_t)(end - c->in) + 4 + body;
  if (c->in_len < total) return false;
  memmove(c->in, c->in + total, c->in_len - total);
  c->in_len -= total;
  return true;
}

static double open_loop_p99_ms(int port, double rate, int seconds) {
  static const char req[] = "GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n";
  client_conn conns[CONNS];
  int ep = epoll_create1(0);
  for (int i = 0; i < CONNS; i++) {
    client_conn *c = &conns[i];
    memset(c, 0, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0) return -1;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
  }
  size_t total = (size_t)(rate * seconds);
  uint64_t *lat = malloc(total * sizeof *lat);
  size_t sent = 0, done = 0;
  uint64_t start = pv_mono_ns();
  uint64_t gap_ns = (uint64_t)(1e9 / rate);
  while (done < total) {
    uint64_t now = pv_mono_ns();
    /* send what is due on idle connections */
    for (int i = 0; i < CONNS && sent < total; i++) {
      uint64_t due = start + sent * gap_ns;
      if (due > now) break;
      client_conn *c = &conns[i];
      if (c->busy) continue;
      if (send(c->fd, req, sizeof req - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof req - 1))
        goto fail;
      c->busy = true;
      c->due_ns = due;
      sent++;
    }
    uint64_t next_due = start + sent * gap_ns;
    now = pv_mono_ns();
    int wait_ms = next_due > now ? (int)((next_due - now) / 1000000) : 0;
    struct epoll_event evs[CONNS];
    int n = epoll_wait(ep, evs, CONNS, wait_ms);
    for (int k = 0; k < n; k++) {
      client_conn *c = evs[k].data.ptr;
      ssize_t r = recv(c->fd, c->in + c->in_len, sizeof c->in - c->in_len - 1, 0);
      if (r <= 0) goto fail;
      c->in_len += (size_t)r;
      if (take_response(c)) {
        lat[done++] = pv_mono_ns() - c->due_ns;
        c->busy = false;
      }
    }
  }
  qsort(lat, total, sizeof *lat, cmp_u64);
  double p99 = (double)lat[total * 99 / 100] / 1e6;
  printf("# open loop: p50 %.3f ms, p90 %.3f ms, p99.9 %.3f ms, max %.3f ms\n",
         (double)lat[total / 2] / 1e6, (double)lat[total * 9 / 10] / 1e6,
         (double)lat[total * 999 / 1000] / 1e6, (double)lat[total - 1] / 1e6);
  free(lat);
  for (int i = 0; i < CONNS; i++) close(conns[i].fd);
  close(ep);
  return p99;
fail:
  free(lat);
  close(ep);
  return -1;
}

int main(void) {
  const char *s = getenv("BENCH_HTTP_SECONDS");
  int seconds = s ? atoi(s) : 5;
  if (seconds <= 0) seconds = 5;
  bench_server bs[MAX_LOOPS];
  int rc = 0;

  /* The shipped shape: one loop. */
  int port = servers_start(bs, 1);
  if (port < 0) return 1;
  double rps = run_wrk(port, seconds);
  if (rps <= 0) {
    fprintf(stderr, "bench_http: wrk failed (is it installed? scripts/deps.sh)\n");
    servers_stop(bs, 1);
    return 1;
  }
  printf("bench http.healthz_rps %.0f req/s\n", rps);
  fflush(stdout);
  const char *rate_env = getenv("BENCH_HTTP_RATE");
  double rate = rate_env && atof(rate_env) > 0 ? atof(rate_env) : rps / 2;
  double p99 = open_loop_p99_ms(port, rate, seconds);
  if (p99 < 0) {
    fprintf(stderr, "bench_http: the open-loop client failed\n");
    rc = 1;
  } else {
    printf("bench http.healthz_p99_at_%s %.3f ms\n", rate_env ? "set_rate" : "half_rps", p99);
    printf("# open-loop rate %.0f req/s\n", rate);
  }
  servers_stop(bs, 1);

  /* The alternative measured against it: one loop per core. */
  port = servers_start(bs, MAX_LOOPS);
  if (port < 0) return 1;
  double rps2 = run_wrk(port, seconds);
  if (rps2 > 0) printf("bench http.healthz_rps_%dloops %.0f req/s\n", MAX_LOOPS, rps2);
  servers_stop(bs, MAX_LOOPS);
  return rc;
}
