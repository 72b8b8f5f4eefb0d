/*
 * writer — see writer.h for the contract.
 *
 * Why the order is drain → decide → append → commit → answer (Redis's
 * beforeSleep order for its always-fsync AOF): a command is acknowledged
 * only after the commit that holds it has returned, so an acknowledged
 * command survives any crash; and every command that arrived while the
 * previous batch was being committed shares the next commit's fsync, so the
 * cost of durability is paid per batch, not per command.
 *
 * Why a failed commit is fatal: after mdb_txn_commit() fails we cannot know
 * what reached the disk, and a retry may "succeed" over a page the kernel
 * already dropped (PostgreSQL's fsync lesson, fd.c above data_sync_elevel).
 * Every waiter of the batch is answered PV_EIO, intake stops, and the
 * process exits; recovery is a restart from the last committed transaction.
 * MDB_MAP_FULL is not such a failure: the transaction is aborted, the map
 * grown, and the whole batch decided again from the start.
 */
#include "core/writer.h"

#include "core/catalog.h"
#include "core/common/pv_buf.h"
#include "core/common/pv_time.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* 4096 commands: a full batch decides in ~4 ms at the measured ~1 µs per
 * command; the 1 ms budget below usually ends a batch first. */
#define WRITER_DEFAULT_MAX_BATCH 4096
/* About 1 ms of deciding per batch keeps acknowledgement latency bounded
 * when the queue is deep; issue #2 asks for "about 1 ms". When the disk is
 * slower than that, a batch may decide for as long as the last commit took
 * (capped below): with a 7 ms fsync and a 1 ms budget the writer would
 * spend 7/8 of its time waiting on the disk with only ~70 contact upserts
 * per commit (measured, tests/bench/bench_contacts_core on a loaded
 * disk); letting deciding keep pace with committing holds throughput near
 * 1 / (2 × decide cost) whatever the disk, at about two commits of latency. */
#define WRITER_DEFAULT_MAX_BATCH_US 1000
#define WRITER_MAX_ADAPTIVE_BATCH_US 20000
/* How often stale LMDB reader slots of dead processes are cleared. */
#define WRITER_READER_CHECK_S 10
#define WRITER_MAX_SUBSCRIBERS 16

typedef enum op_kind { OP_EVENT, OP_UNIQUE_PUT, OP_UNIQUE_DEL, OP_SUPP_PUT, OP_SUPP_DEL } op_kind;

/* One staged change; strings and bytes live in writer_ctx.bytes at offsets
 * (the buffer may move while a command stages). */
typedef struct staged_op {
  op_kind kind;
  size_t a, b, c;      /* EVENT: stream, type, payload; others: kind/channel, value, entity/record */
  size_t c_len;        /* payload or record length */
  int64_t expected;    /* EVENT */
  uint32_t type_version;
} staged_op;

struct writer_ctx {
  writer_t *w;
  log_wtxn *tx;
  writer_sim *sim; /* a dry run: reads the sim's snapshot and overlay, not tx */
  writer_cmd *cmd;
  staged_op *ops;
  size_t op_count, op_cap;
  pv_buf bytes;
};

struct writer {
  log_t *log;
  writer_options opt;
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t wake;
  writer_cmd *queue_head, *queue_tail;
  bool stopping;
  _Atomic bool failed;
  uv_async_t *subscribers[WRITER_MAX_SUBSCRIBERS];
  size_t subscriber_count;
  pthread_mutex_t stats_lock;
  writer_stats stats;
  writer_ctx ctx;
  writer_cmd **batch;
  uint64_t last_commit_ns; /* writer thread only: the batch budget adapts to it */
  /* the answering thread (see answer_batch) */
  pthread_t answerer;
  pthread_mutex_t answer_lock;
  pthread_cond_t answer_wake, answer_idle;
  writer_cmd *answer_head, *answer_tail;
  bool answering, answer_stop;
  bool threads_started;
};

/* ---- the ctx API ------------------------------------------------------ */

static const char *ctx_str(const writer_ctx *ctx, size_t off) { return ctx->bytes.data + off; }

static size_t ctx_add_str(writer_ctx *ctx, const char *s) {
  size_t off = ctx->bytes.len;
  pv_buf_add(&ctx->bytes, s, strlen(s) + 1);
  return off;
}

static size_t ctx_add_bytes(writer_ctx *ctx, const void *p, size_t n) {
  size_t off = ctx->bytes.len;
  pv_buf_add(&ctx->bytes, p, n);
  return off;
}

static staged_op *ctx_push(writer_ctx *ctx, op_kind kind) {
  if (ctx->op_count == ctx->op_cap) {
    ctx->op_cap = ctx->op_cap ? ctx->op_cap * 2 : 16;
    ctx->ops = pv_xrealloc(ctx->ops, ctx->op_cap * sizeof *ctx->ops);
  }
  staged_op *op = &ctx->ops[ctx->op_count++];
  memset(op, 0, sizeof *op);
  op->kind = kind;
  return op;
}

const char *writer_ctx_tenant(const writer_ctx *ctx) { return ctx->cmd->tenant; }
const char *writer_ctx_actor(const writer_ctx *ctx) { return ctx->cmd->actor; }

static uint64_t staged_on_stream(const writer_ctx *ctx, const char *stream) {
  uint64_t n = 0;
  for (size_t i = 0; i < ctx->op_count; i++)
    if (ctx->ops[i].kind == OP_EVENT && strcmp(ctx_str(ctx, ctx->ops[i].a), stream) == 0) n++;
  return n;
}

static int sim_stream_version(writer_sim *s, const char *stream, uint64_t *version);
static uint64_t sim_head(const writer_sim *s);
static int sim_read_stream(writer_sim *s, const char *stream, uint64_t from_version,
                           log_visit_fn visit, void *arg);
