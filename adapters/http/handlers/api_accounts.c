/*
 * api_accounts — /api/accounts and /api/custom-fields: create, update
 * (PATCH, a user's edit: source "manual"), upsert by domain (PUT), soft
 * delete and restore, set or clear the parent, and define a custom field.
 * Each is one account command through the writer (core/accounts.h); the
 * industry classifier runs before create and upsert submit, since a decide
 * does no I/O: the built-in rules on the loop, or the configured provider
 * (api_config.enricher) on libuv's thread pool, falling back to the rules
 * when it fails. If-Match guards the commands on an existing
 * account; Idempotency-Key makes a retry answer the first result.
 */
#include "adapters/http/handlers/api_crm.h"

#include "adapters/http/http_metrics.h"
#include "core/common/pv_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct acct_job {
  crm_guard guard;
  crm_acct_body body;
  acct_write_arg w;
  acct_id_arg idarg;
  acct_field_def_arg def;
  const char *options[ACCT_CF_MAX_OPTIONS];
  char id[ENTITY_ID_LEN + 1];
  char field_name[ACCT_CF_NAME_MAX + 1];
  cJSON *json; /* the body the inputs point into */
  int status;  /* of success, when no creation decides it */
  bool upsert;
} acct_job;

static void acct_job_free(void *p) {
  acct_job *j = p;
  cJSON_Delete(j->json);
  free(j);
}

static void fail(http_request *req, pv_error *e, cJSON *body) {
  http_respond_error(req, e);
  cJSON_Delete(body);
}

static void write_finish(api_op *op) {
  acct_job *j = op->data;
  int status = j->status;
  if (op->cmd.status == 0 && !op->cmd.replayed) {
    snprintf(op->entity_id, sizeof op->entity_id, "%s", j->w.out_id);
    if (j->upsert) status = j->w.created ? 201 : 200;
  } else if (op->cmd.replayed && j->upsert) {
    status = op->cmd.stream_version == 1 ? 201 : 200;
  }
  crm_answer(op, "account", status);
}

static void id_finish(api_op *op) { crm_answer(op, "account", 200); }

/* The :id of the route, or answers 404 and returns NULL. */
static const char *path_id(http_request *req) {
  const char *id = http_request_param(req, "id");
  if (entity_id_valid(id)) return id;
  pv_error e = PV_ERROR_INIT;
  pv_error_set(&e, PV_ENOTFOUND, NULL, "no such account");
  http_respond_error(req, &e);
  return NULL;
}

/* Starts the op of job j (guarded by If-Match when id is set); answers and
 * frees j on a bad header. */
static api_op *job_op(http_request *req, acct_job *j, const char *id, writer_decide_fn decide,
                      void *arg, void (*finish)(api_op *)) {
  api_op *op = crm_op(req, &j->guard, "account", id);
  if (!op) {
    acct_job_free(j);
    return NULL;
  }
  j->guard.inner = decide;
  j->guard.inner_arg = arg;
  op->cmd.decide = crm_guard_decide;
  op->cmd.arg = &j->guard;
  op->data = j;
  op->data_free = acct_job_free;
  op->finish = finish;
  return op;
}

/* ---- industry enrichment by a provider, off the loop -------------------- */

/* The provider may block for its timeout, so it runs on libuv's thread
 * pool; the rules answer when it fails (the account is written all the
 * same: enrichment is best effort) or cannot tell. The counters say how
 * often the provider was asked and how often it failed. */
/* Provider lookups in flight at once: half of libuv's default pool of 4
 * threads, which contact batches' normalization and file reads share. Past
 * it the rules answer at once, so a stalled provider delays a few account
 * writes by its timeout and nothing else. */
#define API_ENRICH_MAX_IN_FLIGHT 2

typedef struct enrich_work {
  uv_work_t work;
  api_op *op;
  const acct_enricher *provider;
  int rc;
  pv_error err;
} enrich_work;

static void enrich_run(uv_work_t *w) {
  enrich_work *ew = w->data;
  acct_job *j = ew->op->data;
  ew->rc = acct_enrich(ew->provider, &j->body.in, j->body.description, j->body.industry,
                       sizeof j->body.industry, &ew->err);
}

/* Rules where the provider gave nothing, then submits (on the loop). */
static void enrich_submit(api_op *op, bool provider_failed) {
  acct_job *j = op->data;
  if (provider_failed)
    http_metric_add(http_metric_counter("pivotal_enrichment_provider_failures_total",
                                        "Provider lookups that failed; the rules answered."),
                    1);
  if (!j->body.in.industry)
    acct_enrich(acct_enricher_rules(), &j->body.in, j->body.description, j->body.industry,
                sizeof j->body.industry, NULL);
  j->w.in = j->body.in;
  api_op_submit(op);
}

