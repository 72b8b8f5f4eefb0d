/*
 * api_contacts — /api/contacts and /api/notes: the deterministic upsert
 * (POST; source, priority by source and observed time from the body,
 * defaulting to "api" and now), a user's edit (PATCH: source "manual"),
 * soft delete and restore, merge and unmerge, relink to the account of
 * the email's domain, the batch upsert and notes.
 *
 * Each write is one contact command through the writer (core/contacts.h).
 * Normalization (IDNA, libphonenumber) is most of an upsert's CPU, so it
 * runs before submit: inline for a single upsert, on libuv's thread pool
 * for a batch, leaving the writer thread only deciding.
 *
 * Batch: up to CRM_BATCH_MAX contacts, each its own command, all submitted
 * together so they share group commits. A row's failure (bad input or a
 * refused decide) is its own result; the others go on. With an
 * Idempotency-Key each row's key is the request's scope plus "#<index>",
 * so a retried batch answers every row as it first did.
 */
#include "adapters/http/handlers/api_crm.h"

#include "core/common/pv_time.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 1000 rows a request: issue 5's batch size; about 0.5 MB of JSON. */
#define CRM_BATCH_MAX 1000
/* A note's text: 10,000 bytes (arbitrary; a page of text). */
#define CRM_NOTE_MAX 10000

typedef struct contact_job {
  crm_guard guard;
  contact_upsert_arg up;
  contact_ext_id ext[CONTACT_MAX_EXT_IDS];
  contact_id_arg idarg;
  contact_merge_arg merge;
  char id[ENTITY_ID_LEN + 1];
  char winner[ENTITY_ID_LEN + 1], loser[ENTITY_ID_LEN + 1];
  char note_stream[ENTITY_STREAM_MAX + 1];
  char subject[ENTITY_STREAM_MAX + 1];
  const char *note_text;
  cJSON *json;
  int status;
  bool upsert;
} contact_job;

static void contact_job_free(void *p) {
  contact_job *j = p;
  contact_upsert_release(&j->up);
  cJSON_Delete(j->json);
  free(j);
}

static void fail(http_request *req, pv_error *e, cJSON *body) {
  http_respond_error(req, e);
  cJSON_Delete(body);
}

static const char *path_id(http_request *req) {
  const char *id = http_request_param(req, "id");
  if (entity_id_valid(id)) return id;
  pv_error e = PV_ERROR_INIT;
  pv_error_set(&e, PV_ENOTFOUND, NULL, "no such contact");
  http_respond_error(req, &e);
  return NULL;
}

static api_op *job_op(http_request *req, contact_job *j, const char *id,
                      writer_decide_fn decide, void *arg, void (*finish)(api_op *)) {
  api_op *op = crm_op(req, &j->guard, "contact", id);
  if (!op) {
    contact_job_free(j);
    return NULL;
  }
  j->guard.inner = decide;
  j->guard.inner_arg = arg;
  op->cmd.decide = crm_guard_decide;
  op->cmd.arg = &j->guard;
  op->data = j;
  op->data_free = contact_job_free;
  op->finish = finish;
  return op;
}

static void upsert_finish(api_op *op) {
  contact_job *j = op->data;
  int status = j->status;
  if (op->cmd.status == 0 && !op->cmd.replayed) {
    snprintf(op->entity_id, sizeof op->entity_id, "%s", j->up.id);
    if (j->upsert) status = j->up.created ? 201 : 200;
  } else if (op->cmd.replayed && j->upsert) {
    status = op->cmd.stream_version == 1 ? 201 : 200;
  }
  crm_answer(op, "contact", status);
}

static void upsert_route(http_request *req, const char *id, const char *source) {
  cJSON *body;
  if (crm_object_body(req, &body)) return;
  pv_error e = PV_ERROR_INIT;
  contact_job *j = pv_xcalloc(1, sizeof *j);
  int rc = crm_contact_input(body, source, &j->up.in, j->ext, &e);
  if (rc == 0) rc = contact_upsert_prepare(&j->up, &e);
  if (rc) {
    contact_upsert_release(&j->up);
    free(j);
    return fail(req, &e, body);
  }
  j->json = body;
  if (id) {
    snprintf(j->id, sizeof j->id, "%s", id);
    j->up.target_id = j->id;
  }
  j->status = 200;
  j->upsert = id == NULL;
  api_op *op = job_op(req, j, id, contact_upsert_decide, &j->up, upsert_finish);
  if (op) api_op_submit(op);
}

