/*
 * api_domain_sets — /api/domain-sets (issue 8): upload a domain file
 * (streamed), re-run the matching, the report and items (read model
 * rm_domain_sets), include / exclude items, expand to contacts, convert
 * to a static list, link to a campaign or order, archive.
 *
 * Long work (parse, match, expand) runs on the domain-set worker
 * (core/domainsets/ds_service.h), started on the first request that needs
 * it; the worker ends a job by handing its api_op back through the command
 * path's completion queue, so the answer leaves from the loop like any
 * command's. Small commands (include, exclude, link, archive) go straight
 * to the writer.
 *
 * The upload is answered once the set is recorded and matched (201 with
 * the report): the file is read as it arrives (never held by the HTTP
 * layer; counted against the route's limit), then parsed and matched on
 * the worker.
 */
#include "adapters/http/handlers/api_internal.h"
#include "core/domainsets/ds_service.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Items per page: 100 by default, 1000 at most (arbitrary; a page of
 * items is ~1 KiB each as JSON). */
#define DS_PAGE_DEFAULT 100
#define DS_PAGE_MAX 1000

/* ---- small helpers -------------------------------------------------------- */

static int hexval(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                        : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                               : -1;
}

/* The percent-decoded value of query parameter `name` into out; false when
 * absent (or too long, or badly encoded). */
static bool query_param(http_request *req, const char *name, char *out, size_t cap) {
  const char *q = http_request_query(req);
  size_t nlen = strlen(name);
  while (*q) {
    const char *amp = strchr(q, '&');
    size_t seg = amp ? (size_t)(amp - q) : strlen(q);
    if (seg > nlen && strncmp(q, name, nlen) == 0 && q[nlen] == '=') {
      size_t w = 0;
      for (size_t i = nlen + 1; i < seg; i++) {
        char c = q[i];
        if (c == '+') c = ' ';
        else if (c == '%') {
          if (i + 2 >= seg + 0 + 1 || hexval(q[i + 1]) < 0 || hexval(q[i + 2]) < 0) return false;
          c = (char)(hexval(q[i + 1]) * 16 + hexval(q[i + 2]));
          i += 2;
        }
        if (w + 1 >= cap) return false;
        out[w++] = c;
      }
      out[w] = 0;
      return true;
    }
    if (!amp) break;
    q = amp + 1;
  }
  return false;
}

static bool truthy(const char *s) {
  return strcmp(s, "true") == 0 || strcmp(s, "1") == 0 || strcmp(s, "yes") == 0;
}

static ds_service *service(api *a, pv_error *err) {
  if (!a->dsets && ds_service_start(&a->dsets, a->log, a->writer, err)) return NULL;
  return a->dsets;
}

static void fail(http_request *req, pv_error *e) { http_respond_error(req, e); }

/* A set id from the path: 32 lower-case hex digits, else not found. */
static const char *set_id_param(http_request *req) {
  const char *id = http_request_param(req, "id");
  char stream[DS_SET_STREAM_MAX + 1];
  return id && ds_set_stream(id, stream) == 0 ? id : NULL;
}

static void not_found(http_request *req) {
  pv_error e = PV_ERROR_INIT;
  pv_error_set(&e, PV_ENOTFOUND, NULL, "no such domain set");
  fail(req, &e);
}

/* ---- jobs on the worker --------------------------------------------------- */

static void job_free(void *p) {
  ds_job *j = p;
  pv_buf_release(&j->file);
  free(j);
}

/* Worker thread: back to the loop through the command path's queue. */
static void job_done(ds_job *j) {
  api_op *op = j->done_arg;
  op->cmd.done(&op->cmd);
}

