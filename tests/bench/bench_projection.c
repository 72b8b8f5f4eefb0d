/*
 * bench projection — the projection engine against a real PostgreSQL.
 * Prints `bench projection.FIGURE VALUE UNIT` lines:
 *   projection.events_per_s     catch-up of BENCH_EVENTS events (default
 *                               1,000,000) into audit_events: a contacts-like
 *                               table, primary key and two indexes, payload
 *                               as jsonb; one COPY + checkpoint per batch
 *   projection.copy_rows_per_s  a plain COPY of the same rows (rendered
 *                               beforehand, chunk by chunk) into a table of
 *                               the same shape, in the same run: the ceiling
 *   projection.rebuild_1m_s     `rebuild audit_events` over the log
 *                               (extrapolated to 1M when BENCH_EVENTS is less)
 *   projection.lag_p50_ms / lag_p99_ms
 *                               time from a commit until both projections
 *                               have passed it, sampled every 5 ms under a
 *                               steady 10,000 commands/s through the writer
 *                               for BENCH_SECONDS (default 5)
 * The database: PIVOTAL_TEST_DATABASE_URL (a fresh database is made in that
 * cluster), else a throwaway embedded cluster in a temporary directory, the
 * mechanism the tests use.
 */
#include "tests/bench/bench_db.h"
#include "core/common/pv_time.h"
#include "core/mp.h"
#include "core/writer.h"
#include "projections/proj.h"
#include "core/catalog.h"

#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Arbitrary: ~35 MiB of rendered rows per COPY. */
#define COPY_CHUNK_ROWS 100000
#define LAG_RATE 10000 /* commands/s, the steady load */

static void die(const char *what, const pv_error *err) {
  fprintf(stderr, "bench projection: %s: %s %s\n", what, err ? err->message : "",
          err ? err->detail : "");
  exit(1);
}

static int rm_entry(const char *p, const struct stat *s, int f, struct FTW *w) {
  (void)s, (void)f, (void)w;
  return remove(p);
}

static void exec_or_die(pg_conn *c, const char *sql) {
  pv_error err = PV_ERROR_INIT;
  if (pg_exec(c, sql, 0, NULL, NULL, &err)) die(sql, &err);
}

static double env_num(const char *name, double def) {
  const char *v = getenv(name);
  return v && *v ? atof(v) : def;
}

/* A contact-ish note: ~150 bytes of payload. */
static void note_payload(pv_buf *out, uint64_t i) {
  char subject[32], text[160];
  snprintf(subject, sizeof subject, "contact-%" PRIu64, i % 100000);
  snprintf(text, sizeof text,
           "Called %" PRIu64 " about the Q3 renewal; asked for a quote on 40 seats, "
           "follow up \"next week\" with pricing.",
           i);
  msgpack_packer pk;
  pv_buf_reset(out);
  mp_packer_init(&pk, out);
  msgpack_pack_map(&pk, 2);
  mp_pack_cstr(&pk, "subject");
  mp_pack_cstr(&pk, subject);
  mp_pack_cstr(&pk, "text");
  mp_pack_cstr(&pk, text);
}

static void append_events(log_t *log, uint64_t n) {
  pv_buf payload = PV_BUF_INIT;
  for (uint64_t done = 0; done < n;) {
    log_wtxn *tx;
    if (log_wtxn_begin(log, &tx)) die("log begin", NULL);
    uint64_t end = done + 10000 < n ? done + 10000 : n;
    for (; done < end; done++) {
      char tenant[8], stream[32], actor[16];
      snprintf(tenant, sizeof tenant, "t%" PRIu64, done % 4);
      snprintf(stream, sizeof stream, "contact-%" PRIu64, done % 100000);
      snprintf(actor, sizeof actor, "user:%" PRIu64, done % 50);
      note_payload(&payload, done);
      log_event_in in = {.tenant = tenant, .stream = stream, .expected_version = LOG_EXPECT_ANY,
                         .type = "note.added", .type_version = 1, .actor = actor,
                         .correlation = "bench", .payload = payload.data,
                         .payload_len = payload.len};
      if (log_append(tx, &in, NULL, NULL, NULL)) die("append", NULL);
    }
    if (log_wtxn_commit(tx)) die("log commit", NULL);
  }
  pv_buf_release(&payload);
}

/* ---- plain COPY of the same rows ----------------------------------------- */

typedef struct copy_ctx {
  pv_buf text;        /* NUL-separated values, 10 per row */
  size_t rows;
} copy_ctx;

