/*
 * suppressions — the read model of suppression.added / .removed
 * (schema/030_proj_compliance.sql, rm_suppressions): `current` holds what
 * is suppressed now, one row per (value, scope); `history` every change.
 * The just-in-time check never reads this (it reads the log's suppressions
 * index); lists, counts and exports do.
 *
 * Idempotent per event (ON CONFLICT on the history's position), one
 * statement per event.
 */
#include "projections/proj_folds.h"
#include "projections/proj_rows.h"

static const char added_sql[] =
    "WITH p AS (SELECT $3::jsonb AS j), "
    "h AS (INSERT INTO history (position, tenant, channel, value, client_id, action, reason, "
    "  source, at, actor) "
    "  SELECT $2::bigint, $1, j->>'channel', j->>'value', coalesce(j->>'client_id', ''), "
    "  'added', j->>'reason', j->>'source', to_timestamp((j->>'at_us')::bigint / 1e6), $4 "
    "  FROM p ON CONFLICT (position) DO NOTHING) "
    "INSERT INTO current (tenant, channel, value, client_id, raw, reason, source, at, actor, "
    "  position) "
    "SELECT $1, j->>'channel', j->>'value', coalesce(j->>'client_id', ''), "
    "  coalesce(j->>'raw', ''), j->>'reason', j->>'source', "
    "  to_timestamp((j->>'at_us')::bigint / 1e6), $4, $2::bigint FROM p "
    "ON CONFLICT (tenant, channel, value, client_id) DO UPDATE SET raw = EXCLUDED.raw, "
    "  reason = EXCLUDED.reason, source = EXCLUDED.source, at = EXCLUDED.at, "
    "  actor = EXCLUDED.actor, position = EXCLUDED.position";

static const char removed_sql[] =
    "WITH p AS (SELECT $3::jsonb AS j), "
    "h AS (INSERT INTO history (position, tenant, channel, value, client_id, action, reason, "
    "  source, at, actor) "
    "  SELECT $2::bigint, $1, j->>'channel', j->>'value', coalesce(j->>'client_id', ''), "
    "  'removed', j->>'reason', '', to_timestamp((j->>'at_us')::bigint / 1e6), $4 "
    "  FROM p ON CONFLICT (position) DO NOTHING) "
    "DELETE FROM current c USING p WHERE c.tenant = $1 AND c.channel = p.j->>'channel' "
    "  AND c.value = p.j->>'value' AND c.client_id = coalesce(p.j->>'client_id', '') "
    "  AND c.position < $2::bigint";

int proj_suppressions_fold(pg_conn *c, const evt_envelope *events, size_t n, pv_error *err) {
  pv_buf buf = PV_BUF_INIT;
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++) {
    const evt_envelope *e = &events[i];
    const char *v[PROJ_ROW_COUNT];
    if ((rc = proj_row_of(e, "suppression-", &buf, v, err))) break;
    const char *params[] = {v[PROJ_ROW_TENANT], v[PROJ_ROW_POSITION], v[PROJ_ROW_PAYLOAD],
                            v[PROJ_ROW_ACTOR]};
    if (proj_row_is(e, "suppression.added"))
      rc = pg_exec(c, added_sql, 4, params, NULL, err);
    else if (proj_row_is(e, "suppression.removed"))
      rc = pg_exec(c, removed_sql, 4, params, NULL, err);
  }
  pv_buf_release(&buf);
  return rc;
}
