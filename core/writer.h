/*
 * writer — the one thread that owns the log's write transaction, and the
 * group commit that makes durability cheap.
 *
 * Callers on any thread submit a command: a decide function and its
 * argument, plus the envelope facts (tenant, actor, correlation id,
 * idempotency key). The writer takes everything queued (at most
 * max_batch_commands, deciding for at most about max_batch_us, or as long
 * as the last commit took when the disk is slower, up to 20 ms), opens one
 * LMDB write transaction, and for each command in arrival order:
 *   - answers from the idempotency record when its key was seen before;
 *   - otherwise runs decide(), which reads state through the writer_ctx (it
 *     sees every earlier command of the batch) and stages events and index
 *     changes; a command whose decide fails, or whose staged events conflict
 *     with their streams' versions, is answered with its error and leaves
 *     nothing behind: staged changes are applied only after they all check;
 * then commits once (the fsync) and only then wakes the subscribed libuv
 * loops and hands the batch to its answering thread, which calls every
 * command's done callback in order.
 *
 * Rules for decide functions: pure apart from the ctx (no I/O, no clocks,
 * no globals); they may run more than once for the same command (the whole
 * batch is redone after the log's map grows), so they must give the same
 * answer each time.
 *
 * Errors of the storage itself are fatal (see writer.c for why).
 */
#ifndef PV_WRITER_H
#define PV_WRITER_H

#include "core/common/pv_error.h"
#include "core/envelope.h"
#include "core/log.h"

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

typedef struct writer writer_t;
typedef struct writer_ctx writer_ctx;
typedef struct writer_cmd writer_cmd;

/* Decides a command. Returns 0 (its staged changes will be applied) or a
 * PV_E* code with err filled (nothing it staged is applied). */
typedef int (*writer_decide_fn)(writer_ctx *ctx, void *arg, pv_error *err);
/* Called on the writer's answering thread once the command's outcome is
 * durable (or final), in commit order. It must not block; hand the result to its own thread (for an HTTP
 * loop: queue it and uv_async_send). The command may be freed from here. */
typedef void (*writer_done_fn)(writer_cmd *cmd);

/*
 * A command and, once done, its result. Owned by the caller, who keeps it
 * (and the strings it points to) alive until done is called.
 */
struct writer_cmd {
  /* in */
  const char *tenant;          /* required */
  const char *actor;           /* required */
  const char *correlation_id;  /* NULL = "" */
  const char *idempotency_key; /* NULL = not idempotent */
  writer_decide_fn decide;
  void *arg;
  writer_done_fn done;
  void *done_arg;
  /* out, valid from done on */
  int status;                  /* 0 or a PV_E* code */
  pv_error error;              /* when status != 0 */
  uint64_t first_position;     /* 0 when no event was appended */
  uint32_t event_count;
  bool replayed;               /* answered from the idempotency record */
  char stream[EVT_MAX_STREAM + 1]; /* stream of the first event ("" if none) */
  uint64_t stream_version;     /* that stream's version after its first event */
  /* private */
  writer_cmd *next_;
};

typedef struct writer_options {
  unsigned max_batch_commands; /* 0 = 4096 */
  unsigned max_batch_us;       /* 0 = 1000 */
  /* Called once when storage fails for good (after every waiter of the
   * batch is answered with PV_EIO). NULL = print the error and exit(70). */
  void (*on_fatal)(const pv_error *err);
} writer_options;

typedef struct writer_stats {
  uint64_t batches, commands, events, failed_commands, map_grows;
  uint64_t commit_ns_total, commit_ns_max;
  uint64_t last_batch_commands;
  /* commit latency histogram: counts of commits ≤ 2^i µs, i = 0..15, and
   * one more bucket for anything slower */
  uint64_t commit_us_buckets[17];
  /* batch size histogram: counts of batches ≤ 2^i commands, i = 0..12 */
  uint64_t batch_size_buckets[13];
} writer_stats;

/* Starts the writer thread on an open log (which must outlive it).
 * Returns: 0 or PV_EINVAL (a read-only log). */
int writer_start(writer_t **out, log_t *log, const writer_options *opt, pv_error *err);

/* Stops taking commands (submit returns PV_ESHUTDOWN), finishes every
 * command already queued, joins the thread and frees the writer. */
void writer_stop(writer_t *w);

/*
 * Queues a command. Thread: any.
 * Returns: 0 (done will be called exactly once), PV_ESHUTDOWN, PV_EIO (the
 * writer failed for good) or PV_EINVAL (no decide/tenant/actor). On a
 * non-zero return done is never called (libuv's rule).
 */
