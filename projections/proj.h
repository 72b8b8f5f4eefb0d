/*
 * proj — the projection engine: folds the event log into PostgreSQL read
 * models, exactly once whatever crashes.
 *
 * A projection (proj_def, one row of the registry in proj_registry.c) has a
 * name, the event types it reads, the schema its tables live in (one schema
 * per projection, "rm_<name>", made by a migration in schema/) and a fold
 * that turns a batch of events into SQL writes. Events of other types are
 * not handed to the fold but still advance the checkpoint.
 *
 * The engine (one worker thread with its own libuv loop, for all
 * projections) tails the log from each projection's checkpoint with bounded
 * log_scan calls (PROJ_BATCH_EVENTS events or PROJ_BATCH_BYTES, one short
 * read transaction each) and commits each batch in ONE PostgreSQL
 * transaction:
 *
 *   BEGIN
 *   SELECT set_config('search_path', <schema>, true), position
 *     FROM pivotal.proj_checkpoint WHERE name = $1 FOR UPDATE
 *       -- position != ours: another instance moved it; roll back, reload
 *   <fold: COPY / statements into the projection's tables>
 *   UPDATE pivotal.proj_checkpoint SET position = $new
 *     WHERE name = $1 AND position = $old   -- the fence: 0 rows = roll back
 *   COMMIT
 *
 * The row lock is taken first so that a rebuild's swap (which takes it too)
 * and the batch can never deadlock; the fenced UPDATE is what makes a second
 * instance harmless even without it. A gap in positions (an event whose
 * position is not checkpoint + 1) is fatal for that projection: it stops,
 * reports PROJ_FAILED and is never skipped past. Any other failure of a
 * batch (PostgreSQL down, a statement failing) is retried with exponential
 * backoff and jitter; the writer never waits for projections.
 *
 * Waking: with a writer, the engine subscribes a uv_async_t and drains until
 * caught up after each wake (uv_async_send coalesces); nothing runs while
 * idle. Without a writer (the log is written by another process) a timer
 * checks the head every poll_ms: one LMDB read transaction, a few µs.
 *
 * Thread: proj_engine_start/stop from one controlling thread; the query
 * functions (lag, wait, notify) from any thread.
 */
#ifndef PV_PROJ_H
#define PV_PROJ_H

#include "adapters/pg/pg_conn.h"
#include "core/common/pv_error.h"
#include "core/log.h"
#include "core/writer.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* One batch of 10,000 events of ~300 bytes is ~3 MiB of COPY data: large
 * enough that the per-transaction round trips (5) and the commit's fsync
 * vanish next to the rows (bench_projection: 5,000 and 20,000 measured
 * within noise of each other on the shared 2-core machine), small enough
 * that a failing batch is cheap to redo. */
#define PROJ_BATCH_EVENTS 10000
#define PROJ_BATCH_BYTES (8u << 20)
#define PROJ_NAME_MAX 48

/*
 * Folds n events (positions ascending, only the projection's types) into
 * its tables through c, inside the engine's transaction, with search_path
 * set to the target schema: use unqualified table names. The events and
 * their slices are valid during the call only.
 * Returns: 0 or a PV_E* code with err filled. On an error the fold must
 * leave no COPY in progress (pg_copy_abort); the engine rolls back.
 */
typedef int (*proj_fold_fn)(pg_conn *c, const evt_envelope *events, size_t n, pv_error *err);

/* Workers folding projections side by side (proj_engine.c): 2, the
 * cores of the machine we measure on. */
#define PROJ_LANES 2

typedef struct proj_def {
  const char *name;          /* [a-z0-9_]+, the checkpoint's key */
  const char *const *types;  /* NULL-terminated; NULL = every type */
  const char *schema;        /* "rm_<name>": the live read model */
  proj_fold_fn fold;
  /* the worker that folds it (0 .. PROJ_LANES - 1) */
  unsigned lane;
  /* NULL-terminated names of the projections whose read models the fold
   * reads (NULL: none). The engine folds it only up to the lowest of their
   * checkpoints, so it never sees a row older than its batch, whatever
   * lane they are in; those it does not run are the fold's own concern. */
  const char *const *after;
} proj_def;

/* The registry: every projection, one row each (proj_registry.c). */
size_t proj_count(void);
const proj_def *proj_at(size_t i);
/* The row named name, or NULL. */
const proj_def *proj_find(const char *name);

/* ---- the engine --------------------------------------------------------- */

typedef struct proj_engine proj_engine;

typedef struct proj_options {
  const char *const *names; /* NULL-terminated projections to run; NULL = all */
  unsigned retry_base_ms;   /* first backoff; 0 = 1000 (the "about 1 s") */
  unsigned retry_max_ms;    /* cap; 0 = 60000 */
  unsigned poll_ms;         /* without a writer: head check period; 0 = 200 */
} proj_options;

/*
 * Starts the engine on log (which must outlive it) and the database of
 * conninfo. With writer non-NULL it subscribes to its commits; with NULL it
 * polls the head (another process writes). Checkpoint rows missing from
 * pivotal.proj_checkpoint are created at 0 when the database is reached;
 * PostgreSQL being down is not an error here: the worker retries.
 * Returns: 0 or PV_ENOTFOUND (a name in opt->names is not registered),
 * PV_EINTERNAL (thread or loop could not start).
 */
