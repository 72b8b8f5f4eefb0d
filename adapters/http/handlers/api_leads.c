/*
 * api_leads — lead QA over HTTP (core/leads.h):
 *   POST /api/leads                       create (the server makes the id)
 *   GET  /api/leads                       list from the leads read model
 *   GET  /api/leads/:id                   one lead from the read model
 *   POST /api/leads/:id/actions/:action   start_review, assign, check,
 *                                         approve, reject, reopen, publish
 *   POST /api/leads/bulk                  approve / reject many, per-lead results
 *   POST /api/campaigns/:id/qa-checklist  the campaign's checklist
 * A client user reads only its own client's published leads; any other id
 * answers as a missing one. Client users never act on leads (route roles).
 *
 * The contact's email and phone for lead.created are read by the write
 * side from the contact's stream (lead_create.from_contact): they are what
 * the approval's suppression check reads and what the client will receive,
 * so a request cannot set them (email, phone or default_region in the body
 * is a 400 naming the field).
 */
#include "adapters/http/handlers/api_cmpl.h"
#include "core/common/pv_time.h"
#include "core/leads.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Leads one bulk request may name. Arbitrary: a review screen's worth. */
#define LEADS_BULK_MAX 1000

typedef struct lead_job {
  union {
    lead_create create;
    lead_act act;
    lead_checklist_define checklist;
  } cmd;
  cJSON *body;
  char id[64];
  lead_answer *answers;
  const char **items;
} lead_job;

static void lead_job_free(void *p) {
  lead_job *j = p;
  cJSON_Delete(j->body);
  free(j->answers);
  free(j->items);
  free(j);
}

static api_op *lead_op(http_request *req, lead_job *j, void (*finish)(api_op *)) {
  const api_principal *ap = api_principal_of(req);
  api_op *op = api_op_new(req, ap->p.tenant, ap->actor);
  snprintf(op->entity_id, sizeof op->entity_id, "%s", j->id);
  op->data = j;
  op->data_free = lead_job_free;
  op->finish = finish;
  return op;
}

static void fail_op(api_op *op, const pv_error *e) {
  http_respond_error(op->req, e);
  api_op_free(op);
}

static void created_finish(api_op *op) {
  if (op->cmd.status == 0) {
    char location[96];
    snprintf(location, sizeof location, "/api/leads/%s", op->entity_id);
    http_response_header(op->req, "Location", location);
  }
  api_op_answer(op, 201, 0);
}

void api_leads_create(http_request *req) {
  cJSON *body;
  if (cmpl_object_body(req, &body)) return;
  lead_job *j = pv_xcalloc(1, sizeof *j);
  j->body = body;
  pv_error e = PV_ERROR_INIT;
  const char *contact = NULL, *campaign = NULL, *order = NULL, *email = NULL, *phone = NULL,
             *region = NULL;
  int rc;
  if ((rc = http_json_string(body, "contact_id", true, &contact, &e)) ||
      (rc = http_json_string(body, "campaign_id", true, &campaign, &e)) ||
      (rc = http_json_string(body, "order_id", false, &order, &e)) ||
      (rc = http_json_string(body, "email", false, &email, &e)) ||
      (rc = http_json_string(body, "phone", false, &phone, &e)) ||
      (rc = http_json_string(body, "default_region", false, &region, &e)))
    goto fail;
  const cJSON *answers = cJSON_GetObjectItemCaseSensitive(body, "answers");
  size_t n = 0;
  if (answers && !cJSON_IsObject(answers)) {
    rc = pv_error_set(&e, PV_EBADTYPE, "/answers",
                      "answers must be an object, question → answer");
    goto fail;
  }
  if (answers) {
    j->answers = pv_xcalloc((size_t)cJSON_GetArraySize(answers) + 1, sizeof *j->answers);
    for (const cJSON *m = answers->child; m; m = m->next) {
      if (!cJSON_IsString(m)) {
        rc = pv_error_set(&e, PV_EBADTYPE, "/answers", "every answer must be a string");
        goto fail;
      }
      j->answers[n++] = (lead_answer){m->string, m->valuestring};
    }
  }
  cmpl_new_id(j->id);
  const api_principal *ap = api_principal_of(req);
  j->cmd.create = (lead_create){.by = cmpl_actor(ap), .lead_id = j->id, .contact_id = contact,
                                .campaign_id = campaign, .order_id = order,
                                .from_contact = true, .email = email, .phone = phone,
                                .default_region = region,
                                .answers = j->answers, .answer_count = n};
  api_op *op = lead_op(req, j, created_finish);
  if ((rc = api_op_idempotency(op, &e)) ||
      (rc = lead_create_bind(&j->cmd.create, &op->cmd, &e)))
    return fail_op(op, &e);
  return api_op_submit(op);
fail:
  http_respond_error(req, &e);
  lead_job_free(j);
}

