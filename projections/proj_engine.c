/*
 * proj_engine — the worker that folds the log into the read models (see
 * proj.h for the transaction each batch runs in and why).
 *
 * Lanes: the projections are folded by PROJ_LANES workers, each with its
 * own thread, libuv loop and PostgreSQL connection (blocking libpq calls
 * are fine there: nothing else runs on that loop), taking its projections
 * in registry order (proj_def.lane). A 1M-contact import's folds are
 * minutes of PostgreSQL work one after the other; two lanes put both cores
 * on them. A projection that reads other read models (proj_def.after) is
 * folded only up to their checkpoints, whatever lane they are in: its lane
 * skips it until they move, and every commit wakes the other lanes.
 *
 * Everything other threads read (checkpoints, errors, waiters) sits behind
 * the wait list's mutex.
 *
 * Waiters (read your writes) live on their callers' loops. They hold a
 * reference on the wait list, not the engine, so a waiter whose timer fires
 * while the engine is being stopped never touches freed memory.
 */
#include "projections/proj_internal.h"

#include "core/common/pv_time.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define WAIT_PENDING 1

typedef struct proj_waiter proj_waiter;
typedef struct proj_waitlist proj_waitlist;

typedef struct proj_run {
  const proj_def *def;
  /* under wl->mu */
  uint64_t checkpoint;
  int64_t last_advance_us;
  bool loaded, failed;
  char error[256];
  uint64_t folded_events, folded_batches, busy_ns;
} proj_run;

struct proj_waitlist {
  pthread_mutex_t mu;
  pthread_cond_t advanced; /* broadcast after each checkpoint move */
  proj_waiter *waiters;    /* pending async waiters */
  int refs;                /* the engine's + one per pending waiter */
  bool shut;
};

struct proj_waiter {
  proj_waiter *next;
  proj_waitlist *wl;
  size_t *runs;
  size_t nruns;
  uint64_t position;
  atomic_int result; /* WAIT_PENDING, 0, PV_ESHUTDOWN */
  /* caller's thread */
  bool finished;
  int open_handles;
  uv_async_t async;
  uv_timer_t timer;
  proj_wait_cb cb;
  void *arg;
};

/* One worker: its projections (indices into the engine's runs), thread,
 * loop and connection. */
typedef struct proj_lane {
  proj_engine *e;
  size_t *runs;
  size_t nruns;
  bool started;
  pthread_t thread;
  uv_loop_t loop;
  uv_async_t wake, stop;
  uv_timer_t poll_timer, retry_timer;
  /* the lane's thread only */
  pg_conn *conn;
  unsigned backoff_ms;
  bool in_backoff;
  proj_batch batch;
} proj_lane;

struct proj_engine {
  log_t *log;
  writer_t *writer;
  char *conninfo;
  proj_options opt;
  proj_run *runs;
  size_t nruns;
  proj_waitlist *wl;
  atomic_bool stopping;
  proj_lane lanes[PROJ_LANES];
};

/* ---- the wait list -------------------------------------------------------- */

static void waitlist_release(proj_waitlist *wl) {
  pthread_mutex_lock(&wl->mu);
  bool last = --wl->refs == 0;
  pthread_mutex_unlock(&wl->mu);
  if (!last) return;
  pthread_mutex_destroy(&wl->mu);
  pthread_cond_destroy(&wl->advanced);
  free(wl);
}

static bool passed(const proj_engine *e, const size_t *runs, size_t n, uint64_t position) {
  for (size_t i = 0; i < n; i++)
    if (!e->runs[runs[i]].loaded || e->runs[runs[i]].checkpoint < position) return false;
  return true;
}

/* After a checkpoint moved: answer the satisfied waiters. Under wl->mu. */
static void wake_waiters_locked(proj_engine *e) {
  proj_waiter **link = &e->wl->waiters;
  while (*link) {
    proj_waiter *w = *link;
    if (passed(e, w->runs, w->nruns, w->position)) {
      *link = w->next;
      atomic_store(&w->result, 0);
      uv_async_send(&w->async);
    } else {
      link = &w->next;
    }
  }
  pthread_cond_broadcast(&e->wl->advanced);
}