static ds_job *job_new(http_request *req, ds_job_kind kind, api_op **op_out) {
  const api_principal *ap = api_principal_of(req);
  api_op *op = api_op_new(req, ap->p.tenant, ap->actor);
  ds_job *j = pv_xcalloc(1, sizeof *j);
  pv_buf_init(&j->file, 0);
  j->kind = kind;
  snprintf(j->tenant, sizeof j->tenant, "%s", ap->p.tenant);
  snprintf(j->actor, sizeof j->actor, "%s", ap->actor);
  snprintf(j->correlation, sizeof j->correlation, "%s", http_request_id(req));
  snprintf(j->client_id, sizeof j->client_id, "%s", ap->p.client_id);
  j->done = job_done;
  j->done_arg = op;
  op->data = j;
  op->data_free = job_free;
  *op_out = op;
  return j;
}

static void job_submit(api_op *op) {
  pv_error e = PV_ERROR_INIT;
  ds_service *s = service(op->app, &e);
  int rc = s ? ds_service_submit(s, op->data) : e.code;
  if (rc == 0) return;
  if (!e.code) pv_error_set(&e, rc, NULL, NULL);
  http_respond_error(op->req, &e);
  api_op_free(op);
}

static void position_header(http_request *req, uint64_t position) {
  char text[32];
  snprintf(text, sizeof text, "%" PRIu64, position);
  http_response_header(req, "Pivotal-Position", text);
}

static cJSON *report_json(const ds_report *r) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "rows", (double)r->rows);
  cJSON_AddNumberToObject(o, "items", (double)r->items);
  cJSON_AddNumberToObject(o, "duplicates", (double)r->duplicates);
  cJSON_AddNumberToObject(o, "invalid", (double)r->invalid);
  cJSON_AddNumberToObject(o, "excluded", (double)r->excluded);
  cJSON_AddNumberToObject(o, "exact", (double)r->exact);
  cJSON_AddNumberToObject(o, "fuzzy", (double)r->fuzzy);
  cJSON_AddNumberToObject(o, "none", (double)r->none);
  cJSON_AddNumberToObject(o, "matched_accounts", (double)r->matched_accounts);
  cJSON_AddNumberToObject(o, "matched_contacts", (double)r->matched_contacts);
  cJSON_AddNumberToObject(o, "unknown_domains", (double)r->unknown_domains);
  cJSON_AddNumberToObject(o, "match_rate", r->match_rate);
  cJSON *by = cJSON_AddObjectToObject(o, "by_rule");
  for (int i = 0; i < DS_RULE_COUNT; i++)
    cJSON_AddNumberToObject(by, ds_rule_name((ds_rule)i), (double)r->by_rule[i]);
  return o;
}

/* Upload and process: 201 / 200 with the set's id, run, status, report. */
static void run_finish(api_op *op) {
  ds_job *j = op->data;
  if (j->status) {
    http_respond_error(op->req, &j->error);
    api_op_free(op);
    return;
  }
  position_header(op->req, j->position);
  cJSON *body = cJSON_CreateObject();
  cJSON_AddStringToObject(body, "id", j->set_id);
  cJSON_AddStringToObject(body, "status", j->set_status);
  cJSON_AddNumberToObject(body, "run", (double)j->run);
  cJSON_AddNumberToObject(body, "position", (double)j->position);
  cJSON_AddItemToObject(body, "report", report_json(&j->report));
  int status = 200;
  if (j->kind == DS_JOB_UPLOAD) {
    char location[80];
    snprintf(location, sizeof location, "/api/domain-sets/%s", j->set_id);
    http_response_header(op->req, "Location", location);
    status = 201;
  }
  http_respond_json(op->req, status, body);
  api_op_free(op);
}

/* ---- POST /api/domain-sets ------------------------------------------------ */

static void upload_chunk(http_request *req, const char *data, size_t len, void *ctx) {
  (void)req;
  api_op *op = ctx;
  ds_job *j = op->data;
  pv_buf_add(&j->file, data, len);
}

