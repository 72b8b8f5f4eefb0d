/*
 * api_crm — the helpers the account, contact and bulk routes share (see
 * api_crm.h): JSON into aggregate inputs, the If-Match guard, the answer.
 */
#include "adapters/http/handlers/api_crm.h"

#include "core/common/pv_time.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int crm_object_body(http_request *req, cJSON **body) {
  pv_error e = PV_ERROR_INIT;
  *body = NULL;
  int rc = http_request_json(req, body, &e);
  if (rc == 0 && !cJSON_IsObject(*body))
    rc = pv_error_set(&e, PV_EBADTYPE, "", "the body must be a JSON object");
  if (rc) {
    http_respond_error(req, &e);
    cJSON_Delete(*body);
    *body = NULL;
  }
  return rc;
}

void crm_error_prefix(pv_error *err, const char *prefix) {
  char f[sizeof err->field];
  snprintf(f, sizeof f, "%s%s", prefix, err->field);
  snprintf(err->field, sizeof err->field, "%s", f);
}

int crm_parse_time(const cJSON *v, const char *field, int64_t *us, pv_error *err) {
  if (cJSON_IsNumber(v) && v->valuedouble > 0 && v->valuedouble < 9.0e15 &&
      v->valuedouble == floor(v->valuedouble)) {
    *us = (int64_t)v->valuedouble;
    return 0;
  }
  if (cJSON_IsString(v) && pv_parse_rfc3339_us(v->valuestring, us) && *us > 0) return 0;
  pv_error_set(err, PV_EINVAL, field, "not a time");
  pv_error_hint(err, "Send an RFC 3339 time such as \"2026-11-26T09:00:00Z\", or "
                     "microseconds since the epoch.");
  return PV_EINVAL;
}

static int64_t now_us(void) { return (int64_t)pv_wall_us(); }

static int unknown_member(const cJSON *m, const char *hint, pv_error *err) {
  char field[128];
  snprintf(field, sizeof field, "/%s", m->string);
  pv_error_set(err, PV_EINVAL, field, "unknown field \"%s\"", m->string);
  pv_error_hint(err, "%s", hint);
  return PV_EINVAL;
}

/* A string member, or null as "" (a clear); absent leaves *out NULL. */
static int str_or_null(const cJSON *m, const char **out, pv_error *err) {
  if (cJSON_IsNull(m)) *out = "";
  else if (cJSON_IsString(m)) *out = m->valuestring;
  else {
    char field[128];
    snprintf(field, sizeof field, "/%s", m->string);
    return pv_error_set(err, PV_EBADTYPE, field, "\"%s\" must be a string or null", m->string);
  }
  return 0;
}

/* Source and observed_at of a write; source_default "manual" forces it. */
static int provenance(const cJSON *obj, const char *source_default, const char **source,
                      int64_t *observed, pv_error *err) {
  const cJSON *s = cJSON_GetObjectItemCaseSensitive(obj, "source");
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(obj, "observed_at");
  *source = source_default;
  if (s && strcmp(source_default, CRM_SOURCE_MANUAL) != 0) {
    if (!cJSON_IsString(s))
      return pv_error_set(err, PV_EBADTYPE, "/source", "\"source\" must be a string");
    *source = s->valuestring;
  }
  int rc = surv_source_check(*source, "/source", err);
  if (rc) return rc;
  *observed = now_us();
  return t ? crm_parse_time(t, "/observed_at", observed, err) : 0;
}

static const char *const contact_members[] = {
    "email", "first_name", "last_name", "title", "phone", "country", "city", "linkedin_url",
    "account_id", "ext_ids", "source", "observed_at"};

