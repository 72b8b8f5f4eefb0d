/*
 * Database settings shared by the subcommands that reach PostgreSQL
 * (migrate, pg, and later serve): where the data directory is and which
 * database to use.
 */
#ifndef PV_CMD_PG_H
#define PV_CMD_PG_H

#include "core/common/pv_error.h"

#include <stdbool.h>
#include <stdio.h>

/* The data directory: flag, else PIVOTAL_DATA_DIR, else "var". */
const char *cmd_pg_data_dir(const char *flag);

/*
 * The database to use: url_flag, else PIVOTAL_DATABASE_URL, else the
 * embedded cluster of data_dir (started when not running).
 * Returns: 0 or the codes of pg_embedded_start.
 * Ownership: *conninfo_out is the caller's to free(). *started_out: this
 * call started the embedded cluster (stop it when done).
 */
int cmd_pg_database(const char *url_flag, const char *data_dir,
                    char **conninfo_out, bool *started_out, pv_error *err);

/*
 * Creates the data directory when absent, mode 0711: run as root, the
 * private PostgreSQL runs as the `pivotal` user, who must be able to enter
 * it; nothing inside is readable by others (the log and the cluster are
 * 0700). Returns: 0, or -1 with the error printed.
 */
int cmd_data_dir_create(const char *data_dir);

/*
 * Parses the options of a command that only needs a database and a data
 * directory (migrate, status): --database-url, --data-dir, --help; no other
 * argument. Returns: -1 to go on, or the exit status to return (0 after
 * --help, 2 after a usage error, usage already printed).
 */
int cmd_pg_parse_db_args(int argc, char **argv, void (*usage)(FILE *out),
                         const char **url_flag, const char **data_dir_flag);

/* Prints err as `error: ...`, `detail: ...`, `hint: ...` on stderr. */
void cmd_pg_print_error(const pv_error *err);

#endif
