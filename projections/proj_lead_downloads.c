/*
 * lead_downloads — every CSV download of an order's published leads
 * (lead_download.recorded; schema/030_proj_compliance.sql,
 * rm_lead_downloads): who, when, which leads, the manifest hash.
 * Idempotent on the download id.
 */
#include "projections/proj_folds.h"
#include "projections/proj_rows.h"

static const char recorded_sql[] =
    "INSERT INTO downloads (tenant, download_id, order_id, client_id, actor, at, lead_count, "
    "  lead_ids, manifest_hash, position) "
    "SELECT $1, $2, j->>'order_id', j->>'client_id', $5, $4::timestamptz, "
    "  (j->>'lead_count')::bigint, j->'lead_ids', j->>'manifest_hash', $3::bigint "
    "FROM (SELECT $6::jsonb AS j) p ON CONFLICT (tenant, download_id) DO NOTHING";

int proj_lead_downloads_fold(pg_conn *c, const evt_envelope *events, size_t n, pv_error *err) {
  pv_buf buf = PV_BUF_INIT;
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++) {
    const char *v[PROJ_ROW_COUNT];
    if ((rc = proj_row_of(&events[i], "download-", &buf, v, err))) break;
    const char *params[] = {v[PROJ_ROW_TENANT], v[PROJ_ROW_ID], v[PROJ_ROW_POSITION],
                            v[PROJ_ROW_TS],     v[PROJ_ROW_ACTOR], v[PROJ_ROW_PAYLOAD]};
    rc = pg_exec(c, recorded_sql, 6, params, NULL, err);
  }
  pv_buf_release(&buf);
  return rc;
}
