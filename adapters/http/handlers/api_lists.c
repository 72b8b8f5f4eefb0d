/*
 * api_lists — static lists (issue 6; core/segments.h):
 *   POST   /api/lists                        create: recordIds (manual_upload,
 *                                            selection) or a filter snapshot
 *   GET    /api/lists, GET /api/lists/:id    read (visible ones)
 *   PATCH  /api/lists/:id, DELETE /api/lists/:id
 *   POST   /api/lists/:id/members            add (bulk "add selection to list")
 *   DELETE /api/lists/:id/members            remove
 *   GET    /api/lists/:id/members            the record ids, paged
 *   POST   /api/lists/:id/export             CSV or JSON, streamed
 *   POST   /api/segments/:id/convert-to-list a snapshot of a segment
 *
 * A snapshot (convert, or a list made from a filter) evaluates the filter
 * in ONE statement that also reads the read model's checkpoint, so the
 * ids and the position come from the same PostgreSQL snapshot: the list
 * holds exactly the audience of the read model at that log position. The
 * ids themselves go into the log (list.members_added), so the list never
 * changes afterwards whatever the read models do.
 *
 * The export streams: a cursor on a connection of its own, FETCHed in
 * EXPORT_FETCH_ROWS rows, each batch one chunk of the chunked response.
 */
#include "adapters/http/handlers/api_seg.h"

#include "core/common/pv_time.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Rows per FETCH of an export: ~0.5 MB of CSV for contacts. Arbitrary;
 * large enough that the round trips vanish, small enough to keep memory
 * flat whatever the list's size. */
#define EXPORT_FETCH_ROWS 5000
#define EXPORT_STR_(x) #x
#define EXPORT_STR(x) EXPORT_STR_(x)
/* Record ids one add/remove request may carry (the route's 8 MiB body). */
#define LIST_MAX_REQUEST_IDS 100000

void seg_job_records(seg_job *j, const char *const *ids, size_t n) {
  j->records = pv_xcalloc(n ? n : 1, sizeof *j->records);
  for (size_t i = 0; i < n; i++) j->records[i] = pv_xstrdup(ids[i]);
  j->nrecords = n;
}

/* body.recordIds as a string array (borrowed from body). */
static int record_ids(http_request *req, const cJSON *body, bool required,
                      const char ***out, size_t *n) {
  const cJSON *ids = cJSON_GetObjectItemCaseSensitive(body, "recordIds");
  *out = NULL;
  *n = 0;
  if (!ids && !required) return 0;
  if (!cJSON_IsArray(ids) || (required && cJSON_GetArraySize(ids) == 0) ||
      cJSON_GetArraySize(ids) > LIST_MAX_REQUEST_IDS) {
    cmpl_fail(req, PV_EINVAL, "/recordIds", "recordIds is an array of 1 to %d ids",
              LIST_MAX_REQUEST_IDS);
    return PV_EINVAL;
  }
  size_t count = (size_t)cJSON_GetArraySize(ids);
  const char **v = pv_xcalloc(count ? count : 1, sizeof *v);
  size_t i = 0;
  const cJSON *it;
  cJSON_ArrayForEach(it, ids) {
    if (!cJSON_IsString(it)) {
      char field[40];
      snprintf(field, sizeof field, "/recordIds/%zu", i);
      cmpl_fail(req, PV_EBADTYPE, field, "a record id is a string");
      free(v);
      return PV_EBADTYPE;
    }
    v[i++] = it->valuestring;
  }
  *out = v;
  *n = count;
  return 0;
}

