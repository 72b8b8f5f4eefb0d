/*
 * api_suppressions — /api/suppressions: add (staff, or a client user for
 * its own client), remove (admin, with a reason), the just-in-time batch
 * check (one LMDB read per value through supp_check_batch, no PostgreSQL),
 * bulk upload of a CSV file (parsed by libcsv as the body streams in; one
 * command per row through supp_bulk_run on libuv's thread pool, since it
 * blocks), and the list and CSV export from the suppressions read model.
 */
#include "adapters/http/handlers/api_cmpl.h"
#include "core/suppressions.h"

#include <csv.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Values one check may hold. Arbitrary: a send batch's worth; about
 * 1 MiB of results at most. */
#define SUPP_CHECK_MAX 1000
/* Rows one upload may hold. Arbitrary: 100k rows of 255 bytes are about
 * 26 MiB of values in memory plus their results. */
#define SUPP_BULK_MAX_ROWS 100000

typedef struct supp_job {
  union {
    supp_add add;
    supp_remove remove;
  } cmd;
  bool is_remove;
  cJSON *body;  /* the strings the command points at */
  char client_id[AUTH_ID_MAX];
} supp_job;

static void supp_job_free(void *p) {
  supp_job *j = p;
  cJSON_Delete(j->body);
  free(j);
}

static void supp_finish(api_op *op) {
  supp_job *j = op->data;
  writer_cmd *c = &op->cmd;
  if (c->status) {
    http_respond_error(op->req, &c->error);
    return api_op_free(op);
  }
  uint64_t position = c->first_position ? c->first_position : j->cmd.add.position;
  if (j->is_remove) position = c->first_position;
  char text[32];
  snprintf(text, sizeof text, "%" PRIu64, position);
  http_response_header(op->req, "Pivotal-Position", text);
  cJSON *out = cJSON_CreateObject();
  const char *channel = j->is_remove ? j->cmd.remove.channel : j->cmd.add.channel;
  cJSON_AddStringToObject(out, "channel", channel);
  cJSON_AddStringToObject(out, "value", j->is_remove ? j->cmd.remove.key : j->cmd.add.key);
  cJSON_AddStringToObject(out, "scope", j->client_id[0] ? "client" : "global");
  if (j->client_id[0]) cJSON_AddStringToObject(out, "client_id", j->client_id);
  if (!j->is_remove) cJSON_AddBoolToObject(out, "already", j->cmd.add.already);
  cJSON_AddNumberToObject(out, "position", (double)position);
  http_respond_json(op->req, j->is_remove || j->cmd.add.already ? 200 : 201, out);
  api_op_free(op);
}

/* Reads the fields common to add and remove; answers on error. */
static int supp_fields(http_request *req, cJSON *body, supp_job *j, const char **channel,
                       const char **value, const char **reason, const char **region) {
  pv_error e = PV_ERROR_INIT;
  const api_principal *ap = api_principal_of(req);
  const char *client_id = NULL;
  int rc;
  if ((rc = http_json_string(body, "channel", true, channel, &e)) ||
      (rc = http_json_string(body, "value", true, value, &e)) ||
      (rc = http_json_string(body, "reason", true, reason, &e)) ||
      (rc = http_json_string(body, "client_id", false, &client_id, &e)) ||
      (rc = http_json_string(body, "default_region", false, region, &e))) {
    http_respond_error(req, &e);
    return rc;
  }
  if (strcmp(*channel, SUPP_CHANNEL_EMAIL) && strcmp(*channel, SUPP_CHANNEL_PHONE)) {
    cmpl_fail(req, PV_EINVAL, "/channel", "channel must be \"email\" or \"phone\"");
    return PV_EINVAL;
  }
  /* a client user's suppressions are its client's: the scope defaults to it */
  if (!client_id && cmpl_is_client(ap)) client_id = ap->p.client_id;
  if (client_id && strlen(client_id) >= sizeof j->client_id) {
    cmpl_fail(req, PV_EINVAL, "/client_id", "client_id too long");
    return PV_EINVAL;
  }
  snprintf(j->client_id, sizeof j->client_id, "%s", client_id ? client_id : "");
  if (!*region) *region = ((api *)http_request_app(req))->phone_region;
  return 0;
}

