/*
 * pivotal status — where each projection stands: its checkpoint, the log's
 * head, the lag in events and in seconds (age of the oldest event not yet
 * projected) and whether the checkpoint is moving. Reads the log read-only
 * and pivotal.proj_checkpoint, so it runs beside a running server.
 */
#include "adapters/pg/pg_embedded.h"
#include "cmd/cmd_pg.h"
#include "cmd/commands.h"
#include "projections/proj.h"

#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out) {
  fprintf(out,
          "usage: pivotal status [--data-dir DIR] [--database-url URL]\n"
          "\n"
          "Prints each projection's checkpoint, the log's head, the lag in\n"
          "events and seconds, and its state: caught up, moving, or stalled\n"
          "(behind and no progress for %d s).\n",
          PROJ_STALL_S);
}

/* The checkpoint rows: name, position, updated_at in µs. */
static int print_status(log_t *log, pg_conn *conn, pv_error *err) {
  PGresult *res = NULL;
  int rc = pg_exec(conn,
                   "SELECT name, position, "
                   "coalesce((extract(epoch FROM updated_at) * 1000000)::bigint, 0) "
                   "FROM pivotal.proj_checkpoint ORDER BY name",
                   0, NULL, &res, err);
  if (rc) return rc;
  printf("%-20s %12s %12s %12s %10s  %s\n", "projection", "checkpoint", "head", "lag_events",
         "lag_s", "state");
  for (size_t i = 0; i < proj_count(); i++) {
    const char *name = proj_at(i)->name;
    int row = 0;
    while (row < PQntuples(res) && strcmp(PQgetvalue(res, row, 0), name) != 0) row++;
    if (row == PQntuples(res)) {
      printf("%-20s %12s %12s %12s %10s  %s\n", name, "-", "-", "-", "-", "not started");
      continue;
    }
    proj_lag lag;
    rc = proj_lag_compute(log, name, strtoull(PQgetvalue(res, row, 1), NULL, 10),
                          strtoll(PQgetvalue(res, row, 2), NULL, 10), &lag);
    if (rc) {
      pv_error_set(err, rc, NULL, "could not read the event log");
      break;
    }
    printf("%-20s %12" PRIu64 " %12" PRIu64 " %12" PRIu64 " %10.1f  %s\n", name, lag.checkpoint,
           lag.head, lag.lag_events, lag.lag_seconds, proj_state_name(lag.state));
  }
  PQclear(res);
  return rc;
}

int cmd_status(int argc, char **argv) {
  const char *url_flag = NULL, *data_dir_flag = NULL;
  int done = cmd_pg_parse_db_args(argc, argv, usage, &url_flag, &data_dir_flag);
  if (done >= 0) return done;
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
  if (print_status(log, conn, &err) != 0) goto fail;
  status = 0;
  goto done;
fail:
  cmd_pg_print_error(&err);
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