static void upload_end(http_request *req, int status, void *ctx) {
  api_op *op = ctx;
  if (status) {
    pv_error e = PV_ERROR_INIT;
    pv_error_set(&e, status, NULL, "the upload did not complete");
    http_respond_error(req, &e);
    api_op_free(op);
    return;
  }
  job_submit(op);
}

void api_domain_sets_upload(http_request *req) {
  pv_error e = PV_ERROR_INIT;
  char format[16] = "", stubs[8] = "";
  api_op *op;
  ds_job *j = job_new(req, DS_JOB_UPLOAD, &op);
  op->finish = run_finish;
  const char *ct = http_request_header(req, "Content-Type");
  bool fmt_given = query_param(req, "format", format, sizeof format);
  if (!fmt_given && ct) {
    if (strncasecmp(ct, "text/csv", 8) == 0) snprintf(format, sizeof format, "csv");
    else if (strncasecmp(ct, "text/plain", 10) == 0) snprintf(format, sizeof format, "txt");
  }
  if (strcmp(format, "csv") != 0 && strcmp(format, "txt") != 0) {
    pv_error_set(&e, fmt_given ? PV_EINVAL : PV_EUNSUPPORTED, fmt_given ? "/query/format" : NULL,
                 "the file must be CSV or TXT");
    pv_error_hint(&e, "Send Content-Type text/csv or text/plain, or ?format=csv|txt.");
    goto fail;
  }
  j->format = strcmp(format, "csv") == 0 ? DS_FORMAT_CSV : DS_FORMAT_TXT;
  if (!query_param(req, "name", j->name, sizeof j->name) || !j->name[0]) {
    pv_error_set(&e, PV_EINVAL, "/query/name", "a name is required (?name=...)");
    goto fail;
  }
  query_param(req, "file_name", j->file_name, sizeof j->file_name);
  if (query_param(req, "create_stubs", stubs, sizeof stubs)) j->create_stubs = truthy(stubs);
  http_request_stream(req, upload_chunk, upload_end, op);
  return;
fail:
  fail(req, &e);
  api_op_free(op);
}

/* ---- POST /api/domain-sets/:id/process, expand, convert-to-list ---------- */

static int object_body(http_request *req, cJSON **body, pv_error *e) {
  size_t len;
  http_request_body(req, &len);
  *body = NULL;
  if (len == 0) return 0; /* no body: defaults */
  int rc = http_request_json(req, body, e);
  if (rc == 0 && !cJSON_IsObject(*body))
    rc = pv_error_set(e, PV_EBADTYPE, "", "the body must be a JSON object");
  return rc;
}

void api_domain_sets_process(http_request *req) {
  const char *id = set_id_param(req);
  if (!id) return not_found(req);
  pv_error e = PV_ERROR_INIT;
  cJSON *body;
  bool stubs = false;
  if (object_body(req, &body, &e) || (body && http_json_bool(body, "create_stubs", false, &stubs, &e))) {
    cJSON_Delete(body);
    return fail(req, &e);
  }
  cJSON_Delete(body);
  api_op *op;
  ds_job *j = job_new(req, DS_JOB_PROCESS, &op);
  snprintf(j->set_id, sizeof j->set_id, "%s", id);
  j->create_stubs = stubs;
  op->finish = run_finish;
  job_submit(op);
}

/* Reads the expansion's filters: title (string), seniority and department
 * (arrays of names), include_orphans (default true). */
