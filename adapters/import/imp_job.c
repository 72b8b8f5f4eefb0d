/* imp_job — see imp_job.h. */
#include "adapters/import/imp_job.h"

#include "adapters/import/imp_reader.h"
#include "core/common/pv_time.h"

#include <msgpack.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* 2,000 rows between progress callbacks: arbitrary; a bar redraws ~50
 * times a second at the measured import rate. */
#define IMP_JOB_CALLBACK_EVERY 2000

typedef struct job job;

/* Rows are prepared (normalized: most of an import's CPU, libphonenumber
 * above all) IMP_JOB_PREP_BATCH at a time on up to IMP_JOB_PREP_THREADS
 * threads, the reader's included, then checked for duplicates and
 * submitted in row order. 128 rows: a thread start per ~1 ms of work per
 * thread, under 1 % overhead. */
#define IMP_JOB_PREP_BATCH 128
#define IMP_JOB_PREP_THREADS 4

typedef struct slot {
  job *j;
  imp_row row;
  imp_outcome out;
  writer_cmd acc, con;
  int pending; /* commands not yet answered (job lock) */
  bool settled; /* invalid or duplicate: no commands */
  bool skip;    /* before the resume row: counted already */
  /* the row's cells as read, until it is prepared: NUL-separated in raw,
   * their lengths in lens */
  pv_buf raw;
  size_t *lens;
  size_t ncells, lens_cap;
  int prep_rc;
  pv_error prep_err;
} slot;

struct job {
  const imp_job_opts *o;
  bool resuming; /* import.started is already in the log */
  log_t *log;
  writer_t *w;
  writer_sim *sim;
  imp_opts row_opts;
  imp_map map;
  bool map_ready;
  imp_seen *seen;
  slot *slots;
  size_t head, count;
  size_t staged; /* the last `staged` of the count rows: read, not yet prepared */
  size_t prep_threads;
  atomic_size_t prep_next; /* the next staged row to prepare */
  uint64_t rows, start_row;
  char delimiter;
  FILE *report;
  pv_buf line;
  imp_progress prog;
  uint64_t started_ns, last_cb_rows;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  pv_error err;
  char stream[EVT_MAX_STREAM + 1];
};

bool imp_job_id_valid(const char *id) {
  size_t n = id ? strlen(id) : 0;
  if (n == 0 || n > 64) return false;
  for (size_t i = 0; i < n; i++)
    if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z') ||
          (id[i] >= '0' && id[i] <= '9') || id[i] == '_' || id[i] == '-'))
      return false;
  return true;
}

/* ---- the job's own events ------------------------------------------------ */

typedef struct evt_arg {
  const char *stream, *type;
  int64_t expected;
  pv_buf payload;
} evt_arg;

static int evt_decide(writer_ctx *ctx, void *arg, pv_error *err) {
  evt_arg *a = arg;
  return writer_emit(ctx, a->stream, a->expected, a->type, 1, a->payload.data, a->payload.len,
                     err);
}

static int emit(job *j, const char *type, int64_t expected, pv_buf *payload, pv_error *err) {
  evt_arg a = {j->stream, type, expected, *payload};
  writer_cmd cmd = {.tenant = j->o->tenant, .actor = j->o->actor, .correlation_id = j->o->import_id,
                    .decide = evt_decide, .arg = &a};
  int rc = writer_run(j->w, &cmd);
  if (rc == PV_ECONFLICT && expected == LOG_EXPECT_NO_STREAM)
    return pv_error_set(err, PV_EEXISTS, "/import_id", "import \"%s\" already exists",
                        j->o->import_id);
  if (rc) *err = cmd.error;
  return rc;
}

static void pack_counts(msgpack_packer *pk, const uint64_t *counts) {
  msgpack_pack_map(pk, IMP_STATUS_COUNT);
  for (int s = 0; s < IMP_STATUS_COUNT; s++) {
    mp_pack_cstr(pk, imp_status_name((imp_status)s));
    msgpack_pack_uint64(pk, counts[s]);
  }
}