static int sim_unique_get(writer_sim *s, const char *kind, const char *value, char *out,
                          size_t cap);
static int sim_suppression_get(writer_sim *s, const char *channel, const char *value,
                               const void **rec, size_t *len);

/* The stream's version before this command's staged events. */
static int ctx_base_version(writer_ctx *ctx, const char *stream, uint64_t *version) {
  if (ctx->sim) return sim_stream_version(ctx->sim, stream, version);
  return log_wtxn_stream_version(ctx->tx, ctx->cmd->tenant, stream, version);
}

int writer_stream_version(writer_ctx *ctx, const char *stream, uint64_t *version) {
  int rc = ctx_base_version(ctx, stream, version);
  if (rc == 0) *version += staged_on_stream(ctx, stream);
  return rc;
}

uint64_t writer_next_position(writer_ctx *ctx) {
  uint64_t staged = 0;
  for (size_t i = 0; i < ctx->op_count; i++)
    if (ctx->ops[i].kind == OP_EVENT) staged++;
  return (ctx->sim ? sim_head(ctx->sim) : log_wtxn_head(ctx->tx)) + staged + 1;
}

int writer_read_stream(writer_ctx *ctx, const char *stream, uint64_t from_version,
                       log_visit_fn visit, void *arg) {
  if (ctx->sim) return sim_read_stream(ctx->sim, stream, from_version, visit, arg);
  return log_wtxn_read_stream(ctx->tx, ctx->cmd->tenant, stream, from_version, visit, arg);
}

int writer_emit(writer_ctx *ctx, const char *stream, int64_t expected_version,
                const char *type, uint32_t type_version, const void *payload,
                size_t payload_len, pv_error *err) {
  if (!stream || !*stream || strlen(stream) > EVT_MAX_STREAM)
    return pv_error_set(err, PV_EINVAL, "stream", "stream id must be 1 to %d bytes",
                        EVT_MAX_STREAM);
  const cat_event *ev = cat_find(type, strlen(type), type_version);
  if (!ev)
    return pv_error_set(err, PV_EINVAL, "type", "event type \"%s\" v%u is not in the catalogue",
                        type, type_version);
  /* leave room for the envelope's other fields (< 1 KiB with every cap) */
  if (payload_len > EVT_MAX_BYTES - 1024)
    return pv_error_set(err, PV_ETOOBIG, "/payload", "event payload is too large");
  int rc = cat_validate(ev, payload, payload_len, err);
  if (rc) return rc;
  staged_op *op = ctx_push(ctx, OP_EVENT);
  op->a = ctx_add_str(ctx, stream);
  op->b = ctx_add_str(ctx, ev->type);
  op->c = ctx_add_bytes(ctx, payload, payload_len);
  op->c_len = payload_len;
  op->expected = expected_version;
  op->type_version = type_version;
  return 0;
}

int writer_unique_get(writer_ctx *ctx, const char *kind, const char *value, char *out,
                      size_t cap) {
  if (ctx->sim) return sim_unique_get(ctx->sim, kind, value, out, cap);
  return log_unique_get(ctx->tx, ctx->cmd->tenant, kind, value, out, cap);
}

/* Index keys are tenant \0 kind \0 value and must fit LMDB's key size. */
static int check_index_key(const writer_ctx *ctx, const char *kind, const char *value) {
  return strlen(ctx->cmd->tenant) + strlen(kind) + strlen(value) + 2 > LOG_MAX_KEY_BYTES
             ? PV_EINVAL
             : 0;
}

int writer_unique_put(writer_ctx *ctx, const char *kind, const char *value,
                      const char *entity_id) {
  if (check_index_key(ctx, kind, value)) return PV_EINVAL;
  staged_op *op = ctx_push(ctx, OP_UNIQUE_PUT);
  op->a = ctx_add_str(ctx, kind);
  op->b = ctx_add_str(ctx, value);
  op->c = ctx_add_str(ctx, entity_id);
  return 0;
}

int writer_unique_del(writer_ctx *ctx, const char *kind, const char *value) {
  if (check_index_key(ctx, kind, value)) return PV_EINVAL;
  staged_op *op = ctx_push(ctx, OP_UNIQUE_DEL);
  op->a = ctx_add_str(ctx, kind);
  op->b = ctx_add_str(ctx, value);
  return 0;
}

int writer_suppression_get(writer_ctx *ctx, const char *channel, const char *value,
                           const void **rec, size_t *len) {
  if (ctx->sim) return sim_suppression_get(ctx->sim, channel, value, rec, len);
  return log_wtxn_suppression_get(ctx->tx, ctx->cmd->tenant, channel, value, rec, len);
}

int writer_suppression_put(writer_ctx *ctx, const char *channel, const char *value,
                           const void *rec, size_t len) {
  if (check_index_key(ctx, channel, value)) return PV_EINVAL;
  staged_op *op = ctx_push(ctx, OP_SUPP_PUT);
  op->a = ctx_add_str(ctx, channel);
  op->b = ctx_add_str(ctx, value);
  op->c = ctx_add_bytes(ctx, rec, len);
  op->c_len = len;
  return 0;
}

int writer_suppression_del(writer_ctx *ctx, const char *channel, const char *value) {
  if (check_index_key(ctx, channel, value)) return PV_EINVAL;
  staged_op *op = ctx_push(ctx, OP_SUPP_DEL);
  op->a = ctx_add_str(ctx, channel);
  op->b = ctx_add_str(ctx, value);
  return 0;
}

/* ---- deciding and applying one command --------------------------------- */

static void reset_result(writer_cmd *cmd) {
  cmd->status = 0;
  pv_error_clear(&cmd->error);
  cmd->first_position = 0;
  cmd->event_count = 0;
  cmd->replayed = false;
  cmd->stream[0] = '\0';
  cmd->stream_version = 0;
}

