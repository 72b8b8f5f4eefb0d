/*
 * pivotal serve — runs the server. For now: brings up the database (the
 * configured one, or the embedded cluster of the data directory, started
 * here and stopped on the way out), applies the migrations, and waits for
 * SIGINT/SIGTERM (the log, the writer and the API come with issues #2–#4).
 */
#include "adapters/pg/pg_embedded.h"
#include "adapters/pg/pg_migrate.h"
#include "cmd/cmd_pg.h"
#include "cmd/commands.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

static void usage(FILE *out) {
  fprintf(out,
          "usage: pivotal serve [--database-url URL] [--data-dir DIR]\n"
          "\n"
          "The database: --database-url, else PIVOTAL_DATABASE_URL, else a\n"
          "private PostgreSQL cluster in DIR/pg, made on first run and stopped\n"
          "on exit (DIR: --data-dir, else PIVOTAL_DATA_DIR, else ./var).\n");
}

static void print_applied(const pg_migration *m, void *arg) {
  (void)arg;
  printf("pivotal: applied migration %s\n", m->file);
}

/* Connects and applies the migrations the database lacks. */
static int migrate(const char *conninfo, pv_error *err) {
  pg_conn *conn = NULL;
  int rc = pg_connect(&conn, conninfo, err);
  if (rc) return rc;
  rc = pg_migrate(conn, pg_schema_migrations, pg_schema_migrations_count,
                  print_applied, NULL, NULL, err);
  pg_conn_free(conn);
  return rc;
}

int cmd_serve(int argc, char **argv) {
  static const struct option options[] = {
      {"database-url", required_argument, NULL, 'u'},
      {"data-dir", required_argument, NULL, 'd'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  const char *url_flag = NULL, *data_dir_flag = NULL;
  int opt;
  while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
    switch (opt) {
    case 'u': url_flag = optarg; break;
    case 'd': data_dir_flag = optarg; break;
    case 'h': usage(stdout); return 0;
    default: usage(stderr); return 2;
    }
  }
  if (optind != argc) {
    usage(stderr);
    return 2;
  }

  /* Blocked before the cluster starts, so a signal during start-up still
   * reaches the clean stop below. */
  sigset_t set;
  int sig = 0;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, NULL);

  const char *data_dir = cmd_pg_data_dir(data_dir_flag);
  pv_error err = PV_ERROR_INIT;
  char *conninfo = NULL;
  bool started = false;
  int status = 1;
  if (cmd_pg_database(url_flag, data_dir, &conninfo, &started, &err) != 0) goto fail;
  if (started) printf("pivotal: started the embedded database in %s/pg\n", data_dir);
  if (migrate(conninfo, &err) != 0) goto fail;
  printf("pivotal: waiting for SIGINT or SIGTERM\n");
  fflush(stdout);
  sigwait(&set, &sig);
  printf("pivotal: stopping (signal %d)\n", sig);
  status = 0;
  goto done;
fail:
  cmd_pg_print_error(&err);
done:
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