static int emit_started(job *j, pv_error *err) {
  const imp_job_opts *o = j->o;
  pv_buf p = PV_BUF_INIT;
  msgpack_packer pk;
  mp_packer_init(&pk, &p);
  msgpack_pack_map(&pk, 8);
  mp_pack_cstr(&pk, "import_id");
  mp_pack_cstr(&pk, o->import_id);
  mp_pack_cstr(&pk, "file");
  mp_pack_cstr(&pk, o->path);
  mp_pack_cstr(&pk, "format");
  mp_pack_cstr(&pk, o->format ? o->format : imp_format_of(o->path));
  mp_pack_cstr(&pk, "mode");
  mp_pack_cstr(&pk, o->dry_run ? "dry_run" : "commit");
  mp_pack_cstr(&pk, "source");
  mp_pack_cstr(&pk, j->row_opts.source);
  mp_pack_cstr(&pk, "observed_at");
  msgpack_pack_int64(&pk, j->row_opts.observed_at_us);
  mp_pack_cstr(&pk, "delimiter");
  char d[2] = {j->delimiter, 0};
  mp_pack_cstr(&pk, d);
  mp_pack_cstr(&pk, "mapping");
  msgpack_pack_map(&pk, (uint32_t)o->override_count);
  for (size_t i = 0; i < o->override_count; i++) {
    mp_pack_cstr(&pk, o->overrides[i].column);
    mp_pack_cstr(&pk, o->overrides[i].target);
  }
  int rc = emit(j, "import.started", LOG_EXPECT_NO_STREAM, &p, err);
  pv_buf_release(&p);
  return rc;
}

static int emit_progress(job *j, uint64_t next_row, pv_error *err) {
  fflush(j->report);
  long bytes = ftell(j->report);
  pv_buf p = PV_BUF_INIT;
  msgpack_packer pk;
  mp_packer_init(&pk, &p);
  msgpack_pack_map(&pk, 4);
  mp_pack_cstr(&pk, "import_id");
  mp_pack_cstr(&pk, j->o->import_id);
  mp_pack_cstr(&pk, "next_row");
  msgpack_pack_uint64(&pk, next_row);
  mp_pack_cstr(&pk, "report_bytes");
  msgpack_pack_uint64(&pk, bytes < 0 ? 0 : (uint64_t)bytes);
  mp_pack_cstr(&pk, "counts");
  pack_counts(&pk, j->prog.counts);
  int rc = emit(j, "import.progress", LOG_EXPECT_ANY, &p, err);
  pv_buf_release(&p);
  return rc;
}

static int emit_finished(job *j, const pv_error *failure, pv_error *err) {
  pv_buf p = PV_BUF_INIT;
  msgpack_packer pk;
  mp_packer_init(&pk, &p);
  msgpack_pack_map(&pk, failure ? 5 : 4);
  mp_pack_cstr(&pk, "import_id");
  mp_pack_cstr(&pk, j->o->import_id);
  mp_pack_cstr(&pk, "rows");
  msgpack_pack_uint64(&pk, j->rows);
  mp_pack_cstr(&pk, "counts");
  pack_counts(&pk, j->prog.counts);
  mp_pack_cstr(&pk, "status");
  mp_pack_cstr(&pk, failure ? "failed" : "done");
  if (failure) {
    mp_pack_cstr(&pk, "error");
    mp_pack_cstr(&pk, failure->message);
  }
  int rc = emit(j, "import.finished", LOG_EXPECT_ANY, &p, err);
  pv_buf_release(&p);
  return rc;
}

/* ---- rows ------------------------------------------------------------------ */

static void cmd_done(writer_cmd *cmd) {
  slot *s = cmd->done_arg;
  job *j = s->j;
  pthread_mutex_lock(&j->lock);
  s->pending--;
  pthread_cond_broadcast(&j->cond);
  pthread_mutex_unlock(&j->lock);
}

