/*
 * bench import — a contact file imported end to end through the import job
 * (adapters/import/imp_job.h) into a durable LMDB log, with the projection
 * engine running every registered projection, as `pivotal serve` does,
 * folding the events into PostgreSQL as they commit. Prints
 * `bench import.FIGURE VALUE UNIT` lines:
 *   contacts.import_1m_s        from the start of the import until every
 *                               event is durable AND folded by every
 *                               projection (the contacts feed contacts,
 *                               accounts, field_changes, timeline,
 *                               segments, audit_events and event_counts;
 *                               segments also waits for suppressions);
 *                               scaled to 1M rows when BENCH_ROWS is less
 *   contacts.fold_NAME_per_s    events folded by projection NAME per second
 *                               of its own batches (log read to COMMIT):
 *                               the engine runs them one after the other
 *                               on one connection, so the import's time
 *                               to visible is about the sum of the
 *                               events / rate of each
 *   contacts.fold_NAME_s        the seconds projection NAME's batches took
 *   contacts.fold_NAME_batch_mean  events per batch it folded
 *   contacts.import_durable_s   from the start until the import job returned
 *                               (every row durable in the log)
 *   contacts.import_rows_per_s  rows per second to durable
 *   contacts.import_events      events the import appended
 *   contacts.import_batch_mean  commands per group commit
 *   contacts.import_commit_share  share of the time the writer spent in
 *                               commits (write + fsync)
 * The file: BENCH_ROWS rows (default 1,000,000) from tests/bench/gen_contacts
 * (100,000 company domains, phones in 8 countries), written before the clock
 * starts. The database: PIVOTAL_TEST_DATABASE_URL (a fresh database in that
 * cluster), else a throwaway embedded cluster; BENCH_NO_PG=1 skips the
 * projections (durable figures only). BENCH_KEEP=1 keeps the directory:
 * `pivotal rebuild NAME --data-dir DIR` then times one fold alone.
 */
#include "adapters/import/imp_job.h"
#include "tests/bench/bench_db.h"
#include "core/common/pv_time.h"
#include "projections/proj.h"
#include "tests/bench/gen_contacts.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void die(const char *what, const pv_error *err) {
  fprintf(stderr, "bench_import: %s: %s\n", what, err && err->message[0] ? err->message : "failed");
  exit(1);
}

static int rm_entry(const char *p, const struct stat *s, int f, struct FTW *w) {
  (void)s, (void)f, (void)w;
  return remove(p);
}