/* Packs a list.created payload. */
static int pack_list(seg_job *j, const cJSON *body, seg_entity ent, const char *source_type,
                     const char *source_ref, const char *filter, uint64_t position,
                     pv_error *e) {
  msgpack_packer pk;
  mp_packer_init(&pk, &j->payload);
  uint32_t n = 0;
  msgpack_pack_map(&pk, 8 + (source_ref ? 1 : 0) + (filter ? 3 : 0));
  int rc = seg_pack_common(body, true, &pk, &n, e);
  if (rc) return rc;
  mp_pack_cstr(&pk, "list_id");
  mp_pack_cstr(&pk, j->id);
  mp_pack_cstr(&pk, "entity_type");
  mp_pack_cstr(&pk, seg_entity_name(ent));
  mp_pack_cstr(&pk, "team");
  mp_pack_cstr(&pk, j->team);
  mp_pack_cstr(&pk, "owner");
  mp_pack_cstr(&pk, j->user_id);
  mp_pack_cstr(&pk, "source_type");
  mp_pack_cstr(&pk, source_type);
  if (source_ref) {
    mp_pack_cstr(&pk, "source_ref");
    mp_pack_cstr(&pk, source_ref);
  }
  if (filter) {
    mp_pack_cstr(&pk, "filter");
    mp_pack_cstr(&pk, filter);
    mp_pack_cstr(&pk, "snapshot_position");
    msgpack_pack_uint64(&pk, position);
    mp_pack_cstr(&pk, "snapshot_ts");
    msgpack_pack_int64(&pk, pv_wall_us());
  }
  return 0;
}

/* ---- snapshots ------------------------------------------------------------ */

typedef struct snap {
  cJSON *body;        /* the request's (name, tags, visibilityScope) */
  seg_entity entity;
  char *filter;       /* JSON text */
  char source_type[16];
  char source_ref[CMPL_ID_MAX + 8];
  char tenant[AUTH_ID_MAX];
} snap;

static void snap_free(void *p) {
  snap *s = p;
  cJSON_Delete(s->body);
  free(s->filter);
  free(s);
}

static void snap_rows(http_request *req, PGresult *res, void *ctx) {
  snap *s = ctx;
  const api_principal *ap = api_principal_of(req);
  uint64_t position = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
  char *ids = PQgetvalue(res, 0, 1);
  size_t n = ids[0] ? 1 : 0;
  for (char *p = ids; *p; p++) n += *p == '\n';
  const char **v = pv_xcalloc(n ? n : 1, sizeof *v);
  size_t i = 0;
  for (char *p = ids; n && p;) {
    v[i++] = p;
    char *nl = strchr(p, '\n');
    if (nl) *nl = '\0';
    p = nl ? nl + 1 : NULL;
  }
  seg_job *j = seg_job_new(ap, AUD_LIST, AUD_CREATE, NULL);
  pv_error e = PV_ERROR_INIT;
  if (pack_list(j, s->body, s->entity, s->source_type, s->source_ref[0] ? s->source_ref : NULL,
                s->filter, position, &e)) {
    http_respond_error(req, &e);
    seg_job_free(j);
  } else {
    seg_job_records(j, v, n);
    j->location_prefix = "/api/lists/";
    seg_job_submit(req, j);
  }
  free(v);
  snap_free(s);
}

/* Evaluates s->filter with the entity's checkpoint in one statement and
 * creates the list (takes s). */
static void snap_run(http_request *req, snap *s) {
  seg_stmt *st = seg_stmt_new();
  pv_error e = PV_ERROR_INIT;
  cJSON *f = cJSON_Parse(s->filter);
  int rc = seg_compile(f, s->entity, "/filter", &st->q, &e);
  cJSON_Delete(f);
  if (rc) {
    http_respond_error(req, &e);
    seg_stmt_free(st);
    return snap_free(s);
  }
  pv_buf_addf(&st->sql,
              "SELECT (SELECT position FROM pivotal.proj_checkpoint WHERE name = '%s'),"
              " coalesce((SELECT string_agg(x.id, E'\\n' ORDER BY x.id) FROM (SELECT %s id"
              " %s(%s)) x), '')",
              s->entity == SEG_ACCOUNT ? "accounts" : "contacts", seg_id_sql(s->entity),
              seg_from_sql(s->entity), st->q.where.data);
  const char *head[] = {s->tenant};
  seg_stmt_params(st, head, 1);
  seg_stmt_run(req, st, snap_rows, s, snap_free);
}