/* Reads the events a command appended into the row's outcome. */
static void read_events(job *j, const writer_cmd *cmd, imp_outcome *out) {
  if (!cmd->event_count) return;
  log_reader *rd;
  if (log_read_begin(j->log, &rd)) return;
  for (uint32_t i = 0; i < cmd->event_count; i++) {
    evt_envelope e;
    const uint8_t *raw;
    size_t len;
    if (log_read_event(rd, cmd->first_position + i, &e, &raw, &len) == 0)
      imp_outcome_event(out, &e, raw, len);
  }
  log_read_end(rd);
}

static imp_status error_status(int code) {
  return code == PV_EINVAL || code == PV_EEXISTS || code == PV_ENOTFOUND ? IMP_S_INVALID
                                                                        : IMP_S_FAILED;
}

/* The row's outcome once its commands are settled: the same for a dry run
 * (events seen by the sim) and a commit (events read back from the log). */
static void settle(job *j, slot *s) {
  imp_outcome *o = &s->out;
  if (s->settled) return;
  if (!j->sim) {
    if (s->row.has_account && s->acc.status == 0) read_events(j, &s->acc, o);
    if (s->con.status == 0) read_events(j, &s->con, o);
  }
  if (s->row.has_account && s->acc.status)
    snprintf(o->account, sizeof o->account, "%s", pv_err_name(s->acc.status));
  if (s->con.status == 0 && !s->con.replayed && !o->contact_id[0] && !s->row.suppressed)
    snprintf(o->contact_id, sizeof o->contact_id, "%s", s->row.contact.id);
  if (s->con.status) {
    imp_outcome_error(o, error_status(s->con.status), &s->con.error);
  } else if (s->row.suppressed && !s->con.replayed) {
    o->status = IMP_S_SUPPRESSED;
    snprintf(o->reason, sizeof o->reason, "the %s is suppressed", s->row.supp_channel);
  }
}

static int finalize_head(job *j, pv_error *err) {
  slot *s = &j->slots[j->head];
  pthread_mutex_lock(&j->lock);
  while (s->pending) pthread_cond_wait(&j->cond, &j->lock);
  pthread_mutex_unlock(&j->lock);
  j->head = (j->head + 1) % IMP_JOB_WINDOW;
  j->count--;
  if (s->skip) return 0;
  settle(j, s);
  pv_buf_reset(&j->line);
  imp_report_line(&j->line, &s->out);
  if (fwrite(j->line.data, 1, j->line.len, j->report) != j->line.len)
    return pv_error_set(err, PV_EIO, NULL, "could not write the import report");
  j->prog.counts[s->out.status]++;
  j->prog.rows_done = s->row.row;
  uint64_t every = j->o->progress_every ? j->o->progress_every : IMP_JOB_PROGRESS_EVERY;
  if (!j->sim && s->row.row % every == 0) {
    int rc = emit_progress(j, s->row.row + 1, err);
    if (rc) return rc;
  }
  if (j->o->on_progress && j->prog.rows_done - j->last_cb_rows >= IMP_JOB_CALLBACK_EVERY) {
    j->last_cb_rows = j->prog.rows_done;
    double secs = (double)(pv_mono_ns() - j->started_ns) / 1e9;
    j->prog.rows_per_s = secs > 0 ? (double)(j->prog.rows_done - j->start_row + 1) / secs : 0;
    double frac = j->prog.bytes_total ? (double)j->prog.bytes_done / (double)j->prog.bytes_total
                                      : 0;
    j->prog.eta_s = frac > 0.001 ? secs * (1 - frac) / frac : -1;
    j->o->on_progress(&j->prog, j->o->progress_arg);
  }
  return 0;
}

