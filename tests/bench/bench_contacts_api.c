/*
 * bench_contacts_api — contact upserts through the HTTP API as `pivotal
 * serve` runs it (log, writer, api on its own loop thread, in this process),
 * every answer durable:
 *   bench contacts.batch_upsert_per_s VALUE contacts/s
 *       POST /api/contacts/batch, 1000 new contacts a request, from
 *       BENCH_CONNECTIONS keep-alive connections at once
 *   bench contacts.single_upsert_p99_ms VALUE ms  (and p50)
 *       POST /api/contacts, one new contact a request, from 16
 *       connections at once
 * Contacts are realistic enough to cost what real ones do: a name, a
 * title (seniority rules), a national phone number (libphonenumber), a
 * country and a city. BENCH_SECONDS (5) sets each run's length. The log
 * lives in a fresh directory under BENCH_DIR (/tmp; /dev/shm takes the
 * disk out of the figure), removed at the end. The machine is
 * shared: figures vary.
 */
#include "adapters/auth/auth_jwt.h"
#include "adapters/http/handlers/api.h"
#include "core/common/pv_buf.h"
#include "core/common/pv_time.h"
#include "core/users.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* 4 connections: one batch in flight per connection keeps the writer fed
 * while the next batch is normalized on the thread pool (2 cores). */
#define BENCH_CONNECTIONS 4
#define BENCH_BATCH 1000
/* 16 connections for single upserts: enough for group commits to form. */
#define BENCH_SINGLE_CONNECTIONS 16

static const char *const titles[] = {"VP Sales",        "Head of Marketing", "Software Engineer",
                                     "CFO",             "Office Manager",    "Director of IT",
                                     "Account Executive", "Chief Executive Officer"};
static const char *const cities[] = {"Paris", "Lyon", "Berlin", "Madrid", "Boston", "Austin"};
static const char *const first[] = {"Ann", "Bob", "Chloé", "Dieter", "Eva", "Farid", "Gus", "Hana"};

static int port;
static const char *token;
static atomic_uint_fast64_t next_contact;
static atomic_bool stop_flag;

static void contact_json(pv_buf *b, uint64_t n) {
  pv_buf_addf(b,
              "{\"email\":\"person.%llu@company%llu.example\",\"first_name\":\"%s\","
              "\"last_name\":\"Tester%llu\",\"title\":\"%s\",\"phone\":\"01 %02llu %02llu %02llu "
              "%02llu\",\"country\":\"FR\",\"city\":\"%s\",\"source\":\"import\"}",
              (unsigned long long)n, (unsigned long long)(n % 5000), first[n % 8],
              (unsigned long long)n, titles[n % 8], (unsigned long long)(40 + n % 50),
              (unsigned long long)(n / 100 % 100), (unsigned long long)(n / 7 % 100),
              (unsigned long long)(n % 100), cities[n % 6]);
}

