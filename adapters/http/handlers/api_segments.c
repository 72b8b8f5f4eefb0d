/*
 * api_segments — dynamic segments, the filter catalogue, preview and saved
 * filters (issue 6; core/segments.h, core/seg_filter.h):
 *   GET    /api/segments/fields       the filter catalogue
 *   POST   /api/segments/preview      count, emailable, callable, sample
 *   POST   /api/segments              create (server-made id)
 *   GET    /api/segments              list (visible ones)
 *   GET    /api/segments/:id          one
 *   PATCH  /api/segments/:id          name, filter, tags, visibility, isActive
 *   DELETE /api/segments/:id
 *   POST   /api/segments/:id/refresh  full re-evaluation of its members
 *   POST/GET /api/filters, GET/DELETE /api/filters/:id   saved filters
 * Reads go to the segments read model with the visibility rule of
 * api_seg.h; writes are decided by core/segments.c, which applies the same
 * rule from the log.
 */
#include "adapters/http/handlers/api_seg.h"

#include "core/mp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Sample rows a preview returns: default 10, at most 100 (a screenful). */
#define SEG_SAMPLE_DEFAULT 10
#define SEG_SAMPLE_MAX 100

void seg_who(const api_principal *ap, aud_who *out) {
  out->user_id = ap->p.user_id;
  out->team = auth_role_name(ap->p.role);
  out->admin = ap->p.role == AUTH_ROLE_ADMIN;
}

void seg_vis_values(const api_principal *ap, const char *values[3]) {
  values[0] = ap->p.tenant;
  values[1] = ap->p.user_id;
  values[2] = auth_role_name(ap->p.role);
}

int seg_check_filter(const cJSON *body, seg_entity entity, char **text, pv_error *e) {
  const cJSON *f = cJSON_GetObjectItemCaseSensitive(body, "filter");
  seg_sql q;
  seg_sql_init(&q, 2);
  int rc = seg_compile(f, entity, "/filter", &q, e);
  seg_sql_release(&q);
  if (rc == 0) *text = cJSON_PrintUnformatted(f);
  return rc;
}

static bool str_ok(const cJSON *v, size_t max) {
  return cJSON_IsString(v) && v->valuestring[0] && strlen(v->valuestring) <= max;
}

int seg_pack_common(const cJSON *body, bool create, msgpack_packer *pk, uint32_t *n,
                    pv_error *e) {
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(body, "name");
  const cJSON *tags = cJSON_GetObjectItemCaseSensitive(body, "tags");
  const cJSON *vis = cJSON_GetObjectItemCaseSensitive(body, "visibilityScope");
  if (name || create) {
    if (!str_ok(name, SEG_NAME_MAX))
      return pv_error_set(e, PV_EINVAL, "/name", "a name of 1 to 200 bytes is required");
    mp_pack_cstr(pk, "name");
    mp_pack_cstr(pk, name->valuestring);
    (*n)++;
  }
  if (tags || create) {
    if (tags && (!cJSON_IsArray(tags) || cJSON_GetArraySize(tags) > SEG_TAGS_MAX))
      return pv_error_set(e, PV_EINVAL, "/tags", "tags are an array of at most 32 strings");
    int i = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, tags) {
      if (!str_ok(t, SEG_TAG_MAX)) {
        char field[32];
        snprintf(field, sizeof field, "/tags/%d", i);
        return pv_error_set(e, PV_EINVAL, field, "a tag is 1 to 64 bytes");
      }
      i++;
    }
    mp_pack_cstr(pk, "tags");
    msgpack_pack_array(pk, (size_t)i);
    cJSON_ArrayForEach(t, tags) mp_pack_cstr(pk, t->valuestring);
    (*n)++;
  }
  if (vis || create) {
    const char *v = vis ? (cJSON_IsString(vis) ? vis->valuestring : "") : "private";
    if (!aud_visibility_valid(v))
      return pv_error_set(e, PV_EINVAL, "/visibilityScope", "visibilityScope is \"private\", "
                          "\"team\" or \"global\"");
    mp_pack_cstr(pk, "visibility");
    mp_pack_cstr(pk, v);
    (*n)++;
  }
  return 0;
}