static void supp_submit(http_request *req, supp_job *j) {
  const api_principal *ap = api_principal_of(req);
  api_op *op = api_op_new(req, ap->p.tenant, ap->actor);
  op->data = j;
  op->data_free = supp_job_free;
  op->finish = supp_finish;
  pv_error e = PV_ERROR_INIT;
  int rc = api_op_idempotency(op, &e);
  if (rc == 0)
    rc = j->is_remove ? supp_remove_bind(&j->cmd.remove, &op->cmd, &e)
                      : supp_add_bind(&j->cmd.add, &op->cmd, &e);
  if (rc) {
    http_respond_error(req, &e);
    return api_op_free(op);
  }
  api_op_submit(op);
}

void api_supp_add(http_request *req) {
  cJSON *body;
  if (cmpl_object_body(req, &body)) return;
  supp_job *j = pv_xcalloc(1, sizeof *j);
  j->body = body;
  const char *channel, *value, *reason, *region = NULL, *source = "manual";
  pv_error e = PV_ERROR_INIT;
  if (supp_fields(req, body, j, &channel, &value, &reason, &region)) return supp_job_free(j);
  if (http_json_string(body, "source", false, &source, &e)) {
    http_respond_error(req, &e);
    return supp_job_free(j);
  }
  const api_principal *ap = api_principal_of(req);
  j->cmd.add = (supp_add){.by = cmpl_actor(ap), .channel = channel, .value = value,
                          .default_region = region, .client_id = j->client_id,
                          .reason = reason, .source = source};
  supp_submit(req, j);
}

void api_supp_remove(http_request *req) {
  cJSON *body;
  if (cmpl_object_body(req, &body)) return;
  supp_job *j = pv_xcalloc(1, sizeof *j);
  j->body = body;
  j->is_remove = true;
  const char *channel, *value, *reason, *region = NULL;
  if (supp_fields(req, body, j, &channel, &value, &reason, &region)) return supp_job_free(j);
  const api_principal *ap = api_principal_of(req);
  j->cmd.remove = (supp_remove){.by = cmpl_actor(ap), .channel = channel, .value = value,
                                .default_region = region, .client_id = j->client_id,
                                .reason = reason};
  supp_submit(req, j);
}

/* ---- the check ---------------------------------------------------------- */

static const char *status_name(supp_status s) {
  return s == SUPP_SUPPRESSED ? "suppressed" : s == SUPP_INVALID ? "invalid" : "contactable";
}

/* Appends the values of body[key] (an array of strings) as queries. */
static int check_values(const cJSON *body, const char *key, const char *channel,
                        const char *region, supp_query *q, size_t *n, pv_error *e) {
  const cJSON *arr = cJSON_GetObjectItemCaseSensitive(body, key);
  if (!arr) return 0;
  char field[32];
  snprintf(field, sizeof field, "/%s", key);
  if (!cJSON_IsArray(arr))
    return pv_error_set(e, PV_EBADTYPE, field, "\"%s\" must be an array of strings", key);
  int i = 0;
  for (const cJSON *v = arr->child; v; v = v->next, i++) {
    if (!cJSON_IsString(v)) {
      snprintf(field, sizeof field, "/%s/%d", key, i);
      return pv_error_set(e, PV_EBADTYPE, field, "a value must be a string");
    }
    if (*n == SUPP_CHECK_MAX)
      return pv_error_set(e, PV_ETOOBIG, field, "at most %d values per check", SUPP_CHECK_MAX);
    q[(*n)++] = (supp_query){channel, v->valuestring, region};
  }
  return 0;
}