static int submit(job *j, slot *s, writer_cmd *c, writer_decide_fn decide, void *arg,
                  const char *key, pv_error *err) {
  memset(c, 0, sizeof *c);
  c->tenant = j->o->tenant;
  c->actor = j->o->actor;
  c->correlation_id = j->o->import_id;
  c->idempotency_key = key;
  c->decide = decide;
  c->arg = arg;
  c->done = cmd_done;
  c->done_arg = s;
  if (j->sim) {
    int rc = writer_sim_run(j->sim, c, imp_outcome_event, &s->out);
    return rc ? pv_error_set(err, rc, NULL, "could not simulate row") : 0;
  }
  pthread_mutex_lock(&j->lock);
  s->pending++;
  pthread_mutex_unlock(&j->lock);
  int rc = writer_submit(j->w, c);
  if (rc) {
    /* never answered: the row settles as failed instead of being waited for */
    pthread_mutex_lock(&j->lock);
    s->pending--;
    pthread_mutex_unlock(&j->lock);
    c->status = rc;
    pv_error_set(&c->error, rc, NULL, "the writer refused the row");
    return pv_error_set(err, rc, NULL, "the writer refused a row");
  }
  return 0;
}

/* ---- preparing rows in parallel ------------------------------------------ */

static slot *staged_slot(job *j, size_t k) {
  return &j->slots[(j->head + j->count - j->staged + k) % IMP_JOB_WINDOW];
}

/* Copies a row's mapped cells into its slot (the reader's buffers are
 * reused); a column the map ignores is staged empty, so a wide ignored
 * column costs no memory here. */
static void stage_cells(slot *s, const imp_map *m, const char *const *cells,
                        const size_t *lens, size_t n) {
  if (n > m->columns) n = m->columns;
  pv_buf_reset(&s->raw);
  if (n > s->lens_cap) {
    s->lens = pv_xrealloc(s->lens, n * sizeof *s->lens);
    s->lens_cap = n;
  }
  for (size_t i = 0; i < n; i++) {
    bool keep = cells[i] && m->target[i] >= 0;
    s->lens[i] = keep ? lens[i] : 0;
    if (keep) pv_buf_add(&s->raw, cells[i], lens[i]);
    pv_buf_add(&s->raw, "", 1);
  }
  s->ncells = n;
}

/* Prepares staged rows until none is left; run by every prep thread. */
static void prepare_staged(job *j) {
  const char *cells[IMP_MAX_COLUMNS];
  size_t k;
  while ((k = atomic_fetch_add(&j->prep_next, 1)) < j->staged) {
    slot *s = staged_slot(j, k);
    size_t n = s->ncells < IMP_MAX_COLUMNS ? s->ncells : IMP_MAX_COLUMNS;
    const char *p = s->raw.data;
    for (size_t i = 0; i < n; i++) {
      cells[i] = p;
      p += s->lens[i] + 1;
    }
    s->prep_err = (pv_error)PV_ERROR_INIT;
    s->prep_rc = imp_row_prepare(&s->row, &j->map, &j->row_opts, s->out.row, cells, s->lens, n,
                                 &s->prep_err);
  }
}

static void *prep_thread(void *arg) {
  prepare_staged(arg);
  return NULL;
}

/* After its preparation, in row order: a duplicate check and the row's
 * commands. */
static int submit_prepared(job *j, slot *s) {
  if (s->prep_rc) {
    imp_outcome_error(&s->out, IMP_S_INVALID, &s->prep_err);
    s->settled = true;
    return 0;
  }
  uint64_t first = imp_seen_check(j->seen, &s->row);
  if (first) {
    s->out.status = IMP_S_DUPLICATE;
    snprintf(s->out.reason, sizeof s->out.reason, "same email or id as row %llu",
             (unsigned long long)first);
    s->settled = true;
    return 0;
  }
  if (imp_seen_account(j->seen, &s->row)) s->row.has_account = false;
  if (s->skip) return 0;
  int rc;
  if (s->row.has_account &&
      (rc = submit(j, s, &s->acc, acct_upsert_decide, &s->row.account, s->row.idem_account,
                   &j->err)))
    return rc;
  if ((rc = submit(j, s, &s->con, imp_row_decide, &s->row, s->row.idem_contact, &j->err)))
    return rc;
  return 0;
}