/* ---- the command path ----------------------------------------------------- */

void seg_job_free(void *p) {
  seg_job *j = p;
  pv_buf_release(&j->payload);
  for (size_t i = 0; i < j->nrecords; i++) free(j->records[i]);
  free(j->records);
  free(j->filter_text);
  free(j);
}

seg_job *seg_job_new(const api_principal *ap, aud_kind kind, aud_action action, const char *id) {
  seg_job *j = pv_xcalloc(1, sizeof *j);
  pv_buf_init(&j->payload, 256);
  if (id) snprintf(j->id, sizeof j->id, "%s", id);
  else cmpl_new_id(j->id);
  snprintf(j->user_id, sizeof j->user_id, "%s", ap->p.user_id);
  snprintf(j->team, sizeof j->team, "%s", auth_role_name(ap->p.role));
  j->cmd.kind = kind;
  j->cmd.action = action;
  j->cmd.id = j->id;
  j->cmd.by = (aud_who){j->user_id, j->team, ap->p.role == AUTH_ROLE_ADMIN};
  j->status = action == AUD_CREATE ? 201 : 200;
  return j;
}

static void seg_job_finish(api_op *op) {
  seg_job *j = op->data;
  if (op->cmd.status == PV_ENOTFOUND) {
    cmpl_not_found(op->req, aud_kind_name(j->cmd.kind));
    return api_op_free(op);
  }
  if (op->cmd.status == 0 && j->location_prefix) {
    char location[96];
    snprintf(location, sizeof location, "%s%s", j->location_prefix, op->entity_id);
    http_response_header(op->req, "Location", location);
  }
  api_op_answer(op, j->status, 0);
}

void seg_job_submit(http_request *req, seg_job *j) {
  const api_principal *ap = api_principal_of(req);
  api_op *op = api_op_new(req, ap->p.tenant, ap->actor);
  snprintf(op->entity_id, sizeof op->entity_id, "%s", j->id);
  op->data = j;
  op->data_free = seg_job_free;
  op->finish = seg_job_finish;
  if (j->payload.len) {
    j->cmd.payload = j->payload.data;
    j->cmd.payload_len = j->payload.len;
  }
  j->cmd.record_ids = (const char *const *)j->records;
  j->cmd.record_count = j->nrecords;
  pv_error e = PV_ERROR_INIT;
  int rc = api_op_idempotency(op, &e);
  if (rc == 0) rc = aud_bind(&j->cmd, &op->cmd, &e);
  if (rc) {
    http_respond_error(req, &e);
    return api_op_free(op);
  }
  api_op_submit(op);
}

/* ---- fields and preview ------------------------------------------------- */

void api_seg_fields(http_request *req) { api_respond_json(req, 200, seg_fields_json()); }

static int body_entity(http_request *req, const cJSON *body, seg_entity *out) {
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(body, "entityType");
  if (!t) {
    *out = SEG_CONTACT;
    return 0;
  }
  if (!cJSON_IsString(t) || seg_entity_parse(t->valuestring, out)) {
    cmpl_fail(req, PV_EINVAL, "/entityType", "entityType is \"contact\" or \"account\"");
    return PV_EINVAL;
  }
  return 0;
}

seg_stmt *seg_stmt_new(void) {
  seg_stmt *s = pv_xcalloc(1, sizeof *s);
  seg_sql_init(&s->q, 2);
  pv_buf_init(&s->sql, 2048);
  return s;
}

void seg_stmt_free(seg_stmt *s) {
  pv_buf_release(&s->sql);
  seg_sql_release(&s->q);
  free(s->values);
  free(s);
}

void seg_stmt_params(seg_stmt *s, const char *const *head, int nhead) {
  s->nvalues = nhead + (int)s->q.nparams;
  s->values = pv_xcalloc((size_t)s->nvalues, sizeof *s->values);
  for (int i = 0; i < nhead; i++) s->values[i] = head[i];
  for (size_t i = 0; i < s->q.nparams; i++) s->values[nhead + (int)i] = s->q.params[i];
}

