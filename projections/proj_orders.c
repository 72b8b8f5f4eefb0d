/*
 * orders — the campaign orders read model (schema/030_proj_compliance.sql,
 * rm_orders): one row per order (audience, assets and goals as jsonb, the
 * goal's target and dates as columns for the dashboards) and its linked
 * campaigns. The dashboards' lead counts come from rm_leads.
 *
 * Idempotent: the order row moves only forward in version; links are
 * keyed by (order, campaign).
 */
#include "projections/proj_folds.h"
#include "projections/proj_rows.h"

static const char created_sql[] =
    "INSERT INTO orders (tenant, order_id, client_id, name, type, status, audience, assets, "
    "  goals, lead_target, start_date, end_date, pacing, domain_cap, created_by, created_at, "
    "  updated_at, version, position) "
    "SELECT $1, $2, j->>'client_id', j->>'name', j->>'type', 'submitted', j->'audience', "
    "  coalesce(j->'assets', '[]'::jsonb), j->'goals', (j->'goals'->>'lead_target')::bigint, "
    "  (j->'goals'->>'start_date')::date, (j->'goals'->>'end_date')::date, "
    "  coalesce(j->'goals'->>'pacing', 'even'), (j->>'domain_cap')::integer, $7, "
    "  $4::timestamptz, $4::timestamptz, $6::bigint, $3::bigint "
    "FROM (SELECT $5::jsonb AS j) p ON CONFLICT (tenant, order_id) DO NOTHING";

#define ORDER_TOUCH(SET)                                                             \
  "UPDATE orders SET " SET "updated_at = $4::timestamptz, version = $6::bigint, "    \
  "position = $3::bigint FROM (SELECT $5::jsonb AS j) p "                            \
  "WHERE tenant = $1 AND order_id = $2 AND version < $6::bigint AND $7 = $7"

static const char status_sql[] = ORDER_TOUCH("status = p.j->>'to', ");

static const char linked_sql[] =
    "WITH t AS (" ORDER_TOUCH("") ") "
    "INSERT INTO order_campaigns (tenant, order_id, campaign_id, linked_at) "
    "SELECT $1, $2, j->>'campaign_id', $4::timestamptz FROM (SELECT $5::jsonb AS j) q "
    "ON CONFLICT DO NOTHING";

static const char unlinked_sql[] =
    "WITH t AS (" ORDER_TOUCH("") ") "
    "DELETE FROM order_campaigns USING (SELECT $5::jsonb AS j) q "
    "WHERE tenant = $1 AND order_id = $2 AND campaign_id = q.j->>'campaign_id'";

int proj_orders_fold(pg_conn *c, const evt_envelope *events, size_t n, pv_error *err) {
  pv_buf buf = PV_BUF_INIT;
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++) {
    const evt_envelope *e = &events[i];
    const char *v[PROJ_ROW_COUNT];
    if ((rc = proj_row_of(e, "order-", &buf, v, err))) break;
    const char *params[] = {v[PROJ_ROW_TENANT],  v[PROJ_ROW_ID],      v[PROJ_ROW_POSITION],
                            v[PROJ_ROW_TS],      v[PROJ_ROW_PAYLOAD], v[PROJ_ROW_VERSION],
                            v[PROJ_ROW_ACTOR]};
    const char *sql = NULL;
    if (proj_row_is(e, "order.created")) sql = created_sql;
    else if (proj_row_is(e, "order.status_changed")) sql = status_sql;
    else if (proj_row_is(e, "order.campaign_linked")) sql = linked_sql;
    else if (proj_row_is(e, "order.campaign_unlinked")) sql = unlinked_sql;
    if (sql) rc = pg_exec(c, sql, 7, params, NULL, err);
  }
  pv_buf_release(&buf);
  return rc;
}