void api_contacts_upsert(http_request *req) { upsert_route(req, NULL, CRM_SOURCE_API); }

void api_contacts_update(http_request *req) {
  const char *id = path_id(req);
  if (id) upsert_route(req, id, CRM_SOURCE_MANUAL);
}

static void plain_finish(api_op *op) { crm_answer(op, "contact", 200); }

static void id_route(http_request *req, writer_decide_fn decide) {
  const char *id = path_id(req);
  if (!id) return;
  contact_job *j = pv_xcalloc(1, sizeof *j);
  snprintf(j->id, sizeof j->id, "%s", id);
  j->idarg.id = j->id;
  j->idarg.observed_at_us = (int64_t)pv_wall_us();
  api_op *op = job_op(req, j, id, decide, &j->idarg, plain_finish);
  if (op) api_op_submit(op);
}

void api_contacts_delete(http_request *req) { id_route(req, contact_delete_decide); }
void api_contacts_restore(http_request *req) { id_route(req, contact_restore_decide); }
void api_contacts_relink(http_request *req) { id_route(req, contact_relink_decide); }

/* The two ids of a merge, checked; answers on error. */
static int merge_ids(http_request *req, cJSON *body, contact_job *j) {
  pv_error e = PV_ERROR_INIT;
  const char *w = NULL, *l = NULL;
  int rc;
  if ((rc = http_json_string(body, "winner_id", true, &w, &e)) ||
      (rc = http_json_string(body, "loser_id", true, &l, &e)))
    goto out;
  if (!entity_id_valid(w)) rc = pv_error_set(&e, PV_ENOTFOUND, "/winner_id", "no such contact");
  else if (!entity_id_valid(l))
    rc = pv_error_set(&e, PV_ENOTFOUND, "/loser_id", "no such contact");
out:
  if (rc) {
    http_respond_error(req, &e);
    return rc;
  }
  snprintf(j->winner, sizeof j->winner, "%s", w);
  snprintf(j->loser, sizeof j->loser, "%s", l);
  j->merge = (contact_merge_arg){j->winner, j->loser};
  return 0;
}

/* merge and unmerge answer with the winner (their first event's stream). */
static void merge_finish(api_op *op) {
  contact_job *j = op->data;
  snprintf(op->entity_id, sizeof op->entity_id, "%s", j->winner);
  crm_answer(op, "contact", 200);
}

void api_contacts_merge(http_request *req) {
  cJSON *body;
  if (crm_object_body(req, &body)) return;
  contact_job *j = pv_xcalloc(1, sizeof *j);
  j->json = body;
  if (merge_ids(req, body, j)) return contact_job_free(j);
  /* If-Match guards the winner */
  api_op *op = job_op(req, j, j->winner, contact_merge_decide, &j->merge, merge_finish);
  if (op) api_op_submit(op);
}

/* Unmerge by the merged-away contact: its winner is read in the decide. */
static int unmerge_decide(writer_ctx *ctx, void *arg, pv_error *err) {
  contact_job *j = arg;
  contact_state st;
  contact_state_init(&st);
  int rc = contact_load(ctx, j->loser, &st, err);
  if (rc == 0 && (!st.exists || !st.merged_into[0]))
    rc = pv_error_set(err, PV_EINVAL, NULL, "contact %s is not merged into another", j->loser);
  if (rc == 0) snprintf(j->winner, sizeof j->winner, "%s", st.merged_into);
  contact_state_release(&st);
  if (rc) return rc;
  j->merge = (contact_merge_arg){j->winner, j->loser};
  return contact_unmerge_decide(ctx, &j->merge, err);
}

void api_contacts_unmerge(http_request *req) {
  const char *id = path_id(req);
  if (!id) return;
  contact_job *j = pv_xcalloc(1, sizeof *j);
  snprintf(j->loser, sizeof j->loser, "%s", id);
  /* If-Match guards the merged contact (the one named in the path) */
  api_op *op = job_op(req, j, id, unmerge_decide, j, merge_finish);
  if (op) api_op_submit(op);
}

/* ---- notes ------------------------------------------------------------- */