static int connect_server(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/* Sends one request and reads its answer (keep-alive). Returns the status
 * or -1; the body into resp. */
static int roundtrip(int fd, const char *path, const pv_buf *body, pv_buf *resp) {
  pv_buf req = PV_BUF_INIT;
  pv_buf_addf(&req,
              "POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
              "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
              path, token, body->len);
  pv_buf_add(&req, body->data, body->len);
  size_t off = 0;
  while (off < req.len) {
    ssize_t n = send(fd, req.data + off, req.len - off, MSG_NOSIGNAL);
    if (n <= 0) {
      pv_buf_release(&req);
      return -1;
    }
    off += (size_t)n;
  }
  pv_buf_release(&req);
  pv_buf_reset(resp);
  char buf[65536];
  size_t header_end = 0, content_length = 0;
  for (;;) {
    if (header_end && resp->len >= header_end + content_length) break;
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return -1;
    pv_buf_add(resp, buf, (size_t)n);
    if (!header_end) {
      char *e = memmem(resp->data, resp->len, "\r\n\r\n", 4);
      if (!e) continue;
      header_end = (size_t)(e - resp->data) + 4;
      char *cl = strcasestr(resp->data, "content-length:");
      if (cl && cl < e) content_length = strtoull(cl + 15, NULL, 10);
    }
  }
  int status = atoi(resp->data + 9);
  return status;
}

typedef struct worker {
  uint64_t rows, requests, errors;
  uint64_t *lat_ns;
  size_t lat_n, lat_cap;
  bool single;
} worker;

static void *batch_main(void *arg) {
  worker *w = arg;
  int fd = connect_server();
  if (fd < 0) {
    w->errors++;
    return NULL;
  }
  pv_buf body = PV_BUF_INIT, resp = PV_BUF_INIT;
  while (!atomic_load(&stop_flag)) {
    pv_buf_reset(&body);
    uint64_t base = atomic_fetch_add(&next_contact, BENCH_BATCH);
    pv_buf_addstr(&body, "{\"contacts\":[");
    for (uint64_t i = 0; i < BENCH_BATCH; i++) {
      if (i) pv_buf_addch(&body, ',');
      contact_json(&body, base + i);
    }
    pv_buf_addstr(&body, "]}");
    int st = roundtrip(fd, "/api/contacts/batch", &body, &resp);
    if (st != 200 || !strstr(resp.data, "\"failed\":0")) {
      fprintf(stderr, "bench_contacts_api: status %d: %.300s\n", st, resp.data ? resp.data : "");
      w->errors++;
      break;
    }
    w->rows += BENCH_BATCH;
    w->requests++;
  }
  close(fd);
  pv_buf_release(&body);
  pv_buf_release(&resp);
  return NULL;
}

static void *single_main(void *arg) {
  worker *w = arg;
  int fd = connect_server();
  if (fd < 0) {
    w->errors++;
    return NULL;
  }
  pv_buf body = PV_BUF_INIT, resp = PV_BUF_INIT;
  while (!atomic_load(&stop_flag)) {
    pv_buf_reset(&body);
    contact_json(&body, atomic_fetch_add(&next_contact, 1));
    uint64_t t0 = pv_mono_ns();
    int st = roundtrip(fd, "/api/contacts", &body, &resp);
    uint64_t dt = pv_mono_ns() - t0;
    if (st != 201) {
      fprintf(stderr, "bench_contacts_api: status %d: %.300s\n", st, resp.data ? resp.data : "");
      w->errors++;
      break;
    }
    if (w->lat_n == w->lat_cap) {
      w->lat_cap = w->lat_cap ? w->lat_cap * 2 : 4096;
      w->lat_ns = pv_xrealloc(w->lat_ns, w->lat_cap * sizeof *w->lat_ns);
    }
    w->lat_ns[w->lat_n++] = dt;
    w->rows++;
  }
  close(fd);
  pv_buf_release(&body);
  pv_buf_release(&resp);
  return NULL;
}

/* Runs n workers for seconds; Returns: rows/s (workers filled). */
static double run(void *(*fn)(void *), worker *ws, int n, int seconds) {
  pthread_t th[64];
  atomic_store(&stop_flag, false);
  uint64_t t0 = pv_mono_ns();
  for (int i = 0; i < n; i++) pthread_create(&th[i], NULL, fn, &ws[i]);
  sleep((unsigned)seconds);
  atomic_store(&stop_flag, true);
  for (int i = 0; i < n; i++) pthread_join(th[i], NULL);
  double elapsed = (double)(pv_mono_ns() - t0) / 1e9;
  uint64_t rows = 0;
  for (int i = 0; i < n; i++) rows += ws[i].rows;
  return (double)rows / elapsed;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void *loop_main(void *arg) {
  uv_run(arg, UV_RUN_DEFAULT);
  return NULL;
}

/* The server as `pivotal serve` runs it, on a log of its own. */
typedef struct server {
  char dir[96];
  log_t *log;
  writer_t *writer;
  uv_loop_t loop;
  api *a;
  pthread_t thread;
  auth_jwt *jwt;
  char *token;
} server;

static int server_start(server *s, unsigned max_batch_us) {
  memset(s, 0, sizeof *s);
  const char *base = getenv("BENCH_DIR") ? getenv("BENCH_DIR") : "/tmp";
  snprintf(s->dir, sizeof s->dir, "%.40s/bench_contacts_api.XXXXXX", base);
  if (!mkdtemp(s->dir)) return -1;
  char logdir[128];
  snprintf(logdir, sizeof logdir, "%s/log", s->dir);
  pv_error err = PV_ERROR_INIT;
  writer_options wo = {.max_batch_us = max_batch_us};
  if (log_open(&s->log, logdir, NULL, &err) || writer_start(&s->writer, s->log, &wo, &err)) {
    fprintf(stderr, "bench_contacts_api: %s\n", err.message);
    return -1;
  }
  /* one data_ops user, registered straight through the writer */
  const char *hash = "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA";
  users_cmd uc = {.kind = USERS_REGISTER, .user_id = "bench-ops",
                  .expected_version = LOG_EXPECT_ANY, .email = "ops@bench.example",
                  .role = "data_ops", .password_hash = hash, .disabled = -1};
  writer_cmd wc = {.tenant = "default", .actor = "bench", .decide = users_decide_cmd, .arg = &uc};
  if (writer_run(s->writer, &wc)) return -1;
  uint8_t key[32];
  randombytes_buf(key, sizeof key);
  auth_principal p = {.role = AUTH_ROLE_DATA_OPS};
  snprintf(p.user_id, sizeof p.user_id, "bench-ops");
  snprintf(p.tenant, sizeof p.tenant, "default");
  if (auth_jwt_new(key, sizeof key, "pivotal", 900, &s->jwt, &err) ||
      auth_jwt_issue(s->jwt, &p, (int64_t)time(NULL), &s->token, NULL, &err))
    return -1;
  uv_loop_init(&s->loop);
  api_config cfg;
  api_config_init(&cfg);
  cfg.http.port = 0;
  cfg.jwt_key = key;
  cfg.jwt_key_len = sizeof key;
  if (api_new(&s->loop, s->writer, &cfg, &s->a, &err) || api_listen(s->a, &err)) {
    fprintf(stderr, "bench_contacts_api: %s\n", err.message);
    return -1;
  }
  port = http_server_port(api_http(s->a));
  token = s->token;
  pthread_create(&s->thread, NULL, loop_main, &s->loop);
  return 0;
}

static void server_stop(server *s) {
  api_stop(s->a);
  pthread_join(s->thread, NULL);
  api_free(s->a);
  uv_run(&s->loop, UV_RUN_NOWAIT);
  uv_loop_close(&s->loop);
  writer_stop(s->writer);
  log_close(s->log);
  auth_jwt_free(s->jwt);
  free(s->token);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", s->dir);
  if (system(cmd) != 0) fprintf(stderr, "bench_contacts_api: could not remove %s\n", s->dir);
}

static double cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* The process's CPU per contact of the last batch run (clients included:
 * building and reading the JSON is a few percent of it). */
static double cpu_us_per_contact;

/* One batch run; the writer's mean batch and commit time into *batch, *ms. */
static double batch_run(server *s, int seconds, uint64_t *errors, double *batch, double *ms) {
  worker bw[BENCH_CONNECTIONS] = {0};
  double cpu0 = cpu_s();
  double rate = run(batch_main, bw, BENCH_CONNECTIONS, seconds);
  uint64_t rows = 0;
  for (int i = 0; i < BENCH_CONNECTIONS; i++) rows += bw[i].rows;
  cpu_us_per_contact = rows ? (cpu_s() - cpu0) * 1e6 / (double)rows : 0;
  for (int i = 0; i < BENCH_CONNECTIONS; i++) *errors += bw[i].errors;
  writer_stats st;
  writer_get_stats(s->writer, &st);
  *batch = st.batches ? (double)st.commands / (double)st.batches : 0.0;
  *ms = st.batches ? (double)st.commit_ns_total / (double)st.batches / 1e6 : 0.0;
  return rate;
}

/* 10 ms of deciding per group commit: about the commit time measured on
 * this shared disk (5-10 ms), so the fsync is paid once per ~700 upserts
 * instead of ~70 under the writer's default 1 ms. */
#define BENCH_WIDE_BATCH_US 10000

int main(void) {
  int seconds = getenv("BENCH_SECONDS") ? atoi(getenv("BENCH_SECONDS")) : 5;
  if (sodium_init() < 0) return 1;
  server s;
  uint64_t errors = 0;
  double mean_batch, commit_ms, wide_batch, wide_ms;
  if (server_start(&s, 0)) return 1;
  double batch = batch_run(&s, seconds, &errors, &mean_batch, &commit_ms);
  double batch_cpu = cpu_us_per_contact;
  writer_stats before;
  writer_get_stats(s.writer, &before);
  worker sw[BENCH_SINGLE_CONNECTIONS] = {0};
  double single = run(single_main, sw, BENCH_SINGLE_CONNECTIONS, seconds);
  writer_stats after;
  writer_get_stats(s.writer, &after);
  server_stop(&s);
  if (server_start(&s, BENCH_WIDE_BATCH_US)) return 1;
  double wide = batch_run(&s, seconds, &errors, &wide_batch, &wide_ms);
  server_stop(&s);

  size_t total = 0;
  for (int i = 0; i < BENCH_SINGLE_CONNECTIONS; i++) total += sw[i].lat_n, errors += sw[i].errors;
  uint64_t *all = pv_xmalloc((total ? total : 1) * sizeof *all);
  size_t k = 0;
  for (int i = 0; i < BENCH_SINGLE_CONNECTIONS; i++) {
    memcpy(all + k, sw[i].lat_ns, sw[i].lat_n * sizeof *all);
    k += sw[i].lat_n;
    free(sw[i].lat_ns);
  }
  qsort(all, total, sizeof *all, cmp_u64);
  double p50 = total ? (double)all[total / 2] / 1e6 : 0;
  double p99 = total ? (double)all[total * 99 / 100] / 1e6 : 0;
  free(all);
  if (errors) {
    fprintf(stderr, "bench_contacts_api: %llu failed requests\n", (unsigned long long)errors);
    return 1;
  }
  printf("bench contacts.batch_upsert_per_s %.0f contacts/s\n", batch);
  printf("bench contacts.batch_cpu_per_contact_us %.1f us\n", batch_cpu);
  printf("bench contacts.batch_writer_mean_batch %.1f commands\n", mean_batch);
  printf("bench contacts.batch_writer_commit_ms %.2f ms\n", commit_ms);
  printf("bench contacts.batch_upsert_wide_commit_per_s %.0f contacts/s\n", wide);
  printf("bench contacts.batch_wide_writer_mean_batch %.1f commands\n", wide_batch);
  printf("bench contacts.batch_wide_writer_commit_ms %.2f ms\n", wide_ms);
  printf("bench contacts.single_upsert_per_s %.0f contacts/s\n", single);
  printf("bench contacts.single_upsert_p50_ms %.2f ms\n", p50);
  printf("bench contacts.single_upsert_p99_ms %.2f ms\n", p99);
  printf("bench contacts.single_writer_mean_batch %.1f commands\n",
         after.batches > before.batches ? (double)(after.commands - before.commands) /
                                              (double)(after.batches - before.batches)
                                        : 0.0);
  return 0;
}
