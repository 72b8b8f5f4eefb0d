/*
 * bench queries — the query routes of contacts against a real PostgreSQL,
 * as `pivotal serve` runs them (log, writer, the contacts projection, the
 * api on its own loop thread in this process), loaded by wrk with
 * keep-alive:
 *   queries.fold_contacts_per_s   the contacts projection catching up on
 *                                 BENCH_CONTACTS upserts (default 100,000)
 *   queries.get_by_id_rps         GET /api/contacts/:id with a Bearer token,
 *                                 over 1,000 ids in turn
 *   queries.list_p99_ms           p99 latency of GET /api/contacts?limit=50
 *                                 &sort=email&q=... (a keyset page, a
 *                                 trigram-indexed filter)
 * BENCH_QUERIES_SECONDS (5) sets each wrk run. The database:
 * PIVOTAL_TEST_DATABASE_URL (a fresh database in that cluster), else a
 * throwaway embedded cluster. The machine is shared: figures vary.
 */
#include "adapters/auth/auth_jwt.h"
#include "adapters/http/handlers/api.h"
#include "tests/bench/bench_db.h"
#include "core/common/pv_time.h"
#include "core/contacts.h"
#include "core/users.h"
#include "projections/proj.h"

#include <ftw.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Upserts in flight at once: 4096 fill a writer batch (its default
 * max_batch_commands) and keep the memory of the args to a few MB. */
#define WINDOW 4096
#define IDS 1000

static atomic_int pending;

static void die(const char *what, const pv_error *err) {
  fprintf(stderr, "bench queries: %s: %s %s\n", what, err ? err->message : "",
          err ? err->detail : "");
  exit(1);
}

static void done_cb(writer_cmd *cmd) {
  (void)cmd;
  atomic_fetch_sub(&pending, 1);
}

static int rm_entry(const char *p, const struct stat *s, int f, struct FTW *w) {
  (void)s, (void)f, (void)w;
  return remove(p);
}

static void *loop_main(void *arg) {
  uv_run(arg, UV_RUN_DEFAULT);
  return NULL;
}

typedef struct seed {
  writer_cmd cmd;
  contact_upsert_arg a;
  char email[64], first[32], last[32];
} seed;

static const char *const firsts[] = {"Anna", "Ben", "Chloé", "Dmitri", "Eve", "Farid", "Grace",
                                     "Hiro", "Ines", "Jon"};
static const char *const lasts[] = {"Smith", "Müller", "Rossi", "Tanaka", "Okafor", "Novak",
                                    "García", "Larsen", "Kowalski", "Dubois"};

/* Seeds n contacts; ids[0..IDS) get the first ids. */
static void seed_contacts(writer_t *w, size_t n, char ids[IDS][ENTITY_ID_LEN + 1]) {
  seed *s = pv_xcalloc(WINDOW, sizeof *s);
  pv_error err = PV_ERROR_INIT;
  for (size_t base = 0; base < n; base += WINDOW) {
    size_t m = n - base < WINDOW ? n - base : WINDOW;
    atomic_store(&pending, (int)m);
    for (size_t i = 0; i < m; i++) {
      size_t k = base + i;
      memset(&s[i], 0, sizeof s[i]);
      snprintf(s[i].email, sizeof s[i].email, "person%zu@company%zu.example", k, k % 5000);
      s[i].a.in.email = s[i].email;
      s[i].a.in.first_name = firsts[k % 10];
      s[i].a.in.last_name = lasts[(k / 10) % 10];
      s[i].a.in.title = k % 3 ? "Sales Manager" : "VP Engineering";
      s[i].a.in.source = "import";
      s[i].a.in.observed_at_us = 1700000000000000 + (int64_t)k;
      if (contact_upsert_prepare(&s[i].a, &err)) die("prepare", &err);
      s[i].cmd = (writer_cmd){.tenant = "default", .actor = "bench",
                              .decide = contact_upsert_decide, .arg = &s[i].a, .done = done_cb};
      if (writer_submit(w, &s[i].cmd)) die("submit", NULL);
    }
    while (atomic_load(&pending) > 0) usleep(1000);
    for (size_t i = 0; i < m; i++) {
      if (s[i].cmd.status) die("upsert", &s[i].cmd.error);
      if (base + i < IDS) snprintf(ids[base + i], ENTITY_ID_LEN + 1, "%s", s[i].a.id);
      contact_upsert_release(&s[i].a);
    }
  }
  free(s);
}

/* Runs wrk; fills rps and p99 (ms; with --latency). Returns: 0 or -1. */
static int run_wrk(const char *args, int port, const char *path, int seconds, double *rps,
                   double *p99) {
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "wrk %s --latency -d%ds 'http://127.0.0.1:%d%s' 2>&1", args,
           seconds, port, path);
  FILE *p = popen(cmd, "r");
  if (!p) return -1;
  char line[512];
  *rps = -1;
  while (fgets(line, sizeof line, p)) {
    double v;
    char unit[8];
    if (sscanf(line, "Requests/sec: %lf", rps) == 1) continue;
    if (p99 && sscanf(line, " 99%% %lf%7s", &v, unit) == 2)
      *p99 = strcmp(unit, "us") == 0 ? v / 1000 : strcmp(unit, "s") == 0 ? v * 1000 : v;
    if (strstr(line, "Socket errors") || strstr(line, "Non-2xx")) fputs(line, stderr);
  }
  return pclose(p) == 0 && *rps >= 0 ? 0 : -1;
}