void api_supp_check(http_request *req) {
  cJSON *body;
  if (cmpl_object_body(req, &body)) return;
  api *a = http_request_app(req);
  const api_principal *ap = api_principal_of(req);
  pv_error e = PV_ERROR_INIT;
  const char *client_id = NULL, *region = a->phone_region;
  supp_query *q = pv_xcalloc(SUPP_CHECK_MAX, sizeof *q);
  supp_result *r = NULL;
  size_t n = 0;
  int rc;
  if ((rc = http_json_string(body, "client_id", false, &client_id, &e)) ||
      (rc = http_json_string(body, "default_region", false, &region, &e)) ||
      (rc = check_values(body, "emails", SUPP_CHANNEL_EMAIL, region, q, &n, &e)) ||
      (rc = check_values(body, "phones", SUPP_CHANNEL_PHONE, region, q, &n, &e)))
    goto out;
  if (n == 0) {
    rc = pv_error_set(&e, PV_EINVAL, "/emails", "nothing to check");
    pv_error_hint(&e, "Send {\"emails\": [...], \"phones\": [...]}.");
    goto out;
  }
  /* a client user checks in its own client's scope, whatever it names */
  if (cmpl_is_client(ap)) client_id = ap->p.client_id;
  r = pv_xcalloc(n, sizeof *r);
  if ((rc = supp_check_batch(a->log, ap->p.tenant, client_id, q, n, r, &e))) goto out;
  cJSON *out = cJSON_CreateObject();
  cJSON *items = cJSON_AddArrayToObject(out, "results");
  for (size_t i = 0; i < n; i++) {
    cJSON *it = cJSON_CreateObject();
    cJSON_AddStringToObject(it, "channel", q[i].channel);
    cJSON_AddStringToObject(it, "value", q[i].value);
    cJSON_AddStringToObject(it, "normalized", r[i].key);
    cJSON_AddStringToObject(it, "status", status_name(r[i].status));
    cJSON_AddBoolToObject(it, "suppressed", r[i].status != SUPP_CONTACTABLE);
    if (r[i].status == SUPP_SUPPRESSED) {
      cJSON_AddStringToObject(it, "scope", r[i].global ? "global" : "client");
      cJSON_AddStringToObject(it, "reason", r[i].reason);
      cJSON_AddStringToObject(it, "source", r[i].source);
      char at[32];
      pv_format_rfc3339_us(r[i].at_us, at);
      cJSON_AddStringToObject(it, "at", at);
      cJSON_AddNumberToObject(it, "position", (double)r[i].position);
    }
    cJSON_AddItemToArray(items, it);
  }
  http_respond_json(req, 200, out);
out:
  if (rc) http_respond_error(req, &e);
  free(q);
  free(r);
  cJSON_Delete(body);
}

/* ---- bulk upload ---------------------------------------------------------- */

typedef struct supp_upload {
  http_request *req;
  api *app;
  struct csv_parser csv;
  char upload_id[EVT_MAX_IDEMPOTENCY];
  char tenant[AUTH_ID_MAX], actor[AUTH_ID_MAX + 8], client_id[AUTH_ID_MAX];
  char channel[8], reason[SUPP_REASON_MAX], source[SUPP_SOURCE_MAX];
  actor_ref by;
  char *field[2]; /* current row: value, reason */
  size_t col;
  size_t line;    /* rows seen, the header included */
  supp_row *rows;
  size_t n, cap;
  char **owned;   /* strings of the rows */
  supp_row_result *out;
  int rc;         /* of the upload (supp_bulk_run), or the first parse error */
  pv_error err;
  uv_work_t work;
} supp_upload;

static void upload_free(supp_upload *u) {
  csv_free(&u->csv);
  for (size_t i = 0; i < 2 * u->n; i++) free(u->owned[i]);
  free(u->field[0]);
  free(u->field[1]);
  free(u->owned);
  free(u->rows);
  free(u->out);
  free(u);
}

static void on_field(void *s, size_t len, void *ctx) {
  supp_upload *u = ctx;
  if (u->col < 2) {
    free(u->field[u->col]);
    u->field[u->col] = pv_xstrndup(s ? s : "", s ? len : 0);
  }
  u->col++;
}

static void on_row(int c, void *ctx) {
  (void)c;
  supp_upload *u = ctx;
  size_t cols = u->col;
  u->col = 0;
  u->line++;
  char *value = u->field[0], *reason = u->field[1];
  u->field[0] = u->field[1] = NULL;
  /* a header row naming its columns is skipped; so are blank lines */
  bool skip = cols == 0 || !value || !value[0] ||
              (u->line == 1 && (strcmp(value, "value") == 0 || strcmp(value, "email") == 0 ||
                                strcmp(value, "phone") == 0));
  if (skip || u->rc) {
    free(value);
    free(reason);
    return;
  }
  if (u->n == SUPP_BULK_MAX_ROWS) {
    u->rc = pv_error_set(&u->err, PV_ETOOBIG, NULL, "at most %d rows per upload",
                         SUPP_BULK_MAX_ROWS);
    free(value);
    free(reason);
    return;
  }
  if (u->n == u->cap) {
    u->cap = u->cap ? 2 * u->cap : 256;
    u->rows = pv_xrealloc(u->rows, u->cap * sizeof *u->rows);
    u->owned = pv_xrealloc(u->owned, 2 * u->cap * sizeof *u->owned);
  }
  u->owned[2 * u->n] = value;
  u->owned[2 * u->n + 1] = reason;
  u->rows[u->n++] = (supp_row){value, reason && reason[0] ? reason : NULL};
}