int crm_contact_input(const cJSON *obj, const char *source_default, contact_input *in,
                      contact_ext_id *ext_ids, pv_error *err) {
  memset(in, 0, sizeof *in);
  if (!cJSON_IsObject(obj)) return pv_error_set(err, PV_EBADTYPE, "", "a contact is an object");
  const char **slots[] = {&in->email,   &in->first_name, &in->last_name,   &in->title,
                          &in->phone,   &in->country,    &in->city,        &in->linkedin_url,
                          &in->account_id};
  int rc;
  for (const cJSON *m = obj->child; m; m = m->next) {
    size_t k = 0, n = sizeof contact_members / sizeof contact_members[0];
    while (k < n && strcmp(m->string, contact_members[k]) != 0) k++;
    if (k == n)
      return unknown_member(m, "A contact has email, first_name, last_name, title, phone, "
                               "country, city, linkedin_url, account_id, ext_ids, source "
                               "and observed_at.", err);
    if (k < sizeof slots / sizeof slots[0]) {
      if ((rc = str_or_null(m, slots[k], err))) return rc;
    } else if (strcmp(m->string, "ext_ids") == 0) {
      if (!cJSON_IsArray(m))
        return pv_error_set(err, PV_EBADTYPE, "/ext_ids", "\"ext_ids\" must be an array");
      size_t i = 0;
      for (const cJSON *x = m->child; x; x = x->next, i++) {
        char f[64];
        if (i >= CONTACT_MAX_EXT_IDS)
          return pv_error_set(err, PV_EINVAL, "/ext_ids", "at most %d external ids",
                              CONTACT_MAX_EXT_IDS);
        const char *src = NULL, *id = NULL;
        if ((rc = http_json_string(x, "source", true, &src, err)) ||
            (rc = http_json_string(x, "id", true, &id, err))) {
          snprintf(f, sizeof f, "/ext_ids/%zu", i);
          crm_error_prefix(err, f);
          return rc;
        }
        ext_ids[i] = (contact_ext_id){src, id};
      }
      in->ext_ids = ext_ids;
      in->ext_id_count = i;
    }
  }
  return provenance(obj, source_default, &in->source, &in->observed_at_us, err);
}

static const char *const acct_members[] = {
    "name", "domain", "parent_id", "industry", "sic_code", "naics_code", "country",
    "alternate_domains", "custom_fields", "description", "source", "observed_at"};

static int custom_values(const cJSON *m, crm_acct_body *b, pv_error *err) {
  if (!cJSON_IsObject(m))
    return pv_error_set(err, PV_EBADTYPE, "/custom_fields", "\"custom_fields\" must be an object");
  size_t n = 0;
  for (const cJSON *v = m->child; v; v = v->next) {
    char f[128];
    snprintf(f, sizeof f, "/custom_fields/%s", v->string);
    if (n >= ACCT_MAX_CUSTOM)
      return pv_error_set(err, PV_EINVAL, "/custom_fields", "at most %d custom values",
                          ACCT_MAX_CUSTOM);
    acct_custom_value *c = &b->custom[n++];
    *c = (acct_custom_value){.name = v->string};
    if (cJSON_IsNull(v)) c->type = SURV_NIL;
    else if (cJSON_IsString(v)) c->type = SURV_STR, c->str = v->valuestring;
    else if (cJSON_IsNumber(v)) c->type = SURV_NUM, c->num = v->valuedouble;
    else if (cJSON_IsBool(v)) c->type = SURV_BOOL, c->b = cJSON_IsTrue(v);
    else return pv_error_set(err, PV_EBADTYPE, f, "a custom value is a string, number, boolean or null");
  }
  b->in.custom = b->custom;
  b->in.custom_count = n;
  return 0;
}