static void convert_segment(http_request *req, PGresult *res, void *ctx) {
  snap *s = ctx;
  if (PQntuples(res) < 1) {
    cmpl_not_found(req, "segment");
    return snap_free(s);
  }
  s->filter = pv_xstrdup(PQgetvalue(res, 0, 0));
  if (seg_entity_parse(PQgetvalue(res, 0, 1), &s->entity)) s->entity = SEG_CONTACT;
  if (!cJSON_GetObjectItemCaseSensitive(s->body, "name")) {
    char name[SEG_NAME_MAX + 1];
    snprintf(name, sizeof name, "%.180s (snapshot)", PQgetvalue(res, 0, 2));
    cJSON_AddStringToObject(s->body, "name", name);
  }
  snap_run(req, s);
}

void api_seg_convert(http_request *req) {
  cJSON *body;
  if (cmpl_object_body(req, &body)) return;
  const api_principal *ap = api_principal_of(req);
  snap *s = pv_xcalloc(1, sizeof *s);
  s->body = body;
  snprintf(s->source_type, sizeof s->source_type, "segment");
  snprintf(s->source_ref, sizeof s->source_ref, "%s", http_request_param(req, "id"));
  snprintf(s->tenant, sizeof s->tenant, "%s", ap->p.tenant);
  const char *values[4];
  seg_vis_values(ap, values);
  values[3] = http_request_param(req, "id");
  seg_query(req,
            "SELECT s.filter::text, s.entity_type, s.name FROM rm_segments.segments s WHERE "
            SEG_VISIBLE("s") " AND s.id = $4",
            4, values, convert_segment, s, snap_free);
}

/* ---- lists ---------------------------------------------------------------- */

#define LIST_JSON                                                              \
  "json_build_object('id', l.id, 'entityType', l.entity_type, 'name', l.name, 'tags',"    \
  " l.tags, 'visibilityScope', l.visibility, 'team', l.team, 'ownerId', l.owner,"        \
  " 'sourceType', l.source_type, 'sourceRef', l.source_ref, 'filter', l.filter,"         \
  " 'snapshotPosition', l.snapshot_position, 'snapshotTs', l.snapshot_ts, 'recordCount',"\
  " l.member_count, 'version', l.version, 'createdAt', l.created_at, 'updatedAt',"       \
  " l.updated_at)::text"

void api_lists_create(http_request *req) {
  cJSON *body;
  if (cmpl_object_body(req, &body)) return;
  const api_principal *ap = api_principal_of(req);
  pv_error e = PV_ERROR_INIT;
  seg_entity ent = SEG_CONTACT;
  const cJSON *type = cJSON_GetObjectItemCaseSensitive(body, "entityType");
  const cJSON *src = cJSON_GetObjectItemCaseSensitive(body, "sourceType");
  const cJSON *ref = cJSON_GetObjectItemCaseSensitive(body, "sourceRef");
  const char *source = cJSON_IsString(src) ? src->valuestring : "";
  if (type && (!cJSON_IsString(type) || seg_entity_parse(type->valuestring, &ent))) {
    cmpl_fail(req, PV_EINVAL, "/entityType", "entityType is \"contact\" or \"account\"");
    goto out;
  }
  if (strcmp(source, "manual_upload") && strcmp(source, "selection") && strcmp(source, "filter")) {
    cmpl_fail(req, PV_EINVAL, "/sourceType", "sourceType is \"manual_upload\", \"selection\" "
              "or \"filter\" (a segment's snapshot is POST /api/segments/:id/convert-to-list)");
    goto out;
  }
  if (ref && (!cJSON_IsString(ref) || strlen(ref->valuestring) > CMPL_ID_MAX + 6)) {
    cmpl_fail(req, PV_EINVAL, "/sourceRef", "sourceRef is a string of at most 32 bytes");
    goto out;
  }
  if (strcmp(source, "filter") == 0) {
    snap *s = pv_xcalloc(1, sizeof *s);
    s->entity = ent;
    snprintf(s->source_type, sizeof s->source_type, "filter");
    if (ref) snprintf(s->source_ref, sizeof s->source_ref, "%s", ref->valuestring);
    snprintf(s->tenant, sizeof s->tenant, "%s", ap->p.tenant);
    if (seg_check_filter(body, ent, &s->filter, &e)) {
      http_respond_error(req, &e);
      snap_free(s);
      goto out;
    }
    s->body = body;
    return snap_run(req, s);
  }
  const char **ids;
  size_t n;
  if (record_ids(req, body, false, &ids, &n)) goto out;
  seg_job *j = seg_job_new(ap, AUD_LIST, AUD_CREATE, NULL);
  if (pack_list(j, body, ent, source, ref ? ref->valuestring : NULL, NULL, 0, &e)) {
    http_respond_error(req, &e);
    seg_job_free(j);
  } else {
    seg_job_records(j, ids, n);
    j->location_prefix = "/api/lists/";
    seg_job_submit(req, j);
  }
  free(ids);
out:
  cJSON_Delete(body);
}