static void act_finish(api_op *op) {
  lead_job *j = op->data;
  writer_cmd *c = &op->cmd;
  if (c->status) return fail_op(op, &c->error);
  uint64_t position = c->first_position ? c->first_position + c->event_count - 1
                                        : log_head(op->app->log);
  char text[32];
  snprintf(text, sizeof text, "%" PRIu64, position);
  http_response_header(op->req, "Pivotal-Position", text);
  cJSON *out = cJSON_CreateObject();
  cJSON_AddStringToObject(out, "id", j->id);
  if (j->cmd.act.to != LEAD_NONE)
    cJSON_AddStringToObject(out, "status", lead_status_name(j->cmd.act.to));
  cJSON_AddBoolToObject(out, "flagged", j->cmd.act.flagged);
  cJSON_AddNumberToObject(out, "position", (double)position);
  http_respond_json(op->req, 200, out);
  api_op_free(op);
}

void api_leads_act(http_request *req) {
  cJSON *body;
  if (cmpl_object_body(req, &body)) return;
  lead_job *j = pv_xcalloc(1, sizeof *j);
  j->body = body;
  pv_error e = PV_ERROR_INIT;
  api *a = http_request_app(req);
  lead_action action;
  const char *reviewer = NULL, *item = NULL, *reason_code = NULL, *reason = NULL, *note = NULL,
             *extra_email = NULL, *extra_phone = NULL;
  bool checked = true;
  const char *id = http_request_param(req, "id");
  int rc;
  if ((rc = lead_action_parse(http_request_param(req, "action"), &action, &e))) {
    snprintf(e.field, sizeof e.field, "/action");
    goto fail;
  }
  if ((rc = http_json_string(body, "reviewer", false, &reviewer, &e)) ||
      (rc = http_json_string(body, "item", false, &item, &e)) ||
      (rc = http_json_bool(body, "checked", false, &checked, &e)) ||
      (rc = http_json_string(body, "reason_code", false, &reason_code, &e)) ||
      (rc = http_json_string(body, "reason", false, &reason, &e)) ||
      (rc = http_json_string(body, "note", false, &note, &e)) ||
      (rc = http_json_string(body, "extra_email", false, &extra_email, &e)) ||
      (rc = http_json_string(body, "extra_phone", false, &extra_phone, &e)))
    goto fail;
  if (strlen(id) >= sizeof j->id) {
    rc = pv_error_set(&e, PV_ENOTFOUND, NULL, "no such lead");
    goto fail;
  }
  snprintf(j->id, sizeof j->id, "%s", id);
  const api_principal *ap = api_principal_of(req);
  j->cmd.act = (lead_act){.by = cmpl_actor(ap), .lead_id = j->id, .action = action,
                          .reviewer = reviewer, .item = item, .checked = checked,
                          .reason_code = reason_code, .reason = reason, .note = note,
                          .extra_email = extra_email, .extra_phone = extra_phone,
                          .default_region = a->phone_region};
  api_op *op = lead_op(req, j, act_finish);
  if ((rc = api_op_idempotency(op, &e)) || (rc = lead_act_bind(&j->cmd.act, &op->cmd, &e)))
    return fail_op(op, &e);
  return api_op_submit(op);
fail:
  http_respond_error(req, &e);
  lead_job_free(j);
}

/* ---- bulk ------------------------------------------------------------- */

