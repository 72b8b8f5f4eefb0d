/*
 * api_orders — campaign orders, the client portal (core/orders.h):
 *   POST   /api/orders                          create (server-made id)
 *   GET    /api/orders                          list (read model)
 *   GET    /api/orders/:id                      one, with linked campaigns
 *   POST   /api/orders/:id/campaigns            link (staff)
 *   DELETE /api/orders/:id/campaigns/:campaign_id  unlink (staff)
 *   POST   /api/orders/:id/status               start/pause/resume/complete/cancel
 *   GET    /api/orders/:id/aggregate-stats      the dashboard
 *   GET    /api/orders/:id/leads.csv            published leads, streamed CSV;
 *                                               each download recorded (up
 *                                               to 200,000 leads, its ids in
 *                                               chunked events, one commit)
 *   GET    /api/orders/:id/downloads            the recorded downloads (no ids)
 *   GET    /api/orders/:id/downloads/:download_id  one, with its lead ids
 * Client isolation: reads select by the client user's client id, commands
 * are refused by the write side with the error of a missing order; either
 * way another client's id answers exactly like one that does not exist.
 */
#include "adapters/http/handlers/api_cmpl.h"
#include "core/mp.h"
#include "core/orders.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Leads one download may hold: 200,000, twice the largest B2B orders the
 * portal serves (10k-100k leads). The bound is memory, not the log: the
 * CSV is built in memory from ONE PGresult, so a download holds both at
 * once, at ~400 bytes per lead each with short answers (~160 MiB at the
 * cap); its ids (~6 MiB) go to the log in one commit. */
#define ORDERS_DOWNLOAD_MAX_LEADS 200000
/* Packed ids per event: 192 KiB, under the event's 256 KiB cap
 * (EVT_MAX_BYTES less the writer's 1 KiB for the envelope) with room for
 * the recorded event's other fields; about 6,700 ids of 26 characters.
 * Each id is counted with 5 bytes of msgpack framing, the most a string
 * takes. */
#define ORDERS_DOWNLOAD_CHUNK_BYTES (192 * 1024)

typedef struct order_job {
  union {
    order_create create;
    order_link link;
    order_change change;
  } cmd;
  cJSON *body;
  char id[64];
  char campaign[64];
  char *filters;
  order_asset *assets;
} order_job;

static void order_job_free(void *p) {
  order_job *j = p;
  cJSON_Delete(j->body);
  free(j->filters);
  free(j->assets);
  free(j);
}

static api_op *order_op(http_request *req, order_job *j, void (*finish)(api_op *)) {
  const api_principal *ap = api_principal_of(req);
  api_op *op = api_op_new(req, ap->p.tenant, ap->actor);
  snprintf(op->entity_id, sizeof op->entity_id, "%s", j->id);
  op->data = j;
  op->data_free = order_job_free;
  op->finish = finish;
  return op;
}

static void submit_or_fail(api_op *op, int (*bind)(void *, writer_cmd *, pv_error *),
                           void *cmd) {
  pv_error e = PV_ERROR_INIT;
  int rc = api_op_idempotency(op, &e);
  if (rc == 0) rc = bind(cmd, &op->cmd, &e);
  if (rc) {
    http_respond_error(op->req, &e);
    return api_op_free(op);
  }
  api_op_submit(op);
}

static int bind_create(void *c, writer_cmd *cmd, pv_error *e) {
  return order_create_bind(c, cmd, e);
}
static int bind_link(void *c, writer_cmd *cmd, pv_error *e) {
  return order_link_bind(c, cmd, e);
}
static int bind_change(void *c, writer_cmd *cmd, pv_error *e) {
  return order_change_bind(c, cmd, e);
}

static void created_finish(api_op *op) {
  if (op->cmd.status == 0) {
    char location[96];
    snprintf(location, sizeof location, "/api/orders/%s", op->entity_id);
    http_response_header(op->req, "Location", location);
  }
  api_op_answer(op, 201, 0);
}

/* A missing order, and another client's, answer the one "no such order"
 * of the read routes: the write side's message names the id, which would
 * make a missing id's answer differ from another one's. */
static bool order_missing(api_op *op) {
  const writer_cmd *c = &op->cmd;
  if (c->status != PV_ENOTFOUND || (c->error.field[0] && strcmp(c->error.field, "/order_id")))
    return false;
  cmpl_not_found(op->req, "order");
  api_op_free(op);
  return true;
}

