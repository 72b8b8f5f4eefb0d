/* stand_in — see stand_in.h. */
#include "tests/enrich/stand_in.h"

#include "tests/harness/test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static const char soft[] =
    "{\"id\":\"c1\",\"name\":\"Soft Inc\",\"domain\":\"soft.example\","
    "\"category\":{\"sector\":\"Information Technology\",\"industryGroup\":\"Software & Services\","
    "\"industry\":\"Internet Software & Services\",\"subIndustry\":\"Internet Software & Services\","
    "\"sicCode\":\"73\",\"naicsCode\":\"51\",\"sic4Codes\":[\"7372\"],\"naics6Codes\":[\"511210\"]},"
    "\"tags\":[\"Technology\",\"SAAS\"],\"description\":\"Project tools.\"}";
static const char bank[] =
    "{\"name\":\"Money\",\"category\":{\"sicCode\":\"6021\",\"naicsCode\":null},"
    "\"tags\":null,\"description\":null}";
static const char words[] =
    "{\"name\":\"Stay\",\"category\":{\"industry\":\"Hotels, Restaurants & Leisure\"}}";
static const char vague[] = "{\"name\":\"Vague\",\"category\":{},\"description\":\"We do things.\"}";
static const char shape[] = "{\"name\":\"Odd\",\"category\":\"software\"}";

/* Sends the whole of data (the peer may have gone: no SIGPIPE). */
static void send_all(int fd, const char *data, size_t len) {
  while (len) {
    ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
    if (n <= 0) return;
    data += n;
    len -= (size_t)n;
  }
}

static void answer(int fd, int status, const char *body, size_t len) {
  char head[256];
  int n = snprintf(head, sizeof head,
                   "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                   "Connection: close\r\n\r\n",
                   status, len);
  send_all(fd, head, (size_t)n);
  send_all(fd, body, len);
}

/* Holds the connection until stand_in_stop writes the pipe. */
static void hold(stand_in *s) {
  struct pollfd p = {s->stop_pipe[0], POLLIN, 0};
  poll(&p, 1, 10000); /* a hang guard, not a timing assertion */
}

static void serve(stand_in *s, int fd) {
  char req[8192];
  size_t n = 0;
  while (n < sizeof req - 1) {
    ssize_t r = recv(fd, req + n, sizeof req - 1 - n, 0);
    if (r <= 0) return;
    n += (size_t)r;
    req[n] = '\0';
    if (strstr(req, "\r\n\r\n")) break;
  }
  char target[512] = "", auth[256] = "";
  sscanf(req, "GET %511s HTTP/1.1", target);
  for (char *line = strstr(req, "\r\n"); line; line = strstr(line + 2, "\r\n"))
    if (strncasecmp(line + 2, "Authorization: ", 15) == 0) {
      size_t len = strcspn(line + 17, "\r\n");
      snprintf(auth, sizeof auth, "%.*s", (int)len, line + 17);
    }
  pthread_mutex_lock(&s->lock);
  if (s->requests < STAND_IN_MAX_REQUESTS) {
    snprintf(s->target[s->requests], sizeof s->target[0], "%s", target);
    snprintf(s->auth[s->requests], sizeof s->auth[0], "%s", auth);
  }
  s->requests++;
  pthread_mutex_unlock(&s->lock);
  const char *q = strstr(target, "?domain=");
  const char *d = q ? q + 8 : "";
#define IS(name) (strcmp(d, name) == 0)
  if (IS("soft.example")) answer(fd, 200, soft, strlen(soft));
  else if (IS("bank.example")) answer(fd, 200, bank, strlen(bank));
  else if (IS("words.example")) answer(fd, 200, words, strlen(words));
  else if (IS("vague.example")) answer(fd, 200, vague, strlen(vague));
  else if (IS("queued.example")) answer(fd, 202, "{}", 2);
  else if (IS("invalid.example")) answer(fd, 422, "{}", 2);
  else if (IS("refused.example")) answer(fd, 401, "{}", 2);
  else if (IS("limited.example")) answer(fd, 429, "{}", 2);
  else if (IS("broken.example")) answer(fd, 500, "oops", 4);
  else if (IS("garbage.example")) answer(fd, 200, "<html>hi</html>", 15);
  else if (IS("shape.example")) answer(fd, 200, shape, strlen(shape));
  else if (IS("big.example")) {
    size_t len = 2u << 20;
    char *big = malloc(len);
    memset(big, ' ', len);
    answer(fd, 200, big, len);
    free(big);
  } else if (IS("slow.example")) hold(s);
  else answer(fd, 404, "{\"error\":{\"type\":\"unknown_record\"}}", 35);
#undef IS
}

static void *stand_in_main(void *arg) {
  stand_in *s = arg;
  for (;;) {
    struct pollfd p[2] = {{s->fd, POLLIN, 0}, {s->stop_pipe[0], POLLIN, 0}};
    if (poll(p, 2, -1) < 0 && errno == EINTR) continue;
    if (p[1].revents) return NULL;
    int c = accept(s->fd, NULL, NULL);
    if (c < 0) continue;
    serve(s, c);
    close(c);
  }
}

void stand_in_start(stand_in *s) {
  memset(s, 0, sizeof *s);
  pthread_mutex_init(&s->lock, NULL);
  ASSERT_EQ(pipe(s->stop_pipe), 0);
  s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT(s->fd >= 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  ASSERT_EQ(bind(s->fd, (struct sockaddr *)&a, sizeof a), 0);
  ASSERT_EQ(listen(s->fd, 16), 0);
  socklen_t len = sizeof a;
  ASSERT_EQ(getsockname(s->fd, (struct sockaddr *)&a, &len), 0);
  s->port = ntohs(a.sin_port);
  ASSERT_EQ(pthread_create(&s->thread, NULL, stand_in_main, s), 0);
}

void stand_in_stop(stand_in *s) {
  ASSERT_EQ(write(s->stop_pipe[1], "x", 1), 1);
  ASSERT_EQ(pthread_join(s->thread, NULL), 0);
  close(s->fd);
  close(s->stop_pipe[0]);
  close(s->stop_pipe[1]);
  pthread_mutex_destroy(&s->lock);
}

void stand_in_request(stand_in *s, int i, char target[512], char auth[256]) {
  pthread_mutex_lock(&s->lock);
  int n = s->requests;
  if (i < n && i < STAND_IN_MAX_REQUESTS) {
    memcpy(target, s->target[i], 512);
    memcpy(auth, s->auth[i], 256);
  }
  pthread_mutex_unlock(&s->lock);
  if (i >= n || i >= STAND_IN_MAX_REQUESTS)
    test__fail(__FILE__, __LINE__, "no request %d (%d made)", i, n);
}

int stand_in_count(stand_in *s) {
  pthread_mutex_lock(&s->lock);
  int n = s->requests;
  pthread_mutex_unlock(&s->lock);
  return n;
}

void stand_in_closed_url(char *out, size_t cap) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT(fd >= 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  ASSERT_EQ(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
  socklen_t len = sizeof a;
  ASSERT_EQ(getsockname(fd, (struct sockaddr *)&a, &len), 0);
  close(fd);
  snprintf(out, cap, "http://127.0.0.1:%d", ntohs(a.sin_port));
}