static void copy_stream(writer_cmd *cmd, mp_slice s, uint64_t version) {
  size_t n = s.len < EVT_MAX_STREAM ? s.len : EVT_MAX_STREAM;
  memcpy(cmd->stream, s.ptr, n);
  cmd->stream[n] = '\0';
  cmd->stream_version = version;
}

/* Every staged event must meet its stream's expected version, counting the
 * command's own earlier events on the same stream. Checked before anything
 * is written, so a conflict leaves nothing behind. */
static int check_expected_versions(writer_ctx *ctx, pv_error *err) {
  for (size_t i = 0; i < ctx->op_count; i++) {
    staged_op *op = &ctx->ops[i];
    if (op->kind != OP_EVENT || op->expected == LOG_EXPECT_ANY) continue;
    const char *stream = ctx_str(ctx, op->a);
    uint64_t version;
    int rc = ctx_base_version(ctx, stream, &version);
    if (rc) return pv_error_set(err, rc, NULL, "could not read stream \"%s\"", stream);
    for (size_t j = 0; j < i; j++)
      if (ctx->ops[j].kind == OP_EVENT && strcmp(ctx_str(ctx, ctx->ops[j].a), stream) == 0)
        version++;
    if ((uint64_t)op->expected != version) {
      pv_error_set(err, PV_ECONFLICT, NULL, "stream \"%s\" is at version %llu, not %lld",
                   stream, (unsigned long long)version, (long long)op->expected);
      pv_error_hint(err, "Read the entity again and retry with its current version.");
      return PV_ECONFLICT;
    }
  }
  return 0;
}

/* Applies the staged changes. Only storage errors can happen here
 * (PV_EFULL: grow and redo; PV_EIO: fatal): the checks ran before. */
static int apply_staged(writer_ctx *ctx, pv_error *err) {
  writer_cmd *cmd = ctx->cmd;
  const char *tenant = cmd->tenant;
  int rc = 0;
  for (size_t i = 0; i < ctx->op_count && rc == 0; i++) {
    staged_op *op = &ctx->ops[i];
    switch (op->kind) {
    case OP_EVENT: {
      log_event_in in = {
          .tenant = tenant,
          .stream = ctx_str(ctx, op->a),
          .expected_version = LOG_EXPECT_ANY,
          .type = ctx_str(ctx, op->b),
          .type_version = op->type_version,
          .actor = cmd->actor,
          .correlation = cmd->correlation_id,
          .idempotency = cmd->event_count == 0 ? cmd->idempotency_key : NULL,
          .payload = ctx->bytes.data + op->c,
          .payload_len = op->c_len,
      };
      uint64_t pos, version;
      rc = log_append(ctx->tx, &in, &pos, &version, err);
      if (rc == 0 && cmd->event_count++ == 0) {
        cmd->first_position = pos;
        copy_stream(cmd, evt_str(in.stream), version);
      }
      break;
    }
    case OP_UNIQUE_PUT:
      rc = log_unique_put(ctx->tx, tenant, ctx_str(ctx, op->a), ctx_str(ctx, op->b),
                          ctx_str(ctx, op->c));
      break;
    case OP_UNIQUE_DEL:
      rc = log_unique_del(ctx->tx, tenant, ctx_str(ctx, op->a), ctx_str(ctx, op->b));
      if (rc == PV_ENOTFOUND) rc = 0;
      break;
    case OP_SUPP_PUT:
      rc = log_suppression_put(ctx->tx, tenant, ctx_str(ctx, op->a), ctx_str(ctx, op->b),
                               ctx->bytes.data + op->c, op->c_len);
      break;
    case OP_SUPP_DEL:
      rc = log_suppression_del(ctx->tx, tenant, ctx_str(ctx, op->a), ctx_str(ctx, op->b));
      if (rc == PV_ENOTFOUND) rc = 0;
      break;
    }
  }
  if (rc == 0 && cmd->idempotency_key) {
    log_idem rec = {cmd->first_position, cmd->event_count};
    rc = log_idem_put(ctx->tx, tenant, cmd->idempotency_key, &rec);
  }
  if (rc && rc != PV_EFULL && !err->code) pv_error_set(err, rc, NULL, NULL);
  return rc;
}

/* Answers a retried command from its idempotency record. */
static int replay_idempotent(writer_ctx *ctx, const log_idem *rec) {
  writer_cmd *cmd = ctx->cmd;
  cmd->replayed = true;
  cmd->first_position = rec->first_position;
  cmd->event_count = rec->event_count;
  if (rec->event_count == 0) return 0;
  evt_envelope e;
  int rc = log_wtxn_read_event(ctx->tx, rec->first_position, &e);
  if (rc) return pv_error_set(&cmd->error, PV_ECORRUPT, NULL,
                              "the event of an idempotency record is missing");
  copy_stream(cmd, e.stream, e.stream_version);
  return 0;
}

/* Runs one command inside the batch's transaction. Returns 0 when the
 * command is settled (succeeded or failed on its own), or a storage error
 * that ends the batch: PV_EFULL (grow and redo) or PV_EIO (fatal). */