static void on_chunk(http_request *req, const char *data, size_t len, void *ctx) {
  (void)req;
  supp_upload *u = ctx;
  if (u->rc) return;
  if (csv_parse(&u->csv, data, len, on_field, on_row, u) != len)
    u->rc = pv_error_set(&u->err, PV_EINVAL, "/body", "not CSV: %s",
                         csv_strerror(csv_error(&u->csv)));
}

static void bulk_work(uv_work_t *w) {
  supp_upload *u = w->data;
  supp_bulk b = {.tenant = u->tenant, .actor = u->actor, .correlation_id = http_request_id(u->req),
                 .by = u->by, .upload_id = u->upload_id, .channel = u->channel,
                 .default_region = u->app->phone_region, .client_id = u->client_id,
                 .source = u->source, .default_reason = u->reason};
  u->out = pv_xcalloc(u->n ? u->n : 1, sizeof *u->out);
  u->rc = supp_bulk_run(u->app->writer, &b, u->rows, u->n, u->out, &u->err);
}

static void bulk_done(uv_work_t *w, int status) {
  (void)status;
  supp_upload *u = w->data;
  if (u->rc) {
    http_respond_error(u->req, &u->err);
    return upload_free(u);
  }
  size_t added = 0, already = 0, failed = 0;
  cJSON *out = cJSON_CreateObject();
  cJSON_AddStringToObject(out, "upload_id", u->upload_id);
  cJSON *errors = cJSON_CreateArray();
  for (size_t i = 0; i < u->n; i++) {
    if (u->out[i].status == 0) {
      u->out[i].already ? already++ : added++;
      continue;
    }
    failed++;
    cJSON *e = cJSON_CreateObject();
    cJSON_AddNumberToObject(e, "row", (double)i);
    cJSON_AddStringToObject(e, "value", u->rows[i].value);
    cJSON_AddStringToObject(e, "code", pv_err_name(u->out[i].status));
    cJSON_AddStringToObject(e, "message", u->out[i].message);
    cJSON_AddItemToArray(errors, e);
  }
  cJSON_AddNumberToObject(out, "rows", (double)u->n);
  cJSON_AddNumberToObject(out, "added", (double)added);
  cJSON_AddNumberToObject(out, "already", (double)already);
  cJSON_AddNumberToObject(out, "failed", (double)failed);
  cJSON_AddItemToObject(out, "errors", errors);
  http_respond_json(u->req, 200, out);
  upload_free(u);
}

static void on_end(http_request *req, int status, void *ctx) {
  supp_upload *u = ctx;
  if (status) {
    pv_error_set(&u->err, status, NULL, "the upload did not complete");
    http_respond_error(req, &u->err);
    return upload_free(u);
  }
  if (!u->rc && csv_fini(&u->csv, on_field, on_row, u) != 0)
    u->rc = pv_error_set(&u->err, PV_EINVAL, "/body", "not CSV: %s",
                         csv_strerror(csv_error(&u->csv)));
  if (!u->rc && u->n == 0) u->rc = pv_error_set(&u->err, PV_EINVAL, "/body", "no rows");
  if (u->rc) {
    http_respond_error(req, &u->err);
    return upload_free(u);
  }
  u->work.data = u;
  if (uv_queue_work(http_request_loop(req), &u->work, bulk_work, bulk_done) != 0) {
    cmpl_fail(req, PV_EBUSY, NULL, "could not start the upload");
    upload_free(u);
  }
}

/* POST /api/suppressions/bulk?channel=email&reason=...&client_id=...
 * with a text/csv body: one value per row, an optional second column
 * giving that row's reason. Idempotency-Key names the upload (a retry is
 * answered from the first run's records). */