/* Prepares the staged rows (in parallel when there are enough), then
 * submits them in order. */
static int flush_staged(job *j) {
  if (!j->staged) return 0;
  atomic_store(&j->prep_next, 0);
  pthread_t threads[IMP_JOB_PREP_THREADS];
  size_t started = 0;
  size_t want = j->staged >= IMP_JOB_PREP_BATCH / 2 ? j->prep_threads : 1;
  for (size_t t = 1; t < want; t++)
    if (pthread_create(&threads[started], NULL, prep_thread, j) == 0) started++;
  prepare_staged(j);
  for (size_t t = 0; t < started; t++) pthread_join(threads[t], NULL);
  int rc = 0;
  size_t k = 0;
  while (k < j->staged && rc == 0) rc = submit_prepared(j, staged_slot(j, k++));
  /* after a refusal the rest is not submitted: forget it */
  size_t rest = j->staged - k;
  j->count -= rest;
  j->rows -= rest;
  j->staged = 0;
  return rc;
}

/* Forgets rows read but not submitted (the import stops on an error). */
static void drop_staged(job *j) {
  j->count -= j->staged;
  j->rows -= j->staged;
  j->staged = 0;
}

static int on_row(void *arg, const char *const *cells, const size_t *lens, size_t n) {
  job *j = arg;
  if (j->o->cancel && atomic_load(j->o->cancel))
    return pv_error_set(&j->err, PV_ESHUTDOWN, NULL, "the import was stopped");
  if (!j->map_ready) {
    int rc = imp_map_build(&j->map, cells, n, j->o->overrides, j->o->override_count, &j->err);
    if (rc) return rc;
    j->map_ready = true;
    if (!j->resuming && (rc = emit_started(j, &j->err))) return rc;
    return 0;
  }
  if (j->count == IMP_JOB_WINDOW) {
    int rc = flush_staged(j);
    if (!rc) rc = finalize_head(j, &j->err);
    if (rc) return rc;
  }
  slot *s = &j->slots[(j->head + j->count) % IMP_JOB_WINDOW];
  j->count++;
  j->staged++;
  uint64_t row = ++j->rows;
  imp_outcome_init(&s->out, row);
  s->settled = false;
  s->skip = row < j->start_row;
  s->pending = 0;
  stage_cells(s, &j->map, cells, lens, n);
  return j->staged == IMP_JOB_PREP_BATCH ? flush_staged(j) : 0;
}

static void on_bytes(void *arg, uint64_t done, uint64_t total) {
  job *j = arg;
  j->prog.bytes_done = done;
  j->prog.bytes_total = total;
}