/* ---- the worker ------------------------------------------------------------ */

static void set_error(proj_engine *e, proj_run *r, const pv_error *err) {
  pthread_mutex_lock(&e->wl->mu);
  /* Cut to fit: the message comes first and says what failed. */
  int len = err->detail[0]
                ? snprintf(r->error, sizeof r->error, "%s: %s", err->message, err->detail)
                : snprintf(r->error, sizeof r->error, "%s", err->message);
  if (len >= (int)sizeof r->error) memcpy(r->error + sizeof r->error - 4, "...", 4);
  pthread_mutex_unlock(&e->wl->mu);
}

static void set_checkpoint(proj_engine *e, proj_run *r, uint64_t position, int64_t moved_us,
                           uint64_t events, uint64_t busy_ns) {
  pthread_mutex_lock(&e->wl->mu);
  r->folded_events += events;
  r->folded_batches += busy_ns > 0;
  r->busy_ns += busy_ns;
  r->checkpoint = position;
  r->last_advance_us = moved_us;
  r->loaded = true;
  r->error[0] = '\0';
  wake_waiters_locked(e);
  pthread_mutex_unlock(&e->wl->mu);
}

static int ensure_conn(proj_lane *l, pv_error *err) {
  if (l->conn) return 0;
  return pg_connect(&l->conn, l->e->conninfo, err);
}

/* Reads the checkpoint, making its row at 0 when the projection is new. */
static int load_checkpoint(proj_lane *l, proj_run *r, pv_error *err) {
  proj_engine *e = l->e;
  const char *values[] = {r->def->name};
  int rc = pg_exec(l->conn,
                   "INSERT INTO pivotal.proj_checkpoint (name, position, updated_at) "
                   "VALUES ($1, 0, now()) ON CONFLICT (name) DO NOTHING",
                   1, values, NULL, err);
  if (rc) return rc;
  PGresult *res = NULL;
  rc = pg_exec(l->conn,
               "SELECT position, (extract(epoch FROM updated_at) * 1000000)::bigint "
               "FROM pivotal.proj_checkpoint WHERE name = $1",
               1, values, &res, err);
  if (rc) return rc;
  uint64_t position = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
  int64_t moved = PQgetisnull(res, 0, 1) ? 0 : strtoll(PQgetvalue(res, 0, 1), NULL, 10);
  PQclear(res);
  set_checkpoint(e, r, position, moved, 0, 0);
  return 0;
}

/* The lowest checkpoint of the projections r's fold reads (proj_def.after)
 * that this engine runs; UINT64_MAX when none. */
static uint64_t upstream_bound(proj_engine *e, const proj_run *r) {
  uint64_t until = UINT64_MAX;
  if (!r->def->after) return until;
  pthread_mutex_lock(&e->wl->mu);
  for (const char *const *name = r->def->after; *name; name++)
    for (size_t i = 0; i < e->nruns; i++) {
      const proj_run *up = &e->runs[i];
      if (strcmp(up->def->name, *name) != 0) continue;
      uint64_t at = up->loaded ? up->checkpoint : 0;
      if (at < until) until = at;
    }
  pthread_mutex_unlock(&e->wl->mu);
  return until;
}

/* After a batch committed: wake the other lanes, whose projections may
 * fold only up to its checkpoint (proj_def.after). Under wl->mu, where
 * proj_engine_stop sets stopping before any lane's handles close. */
static void wake_other_lanes(proj_engine *e, const proj_lane *self) {
  pthread_mutex_lock(&e->wl->mu);
  if (!atomic_load(&e->stopping))
    for (size_t k = 0; k < PROJ_LANES; k++)
      if (&e->lanes[k] != self && e->lanes[k].started) uv_async_send(&e->lanes[k].wake);
  pthread_mutex_unlock(&e->wl->mu);
}

/*
 * Folds one batch of r. *moved is set when r's checkpoint changed (a batch
 * committed, or another instance had moved it).
 * Returns: 0 (also for a fatal gap: r is marked failed) or the batch's
 * error, to be retried.
 */