static void changed_finish(api_op *op) {
  order_job *j = op->data;
  if (order_missing(op)) return;
  if (op->cmd.status == 0 && op->cmd.arg == &j->cmd.change) {
    char to[32];
    snprintf(to, sizeof to, "%s", order_status_name(j->cmd.change.to));
    http_response_header(op->req, "Pivotal-Order-Status", to);
  }
  api_op_answer(op, 200, 0);
}

static int json_u64(const cJSON *obj, const char *key, const char *field, uint64_t *out,
                    pv_error *e) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!v) return 0;
  if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 9007199254740991.0 ||
      v->valuedouble != (double)(uint64_t)v->valuedouble)
    return pv_error_set(e, PV_EBADTYPE, field, "%s must be a whole number ≥ 0", key);
  *out = (uint64_t)v->valuedouble;
  return 0;
}

/* "/kind" → "/audience/kind": the member's place in the whole body. */
static void prefix_field(pv_error *e, const char *prefix) {
  char f[sizeof e->field];
  memcpy(f, e->field, sizeof f);
  size_t n = strlen(prefix);
  if (n + strlen(f) >= sizeof e->field) return;
  memcpy(e->field, prefix, n);
  memcpy(e->field + n, f, strlen(f) + 1);
}

/* Reads audience, assets and goals of a create body into j->cmd.create. */
static int read_create(cJSON *body, order_job *j, pv_error *e) {
  order_create *c = &j->cmd.create;
  int rc;
  const cJSON *aud = cJSON_GetObjectItemCaseSensitive(body, "audience");
  const cJSON *goals = cJSON_GetObjectItemCaseSensitive(body, "goals");
  const cJSON *assets = cJSON_GetObjectItemCaseSensitive(body, "assets");
  uint64_t cap = 0;
  if ((rc = http_json_string(body, "client_id", false, &c->client_id, e)) ||
      (rc = http_json_string(body, "name", true, &c->name, e)) ||
      (rc = http_json_string(body, "type", true, &c->type, e)) ||
      (rc = json_u64(body, "domain_cap", "/domain_cap", &cap, e)))
    return rc;
  if (cap > UINT32_MAX) return pv_error_set(e, PV_EINVAL, "/domain_cap", "domain_cap too large");
  c->domain_cap = (uint32_t)cap;
  if (!cJSON_IsObject(aud)) return pv_error_set(e, PV_EINVAL, "/audience", "audience is required");
  if (!cJSON_IsObject(goals)) return pv_error_set(e, PV_EINVAL, "/goals", "goals are required");
  if ((rc = http_json_string(aud, "kind", true, &c->audience.kind, e)) ||
      (rc = http_json_string(aud, "file", false, &c->audience.file, e)) ||
      (rc = http_json_string(aud, "list_id", false, &c->audience.list_id, e)))
    return prefix_field(e, "/audience"), rc;
  const cJSON *filters = cJSON_GetObjectItemCaseSensitive(aud, "filters");
  if (filters) {
    /* the filter tree as JSON text: an object as sent, or a string that
     * must itself parse as JSON */
    if (cJSON_IsString(filters)) {
      cJSON *parsed = cJSON_Parse(filters->valuestring);
      if (!parsed)
        return pv_error_set(e, PV_EINVAL, "/audience/filters", "filters are not valid JSON");
      cJSON_Delete(parsed);
      j->filters = pv_xstrdup(filters->valuestring);
    } else {
      j->filters = cJSON_PrintUnformatted(filters);
    }
    if (strlen(j->filters) > ORDER_MAX_FILTERS_BYTES)
      return pv_error_set(e, PV_ETOOBIG, "/audience/filters", "filters over %d bytes",
                          ORDER_MAX_FILTERS_BYTES);
    c->audience.filters_json = j->filters;
  }
  uint64_t target = 0;
  if ((rc = json_u64(goals, "lead_target", "/goals/lead_target", &target, e)) ||
      (rc = http_json_string(goals, "start_date", true, &c->goals.start_date, e)) ||
      (rc = http_json_string(goals, "end_date", true, &c->goals.end_date, e)) ||
      (rc = http_json_string(goals, "pacing", false, &c->goals.pacing, e))) {
    return prefix_field(e, "/goals"), rc;
  }
  c->goals.lead_target = target;
  if (assets) {
    if (!cJSON_IsArray(assets) || cJSON_GetArraySize(assets) > ORDER_MAX_ASSETS)
      return pv_error_set(e, PV_EINVAL, "/assets", "assets must be an array of at most %d",
                          ORDER_MAX_ASSETS);
    j->assets = pv_xcalloc((size_t)cJSON_GetArraySize(assets) + 1, sizeof *j->assets);
    size_t n = 0;
    for (const cJSON *a = assets->child; a; a = a->next, n++) {
      order_asset *o = &j->assets[n];
      if (!cJSON_IsObject(a) || (rc = http_json_string(a, "name", true, &o->name, e)) ||
          (rc = http_json_string(a, "url", false, &o->url, e)) ||
          (rc = http_json_string(a, "media_type", false, &o->media_type, e)) ||
          (rc = json_u64(a, "size_bytes", "/size_bytes", &o->size_bytes, e))) {
        snprintf(e->field, sizeof e->field, "/assets/%zu", n);
        return rc ? rc : pv_error_set(e, PV_EBADTYPE, e->field, "an asset is an object");
      }
    }
    c->assets = j->assets;
    c->asset_count = n;
  }
  return 0;
}