typedef struct seg_run {
  http_request *req;
  seg_stmt *s;
  cmpl_rows_fn fn;
  void *ctx;
  void (*ctx_free)(void *);
} seg_run;

static void stmt_done(pg_conn *c, int rc, PGresult *res, const pv_error *err, void *arg) {
  (void)c;
  (void)err;
  seg_run *r = arg;
  if (rc) {
    pv_error e = PV_ERROR_INIT;
    pv_error_set(&e, rc == PV_EUNAVAILABLE ? PV_EUNAVAILABLE : PV_EINTERNAL, NULL,
                 "could not read the read model");
    http_respond_error(r->req, &e);
    if (r->ctx_free) r->ctx_free(r->ctx);
  } else {
    r->fn(r->req, res, r->ctx);
  }
  PQclear(res);
  seg_stmt_free(r->s);
  free(r);
}

void seg_stmt_run(http_request *req, seg_stmt *s, cmpl_rows_fn fn, void *ctx,
                  void (*ctx_free)(void *)) {
  api *a = http_request_app(req);
  seg_run *r = pv_xmalloc(sizeof *r);
  *r = (seg_run){req, s, fn, ctx, ctx_free};
  int rc = a->db ? pg_pool_query(a->db, s->sql.data, s->nvalues, s->values, stmt_done, r)
                 : PV_EUNAVAILABLE;
  if (rc == 0) return;
  free(r);
  seg_stmt_free(s);
  if (ctx_free) ctx_free(ctx);
  if (rc == PV_EBUSY) http_response_header(req, "Retry-After", "1");
  cmpl_fail(req, rc, NULL, rc == PV_EUNAVAILABLE ? "no read-model database is configured"
                                                 : "too many queries wait; retry");
}

void seg_query(http_request *req, const char *sql, int n, const char *const *values,
               cmpl_rows_fn fn, void *ctx, void (*ctx_free)(void *)) {
  seg_stmt *s = seg_stmt_new();
  pv_buf_addstr(&s->sql, sql);
  seg_stmt_params(s, values, n);
  seg_stmt_run(req, s, fn, ctx, ctx_free);
}

static void first_value(http_request *req, PGresult *res, void *ctx) {
  (void)ctx;
  const char *v = PQntuples(res) ? PQgetvalue(res, 0, 0) : "{}";
  http_respond(req, 200, "application/json", v, strlen(v));
}

void api_seg_preview(http_request *req) {
  cJSON *body;
  if (cmpl_object_body(req, &body)) return;
  const api_principal *ap = api_principal_of(req);
  seg_entity ent;
  pv_error e = PV_ERROR_INIT;
  int sample = SEG_SAMPLE_DEFAULT;
  const cJSON *n = cJSON_GetObjectItemCaseSensitive(body, "sampleSize");
  if (body_entity(req, body, &ent)) goto out;
  if (n && (!cJSON_IsNumber(n) || n->valuedouble < 0 || n->valuedouble > SEG_SAMPLE_MAX)) {
    cmpl_fail(req, PV_EINVAL, "/sampleSize", "sampleSize is 0 to %d", SEG_SAMPLE_MAX);
    goto out;
  }
  if (n) sample = (int)n->valuedouble;
  seg_stmt *s = seg_stmt_new();
  if (seg_compile(cJSON_GetObjectItemCaseSensitive(body, "filter"), ent, "/filter", &s->q, &e)) {
    seg_stmt_free(s);
    http_respond_error(req, &e);
    goto out;
  }
  seg_preview_sql(&s->sql, ent, s->q.where.data, sample);
  const char *head[] = {ap->p.tenant};
  seg_stmt_params(s, head, 1);
  seg_stmt_run(req, s, first_value, NULL, NULL);
out:
  cJSON_Delete(body);
}