static int step(proj_lane *l, proj_run *r, bool *moved, pv_error *err) {
  proj_engine *e = l->e;
  pg_conn *conn = l->conn;
  uint64_t old = r->checkpoint;
  uint64_t until = upstream_bound(e, r);
  if (until <= old) return 0; /* its upstream's lane wakes this one */
  uint64_t t0 = pv_mono_ns();
  proj_batch *b = &l->batch;
  int rc = proj_batch_read(b, e->log, r->def, old + 1, until, err);
  if (rc == PV_ECORRUPT) {
    set_error(e, r, err);
    pthread_mutex_lock(&e->wl->mu);
    r->failed = true;
    pthread_mutex_unlock(&e->wl->mu);
    fprintf(stderr, "pivotal: projection %s stopped: %s\n", r->def->name, r->error);
    return 0;
  }
  if (rc) return rc;
  if (b->last == old) return 0;

  char old_s[24], new_s[24];
  snprintf(old_s, sizeof old_s, "%" PRIu64, old);
  snprintf(new_s, sizeof new_s, "%" PRIu64, b->last);
  PGresult *res = NULL;
  if ((rc = pg_exec(conn, "BEGIN", 0, NULL, NULL, err))) goto fail;
  const char *lock_values[] = {r->def->name, r->def->schema};
  rc = pg_exec(conn,
               "SELECT position, set_config('search_path', $2, true) "
               "FROM pivotal.proj_checkpoint WHERE name = $1 FOR UPDATE",
               2, lock_values, &res, err);
  if (rc) goto fail;
  if (PQntuples(res) != 1) {
    rc = pv_error_set(err, PV_ENOTFOUND, NULL, "checkpoint row of \"%s\" is gone",
                      r->def->name);
    goto fail;
  }
  if (strcmp(PQgetvalue(res, 0, 0), old_s) != 0) goto moved_elsewhere;
  PQclear(res);
  res = NULL;
  if ((rc = r->def->fold(conn, b->events, b->n, err))) goto fail;
  const char *fence_values[] = {r->def->name, old_s, new_s};
  rc = pg_exec(conn,
               "UPDATE pivotal.proj_checkpoint SET position = $3, updated_at = now() "
               "WHERE name = $1 AND position = $2",
               3, fence_values, &res, err);
  if (rc) goto fail;
  if (strcmp(PQcmdTuples(res), "1") != 0) goto moved_elsewhere;
  PQclear(res);
  res = NULL;
  if ((rc = pg_exec(conn, "COMMIT", 0, NULL, NULL, err))) goto fail;
  set_checkpoint(e, r, b->last, pv_wall_us(), b->n, pv_mono_ns() - t0);
  wake_other_lanes(e, l);
  *moved = true;
  return 0;

moved_elsewhere:
  /* Another instance (or a rebuild's swap) moved the checkpoint: nothing
   * of ours is kept; continue from where it is. */
  PQclear(res);
  proj_rollback(conn);
  if ((rc = load_checkpoint(l, r, err))) return rc;
  *moved = r->checkpoint != old;
  return 0;
fail:
  PQclear(res);
  proj_rollback(conn);
  set_error(e, r, err);
  return rc;
}

static uint64_t current_head(proj_engine *e) {
  if (e->writer) return log_head(e->log);
  /* Another process writes: only a fresh read transaction sees its head. */
  log_reader *rd;
  if (log_read_begin(e->log, &rd) != 0) return log_head(e->log);
  uint64_t head = log_reader_head(rd);
  log_read_end(rd);
  return head;
}

static void on_retry(uv_timer_t *h);

static void retry_later(proj_lane *l) {
  /* Jitter ±20 % so that many projectors do not return in step. */
  unsigned delay = (unsigned)((uint64_t)l->backoff_ms * (800 + randombytes_uniform(401)) / 1000);
  l->in_backoff = true;
  uv_timer_start(&l->retry_timer, on_retry, delay, 0);
  unsigned next = l->backoff_ms + l->backoff_ms * 3 / 5; /* ×1.6 */
  l->backoff_ms = next > l->e->opt.retry_max_ms ? l->e->opt.retry_max_ms : next;
}