static int read_filters(const cJSON *body, ds_job *j, pv_error *e) {
  j->include_orphans = true;
  if (!body) return 0;
  const char *title = NULL;
  int rc = http_json_string(body, "title", false, &title, e);
  if (rc == 0) rc = http_json_bool(body, "include_orphans", false, &j->include_orphans, e);
  if (rc) return rc;
  if (title) snprintf(j->title, sizeof j->title, "%s", title);
  static const char *const lists[] = {"seniority", "department"};
  for (int l = 0; l < 2; l++) {
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(body, lists[l]);
    if (!arr) continue;
    if (!cJSON_IsArray(arr))
      return pv_error_set(e, PV_EBADTYPE, l ? "/department" : "/seniority", "must be an array of names");
    int idx = 0;
    for (const cJSON *v = arr->child; v; v = v->next, idx++) {
      int found = -1;
      if (cJSON_IsString(v))
        for (int b = 0; b < 16 && found < 0; b++) {
          const char *name = l ? norm_department_name((norm_department)b)
                               : norm_seniority_name((norm_seniority)b);
          if (strcmp(name, v->valuestring) == 0 && (b == 0 || strcmp(name, "unknown") != 0))
            found = b;
        }
      if (found < 0) {
        char field[48];
        snprintf(field, sizeof field, "/%s/%d", lists[l], idx);
        return pv_error_set(e, PV_EINVAL, field, "unknown %s", lists[l]);
      }
      if (l) j->department_mask |= 1u << found;
      else j->seniority_mask |= 1u << found;
    }
  }
  return 0;
}

static void expand_finish(api_op *op) {
  ds_job *j = op->data;
  if (j->status) {
    http_respond_error(op->req, &j->error);
    api_op_free(op);
    return;
  }
  cJSON *body = cJSON_CreateObject();
  int status = 200;
  if (j->kind == DS_JOB_CONVERT) {
    position_header(op->req, j->position);
    cJSON_AddStringToObject(body, "list_id", j->out_id);
    cJSON_AddNumberToObject(body, "position", (double)j->position);
    status = 201;
  }
  cJSON_AddNumberToObject(body, "contacts", (double)j->contacts);
  cJSON_AddNumberToObject(body, "from_accounts", (double)j->from_accounts);
  cJSON_AddNumberToObject(body, "orphans", (double)j->orphans);
  cJSON_AddNumberToObject(body, "accounts", (double)j->accounts);
  cJSON *sample = cJSON_AddArrayToObject(body, "sample_ids");
  for (size_t i = 0; i < j->sample_count; i++)
    cJSON_AddItemToArray(sample, cJSON_CreateString(j->sample[i]));
  http_respond_json(op->req, status, body);
  api_op_free(op);
}

static void expand_or_convert(http_request *req, ds_job_kind kind) {
  const char *id = set_id_param(req);
  if (!id) return not_found(req);
  pv_error e = PV_ERROR_INIT;
  cJSON *body;
  if (object_body(req, &body, &e)) return fail(req, &e);
  api_op *op;
  ds_job *j = job_new(req, kind, &op);
  snprintf(j->set_id, sizeof j->set_id, "%s", id);
  op->finish = expand_finish;
  const char *name = NULL;
  int rc = read_filters(body, j, &e);
  if (rc == 0 && kind == DS_JOB_CONVERT) {
    rc = body ? http_json_string(body, "name", true, &name, &e)
              : pv_error_set(&e, PV_EINVAL, "/name", "a list name is required");
    if (rc == 0 && (!name[0] || strlen(name) > DS_SET_NAME_MAX))
      rc = pv_error_set(&e, PV_EINVAL, "/name", "the name must be 1 to %d bytes", DS_SET_NAME_MAX);
    if (rc == 0) snprintf(j->list_name, sizeof j->list_name, "%s", name);
  }
  cJSON_Delete(body);
  if (rc) {
    fail(req, &e);
    api_op_free(op);
    return;
  }
  job_submit(op);
}

void api_domain_sets_expand(http_request *req) { expand_or_convert(req, DS_JOB_EXPAND); }
void api_domain_sets_convert(http_request *req) { expand_or_convert(req, DS_JOB_CONVERT); }

/* ---- small commands -------------------------------------------------------- */

typedef struct cmd_job {
  ds_cmd_arg arg;
  char set_id[DS_SET_ID_LEN + 1];
  char client_id[DS_CLIENT_ID_MAX + 1];
  char reason[256], target_type[16], target_id[80];
} cmd_job;