static int run_command(writer_t *w, log_wtxn *tx, writer_cmd *cmd) {
  writer_ctx *ctx = &w->ctx;
  ctx->tx = tx;
  ctx->cmd = cmd;
  ctx->op_count = 0;
  pv_buf_reset(&ctx->bytes);
  reset_result(cmd);

  if (cmd->idempotency_key) {
    log_idem rec;
    int rc = log_idem_get(tx, cmd->tenant, cmd->idempotency_key, &rec);
    if (rc == 0) {
      cmd->status = replay_idempotent(ctx, &rec);
      return 0;
    }
    if (rc != PV_ENOTFOUND) {
      cmd->status = pv_error_set(&cmd->error, rc, NULL, "could not read the idempotency record");
      return 0;
    }
  }
  int rc = cmd->decide(ctx, cmd->arg, &cmd->error);
  if (rc == 0) rc = check_expected_versions(ctx, &cmd->error);
  if (rc) {
    if (!cmd->error.code) pv_error_set(&cmd->error, rc, NULL, NULL);
    cmd->status = rc;
    return 0;
  }
  rc = apply_staged(ctx, &cmd->error);
  if (rc == PV_EFULL) return PV_EFULL;
  if (rc) {
    cmd->status = rc;
    return PV_EIO;
  }
  return 0;
}

/* ---- the batch loop --------------------------------------------------- */

static void record_stats(writer_t *w, size_t commands, uint64_t commit_ns) {
  pthread_mutex_lock(&w->stats_lock);
  writer_stats *s = &w->stats;
  s->batches++;
  s->commands += commands;
  s->last_batch_commands = commands;
  s->commit_ns_total += commit_ns;
  if (commit_ns > s->commit_ns_max) s->commit_ns_max = commit_ns;
  uint64_t us = commit_ns / 1000;
  unsigned b = 0;
  while (b < 16 && us > (1ull << b)) b++;
  s->commit_us_buckets[b]++;
  b = 0;
  while (b < 12 && commands > (1ull << b)) b++;
  s->batch_size_buckets[b]++;
  for (size_t i = 0; i < commands; i++) {
    s->events += w->batch[i]->event_count;
    if (w->batch[i]->status) s->failed_commands++;
  }
  pthread_mutex_unlock(&w->stats_lock);
}

static void fail_batch(writer_t *w, size_t n, const pv_error *err) {
  for (size_t i = 0; i < n; i++) {
    writer_cmd *cmd = w->batch[i];
    cmd->status = err->code;
    cmd->error = *err;
    cmd->first_position = 0;
    cmd->event_count = 0;
  }
}

/* Hands the batch's commands, in order, to the answering thread. Waking a
 * blocked caller costs a futex wake and a context switch; done here, the
 * writer would spend most of a large batch's time waking callers instead of
 * deciding the next batch (measured: half of the writer thread's time at
 * 256 blocking submitters). The order is unchanged: every command of a
 * batch is answered after its commit, batches in commit order. */
static void answer_batch(writer_t *w, size_t n) {
  if (!n) return;
  for (size_t i = 0; i + 1 < n; i++) w->batch[i]->next_ = w->batch[i + 1];
  w->batch[n - 1]->next_ = NULL;
  pthread_mutex_lock(&w->answer_lock);
  if (w->answer_tail) w->answer_tail->next_ = w->batch[0];
  else w->answer_head = w->batch[0];
  w->answer_tail = w->batch[n - 1];
  pthread_cond_signal(&w->answer_wake);
  pthread_mutex_unlock(&w->answer_lock);
}

/* Waits until every handed-over command has been answered. */
static void answers_flush(writer_t *w) {
  pthread_mutex_lock(&w->answer_lock);
  while (w->answer_head || w->answering) pthread_cond_wait(&w->answer_idle, &w->answer_lock);
  pthread_mutex_unlock(&w->answer_lock);
}

static void *answerer_main(void *arg) {
  writer_t *w = arg;
  pthread_mutex_lock(&w->answer_lock);
  for (;;) {
    while (!w->answer_head && !w->answer_stop) pthread_cond_wait(&w->answer_wake, &w->answer_lock);
    if (!w->answer_head) break;
    writer_cmd *list = w->answer_head;
    w->answer_head = w->answer_tail = NULL;
    w->answering = true;
    pthread_mutex_unlock(&w->answer_lock);
    while (list) {
      writer_cmd *cmd = list;
      list = list->next_; /* read first: done may free cmd */
      cmd->done(cmd);
    }
    pthread_mutex_lock(&w->answer_lock);
    w->answering = false;
    pthread_cond_broadcast(&w->answer_idle);
  }
  pthread_mutex_unlock(&w->answer_lock);
  return NULL;
}

static void notify_subscribers(writer_t *w) {
  pthread_mutex_lock(&w->lock);
  for (size_t i = 0; i < w->subscriber_count; i++) uv_async_send(w->subscribers[i]);
  pthread_mutex_unlock(&w->lock);
}

static void storage_failed(writer_t *w, size_t n, pv_error *err) {
  atomic_store(&w->failed, true);
  fail_batch(w, n, err);
  answer_batch(w, n);
  answers_flush(w);
  if (w->opt.on_fatal) {
    w->opt.on_fatal(err);
    return;
  }
  fprintf(stderr, "fatal: %s\n", err->message);
  if (err->detail[0]) fprintf(stderr, "detail: %s\n", err->detail);
  exit(70);
}

/* Puts commands back at the front of the queue (the batch's time budget
 * ran out before they were decided). */
static void requeue_front(writer_t *w, size_t from, size_t n) {
  if (from >= n) return;
  for (size_t i = from; i + 1 < n; i++) w->batch[i]->next_ = w->batch[i + 1];
  pthread_mutex_lock(&w->lock);
  w->batch[n - 1]->next_ = w->queue_head;
  if (!w->queue_head) w->queue_tail = w->batch[n - 1];
  w->queue_head = w->batch[from];
  pthread_mutex_unlock(&w->lock);
}