/* Drains: batch after batch for every projection of the lane until each
 * has caught up with the head (read again after each round, since
 * uv_async_send coalesces wake-ups), or a batch fails (then retry_later). */
static void run_pass(proj_lane *l) {
  proj_engine *e = l->e;
  if (l->in_backoff) return;
  pv_error err = PV_ERROR_INIT;
  for (;;) {
    if (atomic_load(&e->stopping)) return;
    int rc = ensure_conn(l, &err);
    bool moved = false;
    uint64_t head = current_head(e);
    for (size_t i = 0; i < l->nruns && rc == 0 && !atomic_load(&e->stopping); i++) {
      proj_run *r = &e->runs[l->runs[i]];
      if (r->failed) continue;
      if (!r->loaded && (rc = load_checkpoint(l, r, &err))) break;
      if (r->checkpoint < head) rc = step(l, r, &moved, &err);
    }
    if (rc) {
      for (size_t i = 0; i < l->nruns; i++)
        if (!e->runs[l->runs[i]].failed) set_error(e, &e->runs[l->runs[i]], &err);
      retry_later(l);
      return;
    }
    if (!moved) break;
  }
  l->backoff_ms = e->opt.retry_base_ms;
}

static void on_wake(uv_async_t *h) { run_pass(h->data); }
static void on_poll(uv_timer_t *h) { run_pass(h->data); }

static void on_retry(uv_timer_t *h) {
  proj_lane *l = h->data;
  l->in_backoff = false;
  run_pass(l);
}

static void on_stop(uv_async_t *h) {
  proj_lane *l = h->data;
  uv_close((uv_handle_t *)&l->wake, NULL);
  uv_close((uv_handle_t *)&l->stop, NULL);
  uv_close((uv_handle_t *)&l->poll_timer, NULL);
  uv_close((uv_handle_t *)&l->retry_timer, NULL);
}

static void *worker_main(void *arg) {
  proj_lane *l = arg;
  uv_run(&l->loop, UV_RUN_DEFAULT);
  pg_conn_free(l->conn);
  l->conn = NULL;
  return NULL;
}

/* ---- start / stop ------------------------------------------------------------ */

/* Stops a started lane: no wake-up reaches it once its handles close. */
static void lane_stop(proj_lane *l) {
  if (l->e->writer) writer_unsubscribe(l->e->writer, &l->wake);
  uv_async_send(&l->stop);
  pthread_join(l->thread, NULL);
  uv_loop_close(&l->loop);
}

/* Starts a lane with its runs set. Returns: 0 or PV_EINTERNAL. */
static int lane_start(proj_lane *l) {
  proj_engine *e = l->e;
  l->backoff_ms = e->opt.retry_base_ms;
  if (uv_loop_init(&l->loop) != 0) return PV_EINTERNAL;
  uv_async_init(&l->loop, &l->wake, on_wake);
  uv_async_init(&l->loop, &l->stop, on_stop);
  uv_timer_init(&l->loop, &l->poll_timer);
  uv_timer_init(&l->loop, &l->retry_timer);
  l->wake.data = l->stop.data = l->poll_timer.data = l->retry_timer.data = l;
  if (e->writer) writer_subscribe(e->writer, &l->wake);
  else uv_timer_start(&l->poll_timer, on_poll, e->opt.poll_ms, e->opt.poll_ms);
  uv_async_send(&l->wake); /* the first pass: catch up from the checkpoints */
  if (pthread_create(&l->thread, NULL, worker_main, l) != 0) {
    if (e->writer) writer_unsubscribe(e->writer, &l->wake);
    on_stop(&l->stop);
    uv_run(&l->loop, UV_RUN_DEFAULT);
    uv_loop_close(&l->loop);
    return PV_EINTERNAL;
  }
  l->started = true;
  return 0;
}