void api_orders_create(http_request *req) {
  cJSON *body;
  if (cmpl_object_body(req, &body)) return;
  order_job *j = pv_xcalloc(1, sizeof *j);
  j->body = body;
  pv_error e = PV_ERROR_INIT;
  if (read_create(body, j, &e)) {
    http_respond_error(req, &e);
    return order_job_free(j);
  }
  const api_principal *ap = api_principal_of(req);
  cmpl_new_id(j->id);
  j->cmd.create.by = cmpl_actor(ap);
  j->cmd.create.order_id = j->id;
  api_op *op = order_op(req, j, created_finish);
  submit_or_fail(op, bind_create, &j->cmd.create);
}

/* The :id parameter into j->id; answers 404 (as for any missing order)
 * when it cannot be an id. */
static int order_id_param(http_request *req, order_job *j) {
  const char *id = http_request_param(req, "id");
  if (strlen(id) >= sizeof j->id) {
    cmpl_not_found(req, "order");
    return -1;
  }
  snprintf(j->id, sizeof j->id, "%s", id);
  return 0;
}

static void link_common(http_request *req, bool unlink) {
  cJSON *body = NULL;
  if (!unlink && cmpl_object_body(req, &body)) return;
  order_job *j = pv_xcalloc(1, sizeof *j);
  j->body = body;
  pv_error e = PV_ERROR_INIT;
  const char *campaign = unlink ? http_request_param(req, "campaign_id") : NULL;
  if (!unlink && http_json_string(body, "campaign_id", true, &campaign, &e)) {
    http_respond_error(req, &e);
    return order_job_free(j);
  }
  if (order_id_param(req, j)) return order_job_free(j);
  snprintf(j->campaign, sizeof j->campaign, "%s", campaign);
  const api_principal *ap = api_principal_of(req);
  j->cmd.link = (order_link){.by = cmpl_actor(ap), .order_id = j->id, .campaign_id = j->campaign,
                             .unlink = unlink};
  api_op *op = order_op(req, j, changed_finish);
  submit_or_fail(op, bind_link, &j->cmd.link);
}

void api_orders_link(http_request *req) { link_common(req, false); }
void api_orders_unlink(http_request *req) { link_common(req, true); }

void api_orders_status(http_request *req) {
  cJSON *body;
  if (cmpl_object_body(req, &body)) return;
  order_job *j = pv_xcalloc(1, sizeof *j);
  j->body = body;
  pv_error e = PV_ERROR_INIT;
  const char *action = NULL, *reason = NULL;
  order_action act;
  int rc;
  if ((rc = http_json_string(body, "action", true, &action, &e)) ||
      (rc = http_json_string(body, "reason", false, &reason, &e)) ||
      (rc = order_action_parse(action, &act, &e))) {
    if (rc && !e.field[0]) snprintf(e.field, sizeof e.field, "/action");
    http_respond_error(req, &e);
    return order_job_free(j);
  }
  if (order_id_param(req, j)) return order_job_free(j);
  const api_principal *ap = api_principal_of(req);
  j->cmd.change = (order_change){.by = cmpl_actor(ap), .order_id = j->id, .action = act,
                                 .reason = reason};
  api_op *op = order_op(req, j, changed_finish);
  submit_or_fail(op, bind_change, &j->cmd.change);
}

