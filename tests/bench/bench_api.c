/*
 * bench_api — the API as `pivotal serve` runs it (log, writer, api on its
 * own loop thread, in this process), loaded by wrk with keep-alive:
 *   bench api.healthz_rps VALUE req/s       GET /healthz
 *   bench api.auth_get_rps VALUE req/s      GET /api/auth/me with a Bearer
 *                                           token (JWT check + users state)
 *   bench api.commands_per_s VALUE cmd/s    PATCH /api/users/:id display
 *                                           name: a durable command each
 *                                           (group commit), over 1000 users
 * BENCH_API_SECONDS (5) sets each run's length. The log lives in a fresh
 * temp directory, removed at the end. The machine is shared: figures vary.
 */
#include "adapters/auth/auth_jwt.h"
#include "adapters/http/handlers/api.h"
#include "core/users.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

/* 1000 users: arbitrary; spreads the commands so no user's stream (folded
 * on each decide) grows past a few hundred events in a run. */
#define BENCH_USERS 1000

static _Atomic int pending;

static void created(writer_cmd *cmd) {
  (void)cmd;
  atomic_fetch_sub(&pending, 1);
}

static void *loop_main(void *arg) {
  uv_run(arg, UV_RUN_DEFAULT);
  return NULL;
}

/* Runs wrk; Returns: requests/s, or -1. */
static double run_wrk(const char *args, int port, const char *path, int seconds) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "wrk %s -d%ds http://127.0.0.1:%d%s 2>&1", args, seconds, port,
           path);
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

int main(void) {
  int seconds = getenv("BENCH_API_SECONDS") ? atoi(getenv("BENCH_API_SECONDS")) : 5;
  char dir[] = "/tmp/bench_api.XXXXXX";
  if (!mkdtemp(dir) || sodium_init() < 0) return 1;
  char logdir[64], script[64], cmd[128];
  snprintf(logdir, sizeof logdir, "%s/log", dir);
  snprintf(script, sizeof script, "%s/patch.lua", dir);
  pv_error err = PV_ERROR_INIT;
  log_t *log;
  writer_t *writer;
  if (log_open(&log, logdir, NULL, &err) || writer_start(&writer, log, NULL, &err)) {
    fprintf(stderr, "bench_api: %s\n", err.message);
    return 1;
  }

  /* users: registered straight through the writer (any valid hash will do:
   * nobody logs in; tokens are minted with the server's key) */
  static char ids[BENCH_USERS][USERS_ID_MAX], emails[BENCH_USERS][64];
  static users_cmd ucs[BENCH_USERS];
  static writer_cmd wcs[BENCH_USERS];
  const char *hash = "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA";
  atomic_store(&pending, BENCH_USERS);
  for (int i = 0; i < BENCH_USERS; i++) {
    snprintf(ids[i], sizeof ids[i], "bench-%d", i);
    snprintf(emails[i], sizeof emails[i], "user%d@bench.example", i);
    ucs[i] = (users_cmd){.kind = USERS_REGISTER, .user_id = ids[i],
                         .expected_version = LOG_EXPECT_ANY, .email = emails[i],
                         .role = i == 0 ? "admin" : "agent", .password_hash = hash,
                         .disabled = -1};
    wcs[i] = (writer_cmd){.tenant = "default", .actor = "bench", .decide = users_decide_cmd,
                          .arg = &ucs[i], .done = created};
    if (writer_submit(writer, &wcs[i])) return 1;
  }
  while (atomic_load(&pending) > 0) usleep(1000);
  for (int i = 0; i < BENCH_USERS; i++)
    if (wcs[i].status) {
      fprintf(stderr, "bench_api: user %d: %s\n", i, wcs[i].error.message);
      return 1;
    }

  uint8_t key[32];
  randombytes_buf(key, sizeof key);
  auth_jwt *jwt;
  auth_principal p = {.role = AUTH_ROLE_ADMIN};
  snprintf(p.user_id, sizeof p.user_id, "%s", ids[0]);
  snprintf(p.tenant, sizeof p.tenant, "default");
  char *token;
  if (auth_jwt_new(key, sizeof key, "pivotal", 900, &jwt, &err) ||
      auth_jwt_issue(jwt, &p, (int64_t)time(NULL), &token, NULL, &err))
    return 1;

  uv_loop_t loop;
  uv_loop_init(&loop);
  api_config cfg;
  api_config_init(&cfg);
  cfg.http.port = 0;
  cfg.jwt_key = key;
  cfg.jwt_key_len = sizeof key;
  api *a;
  if (api_new(&loop, writer, &cfg, &a, &err) || api_listen(a, &err)) {
    fprintf(stderr, "bench_api: %s\n", err.message);
    return 1;
  }
  int port = http_server_port(api_http(a));
  pthread_t thread;
  pthread_create(&thread, NULL, loop_main, &loop);

  /* 1 thread, 64 connections: wrk takes one core, the server the other
   * (as bench_http); commands get 256 so group commits fill up. */
  double healthz = run_wrk("-t1 -c64", port, "/healthz", seconds);
  char args[1024];
  snprintf(args, sizeof args, "-t1 -c64 -H 'Authorization: Bearer %s'", token);
  double me = run_wrk(args, port, "/api/auth/me", seconds);

  FILE *f = fopen(script, "w");
  if (!f) return 1;
  fprintf(f,
          "local n = 0\n"
          "request = function()\n"
          "  n = n + 1\n"
          "  local path = '/api/users/bench-' .. (n %% %d)\n"
          "  return wrk.format('PATCH', path, {['Authorization'] = 'Bearer %s',\n"
          "    ['Content-Type'] = 'application/json'}, '{\"display_name\":\"n' .. n .. '\"}')\n"
          "end\n",
          BENCH_USERS, token);
  fclose(f);
  uint64_t head0 = log_head(log);
  snprintf(args, sizeof args, "-t1 -c256 -s %s", script);
  double commands = run_wrk(args, port, "/", seconds);
  uint64_t appended = log_head(log) - head0;

  api_stop(a);
  pthread_join(thread, NULL);
  api_free(a);
  uv_run(&loop, UV_RUN_NOWAIT);
  uv_loop_close(&loop);
  writer_stats st;
  writer_get_stats(writer, &st);
  writer_stop(writer);
  log_close(log);
  auth_jwt_free(jwt);
  free(token);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "bench_api: could not remove %s\n", dir);

  if (healthz < 0 || me < 0 || commands < 0) {
    fprintf(stderr, "bench_api: wrk failed (is it installed? scripts/deps.sh)\n");
    return 1;
  }
  printf("bench api.healthz_rps %.0f req/s\n", healthz);
  printf("bench api.auth_get_rps %.0f req/s\n", me);
  printf("bench api.commands_per_s %.0f cmd/s\n", commands);
  printf("bench api.commands_appended %llu events\n", (unsigned long long)appended);
  printf("bench api.writer_mean_batch %.1f commands\n",
         st.batches ? (double)st.commands / (double)st.batches : 0.0);
  return 0;
}