void api_supp_bulk(http_request *req) {
  const api_principal *ap = api_principal_of(req);
  supp_upload *u = pv_xcalloc(1, sizeof *u);
  u->req = req;
  u->app = http_request_app(req);
  int rc;
  const char *ct = http_request_header(req, "Content-Type");
  if (!ct || strncasecmp(ct, "text/csv", 8) != 0) {
    cmpl_fail(req, PV_EUNSUPPORTED, "/headers/content-type", "send text/csv");
    return free(u);
  }
  if ((rc = cmpl_query_param(req, "channel", u->channel, sizeof u->channel)) <= 0 ||
      (rc = cmpl_query_param(req, "reason", u->reason, sizeof u->reason)) <= 0) {
    if (rc == 0) cmpl_fail(req, PV_EINVAL, "/query", "channel and reason are required");
    return free(u);
  }
  if ((rc = cmpl_query_param(req, "client_id", u->client_id, sizeof u->client_id)) < 0 ||
      (rc = cmpl_query_param(req, "source", u->source, sizeof u->source)) < 0)
    return free(u);
  if (cmpl_is_client(ap) && !u->client_id[0])
    snprintf(u->client_id, sizeof u->client_id, "%s", ap->p.client_id);
  const char *key = http_request_header(req, "Idempotency-Key");
  if (key && (strlen(key) < 1 || strlen(key) > 64)) {
    cmpl_fail(req, PV_EINVAL, "/headers/idempotency-key", "invalid Idempotency-Key");
    return free(u);
  }
  char id[CMPL_ID_MAX];
  cmpl_new_id(id);
  snprintf(u->upload_id, sizeof u->upload_id, "%s:%s", ap->p.user_id, key ? key : id);
  if (!u->source[0]) snprintf(u->source, sizeof u->source, "csv:%.100s", key ? key : id);
  snprintf(u->tenant, sizeof u->tenant, "%s", ap->p.tenant);
  snprintf(u->actor, sizeof u->actor, "%s", ap->actor);
  u->by = cmpl_actor(ap);
  u->by.client_id = ap->p.client_id;
  if (csv_init(&u->csv, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0) {
    cmpl_fail(req, PV_ENOMEM, NULL, "out of memory");
    return free(u);
  }
  http_request_stream(req, on_chunk, on_end, u);
}

/* ---- the read model ----------------------------------------------------- */

#define SUPP_ROW_JSON                                                               \
  "json_build_object('channel', channel, 'value', value, 'raw', raw, 'scope', "     \
  "CASE WHEN client_id = '' THEN 'global' ELSE 'client' END, 'client_id', "        \
  "NULLIF(client_id, ''), 'reason', reason, 'source', source, 'at', at, 'actor', " \
  "actor, 'position', position)::text"

/* $1 tenant, $2 channel, $3 scope, $4 client, $5 reason ('' = any). */
#define SUPP_FILTER                                                                    \
  "WHERE tenant = $1 AND ($2 = '' OR channel = $2) AND ($3 = '' OR "                   \
  "($3 = 'global') = (client_id = '')) AND ($4 = '' OR client_id = $4) AND ($5 = '' " \
  "OR reason = $5)"

typedef struct supp_filter {
  char channel[8], scope[8], client_id[AUTH_ID_MAX], reason[SUPP_REASON_MAX], cursor[24];
  int limit;
} supp_filter;

/* Reads the list filters; answers and returns non-zero on error. */
static int supp_filter_read(http_request *req, supp_filter *f) {
  memset(f, 0, sizeof *f);
  if (cmpl_query_param(req, "channel", f->channel, sizeof f->channel) < 0 ||
      cmpl_query_param(req, "scope", f->scope, sizeof f->scope) < 0 ||
      cmpl_query_param(req, "client_id", f->client_id, sizeof f->client_id) < 0 ||
      cmpl_query_param(req, "reason", f->reason, sizeof f->reason) < 0 ||
      cmpl_query_param(req, "cursor", f->cursor, sizeof f->cursor) < 0 ||
      cmpl_limit(req, &f->limit) < 0)
    return -1;
  if (f->scope[0] && strcmp(f->scope, "global") && strcmp(f->scope, "client")) {
    cmpl_fail(req, PV_EINVAL, "/query/scope", "scope must be \"global\" or \"client\"");
    return -1;
  }
  for (const char *p = f->cursor; *p; p++)
    if (*p < '0' || *p > '9') {
      cmpl_fail(req, PV_EINVAL, "/query/cursor", "invalid cursor");
      return -1;
    }
  return 0;
}

static void list_rows(http_request *req, PGresult *res, void *ctx) {
  cmpl_page(req, res, *(int *)ctx);
}

void api_supp_list(http_request *req) {
  supp_filter f;
  if (supp_filter_read(req, &f)) return;
  const api_principal *ap = api_principal_of(req);
  char limit[16];
  snprintf(limit, sizeof limit, "%d", f.limit + 1);
  const char *values[] = {ap->p.tenant, f.channel, f.scope, f.client_id, f.reason,
                          f.cursor[0] ? f.cursor : "9223372036854775807", limit};
  int *ctx = pv_xmalloc(sizeof *ctx);
  *ctx = f.limit;
  cmpl_query(req,
             "SELECT " SUPP_ROW_JSON ", position::text FROM rm_suppressions.current "
             SUPP_FILTER " AND position < $6::bigint ORDER BY position DESC LIMIT $7::int",
             7, values, list_rows, ctx, true);
}

static void export_rows(http_request *req, PGresult *res, void *ctx) {
  (void)ctx;
  http_response_header(req, "Content-Disposition", "attachment; filename=\"suppressions.csv\"");
  http_respond_start(req, 200, "text/csv; charset=utf-8");
  pv_buf out = PV_BUF_INIT;
  pv_buf_addstr(&out, "channel,value,scope,client_id,reason,source,at,position\r\n");
  int rows = PQntuples(res);
  for (int i = 0; i < rows; i++) {
    for (int k = 0; k < 8; k++) {
      if (k) pv_buf_addch(&out, ',');
      cmpl_csv_field(&out, PQgetvalue(res, i, k));
    }
    pv_buf_addstr(&out, "\r\n");
    /* 64 KiB per chunk: about one socket buffer; arbitrary */
    if (out.len >= 65536 || i == rows - 1) {
      http_respond_chunk(req, out.data, out.len);
      pv_buf_reset(&out);
    }
  }
  if (out.len) http_respond_chunk(req, out.data, out.len);
  pv_buf_release(&out);
  http_respond_end(req);
}

void api_supp_export(http_request *req) {
  supp_filter f;
  if (supp_filter_read(req, &f)) return;
  const api_principal *ap = api_principal_of(req);
  const char *values[] = {ap->p.tenant, f.channel, f.scope, f.client_id, f.reason};
  cmpl_query(req,
             "SELECT channel, value, CASE WHEN client_id = '' THEN 'global' ELSE 'client' END, "
             "client_id, reason, source, to_char(at AT TIME ZONE 'UTC', "
             "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), position::text "
             "FROM rm_suppressions.current " SUPP_FILTER " ORDER BY position",
             5, values, export_rows, NULL, false);
}

/* GET /api/suppressions/history?channel=&value=: every addition and
 * removal of one value, in log order (the value normalized as a check
 * would). */
static void history_rows(http_request *req, PGresult *res, void *ctx) {
  (void)ctx;
  pv_buf out = PV_BUF_INIT;
  pv_buf_addstr(&out, "{\"items\":");
  pv_buf_addstr(&out, PQntuples(res) ? PQgetvalue(res, 0, 0) : "[]");
  pv_buf_addch(&out, '}');
  http_respond(req, 200, "application/json", out.data, out.len);
  pv_buf_release(&out);
}

void api_supp_history(http_request *req) {
  api *a = http_request_app(req);
  const api_principal *ap = api_principal_of(req);
  char channel[8], value[SUPP_KEY_MAX], key[SUPP_KEY_MAX];
  int rc;
  if ((rc = cmpl_query_param(req, "channel", channel, sizeof channel)) < 0 ||
      (rc == 1 && (rc = cmpl_query_param(req, "value", value, sizeof value)) < 0))
    return;
  if (rc == 0) return cmpl_fail(req, PV_EINVAL, "/query", "channel and value are required");
  pv_error e = PV_ERROR_INIT;
  if (supp_normalize(channel, value, strlen(value), a->phone_region, key, &e)) {
    snprintf(e.field, sizeof e.field, "/query/value");
    return http_respond_error(req, &e);
  }
  const char *values[] = {ap->p.tenant, channel, key};
  cmpl_query(req,
             "SELECT coalesce(json_agg(json_build_object('position', position, 'action', "
             "action, 'scope', CASE WHEN client_id = '' THEN 'global' ELSE 'client' END, "
             "'client_id', NULLIF(client_id, ''), 'reason', reason, 'source', "
             "NULLIF(source, ''), 'at', at, 'actor', actor) ORDER BY position), "
             "'[]'::json)::text FROM rm_suppressions.history "
             "WHERE tenant = $1 AND channel = $2 AND value = $3",
             3, values, history_rows, NULL, false);
}