/* ---- segments ----------------------------------------------------------- */

#define SEG_JSON                                                               \
  "json_build_object('id', s.id, 'entityType', s.entity_type, 'name', s.name, 'filter',"   \
  " s.filter, 'tags', s.tags, 'visibilityScope', s.visibility, 'team', s.team, 'ownerId',"  \
  " s.owner, 'isActive', s.is_active, 'recordCountCache', s.record_count_cache,"           \
  " 'emailableCount', s.emailable_count, 'callableCount', s.callable_count,"               \
  " 'lastRefreshedAt', s.last_refreshed_at, 'version', s.version, 'createdAt',"            \
  " s.created_at, 'updatedAt', s.updated_at)::text"

void api_seg_create(http_request *req) {
  cJSON *body;
  if (cmpl_object_body(req, &body)) return;
  const api_principal *ap = api_principal_of(req);
  seg_entity ent;
  pv_error e = PV_ERROR_INIT;
  if (body_entity(req, body, &ent)) goto out;
  seg_job *j = seg_job_new(ap, AUD_SEGMENT, AUD_CREATE, NULL);
  char *filter = NULL;
  const cJSON *active = cJSON_GetObjectItemCaseSensitive(body, "isActive");
  msgpack_packer pk;
  mp_packer_init(&pk, &j->payload);
  uint32_t n = 0;
  /* map header: 6 fixed members + name, tags, visibility */
  msgpack_pack_map(&pk, 9);
  int rc = seg_pack_common(body, true, &pk, &n, &e);
  if (rc == 0 && active && !cJSON_IsBool(active))
    rc = pv_error_set(&e, PV_EBADTYPE, "/isActive", "isActive is true or false");
  if (rc == 0) rc = seg_check_filter(body, ent, &filter, &e);
  if (rc) {
    http_respond_error(req, &e);
    seg_job_free(j);
    goto out;
  }
  mp_pack_cstr(&pk, "segment_id");
  mp_pack_cstr(&pk, j->id);
  mp_pack_cstr(&pk, "entity_type");
  mp_pack_cstr(&pk, seg_entity_name(ent));
  mp_pack_cstr(&pk, "filter");
  mp_pack_cstr(&pk, filter);
  mp_pack_cstr(&pk, "team");
  mp_pack_cstr(&pk, j->team);
  mp_pack_cstr(&pk, "owner");
  mp_pack_cstr(&pk, j->user_id);
  mp_pack_cstr(&pk, "is_active");
  if (!active || cJSON_IsTrue(active)) msgpack_pack_true(&pk);
  else msgpack_pack_false(&pk);
  free(filter);
  j->location_prefix = "/api/segments/";
  seg_job_submit(req, j);
out:
  cJSON_Delete(body);
}

static void seg_page(http_request *req, PGresult *res, void *ctx) {
  cmpl_page(req, res, *(int *)ctx);
}

void api_seg_list(http_request *req) {
  const api_principal *ap = api_principal_of(req);
  char cursor[64] = "", tag[SEG_TAG_MAX + 1] = "", type[16] = "", limit_text[16];
  int limit;
  if (cmpl_query_param(req, "cursor", cursor, sizeof cursor) < 0 ||
      cmpl_query_param(req, "tag", tag, sizeof tag) < 0 ||
      cmpl_query_param(req, "entityType", type, sizeof type) < 0 || cmpl_limit(req, &limit) < 0)
    return;
  snprintf(limit_text, sizeof limit_text, "%d", limit + 1);
  const char *values[7];
  seg_vis_values(ap, values);
  values[3] = cursor;
  values[4] = tag;
  values[5] = type;
  values[6] = limit_text;
  int *ctx = pv_xmalloc(sizeof *ctx);
  *ctx = limit;
  cmpl_query(req,
             "SELECT " SEG_JSON ", s.id FROM rm_segments.segments s WHERE " SEG_VISIBLE("s")
             " AND ($4 = '' OR s.id COLLATE \"C\" < $4) AND ($5 = '' OR $5 = ANY (s.tags))"
             " AND ($6 = '' OR s.entity_type = $6) ORDER BY s.id COLLATE \"C\" DESC"
             " LIMIT $7::int",
             7, values, seg_page, ctx, true);
}