/* ---- the read model ----------------------------------------------------- */

/* $1 tenant, $2 client scope ('' = staff). */
#define ORDER_SCOPE "o.tenant = $1 AND ($2 = '' OR o.client_id = $2)"

#define ORDER_JSON                                                                        \
  "json_build_object('id', o.order_id, 'client_id', o.client_id, 'name', o.name, 'type', " \
  "o.type, 'status', o.status, 'audience', o.audience, 'assets', o.assets, 'goals', "      \
  "o.goals, 'domain_cap', o.domain_cap, 'created_at', o.created_at, 'updated_at', "        \
  "o.updated_at, 'version', o.version, 'campaigns', (SELECT coalesce(json_agg("            \
  "c.campaign_id ORDER BY c.campaign_id), '[]'::json) FROM rm_orders.order_campaigns c "   \
  "WHERE c.tenant = o.tenant AND c.order_id = o.order_id))::text"

static void one_order(http_request *req, PGresult *res, void *ctx) {
  (void)ctx;
  cmpl_one(req, res, "order");
}

void api_orders_get(http_request *req) {
  const api_principal *ap = api_principal_of(req);
  const char *values[] = {ap->p.tenant, cmpl_scope(ap), http_request_param(req, "id")};
  cmpl_query(req, "SELECT " ORDER_JSON " FROM rm_orders.orders o WHERE " ORDER_SCOPE
             " AND o.order_id = $3", 3, values, one_order, NULL, false);
}

static void order_page(http_request *req, PGresult *res, void *ctx) {
  cmpl_page(req, res, *(int *)ctx);
}

void api_orders_list(http_request *req) {
  const api_principal *ap = api_principal_of(req);
  char status[16] = "", client[AUTH_ID_MAX] = "", cursor[64] = "", limit_text[16];
  int limit;
  if (cmpl_query_param(req, "status", status, sizeof status) < 0 ||
      cmpl_query_param(req, "client_id", client, sizeof client) < 0 ||
      cmpl_query_param(req, "cursor", cursor, sizeof cursor) < 0 || cmpl_limit(req, &limit) < 0)
    return;
  snprintf(limit_text, sizeof limit_text, "%d", limit + 1);
  const char *values[] = {ap->p.tenant, cmpl_scope(ap), status, client, cursor, limit_text};
  int *ctx = pv_xmalloc(sizeof *ctx);
  *ctx = limit;
  cmpl_query(req,
             "SELECT " ORDER_JSON ", o.order_id FROM rm_orders.orders o WHERE " ORDER_SCOPE
             " AND ($3 = '' OR o.status = $3) AND ($4 = '' OR o.client_id = $4) AND "
             "($5 = '' OR o.order_id COLLATE \"C\" < $5) "
             "ORDER BY o.order_id COLLATE \"C\" DESC LIMIT $6::int",
             6, values, order_page, ctx, true);
}

/*
 * The dashboard: leads delivered (published) against the goal, counts by
 * state, deliveries by day, and the pacing plan to date (UTC days): even =
 * the target spread evenly over the goal's days; front_loaded = the square
 * root of the elapsed fraction (more early); asap = all of it from day one.
 */