static void enrich_done(uv_work_t *w, int status) {
  enrich_work *ew = w->data;
  api_op *op = ew->op;
  bool failed = status != 0 || ew->rc != 0;
  free(ew);
  op->app->enrich_in_flight--;
  enrich_submit(op, failed);
}

/* Queues the provider's lookup for op; submits with the rules when the
 * pool refuses it. */
static void enrich_queue(api_op *op, const acct_enricher *provider) {
  http_metric_add(http_metric_counter("pivotal_enrichment_provider_lookups_total",
                                      "Account industry lookups sent to the provider."),
                  1);
  enrich_work *ew = pv_xcalloc(1, sizeof *ew);
  ew->work.data = ew;
  ew->op = op;
  ew->provider = provider;
  if (uv_queue_work(http_request_loop(op->req), &ew->work, enrich_run, enrich_done) != 0) {
    free(ew);
    enrich_submit(op, true);
    return;
  }
  op->app->enrich_in_flight++;
}

/* create, PATCH and upsert: the body into j->w, classified when asked: by
 * the configured provider off the loop when there is a domain to look up,
 * else by the rules here. */
static void write_route(http_request *req, const char *id, const char *source_default,
                        bool enrich, writer_decide_fn decide, int status, bool upsert) {
  cJSON *body;
  if (crm_object_body(req, &body)) return;
  pv_error e = PV_ERROR_INIT;
  acct_job *j = pv_xcalloc(1, sizeof *j);
  int rc = crm_acct_input(body, source_default, &j->body, &e);
  if (rc == 0 && upsert && !(j->body.in.domain && j->body.in.domain[0]))
    rc = pv_error_set(&e, PV_EINVAL, "/domain", "an upsert needs the domain");
  const api *a = http_request_app(req);
  const acct_enricher *provider =
      enrich && !j->body.in.industry && j->body.in.domain && j->body.in.domain[0]
          ? a->cfg.enricher
          : NULL;
  if (provider && a->enrich_in_flight >= API_ENRICH_MAX_IN_FLIGHT) {
    http_metric_add(http_metric_counter("pivotal_enrichment_provider_skipped_total",
                                        "Lookups the rules answered because the provider "
                                        "already had its most in flight."),
                    1);
    provider = NULL;
  }
  if (rc == 0 && enrich && !provider)
    rc = acct_enrich(acct_enricher_rules(), &j->body.in, j->body.description, j->body.industry,
                     sizeof j->body.industry, &e);
  if (rc) {
    free(j);
    return fail(req, &e, body);
  }
  j->json = body;
  j->w.in = j->body.in;
  if (id) {
    snprintf(j->id, sizeof j->id, "%s", id);
    j->w.id = j->id;
  }
  j->status = status;
  j->upsert = upsert;
  api_op *op = job_op(req, j, id, decide, &j->w, write_finish);
  if (!op) return;
  if (provider) enrich_queue(op, provider);
  else api_op_submit(op);
}

void api_accounts_create(http_request *req) {
  write_route(req, NULL, CRM_SOURCE_API, true, acct_create_decide, 201, false);
}

void api_accounts_upsert(http_request *req) {
  write_route(req, NULL, CRM_SOURCE_API, true, acct_upsert_decide, 200, true);
}

void api_accounts_update(http_request *req) {
  const char *id = path_id(req);
  if (id) write_route(req, id, CRM_SOURCE_MANUAL, false, acct_update_decide, 200, false);
}

static void id_route(http_request *req, writer_decide_fn decide) {
  const char *id = path_id(req);
  if (!id) return;
  acct_job *j = pv_xcalloc(1, sizeof *j);
  snprintf(j->id, sizeof j->id, "%s", id);
  j->idarg.id = j->id;
  api_op *op = job_op(req, j, id, decide, &j->idarg, id_finish);
  if (op) api_op_submit(op);
}

void api_accounts_delete(http_request *req) { id_route(req, acct_delete_decide); }
void api_accounts_restore(http_request *req) { id_route(req, acct_restore_decide); }