static void list_page(http_request *req, PGresult *res, void *ctx) {
  cmpl_page(req, res, *(int *)ctx);
}

void api_lists_list(http_request *req) {
  const api_principal *ap = api_principal_of(req);
  char cursor[64] = "", tag[SEG_TAG_MAX + 1] = "", limit_text[16];
  int limit;
  if (cmpl_query_param(req, "cursor", cursor, sizeof cursor) < 0 ||
      cmpl_query_param(req, "tag", tag, sizeof tag) < 0 || cmpl_limit(req, &limit) < 0)
    return;
  snprintf(limit_text, sizeof limit_text, "%d", limit + 1);
  const char *values[6];
  seg_vis_values(ap, values);
  values[3] = cursor;
  values[4] = tag;
  values[5] = limit_text;
  int *ctx = pv_xmalloc(sizeof *ctx);
  *ctx = limit;
  cmpl_query(req,
             "SELECT " LIST_JSON ", l.id FROM rm_segments.lists l WHERE " SEG_VISIBLE("l")
             " AND ($4 = '' OR l.id COLLATE \"C\" < $4) AND ($5 = '' OR $5 = ANY (l.tags))"
             " ORDER BY l.id COLLATE \"C\" DESC LIMIT $6::int",
             6, values, list_page, ctx, true);
}

static void list_one(http_request *req, PGresult *res, void *ctx) {
  (void)ctx;
  cmpl_one(req, res, "list");
}

void api_lists_get(http_request *req) {
  const char *values[4];
  seg_vis_values(api_principal_of(req), values);
  values[3] = http_request_param(req, "id");
  cmpl_query(req,
             "SELECT " LIST_JSON " FROM rm_segments.lists l WHERE " SEG_VISIBLE("l")
             " AND l.id = $4",
             4, values, list_one, NULL, false);
}

void api_lists_update(http_request *req) {
  cJSON *body;
  if (cmpl_object_body(req, &body)) return;
  pv_error e = PV_ERROR_INIT;
  seg_job *j = seg_job_new(api_principal_of(req), AUD_LIST, AUD_UPDATE,
                           http_request_param(req, "id"));
  pv_buf inner = PV_BUF_INIT;
  msgpack_packer pk;
  mp_packer_init(&pk, &inner);
  uint32_t n = 0;
  if (seg_pack_common(body, false, &pk, &n, &e)) {
    http_respond_error(req, &e);
    seg_job_free(j);
  } else {
    msgpack_packer outer;
    mp_packer_init(&outer, &j->payload);
    msgpack_pack_map(&outer, n);
    pv_buf_add(&j->payload, inner.data, inner.len);
    seg_job_submit(req, j);
  }
  pv_buf_release(&inner);
  cJSON_Delete(body);
}

void api_lists_delete(http_request *req) {
  seg_job_submit(req, seg_job_new(api_principal_of(req), AUD_LIST, AUD_DELETE,
                                  http_request_param(req, "id")));
}

static void members_change(http_request *req, aud_action action) {
  cJSON *body;
  if (cmpl_object_body(req, &body)) return;
  const char **ids;
  size_t n;
  if (record_ids(req, body, true, &ids, &n) == 0) {
    seg_job *j = seg_job_new(api_principal_of(req), AUD_LIST, action,
                             http_request_param(req, "id"));
    seg_job_records(j, ids, n);
    free(ids);
    seg_job_submit(req, j);
  }
  cJSON_Delete(body);
}