static void cmd_finish(api_op *op) {
  cmd_job *c = op->data;
  api_op_answer(op, c->arg.kind == DS_CMD_LINK && c->arg.changed ? 201 : 200, 0);
}

static void small_cmd(http_request *req, ds_cmd_kind kind) {
  const char *id = set_id_param(req);
  if (!id) return not_found(req);
  pv_error e = PV_ERROR_INIT;
  cJSON *body = NULL;
  int rc = kind == DS_CMD_ARCHIVE ? 0 : object_body(req, &body, &e);
  cmd_job *c = pv_xcalloc(1, sizeof *c);
  snprintf(c->set_id, sizeof c->set_id, "%s", id);
  c->arg.kind = kind;
  c->arg.set_id = c->set_id;
  const api_principal *ap = api_principal_of(req);
  if (ap->p.client_id[0]) {
    snprintf(c->client_id, sizeof c->client_id, "%s", ap->p.client_id);
    c->arg.client_id = c->client_id;
  }
  if (rc == 0 && (kind == DS_CMD_EXCLUDE || kind == DS_CMD_INCLUDE)) {
    const char *n = http_request_param(req, "n");
    char *end;
    unsigned long v = strtoul(n, &end, 10);
    if (!isdigit((unsigned char)n[0]) || *end || v > UINT32_MAX)
      rc = pv_error_set(&e, PV_ENOTFOUND, NULL, "no such item");
    c->arg.n = (uint32_t)v;
    const char *reason = NULL;
    if (rc == 0 && body) rc = http_json_string(body, "reason", false, &reason, &e);
    if (rc == 0 && reason) {
      snprintf(c->reason, sizeof c->reason, "%s", reason);
      c->arg.reason = c->reason;
    }
  } else if (rc == 0 && kind == DS_CMD_LINK) {
    const char *type = NULL, *target = NULL;
    if (!body) rc = pv_error_set(&e, PV_EINVAL, "/target_type", "target_type is required");
    if (rc == 0) rc = http_json_string(body, "target_type", true, &type, &e);
    if (rc == 0) rc = http_json_string(body, "target_id", true, &target, &e);
    if (rc == 0) {
      snprintf(c->target_type, sizeof c->target_type, "%.15s", type);
      snprintf(c->target_id, sizeof c->target_id, "%.79s", target);
      c->arg.target_type = c->target_type;
      c->arg.target_id = c->target_id;
    }
  }
  cJSON_Delete(body);
  if (rc) {
    free(c);
    return fail(req, &e);
  }
  api_op *op = api_op_new(req, ap->p.tenant, ap->actor);
  op->data = c;
  op->data_free = free;
  snprintf(op->entity_id, sizeof op->entity_id, "%s", c->set_id);
  if (api_op_idempotency(op, &e)) {
    http_respond_error(req, &e);
    api_op_free(op);
    return;
  }
  op->cmd.decide = ds_cmd_decide;
  op->cmd.arg = &c->arg;
  op->finish = cmd_finish;
  api_op_submit(op);
}

void api_domain_sets_exclude(http_request *req) { small_cmd(req, DS_CMD_EXCLUDE); }
void api_domain_sets_include(http_request *req) { small_cmd(req, DS_CMD_INCLUDE); }
void api_domain_sets_link(http_request *req) { small_cmd(req, DS_CMD_LINK); }
void api_domain_sets_archive(http_request *req) { small_cmd(req, DS_CMD_ARCHIVE); }

/* ---- queries (read model) -------------------------------------------------- */

typedef struct query_ctx {
  http_request *req;
} query_ctx;