static void engine_free(proj_engine *e) {
  for (size_t k = 0; k < PROJ_LANES; k++) {
    proj_batch_release(&e->lanes[k].batch);
    free(e->lanes[k].runs);
  }
  waitlist_release(e->wl);
  free(e->runs);
  free(e->conninfo);
  free(e);
}

int proj_engine_start(proj_engine **out, log_t *log, writer_t *writer, const char *conninfo,
                      const proj_options *opt, pv_error *err) {
  proj_options o = opt ? *opt : (proj_options){0};
  if (!o.retry_base_ms) o.retry_base_ms = 1000;
  if (!o.retry_max_ms) o.retry_max_ms = 60000;
  if (!o.poll_ms) o.poll_ms = 200; /* arbitrary: a fifth of a second of lag at worst */
  size_t n = 0;
  if (o.names) {
    for (const char *const *name = o.names; *name; name++) {
      if (!proj_find(*name))
        return pv_error_set(err, PV_ENOTFOUND, NULL, "no projection named \"%s\"", *name);
      n++;
    }
  } else {
    n = proj_count();
  }
  proj_engine *e = pv_xcalloc(1, sizeof *e);
  e->log = log;
  e->writer = writer;
  e->conninfo = pv_xstrdup(conninfo);
  e->opt = o;
  e->opt.names = NULL;
  e->nruns = n;
  e->runs = pv_xcalloc(n, sizeof *e->runs);
  for (size_t i = 0; i < n; i++) e->runs[i].def = o.names ? proj_find(o.names[i]) : proj_at(i);
  e->wl = pv_xcalloc(1, sizeof *e->wl);
  pthread_mutex_init(&e->wl->mu, NULL);
  pthread_cond_init(&e->wl->advanced, NULL);
  e->wl->refs = 1;
  /* each lane takes its projections in registry order, whatever the
   * order of opt->names */
  for (size_t k = 0; k < PROJ_LANES; k++) {
    proj_lane *l = &e->lanes[k];
    l->e = e;
    l->runs = pv_xcalloc(n ? n : 1, sizeof *l->runs);
    proj_batch_init(&l->batch, PROJ_BATCH_EVENTS);
    for (size_t reg = 0; reg < proj_count(); reg++)
      for (size_t i = 0; i < n; i++)
        if (e->runs[i].def == proj_at(reg) && e->runs[i].def->lane % PROJ_LANES == k)
          l->runs[l->nruns++] = i;
  }
  for (size_t k = 0; k < PROJ_LANES; k++) {
    if (!e->lanes[k].nruns) continue;
    if (lane_start(&e->lanes[k]) == 0) continue;
    pthread_mutex_lock(&e->wl->mu); /* see wake_other_lanes */
    atomic_store(&e->stopping, true);
    pthread_mutex_unlock(&e->wl->mu);
    for (size_t j = 0; j < k; j++)
      if (e->lanes[j].started) lane_stop(&e->lanes[j]);
    engine_free(e);
    return pv_error_set(err, PV_EINTERNAL, NULL, "could not start the projection engine");
  }
  *out = e;
  return 0;
}

void proj_engine_stop(proj_engine *e) {
  if (!e) return;
  pthread_mutex_lock(&e->wl->mu); /* see wake_other_lanes */
  atomic_store(&e->stopping, true);
  pthread_mutex_unlock(&e->wl->mu);
  for (size_t k = 0; k < PROJ_LANES; k++)
    if (e->lanes[k].started) lane_stop(&e->lanes[k]);

  proj_waitlist *wl = e->wl;
  pthread_mutex_lock(&wl->mu);
  wl->shut = true;
  for (proj_waiter *w = wl->waiters, *next; w; w = next) {
    next = w->next;
    atomic_store(&w->result, PV_ESHUTDOWN);
    uv_async_send(&w->async);
  }
  wl->waiters = NULL;
  pthread_cond_broadcast(&wl->advanced);
  pthread_mutex_unlock(&wl->mu);
  engine_free(e);
}

void proj_engine_notify(proj_engine *e) {
  for (size_t k = 0; k < PROJ_LANES; k++)
    if (e->lanes[k].started) uv_async_send(&e->lanes[k].wake);
}

