/*
 * pivotal serve — runs the server: brings up the database (the configured
 * one, or the embedded cluster of the data directory, started here and
 * stopped on the way out) and applies the migrations, opens the event log
 * under the data directory, starts the writer and the projection engine
 * (woken by the writer's commits), and runs until SIGINT or SIGTERM; then
 * stops the engine (its batch in flight commits or rolls back), the writer
 * (finishing queued commands), closes the log and stops the embedded
 * cluster if this process started it.
 */
#include "adapters/pg/pg_embedded.h"
#include "adapters/pg/pg_migrate.h"
#include "cmd/cmd_pg.h"
#include "cmd/commands.h"
#include "cmd/settings.h"
#include "core/log.h"
#include "core/writer.h"
#include "projections/proj.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SERVE_USAGE "pivotal serve [--data-dir DIR] [--listen HOST:PORT] [--database-url URL]"

static void print_applied(const pg_migration *m, void *arg) {
  (void)arg;
  printf("pivotal: applied migration %s\n", m->file);
}

/* Connects and applies the migrations the database lacks. */
static int migrate(const char *conninfo, pv_error *err) {
  pg_conn *conn = NULL;
  int rc = pg_connect(&conn, conninfo, err);
  if (rc) return rc;
  rc = pg_migrate(conn, pg_schema_migrations, pg_schema_migrations_count, print_applied, NULL,
                  NULL, err);
  pg_conn_free(conn);
  return rc;
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

  /* Blocked before any thread or the cluster starts, so that only sigwait
   * below receives them and a signal during start-up still reaches the
   * clean stop. */
  sigset_t stop_signals;
  int sig = 0;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);

  if (mkdir(s.data_dir, 0700) != 0 && errno != EEXIST) {
    fprintf(stderr, "error: could not create data directory \"%s\": %s\n", s.data_dir,
            strerror(errno));
    return 1;
  }
  pv_error err = PV_ERROR_INIT;
  char *conninfo = NULL;
  bool pg_started = false;
  log_t *log = NULL;
  writer_t *writer = NULL;
  proj_engine *projections = NULL;
  int status = 1;

  if (cmd_pg_database(s.database_url[0] ? s.database_url : NULL, s.data_dir, &conninfo,
                      &pg_started, &err) != 0)
    goto fail;
  if (pg_started) printf("pivotal: started the embedded database in %s/pg\n", s.data_dir);
  if (migrate(conninfo, &err) != 0) goto fail;

  char log_dir[PATH_MAX];
  snprintf(log_dir, sizeof log_dir, "%s/log", s.data_dir);
  log_options opt = {.map_max_bytes = log_max};
  if (log_open(&log, log_dir, &opt, &err) != 0) goto fail;
  if (writer_start(&writer, log, NULL, &err) != 0) goto fail;
  if (proj_engine_start(&projections, log, writer, conninfo, NULL, &err) != 0) goto fail;
  char resolved[PATH_MAX];
  printf("pivotal: event log %s, head position %llu\n",
         realpath(log_dir, resolved) ? resolved : log_dir, (unsigned long long)log_head(log));
  printf("pivotal: running; SIGINT or SIGTERM stops\n");
  fflush(stdout);

  sigwait(&stop_signals, &sig);
  printf("pivotal: stopping (signal %d)\n", sig);
  status = 0;
  goto done;
fail:
  cmd_pg_print_error(&err);
done:
  proj_engine_stop(projections);
  writer_stop(writer);
  log_close(log);
  free(conninfo);
  if (pg_started) {
    pv_error stop_err = PV_ERROR_INIT;
    if (pg_embedded_stop(s.data_dir, false, &stop_err) != 0) {
      cmd_pg_print_error(&stop_err);
      status = 1;
    }
  }
  return status;
}