void api_lists_add(http_request *req) { members_change(req, AUD_ADD_MEMBERS); }
void api_lists_remove(http_request *req) { members_change(req, AUD_REMOVE_MEMBERS); }

static void members_rows(http_request *req, PGresult *res, void *ctx) {
  (void)ctx;
  cmpl_one(req, res, "list");
}

void api_lists_members(http_request *req) {
  const api_principal *ap = api_principal_of(req);
  char cursor[64] = "", limit_text[16];
  int limit;
  if (cmpl_query_param(req, "cursor", cursor, sizeof cursor) < 0 || cmpl_limit(req, &limit) < 0)
    return;
  snprintf(limit_text, sizeof limit_text, "%d", limit);
  const char *values[6];
  seg_vis_values(ap, values);
  values[3] = http_request_param(req, "id");
  values[4] = cursor;
  values[5] = limit_text;
  /* no row: a list this user cannot see, answered as a missing one */
  cmpl_query(req,
             "SELECT json_build_object('items', coalesce(json_agg(x.record_id ORDER BY"
             " x.record_id COLLATE \"C\") FILTER (WHERE x.record_id IS NOT NULL), '[]'),"
             " 'next_cursor', CASE WHEN count(x.record_id) = $6::int THEN"
             " max(x.record_id COLLATE \"C\") END)::text FROM rm_segments.lists l LEFT JOIN"
             " LATERAL (SELECT m.record_id FROM rm_segments.list_members m WHERE m.tenant ="
             " l.tenant AND m.list_id = l.id AND m.record_id COLLATE \"C\" > $5 ORDER BY"
             " m.record_id COLLATE \"C\" LIMIT $6::int) x ON true WHERE " SEG_VISIBLE("l")
             " AND l.id = $4 GROUP BY l.id",
             6, values, members_rows, NULL, false);
}

/* ---- export --------------------------------------------------------------- */

typedef struct export_job {
  http_request *req;
  pg_pool *pool;
  pg_conn *conn;
  bool json, first, failed, started, rolling_back;
  seg_entity entity;
  char tenant[AUTH_ID_MAX];
  char list_id[CMPL_ID_MAX + 8];
  char filename[96];
  pv_buf out;
} export_job;

static const char *const contact_cols[] = {"id", "email", "first_name", "last_name", "title",
                                           "seniority", "department", "phone", "country",
                                           "account_id", "account_name", NULL};
static const char *const account_cols[] = {"id", "name", "domain", "industry", "country",
                                           "contact_count", NULL};

static void export_step(export_job *x, const char *sql, int n, const char *const *values);

static void export_job_free(void *p) {
  export_job *x = p;
  pv_buf_release(&x->out);
  free(x);
}

static void export_finish(export_job *x) {
  if (x->conn) pg_pool_release(x->pool, x->conn);
  if (x->started) {
    if (x->json && !x->failed) http_respond_chunk(x->req, "]\n", 2);
    http_respond_end(x->req);
  } else {
    cmpl_fail(x->req, PV_EUNAVAILABLE, NULL, "could not read the read model");
  }
  pv_buf_release(&x->out);
  free(x);
}

/* Writes one FETCH's rows as a chunk. Returns http_respond_chunk's answer:
 * 0, PV_EBUSY (wait for export_writable before the next FETCH), PV_EIO. */