static int note_decide(writer_ctx *ctx, void *arg, pv_error *err) {
  contact_job *j = arg;
  uint64_t v = 0;
  int rc = writer_stream_version(ctx, j->subject, &v);
  if (rc) return pv_error_set(err, rc, NULL, "could not read the entity");
  if (v == 0) return pv_error_set(err, PV_ENOTFOUND, "/id", "no such %s", j->subject);
  pv_buf p = PV_BUF_INIT;
  msgpack_packer pk;
  mp_packer_init(&pk, &p);
  msgpack_pack_map(&pk, 2);
  mp_pack_cstr(&pk, "subject");
  mp_pack_cstr(&pk, j->subject);
  mp_pack_cstr(&pk, "text");
  mp_pack_cstr(&pk, j->note_text);
  rc = writer_emit(ctx, j->note_stream, 0, "note.added", 1, p.data, p.len, err);
  pv_buf_release(&p);
  return rc;
}

static void note_finish(api_op *op) { crm_answer(op, "note", 201); }

void api_notes_add(http_request *req) {
  cJSON *body;
  if (crm_object_body(req, &body)) return;
  pv_error e = PV_ERROR_INIT;
  const char *entity = NULL, *id = NULL, *text = NULL;
  int rc;
  if ((rc = http_json_string(body, "entity", true, &entity, &e)) ||
      (rc = http_json_string(body, "id", true, &id, &e)) ||
      (rc = http_json_string(body, "text", true, &text, &e)))
    return fail(req, &e, body);
  if (strcmp(entity, "contact") != 0 && strcmp(entity, "account") != 0) {
    pv_error_set(&e, PV_EINVAL, "/entity", "notes are on a \"contact\" or an \"account\"");
    return fail(req, &e, body);
  }
  if (!entity_id_valid(id)) {
    pv_error_set(&e, PV_ENOTFOUND, "/id", "no such %s", entity);
    return fail(req, &e, body);
  }
  size_t n = strlen(text);
  if (n == 0 || n > CRM_NOTE_MAX) {
    pv_error_set(&e, PV_EINVAL, "/text", "a note is 1 to %d bytes", CRM_NOTE_MAX);
    return fail(req, &e, body);
  }
  contact_job *j = pv_xcalloc(1, sizeof *j);
  j->json = body;
  j->note_text = text;
  entity_stream(entity, id, j->subject);
  /* a note's id: 32 random hex digits, as entity ids look */
  uint8_t r[ENTITY_ID_LEN / 2];
  randombytes_buf(r, sizeof r);
  char nid[ENTITY_ID_LEN + 1];
  sodium_bin2hex(nid, sizeof nid, r, sizeof r);
  entity_stream("note", nid, j->note_stream);
  const api_principal *ap = api_principal_of(req);
  api_op *op = api_op_new(req, ap->p.tenant, ap->actor);
  if (api_op_idempotency(op, &e)) {
    http_respond_error(req, &e);
    api_op_free(op);
    contact_job_free(j);
    return;
  }
  snprintf(op->entity_id, sizeof op->entity_id, "%s", nid);
  op->cmd.decide = note_decide;
  op->cmd.arg = j;
  op->data = j;
  op->data_free = contact_job_free;
  op->finish = note_finish;
  api_op_submit(op);
}

/* ---- batch ------------------------------------------------------------- */

typedef struct batch batch;

typedef struct batch_row {
  contact_upsert_arg up;
  contact_ext_id ext[CONTACT_MAX_EXT_IDS];
  batch *b;
  char key[EVT_MAX_IDEMPOTENCY + 24]; /* scope + "#<index>"; the scope leaves room */
  int rc; /* input error, or the command's */
  pv_error err;
  bool created, replayed;
  char id[ENTITY_ID_LEN + 1];
  uint64_t position;
  uint32_t events;
  uint64_t stream_version;
} batch_row;

struct batch {
  http_request *req;
  api *a;
  cJSON *json;
  const cJSON *items;
  batch_row *rows;
  size_t n, pending;
  uv_work_t work;
  char tenant[AUTH_ID_MAX];
  char actor[AUTH_ID_MAX + 8];
  char scope[EVT_MAX_IDEMPOTENCY + 1]; /* "" without Idempotency-Key */
};

