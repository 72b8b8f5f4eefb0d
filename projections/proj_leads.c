/*
 * leads — the lead QA read model (schema/030_proj_compliance.sql,
 * rm_leads.leads): one row per lead with its state, campaign, order,
 * client, reviewer, flags, the contact's email domain and the time of each
 * transition. The order dashboards and lead downloads read it too.
 *
 * Idempotent: lead.created inserts once (ON CONFLICT DO NOTHING); every
 * other event updates only a row whose version is older than its own.
 */
#include "projections/proj_folds.h"
#include "projections/proj_rows.h"

static const char created_sql[] =
    "INSERT INTO leads (tenant, lead_id, contact_id, campaign_id, order_id, client_id, email, "
    "  email_domain, phone, status, answers, created_at, updated_at, version, position) "
    "SELECT $1, $2, j->>'contact_id', j->>'campaign_id', coalesce(j->>'order_id', ''), "
    "  coalesce(j->>'client_id', ''), coalesce(j->>'email', ''), "
    "  coalesce(j->>'email_domain', ''), coalesce(j->>'phone', ''), 'new', "
    "  coalesce(j->'answers', '{}'::jsonb), $4::timestamptz, $4::timestamptz, $6::bigint, "
    "  $3::bigint FROM (SELECT $5::jsonb AS j) p "
    "ON CONFLICT (tenant, lead_id) DO NOTHING";

/* Each transition's SET clause; the common tail is added by update(). */
typedef struct lead_update {
  const char *type;
  const char *sql;
} lead_update;

#define LEAD_UPDATE(SET)                                                         \
  "UPDATE leads SET " SET ", updated_at = $4::timestamptz, version = $6::bigint, " \
  "position = $3::bigint FROM (SELECT $5::jsonb AS j) p "                        \
  "WHERE tenant = $1 AND lead_id = $2 AND version < $6::bigint"

static const lead_update updates[] = {
    {"lead.reviewer_assigned", LEAD_UPDATE("reviewer = p.j->>'reviewer'")},
    {"lead.review_started",
     LEAD_UPDATE("status = 'under_review', review_started_at = $4::timestamptz")},
    {"lead.checklist_item_set", LEAD_UPDATE("status = status")},
    {"lead.flagged",
     LEAD_UPDATE("flags = CASE WHEN p.j->>'flag' = ANY (flags) THEN flags "
                 "ELSE array_append(flags, p.j->>'flag') END")},
    {"lead.approved", LEAD_UPDATE("status = 'approved', approved_at = $4::timestamptz")},
    {"lead.rejected", LEAD_UPDATE("status = 'rejected', rejected_at = $4::timestamptz, "
                                  "reject_reason = p.j->>'reason_code'")},
    {"lead.reopened", LEAD_UPDATE("status = 'under_review', reopened_at = $4::timestamptz, "
                                  "reject_reason = ''")},
    {"lead.published", LEAD_UPDATE("status = 'published', published_at = $4::timestamptz")},
};

int proj_leads_fold(pg_conn *c, const evt_envelope *events, size_t n, pv_error *err) {
  pv_buf buf = PV_BUF_INIT;
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++) {
    const evt_envelope *e = &events[i];
    const char *v[PROJ_ROW_COUNT];
    if ((rc = proj_row_of(e, "lead-", &buf, v, err))) break;
    const char *params[] = {v[PROJ_ROW_TENANT], v[PROJ_ROW_ID],      v[PROJ_ROW_POSITION],
                            v[PROJ_ROW_TS],     v[PROJ_ROW_PAYLOAD], v[PROJ_ROW_VERSION]};
    const char *sql = proj_row_is(e, "lead.created") ? created_sql : NULL;
    for (size_t k = 0; !sql && k < sizeof updates / sizeof updates[0]; k++)
      if (proj_row_is(e, updates[k].type)) sql = updates[k].sql;
    if (sql) rc = pg_exec(c, sql, 6, params, NULL, err);
  }
  pv_buf_release(&buf);
  return rc;
}