static void seg_one(http_request *req, PGresult *res, void *ctx) {
  cmpl_one(req, res, ctx);
}

void api_seg_get(http_request *req) {
  const api_principal *ap = api_principal_of(req);
  const char *values[4];
  seg_vis_values(ap, values);
  values[3] = http_request_param(req, "id");
  cmpl_query(req,
             "SELECT " SEG_JSON " FROM rm_segments.segments s WHERE " SEG_VISIBLE("s")
             " AND s.id = $4",
             4, values, seg_one, (void *)"segment", false);
}

/* The update's filter check, run in the decide with the stored entity. */
static int check_update_filter(void *arg, const char *entity_type, pv_error *err) {
  seg_job *j = arg;
  seg_entity ent;
  if (seg_entity_parse(entity_type, &ent)) ent = SEG_CONTACT;
  cJSON *f = cJSON_Parse(j->filter_text);
  seg_sql q;
  seg_sql_init(&q, 2);
  int rc = seg_compile(f, ent, "/filter", &q, err);
  seg_sql_release(&q);
  cJSON_Delete(f);
  return rc;
}

void api_seg_update(http_request *req) {
  cJSON *body;
  if (cmpl_object_body(req, &body)) return;
  const api_principal *ap = api_principal_of(req);
  pv_error e = PV_ERROR_INIT;
  seg_job *j = seg_job_new(ap, AUD_SEGMENT, AUD_UPDATE, http_request_param(req, "id"));
  const cJSON *active = cJSON_GetObjectItemCaseSensitive(body, "isActive");
  const cJSON *filter = cJSON_GetObjectItemCaseSensitive(body, "filter");
  pv_buf inner = PV_BUF_INIT;
  msgpack_packer pk;
  mp_packer_init(&pk, &inner);
  uint32_t n = 0;
  int rc = seg_pack_common(body, false, &pk, &n, &e);
  if (rc == 0 && active && !cJSON_IsBool(active))
    rc = pv_error_set(&e, PV_EBADTYPE, "/isActive", "isActive is true or false");
  if (rc == 0 && filter && !cJSON_IsObject(filter))
    rc = pv_error_set(&e, PV_EBADTYPE, "/filter", "a filter is an object");
  if (rc) {
    http_respond_error(req, &e);
    pv_buf_release(&inner);
    seg_job_free(j);
    goto out;
  }
  if (active) {
    mp_pack_cstr(&pk, "is_active");
    if (cJSON_IsTrue(active)) msgpack_pack_true(&pk);
    else msgpack_pack_false(&pk);
    n++;
  }
  if (filter) {
    j->filter_text = cJSON_PrintUnformatted(filter);
    mp_pack_cstr(&pk, "filter");
    mp_pack_cstr(&pk, j->filter_text);
    n++;
    j->cmd.check = check_update_filter;
    j->cmd.check_arg = j;
  }
  msgpack_packer outer;
  mp_packer_init(&outer, &j->payload);
  msgpack_pack_map(&outer, n);
  pv_buf_add(&j->payload, inner.data, inner.len);
  pv_buf_release(&inner);
  seg_job_submit(req, j);
out:
  cJSON_Delete(body);
}

void api_seg_delete(http_request *req) {
  seg_job_submit(req, seg_job_new(api_principal_of(req), AUD_SEGMENT, AUD_DELETE,
                                  http_request_param(req, "id")));
}

void api_seg_refresh(http_request *req) {
  seg_job *j = seg_job_new(api_principal_of(req), AUD_SEGMENT, AUD_REFRESH,
                           http_request_param(req, "id"));
  j->status = 202;
  seg_job_submit(req, j);
}

/* ---- saved filters ------------------------------------------------------ */