int crm_acct_input(const cJSON *obj, const char *source_default, crm_acct_body *b,
                   pv_error *err) {
  memset(b, 0, sizeof *b);
  acct_input *in = &b->in;
  const char **slots[] = {&in->name,     &in->domain,     &in->parent_id, &in->industry,
                          &in->sic_code, &in->naics_code, &in->country};
  int rc;
  for (const cJSON *m = obj->child; m; m = m->next) {
    size_t k = 0, n = sizeof acct_members / sizeof acct_members[0];
    while (k < n && strcmp(m->string, acct_members[k]) != 0) k++;
    if (k == n)
      return unknown_member(m, "An account has name, domain, alternate_domains, parent_id, "
                               "industry, sic_code, naics_code, country, custom_fields, "
                               "description, source and observed_at.", err);
    if (k < sizeof slots / sizeof slots[0]) {
      if ((rc = str_or_null(m, slots[k], err))) return rc;
    } else if (strcmp(m->string, "alternate_domains") == 0) {
      if (!cJSON_IsArray(m))
        return pv_error_set(err, PV_EBADTYPE, "/alternate_domains",
                            "\"alternate_domains\" must be an array");
      size_t i = 0;
      for (const cJSON *x = m->child; x; x = x->next, i++) {
        if (i >= ACCT_MAX_ALT_DOMAINS)
          return pv_error_set(err, PV_EINVAL, "/alternate_domains", "at most %d domains",
                              ACCT_MAX_ALT_DOMAINS);
        if (!cJSON_IsString(x)) {
          char f[64];
          snprintf(f, sizeof f, "/alternate_domains/%zu", i);
          return pv_error_set(err, PV_EBADTYPE, f, "a domain is a string");
        }
        b->alt[i] = x->valuestring;
      }
      in->alternate_domains = b->alt;
      in->alternate_domain_count = i;
      in->alternate_domains_set = true;
    } else if (strcmp(m->string, "custom_fields") == 0) {
      if ((rc = custom_values(m, b, err))) return rc;
    } else if (strcmp(m->string, "description") == 0) {
      if (!cJSON_IsString(m))
        return pv_error_set(err, PV_EBADTYPE, "/description", "\"description\" must be a string");
      b->description = m->valuestring;
    }
  }
  return provenance(obj, source_default, &in->source, &in->observed_at_us, err);
}

/* ---- the command path -------------------------------------------------- */

int crm_guard_decide(writer_ctx *ctx, void *arg, pv_error *err) {
  crm_guard *g = arg;
  if (g->expected != LOG_EXPECT_ANY) {
    uint64_t v = 0;
    int rc = writer_stream_version(ctx, g->stream, &v);
    if (rc) return pv_error_set(err, rc, NULL, "could not read the entity");
    if (v != (uint64_t)g->expected) {
      pv_error_set(err, PV_EPRECONDITION, "/headers/if-match", "the entity has changed");
      pv_error_detail(err, "If-Match was \"%lld\"; the entity is at version %llu.",
                      (long long)g->expected, (unsigned long long)v);
      pv_error_hint(err, "Read the entity again and retry with its ETag.");
      return PV_EPRECONDITION;
    }
  }
  return g->inner(ctx, g->inner_arg, err);
}

api_op *crm_op(http_request *req, crm_guard *guard, const char *kind, const char *id) {
  const api_principal *ap = api_principal_of(req);
  api_op *op = api_op_new(req, ap->p.tenant, ap->actor);
  pv_error e = PV_ERROR_INIT;
  int rc = api_op_idempotency(op, &e);
  if (guard) guard->expected = LOG_EXPECT_ANY;
  if (rc == 0 && guard && id) rc = api_if_match(req, &guard->expected, &e);
  if (rc) {
    http_respond_error(req, &e);
    api_op_free(op);
    return NULL;
  }
  if (guard && id) entity_stream(kind, id, guard->stream);
  if (id) snprintf(op->entity_id, sizeof op->entity_id, "%s", id);
  return op;
}

uint64_t crm_stream_version(api *a, const char *tenant, const char *stream) {
  log_reader *rd;
  uint64_t v = 0;
  if (log_read_begin(a->log, &rd)) return 0;
  if (log_reader_stream_version(rd, tenant, stream, &v)) v = 0;
  log_read_end(rd);
  return v;
}

void crm_answer(api_op *op, const char *kind, int status) {
  uint64_t noop = 0;
  const char *dash = op->cmd.replayed ? strchr(op->cmd.stream, '-') : NULL;
  if (dash) snprintf(op->entity_id, sizeof op->entity_id, "%s", dash + 1);
  if (op->cmd.status == 0 && op->cmd.event_count == 0 && op->entity_id[0]) {
    char stream[ENTITY_STREAM_MAX + 1];
    entity_stream(kind, op->entity_id, stream);
    noop = crm_stream_version(op->app, op->tenant, stream);
  }
  if (op->cmd.status == 0 && op->entity_id[0]) {
    char location[96];
    snprintf(location, sizeof location, "/api/%ss/%s", kind, op->entity_id);
    if (status == 201) http_response_header(op->req, "Location", location);
  }
  api_op_answer(op, status, noop);
}