typedef struct bulk_job {
  http_request *req;
  api *app;
  cJSON *body;
  lead_bulk b;
  char tenant[AUTH_ID_MAX], actor[AUTH_ID_MAX + 8], client_id[AUTH_ID_MAX];
  char prefix[96];
  const char **ids;
  size_t n;
  lead_result *out;
  int rc;
  pv_error err;
  uv_work_t work;
} bulk_job;

static void bulk_free(bulk_job *j) {
  cJSON_Delete(j->body);
  free(j->ids);
  free(j->out);
  free(j);
}

static void bulk_work(uv_work_t *w) {
  bulk_job *j = w->data;
  j->rc = lead_bulk_run(j->app->writer, &j->b, j->ids, j->n, j->out, &j->err);
}

static void bulk_done(uv_work_t *w, int status) {
  (void)status;
  bulk_job *j = w->data;
  if (j->rc) {
    http_respond_error(j->req, &j->err);
    return bulk_free(j);
  }
  cJSON *out = cJSON_CreateObject();
  cJSON *results = cJSON_AddArrayToObject(out, "results");
  size_t ok = 0;
  for (size_t i = 0; i < j->n; i++) {
    const lead_result *r = &j->out[i];
    cJSON *it = cJSON_CreateObject();
    cJSON_AddStringToObject(it, "id", j->ids[i]);
    cJSON_AddBoolToObject(it, "ok", r->status == 0);
    if (r->status == 0) {
      ok++;
      if (r->to != LEAD_NONE) cJSON_AddStringToObject(it, "status", lead_status_name(r->to));
      cJSON_AddBoolToObject(it, "flagged", r->flagged);
      cJSON_AddNumberToObject(it, "position", (double)r->position);
    } else {
      cJSON_AddStringToObject(it, "code", pv_err_name(r->status));
      cJSON_AddNumberToObject(it, "http_status", pv_http_status(r->status));
      if (r->field[0]) cJSON_AddStringToObject(it, "field", r->field);
      cJSON_AddStringToObject(it, "message", r->message);
    }
    cJSON_AddItemToArray(results, it);
  }
  cJSON_AddNumberToObject(out, "succeeded", (double)ok);
  cJSON_AddNumberToObject(out, "failed", (double)(j->n - ok));
  http_respond_json(j->req, 200, out);
  bulk_free(j);
}

void api_leads_bulk(http_request *req) {
  cJSON *body;
  if (cmpl_object_body(req, &body)) return;
  bulk_job *j = pv_xcalloc(1, sizeof *j);
  j->req = req;
  j->app = http_request_app(req);
  j->body = body;
  const api_principal *ap = api_principal_of(req);
  pv_error e = PV_ERROR_INIT;
  const char *action_name = NULL, *reason_code = NULL, *note = NULL;
  lead_action action;
  int rc;
  if ((rc = http_json_string(body, "action", true, &action_name, &e)) ||
      (rc = http_json_string(body, "reason_code", false, &reason_code, &e)) ||
      (rc = http_json_string(body, "note", false, &note, &e)))
    goto fail;
  if ((rc = lead_action_parse(action_name, &action, &e)) ||
      (action != LEAD_ACT_APPROVE && action != LEAD_ACT_REJECT &&
       (rc = pv_error_set(&e, PV_EINVAL, "/action", "bulk takes approve or reject")))) {
    snprintf(e.field, sizeof e.field, "/action");
    goto fail;
  }
  const cJSON *ids = cJSON_GetObjectItemCaseSensitive(body, "lead_ids");
  if (!cJSON_IsArray(ids) || cJSON_GetArraySize(ids) < 1 ||
      cJSON_GetArraySize(ids) > LEADS_BULK_MAX) {
    rc = pv_error_set(&e, PV_EINVAL, "/lead_ids", "lead_ids must be 1 to %d lead ids",
                      LEADS_BULK_MAX);
    goto fail;
  }
  j->ids = pv_xcalloc((size_t)cJSON_GetArraySize(ids), sizeof *j->ids);
  for (const cJSON *v = ids->child; v; v = v->next) {
    if (!cJSON_IsString(v)) {
      rc = pv_error_set(&e, PV_EBADTYPE, "/lead_ids", "every lead id must be a string");
      goto fail;
    }
    j->ids[j->n++] = v->valuestring;
  }
  snprintf(j->tenant, sizeof j->tenant, "%s", ap->p.tenant);
  snprintf(j->actor, sizeof j->actor, "%s", ap->actor);
  snprintf(j->client_id, sizeof j->client_id, "%s", ap->p.client_id);
  const char *key = http_request_header(req, "Idempotency-Key");
  if (key) {
    if (strlen(key) > 40) {
      rc = pv_error_set(&e, PV_EINVAL, "/headers/idempotency-key", "invalid Idempotency-Key");
      goto fail;
    }
    snprintf(j->prefix, sizeof j->prefix, "u:%.40s:%s", ap->p.user_id, key);
  }
  j->b = (lead_bulk){.tenant = j->tenant, .actor = j->actor,
                     .correlation_id = http_request_id(req),
                     .by = {.role = (uint32_t)ap->p.role, .client_id = j->client_id},
                     .action = action, .reason_code = reason_code, .note = note,
                     .idempotency_prefix = key ? j->prefix : NULL};
  j->out = pv_xcalloc(j->n, sizeof *j->out);
  j->work.data = j;
  if (uv_queue_work(http_request_loop(req), &j->work, bulk_work, bulk_done) != 0) {
    rc = pv_error_set(&e, PV_EBUSY, NULL, "could not start the bulk action");
    goto fail;
  }
  return;
fail:
  http_respond_error(req, &e);
  bulk_free(j);
}

