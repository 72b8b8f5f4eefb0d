/*
 * pivotal pg start|stop|status — runs the embedded PostgreSQL cluster of a
 * data directory by hand (the test suite starts its throwaway cluster this
 * way). Also the database settings shared with the other subcommands
 * (cmd_pg.h).
 */
#include "cmd/cmd_pg.h"

#include "adapters/pg/pg_embedded.h"
#include "cmd/commands.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char *cmd_pg_data_dir(const char *flag) {
  if (flag && *flag) return flag;
  const char *env = getenv("PIVOTAL_DATA_DIR");
  return env && *env ? env : "var";
}

int cmd_pg_database(const char *url_flag, const char *data_dir,
                    char **conninfo_out, bool *started_out, pv_error *err) {
  *started_out = false;
  const char *url = url_flag && *url_flag ? url_flag : getenv("PIVOTAL_DATABASE_URL");
  if (url && *url) {
    *conninfo_out = strdup(url);
    return *conninfo_out ? 0 : pv_error_set(err, PV_ENOMEM, NULL, NULL);
  }
  return pg_embedded_start(data_dir, conninfo_out, started_out, err);
}

void cmd_pg_print_error(const pv_error *err) {
  fprintf(stderr, "error: %s\n", err->message[0] ? err->message : pv_strerror(err->code));
  if (err->detail[0]) fprintf(stderr, "detail: %s\n", err->detail);
  if (err->hint[0]) fprintf(stderr, "hint: %s\n", err->hint);
}

static void usage(FILE *out) {
  fprintf(out,
          "usage: pivotal pg start|stop|status [--data-dir DIR] [--immediate]\n"
          "\n"
          "Runs the embedded PostgreSQL cluster of DIR/pg (DIR: --data-dir,\n"
          "else PIVOTAL_DATA_DIR, else ./var).\n"
          "  start        make the cluster if needed, start it (or find it\n"
          "               running), print its connection string\n"
          "  stop         stop it (pg_ctl stop -m fast)\n"
          "  status       exit 0 when it runs, 1 when not\n"
          "  --immediate  with stop: -m immediate (no checkpoint; for tests)\n");
}

int cmd_pg(int argc, char **argv) {
  static const struct option options[] = {
      {"data-dir", required_argument, NULL, 'd'},
      {"immediate", no_argument, NULL, 'i'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  const char *data_dir_flag = NULL;
  bool immediate = false;
  int opt;
  while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
    switch (opt) {
    case 'd': data_dir_flag = optarg; break;
    case 'i': immediate = true; break;
    case 'h': usage(stdout); return 0;
    default: usage(stderr); return 2;
    }
  }
  if (optind != argc - 1) {
    usage(stderr);
    return 2;
  }
  const char *action = argv[optind];
  const char *data_dir = cmd_pg_data_dir(data_dir_flag);
  pv_error err = PV_ERROR_INIT;
  if (!strcmp(action, "start")) {
    char *conninfo = NULL;
    if (pg_embedded_start(data_dir, &conninfo, NULL, &err) != 0) goto fail;
    printf("%s\n", conninfo);
    free(conninfo);
    return 0;
  }
  if (!strcmp(action, "stop")) {
    if (pg_embedded_stop(data_dir, immediate, &err) != 0) goto fail;
    return 0;
  }
  if (!strcmp(action, "status")) {
    bool running;
    if (pg_embedded_status(data_dir, &running, &err) != 0) goto fail;
    printf("%s\n", running ? "running" : "stopped");
    return running ? 0 : 1;
  }
  usage(stderr);
  return 2;
fail:
  cmd_pg_print_error(&err);
  return 1;
}

int cmd_data_dir_create(const char *data_dir) {
  if (mkdir(data_dir, 0711) == 0 || errno == EEXIST) return 0;
  fprintf(stderr, "error: could not create data directory \"%s\": %s\n", data_dir,
          strerror(errno));
  return -1;
}

int cmd_pg_parse_db_args(int argc, char **argv, void (*print_usage)(FILE *out),
                         const char **url_flag, const char **data_dir_flag) {
  static const struct option options[] = {
      {"database-url", required_argument, NULL, 'u'},
      {"data-dir", required_argument, NULL, 'd'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  int opt;
  while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
    switch (opt) {
    case 'u': *url_flag = optarg; break;
    case 'd': *data_dir_flag = optarg; break;
    case 'h': print_usage(stdout); return 0;
    default: print_usage(stderr); return 2;
    }
  }
  if (optind != argc) {
    print_usage(stderr);
    return 2;
  }
  return -1;
}
