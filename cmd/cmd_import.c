/*
 * cmd_import — `pivotal import FILE`: imports a contact file (CSV, XLSX) through
 * the log's writer, as the API's import job does (adapters/import/imp_job.h),
 * or resumes an interrupted one. It opens the log itself: LMDB lets this
 * process write while a server holds the same log (one writer at a time,
 * by LMDB's own lock).
 *
 * The per-row report goes to DATA_DIR/imports/<id>.report.csv; on a
 * terminal a progress line shows rows, rows/s and the ETA.
 */
#include "adapters/import/imp_job.h"
#include "cmd/commands.h"
#include "core/common/pv_time.h"

#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define IMPORT_USAGE                                                                       \
  "pivotal import FILE [--dry-run] [--source S] [--map COLUMN=FIELD ...]\n"               \
  "                      [--delimiter C] [--id ID] [--tenant T] [--data-dir DIR]\n"       \
  "       pivotal import --resume ID [--tenant T] [--data-dir DIR]\n"                      \
  "FILE: CSV (delimiter detected), or XLSX by its .xlsx name (first sheet).\n"           \
  "FIELD: email first_name last_name title phone country city linkedin_url company\n"     \
  "domain external_id ignore. DIR defaults to $PIVOTAL_DATA_DIR, else ./var. The\n"      \
  "report (one line per row) is written to DIR/imports/ID.report.csv."

static void print_error(const pv_error *e) {
  fprintf(stderr, "error: %s%s%s\n", e->message[0] ? e->message : pv_strerror(e->code),
          e->field[0] ? " at " : "", e->field);
  if (e->detail[0]) fprintf(stderr, "detail: %s\n", e->detail);
  if (e->hint[0]) fprintf(stderr, "hint: %s\n", e->hint);
}

static void show_progress(const imp_progress *p, void *arg) {
  (void)arg;
  double pct = p->bytes_total ? 100.0 * (double)p->bytes_done / (double)p->bytes_total : 0;
  char eta[32] = "?";
  if (p->finished) snprintf(eta, sizeof eta, "done");
  else if (p->eta_s >= 0) snprintf(eta, sizeof eta, "%.0fs", p->eta_s);
  fprintf(stderr, "\r%5.1f%%  %llu rows  %.0f rows/s  ETA %s   ", p->finished ? 100.0 : pct,
          (unsigned long long)p->rows_done, p->rows_per_s, eta);
  if (p->finished) fputc('\n', stderr);
}

int cmd_import(int argc, char **argv) {
  const char *file = NULL, *source = NULL, *id = NULL, *resume = NULL, *delim = NULL;
  const char *tenant = "default";
  const char *data_dir = getenv("PIVOTAL_DATA_DIR") ? getenv("PIVOTAL_DATA_DIR") : "./var";
  bool dry_run = false;
  imp_override ov[IMP_MAX_COLUMNS];
  size_t ov_count = 0;
  for (int a = 1; a < argc; a++) {
    const char *arg = argv[a];
    if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
      printf("usage: %s\n", IMPORT_USAGE);
      return 0;
    }
    if (!strcmp(arg, "--dry-run")) {
      dry_run = true;
      continue;
    }
    if (arg[0] != '-') {
      if (file) goto usage;
      file = arg;
      continue;
    }
    if (a + 1 >= argc) goto usage;
    const char *v = argv[++a];
    if (!strcmp(arg, "--source")) source = v;
    else if (!strcmp(arg, "--id")) id = v;
    else if (!strcmp(arg, "--resume")) resume = v;
    else if (!strcmp(arg, "--tenant")) tenant = v;
    else if (!strcmp(arg, "--data-dir")) data_dir = v;
    else if (!strcmp(arg, "--delimiter")) delim = v;
    else if (!strcmp(arg, "--map")) {
      char *eq = strrchr(argv[a], '=');
      if (!eq || eq == v || ov_count == IMP_MAX_COLUMNS) goto usage;
      *eq = '\0';
      ov[ov_count++] = (imp_override){v, eq + 1};
    } else goto usage;
  }
  if (!file == !resume || (delim && strlen(delim) != 1 && strcmp(delim, "\\t") != 0)) goto usage;

  char gen_id[33], log_dir[PATH_MAX], imports[PATH_MAX], report[PATH_MAX + 96];
  if (!id && !resume) {
    uint8_t b[8];
    randombytes_buf(b, sizeof b);
    sodium_bin2hex(gen_id, sizeof gen_id, b, sizeof b);
    id = gen_id;
  }
  if (resume) id = resume;
  snprintf(log_dir, sizeof log_dir, "%s/log", data_dir);
  snprintf(imports, sizeof imports, "%s/imports", data_dir);
  snprintf(report, sizeof report, "%s/%s.report.csv", imports, id);
  if ((mkdir(data_dir, 0700) != 0 && errno != EEXIST) ||
      (mkdir(imports, 0700) != 0 && errno != EEXIST)) {
    fprintf(stderr, "error: could not create \"%s\": %s\n", imports, strerror(errno));
    return 1;
  }
  char abs_file[PATH_MAX];
  if (file && !realpath(file, abs_file)) {
    fprintf(stderr, "error: could not open \"%s\": %s\n", file, strerror(errno));
    return 1;
  }

  pv_error err = PV_ERROR_INIT;
  log_t *log = NULL;
  writer_t *writer = NULL;
  int status = 1;
  writer_options wopt = {.max_batch_us = IMP_JOB_WRITER_BATCH_US};
  if (log_open(&log, log_dir, NULL, &err) || writer_start(&writer, log, &wopt, &err)) {
    print_error(&err);
    goto done;
  }
  imp_job_opts o = {
      .tenant = tenant, .actor = "system:cli", .import_id = id, .path = file ? abs_file : NULL,
      .delimiter = delim ? (strcmp(delim, "\\t") == 0 ? '\t' : delim[0]) : 0,
      .overrides = ov, .override_count = ov_count, .source = source, .dry_run = dry_run,
      .report_path = report, .spool_dir = imports,
      .on_progress = isatty(STDERR_FILENO) ? show_progress : NULL,
  };
  imp_progress p;
  int rc = resume ? imp_job_resume(log, writer, tenant, "system:cli", resume, &o, &p, &err)
                  : imp_job_run(log, writer, &o, &p, &err);
  if (rc) {
    print_error(&err);
    goto done;
  }
  printf("import %s%s: %llu rows", id, dry_run ? " (dry run)" : "",
         (unsigned long long)p.rows_done);
  for (int s = 0; s < IMP_STATUS_COUNT; s++)
    printf(", %llu %s", (unsigned long long)p.counts[s], imp_status_name((imp_status)s));
  printf("\nreport: %s\n", report);
  status = 0;
done:
  writer_stop(writer);
  log_close(log);
  return status;

usage:
  fprintf(stderr, "usage: %s\n", IMPORT_USAGE);
  return 2;
}
