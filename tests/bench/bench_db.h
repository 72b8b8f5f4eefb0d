/*
 * bench_db — the database a benchmark runs against: a fresh one in
 * PIVOTAL_TEST_DATABASE_URL's cluster when that is set, else an embedded
 * cluster of its own (fsync on, as `pivotal serve` runs it) under the
 * benchmark's directory; migrated to the current schema.
 */
#ifndef PV_BENCH_DB_H
#define PV_BENCH_DB_H

#include "core/common/pv_error.h"

#include <stdbool.h>

typedef struct bench_db {
  char *conninfo;    /* the migrated database */
  char name[64];     /* its name in the test cluster; "" for an own cluster */
  char pg_dir[300];  /* the own cluster's data directory */
  char *admin_url;   /* the test cluster's URL (to drop the database) */
  bool own_cluster;
} bench_db;

/* Makes and migrates the database of benchmark `bench` (a name part)
 * under dir. Returns: 0 or the failing step's error (err says which). */
int bench_db_open(bench_db *db, const char *dir, const char *bench, pv_error *err);
/* Drops the database (unless keep) or stops the own cluster, and frees.
 * Returns: 0 or the failing step's error. */
int bench_db_close(bench_db *db, bool keep, pv_error *err);

#endif