void api_accounts_parent(http_request *req) {
  const char *id = path_id(req);
  if (!id) return;
  cJSON *body;
  if (crm_object_body(req, &body)) return;
  pv_error e = PV_ERROR_INIT;
  const cJSON *p = cJSON_GetObjectItemCaseSensitive(body, "parent_id");
  if (!p || !(cJSON_IsNull(p) || cJSON_IsString(p))) {
    pv_error_set(&e, p ? PV_EBADTYPE : PV_EINVAL, "/parent_id",
                 "\"parent_id\" must be an account id, or null to clear it");
    return fail(req, &e, body);
  }
  for (const cJSON *m = body->child; m; m = m->next)
    if (strcmp(m->string, "parent_id") != 0) {
      char f[128];
      snprintf(f, sizeof f, "/%s", m->string);
      pv_error_set(&e, PV_EINVAL, f, "unknown field \"%s\"", m->string);
      return fail(req, &e, body);
    }
  acct_job *j = pv_xcalloc(1, sizeof *j);
  j->json = body;
  snprintf(j->id, sizeof j->id, "%s", id);
  j->w.id = j->id;
  j->w.in.parent_id = cJSON_IsString(p) ? p->valuestring : "";
  j->w.in.source = CRM_SOURCE_MANUAL;
  j->w.in.observed_at_us = (int64_t)pv_wall_us();
  j->status = 200;
  api_op *op = job_op(req, j, id, acct_update_decide, &j->w, write_finish);
  if (op) api_op_submit(op);
}

/* The definition's answer: id is the field's name (the stream is the
 * tenant's "custom_fields-account"), 201 when written. */
static void define_finish(api_op *op) {
  acct_job *j = op->data;
  uint64_t noop = op->cmd.status == 0 && op->cmd.event_count == 0
                      ? crm_stream_version(op->app, op->tenant, "custom_fields-account")
                      : 0;
  if (op->cmd.replayed) {
    http_response_header(op->req, "Idempotent-Replayed", "true");
    op->cmd.replayed = false; /* keep the field's name as the id */
  }
  snprintf(op->entity_id, sizeof op->entity_id, "%s", j->field_name);
  api_op_answer(op, op->cmd.event_count ? 201 : 200, noop);
}

void api_custom_fields_define(http_request *req) {
  cJSON *body;
  if (crm_object_body(req, &body)) return;
  pv_error e = PV_ERROR_INIT;
  const char *name = NULL, *type = NULL, *entity = NULL;
  int rc;
  if ((rc = http_json_string(body, "name", true, &name, &e)) ||
      (rc = http_json_string(body, "type", true, &type, &e)) ||
      (rc = http_json_string(body, "entity", false, &entity, &e)))
    return fail(req, &e, body);
  if (entity && strcmp(entity, "account") != 0) {
    pv_error_set(&e, PV_EINVAL, "/entity", "custom fields are defined on \"account\"");
    return fail(req, &e, body);
  }
  int t = acct_cf_type_by_name(type);
  if (t < 0) {
    pv_error_set(&e, PV_EINVAL, "/type", "unknown type \"%s\"", type);
    pv_error_hint(&e, "One of text, number, date, boolean, select.");
    return fail(req, &e, body);
  }
  if (strlen(name) > ACCT_CF_NAME_MAX) {
    pv_error_set(&e, PV_EINVAL, "/name", "at most %d bytes", ACCT_CF_NAME_MAX);
    return fail(req, &e, body);
  }
  acct_job *j = pv_xcalloc(1, sizeof *j);
  const cJSON *opts = cJSON_GetObjectItemCaseSensitive(body, "options");
  size_t n = 0;
  if (opts && !cJSON_IsArray(opts)) {
    rc = pv_error_set(&e, PV_EBADTYPE, "/options", "\"options\" must be an array of strings");
  } else if (opts) {
    for (const cJSON *o = opts->child; o && rc == 0; o = o->next, n++) {
      char f[48];
      snprintf(f, sizeof f, "/options/%zu", n);
      if (n >= ACCT_CF_MAX_OPTIONS)
        rc = pv_error_set(&e, PV_EINVAL, "/options", "at most %d options", ACCT_CF_MAX_OPTIONS);
      else if (!cJSON_IsString(o))
        rc = pv_error_set(&e, PV_EBADTYPE, f, "an option is a string");
      else
        j->options[n] = o->valuestring;
    }
  }
  if (rc) {
    free(j);
    return fail(req, &e, body);
  }
  j->json = body;
  snprintf(j->field_name, sizeof j->field_name, "%s", name);
  j->def = (acct_field_def_arg){j->field_name, (acct_cf_type)t, j->options, n};
  api_op *op = job_op(req, j, NULL, acct_define_field_decide, &j->def, define_finish);
  if (op) api_op_submit(op);
}