static int render_row(void *arg, const evt_envelope *e, const uint8_t *raw, size_t len) {
  copy_ctx *c = arg;
  char ts[32];
  pv_format_rfc3339_us(e->ts_us, ts);
  pv_buf_addf(&c->text, "%" PRIu64 "%c%s%c%.*s%c%.*s%c%" PRIu64 "%c%.*s%c%u%c%.*s%c%.*s%c",
              e->position, 0, ts, 0, (int)e->tenant.len, e->tenant.ptr, 0, (int)e->stream.len,
              e->stream.ptr, 0, e->stream_version, 0, (int)e->type.len, e->type.ptr, 0,
              e->type_version, 0, (int)e->actor.len, e->actor.ptr, 0, (int)e->correlation.len,
              e->correlation.ptr, 0);
  cat_payload_json(cat_find(e->type.ptr, e->type.len, e->type_version), e->payload,
                   e->payload_len, &c->text);
  pv_buf_addch(&c->text, 0);
  c->rows++;
  return 0;
}

/* COPYs the rows of every event into a table of the same shape, chunk by
 * chunk in one transaction; only the COPYs are timed (the rows are
 * rendered before each chunk's COPY starts), so this is PostgreSQL's
 * ceiling for the same rows into a table of the same size. */
static double copy_rows_per_s(log_t *log, pg_conn *c) {
  exec_or_die(c, "DROP TABLE IF EXISTS public.bench_copy");
  exec_or_die(c, "CREATE TABLE public.bench_copy (LIKE rm_audit_events.events INCLUDING ALL)");
  exec_or_die(c, "BEGIN");
  pv_error err = PV_ERROR_INIT;
  copy_ctx ctx = {PV_BUF_INIT, 0};
  uint64_t next = 1, copy_ns = 0, rows = 0;
  for (;;) {
    uint64_t from = next;
    pv_buf_reset(&ctx.text);
    ctx.rows = 0;
    if (log_scan(log, from, COPY_CHUNK_ROWS, 256u << 20, render_row, &ctx, &next))
      die("scan", NULL);
    if (next == from) break;
    uint64_t t0 = pv_mono_ns();
    if (pg_copy_begin(c, "COPY public.bench_copy FROM STDIN", &err)) die("copy", &err);
    const char *p = ctx.text.data;
    for (size_t r = 0; r < ctx.rows; r++) {
      const char *values[10];
      for (int k = 0; k < 10; k++) {
        values[k] = p;
        p += strlen(p) + 1;
      }
      if (pg_copy_row(c, 10, values, &err)) die("copy row", &err);
    }
    if (pg_copy_end(c, NULL, &err)) die("copy end", &err);
    copy_ns += pv_mono_ns() - t0;
    rows += ctx.rows;
  }
  uint64_t t0 = pv_mono_ns();
  exec_or_die(c, "COMMIT");
  copy_ns += pv_mono_ns() - t0;
  exec_or_die(c, "DROP TABLE public.bench_copy");
  pv_buf_release(&ctx.text);
  return (double)rows / ((double)copy_ns / 1e9);
}

/* ---- lag under a steady load ---------------------------------------------- */

typedef struct lag_run {
  writer_t *w;
  proj_engine *e;
  log_t *log;
  double seconds;
  atomic_bool done;
  double *samples;
  size_t nsamples, cap;
} lag_run;

static int decide_note(writer_ctx *ctx, void *arg, pv_error *err) {
  pv_buf payload = PV_BUF_INIT;
  note_payload(&payload, (uintptr_t)arg);
  int rc = writer_emit(ctx, "contact-1", LOG_EXPECT_ANY, "note.added", 1, payload.data,
                       payload.len, err);
  pv_buf_release(&payload);
  return rc;
}

static atomic_uint_fast64_t commands_failed;

static void cmd_done(writer_cmd *cmd) {
  if (cmd->status) atomic_fetch_add(&commands_failed, 1);
  free(cmd);
}