static const char stats_sql[] =
    "WITH o AS (SELECT * FROM rm_orders.orders o WHERE " ORDER_SCOPE " AND o.order_id = $3), "
    "l AS (SELECT status, published_at FROM rm_leads.leads WHERE tenant = $1 AND "
    "  order_id = $3 AND EXISTS (SELECT 1 FROM o)), "
    "d AS (SELECT o.*, (now() AT TIME ZONE 'UTC')::date AS today, "
    "  greatest(0, least(1, ((now() AT TIME ZONE 'UTC')::date - o.start_date + 1)::float8 / "
    "  (o.end_date - o.start_date + 1))) AS frac, "
    "  (SELECT count(*) FROM l WHERE status = 'published') AS delivered FROM o), "
    "p AS (SELECT d.*, round(d.lead_target * CASE d.pacing WHEN 'asap' THEN "
    "  CASE WHEN d.frac > 0 THEN 1 ELSE 0 END WHEN 'front_loaded' THEN sqrt(d.frac) "
    "  ELSE d.frac END)::bigint AS planned FROM d) "
    "SELECT json_build_object('order_id', order_id, 'status', status, 'lead_target', "
    "  lead_target, 'delivered', delivered, 'remaining', greatest(0, lead_target - delivered), "
    "  'percent_of_goal', round(100.0 * delivered / greatest(lead_target, 1), 1), "
    "  'by_state', (SELECT coalesce(json_object_agg(status, n), '{}'::json) FROM "
    "    (SELECT status, count(*) AS n FROM l GROUP BY status) s), "
    "  'by_day', (SELECT coalesce(json_agg(json_build_object('day', day, 'delivered', n) "
    "    ORDER BY day), '[]'::json) FROM (SELECT (published_at AT TIME ZONE 'UTC')::date "
    "    AS day, count(*) AS n FROM l WHERE status = 'published' GROUP BY 1) s), "
    "  'pacing', json_build_object('plan', pacing, 'start_date', start_date, 'end_date', "
    "    end_date, 'as_of', today, 'planned_to_date', planned, 'delivered_to_date', "
    "    delivered, 'ahead_by', delivered - planned, 'on_track', delivered >= planned))::text "
    "FROM p";

void api_orders_stats(http_request *req) {
  const api_principal *ap = api_principal_of(req);
  const char *values[] = {ap->p.tenant, cmpl_scope(ap), http_request_param(req, "id")};
  cmpl_query(req, stats_sql, 3, values, one_order, NULL, false);
}

static void downloads_rows(http_request *req, PGresult *res, void *ctx) {
  (void)ctx;
  cmpl_one(req, res, "order");
}

/* The list leaves out each download's lead ids: a 100,000-lead download
 * alone is ~3 MiB of them, and an order downloaded a few dozen times over
 * a campaign would make the list answer a hundred. One download's ids are
 * at /downloads/:download_id. */
void api_orders_downloads(http_request *req) {
  const api_principal *ap = api_principal_of(req);
  const char *values[] = {ap->p.tenant, cmpl_scope(ap), http_request_param(req, "id")};
  cmpl_query(req,
             "SELECT json_build_object('items', (SELECT coalesce(json_agg(json_build_object("
             "'id', d.download_id, 'actor', d.actor, 'at', d.at, 'lead_count', d.lead_count, "
             "'manifest_hash', d.manifest_hash) ORDER BY d.at DESC, d.download_id), '[]'::json) "
             "FROM rm_lead_downloads.downloads d WHERE "
             "d.tenant = o.tenant AND d.order_id = o.order_id))::text "
             "FROM rm_orders.orders o WHERE " ORDER_SCOPE " AND o.order_id = $3",
             3, values, downloads_rows, NULL, false);
}

/* Rows: none (no such order in scope) or one, NULL when the order has no
 * such download. */
static void download_row(http_request *req, PGresult *res, void *ctx) {
  (void)ctx;
  if (PQntuples(res) < 1) return cmpl_not_found(req, "order");
  if (PQgetisnull(res, 0, 0)) return cmpl_not_found(req, "download");
  cmpl_one(req, res, "download");
}

void api_orders_download_get(http_request *req) {
  const api_principal *ap = api_principal_of(req);
  const char *values[] = {ap->p.tenant, cmpl_scope(ap), http_request_param(req, "id"),
                          http_request_param(req, "download_id")};
  cmpl_query(req,
             "SELECT (SELECT json_build_object('id', d.download_id, 'actor', d.actor, 'at', "
             "d.at, 'lead_count', d.lead_count, 'lead_ids', d.lead_ids, 'manifest_hash', "
             "d.manifest_hash)::text FROM rm_lead_downloads.downloads d WHERE "
             "d.tenant = o.tenant AND d.order_id = o.order_id AND d.download_id = $4) "
             "FROM rm_orders.orders o WHERE " ORDER_SCOPE " AND o.order_id = $3",
             4, values, download_row, NULL, false);
}

/* ---- lead downloads ----------------------------------------------------- */

/* The recorded event carries the first ids (all of them when they fit),
 * each lead_download.leads_listed event the next chunk; one command emits
 * them all, so a download is in the log entirely or not at all. */