int proj_engine_start(proj_engine **out, log_t *log, writer_t *writer, const char *conninfo,
                      const proj_options *opt, pv_error *err);
/* Stops the worker (the batch in flight finishes or rolls back), answers
 * pending waiters with PV_ESHUTDOWN, unsubscribes and frees. NULL is fine. */
void proj_engine_stop(proj_engine *e);
/* Wakes the worker (e.g. when the log is written by other means).
 * Thread: any. */
void proj_engine_notify(proj_engine *e);

typedef enum proj_state {
  PROJ_CAUGHT_UP, /* checkpoint == head */
  PROJ_MOVING,    /* behind, and the checkpoint advanced in the last PROJ_STALL_S */
  PROJ_STALLED,   /* behind and not advancing (e.g. PostgreSQL down) */
  PROJ_FAILED,    /* stopped for good (a gap or corrupt event): see error */
  PROJ_UNKNOWN    /* checkpoint not read yet */
} proj_state;

/* Arbitrary: several backoff periods at their start, far above a batch. */
#define PROJ_STALL_S 10

typedef struct proj_lag {
  char name[PROJ_NAME_MAX];
  uint64_t checkpoint;    /* last position folded */
  uint64_t head;          /* the log's head when measured */
  uint64_t lag_events;    /* head - checkpoint */
  double lag_seconds;     /* age of the oldest unprojected event (0 when none) */
  int64_t last_advance_us;/* wall time of the last checkpoint move (0: unknown) */
  proj_state state;
  char error[256];        /* the last batch error or the fatal one ("" if none) */
  /* Since the engine started (0 from proj_lag_compute): events handed to
   * the fold in committed batches, how many batches, and the time those
   * batches took from the log read to the COMMIT. events / busy is the
   * fold's rate. */
  uint64_t folded_events;
  uint64_t folded_batches;
  uint64_t busy_ns;
} proj_lag;

const char *proj_state_name(proj_state s);

/*
 * Fills out[0..cap) with the lag of each running projection; returns how
 * many there are (may exceed cap). Reads the head and the oldest
 * unprojected event in one short read transaction.
 * Thread: any (for /metrics and /readyz).
 */
size_t proj_engine_lag(proj_engine *e, proj_lag *out, size_t cap);

/*
 * The lag of one projection computed from outside an engine (pivotal
 * status): its checkpoint and when it last moved, against the log.
 * Returns: 0 or PV_EIO, PV_ECORRUPT.
 */
int proj_lag_compute(log_t *log, const char *name, uint64_t checkpoint,
                     int64_t last_advance_us, proj_lag *out);

/* ---- read your writes ------------------------------------------------- */

/* Called on the caller's loop: rc 0 (every projection passed the position),
 * PV_ETIMEDOUT or PV_ESHUTDOWN. */
typedef void (*proj_wait_cb)(int rc, void *arg);

/*
 * Calls cb on loop once each named projection's checkpoint is ≥ position,
 * or with PV_ETIMEDOUT after timeout_ms. Nothing polls: the engine signals
 * waiters after each checkpoint advance (uv_async_send to loop). cb is
 * never called from inside this function (even when already satisfied).
 * Returns: 0 (cb will be called exactly once) or PV_ENOTFOUND (a name the
 * engine does not run), PV_ESHUTDOWN; then cb is never called.
 * Thread: loop's thread; the loop must run until cb has been called.
 */
int proj_wait_position(proj_engine *e, const char *const *names, size_t n, uint64_t position,
                       unsigned timeout_ms, uv_loop_t *loop, proj_wait_cb cb, void *arg);
/* The blocking form, for tests and the CLI.
 * Returns: 0, PV_ETIMEDOUT, PV_ENOTFOUND, PV_ESHUTDOWN. Thread: any but the
 * engine's. */
int proj_wait_position_sync(proj_engine *e, const char *const *names, size_t n,
                            uint64_t position, unsigned timeout_ms);

/* ---- rebuild ------------------------------------------------------------ */

/* Progress after each batch; return non-zero to stop (the rebuild ends with
 * PV_ESHUTDOWN and the live read model untouched). */
typedef int (*proj_progress_fn)(void *arg, uint64_t position, uint64_t head);

/*
 * Folds the whole log into the shadow schema "<schema>__rebuild" (tables
 * cloned from the live schema, LIKE ... INCLUDING ALL), then in one
 * transaction locks the checkpoint row, renames the live schema away, the
 * shadow into its place, drops the old one and sets the checkpoint to the
 * last position folded (a running engine continues from there). Until that
 * commit the live read model is untouched; a shadow left by an interrupted
 * rebuild is dropped first.
 * Returns: 0, PV_ESHUTDOWN (progress asked to stop), PV_ECORRUPT (a gap or
 * corrupt event), PV_EIO, the codes of pg_exec.
 * *position_out (may be NULL): the checkpoint set.
 */
int proj_rebuild(log_t *log, pg_conn *c, const proj_def *def, proj_progress_fn progress,
                 void *arg, uint64_t *position_out, pv_error *err);

#endif
