/* serve_hooks — see serve_hooks.h. */
#include "cmd/serve_hooks.h"

#include "adapters/http/handlers/api.h"
#include "adapters/http/http_metrics.h"

#include <stdio.h>

/* Readiness: a projection is not ready when it has failed for good, has
 * stalled (not moving while behind: PostgreSQL unreachable, usually), or is
 * more than READY_MAX_LAG_S behind. 30 s, arbitrary: far above a healthy
 * lag (milliseconds, tests/bench/bench_projection.c), short enough that a
 * load balancer stops sending reads that would wait. */
#define READY_MAX_LAG_S 30.0

/* Every projection the engine runs; queries wait for all of them, since the
 * route table does not yet say which read models a route reads. */
#define HOOKS_MAX_PROJECTIONS 32

static void readiness(void *ctx, http_readiness *r) {
  serve_hooks *h = ctx;
  char detail[320];
  log_t *log = writer_log(h->writer);
  snprintf(detail, sizeof detail, "head position %llu", (unsigned long long)log_head(log));
  http_readiness_add(r, "log", true, detail);

  proj_lag lags[HOOKS_MAX_PROJECTIONS];
  size_t n = proj_engine_lag(h->projections, lags, HOOKS_MAX_PROJECTIONS);
  if (n > HOOKS_MAX_PROJECTIONS) n = HOOKS_MAX_PROJECTIONS;
  bool db_ok = true;
  for (size_t i = 0; i < n; i++) {
    const proj_lag *l = &lags[i];
    bool ok = l->state != PROJ_FAILED && l->state != PROJ_STALLED &&
              l->lag_seconds <= READY_MAX_LAG_S;
    if (l->state == PROJ_STALLED) db_ok = false;
    char name[96];
    snprintf(name, sizeof name, "projection:%s", l->name);
    snprintf(detail, sizeof detail, "%s, %llu events / %.1f s behind%s%s",
             proj_state_name(l->state), (unsigned long long)l->lag_events, l->lag_seconds,
             l->error[0] ? ": " : "", l->error);
    http_readiness_add(r, name, ok, detail);
  }
  http_readiness_add(r, "postgresql", db_ok,
                     db_ok ? "projections are writing" : "a projection cannot write; see its error");
}

static void position_reached(int rc, void *arg) { http_request_position_done(arg, rc); }

static void wait_for_projections(void *ctx, http_request *req, uint64_t position,
                                 unsigned timeout_ms) {
  serve_hooks *h = ctx;
  const char *all[HOOKS_MAX_PROJECTIONS], *names[HOOKS_MAX_PROJECTIONS];
  size_t nall = 0;
  for (size_t i = 0; i < proj_count() && nall < HOOKS_MAX_PROJECTIONS; i++)
    all[nall++] = proj_at(i)->name;
  /* what the route reads (api_reads.c) */
  size_t n = api_route_waits_for(http_request_route(req), all, nall, names, nall);
  if (n == 0) return http_request_position_done(req, 0);
  int rc = proj_wait_position(h->projections, names, n, position, timeout_ms,
                              http_request_loop(req), position_reached, req);
  if (rc) http_request_position_done(req, rc);
}

static void add_histogram(pv_buf *out, const char *name, const char *help, const uint64_t *buckets,
                          size_t n, double unit, uint64_t count, double sum) {
  pv_buf_addf(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
  uint64_t cumulative = 0;
  for (size_t b = 0; b < n; b++) {
    cumulative += buckets[b];
    pv_buf_addf(out, "%s_bucket{le=\"%g\"} %llu\n", name, (double)(1ull << b) * unit,
                (unsigned long long)cumulative);
  }
  pv_buf_addf(out, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.9g\n%s_count %llu\n", name,
              (unsigned long long)count, name, sum, name, (unsigned long long)count);
}

static void collect(void *ctx, pv_buf *out) {
  serve_hooks *h = ctx;
  writer_stats st;
  writer_get_stats(h->writer, &st);
  pv_buf_addf(out,
              "# HELP pivotal_writer_commands_total Commands the writer settled.\n"
              "# TYPE pivotal_writer_commands_total counter\n"
              "pivotal_writer_commands_total %llu\n"
              "# HELP pivotal_writer_failed_commands_total Commands answered with an error.\n"
              "# TYPE pivotal_writer_failed_commands_total counter\n"
              "pivotal_writer_failed_commands_total %llu\n"
              "# HELP pivotal_writer_events_total Events appended to the log.\n"
              "# TYPE pivotal_writer_events_total counter\n"
              "pivotal_writer_events_total %llu\n"
              "# HELP pivotal_log_map_grows_total Times the log's map grew.\n"
              "# TYPE pivotal_log_map_grows_total counter\n"
              "pivotal_log_map_grows_total %llu\n"
              "# HELP pivotal_log_head_position The log's last committed position.\n"
              "# TYPE pivotal_log_head_position gauge\n"
              "pivotal_log_head_position %llu\n",
              (unsigned long long)st.commands, (unsigned long long)st.failed_commands,
              (unsigned long long)st.events, (unsigned long long)st.map_grows,
              (unsigned long long)log_head(writer_log(h->writer)));
  /* the writer's buckets: commit ≤ 2^i µs (and one over), batch ≤ 2^i */
  add_histogram(out, "pivotal_writer_commit_seconds", "Group commit latency (one fsync each).",
                st.commit_us_buckets, 16, 1e-6, st.batches, st.commit_ns_total / 1e9);
  uint64_t batch_sum = st.commands;
  add_histogram(out, "pivotal_writer_batch_commands", "Commands per group commit.",
                st.batch_size_buckets, 13, 1, st.batches, (double)batch_sum);

  proj_lag lags[HOOKS_MAX_PROJECTIONS];
  size_t n = proj_engine_lag(h->projections, lags, HOOKS_MAX_PROJECTIONS);
  if (n > HOOKS_MAX_PROJECTIONS) n = HOOKS_MAX_PROJECTIONS;
  pv_buf_addstr(out, "# HELP pivotal_projection_lag_events Events the projection is behind.\n"
                     "# TYPE pivotal_projection_lag_events gauge\n");
  for (size_t i = 0; i < n; i++)
    pv_buf_addf(out, "pivotal_projection_lag_events{projection=\"%s\"} %llu\n", lags[i].name,
                (unsigned long long)lags[i].lag_events);
  pv_buf_addstr(out, "# HELP pivotal_projection_lag_seconds Age of the oldest unprojected event.\n"
                     "# TYPE pivotal_projection_lag_seconds gauge\n");
  for (size_t i = 0; i < n; i++)
    pv_buf_addf(out, "pivotal_projection_lag_seconds{projection=\"%s\"} %.6f\n", lags[i].name,
                lags[i].lag_seconds);
  pv_buf_addstr(out, "# HELP pivotal_projection_checkpoint Last position folded.\n"
                     "# TYPE pivotal_projection_checkpoint gauge\n");
  for (size_t i = 0; i < n; i++)
    pv_buf_addf(out, "pivotal_projection_checkpoint{projection=\"%s\"} %llu\n", lags[i].name,
                (unsigned long long)lags[i].checkpoint);
}

void serve_hooks_install(serve_hooks *hooks, http_server *srv) {
  http_server_set_readiness(srv, readiness, hooks);
  http_server_set_position_waiter(srv, wait_for_projections, hooks);
  http_metrics_add_collector(collect, hooks);
}

void serve_hooks_remove(serve_hooks *hooks) { http_metrics_remove_collector(collect, hooks); }
