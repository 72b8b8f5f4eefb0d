/*
 * lead_downloads — every CSV download of an order's published leads
 * (lead_download.recorded and its lead_download.leads_listed chunks;
 * schema/030_proj_compliance.sql, rm_lead_downloads): who, when, which
 * leads, the manifest hash. One row per download: the recorded event
 * inserts it with the first ids, each chunk appends its ids to lead_ids.
 *
 * Idempotent whatever the batch boundaries: the insert is on the download
 * id, and a chunk appends only when the row holds exactly the ids before
 * it (its offset), so a chunk folded twice changes nothing, and one that
 * arrives in a later batch than its recorded event appends there. The
 * events of one download are contiguous in the log (one commit), so the
 * chunks of a download that fall in one batch are appended in one
 * statement: the row's jsonb is rewritten once per batch, not per chunk.
 */
#include "projections/proj_folds.h"
#include "projections/proj_rows.h"

static const char recorded_sql[] =
    "INSERT INTO downloads (tenant, download_id, order_id, client_id, actor, at, lead_count, "
    "  lead_ids, manifest_hash, position) "
    "SELECT $1, $2, j->>'order_id', j->>'client_id', $5, $4::timestamptz, "
    "  (j->>'lead_count')::bigint, j->'lead_ids', j->>'manifest_hash', $3::bigint "
    "FROM (SELECT $6::jsonb AS j) p ON CONFLICT (tenant, download_id) DO NOTHING";

/* $3: a JSON array of consecutive lead_download.leads_listed payloads of
 * download $2, in log order. */
static const char listed_sql[] =
    "UPDATE downloads d SET lead_ids = d.lead_ids || p.ids FROM ("
    "  SELECT (c->0->>'offset')::bigint AS base, (SELECT coalesce(jsonb_agg(x.v ORDER BY "
    "    e.n, x.n), '[]') FROM jsonb_array_elements(c) WITH ORDINALITY e(j, n), "
    "    jsonb_array_elements(e.j->'lead_ids') WITH ORDINALITY x(v, n)) AS ids "
    "  FROM (SELECT $3::jsonb AS c) q) p "
    "WHERE d.tenant = $1 AND d.download_id = $2 AND jsonb_array_length(d.lead_ids) = p.base";

static bool same_stream(const evt_envelope *a, const evt_envelope *b) {
  return a->tenant.len == b->tenant.len && a->stream.len == b->stream.len &&
         memcmp(a->tenant.ptr, b->tenant.ptr, a->tenant.len) == 0 &&
         memcmp(a->stream.ptr, b->stream.ptr, a->stream.len) == 0;
}

/* Folds the chunks events[i..] of one download; *next: the first event
 * after them. */
static int fold_listed(pg_conn *c, const evt_envelope *events, size_t i, size_t n, size_t *next,
                       pv_buf *buf, pv_buf *run, pv_error *err) {
  const char *v[PROJ_ROW_COUNT] = {0};
  pv_buf_reset(run);
  pv_buf_addch(run, '[');
  size_t j = i;
  for (; j < n && proj_row_is(&events[j], "lead_download.leads_listed") &&
         same_stream(&events[i], &events[j]);
       j++) {
    int rc = proj_row_of(&events[j], "download-", buf, v, err);
    if (rc) return rc;
    if (j > i) pv_buf_addch(run, ',');
    pv_buf_addstr(run, v[PROJ_ROW_PAYLOAD]);
  }
  pv_buf_addch(run, ']');
  pv_buf_addch(run, 0);
  *next = j;
  /* v still holds the last chunk's tenant and id: the run's */
  const char *params[] = {v[PROJ_ROW_TENANT], v[PROJ_ROW_ID], run->data};
  return pg_exec(c, listed_sql, 3, params, NULL, err);
}

int proj_lead_downloads_fold(pg_conn *c, const evt_envelope *events, size_t n, pv_error *err) {
  pv_buf buf = PV_BUF_INIT, run = PV_BUF_INIT;
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0;) {
    if (proj_row_is(&events[i], "lead_download.leads_listed")) {
      rc = fold_listed(c, events, i, n, &i, &buf, &run, err);
      continue;
    }
    const char *v[PROJ_ROW_COUNT] = {0};
    if ((rc = proj_row_of(&events[i], "download-", &buf, v, err))) break;
    const char *params[] = {v[PROJ_ROW_TENANT], v[PROJ_ROW_ID], v[PROJ_ROW_POSITION],
                            v[PROJ_ROW_TS],     v[PROJ_ROW_ACTOR], v[PROJ_ROW_PAYLOAD]};
    rc = pg_exec(c, recorded_sql, 6, params, NULL, err);
    i++;
  }
  pv_buf_release(&buf);
  pv_buf_release(&run);
  return rc;
}
