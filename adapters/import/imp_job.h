/*
 * imp_job — runs one import of a contact file end to end: reads its rows
 * (imp_reader.h), maps the header, turns each row into its writer commands
 * (core/imp.h) and either submits them (commit) or simulates them
 * (dry run, writer_sim), writing one report line per row in row order.
 *
 * Rows are read on the caller's thread and normalized in batches on a few
 * threads (most of an import's CPU is normalization); duplicate checks,
 * submission and the report stay in row order.
 *
 * Commit: rows are submitted in a window of IMP_JOB_WINDOW rows in flight,
 * so several hundred share each group commit; a row's outcome is read from
 * the events its commands appended once they are durable. Every
 * progress_every rows, when every earlier row is durable, an
 * import.progress event records the next row and the report's length;
 * resuming (imp_job_resume) reads the import's stream, truncates the report
 * to that length and submits from that row on — rows in flight at a crash
 * are answered from their idempotency keys, so none is applied twice.
 *
 * Events: import.started, import.progress, import.finished on the stream
 * "import-<id>" (a dry run records started and finished).
 *
 * Thread: the caller's (it blocks until the import ends); the writer must
 * be running for a commit.
 */
#ifndef PV_IMP_JOB_H
#define PV_IMP_JOB_H

#include "core/imp.h"
#include "core/log.h"
#include "core/writer.h"

/* 512 rows in flight: measured on the 2-core box, batches then hold ~500
 * commands and the writer never waits for the reader. */
#define IMP_JOB_WINDOW 512
/* 10,000 rows between progress events: arbitrary; a crash redoes at most
 * that many rows' idempotency lookups (~10 ms). */
#define IMP_JOB_PROGRESS_EVERY 10000

/* The writer's decide budget per batch for a writer that serves an import
 * alone (pivotal import): 20 ms. Measured on the 2-core box, 50k rows: 45
 * commands per commit at the writer's default 1 ms, 392 at 20 ms, and 1.7x
 * the rows/s, the commit (write + fsync) being most of the cost. */
#define IMP_JOB_WRITER_BATCH_US 20000

typedef struct imp_progress {
  uint64_t rows_done;   /* data rows settled */
  uint64_t bytes_done, bytes_total;
  uint64_t counts[IMP_STATUS_COUNT];
  double rows_per_s;
  double eta_s;         /* from the bytes left; -1 unknown */
  bool finished;
} imp_progress;

typedef struct imp_job_opts {
  const char *tenant, *actor;
  const char *import_id;   /* [A-Za-z0-9_-], 1..64 bytes */
  const char *path;        /* the file */
  const char *format;      /* "csv", "xlsx"; NULL = by extension */
  char delimiter;          /* 0 = detect */
  const imp_override *overrides;
  size_t override_count;
  const char *source;      /* NULL = "import" */
  int64_t observed_at_us;  /* 0 = now */
  bool dry_run;
  const char *report_path; /* the per-row report (CSV) */
  const char *spool_dir;   /* dry run: where the sim spools; NULL = /tmp */
  uint64_t progress_every; /* 0 = IMP_JOB_PROGRESS_EVERY */
  void (*on_progress)(const imp_progress *p, void *arg); /* may be NULL */
  void *progress_arg;
  /* may be NULL; when it turns true the job stops between rows with
   * PV_ESHUTDOWN and records no import.finished: it can be resumed */
  const _Atomic bool *cancel;
} imp_job_opts;

/*
 * Runs the import. Returns: 0 (see *out; rows that failed are in the
 * report, not an error), PV_EINVAL (bad options, an unreadable file or
 * header: err says which), PV_EEXISTS (the import id was used), PV_EIO,
 * PV_ESHUTDOWN (cancelled, or the writer stopped: resumable).
 */
int imp_job_run(log_t *log, writer_t *w, const imp_job_opts *o, imp_progress *out,
                pv_error *err);

/*
 * Resumes an unfinished commit from its events (options from
 * import.started; on_progress, report_path and spool_dir from o, the rest
 * of o ignored). Returns: as imp_job_run, PV_ENOTFOUND (no such import),
 * PV_EINVAL (already finished, or a dry run).
 */
int imp_job_resume(log_t *log, writer_t *w, const char *tenant, const char *actor,
                   const char *import_id, const imp_job_opts *o, imp_progress *out,
                   pv_error *err);

/* An import as its events tell it. */
typedef struct imp_job_info {
  bool finished, failed, dry_run;
  uint64_t rows;         /* finished: rows read; else rows known durable */
  uint64_t counts[IMP_STATUS_COUNT];
  char error[256];       /* failed: why */
} imp_job_info;

/* Reads an import's events. Returns: 0, PV_ENOTFOUND (no such import in
 * this tenant), PV_EINVAL (a bad id), PV_EIO, PV_ECORRUPT. */
int imp_job_status(log_t *log, const char *tenant, const char *import_id, imp_job_info *out,
                   pv_error *err);

/* True when import_id is 1..64 bytes of [A-Za-z0-9_-]. */
bool imp_job_id_valid(const char *import_id);

#endif