typedef struct download {
  char download_id[CMPL_ID_MAX];
  char order_id[64], client_id[AUTH_ID_MAX], hash[crypto_generichash_BYTES * 2 + 1];
  pv_buf payload; /* lead_download.recorded */
  pv_buf listed;  /* the lead_download.leads_listed payloads back to back */
  size_t *listed_len, chunks;
  pv_buf csv;
} download;

static void download_free(void *p) {
  download *d = p;
  pv_buf_release(&d->payload);
  pv_buf_release(&d->listed);
  free(d->listed_len);
  pv_buf_release(&d->csv);
  free(d);
}

static int download_decide(writer_ctx *ctx, void *arg, pv_error *err) {
  download *d = arg;
  char stream[EVT_MAX_STREAM];
  snprintf(stream, sizeof stream, "download-%s", d->download_id);
  int rc = writer_emit(ctx, stream, LOG_EXPECT_NO_STREAM, "lead_download.recorded", 1,
                       d->payload.data, d->payload.len, err);
  size_t off = 0;
  for (size_t k = 0; k < d->chunks && rc == 0; k++) {
    /* chunk k + 1 follows the recorded event and k earlier chunks */
    rc = writer_emit(ctx, stream, (int64_t)k + 1, "lead_download.leads_listed", 1,
                     d->listed.data + off, d->listed_len[k], err);
    off += d->listed_len[k];
  }
  return rc;
}

/* Where the ids of row res[from..] end in one event: at n or before the
 * id that would take the chunk over ORDERS_DOWNLOAD_CHUNK_BYTES (never
 * before from + 1). */
static size_t chunk_end(PGresult *res, size_t from, size_t n) {
  size_t to = from, bytes = 0;
  while (to < n) {
    size_t len = (size_t)PQgetlength(res, (int)to, 1) + 5;
    if (to > from && bytes + len > ORDERS_DOWNLOAD_CHUNK_BYTES) break;
    bytes += len;
    to++;
  }
  return to;
}

static void pack_ids(msgpack_packer *pk, PGresult *res, size_t from, size_t to) {
  msgpack_pack_array(pk, to - from);
  for (size_t i = from; i < to; i++) mp_pack_cstr(pk, PQgetvalue(res, (int)i, 1));
}

/* Packs the lead_download.leads_listed payloads of ids res[from..n). */
static void pack_chunks(download *d, PGresult *res, size_t from, size_t n) {
  for (size_t i = from; i < n; i = chunk_end(res, i, n)) d->chunks++;
  d->listed_len = pv_xcalloc(d->chunks ? d->chunks : 1, sizeof *d->listed_len);
  size_t i = from;
  for (size_t k = 0; k < d->chunks; k++) {
    size_t to = chunk_end(res, i, n), start = d->listed.len;
    msgpack_packer pk;
    mp_packer_init(&pk, &d->listed);
    msgpack_pack_map(&pk, 4);
    mp_pack_cstr(&pk, "lead_ids");
    pack_ids(&pk, res, i, to);
    mp_pack_cstr(&pk, "offset");
    msgpack_pack_uint64(&pk, i);
    mp_pack_cstr(&pk, "chunk");
    msgpack_pack_uint64(&pk, k + 1);
    mp_pack_cstr(&pk, "chunks");
    msgpack_pack_uint64(&pk, d->chunks);
    d->listed_len[k] = d->listed.len - start;
    i = to;
  }
}

static void download_send(api_op *op) {
  download *d = op->data;
  if (op->cmd.status) {
    http_respond_error(op->req, &op->cmd.error);
    return api_op_free(op);
  }
  http_request *req = op->req;
  char text[40];
  /* the last event's position, as every command answer: waiting on it
   * sees the whole download, chunks included */
  snprintf(text, sizeof text, "%" PRIu64, op->cmd.first_position + op->cmd.event_count - 1);
  http_response_header(req, "Pivotal-Position", text);
  http_response_header(req, "Pivotal-Download-Id", d->download_id);
  http_response_header(req, "Pivotal-Manifest-Hash", d->hash);
  char disposition[160];
  snprintf(disposition, sizeof disposition, "attachment; filename=\"order-%s-leads.csv\"",
           d->order_id);
  http_response_header(req, "Content-Disposition", disposition);
  http_respond_start(req, 200, "text/csv; charset=utf-8", NULL, NULL);
  /* 64 KiB chunks: about one socket buffer; arbitrary */
  for (size_t off = 0; off < d->csv.len; off += 65536) {
    size_t n = d->csv.len - off < 65536 ? d->csv.len - off : 65536;
    http_respond_chunk(req, d->csv.data + off, n);
  }
  http_respond_end(req);
  api_op_free(op);
}