static void process_batch(writer_t *w, size_t n) {
  pv_error err = PV_ERROR_INIT;
  log_wtxn *tx;
  int rc;

redo:
  pv_error_clear(&err);
  if ((rc = log_wtxn_begin(w->log, &tx))) {
    pv_error_set(&err, PV_EIO, NULL, "could not begin a write transaction on the event log");
    storage_failed(w, n, &err);
    return;
  }
  uint64_t started = pv_mono_ns();
  uint64_t budget_ns = (uint64_t)w->opt.max_batch_us * 1000;
  if (w->last_commit_ns > budget_ns)
    budget_ns = w->last_commit_ns < (uint64_t)WRITER_MAX_ADAPTIVE_BATCH_US * 1000
                    ? w->last_commit_ns
                    : (uint64_t)WRITER_MAX_ADAPTIVE_BATCH_US * 1000;
  for (size_t i = 0; i < n; i++) {
    if (i > 0 && pv_mono_ns() - started > budget_ns) {
      requeue_front(w, i, n);
      n = i;
      break;
    }
    rc = run_command(w, tx, w->batch[i]);
    if (rc == PV_EFULL) goto grow;
    if (rc) {
      err = w->batch[i]->error;
      log_wtxn_abort(tx);
      storage_failed(w, n, &err);
      return;
    }
  }
  uint64_t commit_started = pv_mono_ns();
  rc = log_wtxn_commit(tx);
  if (rc == PV_EFULL) goto grow_after_commit;
  if (rc) {
    pv_error_set(&err, PV_EIO, NULL, "could not commit to the event log");
    pv_error_detail(&err, "The commit failed; what reached the disk is unknown.");
    pv_error_hint(&err, "Check the disk, then restart: the log recovers to its last commit.");
    storage_failed(w, n, &err);
    return;
  }
  w->last_commit_ns = pv_mono_ns() - commit_started;
  record_stats(w, n, w->last_commit_ns);
  notify_subscribers(w);
  answer_batch(w, n);
  return;

grow:
  log_wtxn_abort(tx);
grow_after_commit:
  if (log_grow(w->log, &err) != 0) {
    /* storage full: every command of this batch is refused, the writer
     * stays up (reads go on, and a restart with a larger cap recovers) */
    fail_batch(w, n, &err);
    answer_batch(w, n);
    return;
  }
  pthread_mutex_lock(&w->stats_lock);
  w->stats.map_grows++;
  pthread_mutex_unlock(&w->stats_lock);
  goto redo;
}

static void *writer_main(void *arg) {
  writer_t *w = arg;
  uint64_t last_reader_check = pv_mono_ns();
  for (;;) {
    pthread_mutex_lock(&w->lock);
    while (!w->queue_head && !w->stopping) {
      struct timespec until;
      clock_gettime(CLOCK_MONOTONIC, &until);
      until.tv_sec += WRITER_READER_CHECK_S;
      pthread_cond_timedwait(&w->wake, &w->lock, &until);
      if (!w->queue_head) break;
    }
    if (!w->queue_head && w->stopping) {
      pthread_mutex_unlock(&w->lock);
      break;
    }
    size_t n = 0;
    while (w->queue_head && n < w->opt.max_batch_commands) {
      w->batch[n++] = w->queue_head;
      w->queue_head = w->queue_head->next_;
    }
    if (!w->queue_head) w->queue_tail = NULL;
    pthread_mutex_unlock(&w->lock);

    if (n) process_batch(w, n);
    if (pv_mono_ns() - last_reader_check > (uint64_t)WRITER_READER_CHECK_S * 1000000000u) {
      log_reader_check(w->log);
      last_reader_check = pv_mono_ns();
    }
  }
  return NULL;
}

/* ---- public ----------------------------------------------------------- */

int writer_start(writer_t **out, log_t *log, const writer_options *opt, pv_error *err) {
  writer_t *w = pv_xcalloc(1, sizeof *w);
  w->log = log;
  if (opt) w->opt = *opt;
  if (!w->opt.max_batch_commands) w->opt.max_batch_commands = WRITER_DEFAULT_MAX_BATCH;
  if (!w->opt.max_batch_us) w->opt.max_batch_us = WRITER_DEFAULT_MAX_BATCH_US;
  w->batch = pv_xcalloc(w->opt.max_batch_commands, sizeof *w->batch);
  w->ctx.w = w;
  pv_buf_init(&w->ctx.bytes, 4096);
  pthread_mutex_init(&w->lock, NULL);
  pthread_mutex_init(&w->stats_lock, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&w->wake, &ca);
  pthread_condattr_destroy(&ca);
  pthread_mutex_init(&w->answer_lock, NULL);
  pthread_cond_init(&w->answer_wake, NULL);
  pthread_cond_init(&w->answer_idle, NULL);
  if (pthread_create(&w->answerer, NULL, answerer_main, w) != 0) {
    pv_error_set(err, PV_EINTERNAL, NULL, "could not start the writer's answering thread");
    w->stopping = true; /* no writer thread to join */
    writer_stop(w);
    return PV_EINTERNAL;
  }
  if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
    pv_error_set(err, PV_EINTERNAL, NULL, "could not start the writer thread");
    w->stopping = true;
    writer_stop(w);
    return PV_EINTERNAL;
  }
  w->threads_started = true;
  *out = w;
  return 0;
}

void writer_stop(writer_t *w) {
  if (!w) return;
  pthread_mutex_lock(&w->lock);
  w->stopping = true;
  pthread_cond_signal(&w->wake);
  pthread_mutex_unlock(&w->lock);
  if (w->threads_started) pthread_join(w->thread, NULL);
  /* the writer has handed over its last batch: let the answerer finish */
  pthread_mutex_lock(&w->answer_lock);
  w->answer_stop = true;
  pthread_cond_signal(&w->answer_wake);
  pthread_mutex_unlock(&w->answer_lock);
  if (w->answerer) pthread_join(w->answerer, NULL);
  pthread_mutex_destroy(&w->answer_lock);
  pthread_cond_destroy(&w->answer_wake);
  pthread_cond_destroy(&w->answer_idle);
  pthread_cond_destroy(&w->wake);
  pthread_mutex_destroy(&w->lock);
  pthread_mutex_destroy(&w->stats_lock);
  pv_buf_release(&w->ctx.bytes);
  free(w->ctx.ops);
  free(w->batch);
  free(w);
}