static int run(job *j, log_t *log, writer_t *w, const imp_job_opts *o, uint64_t report_bytes,
               imp_progress *out, pv_error *err) {
  int rc = 0;
  j->o = o;
  j->log = log;
  j->w = w;
  snprintf(j->stream, sizeof j->stream, "import-%s", o->import_id);
  j->row_opts.import_id = o->import_id;
  j->row_opts.source = o->source && *o->source ? o->source : "import";
  j->row_opts.observed_at_us = o->observed_at_us ? o->observed_at_us : pv_wall_us();
  j->seen = imp_seen_new();
  j->slots = pv_xcalloc(IMP_JOB_WINDOW, sizeof *j->slots);
  for (size_t i = 0; i < IMP_JOB_WINDOW; i++) {
    j->slots[i].j = j;
    imp_row_init(&j->slots[i].row);
    pv_buf_init(&j->slots[i].raw, 0);
  }
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  j->prep_threads = cpus < 1 ? 1 : cpus > IMP_JOB_PREP_THREADS ? IMP_JOB_PREP_THREADS
                                                               : (size_t)cpus;
  pv_buf_init(&j->line, 512);
  pthread_mutex_init(&j->lock, NULL);
  pthread_cond_init(&j->cond, NULL);
  j->started_ns = pv_mono_ns();

  if (j->start_row > 1) {
    j->report = fopen(o->report_path, "r+b");
    if (j->report && ftruncate(fileno(j->report), (off_t)report_bytes) == 0)
      fseek(j->report, (long)report_bytes, SEEK_SET);
  } else {
    j->report = fopen(o->report_path, "wb");
    if (j->report) {
      imp_report_header(&j->line);
      fwrite(j->line.data, 1, j->line.len, j->report);
    }
  }
  if (!j->report) {
    rc = pv_error_set(err, PV_EIO, NULL, "could not write the report \"%s\"", o->report_path);
    goto cleanup;
  }
  if (o->dry_run && (rc = writer_sim_open(&j->sim, log, o->tenant, o->spool_dir, err)))
    goto cleanup;

  imp_read_opts ro = {.format = o->format, .delimiter = o->delimiter, .on_row = on_row,
                      .on_bytes = on_bytes, .arg = j};
  rc = imp_read_file(o->path, &ro, &j->delimiter, &j->err);
  if (rc == 0) rc = flush_staged(j);
  else drop_staged(j);
  if (!j->map_ready && rc == 0)
    rc = pv_error_set(&j->err, PV_EINVAL, NULL, "the file has no header row");
  /* settle what is in flight, whatever happened */
  pv_error ferr = PV_ERROR_INIT;
  while (j->count) {
    int frc = finalize_head(j, &ferr);
    if (frc && !rc) {
      rc = frc;
      j->err = ferr;
    }
  }
  fflush(j->report);
  if (rc) {
    *err = j->err;
    /* stopped, not failed: no end is recorded, so it can be resumed */
    if (j->map_ready && rc != PV_ESHUTDOWN) emit_finished(j, err, &ferr);
    goto cleanup;
  }
  if ((rc = emit_finished(j, NULL, err))) goto cleanup;
  j->prog.finished = true;
  double secs = (double)(pv_mono_ns() - j->started_ns) / 1e9;
  j->prog.rows_per_s = secs > 0 ? (double)j->rows / secs : 0;
  j->prog.eta_s = 0;
  if (o->on_progress) o->on_progress(&j->prog, o->progress_arg);

cleanup:
  if (out) *out = j->prog;
  writer_sim_close(j->sim);
  if (j->report) fclose(j->report);
  for (size_t i = 0; i < IMP_JOB_WINDOW; i++) {
    imp_row_release(&j->slots[i].row);
    pv_buf_release(&j->slots[i].raw);
    free(j->slots[i].lens);
  }
  free(j->slots);
  imp_seen_free(j->seen);
  pv_buf_release(&j->line);
  pthread_cond_destroy(&j->cond);
  pthread_mutex_destroy(&j->lock);
  return rc;
}

int imp_job_run(log_t *log, writer_t *w, const imp_job_opts *o, imp_progress *out,
                pv_error *err) {
  if (!imp_job_id_valid(o->import_id))
    return pv_error_set(err, PV_EINVAL, "/import_id",
                        "an import id is 1 to 64 letters, digits, '_' or '-'");
  if (!o->path || !o->report_path || !o->tenant || !o->actor)
    return pv_error_set(err, PV_EINVAL, NULL, "an import needs a file and a report path");
  job j = {0};
  j.start_row = 1;
  return run(&j, log, w, o, 0, out, err);
}

/* ---- resume ---------------------------------------------------------------- */

typedef struct resume_state {
  bool started, finished, dry_run, failed;
  uint64_t rows;
  char error[256];
  uint64_t next_row, report_bytes;
  uint64_t counts[IMP_STATUS_COUNT];
  int64_t observed_at;
  char delimiter;
  pv_buf strs; /* file, format, source, then override pairs, NUL-separated */
  size_t file, format, source;
  size_t ov_off[IMP_MAX_COLUMNS * 2];
  size_t ov_count;
} resume_state;

