/* bench_db — see bench_db.h. */
#include "tests/bench/bench_db.h"

#include "adapters/pg/pg_conn.h"
#include "adapters/pg/pg_embedded.h"
#include "adapters/pg/pg_migrate.h"
#include "core/common/pv_buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Runs one statement on the test cluster's admin database. */
static int admin_exec(const char *url, const char *sql, pv_error *err) {
  pg_conn *admin;
  int rc = pg_connect(&admin, url, err);
  if (rc) return rc;
  rc = pg_exec(admin, sql, 0, NULL, NULL, err);
  pg_conn_free(admin);
  return rc;
}

int bench_db_open(bench_db *db, const char *dir, const char *bench, pv_error *err) {
  memset(db, 0, sizeof *db);
  const char *url = getenv("PIVOTAL_TEST_DATABASE_URL");
  int rc;
  if (url && *url) {
    snprintf(db->name, sizeof db->name, "bench_%s_%d", bench, (int)getpid());
    char sql[128];
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", db->name);
    if ((rc = admin_exec(url, sql, err))) return rc;
    db->admin_url = pv_xstrdup(url);
    size_t len = strlen(url) + sizeof db->name + 16;
    db->conninfo = pv_xmalloc(len);
    snprintf(db->conninfo, len, "%s dbname=%s", url, db->name);
  } else {
    snprintf(db->pg_dir, sizeof db->pg_dir, "%s/pgdata", dir);
    mkdir(db->pg_dir, 0711); /* as root the cluster runs as `pivotal` */
    if ((rc = pg_embedded_start(db->pg_dir, &db->conninfo, NULL, err))) return rc;
    db->own_cluster = true;
  }
  pg_conn *c;
  if ((rc = pg_connect(&c, db->conninfo, err))) return rc;
  rc = pg_migrate(c, pg_schema_migrations, pg_schema_migrations_count, NULL, NULL, NULL, err);
  pg_conn_free(c);
  return rc;
}

int bench_db_close(bench_db *db, bool keep, pv_error *err) {
  int rc = 0;
  if (db->name[0] && !keep) {
    char sql[128];
    snprintf(sql, sizeof sql, "DROP DATABASE %s", db->name);
    rc = admin_exec(db->admin_url, sql, err);
  }
  if (db->own_cluster && rc == 0) rc = pg_embedded_stop(db->pg_dir, false, err);
  free(db->conninfo);
  free(db->admin_url);
  memset(db, 0, sizeof *db);
  return rc;
}