static int export_rows(export_job *x, PGresult *res) {
  const char *const *cols = x->entity == SEG_ACCOUNT ? account_cols : contact_cols;
  int rows = PQntuples(res);
  pv_buf_reset(&x->out);
  for (int r = 0; r < rows; r++) {
    if (x->json) {
      pv_buf_addstr(&x->out, x->first ? "\n" : ",\n");
      x->first = false;
      cJSON *o = cJSON_CreateObject();
      for (int c = 0; cols[c]; c++) {
        if (PQgetisnull(res, r, c)) cJSON_AddNullToObject(o, cols[c]);
        else cJSON_AddStringToObject(o, cols[c], PQgetvalue(res, r, c));
      }
      char *t = cJSON_PrintUnformatted(o);
      pv_buf_addstr(&x->out, t);
      free(t);
      cJSON_Delete(o);
    } else {
      for (int c = 0; cols[c]; c++) {
        if (c) pv_buf_addch(&x->out, ',');
        cmpl_csv_field(&x->out, PQgetvalue(res, r, c));
      }
      pv_buf_addstr(&x->out, "\r\n");
    }
  }
  return http_respond_chunk(x->req, x->out.data, x->out.len);
}

static const char *const FETCH_SQL = "FETCH " EXPORT_STR(EXPORT_FETCH_ROWS) " FROM seg_export";

/* The socket drained (status 0): fetch on; or the reader is gone. */
static void export_writable(http_request *req, int status, void *ctx) {
  (void)req;
  export_job *x = ctx;
  if (status) {
    x->failed = x->rolling_back = true;
    return export_step(x, "ROLLBACK", 0, NULL);
  }
  export_step(x, FETCH_SQL, 0, NULL);
}

static void export_done(pg_conn *c, int rc, PGresult *res, const pv_error *err, void *arg) {
  (void)c;
  (void)err;
  export_job *x = arg;
  const char *cmd = res ? PQcmdStatus(res) : "";
  if (rc || x->rolling_back) {
    PQclear(res);
    /* a failed statement leaves the transaction aborted: roll it back
     * before the connection goes back to the pool */
    if (rc && !x->rolling_back && rc != PV_EUNAVAILABLE) {
      x->failed = x->rolling_back = true;
      return export_step(x, "ROLLBACK", 0, NULL);
    }
    x->failed = true;
    return export_finish(x);
  }
  if (strncmp(cmd, "BEGIN", 5) == 0) {
    PQclear(res);
    const char *values[] = {x->tenant, x->list_id};
    return export_step(
        x,
        x->entity == SEG_ACCOUNT
            ? "DECLARE seg_export NO SCROLL CURSOR FOR SELECT m.record_id, a.name, a.domain,"
              " a.industry, a.fields->>'country', a.contact_count FROM rm_segments.list_members m"
              " LEFT JOIN rm_accounts.accounts a ON a.tenant = m.tenant AND a.id = m.record_id"
              " WHERE m.tenant = $1 AND m.list_id = $2 ORDER BY m.record_id COLLATE \"C\""
            : "DECLARE seg_export NO SCROLL CURSOR FOR SELECT m.record_id, c.email, c.first_name,"
              " c.last_name, c.fields->>'title', c.seniority, c.department, c.fields->>'phone',"
              " c.fields->>'country', c.account_id, a.name FROM rm_segments.list_members m"
              " LEFT JOIN rm_contacts.contacts c ON c.tenant = m.tenant AND c.id = m.record_id"
              " LEFT JOIN rm_accounts.accounts a ON a.tenant = c.tenant AND a.id = c.account_id"
              " WHERE m.tenant = $1 AND m.list_id = $2 ORDER BY m.record_id COLLATE \"C\"",
        2, values);
  }
  if (strncmp(cmd, "DECLARE", 7) == 0) {
    PQclear(res);
    char disposition[160];
    snprintf(disposition, sizeof disposition, "attachment; filename=\"%s\"", x->filename);
    http_response_header(x->req, "Content-Disposition", disposition);
    http_respond_start(x->req, 200,
                       x->json ? "application/json; charset=utf-8" : "text/csv; charset=utf-8",
                       export_writable, x);
    x->started = true;
    pv_buf_reset(&x->out);
    if (x->json) {
      http_respond_chunk(x->req, "[", 1);
    } else {
      const char *const *cols = x->entity == SEG_ACCOUNT ? account_cols : contact_cols;
      for (int i = 0; cols[i]; i++) pv_buf_addf(&x->out, "%s%s", i ? "," : "", cols[i]);
      pv_buf_addstr(&x->out, "\r\n");
      http_respond_chunk(x->req, x->out.data, x->out.len);
    }
    return export_step(x, FETCH_SQL, 0, NULL);
  }
  if (strncmp(cmd, "FETCH", 5) == 0) {
    int rows = PQntuples(res);
    int wrc = rows ? export_rows(x, res) : 0;
    PQclear(res);
    if (wrc == PV_EIO) { /* the reader is gone */
      x->failed = x->rolling_back = true;
      return export_step(x, "ROLLBACK", 0, NULL);
    }
    if (rows < EXPORT_FETCH_ROWS) return export_step(x, "COMMIT", 0, NULL);
    /* memory stays bounded: with the socket's backlog full, the next FETCH
     * waits for export_writable */
    if (wrc == PV_EBUSY) return;
    return export_step(x, FETCH_SQL, 0, NULL);
  }
  PQclear(res); /* COMMIT */
  export_finish(x);
}