/* ---- lag -------------------------------------------------------------------------- */

const char *proj_state_name(proj_state s) {
  switch (s) {
  case PROJ_CAUGHT_UP: return "caught up";
  case PROJ_MOVING: return "moving";
  case PROJ_STALLED: return "stalled";
  case PROJ_FAILED: return "failed";
  case PROJ_UNKNOWN: break;
  }
  return "unknown";
}

/* Fills the log-side facts of out (head, lag, state) within rd. */
static void lag_fill(log_reader *rd, uint64_t head, int64_t now_us, proj_lag *out) {
  out->head = head;
  out->lag_events = head > out->checkpoint ? head - out->checkpoint : 0;
  out->lag_seconds = 0;
  if (out->lag_events == 0) {
    out->state = PROJ_CAUGHT_UP;
    return;
  }
  evt_envelope ev;
  if (rd && log_read_event(rd, out->checkpoint + 1, &ev, NULL, NULL) == 0 && now_us > ev.ts_us)
    out->lag_seconds = (double)(now_us - ev.ts_us) / 1e6;
  bool recent = out->last_advance_us && now_us - out->last_advance_us < PROJ_STALL_S * 1000000LL;
  out->state = recent ? PROJ_MOVING : PROJ_STALLED;
}

int proj_lag_compute(log_t *log, const char *name, uint64_t checkpoint, int64_t last_advance_us,
                     proj_lag *out) {
  memset(out, 0, sizeof *out);
  snprintf(out->name, sizeof out->name, "%s", name);
  out->checkpoint = checkpoint;
  out->last_advance_us = last_advance_us;
  log_reader *rd;
  int rc = log_read_begin(log, &rd);
  if (rc) return rc;
  lag_fill(rd, log_reader_head(rd), pv_wall_us(), out);
  log_read_end(rd);
  return 0;
}

size_t proj_engine_lag(proj_engine *e, proj_lag *out, size_t cap) {
  size_t n = e->nruns < cap ? e->nruns : cap;
  bool loaded[n ? n : 1], failed[n ? n : 1];
  pthread_mutex_lock(&e->wl->mu);
  for (size_t i = 0; i < n; i++) {
    const proj_run *r = &e->runs[i];
    memset(&out[i], 0, sizeof out[i]);
    snprintf(out[i].name, sizeof out[i].name, "%s", r->def->name);
    out[i].checkpoint = r->checkpoint;
    out[i].last_advance_us = r->last_advance_us;
    snprintf(out[i].error, sizeof out[i].error, "%s", r->error);
    out[i].folded_events = r->folded_events;
    out[i].folded_batches = r->folded_batches;
    out[i].busy_ns = r->busy_ns;
    loaded[i] = r->loaded;
    failed[i] = r->failed;
  }
  pthread_mutex_unlock(&e->wl->mu);
  log_reader *rd = NULL;
  uint64_t head = log_head(e->log);
  if (log_read_begin(e->log, &rd) == 0) head = log_reader_head(rd);
  int64_t now = pv_wall_us();
  for (size_t i = 0; i < n; i++) {
    lag_fill(rd, head, now, &out[i]);
    if (failed[i]) out[i].state = PROJ_FAILED;
    else if (!loaded[i]) out[i].state = PROJ_UNKNOWN;
  }
  if (rd) log_read_end(rd);
  return e->nruns;
}

/* ---- waiting for a position ------------------------------------------------ */

/* Indices of the named runs; PV_ENOTFOUND when one is not run here. */
static int find_runs(proj_engine *e, const char *const *names, size_t n, size_t *idx) {
  for (size_t i = 0; i < n; i++) {
    size_t k = 0;
    while (k < e->nruns && strcmp(e->runs[k].def->name, names[i]) != 0) k++;
    if (k == e->nruns) return PV_ENOTFOUND;
    idx[i] = k;
  }
  return 0;
}

static void waiter_closed(uv_handle_t *h) {
  proj_waiter *w = h->data;
  if (--w->open_handles == 0) {
    free(w->runs);
    free(w);
  }
}