static size_t keep(resume_state *st, mp_slice s) {
  size_t off = st->strs.len;
  pv_buf_add(&st->strs, s.ptr, s.len);
  pv_buf_add(&st->strs, "", 1);
  return off;
}

static int read_counts(mp_reader *r, uint64_t *counts) {
  uint32_t n;
  int rc = mp_read_map(r, &n);
  for (uint32_t i = 0; i < n && rc == 0; i++) {
    mp_slice k;
    uint64_t v;
    if ((rc = mp_read_str(r, &k)) || (rc = mp_read_uint(r, &v))) break;
    for (int s = 0; s < IMP_STATUS_COUNT; s++)
      if (mp_slice_eq(k, imp_status_name((imp_status)s))) counts[s] = v;
  }
  return rc;
}

static int resume_visit(void *arg, const evt_envelope *e, const uint8_t *raw, size_t raw_len) {
  resume_state *st = arg;
  mp_reader r;
  uint32_t n;
  mp_reader_init(&r, e->payload, e->payload_len);
  if (mp_read_map(&r, &n)) return PV_ECORRUPT;
  bool started = mp_slice_eq(e->type, "import.started");
  bool progress = mp_slice_eq(e->type, "import.progress");
  if (mp_slice_eq(e->type, "import.finished")) st->finished = true;
  if (started) st->started = true;
  for (uint32_t i = 0; i < n; i++) {
    mp_slice k, v;
    int rc = mp_read_str(&r, &k);
    if (rc) return PV_ECORRUPT;
    if (started && (mp_slice_eq(k, "file") || mp_slice_eq(k, "format") ||
                    mp_slice_eq(k, "source") || mp_slice_eq(k, "mode") ||
                    mp_slice_eq(k, "delimiter"))) {
      if (mp_read_str(&r, &v)) return PV_ECORRUPT;
      if (mp_slice_eq(k, "file")) st->file = keep(st, v);
      else if (mp_slice_eq(k, "format")) st->format = keep(st, v);
      else if (mp_slice_eq(k, "source")) st->source = keep(st, v);
      else if (mp_slice_eq(k, "mode")) st->dry_run = mp_slice_eq(v, "dry_run");
      else st->delimiter = v.len ? v.ptr[0] : ',';
    } else if (started && mp_slice_eq(k, "observed_at")) {
      if (mp_read_int(&r, &st->observed_at)) return PV_ECORRUPT;
    } else if (started && mp_slice_eq(k, "mapping")) {
      uint32_t m;
      if (mp_read_map(&r, &m) || m > IMP_MAX_COLUMNS) return PV_ECORRUPT;
      for (uint32_t q = 0; q < m * 2; q++) {
        if (mp_read_str(&r, &v)) return PV_ECORRUPT;
        st->ov_off[q] = keep(st, v);
      }
      st->ov_count = m;
    } else if (progress && mp_slice_eq(k, "next_row")) {
      if (mp_read_uint(&r, &st->next_row)) return PV_ECORRUPT;
    } else if (progress && mp_slice_eq(k, "report_bytes")) {
      if (mp_read_uint(&r, &st->report_bytes)) return PV_ECORRUPT;
    } else if ((progress || st->finished) && mp_slice_eq(k, "counts")) {
      if (read_counts(&r, st->counts)) return PV_ECORRUPT;
    } else if (st->finished && mp_slice_eq(k, "rows")) {
      if (mp_read_uint(&r, &st->rows)) return PV_ECORRUPT;
    } else if (st->finished && (mp_slice_eq(k, "status") || mp_slice_eq(k, "error"))) {
      if (mp_read_str(&r, &v)) return PV_ECORRUPT;
      if (mp_slice_eq(k, "status")) st->failed = mp_slice_eq(v, "failed");
      else snprintf(st->error, sizeof st->error, "%.*s", (int)v.len, v.ptr);
    } else if (mp_skip(&r, 1)) {
      return PV_ECORRUPT;
    }
  }
  return 0;
}