/* ---- checklist ---------------------------------------------------------- */

void api_campaign_checklist(http_request *req) {
  cJSON *body;
  if (cmpl_object_body(req, &body)) return;
  lead_job *j = pv_xcalloc(1, sizeof *j);
  j->body = body;
  pv_error e = PV_ERROR_INIT;
  int rc;
  const cJSON *items = cJSON_GetObjectItemCaseSensitive(body, "items");
  if (!cJSON_IsArray(items)) {
    rc = pv_error_set(&e, PV_EINVAL, "/items", "items must be an array of item names");
    goto fail;
  }
  size_t n = 0;
  j->items = pv_xcalloc((size_t)cJSON_GetArraySize(items) + 1, sizeof *j->items);
  for (const cJSON *v = items->child; v; v = v->next) {
    if (!cJSON_IsString(v)) {
      rc = pv_error_set(&e, PV_EBADTYPE, "/items", "every item must be a string");
      goto fail;
    }
    j->items[n++] = v->valuestring;
  }
  const char *campaign = http_request_param(req, "id");
  if (strlen(campaign) >= sizeof j->id) {
    rc = pv_error_set(&e, PV_EINVAL, "/id", "campaign id too long");
    goto fail;
  }
  snprintf(j->id, sizeof j->id, "%s", campaign);
  const api_principal *ap = api_principal_of(req);
  j->cmd.checklist = (lead_checklist_define){.by = cmpl_actor(ap), .campaign_id = j->id,
                                             .items = j->items, .item_count = n};
  api_op *op = lead_op(req, j, created_finish);
  op->finish = act_finish;
  if ((rc = api_op_idempotency(op, &e)) ||
      (rc = lead_checklist_define_bind(&j->cmd.checklist, &op->cmd, &e)))
    return fail_op(op, &e);
  return api_op_submit(op);
fail:
  http_respond_error(req, &e);
  lead_job_free(j);
}

/* ---- the read model ----------------------------------------------------- */

#define LEAD_JSON                                                                        \
  "json_build_object('id', lead_id, 'contact_id', contact_id, 'campaign_id', campaign_id, " \
  "'order_id', NULLIF(order_id, ''), 'client_id', NULLIF(client_id, ''), 'email', "      \
  "NULLIF(email, ''), 'email_domain', NULLIF(email_domain, ''), 'phone', "              \
  "NULLIF(phone, ''), 'status', status, 'reviewer', NULLIF(reviewer, ''), 'flags', "    \
  "flags, 'reject_reason', NULLIF(reject_reason, ''), 'answers', answers, "            \
  "'created_at', created_at, 'review_started_at', review_started_at, 'approved_at', "   \
  "approved_at, 'rejected_at', rejected_at, 'reopened_at', reopened_at, "               \
  "'published_at', published_at, 'updated_at', updated_at, 'version', version)::text"

