/*
 * proj_rebuild — folds the whole log into a shadow schema and swaps it for
 * the live read model in one transaction (see proj_rebuild in proj.h).
 *
 * Why the shadow's batches commit with synchronous_commit off: nothing
 * reads the shadow until the swap, whose own commit is synchronous; a crash
 * before it loses at most a shadow that the next rebuild drops anyway.
 *
 * The shadow is made by pivotal.clone_read_model (schema/055): the live
 * tables with their index names, definitions and storage options. The
 * swap's identifiers (schema names, from the registry) cannot be
 * parameters and are quoted with PQescapeIdentifier.
 */
#include "projections/proj_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

/* Runs SQL built from quoted identifiers (never values). */
static int exec_ident_sql(pg_conn *c, pv_buf *sql, pv_error *err) {
  return pg_exec(c, sql->data, 0, NULL, NULL, err);
}

static char *quote_ident(pg_conn *c, const char *name) {
  char *q = PQescapeIdentifier(pg_conn_raw(c), name, strlen(name));
  char *copy = pv_xstrdup(q ? q : "\"\"");
  PQfreemem(q);
  return copy;
}

/* Drops any old shadow and makes a new one with the live tables' shapes,
 * index names and storage options (pivotal.clone_read_model, schema/055). */
static int make_shadow(pg_conn *c, const proj_def *def, const char *shadow, pv_error *err) {
  PGresult *res = NULL;
  int rc = pg_exec(c, "BEGIN", 0, NULL, NULL, err);
  if (rc) goto done;
  const char *values[] = {def->schema, shadow};
  rc = pg_exec(c, "SELECT pivotal.clone_read_model($1, $2)", 2, values, &res, err);
  if (rc) goto done;
  if (atoi(PQgetvalue(res, 0, 0)) == 0) {
    rc = pv_error_set(err, PV_ENOTFOUND, NULL, "read model schema \"%s\" has no tables",
                      def->schema);
    pv_error_hint(err, "Run `pivotal migrate` first.");
    goto done;
  }
  rc = pg_exec(c, "COMMIT", 0, NULL, NULL, err);
done:
  if (rc) proj_rollback(c);
  PQclear(res);
  return rc;
}

static int fold_into_shadow(pg_conn *c, const proj_def *def, const char *shadow,
                            const proj_batch *b, pv_error *err) {
  int rc = pg_exec(c, "BEGIN", 0, NULL, NULL, err);
  if (rc) return rc;
  const char *values[] = {shadow};
  rc = pg_exec(c,
               "SELECT set_config('search_path', $1, true), "
               "set_config('synchronous_commit', 'off', true)",
               1, values, NULL, err);
  if (rc == 0) rc = def->fold(c, b->events, b->n, err);
  if (rc == 0) rc = pg_exec(c, "COMMIT", 0, NULL, NULL, err);
  if (rc) proj_rollback(c);
  return rc;
}

/* The swap: one transaction, the checkpoint row locked first (a running
 * engine takes it first too, so neither waits on the other's tables). */
static int swap(pg_conn *c, const proj_def *def, const char *shadow, uint64_t position,
                pv_error *err) {
  char old[PROJ_NAME_MAX + 16];
  snprintf(old, sizeof old, "%s__old", def->schema);
  char *live_q = quote_ident(c, def->schema), *shadow_q = quote_ident(c, shadow),
       *old_q = quote_ident(c, old);
  char pos[24];
  snprintf(pos, sizeof pos, "%" PRIu64, position);
  const char *values[] = {def->name, pos};
  pv_buf sql = PV_BUF_INIT;
  int rc = pg_exec(c, "BEGIN", 0, NULL, NULL, err);
  if (rc) goto done;
  rc = pg_exec(c,
               "INSERT INTO pivotal.proj_checkpoint (name, position, updated_at) "
               "VALUES ($1, 0, now()) ON CONFLICT (name) DO NOTHING",
               1, values, NULL, err);
  if (rc) goto done;
  rc = pg_exec(c, "SELECT position FROM pivotal.proj_checkpoint WHERE name = $1 FOR UPDATE", 1,
               values, NULL, err);
  if (rc) goto done;
  pv_buf_addf(&sql, "DROP SCHEMA IF EXISTS %s CASCADE", old_q);
  if ((rc = exec_ident_sql(c, &sql, err))) goto done;
  pv_buf_reset(&sql);
  pv_buf_addf(&sql, "ALTER SCHEMA %s RENAME TO %s", live_q, old_q);
  if ((rc = exec_ident_sql(c, &sql, err))) goto done;
  pv_buf_reset(&sql);
  pv_buf_addf(&sql, "ALTER SCHEMA %s RENAME TO %s", shadow_q, live_q);
  if ((rc = exec_ident_sql(c, &sql, err))) goto done;
  pv_buf_reset(&sql);
  pv_buf_addf(&sql, "DROP SCHEMA %s CASCADE", old_q);
  if ((rc = exec_ident_sql(c, &sql, err))) goto done;
  rc = pg_exec(c,
               "UPDATE pivotal.proj_checkpoint SET position = $2, updated_at = now() "
               "WHERE name = $1",
               2, values, NULL, err);
  if (rc) goto done;
  rc = pg_exec(c, "COMMIT", 0, NULL, NULL, err);
done:
  if (rc) proj_rollback(c);
  pv_buf_release(&sql);
  free(live_q);
  free(shadow_q);
  free(old_q);
  return rc;
}

static void drop_shadow(pg_conn *c, const char *shadow) {
  char *shadow_q = quote_ident(c, shadow);
  pv_buf sql = PV_BUF_INIT;
  pv_buf_addf(&sql, "DROP SCHEMA IF EXISTS %s CASCADE", shadow_q);
  pv_error ignored = PV_ERROR_INIT;
  exec_ident_sql(c, &sql, &ignored);
  pv_buf_release(&sql);
  free(shadow_q);
}

int proj_rebuild(log_t *log, pg_conn *c, const proj_def *def, proj_progress_fn progress,
                 void *arg, uint64_t *position_out, pv_error *err) {
  char shadow[PROJ_NAME_MAX + 16];
  snprintf(shadow, sizeof shadow, "%s__rebuild", def->schema);
  int rc = make_shadow(c, def, shadow, err);
  if (rc) return rc;
  proj_batch b;
  proj_batch_init(&b, PROJ_BATCH_EVENTS);
  uint64_t position = 0;
  for (;;) {
    if ((rc = proj_batch_read(&b, log, def, position + 1, UINT64_MAX, err))) break;
    if (b.last == position) break; /* caught up with the head */
    if ((rc = fold_into_shadow(c, def, shadow, &b, err))) break;
    position = b.last;
    if (progress && progress(arg, position, log_head(log)) != 0) {
      rc = pv_error_set(err, PV_ESHUTDOWN, NULL, "rebuild of %s interrupted", def->name);
      break;
    }
  }
  proj_batch_release(&b);
  if (rc == 0) rc = swap(c, def, shadow, position, err);
  if (rc) {
    drop_shadow(c, shadow);
    return rc;
  }
  if (position_out) *position_out = position;
  return 0;
}
