/*
 * pg_embedded — the private PostgreSQL cluster used when no database is
 * configured: DATA_DIR/pg, made on first start (initdb, UTF8, trust over the
 * Unix socket only, no TCP), started with pg_ctl, database `pivotal`.
 *
 * Rules it keeps:
 * - The server binaries are those of the highest version under
 *   /usr/lib/postgresql/<version>/bin (PIVOTAL_PG_BINDIR overrides).
 * - PostgreSQL refuses to run as root. As root, the cluster runs as the
 *   system user `pivotal`, created here once (useradd --system); that user
 *   needs search (x) permission on every parent of DATA_DIR, checked before
 *   anything is made. As any other user, the cluster runs as that user.
 * - The server listens only on a Unix socket. It sits in DATA_DIR/pg, unless
 *   that path is too long for a socket address (107 bytes), when it sits in
 *   /tmp/pivotal-pg-<hash of the path> (owned by the cluster's user, 0700).
 * - Start, stop and status on one data directory are serialised by a lock
 *   file (DATA_DIR/pg.lock), so two processes starting at once share one
 *   server; a start finding the server running reuses it.
 * - The database superuser is `pivotal` whoever runs the server.
 * - PIVOTAL_PG_NO_FSYNC=1 in the environment makes a throwaway cluster:
 *   initdb --no-sync, fsync and full_page_writes off (written into
 *   pivotal.conf at each start, so it follows the process that starts the
 *   server). For tests only: a machine crash can corrupt such a cluster; a
 *   server crash or `stop -m immediate` loses no commit.
 *
 * Thread: any thread; the functions block (initdb, pg_ctl) for up to about a
 * minute on a slow disk.
 */
#ifndef PG_EMBEDDED_H
#define PG_EMBEDDED_H

#include "core/common/pv_error.h"

#include <stdbool.h>

/*
 * Starts the cluster of data_dir (made with mode 0711 when missing), making
 * it first when needed, or reuses it when it already runs; ensures the
 * database `pivotal` exists.
 * Returns: 0 or PV_EINVAL (data_dir unusable: not reachable by the cluster's
 * user, not a directory; the hint says what to do), PV_EIO (initdb or pg_ctl
 * failed; the detail has their last line, the hint the log file),
 * PV_EUNAVAILABLE (started but not answering), PV_EINTERNAL (no PostgreSQL
 * server binaries, cannot create the system user).
 * Ownership: *conninfo_out (libpq key=value string for database `pivotal`)
 * is the caller's to free(). *started_out (may be NULL) is true when this
 * call started the server, false when it was already running: stop it only
 * if you started it.
 */
int pg_embedded_start(const char *data_dir, char **conninfo_out,
                      bool *started_out, pv_error *err);

/*
 * Stops the cluster of data_dir: `pg_ctl stop -m fast` (clean: waits for
 * sessions to end their transactions, checkpoints), or with immediate
 * `-m immediate` (no checkpoint; crash recovery at the next start — for
 * tests). Stopping a cluster that is not running succeeds.
 * Returns: 0 or PV_EIO (pg_ctl failed), PV_EINVAL, PV_EINTERNAL.
 */
int pg_embedded_stop(const char *data_dir, bool immediate, pv_error *err);

/*
 * Whether the cluster of data_dir runs (pg_ctl status).
 * Returns: 0 (then *running_out is set; false also when no cluster was ever
 * made) or PV_EINVAL, PV_EINTERNAL.
 */
int pg_embedded_status(const char *data_dir, bool *running_out, pv_error *err);

#endif