static void batch_free(batch *b) {
  for (size_t i = 0; i < b->n; i++) contact_upsert_release(&b->rows[i].up);
  free(b->rows);
  cJSON_Delete(b->json);
  free(b);
}

/* Thread pool: every row into its input and normalized. */
static void batch_prepare(uv_work_t *w) {
  batch *b = w->data;
  size_t i = 0;
  for (const cJSON *c = b->items->child; c; c = c->next, i++) {
    batch_row *r = &b->rows[i];
    r->b = b;
    r->rc = crm_contact_input(c, CRM_SOURCE_API, &r->up.in, r->ext, &r->err);
    if (r->rc == 0) r->rc = contact_upsert_prepare(&r->up, &r->err);
    if (r->rc) {
      char prefix[32];
      snprintf(prefix, sizeof prefix, "/contacts/%zu", i);
      crm_error_prefix(&r->err, prefix);
    }
  }
}

static cJSON *row_error_json(const pv_error *e) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "status", pv_http_status(e->code));
  cJSON_AddStringToObject(o, "code", pv_err_name(e->code));
  cJSON_AddStringToObject(o, "title", pv_strerror(e->code));
  if (e->message[0]) cJSON_AddStringToObject(o, "detail", e->message);
  if (e->field[0]) cJSON_AddStringToObject(o, "field", e->field);
  if (e->hint[0]) cJSON_AddStringToObject(o, "hint", e->hint);
  return o;
}

static void batch_answer(batch *b) {
  cJSON *body = cJSON_CreateObject();
  cJSON *results = cJSON_AddArrayToObject(body, "results");
  size_t created = 0, updated = 0, unchanged = 0, failed = 0;
  uint64_t top = 0;
  log_reader *rd = NULL;
  if (log_read_begin(b->a->log, &rd)) rd = NULL;
  for (size_t i = 0; i < b->n; i++) {
    batch_row *r = &b->rows[i];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "index", (double)i);
    if (r->rc) {
      failed++;
      cJSON_AddNumberToObject(o, "status", pv_http_status(r->rc));
      cJSON_AddItemToObject(o, "error", row_error_json(&r->err));
    } else {
      uint64_t version = r->events ? r->stream_version + r->events - 1 : 0;
      if (!r->events && rd) {
        char stream[ENTITY_STREAM_MAX + 1];
        entity_stream("contact", r->id, stream);
        if (log_reader_stream_version(rd, b->tenant, stream, &version)) version = 0;
      }
      if (r->created) created++;
      else if (r->events) updated++;
      else unchanged++;
      if (r->position > top) top = r->position;
      cJSON_AddNumberToObject(o, "status", r->created ? 201 : 200);
      cJSON_AddStringToObject(o, "id", r->id);
      cJSON_AddBoolToObject(o, "created", r->created);
      cJSON_AddNumberToObject(o, "position", (double)r->position);
      cJSON_AddNumberToObject(o, "version", (double)version);
      if (r->replayed) cJSON_AddBoolToObject(o, "replayed", true);
    }
    cJSON_AddItemToArray(results, o);
  }
  if (rd) log_read_end(rd);
  if (!top) top = log_head(b->a->log);
  cJSON_AddNumberToObject(body, "created", (double)created);
  cJSON_AddNumberToObject(body, "updated", (double)updated);
  cJSON_AddNumberToObject(body, "unchanged", (double)unchanged);
  cJSON_AddNumberToObject(body, "failed", (double)failed);
  cJSON_AddNumberToObject(body, "position", (double)top);
  char text[32];
  snprintf(text, sizeof text, "%" PRIu64, top);
  http_response_header(b->req, "Pivotal-Position", text);
  http_respond_json(b->req, 200, body);
  batch_free(b);
}

static void row_finish(api_op *op) {
  batch_row *r = op->data;
  batch *b = r->b;
  writer_cmd *c = &op->cmd;
  r->rc = c->status;
  if (c->status) {
    r->err = c->error;
    char prefix[32];
    snprintf(prefix, sizeof prefix, "/contacts/%zu", (size_t)(r - b->rows));
    crm_error_prefix(&r->err, prefix);
  } else {
    r->replayed = c->replayed;
    r->events = c->event_count;
    r->stream_version = c->stream_version;
    r->position = c->first_position ? c->first_position + c->event_count - 1 : 0;
    if (c->replayed) {
      const char *dash = strchr(c->stream, '-');
      snprintf(r->id, sizeof r->id, "%s", dash ? dash + 1 : "");
      r->created = c->stream_version == 1;
    } else {
      snprintf(r->id, sizeof r->id, "%s", r->up.id);
      r->created = r->up.created;
    }
  }
  api_op_free(op);
  if (--b->pending == 0) batch_answer(b);
}

