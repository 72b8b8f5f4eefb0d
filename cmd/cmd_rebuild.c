/*
 * pivotal rebuild — folds the whole log into a fresh copy of one read model
 * (or each of them) and swaps it in, while the live one keeps serving (see
 * proj_rebuild in projections/proj.h). Opens the log read-only, so it runs
 * beside a running server. On a terminal it draws a progress bar with
 * events/s and the time left. SIGINT or SIGTERM stop it with the live read
 * model untouched; so does kill -9 (the shadow is dropped by the next run).
 */
#include "adapters/pg/pg_embedded.h"
#include "cmd/cmd_pg.h"
#include "cmd/commands.h"
#include "core/common/pv_time.h"
#include "projections/proj.h"

#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t interrupted;

static void on_signal(int sig) { interrupted = sig; }

static void usage(FILE *out) {
  fprintf(out,
          "usage: pivotal rebuild NAME | --all [--data-dir DIR] [--database-url URL]\n"
          "\n"
          "Rebuilds a read model from the whole event log into a shadow schema\n"
          "and swaps it in at the end, in one transaction. The live read model\n"
          "keeps serving meanwhile; an interrupted rebuild leaves it untouched.\n"
          "Projections:");
  for (size_t i = 0; i < proj_count(); i++) fprintf(out, " %s", proj_at(i)->name);
  fprintf(out, "\n");
}

typedef struct progress_state {
  const char *name;
  bool tty;
  uint64_t start_ns, last_draw_ns;
} progress_state;

/* Redraws at most ten times a second: a terminal is slow to scroll. */
static int on_progress(void *arg, uint64_t position, uint64_t head) {
  progress_state *p = arg;
  if (interrupted) return 1;
  if (!p->tty) return 0;
  uint64_t now = pv_mono_ns();
  if (now - p->last_draw_ns < 100000000ull && position < head) return 0;
  p->last_draw_ns = now;
  double elapsed_s = (double)(now - p->start_ns) / 1e9;
  double rate = elapsed_s > 0 ? (double)position / elapsed_s : 0;
  double frac = head ? (double)position / (double)head : 1;
  if (frac > 1) frac = 1;
  char bar[31];
  int filled = (int)(frac * 30);
  for (int i = 0; i < 30; i++) bar[i] = i < filled ? '#' : '.';
  bar[30] = '\0';
  double eta = rate > 0 && head > position ? (double)(head - position) / rate : 0;
  fprintf(stderr, "\r%s [%s] %3.0f%% %" PRIu64 "/%" PRIu64 " events  %.0f/s  ETA %.0fs ",
          p->name, bar, frac * 100, position, head, rate, eta);
  fflush(stderr);
  return 0;
}

static int rebuild_one(log_t *log, pg_conn *conn, const proj_def *def, pv_error *err) {
  progress_state p = {def->name, isatty(2) == 1, pv_mono_ns(), 0};
  uint64_t position = 0;
  int rc = proj_rebuild(log, conn, def, on_progress, &p, &position, err);
  if (p.tty) fprintf(stderr, "\n");
  if (rc) return rc;
  double elapsed_s = (double)(pv_mono_ns() - p.start_ns) / 1e9;
  printf("rebuilt %s: %" PRIu64 " events in %.1f s; checkpoint %" PRIu64 "\n", def->name,
         position, elapsed_s, position);
  fflush(stdout);
  return 0;
}

int cmd_rebuild(int argc, char **argv) {
  static const struct option options[] = {
      {"all", no_argument, NULL, 'a'},
      {"database-url", required_argument, NULL, 'u'},
      {"data-dir", required_argument, NULL, 'd'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  const char *url_flag = NULL, *data_dir_flag = NULL;
  bool all = false;
  int opt;
  while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
    switch (opt) {
    case 'a': all = true; break;
    case 'u': url_flag = optarg; break;
    case 'd': data_dir_flag = optarg; break;
    case 'h': usage(stdout); return 0;
    default: usage(stderr); return 2;
    }
  }
  if (all == (optind < argc) || argc - optind > 1) {
    usage(stderr);
    return 2;
  }
  const proj_def *only = NULL;
  if (!all && !(only = proj_find(argv[optind]))) {
    fprintf(stderr, "error: no projection named \"%s\"\n", argv[optind]);
    usage(stderr);
    return 2;
  }

  struct sigaction sa = {.sa_handler = on_signal};
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);

  pv_error err = PV_ERROR_INIT;
  const char *data_dir = cmd_pg_data_dir(data_dir_flag);
  char *conninfo = NULL;
  bool started = false;
  pg_conn *conn = NULL;
  log_t *log = NULL;
  int status = 1;
  char log_dir[PATH_MAX];
  snprintf(log_dir, sizeof log_dir, "%s/log", data_dir);
  log_options lopt = {.read_only = true};
  if (log_open(&log, log_dir, &lopt, &err) != 0) goto fail;
  if (cmd_pg_database(url_flag, data_dir, &conninfo, &started, &err) != 0) goto fail;
  if (pg_connect(&conn, conninfo, &err) != 0) goto fail;
  for (size_t i = 0; i < proj_count(); i++) {
    const proj_def *def = proj_at(i);
    if (only && def != only) continue;
    if (rebuild_one(log, conn, def, &err) != 0) goto fail;
  }
  status = 0;
  goto done;
fail:
  cmd_pg_print_error(&err);
  if (interrupted) status = 130;
done:
  pg_conn_free(conn);
  log_close(log);
  free(conninfo);
  if (started) {
    pv_error stop_err = PV_ERROR_INIT;
    if (pg_embedded_stop(data_dir, false, &stop_err) != 0) cmd_pg_print_error(&stop_err);
  }
  return status;
}