int writer_submit(writer_t *w, writer_cmd *cmd) {
  if (!cmd->decide || !cmd->tenant || !*cmd->tenant || !cmd->actor || !cmd->done)
    return PV_EINVAL;
  if (strlen(cmd->tenant) > EVT_MAX_TENANT || strlen(cmd->actor) > EVT_MAX_ACTOR ||
      (cmd->correlation_id && strlen(cmd->correlation_id) > EVT_MAX_CORRELATION) ||
      (cmd->idempotency_key && strlen(cmd->idempotency_key) > EVT_MAX_IDEMPOTENCY))
    return PV_EINVAL;
  if (atomic_load(&w->failed)) return PV_EIO;
  cmd->next_ = NULL;
  pthread_mutex_lock(&w->lock);
  if (w->stopping) {
    pthread_mutex_unlock(&w->lock);
    return PV_ESHUTDOWN;
  }
  bool was_empty = !w->queue_head;
  if (w->queue_tail) w->queue_tail->next_ = cmd;
  else w->queue_head = cmd;
  w->queue_tail = cmd;
  if (was_empty) pthread_cond_signal(&w->wake);
  pthread_mutex_unlock(&w->lock);
  return 0;
}

typedef struct run_wait {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool done;
} run_wait;

static void run_done(writer_cmd *cmd) {
  run_wait *rw = cmd->done_arg;
  pthread_mutex_lock(&rw->lock);
  rw->done = true;
  pthread_cond_signal(&rw->cond);
  pthread_mutex_unlock(&rw->lock);
}

int writer_run(writer_t *w, writer_cmd *cmd) {
  run_wait rw = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false};
  cmd->done = run_done;
  cmd->done_arg = &rw;
  int rc = writer_submit(w, cmd);
  if (rc) return rc;
  pthread_mutex_lock(&rw.lock);
  while (!rw.done) pthread_cond_wait(&rw.cond, &rw.lock);
  pthread_mutex_unlock(&rw.lock);
  pthread_cond_destroy(&rw.cond);
  pthread_mutex_destroy(&rw.lock);
  return cmd->status;
}

void writer_subscribe(writer_t *w, uv_async_t *async) {
  pthread_mutex_lock(&w->lock);
  if (w->subscriber_count < WRITER_MAX_SUBSCRIBERS) w->subscribers[w->subscriber_count++] = async;
  pthread_mutex_unlock(&w->lock);
}

void writer_unsubscribe(writer_t *w, uv_async_t *async) {
  pthread_mutex_lock(&w->lock);
  for (size_t i = 0; i < w->subscriber_count; i++)
    if (w->subscribers[i] == async) {
      w->subscribers[i] = w->subscribers[--w->subscriber_count];
      break;
    }
  pthread_mutex_unlock(&w->lock);
}

void writer_get_stats(writer_t *w, writer_stats *out) {
  pthread_mutex_lock(&w->stats_lock);
  *out = w->stats;
  pthread_mutex_unlock(&w->stats_lock);
}

log_t *writer_log(writer_t *w) { return w->log; }

/* ---- simulation (dry runs) ----------------------------------------------
 *
 * The sim runs the same decide functions through the same ctx calls as the
 * writer; only the ctx's reads differ: a read snapshot of the log under an
 * overlay of what the earlier simulated commands staged. The overlay is a
 * hash table keyed by one byte of kind ('u' unique, 's' suppression, 't'
 * stream) and the index key or stream id. Event payloads go to an unlinked
 * spool file, so memory grows by an entry per identifier and per stream
 * touched (about 100 bytes), not by the events' size.
 */

typedef struct sim_event {
  uint64_t off; /* in the spool: type, NUL, payload */
  uint32_t len;
  uint32_t type_version;
} sim_event;

typedef struct sim_entry {
  struct sim_entry *next;
  uint64_t hash;
  char *key;
  size_t key_len;
  bool deleted;         /* 'u' and 's': the value was deleted */
  void *val;            /* 'u': the entity id; 's': the record */
  size_t val_len;
  uint64_t base_version; /* 't': the stream's version in the snapshot */
  sim_event *events;
  size_t event_count, event_cap;
} sim_entry;

/* 2^16 buckets to start, doubling at one entry per bucket: arbitrary. */
#define SIM_BUCKETS_INITIAL 65536

struct writer_sim {
  log_reader *rd;
  char tenant[EVT_MAX_TENANT + 1];
  writer_ctx ctx;
  sim_entry **buckets;
  size_t bucket_count, entry_count;
  uint64_t head; /* the snapshot's head plus the simulated events */
  int spool_fd;
  uint64_t spool_len;
  pv_buf key, readbuf;
};

static uint64_t sim_hash(const char *p, size_t n) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)p[i]) * 1099511628211ull;
  return h;
}

/* Builds the overlay key kind + a (+ NUL + b) in s->key. */
static void sim_key(writer_sim *s, char kind, const char *a, const char *b) {
  pv_buf_reset(&s->key);
  pv_buf_add(&s->key, &kind, 1);
  pv_buf_add(&s->key, a, strlen(a));
  if (b) {
    pv_buf_add(&s->key, "", 1);
    pv_buf_add(&s->key, b, strlen(b));
  }
}

static sim_entry *sim_find(writer_sim *s) {
  uint64_t h = sim_hash(s->key.data, s->key.len);
  for (sim_entry *e = s->buckets[h & (s->bucket_count - 1)]; e; e = e->next)
    if (e->hash == h && e->key_len == s->key.len && memcmp(e->key, s->key.data, e->key_len) == 0)
      return e;
  return NULL;
}