/* On the caller's loop: the first of the async (answered) and the timer
 * (timed out) to run decides the outcome. */
static void waiter_finish(proj_waiter *w) {
  if (w->finished) return;
  /* Always under the lock: the engine sends to w->async under it, so once
   * we hold it no send to the handle we are about to close is in flight. */
  pthread_mutex_lock(&w->wl->mu);
  int rc = atomic_load(&w->result);
  if (rc == WAIT_PENDING) {
    for (proj_waiter **link = &w->wl->waiters; *link; link = &(*link)->next)
      if (*link == w) {
        *link = w->next;
        break;
      }
    rc = PV_ETIMEDOUT;
  }
  pthread_mutex_unlock(&w->wl->mu);
  w->finished = true;
  uv_timer_stop(&w->timer);
  uv_close((uv_handle_t *)&w->async, waiter_closed);
  uv_close((uv_handle_t *)&w->timer, waiter_closed);
  waitlist_release(w->wl);
  w->cb(rc, w->arg);
}

static void on_waiter_async(uv_async_t *h) {
  proj_waiter *w = h->data;
  if (atomic_load(&w->result) != WAIT_PENDING) waiter_finish(w);
}

static void on_waiter_timer(uv_timer_t *h) { waiter_finish(h->data); }

int proj_wait_position(proj_engine *e, const char *const *names, size_t n, uint64_t position,
                       unsigned timeout_ms, uv_loop_t *loop, proj_wait_cb cb, void *arg) {
  size_t *idx = pv_xmalloc((n ? n : 1) * sizeof *idx);
  if (find_runs(e, names, n, idx) != 0) {
    free(idx);
    return PV_ENOTFOUND;
  }
  proj_waiter *w = pv_xcalloc(1, sizeof *w);
  w->wl = e->wl;
  w->runs = idx;
  w->nruns = n;
  w->position = position;
  w->cb = cb;
  w->arg = arg;
  w->open_handles = 2;
  atomic_init(&w->result, WAIT_PENDING);
  uv_async_init(loop, &w->async, on_waiter_async);
  uv_timer_init(loop, &w->timer);
  w->async.data = w->timer.data = w;

  pthread_mutex_lock(&e->wl->mu);
  if (e->wl->shut) {
    pthread_mutex_unlock(&e->wl->mu);
    w->finished = true;
    uv_close((uv_handle_t *)&w->async, waiter_closed);
    uv_close((uv_handle_t *)&w->timer, waiter_closed);
    return PV_ESHUTDOWN;
  }
  e->wl->refs++;
  if (passed(e, idx, n, position)) {
    atomic_store(&w->result, 0);
    uv_async_send(&w->async); /* cb from the loop, never from here */
  } else {
    w->next = e->wl->waiters;
    e->wl->waiters = w;
  }
  pthread_mutex_unlock(&e->wl->mu);
  uv_timer_start(&w->timer, on_waiter_timer, timeout_ms, 0);
  return 0;
}

int proj_wait_position_sync(proj_engine *e, const char *const *names, size_t n,
                            uint64_t position, unsigned timeout_ms) {
  size_t *idx = pv_xmalloc((n ? n : 1) * sizeof *idx);
  if (find_runs(e, names, n, idx) != 0) {
    free(idx);
    return PV_ENOTFOUND;
  }
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += timeout_ms / 1000;
  deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
  if (deadline.tv_nsec >= 1000000000L) {
    deadline.tv_sec++;
    deadline.tv_nsec -= 1000000000L;
  }
  int rc = 0;
  pthread_mutex_lock(&e->wl->mu);
  while (!passed(e, idx, n, position)) {
    if (e->wl->shut || atomic_load(&e->stopping)) {
      rc = PV_ESHUTDOWN;
      break;
    }
    if (pthread_cond_timedwait(&e->wl->advanced, &e->wl->mu, &deadline) == ETIMEDOUT &&
        !passed(e, idx, n, position)) {
      rc = PV_ETIMEDOUT;
      break;
    }
  }
  pthread_mutex_unlock(&e->wl->mu);
  free(idx);
  return rc;
}
