/*
 * bench log — durable appends to the LMDB log, directly and through the
 * writer. Prints `bench log.FIGURE VALUE UNIT` lines:
 *   log.append_single      events/s, one event per commit (no writer)
 *   log.append_batch1000   events/s, 1,000 events per commit (no writer)
 *   log.append_cN          events/s through the writer, N concurrent submitters
 *   log.ack_p50_cN / log.ack_p99_cN   acknowledgement latency, ms
 *   log.append_async_cN    events/s with N commands kept in flight by one
 *                          libuv loop, completions handed back through
 *                          uv_async_send — the shape of the HTTP server
 *   log.ack_async_p50_cN / log.ack_async_p99_cN
 * Each figure runs for BENCH_SECONDS (default 3) in a fresh directory under
 * $TMPDIR. Durable throughout: default LMDB sync flags.
 */
#include "core/common/pv_time.h"
#include "core/log.h"
#include "core/mp.h"
#include "core/writer.h"

#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static double seconds = 3;
static pv_buf payload = PV_BUF_INIT;

static int rm_entry(const char *p, const struct stat *s, int f, struct FTW *w) {
  (void)s, (void)f, (void)w;
  return remove(p);
}

static log_t *fresh_log(char *dir) {
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, 256, "%s/pivotal-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(dir)) abort();
  log_t *log;
  log_options opt = {.map_size_bytes = (size_t)1 << 30};
  if (log_open(&log, dir, &opt, NULL)) abort();
  return log;
}