int main(void) {
  uint64_t rows = getenv("BENCH_ROWS") ? strtoull(getenv("BENCH_ROWS"), NULL, 10) : 1000000;
  bool use_pg = !(getenv("BENCH_NO_PG") && strcmp(getenv("BENCH_NO_PG"), "1") == 0);
  pv_error err = PV_ERROR_INIT;
  const char *tmp = getenv("TMPDIR");
  char dir[256], path[300], log_dir[300], report[300];
  snprintf(dir, sizeof dir, "%s/pivotal-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(dir)) die("mkdtemp", NULL);
  chmod(dir, 0711); /* as root the embedded cluster runs as `pivotal` */
  snprintf(path, sizeof path, "%s/contacts.csv", dir);
  snprintf(log_dir, sizeof log_dir, "%s/log", dir);
  snprintf(report, sizeof report, "%s/report.csv", dir);

  FILE *f = fopen(path, "wb");
  if (!f) die("create the file", NULL);
  gen_contacts_cfg cfg = {.seed = 42};
  gen_contacts_csv_header(f);
  for (uint64_t i = 0; i < rows; i++) {
    gen_contact c;
    gen_contact_row(&cfg, i, &c);
    gen_contacts_csv_row(f, &c);
  }
  fclose(f);

  bench_db db = {0};
  if (use_pg && bench_db_open(&db, dir, "import", &err)) die("database", &err);
  const char *conninfo = db.conninfo;

  log_t *log;
  writer_t *w;
  mkdir(log_dir, 0700);
  /* 4 GiB: a 1M-row import appends ~2.5 GiB; no growth (and batch redo)
   * during the measurement. */
  log_options lopt = {.map_size_bytes = (size_t)4 << 30};
  if (log_open(&log, log_dir, &lopt, &err)) die("log", &err);
  /* as `pivotal import` runs its writer; BENCH_BATCH_US=1000 is serve's */
  writer_options wopt = {.max_batch_us = getenv("BENCH_BATCH_US")
                                             ? (unsigned)atoi(getenv("BENCH_BATCH_US"))
                                             : IMP_JOB_WRITER_BATCH_US};
  if (writer_start(&w, log, &wopt, &err)) die("writer", &err);
  /* every projection, as serve runs them (names NULL) */
  size_t nproj = proj_count();
  const char **names = pv_xcalloc(nproj, sizeof *names);
  for (size_t i = 0; i < nproj; i++) names[i] = proj_at(i)->name;
  proj_engine *e = NULL;
  if (use_pg && proj_engine_start(&e, log, w, conninfo, NULL, &err)) die("engine", &err);

  imp_job_opts o = {.tenant = "acme", .actor = "bench", .import_id = "bench", .path = path,
                    .report_path = report, .spool_dir = dir};
  imp_progress p;
  uint64_t t0 = pv_mono_ns();
  if (imp_job_run(log, w, &o, &p, &err)) die("import", &err);
  double durable_s = (double)(pv_mono_ns() - t0) / 1e9;
  uint64_t head = log_head(log);
  double projected_s = 0;
  if (e) {
    /* in 1 s steps: a projection that failed for good ends the run */
    for (unsigned waited = 0;; waited++) {
      int rc = proj_wait_position_sync(e, names, nproj, head, 1000);
      if (rc == 0) break;
      if (rc != PV_ETIMEDOUT || waited >= 1800) die("projection catch-up", NULL);
      proj_lag *lag = pv_xcalloc(nproj, sizeof *lag);
      size_t got = proj_engine_lag(e, lag, nproj);
      for (size_t i = 0; i < got && i < nproj; i++)
        if (lag[i].state == PROJ_FAILED) {
          fprintf(stderr, "bench_import: projection %s failed: %s\n", lag[i].name, lag[i].error);
          exit(1);
        }
      free(lag);
    }
    projected_s = (double)(pv_mono_ns() - t0) / 1e9;
  }
  double scale = rows ? 1e6 / (double)rows : 0;
  if (e) printf("bench contacts.import_1m_s %.1f s\n", projected_s * scale);
  else printf("bench contacts.import_1m_s %.1f s (durable only: BENCH_NO_PG=1)\n", durable_s * scale);
  printf("bench contacts.import_durable_s %.1f s\n", durable_s);
  printf("bench contacts.import_rows_per_s %.0f rows/s\n", (double)rows / durable_s);
  printf("bench contacts.import_events %llu events\n", (unsigned long long)head);
  writer_stats ws;
  writer_get_stats(w, &ws);
  printf("bench contacts.import_batch_mean %.0f commands\n",
         ws.batches ? (double)ws.commands / (double)ws.batches : 0);
  printf("bench contacts.import_commit_share %.0f %%\n",
         100.0 * (double)ws.commit_ns_total / 1e9 / durable_s);
  printf("bench contacts.import_created %llu rows\n",
         (unsigned long long)p.counts[IMP_S_CREATED]);
  if (e) {
    proj_lag *lag = pv_xcalloc(nproj, sizeof *lag);
    size_t got = proj_engine_lag(e, lag, nproj);
    for (size_t i = 0; i < got && i < nproj; i++) {
      if (!lag[i].folded_events) continue;
      double s = (double)lag[i].busy_ns / 1e9;
      printf("bench contacts.fold_%s_per_s %.0f events/s\n", lag[i].name,
             s > 0 ? (double)lag[i].folded_events / s : 0);
      printf("bench contacts.fold_%s_s %.1f s\n", lag[i].name, s);
      printf("bench contacts.fold_%s_batch_mean %.0f events\n", lag[i].name,
             (double)lag[i].folded_events / (double)lag[i].folded_batches);
    }
    free(lag);
  }

  proj_engine_stop(e);
  writer_stop(w);
  log_close(log);
  if (use_pg && bench_db_close(&db, false, &err)) die("drop the database", &err);
  free(names);
  if (getenv("BENCH_KEEP") && strcmp(getenv("BENCH_KEEP"), "1") == 0)
    fprintf(stderr, "bench_import: kept %s (the file, and the log for `pivotal rebuild`)\n", dir);
  else
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  return 0;
}