/* Reads the import's stream into st (st->strs initialised by the caller). */
static int read_import(log_t *log, const char *tenant, const char *import_id,
                       resume_state *st, pv_error *err) {
  if (!imp_job_id_valid(import_id))
    return pv_error_set(err, PV_EINVAL, "/import_id",
                        "an import id is 1 to 64 letters, digits, '_' or '-'");
  char stream[EVT_MAX_STREAM + 1];
  snprintf(stream, sizeof stream, "import-%s", import_id);
  log_reader *rd;
  if (log_read_begin(log, &rd)) return pv_error_set(err, PV_EIO, NULL, "could not read the event log");
  int rc = log_read_stream(rd, tenant, stream, 1, resume_visit, st);
  log_read_end(rd);
  if (rc)
    return pv_error_set(err, PV_ECORRUPT, NULL, "the events of import \"%s\" do not read",
                        import_id);
  if (!st->started)
    return pv_error_set(err, PV_ENOTFOUND, "/import_id", "no import \"%s\"", import_id);
  return 0;
}

int imp_job_status(log_t *log, const char *tenant, const char *import_id, imp_job_info *out,
                   pv_error *err) {
  resume_state st = {0};
  pv_buf_init(&st.strs, 256);
  int rc = read_import(log, tenant, import_id, &st, err);
  if (rc == 0) {
    memset(out, 0, sizeof *out);
    out->finished = st.finished;
    out->failed = st.failed;
    out->dry_run = st.dry_run;
    out->rows = st.finished ? st.rows : (st.next_row ? st.next_row - 1 : 0);
    memcpy(out->counts, st.counts, sizeof out->counts);
    snprintf(out->error, sizeof out->error, "%s", st.error);
  }
  pv_buf_release(&st.strs);
  return rc;
}

int imp_job_resume(log_t *log, writer_t *w, const char *tenant, const char *actor,
                   const char *import_id, const imp_job_opts *o, imp_progress *out,
                   pv_error *err) {
  resume_state st = {0};
  pv_buf_init(&st.strs, 256);
  int rc = read_import(log, tenant, import_id, &st, err);
  if (rc == 0 && (st.finished || st.dry_run)) {
    rc = pv_error_set(err, PV_EINVAL, "/import_id", "import \"%s\" is %s", import_id,
                      st.finished ? "finished" : "a dry run");
    if (st.dry_run && !st.finished) pv_error_hint(err, "Run the dry run again.");
  }
  if (rc) {
    pv_buf_release(&st.strs);
    return rc;
  }
  imp_override ov[IMP_MAX_COLUMNS];
  for (size_t i = 0; i < st.ov_count; i++) {
    ov[i].column = st.strs.data + st.ov_off[2 * i];
    ov[i].target = st.strs.data + st.ov_off[2 * i + 1];
  }
  imp_job_opts ro = *o;
  ro.tenant = tenant;
  ro.actor = actor;
  ro.import_id = import_id;
  ro.path = st.strs.data + st.file;
  ro.format = st.strs.data + st.format;
  ro.source = st.strs.data + st.source;
  ro.delimiter = st.delimiter;
  ro.observed_at_us = st.observed_at;
  ro.overrides = ov;
  ro.override_count = st.ov_count;
  ro.dry_run = false;
  job j = {0};
  j.resuming = true;
  /* no progress event yet: the report starts over */
  j.start_row = st.next_row ? st.next_row : 1;
  memcpy(j.prog.counts, st.counts, sizeof st.counts);
  j.prog.rows_done = j.start_row ? j.start_row - 1 : 0;
  j.rows = 0;
  rc = run(&j, log, w, &ro, st.report_bytes, out, err);
  pv_buf_release(&st.strs);
  return rc;
}