/* $1 tenant, $2 client scope ('' = staff: every lead; else that client's
 * published leads only). */
#define LEAD_SCOPE "tenant = $1 AND ($2 = '' OR (client_id = $2 AND status = 'published'))"

static void one_lead(http_request *req, PGresult *res, void *ctx) {
  (void)ctx;
  cmpl_one(req, res, "lead");
}

void api_leads_get(http_request *req) {
  const api_principal *ap = api_principal_of(req);
  const char *values[] = {ap->p.tenant, cmpl_scope(ap), http_request_param(req, "id")};
  cmpl_query(req, "SELECT " LEAD_JSON " FROM rm_leads.leads WHERE " LEAD_SCOPE
             " AND lead_id = $3", 3, values, one_lead, NULL, false);
}

static void lead_page(http_request *req, PGresult *res, void *ctx) {
  cmpl_page(req, res, *(int *)ctx);
}

void api_leads_list(http_request *req) {
  const api_principal *ap = api_principal_of(req);
  char status[16] = "", campaign[64] = "", order[64] = "", reviewer[64] = "", cursor[64] = "";
  char after[40] = "", before[40] = "", limit_text[16];
  int limit;
  if (cmpl_query_param(req, "status", status, sizeof status) < 0 ||
      cmpl_query_param(req, "campaign_id", campaign, sizeof campaign) < 0 ||
      cmpl_query_param(req, "order_id", order, sizeof order) < 0 ||
      cmpl_query_param(req, "reviewer", reviewer, sizeof reviewer) < 0 ||
      cmpl_query_param(req, "created_after", after, sizeof after) < 0 ||
      cmpl_query_param(req, "created_before", before, sizeof before) < 0 ||
      cmpl_query_param(req, "cursor", cursor, sizeof cursor) < 0 || cmpl_limit(req, &limit) < 0)
    return;
  if (status[0]) {
    bool known = false;
#define LEAD__XX(NAME, name) known = known || strcmp(status, name) == 0;
    LEAD_STATUS_MAP(LEAD__XX)
#undef LEAD__XX
    if (!known) return cmpl_fail(req, PV_EINVAL, "/query/status", "unknown status");
  }
  /* parsed here, and sent to PostgreSQL in one canonical form: a time it
   * would refuse must be a 400 naming the parameter, not a 500 */
  int64_t after_us, before_us;
  if (after[0] && !pv_parse_rfc3339_us(after, &after_us))
    return cmpl_fail(req, PV_EINVAL, "/query/created_after", "not an RFC 3339 time");
  if (before[0] && !pv_parse_rfc3339_us(before, &before_us))
    return cmpl_fail(req, PV_EINVAL, "/query/created_before", "not an RFC 3339 time");
  if (after[0]) pv_format_rfc3339_us(after_us, after);
  if (before[0]) pv_format_rfc3339_us(before_us, before);
  snprintf(limit_text, sizeof limit_text, "%d", limit + 1);
  const char *values[] = {ap->p.tenant, cmpl_scope(ap), status, campaign, order, reviewer,
                          after[0] ? after : "-infinity", before[0] ? before : "infinity",
                          cursor, limit_text};
  int *ctx = pv_xmalloc(sizeof *ctx);
  *ctx = limit;
  cmpl_query(req,
             "SELECT " LEAD_JSON ", lead_id FROM rm_leads.leads WHERE " LEAD_SCOPE
             " AND ($3 = '' OR status = $3) AND ($4 = '' OR campaign_id = $4) AND "
             "($5 = '' OR order_id = $5) AND ($6 = '' OR reviewer = $6) AND "
             "created_at >= $7::timestamptz AND created_at < $8::timestamptz AND "
             "($9 = '' OR lead_id COLLATE \"C\" < $9) "
             "ORDER BY lead_id COLLATE \"C\" DESC LIMIT $10::int",
             10, values, lead_page, ctx, true);
}