/* Answers a one-row, one-column JSON text result; NULL is not found. */
static void on_json_row(pg_conn *c, int rc, PGresult *res, const pv_error *err, void *arg) {
  (void)c;
  http_request *req = arg;
  if (rc) {
    http_respond_error(req, err);
    PQclear(res);
    return;
  }
  if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
    PQclear(res);
    return not_found(req);
  }
  cJSON *json = cJSON_Parse(PQgetvalue(res, 0, 0));
  PQclear(res);
  if (!json) {
    pv_error e = PV_ERROR_INIT;
    pv_error_set(&e, PV_EINTERNAL, NULL, "could not read the domain set");
    return fail(req, &e);
  }
  http_respond_json(req, 200, json);
}

static bool db_or_503(http_request *req, api *a) {
  if (a->db) return true;
  pv_error e = PV_ERROR_INIT;
  pv_error_set(&e, PV_EUNAVAILABLE, NULL, "no read-model database is configured");
  fail(req, &e);
  return false;
}

static void query(http_request *req, const char *sql, int n, const char *const *values) {
  api *a = http_request_app(req);
  int rc = pg_pool_query(a->db, sql, n, values, on_json_row, req);
  if (rc) {
    pv_error e = PV_ERROR_INIT;
    pv_error_set(&e, rc, NULL, NULL);
    if (rc == PV_EBUSY) http_response_header(req, "Retry-After", "1");
    fail(req, &e);
  }
}

/* The set with its report counted from its included items. */
static const char sql_get[] =
    "WITH s AS (SELECT * FROM rm_domain_sets.sets WHERE tenant = $1 AND set_id = $2 "
    "  AND ($3 = '' OR client_id = $3)), "
    "i AS (SELECT * FROM rm_domain_sets.items WHERE tenant = $1 AND set_id = $2), "
    "c AS (SELECT count(*) FILTER (WHERE NOT valid) AS invalid, "
    "  count(*) FILTER (WHERE excluded) AS excluded, "
    "  count(*) FILTER (WHERE valid AND NOT excluded) AS valid_included, "
    "  count(*) FILTER (WHERE valid AND NOT excluded AND match = 'exact') AS exact, "
    "  count(*) FILTER (WHERE valid AND NOT excluded AND match = 'fuzzy') AS fuzzy, "
    "  count(*) FILTER (WHERE valid AND NOT excluded AND match = 'none') AS none, "
    "  count(DISTINCT account_id) FILTER (WHERE valid AND NOT excluded AND match <> 'none') "
    "    AS matched_accounts FROM i) "
    "SELECT json_build_object('id', s.set_id, 'name', s.name, 'file_name', s.file_name, "
    "  'format', s.format, 'size_bytes', s.size_bytes, 'header', s.header, 'status', s.status, "
    "  'run', s.run, 'error', s.error, 'archived', s.archived, 'client_id', s.client_id, "
    "  'index_position', s.index_position, 'created_at', s.created_at, "
    "  'updated_at', s.updated_at, "
    "  'report', json_build_object('rows', s.rows, 'items', s.item_count, "
    "    'duplicates', s.duplicates, 'invalid', c.invalid, 'excluded', c.excluded, "
    "    'exact', c.exact, 'fuzzy', c.fuzzy, 'none', c.none, 'unknown_domains', c.none, "
    "    'matched_accounts', c.matched_accounts, "
    "    'matched_contacts', (SELECT coalesce(sum(contacts), 0) FROM (SELECT DISTINCT ON "
    "      (account_id) contacts FROM i WHERE valid AND NOT excluded AND match <> 'none' "
    "      ORDER BY account_id, n) d), "
    "    'match_rate', CASE WHEN c.valid_included = 0 THEN 0 ELSE "
    "      round((c.exact + c.fuzzy)::numeric / c.valid_included, 4) END, "
    "    'by_rule', (SELECT coalesce(json_object_agg(rule, k), '{}') FROM (SELECT rule, "
    "      count(*) AS k FROM i WHERE valid AND NOT excluded GROUP BY rule) r)), "
    "  'links', (SELECT coalesce(json_agg(json_build_object('target_type', target_type, "
    "    'target_id', target_id) ORDER BY target_type, target_id), '[]') "
    "    FROM rm_domain_sets.links WHERE tenant = $1 AND set_id = $2), "
    "  'stub_accounts', (SELECT coalesce(json_agg(json_build_object('n', n, 'account_id', "
    "    account_id) ORDER BY n), '[]') FROM rm_domain_sets.stubs "
    "    WHERE tenant = $1 AND set_id = $2))::text "
    "FROM s, c";