int main(void) {
  size_t n = getenv("BENCH_CONTACTS") ? (size_t)atol(getenv("BENCH_CONTACTS")) : 100000;
  int seconds = getenv("BENCH_QUERIES_SECONDS") ? atoi(getenv("BENCH_QUERIES_SECONDS")) : 5;
  if (n < IDS || sodium_init() < 0) die("BENCH_CONTACTS must be at least 1000", NULL);
  pv_error err = PV_ERROR_INIT;
  const char *tmp = getenv("TMPDIR");
  char dir[256], log_dir[300], script[300];
  snprintf(dir, sizeof dir, "%s/pivotal-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(dir)) die("mkdtemp", NULL);
  chmod(dir, 0711); /* as root the embedded cluster runs as `pivotal` */
  snprintf(log_dir, sizeof log_dir, "%s/log", dir);
  snprintf(script, sizeof script, "%s/get.lua", dir);

  /* the database */
  bench_db db;
  if (bench_db_open(&db, dir, "queries", &err)) die("database", &err);
  const char *conninfo = db.conninfo;

  /* the log, the writer, the contacts */
  log_t *log;
  writer_t *writer = NULL;
  mkdir(log_dir, 0700);
  log_options lopt = {.map_size_bytes = (size_t)1 << 30};
  if (log_open(&log, log_dir, &lopt, &err) || writer_start(&writer, log, NULL, &err))
    die("log", &err);
  static char ids[IDS][ENTITY_ID_LEN + 1];
  seed_contacts(writer, n, ids);
  const char *hash = "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA";
  users_cmd uc = {.kind = USERS_REGISTER, .user_id = "bench-agent",
                  .expected_version = LOG_EXPECT_ANY, .email = "agent@bench.example",
                  .role = "agent", .password_hash = hash, .disabled = -1};
  writer_cmd wc = {.tenant = "default", .actor = "bench", .decide = users_decide_cmd, .arg = &uc};
  if (writer_run(writer, &wc)) die("user", &wc.error);

  /* the read model */
  static const char *const names[] = {"contacts", NULL};
  proj_options popt = {.names = names};
  proj_engine *e;
  uint64_t t0 = pv_mono_ns();
  if (proj_engine_start(&e, log, writer, conninfo, &popt, &err)) die("engine", &err);
  if (proj_wait_position_sync(e, names, 1, log_head(log), 1800000)) die("catch-up", NULL);
  double fold_s = (double)(pv_mono_ns() - t0) / 1e9;

  /* the api */
  uint8_t key[32];
  randombytes_buf(key, sizeof key);
  auth_jwt *jwt;
  auth_principal pr = {.role = AUTH_ROLE_AGENT};
  snprintf(pr.user_id, sizeof pr.user_id, "bench-agent");
  snprintf(pr.tenant, sizeof pr.tenant, "default");
  char *token;
  if (auth_jwt_new(key, sizeof key, "pivotal", 900, &jwt, &err) ||
      auth_jwt_issue(jwt, &pr, (int64_t)time(NULL), &token, NULL, &err))
    die("token", &err);
  uv_loop_t loop;
  uv_loop_init(&loop);
  api_config cfg;
  api_config_init(&cfg);
  cfg.http.port = 0;
  cfg.jwt_key = key;
  cfg.jwt_key_len = sizeof key;
  cfg.database_conninfo = conninfo;
  api *a;
  if (api_new(&loop, writer, &cfg, &a, &err) || api_listen(a, &err)) die("api", &err);
  int port = http_server_port(api_http(a));
  pthread_t thread;
  pthread_create(&thread, NULL, loop_main, &loop);

  FILE *f = fopen(script, "w");
  if (!f) die("script", NULL);
  fprintf(f, "local ids = {");
  for (int i = 0; i < IDS; i++) fprintf(f, "%s'%s'", i ? "," : "", ids[i]);
  fprintf(f,
          "}\nlocal n = 0\n"
          "request = function()\n"
          "  n = n + 1\n"
          "  return wrk.format('GET', '/api/contacts/' .. ids[(n %% %d) + 1],\n"
          "    {['Authorization'] = 'Bearer %s'})\n"
          "end\n",
          IDS, token);
  fclose(f);
  /* 1 thread, 64 connections: wrk takes one core, the server and
   * PostgreSQL share the other (as bench_api) */
  char args[1024];
  double get_rps = -1, get_p99 = -1, list_rps = -1, list_p99 = -1;
  snprintf(args, sizeof args, "-t1 -c64 -s %s", script);
  int rc = run_wrk(args, port, "/", seconds, &get_rps, &get_p99);
  snprintf(args, sizeof args, "-t1 -c16 -H 'Authorization: Bearer %s'", token);
  if (rc == 0)
    rc = run_wrk(args, port, "/api/contacts?limit=50&sort=email&q=smith", seconds, &list_rps,
                 &list_p99);

  api_stop(a);
  pthread_join(thread, NULL);
  api_free(a);
  uv_run(&loop, UV_RUN_NOWAIT);
  uv_loop_close(&loop);
  proj_engine_stop(e);
  writer_stop(writer);
  log_close(log);
  auth_jwt_free(jwt);
  free(token);
  if (bench_db_close(&db, false, &err)) die("drop the database", &err);
  nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  if (rc) die("wrk failed (is it installed? scripts/deps.sh)", NULL);
  printf("bench queries.contacts %zu rows\n", n);
  printf("bench queries.fold_contacts_per_s %.0f events/s\n", (double)n / fold_s);
  printf("bench queries.get_by_id_rps %.0f req/s\n", get_rps);
  printf("bench queries.get_by_id_p99_ms %.2f ms\n", get_p99);
  printf("bench queries.list_rps %.0f req/s\n", list_rps);
  printf("bench queries.list_p99_ms %.2f ms\n", list_p99);
  return 0;
}