/* Rows: client_id, lead_id (NULL when the order has no published lead),
 * contact_id, campaign_id, email, phone, published_at, answers; sorted by
 * lead id in byte order. */
static void download_rows(http_request *req, PGresult *res, void *ctx) {
  (void)ctx;
  int rows = PQntuples(res);
  if (rows < 1) return cmpl_not_found(req, "order");
  bool none = PQgetisnull(res, 0, 1);
  size_t n = none ? 0 : (size_t)rows;
  if (n > ORDERS_DOWNLOAD_MAX_LEADS)
    return cmpl_fail(req, PV_ETOOBIG, NULL, "an order's download holds at most %d leads",
                     ORDERS_DOWNLOAD_MAX_LEADS);
  const api_principal *ap = api_principal_of(req);
  download *d = pv_xcalloc(1, sizeof *d);
  cmpl_new_id(d->download_id);
  snprintf(d->order_id, sizeof d->order_id, "%s", http_request_param(req, "id"));
  snprintf(d->client_id, sizeof d->client_id, "%s", PQgetvalue(res, 0, 0));
  pv_buf_addstr(&d->csv, "lead_id,contact_id,campaign_id,email,phone,published_at,answers\r\n");
  crypto_generichash_state st;
  crypto_generichash_init(&st, NULL, 0, crypto_generichash_BYTES);
  for (size_t i = 0; i < n; i++) {
    const char *id = PQgetvalue(res, (int)i, 1);
    crypto_generichash_update(&st, (const uint8_t *)id, strlen(id) + 1);
    for (int k = 1; k < 8; k++) {
      if (k > 1) pv_buf_addch(&d->csv, ',');
      cmpl_csv_field(&d->csv, PQgetvalue(res, (int)i, k));
    }
    pv_buf_addstr(&d->csv, "\r\n");
  }
  uint8_t hash[crypto_generichash_BYTES];
  crypto_generichash_final(&st, hash, sizeof hash);
  sodium_bin2hex(d->hash, sizeof d->hash, hash, sizeof hash);
  size_t first = chunk_end(res, 0, n);
  msgpack_packer pk;
  mp_packer_init(&pk, &d->payload);
  msgpack_pack_map(&pk, 7);
  mp_pack_cstr(&pk, "download_id");
  mp_pack_cstr(&pk, d->download_id);
  mp_pack_cstr(&pk, "order_id");
  mp_pack_cstr(&pk, d->order_id);
  mp_pack_cstr(&pk, "client_id");
  mp_pack_cstr(&pk, d->client_id);
  mp_pack_cstr(&pk, "lead_ids");
  pack_ids(&pk, res, 0, first);
  mp_pack_cstr(&pk, "lead_count");
  msgpack_pack_uint64(&pk, n);
  mp_pack_cstr(&pk, "manifest_hash");
  mp_pack_cstr(&pk, d->hash);
  mp_pack_cstr(&pk, "role");
  mp_pack_cstr(&pk, auth_role_name(ap->p.role));
  pack_chunks(d, res, first, n);
  api_op *op = api_op_new(req, ap->p.tenant, ap->actor);
  snprintf(op->entity_id, sizeof op->entity_id, "%s", d->download_id);
  op->data = d;
  op->data_free = download_free;
  op->finish = download_send;
  op->cmd.decide = download_decide;
  op->cmd.arg = d;
  api_op_submit(op);
}

void api_orders_leads_csv(http_request *req) {
  const api_principal *ap = api_principal_of(req);
  const char *values[] = {ap->p.tenant, cmpl_scope(ap), http_request_param(req, "id")};
  cmpl_query(req,
             "SELECT o.client_id, l.lead_id, l.contact_id, l.campaign_id, l.email, l.phone, "
             "to_char(l.published_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
             "l.answers::text FROM rm_orders.orders o LEFT JOIN rm_leads.leads l ON "
             "l.tenant = o.tenant AND l.order_id = o.order_id AND l.status = 'published' "
             "WHERE " ORDER_SCOPE " AND o.order_id = $3 ORDER BY l.lead_id COLLATE \"C\"",
             3, values, download_rows, NULL, false);
}