static void sim_grow(writer_sim *s) {
  size_t n = s->bucket_count * 2;
  sim_entry **b = pv_xcalloc(n, sizeof *b);
  for (size_t i = 0; i < s->bucket_count; i++)
    for (sim_entry *e = s->buckets[i], *next; e; e = next) {
      next = e->next;
      e->next = b[e->hash & (n - 1)];
      b[e->hash & (n - 1)] = e;
    }
  free(s->buckets);
  s->buckets = b;
  s->bucket_count = n;
}

static sim_entry *sim_get_or_add(writer_sim *s) {
  sim_entry *e = sim_find(s);
  if (e) return e;
  if (s->entry_count >= s->bucket_count) sim_grow(s);
  e = pv_xcalloc(1, sizeof *e);
  e->hash = sim_hash(s->key.data, s->key.len);
  e->key = pv_xmalloc(s->key.len);
  memcpy(e->key, s->key.data, s->key.len);
  e->key_len = s->key.len;
  size_t b = e->hash & (s->bucket_count - 1);
  e->next = s->buckets[b];
  s->buckets[b] = e;
  s->entry_count++;
  return e;
}

static uint64_t sim_head(const writer_sim *s) { return s->head; }

static int sim_stream_version(writer_sim *s, const char *stream, uint64_t *version) {
  sim_key(s, 't', stream, NULL);
  sim_entry *e = sim_find(s);
  if (e) {
    *version = e->base_version + e->event_count;
    return 0;
  }
  return log_reader_stream_version(s->rd, s->tenant, stream, version);
}

typedef struct sim_visit {
  log_visit_fn visit;
  void *arg;
  bool stopped;
} sim_visit;

static int sim_visit_base(void *arg, const evt_envelope *e, const uint8_t *raw, size_t raw_len) {
  sim_visit *sv = arg;
  int rc = sv->visit(sv->arg, e, raw, raw_len);
  if (rc > 0) sv->stopped = true;
  return rc;
}

static int sim_read_stream(writer_sim *s, const char *stream, uint64_t from_version,
                           log_visit_fn visit, void *arg) {
  sim_key(s, 't', stream, NULL);
  sim_entry *e = sim_find(s);
  sim_visit sv = {visit, arg, false};
  uint64_t base = e ? e->base_version : UINT64_MAX;
  if (from_version <= base) {
    int rc = log_read_stream(s->rd, s->tenant, stream, from_version, sim_visit_base, &sv);
    if (rc || sv.stopped || !e) return rc;
  }
  for (size_t i = 0; i < e->event_count; i++) {
    uint64_t version = e->base_version + i + 1;
    if (version < from_version) continue;
    const sim_event *se = &e->events[i];
    pv_buf_reset(&s->readbuf);
    pv_buf_grow(&s->readbuf, se->len);
    if (pread(s->spool_fd, s->readbuf.data, se->len, (off_t)se->off) != (ssize_t)se->len)
      return PV_EIO;
    size_t type_len = strnlen(s->readbuf.data, se->len);
    if (type_len == se->len) return PV_ECORRUPT;
    evt_envelope env = {0};
    env.tenant = evt_str(s->tenant);
    env.stream = evt_str(stream);
    env.stream_version = version;
    env.type = (mp_slice){s->readbuf.data, type_len};
    env.type_version = se->type_version;
    env.payload = (const uint8_t *)s->readbuf.data + type_len + 1;
    env.payload_len = se->len - type_len - 1;
    int rc = visit(arg, &env, env.payload, env.payload_len);
    if (rc) return rc < 0 ? rc : 0;
  }
  return 0;
}

static int sim_unique_get(writer_sim *s, const char *kind, const char *value, char *out,
                          size_t cap) {
  sim_key(s, 'u', kind, value);
  sim_entry *e = sim_find(s);
  if (!e) return log_reader_unique_get(s->rd, s->tenant, kind, value, out, cap);
  if (e->deleted) return PV_ENOTFOUND;
  if (e->val_len + 1 > cap) return PV_EINVAL;
  memcpy(out, e->val, e->val_len);
  out[e->val_len] = '\0';
  return 0;
}

static int sim_suppression_get(writer_sim *s, const char *channel, const char *value,
                               const void **rec, size_t *len) {
  sim_key(s, 's', channel, value);
  sim_entry *e = sim_find(s);
  if (!e) return log_suppression_get(s->rd, s->tenant, channel, value, rec, len);
  if (e->deleted) return PV_ENOTFOUND;
  *rec = e->val;
  *len = e->val_len;
  return 0;
}

static void sim_set(sim_entry *e, const void *val, size_t len, bool deleted) {
  free(e->val);
  e->val = NULL;
  e->val_len = 0;
  e->deleted = deleted;
  if (deleted) return;
  e->val = pv_xmalloc(len ? len : 1);
  memcpy(e->val, val, len);
  e->val_len = len;
}

/* Moves one settled command's staged changes into the overlay, visiting
 * each event as the log would hold it. */
