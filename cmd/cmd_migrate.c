/*
 * pivotal migrate — applies the SQL migrations embedded from schema/ to the
 * configured database (or the embedded cluster, started for the run and
 * stopped again if it was not running), and says what it did.
 */
#include "adapters/pg/pg_embedded.h"
#include "adapters/pg/pg_migrate.h"
#include "cmd/cmd_pg.h"
#include "cmd/commands.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

static void usage(FILE *out) {
  fprintf(out,
          "usage: pivotal migrate [--database-url URL] [--data-dir DIR]\n"
          "\n"
          "Applies the schema migrations not yet applied, in order, each in\n"
          "its own transaction. The database: --database-url, else\n"
          "PIVOTAL_DATABASE_URL, else the embedded cluster of the data\n"
          "directory (--data-dir, else PIVOTAL_DATA_DIR, else ./var).\n");
}

static void print_applied(const pg_migration *m, void *arg) {
  (void)arg;
  printf("applied %s\n", m->file);
  fflush(stdout);
}

int cmd_migrate(int argc, char **argv) {
  const char *url_flag = NULL, *data_dir_flag = NULL;
  int done = cmd_pg_parse_db_args(argc, argv, usage, &url_flag, &data_dir_flag);
  if (done >= 0) return done;

  pv_error err = PV_ERROR_INIT;
  const char *data_dir = cmd_pg_data_dir(data_dir_flag);
  char *conninfo = NULL;
  bool started = false;
  pg_conn *conn = NULL;
  size_t applied = 0;
  int status = 1;
  if (cmd_pg_database(url_flag, data_dir, &conninfo, &started, &err) != 0) goto fail;
  if (pg_connect(&conn, conninfo, &err) != 0) goto fail;
  if (pg_migrate(conn, pg_schema_migrations, pg_schema_migrations_count,
                 print_applied, NULL, &applied, &err) != 0)
    goto fail;
  printf("database is up to date: %zu applied now, %zu already\n", applied,
         pg_schema_migrations_count - applied);
  status = 0;
  goto done;
fail:
  cmd_pg_print_error(&err);
done:
  pg_conn_free(conn);
  free(conninfo);
  if (started) {
    pv_error stop_err = PV_ERROR_INIT;
    if (pg_embedded_stop(data_dir, false, &stop_err) != 0) {
      cmd_pg_print_error(&stop_err);
      status = 1;
    }
  }
  return status;
}
