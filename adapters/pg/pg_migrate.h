/*
 * pg_migrate — applies the SQL migrations (schema/NNN_name.sql) to a
 * database, in order, each exactly once.
 *
 * Each migration runs in its own transaction that first takes a
 * transaction-level advisory lock (so two processes migrating the same
 * database take turns), checks the record table, runs the file, and records
 * it in public.pivotal_migrations (version, name, checksum = SHA-256 hex of
 * the text, applied_at) before committing. A failing migration rolls back:
 * the database is exactly as it was before it, and the error names the file.
 * A recorded migration whose text has changed since is an error, not a
 * silent skip.
 *
 * Migration files hold plain SQL without transaction control (no BEGIN,
 * COMMIT, or CREATE INDEX CONCURRENTLY): they run inside our transaction.
 *
 * Thread: whichever thread owns the connection.
 */
#ifndef PG_MIGRATE_H
#define PG_MIGRATE_H

#include "adapters/pg/pg_conn.h"

#include <stddef.h>

typedef struct pg_migration {
  int version;      /* NNN of the file name */
  const char *name; /* "core" */
  const char *file; /* "001_core.sql", for messages */
  const char *sql;
} pg_migration;

/* The migrations of schema/, embedded at build time, ascending. */
extern const pg_migration pg_schema_migrations[];
extern const size_t pg_schema_migrations_count;

/* Called after each migration that this run applied (committed). */
typedef void (*pg_migrate_applied_fn)(const pg_migration *m, void *arg);

/*
 * Applies the migrations of list (ascending versions) not yet recorded.
 * on_applied may be NULL. *applied_out (may be NULL) counts the ones this
 * call applied; on error, those applied before the failing one stay.
 * Returns: 0 or PV_EINVAL (list not ascending), PV_ECORRUPT (a recorded
 * migration's text changed; the message names the file), the codes of
 * pg_exec for a failing migration (message "migration FILE failed", detail
 * the server's message), PV_EUNAVAILABLE.
 */
int pg_migrate(pg_conn *c, const pg_migration *list, size_t count,
               pg_migrate_applied_fn on_applied, void *arg,
               size_t *applied_out, pv_error *err);

#endif
