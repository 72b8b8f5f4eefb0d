/*
 * pivotal serve — runs the server: opens the event log under the data
 * directory, starts the writer, and runs until SIGINT or SIGTERM, then
 * stops the writer (finishing queued commands) and closes the log.
 */
#include "cmd/commands.h"
#include "cmd/settings.h"
#include "core/log.h"
#include "core/writer.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#define SERVE_USAGE "pivotal serve [--data-dir DIR] [--listen HOST:PORT] [--database-url URL]"

static void print_error(const pv_error *err) {
  fprintf(stderr, "error: %s\n", err->message);
  if (err->detail[0]) fprintf(stderr, "detail: %s\n", err->detail);
  if (err->hint[0]) fprintf(stderr, "hint: %s\n", err->hint);
}

int cmd_serve(int argc, char **argv) {
  pv_settings s;
  bool help;
  int rc = pv_settings_parse(&s, argc, argv, SERVE_USAGE, &help);
  if (rc || help) return rc;
  size_t log_max;
  if (pv_parse_size(s.log_max_size, &log_max) != 0) {
    fprintf(stderr, "error: invalid --log-max-size \"%s\"\nhint: a size such as 512M or 64G.\n",
            s.log_max_size);
    return 2;
  }

  /* Block the stop signals before any thread starts, so that only sigwait
   * below receives them. */
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);

  if (mkdir(s.data_dir, 0700) != 0 && errno != EEXIST) {
    perror(s.data_dir);
    return 1;
  }
  char log_dir[PATH_MAX];
  snprintf(log_dir, sizeof log_dir, "%s/log", s.data_dir);
  pv_error err = PV_ERROR_INIT;
  log_t *log;
  log_options opt = {.map_max_bytes = log_max};
  if (log_open(&log, log_dir, &opt, &err) != 0) {
    print_error(&err);
    return 1;
  }
  writer_t *writer;
  if (writer_start(&writer, log, NULL, &err) != 0) {
    print_error(&err);
    log_close(log);
    return 1;
  }
  char resolved[PATH_MAX];
  printf("pivotal: event log %s, head position %llu\n",
         realpath(log_dir, resolved) ? resolved : log_dir, (unsigned long long)log_head(log));
  printf("pivotal: running; SIGINT or SIGTERM stops\n");
  fflush(stdout);

  int sig;
  sigwait(&stop_signals, &sig);
  printf("pivotal: stopping (signal %d)\n", sig);
  writer_stop(writer);
  log_close(log);
  return 0;
}
