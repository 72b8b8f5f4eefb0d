/*
 * api_search_read — GET /api/search (one ranked list across contacts'
 * names and emails and accounts' names and domains, by pg_trgm) and
 * GET /api/audit?actor= (what one actor changed, over every entity).
 */
#include "adapters/http/handlers/api_query.h"

#include <stdlib.h>
#include <string.h>

/*
 * $1 tenant, $2 the query (lower-cased here), $3 the same with LIKE's
 * wildcards escaped, $4 the limit. A row matches when its search text holds
 * the query or a word of it is close (pg_trgm's word_similarity, threshold
 * pg_trgm.word_similarity_threshold = 0.6); the score is that similarity
 * plus 1 for an exact match of the email, domain or whole name, so an
 * exact-ish hit ranks first. Each side is limited before the union.
 */
static const char search_sql[] =
    "WITH q AS (SELECT lower(btrim($2)) AS t, '%' || lower($3) || '%' AS l), "
    "hits AS ("
    " (SELECT 'contact' AS kind, c.id, "
    "   nullif(btrim(coalesce(c.first_name, '') || ' ' || coalesce(c.last_name, '')), '') AS name, "
    "   c.email, NULL::text AS domain, c.account_id, "
    "   (CASE WHEN c.email = q.t OR lower(btrim(coalesce(c.first_name, '') || ' ' || "
    "     coalesce(c.last_name, ''))) = q.t THEN 1 ELSE 0 END "
    "    + public.word_similarity(q.t, c.search))::float8 AS score "
    "  FROM rm_contacts.contacts c, q "
    "  WHERE c.tenant = $1 AND NOT c.deleted AND c.merged_into IS NULL "
    "    AND (c.search LIKE q.l OR q.t OPERATOR(public.<%) c.search) "
    "  ORDER BY score DESC, c.id LIMIT $4::integer) "
    " UNION ALL "
    " (SELECT 'account', a.id, a.name, NULL, a.domain, NULL, "
    "   (CASE WHEN a.domain = q.t OR lower(a.name) = q.t THEN 1 ELSE 0 END "
    "    + public.word_similarity(q.t, a.search))::float8 "
    "  FROM rm_accounts.accounts a, q "
    "  WHERE a.tenant = $1 AND NOT a.deleted "
    "    AND (a.search LIKE q.l OR q.t OPERATOR(public.<%) a.search) "
    "  ORDER BY 7 DESC, a.id LIMIT $4::integer)) "
    "SELECT json_build_object('items', coalesce(json_agg(json_strip_nulls(row_to_json(h)) "
    "  ORDER BY h.score DESC, h.kind, h.id), '[]'))::text "
    "FROM (SELECT * FROM hits ORDER BY score DESC, kind, id LIMIT $4::integer) h";

static const apiq_sort position_sort[] = {{"position", "r.position", APIQ_INT}};
static const apiq_filter actor_filters[] = {
    {"actor", "r.actor = $?", APIQ_CHECK_TEXT},
    {"entity", "r.entity = $?", APIQ_CHECK_TEXT},
    {"field", "r.field = $?", APIQ_CHECK_TEXT},
};

static const apiq_resource actor_audit = {
    .from = APIQ_AUDIT_FROM,
    .where = "r.tenant = $1",
    .tiebreak = "r.seq",
    .tiebreak_kind = APIQ_INT,
    .sorts = position_sort,
    .n_sorts = 1,
    .default_sort = "position",
    .filters = actor_filters,
    .n_filters = sizeof actor_filters / sizeof actor_filters[0],
    .required = "actor",
    .item = APIQ_AUDIT_ITEM,
};

void api_audit_list(http_request *req) {
  const char *fixed[] = {apiq_tenant(req)};
  apiq_list(req, &actor_audit, fixed, 1);
}

void api_search(http_request *req) {
  const char *q = NULL, *lim = NULL;
  pv_error e = PV_ERROR_INIT;
  apiq_params p;
  if (apiq_params_parse(http_request_query(req), &p, &e)) goto fail;
  for (size_t i = 0; i < p.n; i++) {
    if (strcmp(p.names[i], "q") == 0) q = p.values[i];
    else if (strcmp(p.names[i], "limit") == 0) lim = p.values[i];
    else {
      pv_error_set(&e, PV_EINVAL, NULL, "unknown query parameter %s", p.names[i]);
      snprintf(e.field, sizeof e.field, "/%s", p.names[i]);
      goto fail;
    }
  }
  if (!q || !q[strspn(q, " \t")]) {
    pv_error_set(&e, PV_EINVAL, "/q", "q is required");
    goto fail;
  }
  long limit = APIQ_SEARCH_DEFAULT;
  if (lim) {
    char *end;
    limit = strtol(lim, &end, 10);
    if (!*lim || *end || lim[0] < '0' || lim[0] > '9' || limit < 1 || limit > APIQ_SEARCH_MAX) {
      pv_error_set(&e, PV_EINVAL, "/limit", "limit must be 1 to %d", APIQ_SEARCH_MAX);
      goto fail;
    }
  }
  char lims[24];
  snprintf(lims, sizeof lims, "%ld", limit);
  pv_buf like = PV_BUF_INIT;
  apiq_like_escape(q, &like);
  const char *fixed[] = {apiq_tenant(req), q, like.data ? like.data : "", lims};
  apiq_get(req, search_sql, fixed, 4, "result");
  pv_buf_release(&like);
  apiq_params_release(&p);
  return;
fail:
  apiq_params_release(&p);
  http_respond_error(req, &e);
}