static void drop_log(log_t *log, char *dir) {
  log_close(log);
  nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static log_event_in event_in(void) {
  return (log_event_in){.tenant = "acme", .stream = "bench", .expected_version = LOG_EXPECT_ANY,
                        .type = "note.added", .type_version = 1, .actor = "bench",
                        .payload = payload.data, .payload_len = payload.len};
}

static void bench_direct(const char *figure, int per_commit) {
  char dir[256];
  log_t *log = fresh_log(dir);
  log_event_in in = event_in();
  uint64_t start = pv_mono_ns(), events = 0;
  while ((pv_mono_ns() - start) / 1e9 < seconds) {
    log_wtxn *tx;
    if (log_wtxn_begin(log, &tx)) abort();
    for (int i = 0; i < per_commit; i++)
      if (log_append(tx, &in, NULL, NULL, NULL)) abort();
    if (log_wtxn_commit(tx)) abort();
    events += (uint64_t)per_commit;
  }
  double elapsed = (pv_mono_ns() - start) / 1e9;
  printf("bench log.%s %.0f events/s\n", figure, events / elapsed);
  fflush(stdout);
  drop_log(log, dir);
}

static int decide_note(writer_ctx *ctx, void *arg, pv_error *err) {
  return writer_emit(ctx, "bench", LOG_EXPECT_ANY, "note.added", 1, payload.data, payload.len, err);
}

typedef struct submitter {
  writer_t *w;
  uint64_t deadline_ns;
  uint32_t *latencies_us;
  size_t n, cap;
} submitter;

static void *submit_loop(void *arg) {
  submitter *s = arg;
  writer_cmd cmd;
  while (pv_mono_ns() < s->deadline_ns) {
    memset(&cmd, 0, sizeof cmd);
    cmd.tenant = "acme";
    cmd.actor = "bench";
    cmd.decide = decide_note;
    uint64_t t0 = pv_mono_ns();
    if (writer_run(s->w, &cmd)) abort();
    if (s->n == s->cap) {
      s->cap = s->cap ? s->cap * 2 : 4096;
      s->latencies_us = realloc(s->latencies_us, s->cap * sizeof *s->latencies_us);
    }
    s->latencies_us[s->n++] = (uint32_t)((pv_mono_ns() - t0) / 1000);
  }
  return NULL;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static void bench_writer(int submitters) {
  char dir[256];
  log_t *log = fresh_log(dir);
  writer_t *w;
  if (writer_start(&w, log, NULL, NULL)) abort();
  pthread_t *threads = calloc((size_t)submitters, sizeof *threads);
  submitter *subs = calloc((size_t)submitters, sizeof *subs);
  uint64_t start = pv_mono_ns();
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  for (int i = 0; i < submitters; i++) {
    subs[i].w = w;
    subs[i].deadline_ns = start + (uint64_t)(seconds * 1e9);
    pthread_create(&threads[i], &attr, submit_loop, &subs[i]);
  }
  size_t total = 0;
  for (int i = 0; i < submitters; i++) {
    pthread_join(threads[i], NULL);
    total += subs[i].n;
  }
  double elapsed = (pv_mono_ns() - start) / 1e9;
  uint32_t *all = malloc(total * sizeof *all);
  size_t k = 0;
  for (int i = 0; i < submitters; i++) {
    memcpy(all + k, subs[i].latencies_us, subs[i].n * sizeof *all);
    k += subs[i].n;
    free(subs[i].latencies_us);
  }
  qsort(all, total, sizeof *all, cmp_u32);
  writer_stats st;
  writer_get_stats(w, &st);
  printf("bench log.append_c%d %.0f events/s\n", submitters, total / elapsed);
  printf("bench log.ack_p50_c%d %.3f ms\n", submitters, all[total / 2] / 1000.0);
  printf("bench log.ack_p99_c%d %.3f ms\n", submitters, all[total * 99 / 100] / 1000.0);
  printf("bench log.batch_mean_c%d %.1f commands\n", submitters,
         (double)st.commands / (double)(st.batches ? st.batches : 1));
  fflush(stdout);
  free(all);
  free(subs);
  free(threads);
  pthread_attr_destroy(&attr);
  writer_stop(w);
  drop_log(log, dir);
}

/* ---- async submitters: one loop keeps N commands in flight ------------- */

typedef struct async_cmd {
  writer_cmd cmd;
  uint64_t submitted_ns;
  struct async_cmd *next_done;
} async_cmd;

typedef struct async_bench {
  writer_t *w;
  uv_loop_t loop;
  uv_async_t completions;
  pthread_mutex_t lock;
  async_cmd *done_head; /* pushed by the writer thread */
  uint64_t deadline_ns;
  size_t in_flight;
  uint32_t *latencies_us;
  size_t n, cap;
} async_bench;

static void async_done(writer_cmd *cmd) {
  async_cmd *ac = (async_cmd *)cmd;
  async_bench *ab = cmd->done_arg;
  pthread_mutex_lock(&ab->lock);
  ac->next_done = ab->done_head;
  ab->done_head = ac;
  pthread_mutex_unlock(&ab->lock);
  uv_async_send(&ab->completions);
}

static void async_submit(async_bench *ab, async_cmd *ac) {
  memset(&ac->cmd, 0, sizeof ac->cmd);
  ac->cmd.tenant = "acme";
  ac->cmd.actor = "bench";
  ac->cmd.decide = decide_note;
  ac->cmd.done = async_done;
  ac->cmd.done_arg = ab;
  ac->submitted_ns = pv_mono_ns();
  if (writer_submit(ab->w, &ac->cmd)) abort();
  ab->in_flight++;
}

/* Drains every completion (uv_async_send coalesces) and resubmits. */
static void on_completions(uv_async_t *h) {
  async_bench *ab = h->data;
  pthread_mutex_lock(&ab->lock);
  async_cmd *list = ab->done_head;
  ab->done_head = NULL;
  pthread_mutex_unlock(&ab->lock);
  uint64_t now = pv_mono_ns();
  while (list) {
    async_cmd *ac = list;
    list = list->next_done;
    ab->in_flight--;
    if (ac->cmd.status) abort();
    if (ab->n == ab->cap) {
      ab->cap = ab->cap ? ab->cap * 2 : 65536;
      ab->latencies_us = realloc(ab->latencies_us, ab->cap * sizeof *ab->latencies_us);
    }
    ab->latencies_us[ab->n++] = (uint32_t)((now - ac->submitted_ns) / 1000);
    if (now < ab->deadline_ns) async_submit(ab, ac);
  }
  if (ab->in_flight == 0) uv_close((uv_handle_t *)h, NULL);
}

static void bench_writer_async(int in_flight) {
  char dir[256];
  log_t *log = fresh_log(dir);
  async_bench ab = {0};
  if (writer_start(&ab.w, log, NULL, NULL)) abort();
  pthread_mutex_init(&ab.lock, NULL);
  uv_loop_init(&ab.loop);
  uv_async_init(&ab.loop, &ab.completions, on_completions);
  ab.completions.data = &ab;
  async_cmd *cmds = calloc((size_t)in_flight, sizeof *cmds);
  uint64_t start = pv_mono_ns();
  ab.deadline_ns = start + (uint64_t)(seconds * 1e9);
  for (int i = 0; i < in_flight; i++) async_submit(&ab, &cmds[i]);
  uv_run(&ab.loop, UV_RUN_DEFAULT);
  double elapsed = (pv_mono_ns() - start) / 1e9;
  qsort(ab.latencies_us, ab.n, sizeof *ab.latencies_us, cmp_u32);
  printf("bench log.append_async_c%d %.0f events/s\n", in_flight, ab.n / elapsed);
  printf("bench log.ack_async_p50_c%d %.3f ms\n", in_flight, ab.latencies_us[ab.n / 2] / 1000.0);
  printf("bench log.ack_async_p99_c%d %.3f ms\n", in_flight,
         ab.latencies_us[ab.n * 99 / 100] / 1000.0);
  fflush(stdout);
  uv_loop_close(&ab.loop);
  writer_stop(ab.w);
  free(ab.latencies_us);
  free(cmds);
  pthread_mutex_destroy(&ab.lock);
  drop_log(log, dir);
}

int main(void) {
  const char *s = getenv("BENCH_SECONDS");
  if (s) seconds = atof(s);
  /* a note of ~100 bytes: about the size of a small contact update */
  msgpack_packer pk;
  mp_packer_init(&pk, &payload);
  msgpack_pack_map(&pk, 2);
  mp_pack_cstr(&pk, "subject");
  mp_pack_cstr(&pk, "contact-0123456789");
  mp_pack_cstr(&pk, "text");
  mp_pack_cstr(&pk, "Called the front desk; asked for a callback next Tuesday morning.");
  bench_direct("append_single", 1);
  bench_direct("append_batch1000", 1000);
  int levels[] = {1, 8, 64, 256};
  for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) bench_writer(levels[i]);
  bench_writer_async(256);
  bench_writer_async(1024);
  pv_buf_release(&payload);
  return 0;
}