void api_domain_sets_get(http_request *req) {
  api *a = http_request_app(req);
  const char *id = set_id_param(req);
  if (!id) return not_found(req);
  if (!db_or_503(req, a)) return;
  const api_principal *ap = api_principal_of(req);
  const char *values[] = {ap->p.tenant, id, ap->p.client_id};
  query(req, sql_get, 3, values);
}

/* A page of items: ?match= filters, ?after=N continues after item N. */
static const char sql_items[] =
    "SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM rm_domain_sets.sets WHERE tenant = $1 "
    "  AND set_id = $2 AND ($3 = '' OR client_id = $3)) THEN NULL ELSE "
    "(SELECT json_build_object('items', coalesce(json_agg(json_build_object('n', n, "
    "  'row', row_number, 'original', original, 'repaired', nullif(repaired, ''), "
    "  'repairs', repairs, 'valid', valid, 'invalid_reason', nullif(invalid_reason, ''), "
    "  'domain', nullif(domain, ''), 'registrable', nullif(registrable, ''), "
    "  'account_name', nullif(account_name, ''), 'notes', nullif(notes, ''), "
    "  'duplicates', dup_count, 'excluded', excluded, 'match', match, 'rule', rule, "
    "  'account_id', account_id, 'confidence', confidence, 'contacts', contacts, "
    "  'runner_up_account_id', runner_up_account_id, "
    "  'runner_up_confidence', runner_up_confidence) ORDER BY n), '[]'), "
    "  'next_after', CASE WHEN count(*) = $6::int THEN max(n) END)::text "
    " FROM (SELECT * FROM rm_domain_sets.items WHERE tenant = $1 AND set_id = $2 "
    "   AND ($4 = '' OR match = $4) AND n > $5::int ORDER BY n LIMIT $6::int) p) END";

void api_domain_sets_items(http_request *req) {
  api *a = http_request_app(req);
  const char *id = set_id_param(req);
  if (!id) return not_found(req);
  pv_error e = PV_ERROR_INIT;
  char match[16] = "", after[16] = "-1", limit[16] = "";
  if (query_param(req, "match", match, sizeof match) && strcmp(match, "exact") != 0 &&
      strcmp(match, "fuzzy") != 0 && strcmp(match, "none") != 0) {
    pv_error_set(&e, PV_EINVAL, "/query/match", "match must be exact, fuzzy or none");
    return fail(req, &e);
  }
  char *end;
  if (query_param(req, "after", after, sizeof after)) {
    long v = strtol(after, &end, 10);
    if (*end || v < 0 || v > INT32_MAX) {
      pv_error_set(&e, PV_EINVAL, "/query/after", "after must be an item number");
      return fail(req, &e);
    }
  }
  long lim = DS_PAGE_DEFAULT;
  if (query_param(req, "limit", limit, sizeof limit)) {
    lim = strtol(limit, &end, 10);
    if (*end || lim < 1 || lim > DS_PAGE_MAX) {
      pv_error_set(&e, PV_EINVAL, "/query/limit", "limit must be 1 to %d", DS_PAGE_MAX);
      return fail(req, &e);
    }
  }
  snprintf(limit, sizeof limit, "%ld", lim);
  if (!db_or_503(req, a)) return;
  const api_principal *ap = api_principal_of(req);
  const char *values[] = {ap->p.tenant, id, ap->p.client_id, match, after, limit};
  query(req, sql_items, 6, values);
}