/* Loop: submit every prepared row. */
static void batch_submit(uv_work_t *w, int status) {
  batch *b = w->data;
  (void)status;
  b->pending = 1; /* held until every row is submitted */
  for (size_t i = 0; i < b->n; i++) {
    batch_row *r = &b->rows[i];
    if (r->rc) continue;
    api_op *op = api_op_new(b->req, b->tenant, b->actor);
    op->data = r;
    op->finish = row_finish;
    op->cmd.decide = contact_upsert_decide;
    op->cmd.arg = &r->up;
    if (b->scope[0]) {
      snprintf(r->key, sizeof r->key, "%s#%zu", b->scope, i);
      op->cmd.idempotency_key = r->key;
    }
    int rc = writer_submit(b->a->writer, &op->cmd);
    if (rc) {
      r->rc = pv_error_set(&r->err, rc, NULL, NULL);
      api_op_free(op);
      continue;
    }
    b->pending++;
  }
  if (--b->pending == 0) batch_answer(b);
}

void api_contacts_batch(http_request *req) {
  cJSON *body;
  if (crm_object_body(req, &body)) return;
  pv_error e = PV_ERROR_INIT;
  const cJSON *items = cJSON_GetObjectItemCaseSensitive(body, "contacts");
  size_t n = (size_t)cJSON_GetArraySize(items);
  if (!cJSON_IsArray(items)) {
    pv_error_set(&e, items ? PV_EBADTYPE : PV_EINVAL, "/contacts",
                 "\"contacts\" must be an array of contacts");
    return fail(req, &e, body);
  }
  if (n == 0 || n > CRM_BATCH_MAX) {
    pv_error_set(&e, PV_EINVAL, "/contacts", "a batch holds 1 to %d contacts", CRM_BATCH_MAX);
    return fail(req, &e, body);
  }
  for (const cJSON *m = body->child; m; m = m->next)
    if (strcmp(m->string, "contacts") != 0) {
      char f[128];
      snprintf(f, sizeof f, "/%s", m->string);
      pv_error_set(&e, PV_EINVAL, f, "unknown field \"%s\"", m->string);
      return fail(req, &e, body);
    }
  const api_principal *ap = api_principal_of(req);
  batch *b = pv_xcalloc(1, sizeof *b);
  b->req = req;
  b->a = http_request_app(req);
  b->json = body;
  b->items = items;
  b->n = n;
  b->rows = pv_xcalloc(n, sizeof *b->rows);
  snprintf(b->tenant, sizeof b->tenant, "%s", ap->p.tenant);
  snprintf(b->actor, sizeof b->actor, "%s", ap->actor);
  /* the request's key scoped as api_op_idempotency does; hashed when the
   * row suffix would not fit the log's idempotency field */
  api_op *probe = api_op_new(req, b->tenant, b->actor);
  int rc = api_op_idempotency(probe, &e);
  if (rc == 0 && probe->idempotency[0]) {
    if (strlen(probe->idempotency) + 6 <= EVT_MAX_IDEMPOTENCY) {
      snprintf(b->scope, sizeof b->scope, "%s", probe->idempotency);
    } else {
      uint8_t h[16];
      crypto_generichash(h, sizeof h, (const uint8_t *)probe->idempotency,
                         strlen(probe->idempotency), NULL, 0);
      memcpy(b->scope, "h:", 2);
      sodium_bin2hex(b->scope + 2, sizeof b->scope - 2, h, sizeof h);
    }
  }
  api_op_free(probe);
  if (rc) {
    http_respond_error(req, &e);
    batch_free(b);
    return;
  }
  b->work.data = b;
  rc = uv_queue_work(http_request_loop(req), &b->work, batch_prepare, batch_submit);
  if (rc) {
    pv_error_set(&e, PV_EBUSY, NULL, "could not queue the batch");
    http_respond_error(req, &e);
    batch_free(b);
  }
}