#define FILTER_JSON                                                            \
  "json_build_object('id', f.id, 'name', f.name, 'entityType', f.entity_type, 'filter',"   \
  " f.filter, 'visibilityScope', f.visibility, 'team', f.team, 'ownerId', f.owner,"        \
  " 'createdAt', f.created_at)::text"

void api_filters_create(http_request *req) {
  cJSON *body;
  if (cmpl_object_body(req, &body)) return;
  const api_principal *ap = api_principal_of(req);
  seg_entity ent;
  pv_error e = PV_ERROR_INIT;
  if (body_entity(req, body, &ent)) goto out;
  seg_job *j = seg_job_new(ap, AUD_FILTER, AUD_CREATE, NULL);
  char *filter = NULL;
  msgpack_packer pk;
  mp_packer_init(&pk, &j->payload);
  uint32_t n = 0;
  msgpack_pack_map(&pk, 8);
  int rc = seg_pack_common(body, true, &pk, &n, &e);
  if (rc == 0) rc = seg_check_filter(body, ent, &filter, &e);
  if (rc) {
    http_respond_error(req, &e);
    seg_job_free(j);
    goto out;
  }
  /* seg_pack_common packed name, tags and visibility: a saved filter has
   * no tags, so the map is rebuilt without them */
  pv_buf_reset(&j->payload);
  mp_packer_init(&pk, &j->payload);
  msgpack_pack_map(&pk, 7);
  mp_pack_cstr(&pk, "filter_id");
  mp_pack_cstr(&pk, j->id);
  mp_pack_cstr(&pk, "name");
  mp_pack_cstr(&pk, cJSON_GetObjectItemCaseSensitive(body, "name")->valuestring);
  mp_pack_cstr(&pk, "entity_type");
  mp_pack_cstr(&pk, seg_entity_name(ent));
  mp_pack_cstr(&pk, "filter");
  mp_pack_cstr(&pk, filter);
  const cJSON *vis = cJSON_GetObjectItemCaseSensitive(body, "visibilityScope");
  mp_pack_cstr(&pk, "visibility");
  mp_pack_cstr(&pk, vis ? vis->valuestring : "private");
  mp_pack_cstr(&pk, "team");
  mp_pack_cstr(&pk, j->team);
  mp_pack_cstr(&pk, "owner");
  mp_pack_cstr(&pk, j->user_id);
  free(filter);
  j->location_prefix = "/api/filters/";
  seg_job_submit(req, j);
out:
  cJSON_Delete(body);
}

void api_filters_list(http_request *req) {
  const api_principal *ap = api_principal_of(req);
  char cursor[64] = "", limit_text[16];
  int limit;
  if (cmpl_query_param(req, "cursor", cursor, sizeof cursor) < 0 || cmpl_limit(req, &limit) < 0)
    return;
  snprintf(limit_text, sizeof limit_text, "%d", limit + 1);
  const char *values[5];
  seg_vis_values(ap, values);
  values[3] = cursor;
  values[4] = limit_text;
  int *ctx = pv_xmalloc(sizeof *ctx);
  *ctx = limit;
  cmpl_query(req,
             "SELECT " FILTER_JSON ", f.id FROM rm_segments.filters f WHERE " SEG_VISIBLE("f")
             " AND ($4 = '' OR f.id COLLATE \"C\" < $4) ORDER BY f.id COLLATE \"C\" DESC"
             " LIMIT $5::int",
             5, values, seg_page, ctx, true);
}

void api_filters_get(http_request *req) {
  const char *values[4];
  seg_vis_values(api_principal_of(req), values);
  values[3] = http_request_param(req, "id");
  cmpl_query(req,
             "SELECT " FILTER_JSON " FROM rm_segments.filters f WHERE " SEG_VISIBLE("f")
             " AND f.id = $4",
             4, values, seg_one, (void *)"filter", false);
}

void api_filters_delete(http_request *req) {
  seg_job_submit(req, seg_job_new(api_principal_of(req), AUD_FILTER, AUD_DELETE,
                                  http_request_param(req, "id")));
}