int writer_submit(writer_t *w, writer_cmd *cmd);

/* Submits and waits for the outcome; cmd->done and done_arg are taken over.
 * Returns: cmd->status (or the submit error). Thread: any but the writer. */
int writer_run(writer_t *w, writer_cmd *cmd);

/* After each commit the writer calls uv_async_send on every subscribed
 * handle (which must stay valid until writer_stop or unsubscribe).
 * Thread: any. */
void writer_subscribe(writer_t *w, uv_async_t *async);
void writer_unsubscribe(writer_t *w, uv_async_t *async);

void writer_get_stats(writer_t *w, writer_stats *out);
log_t *writer_log(writer_t *w);

/* ---- dry runs ---------------------------------------------------------
 *
 * A writer_sim decides commands exactly as the writer does — the same
 * decide functions through the same writer_ctx calls, the same
 * expected-version checks — against a read snapshot of the log taken at
 * open, under an overlay of what the earlier simulated commands staged.
 * Nothing reaches the log. So a run of commands through a sim and the same
 * run through the writer from the same state give the same outcomes and
 * the same events (positions and timestamps aside). Differences: the
 * idempotency index is not consulted (a dry run is of commands not yet
 * run), and the snapshot is held open until close (keep dry runs to
 * minutes). Memory grows by an entry per identifier and stream touched;
 * event payloads are spooled to an unlinked file in spool_dir.
 */
typedef struct writer_sim writer_sim;

/* One tenant per sim. Returns: 0, PV_EINVAL (tenant), PV_EIO (no spool file
 * or no read transaction). Thread: one thread uses a sim at a time. */
int writer_sim_open(writer_sim **out, log_t *log, const char *tenant, const char *spool_dir,
                    pv_error *err);

/*
 * Decides cmd and keeps its staged changes in the overlay when it succeeds;
 * cmd's out fields are filled as the writer fills them (first_position is
 * the position the log would give). on_event (may be NULL) sees each event
 * the command would append, in order. done is not called.
 * Returns: 0 (cmd->status holds the command's own outcome), PV_EINVAL (no
 * decide or another tenant), PV_EIO (the spool failed) or on_event's code.
 */
int writer_sim_run(writer_sim *s, writer_cmd *cmd, log_visit_fn on_event, void *arg);
void writer_sim_close(writer_sim *s);

/* ---- for decide functions (writer thread, inside decide only) --------- */

const char *writer_ctx_tenant(const writer_ctx *ctx);
const char *writer_ctx_actor(const writer_ctx *ctx);

/* The stream's version including the events this command staged on it. */
int writer_stream_version(writer_ctx *ctx, const char *stream, uint64_t *version);

/* The position the next event this command stages will get once applied
 * (events of earlier commands in the batch and of this command counted),
 * e.g. to record in an index entry which event made it. */
uint64_t writer_next_position(writer_ctx *ctx);

/* Reads a stream's committed-or-earlier-in-batch events (not this command's
 * staged ones), e.g. to fold an aggregate's state. */
int writer_read_stream(writer_ctx *ctx, const char *stream, uint64_t from_version,
                       log_visit_fn visit, void *arg);

/*
 * Stages one event. The payload is checked against the catalogue and copied.
 * Returns: 0, PV_EINVAL / PV_EBADTYPE (unknown type or payload not of its
 * shape; err names the field), PV_ETOOBIG.
 */
int writer_emit(writer_ctx *ctx, const char *stream, int64_t expected_version,
                const char *type, uint32_t type_version, const void *payload,
                size_t payload_len, pv_error *err);

/* The unique index (see log.h). get sees earlier commands of the batch, not
 * this command's staged puts. put and del stage a change.
 * Returns (put, del): 0 or PV_EINVAL (tenant, kind and value together over
 * the log's key size, 509 bytes). */
int writer_unique_get(writer_ctx *ctx, const char *kind, const char *value, char *out,
                      size_t cap);
int writer_unique_put(writer_ctx *ctx, const char *kind, const char *value,
                      const char *entity_id);
int writer_unique_del(writer_ctx *ctx, const char *kind, const char *value);

/* Suppressions (see log.h); get, put and del as for the unique index. */
int writer_suppression_get(writer_ctx *ctx, const char *channel, const char *value,
                           const void **rec, size_t *len);
int writer_suppression_put(writer_ctx *ctx, const char *channel, const char *value,
                           const void *rec, size_t len);
int writer_suppression_del(writer_ctx *ctx, const char *channel, const char *value);

#endif