/* Open loop: every millisecond, the commands due by then. */
static void *load_main(void *arg) {
  lag_run *r = arg;
  uint64_t t0 = pv_mono_ns(), sent = 0;
  for (;;) {
    uint64_t elapsed = pv_mono_ns() - t0;
    if ((double)elapsed / 1e9 >= r->seconds) break;
    uint64_t due = elapsed * LAG_RATE / 1000000000ull;
    for (; sent < due; sent++) {
      writer_cmd *cmd = pv_xcalloc(1, sizeof *cmd);
      cmd->tenant = "acme";
      cmd->actor = "user:1";
      cmd->decide = decide_note;
      cmd->arg = (void *)(uintptr_t)sent;
      cmd->done = cmd_done;
      if (writer_submit(r->w, cmd)) free(cmd);
    }
    usleep(1000);
  }
  atomic_store(&r->done, true);
  return NULL;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void measure_lag(lag_run *r) {
  static const char *const names[] = {"event_counts", "audit_events"};
  pthread_t load;
  pthread_create(&load, NULL, load_main, r);
  while (!atomic_load(&r->done)) {
    uint64_t position = log_head(r->log);
    uint64_t t0 = pv_mono_ns();
    if (proj_wait_position_sync(r->e, names, 2, position, 30000)) die("lag wait", NULL);
    if (r->nsamples == r->cap) {
      r->cap = r->cap ? r->cap * 2 : 1024;
      r->samples = pv_xrealloc(r->samples, r->cap * sizeof *r->samples);
    }
    r->samples[r->nsamples++] = (double)(pv_mono_ns() - t0) / 1e6;
    usleep(5000);
  }
  pthread_join(load, NULL);
  qsort(r->samples, r->nsamples, sizeof *r->samples, cmp_double);
}

/* ---- main ---------------------------------------------------------------------- */

int main(void) {
  uint64_t n = (uint64_t)env_num("BENCH_EVENTS", 1000000);
  double lag_seconds = env_num("BENCH_SECONDS", 5);
  pv_error err = PV_ERROR_INIT;
  const char *tmp = getenv("TMPDIR");
  char dir[256], log_dir[300], lag_dir[300];
  snprintf(dir, sizeof dir, "%s/pivotal-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(dir)) die("mkdtemp", NULL);
  chmod(dir, 0711); /* as root the embedded cluster runs as `pivotal` */
  snprintf(log_dir, sizeof log_dir, "%s/log", dir);
  snprintf(lag_dir, sizeof lag_dir, "%s/lag", dir);

  /* the database */
  bench_db db;
  if (bench_db_open(&db, dir, "projection", &err)) die("database", &err);
  const char *conninfo = db.conninfo;
  pg_conn *c;
  if (pg_connect(&c, conninfo, &err)) die("connect", &err);

  /* the log */
  log_t *log;
  mkdir(log_dir, 0700);
  log_options lopt = {.map_size_bytes = (size_t)1 << 30};
  if (log_open(&log, log_dir, &lopt, &err)) die("log", &err);
  append_events(log, n);

  /* 1. catch-up throughput into audit_events */
  static const char *const audit_only[] = {"audit_events", NULL};
  proj_options popt = {.names = audit_only};
  proj_engine *e;
  uint64_t t0 = pv_mono_ns();
  if (proj_engine_start(&e, log, NULL, conninfo, &popt, &err)) die("engine", &err);
  if (proj_wait_position_sync(e, audit_only, 1, n, 600000)) die("catch-up", NULL);
  double catchup_s = (double)(pv_mono_ns() - t0) / 1e9;
  proj_engine_stop(e);
  double events_per_s = (double)n / catchup_s;
  printf("bench projection.events_per_s %.0f events/s\n", events_per_s);
  fflush(stdout);

  /* 2. the COPY ceiling */
  double copy = copy_rows_per_s(log, c);
  printf("bench projection.copy_rows_per_s %.0f rows/s\n", copy);
  printf("bench projection.events_vs_copy %.0f %%\n", 100 * events_per_s / copy);
  fflush(stdout);

  /* 3. rebuild */
  t0 = pv_mono_ns();
  if (proj_rebuild(log, c, proj_find("audit_events"), NULL, NULL, NULL, &err)) die("rebuild", &err);
  double rebuild_s = (double)(pv_mono_ns() - t0) / 1e9;
  if (n != 1000000)
    printf("# rebuild of %" PRIu64 " events took %.2f s; extrapolated to 1M below\n", n, rebuild_s);
  printf("bench projection.rebuild_1m_s %.2f s\n", rebuild_s * 1e6 / (double)n);
  fflush(stdout);
  log_close(log);

  /* 4. lag under a steady load, both projections, from empty read models */
  exec_or_die(c, "TRUNCATE rm_audit_events.events, rm_event_counts.counts");
  exec_or_die(c, "UPDATE pivotal.proj_checkpoint SET position = 0");
  mkdir(lag_dir, 0700);
  if (log_open(&log, lag_dir, &lopt, &err)) die("log", &err);
  lag_run r = {.log = log, .seconds = lag_seconds};
  if (writer_start(&r.w, log, NULL, &err)) die("writer", &err);
  if (proj_engine_start(&r.e, log, r.w, conninfo, NULL, &err)) die("engine", &err);
  measure_lag(&r);
  proj_engine_stop(r.e);
  writer_stop(r.w);
  printf("# lag: %zu samples over %.0f s at %d commands/s, %" PRIu64 " commands failed\n",
         r.nsamples, lag_seconds, LAG_RATE, (uint64_t)atomic_load(&commands_failed));
  printf("bench projection.lag_p50_ms %.2f ms\n", r.samples[r.nsamples / 2]);
  printf("bench projection.lag_p99_ms %.2f ms\n", r.samples[r.nsamples * 99 / 100]);
  free(r.samples);
  log_close(log);

  pg_conn_free(c);
  if (bench_db_close(&db, false, &err)) die("drop the database", &err);
  nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  return 0;
}