static void export_step(export_job *x, const char *sql, int n, const char *const *values) {
  pv_error e = PV_ERROR_INIT;
  if (pg_query_async(x->conn, http_request_loop(x->req), sql, n, values, export_done, x, &e)) {
    x->failed = true;
    export_finish(x);
  }
}

static void export_acquired(pg_pool *p, pg_conn *c, int rc, void *arg) {
  (void)p;
  export_job *x = arg;
  if (rc) return export_finish(x);
  x->conn = c;
  /* REPEATABLE READ: the whole file is one snapshot of the list */
  export_step(x, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL);
}

static void export_list(http_request *req, PGresult *res, void *ctx) {
  export_job *x = ctx;
  if (PQntuples(res) < 1) {
    cmpl_not_found(req, "list");
    pv_buf_release(&x->out);
    return free(x);
  }
  if (seg_entity_parse(PQgetvalue(res, 0, 0), &x->entity)) x->entity = SEG_CONTACT;
  /* the file name: the list's name reduced to [A-Za-z0-9_-], then its id */
  char base[48];
  size_t o = 0;
  for (const char *s = PQgetvalue(res, 0, 1); *s && o + 1 < sizeof base; s++) {
    char ch = *s;
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_';
    base[o++] = ok ? ch : '_';
  }
  base[o] = '\0';
  snprintf(x->filename, sizeof x->filename, "%s-%s.%s", o ? base : "list", x->list_id,
           x->json ? "json" : "csv");
  api *a = http_request_app(req);
  x->pool = a->db;
  if (pg_pool_acquire(a->db, export_acquired, x)) {
    cmpl_fail(req, PV_EBUSY, NULL, "too many queries wait; retry");
    pv_buf_release(&x->out);
    free(x);
  }
}

void api_lists_export(http_request *req) {
  const api_principal *ap = api_principal_of(req);
  char format[8] = "";
  if (cmpl_query_param(req, "format", format, sizeof format) < 0) return;
  size_t len = 0;
  const char *raw = http_request_body(req, &len);
  if (!format[0] && len) {
    cJSON *body = cJSON_Parse(raw);
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(body, "format");
    if (cJSON_IsString(f)) snprintf(format, sizeof format, "%s", f->valuestring);
    cJSON_Delete(body);
  }
  if (!format[0]) snprintf(format, sizeof format, "csv");
  if (strcmp(format, "csv") && strcmp(format, "json"))
    return cmpl_fail(req, PV_EINVAL, "/format", "format is \"csv\" or \"json\"");
  export_job *x = pv_xcalloc(1, sizeof *x);
  x->req = req;
  x->json = strcmp(format, "json") == 0;
  x->first = true;
  pv_buf_init(&x->out, 1 << 16);
  snprintf(x->tenant, sizeof x->tenant, "%s", ap->p.tenant);
  snprintf(x->list_id, sizeof x->list_id, "%s", http_request_param(req, "id"));
  const char *values[4];
  seg_vis_values(ap, values);
  values[3] = x->list_id;
  seg_query(req,
            "SELECT l.entity_type, l.name FROM rm_segments.lists l WHERE " SEG_VISIBLE("l")
            " AND l.id = $4",
            4, values, export_list, x, export_job_free);
}