static int sim_apply(writer_sim *s, log_visit_fn on_event, void *arg) {
  writer_ctx *ctx = &s->ctx;
  writer_cmd *cmd = ctx->cmd;
  for (size_t i = 0; i < ctx->op_count; i++) {
    staged_op *op = &ctx->ops[i];
    const char *a = ctx_str(ctx, op->a), *b = ctx_str(ctx, op->b);
    switch (op->kind) {
    case OP_EVENT: {
      sim_key(s, 't', a, NULL);
      sim_entry *e = sim_find(s);
      if (!e) {
        uint64_t base;
        int rc = log_reader_stream_version(s->rd, s->tenant, a, &base);
        if (rc) return rc;
        e = sim_get_or_add(s);
        e->base_version = base;
      }
      size_t type_len = strlen(b);
      uint64_t off = s->spool_len;
      if (pwrite(s->spool_fd, b, type_len + 1, (off_t)off) != (ssize_t)(type_len + 1) ||
          pwrite(s->spool_fd, ctx->bytes.data + op->c, op->c_len, (off_t)(off + type_len + 1)) !=
              (ssize_t)op->c_len)
        return PV_EIO;
      s->spool_len += type_len + 1 + op->c_len;
      if (e->event_count == e->event_cap) {
        e->event_cap = e->event_cap ? e->event_cap * 2 : 2;
        e->events = pv_xrealloc(e->events, e->event_cap * sizeof *e->events);
      }
      e->events[e->event_count++] =
          (sim_event){off, (uint32_t)(type_len + 1 + op->c_len), op->type_version};
      s->head++;
      evt_envelope env = {0};
      env.position = s->head;
      env.tenant = evt_str(s->tenant);
      env.stream = evt_str(a);
      env.stream_version = e->base_version + e->event_count;
      env.type = evt_str(b);
      env.type_version = op->type_version;
      env.actor = evt_str(cmd->actor);
      env.correlation = evt_str(cmd->correlation_id);
      env.idempotency = evt_str(cmd->event_count == 0 ? cmd->idempotency_key : NULL);
      env.payload = (const uint8_t *)ctx->bytes.data + op->c;
      env.payload_len = op->c_len;
      if (cmd->event_count++ == 0) {
        cmd->first_position = env.position;
        copy_stream(cmd, env.stream, env.stream_version);
      }
      if (on_event) {
        int rc = on_event(arg, &env, env.payload, env.payload_len);
        if (rc < 0) return rc;
      }
      break;
    }
    case OP_UNIQUE_PUT:
    case OP_UNIQUE_DEL:
      sim_key(s, 'u', a, b);
      if (op->kind == OP_UNIQUE_PUT) {
        const char *id = ctx_str(ctx, op->c);
        sim_set(sim_get_or_add(s), id, strlen(id), false);
      } else {
        sim_set(sim_get_or_add(s), NULL, 0, true);
      }
      break;
    case OP_SUPP_PUT:
    case OP_SUPP_DEL:
      sim_key(s, 's', a, b);
      sim_set(sim_get_or_add(s), ctx->bytes.data + op->c, op->kind == OP_SUPP_PUT ? op->c_len : 0,
              op->kind == OP_SUPP_DEL);
      break;
    }
  }
  return 0;
}

int writer_sim_open(writer_sim **out, log_t *log, const char *tenant, const char *spool_dir,
                    pv_error *err) {
  if (!tenant || !*tenant || strlen(tenant) > EVT_MAX_TENANT)
    return pv_error_set(err, PV_EINVAL, "/tenant", "tenant must be 1 to %d bytes", EVT_MAX_TENANT);
  writer_sim *s = pv_xcalloc(1, sizeof *s);
  snprintf(s->tenant, sizeof s->tenant, "%s", tenant);
  pv_buf path = PV_BUF_INIT;
  pv_buf_addf(&path, "%s/.sim-XXXXXX", spool_dir ? spool_dir : "/tmp");
  s->spool_fd = mkstemp(path.data);
  if (s->spool_fd < 0) {
    pv_error_set(err, PV_EIO, NULL, "could not create a spool file in \"%s\"",
                 spool_dir ? spool_dir : "/tmp");
    pv_buf_release(&path);
    free(s);
    return PV_EIO;
  }
  unlink(path.data);
  pv_buf_release(&path);
  if (log_read_begin(log, &s->rd)) {
    close(s->spool_fd);
    free(s);
    return pv_error_set(err, PV_EIO, NULL, "could not read the event log");
  }
  s->head = log_reader_head(s->rd);
  s->bucket_count = SIM_BUCKETS_INITIAL;
  s->buckets = pv_xcalloc(s->bucket_count, sizeof *s->buckets);
  s->ctx.sim = s;
  pv_buf_init(&s->ctx.bytes, 4096);
  pv_buf_init(&s->key, 256);
  pv_buf_init(&s->readbuf, 4096);
  *out = s;
  return 0;
}

int writer_sim_run(writer_sim *s, writer_cmd *cmd, log_visit_fn on_event, void *arg) {
  if (!cmd->decide || !cmd->tenant || strcmp(cmd->tenant, s->tenant) != 0 || !cmd->actor)
    return PV_EINVAL;
  writer_ctx *ctx = &s->ctx;
  ctx->cmd = cmd;
  ctx->op_count = 0;
  pv_buf_reset(&ctx->bytes);
  reset_result(cmd);
  int rc = cmd->decide(ctx, cmd->arg, &cmd->error);
  if (rc == 0) rc = check_expected_versions(ctx, &cmd->error);
  if (rc) {
    if (!cmd->error.code) pv_error_set(&cmd->error, rc, NULL, NULL);
    cmd->status = rc;
    return 0;
  }
  rc = sim_apply(s, on_event, arg);
  if (rc) cmd->status = pv_error_set(&cmd->error, rc, NULL, "could not simulate the command");
  return rc;
}

void writer_sim_close(writer_sim *s) {
  if (!s) return;
  for (size_t i = 0; i < s->bucket_count; i++)
    for (sim_entry *e = s->buckets[i], *next; e; e = next) {
      next = e->next;
      free(e->key);
      free(e->val);
      free(e->events);
      free(e);
    }
  free(s->buckets);
  log_read_end(s->rd);
  close(s->spool_fd);
  pv_buf_release(&s->ctx.bytes);
  free(s->ctx.ops);
  pv_buf_release(&s->key);
  pv_buf_release(&s->readbuf);
  free(s);
}
