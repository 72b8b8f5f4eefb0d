/*
 * pg_migrate — applies schema migrations exactly once each; contract in
 * pg_migrate.h.
 */
#include "adapters/pg/pg_migrate.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Key of the advisory lock all migrating processes share: the ASCII bytes
 * of "pivmigr" (arbitrary; only has to differ from other advisory locks). */
#define PG_MIGRATE_LOCK_KEY "31641154754275186" /* = 0x7069766d696772 */

static const char sql_lock[] =
    "SELECT pg_advisory_xact_lock(" PG_MIGRATE_LOCK_KEY ")";
static const char sql_create_table[] =
    "CREATE TABLE IF NOT EXISTS public.pivotal_migrations ("
    " version    integer PRIMARY KEY,"
    " name       text NOT NULL,"
    " checksum   text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())";
static const char sql_recorded[] =
    "SELECT checksum FROM public.pivotal_migrations WHERE version = $1";
static const char sql_record[] =
    "INSERT INTO public.pivotal_migrations (version, name, checksum)"
    " VALUES ($1, $2, $3)";

static void sha256_hex(const char *text, char hex[2 * crypto_hash_sha256_BYTES + 1]) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, (const unsigned char *)text, strlen(text));
  sodium_bin2hex(hex, 2 * crypto_hash_sha256_BYTES + 1, digest, sizeof digest);
}

static void rollback(pg_conn *c) { pg_exec(c, "ROLLBACK", 0, NULL, NULL, NULL); }

/* Starts a transaction holding the migration lock. */
static int begin_locked(pg_conn *c, pv_error *err) {
  int rc = pg_exec(c, "BEGIN", 0, NULL, NULL, err);
  if (rc) return rc;
  if ((rc = pg_exec(c, sql_lock, 0, NULL, NULL, err)) != 0) rollback(c);
  return rc;
}

/* Runs one migration file's text: several statements, no parameters. */
static int run_file(pg_conn *c, const pg_migration *m, pv_error *err) {
  PGresult *res = PQexec(pg_conn_raw(c), m->sql);
  int rc = pg_result_error(c, res, NULL);
  if (rc) {
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    pv_error_set(err, rc, NULL, "migration %s failed", m->file);
    pv_error_detail(err, "The database said: %s (SQLSTATE %s).",
                    primary ? primary : "nothing", state ? state : "none");
    pv_error_hint(err, "Nothing of %s was applied; fix it and run the migration again.",
                  m->file);
  }
  PQclear(res);
  return rc;
}

static int apply_one(pg_conn *c, const pg_migration *m, bool *applied,
                     pv_error *err) {
  char checksum[2 * crypto_hash_sha256_BYTES + 1];
  char version[16];
  sha256_hex(m->sql, checksum);
  snprintf(version, sizeof version, "%d", m->version);
  *applied = false;

  int rc = begin_locked(c, err);
  if (rc) return rc;
  PGresult *res = NULL;
  const char *key[] = {version};
  if ((rc = pg_exec(c, sql_recorded, 1, key, &res, err)) != 0) goto rollback;
  if (PQntuples(res) == 1) {
    bool same = strcmp(PQgetvalue(res, 0, 0), checksum) == 0;
    PQclear(res);
    rollback(c);
    if (same) return 0;
    pv_error_set(err, PV_ECORRUPT, NULL, "migration %s changed after it was applied", m->file);
    pv_error_detail(err, "The database recorded a different checksum for version %d.",
                    m->version);
    pv_error_hint(err, "Never edit an applied migration; add a new one instead.");
    return PV_ECORRUPT;
  }
  PQclear(res);
  if ((rc = run_file(c, m, err)) != 0) goto rollback;
  const char *row[] = {version, m->name, checksum};
  if ((rc = pg_exec(c, sql_record, 3, row, NULL, err)) != 0) goto rollback;
  if ((rc = pg_exec(c, "COMMIT", 0, NULL, NULL, err)) != 0) return rc;
  *applied = true;
  return 0;
rollback:
  rollback(c);
  return rc;
}

int pg_migrate(pg_conn *c, const pg_migration *list, size_t count,
               pg_migrate_applied_fn on_applied, void *arg,
               size_t *applied_out, pv_error *err) {
  if (applied_out) *applied_out = 0;
  for (size_t i = 1; i < count; i++)
    if (list[i].version <= list[i - 1].version)
      return pv_error_set(err, PV_EINVAL, NULL,
                          "migrations are not in ascending order at %s", list[i].file);
  if (sodium_init() < 0) return pv_error_set(err, PV_EINTERNAL, NULL, "could not initialise libsodium");

  int rc = begin_locked(c, err);
  if (rc) return rc;
  if ((rc = pg_exec(c, sql_create_table, 0, NULL, NULL, err)) != 0) {
    rollback(c);
    return rc;
  }
  if ((rc = pg_exec(c, "COMMIT", 0, NULL, NULL, err)) != 0) return rc;

  for (size_t i = 0; i < count; i++) {
    bool applied;
    if ((rc = apply_one(c, &list[i], &applied, err)) != 0) return rc;
    if (!applied) continue;
    if (applied_out) (*applied_out)++;
    if (on_applied) on_applied(&list[i], arg);
  }
  return 0;
}
