/*
 * api_bulk — bulk operations on a selection of contacts or accounts
 * (POST /api/contacts/bulk, /api/accounts/bulk) run as jobs, and their
 * progress (GET /api/jobs/:id).
 *
 * A request names the ids, or a filter over the read model with the count
 * the client saw ("all N matching this filter": another count is 412, the
 * selection changed under the client), and an action: update fields (a user's edit, source "manual"), soft delete or
 * restore. One writer command records the job before anything is applied:
 * bulk_job.started on the tenant's stream "bulk_jobs" and the ids, in
 * order, as bulk_job.selected chunks on "bulk_job-<id>". The request then
 * answers 202 with the job id, and a thread of the job submits one command
 * per id, BULK_WINDOW in flight, each with the idempotency key
 * "job:<job id>:<index>": a job resumed after a crash or a stop submits
 * every id again and the writer answers the applied ones from their
 * idempotency records, so nothing is applied twice. When the last id is
 * answered the job writes bulk_job.finished (counts and the first
 * BULK_MAX_FAILURES failures) on "bulk_jobs".
 *
 * A restart finds the unfinished jobs of the default tenant (started
 * without finished on "bulk_jobs") and resumes them; GET reports a job of
 * another tenant left that way as "interrupted".
 *
 * Thread: handlers on the loop; each running job has its own thread that
 * only submits commands and waits for their answers (the writer's
 * answering thread calls back under the job's mutex).
 */
#include "adapters/http/handlers/api_crm.h"
#include "adapters/http/handlers/api_query.h"

#include "core/catalog.h"
#include "core/common/pv_time.h"

#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* 512 commands in flight per job: enough to fill the writer's group
 * commits (it takes what is queued, up to 4096) without a job starving
 * interactive requests queued behind it. */
#define BULK_WINDOW 512
/* ids per bulk_job.selected event: 4096 × 35 bytes ≈ 143 KiB, under the
 * log's 256 KiB event cap. */
#define BULK_CHUNK 4096
/* A selection of at most a million ids: issue 5's largest import; the
 * whole selection is recorded in one command (about 35 MB). */
#define BULK_MAX_IDS 1000000
/* Failures kept for the report: the first 1000 (arbitrary; the counts are
 * exact). */
#define BULK_MAX_FAILURES 1000
/* Jobs running at once per api: each has a thread; 4 is arbitrary and
 * enough for a console's bulk actions. A request beyond is 503; jobs
 * resumed at start all run. */
#define BULK_MAX_RUNNING 4

typedef enum bulk_entity { BULK_CONTACT, BULK_ACCOUNT } bulk_entity;
typedef enum bulk_action { BULK_UPDATE, BULK_DELETE, BULK_RESTORE } bulk_action;
typedef enum bulk_status { BULK_RUNNING, BULK_FINISHED, BULK_INTERRUPTED } bulk_status;

static const char *const entity_names[] = {"contact", "account"};
static const char *const action_names[] = {"update", "delete", "restore"};
static const char *const status_names[] = {"running", "finished", "interrupted"};

typedef struct bulk_job bulk_job;

typedef struct bulk_slot {
  writer_cmd cmd;
  bulk_job *job;
  size_t index;
  char key[64];
  contact_upsert_arg up;
  contact_id_arg cid;
  acct_write_arg aw;
  acct_id_arg aid;
  struct bulk_slot *next_free;
} bulk_slot;

typedef struct bulk_failure {
  size_t index;
  pv_error err;
} bulk_failure;

struct bulk_job {
  api *a;
  char id[ENTITY_ID_LEN + 1];
  char tenant[AUTH_ID_MAX];
  char actor[EVT_MAX_ACTOR + 1];
  bulk_entity entity;
  bulk_action action;
  char **ids;
  size_t total;
  /* update: the fields, parsed once; slots copy the prepared input */
  cJSON *fields;
  contact_upsert_arg ctpl;
  contact_ext_id ext[CONTACT_MAX_EXT_IDS];
  crm_acct_body atpl;
  /* progress, under mu */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bulk_status status;
  bool stop, resumed, thread_started;
  size_t next, inflight, done, failed;
  bulk_failure *failures;
  size_t failure_count;
  int64_t started_us, finished_us;
  uint64_t run_start_ns;
  bulk_slot *free_slots;
  bulk_slot *slots;
  pthread_t thread;
  bulk_job *next_job;
};

typedef struct crm_jobs {
  pthread_mutex_t mu;
  bulk_job *head;
} crm_jobs;

static crm_jobs *jobs_of(api *a) {
  if (!a->jobs) {
    a->jobs = pv_xcalloc(1, sizeof(crm_jobs));
    pthread_mutex_init(&a->jobs->mu, NULL);
  }
  return a->jobs;
}

static void job_free(bulk_job *j) {
  for (size_t i = 0; i < j->total; i++) free(j->ids[i]);
  free(j->ids);
  contact_upsert_release(&j->ctpl);
  cJSON_Delete(j->fields);
  free(j->failures);
  free(j->slots);
  pthread_mutex_destroy(&j->mu);
  pthread_cond_destroy(&j->cv);
  free(j);
}

static bulk_job *job_new(api *a) {
  bulk_job *j = pv_xcalloc(1, sizeof *j);
  j->a = a;
  pthread_mutex_init(&j->mu, NULL);
  pthread_cond_init(&j->cv, NULL);
  return j;
}

/* The update's fields into the job's template input (pure).
 * Returns: 0 or as crm_contact_input / crm_acct_input, field under /fields. */
static int job_fields(bulk_job *j, pv_error *err) {
  if (j->action != BULK_UPDATE) return 0;
  int rc;
  if (!cJSON_IsObject(j->fields))
    return pv_error_set(err, PV_EINVAL, "/fields", "an update needs \"fields\", an object");
  if (j->entity == BULK_CONTACT) {
    rc = crm_contact_input(j->fields, CRM_SOURCE_MANUAL, &j->ctpl.in, j->ext, err);
    if (rc == 0) rc = contact_upsert_prepare(&j->ctpl, err);
  } else {
    rc = crm_acct_input(j->fields, CRM_SOURCE_MANUAL, &j->atpl, err);
  }
  if (rc) crm_error_prefix(err, "/fields");
  return rc;
}

/* ---- the runner -------------------------------------------------------- */

/* Writer's answering thread. */
static void slot_done(writer_cmd *cmd) {
  bulk_slot *s = cmd->done_arg;
  bulk_job *j = s->job;
  pthread_mutex_lock(&j->mu);
  if (cmd->status) {
    j->failed++;
    if (j->failure_count < BULK_MAX_FAILURES) {
      bulk_failure *f = &j->failures[j->failure_count++];
      f->index = s->index;
      f->err = cmd->error;
    }
  } else {
    j->done++;
  }
  j->inflight--;
  s->next_free = j->free_slots;
  j->free_slots = s;
  pthread_cond_signal(&j->cv);
  pthread_mutex_unlock(&j->mu);
}

static void slot_fill(bulk_job *j, bulk_slot *s, size_t index) {
  const char *id = j->ids[index];
  s->job = j;
  s->index = index;
  snprintf(s->key, sizeof s->key, "job:%s:%zu", j->id, index);
  s->cmd = (writer_cmd){.tenant = j->tenant, .actor = j->actor, .correlation_id = j->id,
                        .idempotency_key = s->key, .done = slot_done, .done_arg = s};
  if (j->entity == BULK_CONTACT) {
    if (j->action == BULK_UPDATE) {
      s->up = j->ctpl; /* shallow: decide never changes the prepared input */
      s->up.target_id = id;
      s->cmd.decide = contact_upsert_decide;
      s->cmd.arg = &s->up;
    } else {
      s->cid = (contact_id_arg){.id = id};
      s->cmd.decide = j->action == BULK_DELETE ? contact_delete_decide : contact_restore_decide;
      s->cmd.arg = &s->cid;
    }
  } else {
    if (j->action == BULK_UPDATE) {
      s->aw = (acct_write_arg){.in = j->atpl.in, .id = id};
      s->cmd.decide = acct_update_decide;
      s->cmd.arg = &s->aw;
    } else {
      s->aid = (acct_id_arg){.id = id};
      s->cmd.decide = j->action == BULK_DELETE ? acct_delete_decide : acct_restore_decide;
      s->cmd.arg = &s->aid;
    }
  }
}

static int finished_decide(writer_ctx *ctx, void *arg, pv_error *err) {
  pv_buf *p = arg;
  return writer_emit(ctx, "bulk_jobs", LOG_EXPECT_ANY, "bulk_job.finished", 1, p->data, p->len,
                     err);
}

static void pack_failures(msgpack_packer *pk, const bulk_job *j) {
  msgpack_pack_array(pk, j->failure_count);
  for (size_t i = 0; i < j->failure_count; i++) {
    const bulk_failure *f = &j->failures[i];
    msgpack_pack_map(pk, 5);
    mp_pack_cstr(pk, "index");
    msgpack_pack_uint64(pk, f->index);
    mp_pack_cstr(pk, "id");
    mp_pack_cstr(pk, j->ids[f->index]);
    mp_pack_cstr(pk, "code");
    mp_pack_cstr(pk, pv_err_name(f->err.code));
    mp_pack_cstr(pk, "message");
    mp_pack_cstr(pk, f->err.message);
    mp_pack_cstr(pk, "field");
    mp_pack_cstr(pk, f->err.field);
  }
}

/* Writes bulk_job.finished. Returns: as writer_run. */
static int record_finished(bulk_job *j) {
  pv_buf p = PV_BUF_INIT;
  msgpack_packer pk;
  mp_packer_init(&pk, &p);
  msgpack_pack_map(&pk, 4);
  mp_pack_cstr(&pk, "job_id");
  mp_pack_cstr(&pk, j->id);
  mp_pack_cstr(&pk, "done");
  msgpack_pack_uint64(&pk, j->done);
  mp_pack_cstr(&pk, "failed");
  msgpack_pack_uint64(&pk, j->failed);
  mp_pack_cstr(&pk, "failures");
  pack_failures(&pk, j);
  char key[64];
  snprintf(key, sizeof key, "job:%s:finished", j->id);
  writer_cmd cmd = {.tenant = j->tenant, .actor = j->actor, .correlation_id = j->id,
                    .idempotency_key = key, .decide = finished_decide, .arg = &p};
  int rc = writer_run(j->a->writer, &cmd);
  pv_buf_release(&p);
  return rc;
}

static void *job_main(void *arg) {
  bulk_job *j = arg;
  pthread_mutex_lock(&j->mu);
  for (;;) {
    while (!j->stop && j->next < j->total && j->free_slots) {
      bulk_slot *s = j->free_slots;
      j->free_slots = s->next_free;
      size_t index = j->next++;
      j->inflight++;
      pthread_mutex_unlock(&j->mu);
      slot_fill(j, s, index);
      int rc = writer_submit(j->a->writer, &s->cmd);
      pthread_mutex_lock(&j->mu);
      if (rc) {
        /* the writer is stopping or failed: leave the job to a resume */
        j->inflight--;
        j->next--;
        s->next_free = j->free_slots;
        j->free_slots = s;
        j->stop = true;
      }
    }
    if (j->inflight == 0 && (j->stop || j->next == j->total)) break;
    pthread_cond_wait(&j->cv, &j->mu);
  }
  bool complete = j->next == j->total && !j->stop;
  pthread_mutex_unlock(&j->mu);
  int rc = complete ? record_finished(j) : PV_ESHUTDOWN;
  pthread_mutex_lock(&j->mu);
  j->status = rc == 0 ? BULK_FINISHED : BULK_INTERRUPTED;
  j->finished_us = (int64_t)pv_wall_us();
  pthread_mutex_unlock(&j->mu);
  return NULL;
}

/* Jobs running now. */
static size_t jobs_running(api *a) {
  crm_jobs *js = jobs_of(a);
  size_t running = 0;
  pthread_mutex_lock(&js->mu);
  for (bulk_job *o = js->head; o; o = o->next_job) {
    pthread_mutex_lock(&o->mu);
    running += o->status == BULK_RUNNING;
    pthread_mutex_unlock(&o->mu);
  }
  pthread_mutex_unlock(&js->mu);
  return running;
}

/* Adds j to the api's jobs and starts its thread (the cap on running jobs
 * is checked before a job is recorded: a recorded job always runs). */
static void job_start(bulk_job *j) {
  crm_jobs *js = jobs_of(j->a);
  j->slots = pv_xcalloc(BULK_WINDOW, sizeof *j->slots);
  for (size_t i = 0; i < BULK_WINDOW; i++) {
    j->slots[i].next_free = j->free_slots;
    j->free_slots = &j->slots[i];
  }
  j->failures = pv_xcalloc(BULK_MAX_FAILURES, sizeof *j->failures);
  j->status = BULK_RUNNING;
  j->run_start_ns = pv_mono_ns();
  if (!j->started_us) j->started_us = (int64_t)pv_wall_us();
  pthread_mutex_lock(&js->mu);
  if (pthread_create(&j->thread, NULL, job_main, j) == 0) j->thread_started = true;
  else j->status = BULK_INTERRUPTED;
  j->next_job = js->head;
  js->head = j;
  pthread_mutex_unlock(&js->mu);
}

void crm_jobs_stop(api *a) {
  crm_jobs *js = a->jobs;
  if (!js) return;
  pthread_mutex_lock(&js->mu);
  for (bulk_job *j = js->head; j; j = j->next_job) {
    pthread_mutex_lock(&j->mu);
    j->stop = true;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
  }
  pthread_mutex_unlock(&js->mu);
}

void crm_jobs_free(api *a) {
  crm_jobs *js = a->jobs;
  if (!js) return;
  crm_jobs_stop(a);
  bulk_job *j = js->head;
  while (j) {
    bulk_job *next = j->next_job;
    if (j->thread_started) pthread_join(j->thread, NULL);
    job_free(j);
    j = next;
  }
  pthread_mutex_destroy(&js->mu);
  free(js);
  a->jobs = NULL;
}

/* ---- reading jobs back from the log ------------------------------------- */

typedef struct job_scan {
  const char *want;   /* one job id, or NULL for every unfinished one */
  api *a;
  const char *tenant;
  /* for one job: its started and finished payloads (copies) */
  pv_buf started, finished;
  char actor[EVT_MAX_ACTOR + 1];
  int64_t started_us, finished_us;
  /* for all: the ids started and not finished */
  char (*open)[ENTITY_ID_LEN + 1];
  size_t open_count, open_cap;
} job_scan;

static bool payload_str(const uint8_t *p, size_t len, const char *key, char *out, size_t cap) {
  mp_reader r;
  mp_slice s;
  if (mp_map_find(p, len, key, &r) || mp_read_str(&r, &s) || s.len >= cap) return false;
  memcpy(out, s.ptr, s.len);
  out[s.len] = '\0';
  return true;
}

static int scan_visit(void *arg, const evt_envelope *e, const uint8_t *raw, size_t raw_len) {
  job_scan *sc = arg;
  (void)raw, (void)raw_len;
  char id[ENTITY_ID_LEN + 1];
  if (!payload_str(e->payload, e->payload_len, "job_id", id, sizeof id)) return 0;
  bool started = mp_slice_eq(e->type, "bulk_job.started");
  bool finished = mp_slice_eq(e->type, "bulk_job.finished");
  if (sc->want) {
    if (strcmp(id, sc->want) != 0) return 0;
    pv_buf *dst = started ? &sc->started : finished ? &sc->finished : NULL;
    if (dst) {
      pv_buf_reset(dst);
      pv_buf_add(dst, e->payload, e->payload_len);
    }
    if (started) {
      size_t n = e->actor.len < sizeof sc->actor ? e->actor.len : sizeof sc->actor - 1;
      memcpy(sc->actor, e->actor.ptr, n);
      sc->actor[n] = '\0';
      sc->started_us = e->ts_us;
    }
    if (finished) sc->finished_us = e->ts_us;
    return 0;
  }
  if (started) {
    if (sc->open_count == sc->open_cap) {
      sc->open_cap = sc->open_cap ? sc->open_cap * 2 : 8;
      sc->open = pv_xrealloc(sc->open, sc->open_cap * sizeof *sc->open);
    }
    snprintf(sc->open[sc->open_count++], ENTITY_ID_LEN + 1, "%s", id);
  } else if (finished) {
    for (size_t i = 0; i < sc->open_count; i++)
      if (strcmp(sc->open[i], id) == 0) {
        sc->open[i][0] = '\0';
        break;
      }
  }
  return 0;
}

/* Reads the tenant's "bulk_jobs" stream. Returns: 0 or a log error. */
static int scan_jobs(api *a, const char *tenant, job_scan *sc) {
  log_reader *rd;
  int rc = log_read_begin(a->log, &rd);
  if (rc) return rc;
  rc = log_read_stream(rd, tenant, "bulk_jobs", 1, scan_visit, sc);
  log_read_end(rd);
  return rc;
}

static void scan_release(job_scan *sc) {
  pv_buf_release(&sc->started);
  pv_buf_release(&sc->finished);
  free(sc->open);
}

static int ids_visit(void *arg, const evt_envelope *e, const uint8_t *raw, size_t raw_len) {
  bulk_job *j = arg;
  (void)raw, (void)raw_len;
  if (!mp_slice_eq(e->type, "bulk_job.selected")) return 0;
  mp_reader r;
  uint64_t offset;
  uint32_t n;
  if (mp_map_find(e->payload, e->payload_len, "offset", &r) || mp_read_uint(&r, &offset) ||
      mp_map_find(e->payload, e->payload_len, "ids", &r) || mp_read_array(&r, &n) ||
      offset + n > j->total)
    return PV_ECORRUPT;
  for (uint32_t i = 0; i < n; i++) {
    mp_slice s;
    if (mp_read_str(&r, &s) || s.len > ENTITY_ID_LEN) return PV_ECORRUPT;
    free(j->ids[offset + i]);
    j->ids[offset + i] = pv_xstrndup(s.ptr, s.len);
  }
  return 0;
}

/* The job as its started event (and ids) describe it, not yet running.
 * Returns: 0, PV_ENOTFOUND, PV_ECORRUPT. */
static int job_load(api *a, const char *tenant, const char *id, job_scan *sc, bulk_job **out) {
  const uint8_t *p = (const uint8_t *)sc->started.data;
  size_t len = sc->started.len;
  if (!len) return PV_ENOTFOUND;
  char entity[16], action[16];
  mp_reader r;
  uint64_t total;
  if (!payload_str(p, len, "entity", entity, sizeof entity) ||
      !payload_str(p, len, "action", action, sizeof action) ||
      mp_map_find(p, len, "total", &r) || mp_read_uint(&r, &total) || total > BULK_MAX_IDS)
    return PV_ECORRUPT;
  bulk_job *j = job_new(a);
  snprintf(j->id, sizeof j->id, "%s", id);
  snprintf(j->tenant, sizeof j->tenant, "%s", tenant);
  snprintf(j->actor, sizeof j->actor, "%s", sc->actor);
  j->entity = strcmp(entity, "account") == 0 ? BULK_ACCOUNT : BULK_CONTACT;
  j->action = strcmp(action, "update") == 0   ? BULK_UPDATE
              : strcmp(action, "delete") == 0 ? BULK_DELETE
                                              : BULK_RESTORE;
  j->total = (size_t)total;
  j->started_us = sc->started_us;
  j->ids = pv_xcalloc(total ? total : 1, sizeof *j->ids);
  mp_slice fields;
  if (mp_map_find(p, len, "fields", &r) == 0 && mp_read_str(&r, &fields) == 0)
    j->fields = cJSON_ParseWithLength(fields.ptr, fields.len);
  pv_error e = PV_ERROR_INIT;
  int rc = job_fields(j, &e) ? PV_ECORRUPT : 0;
  char stream[ENTITY_STREAM_MAX + 1];
  entity_stream("bulk_job", id, stream);
  log_reader *rd;
  if (rc == 0 && (rc = log_read_begin(a->log, &rd)) == 0) {
    rc = log_read_stream(rd, tenant, stream, 1, ids_visit, j);
    log_read_end(rd);
  }
  for (size_t i = 0; rc == 0 && i < j->total; i++)
    if (!j->ids[i]) rc = PV_ECORRUPT;
  if (rc) {
    job_free(j);
    return rc;
  }
  *out = j;
  return 0;
}

void crm_jobs_resume(api *a) {
  const char *tenant = a->cfg.default_tenant;
  job_scan sc = {.a = a, .tenant = tenant};
  if (scan_jobs(a, tenant, &sc) == 0) {
    for (size_t i = 0; i < sc.open_count; i++) {
      if (!sc.open[i][0]) continue;
      job_scan one = {.want = sc.open[i], .a = a, .tenant = tenant};
      bulk_job *j;
      if (scan_jobs(a, tenant, &one) == 0 && job_load(a, tenant, sc.open[i], &one, &j) == 0) {
        j->resumed = true;
        job_start(j);
      }
      scan_release(&one);
    }
  }
  scan_release(&sc);
}

/* ---- POST /api/{contacts,accounts}/bulk --------------------------------- */

typedef struct bulk_create {
  bulk_job *job;
  pv_buf started;
  pv_buf *chunks;
  size_t chunk_count;
  char stream[ENTITY_STREAM_MAX + 1];
} bulk_create;

static void bulk_create_free(void *p) {
  bulk_create *c = p;
  if (c->job) job_free(c->job);
  pv_buf_release(&c->started);
  for (size_t i = 0; i < c->chunk_count; i++) pv_buf_release(&c->chunks[i]);
  free(c->chunks);
  free(c);
}

static int create_decide(writer_ctx *ctx, void *arg, pv_error *err) {
  bulk_create *c = arg;
  int rc = writer_emit(ctx, "bulk_jobs", LOG_EXPECT_ANY, "bulk_job.started", 1, c->started.data,
                       c->started.len, err);
  for (size_t i = 0; rc == 0 && i < c->chunk_count; i++)
    rc = writer_emit(ctx, c->stream, LOG_EXPECT_ANY, "bulk_job.selected", 1, c->chunks[i].data,
                     c->chunks[i].len, err);
  return rc;
}

static void answer_job(http_request *req, const char *id, const char *status, size_t total,
                       uint64_t position) {
  char text[96];
  snprintf(text, sizeof text, "/api/jobs/%s", id);
  http_response_header(req, "Location", text);
  snprintf(text, sizeof text, "%" PRIu64, position);
  http_response_header(req, "Pivotal-Position", text);
  cJSON *body = cJSON_CreateObject();
  cJSON_AddStringToObject(body, "job_id", id);
  cJSON_AddStringToObject(body, "status", status);
  cJSON_AddNumberToObject(body, "total", (double)total);
  cJSON_AddNumberToObject(body, "position", (double)position);
  http_respond_json(req, 202, body);
}

static void create_finish(api_op *op) {
  bulk_create *c = op->data;
  writer_cmd *cmd = &op->cmd;
  if (cmd->status) {
    http_respond_error(op->req, &cmd->error);
    api_op_free(op);
    return;
  }
  uint64_t position = cmd->first_position;
  if (cmd->replayed) {
    /* a retried request: the first one's job (the started event names it) */
    char id[ENTITY_ID_LEN + 1] = "";
    log_reader *rd;
    evt_envelope e;
    const uint8_t *raw;
    size_t raw_len;
    if (log_read_begin(op->app->log, &rd) == 0) {
      if (log_read_event(rd, position, &e, &raw, &raw_len) == 0)
        payload_str(e.payload, e.payload_len, "job_id", id, sizeof id);
      log_read_end(rd);
    }
    http_response_header(op->req, "Idempotent-Replayed", "true");
    answer_job(op->req, id, "accepted", 0, position);
    api_op_free(op);
    return;
  }
  bulk_job *j = c->job;
  c->job = NULL;
  job_start(j);
  answer_job(op->req, j->id, j->status == BULK_RUNNING ? "running" : "interrupted", j->total,
             position + cmd->event_count - 1);
  api_op_free(op);
}

static int parse_ids(const cJSON *ids, bulk_job *j, pv_error *e) {
  if (!cJSON_IsArray(ids))
    return pv_error_set(e, PV_EBADTYPE, "/ids", "\"ids\" must be an array of ids");
  size_t n = (size_t)cJSON_GetArraySize(ids);
  if (n == 0 || n > BULK_MAX_IDS)
    return pv_error_set(e, PV_EINVAL, "/ids", "a selection holds 1 to %d ids", BULK_MAX_IDS);
  j->ids = pv_xcalloc(n, sizeof *j->ids);
  size_t i = 0;
  for (const cJSON *x = ids->child; x; x = x->next, i++) {
    if (!cJSON_IsString(x) || !entity_id_valid(x->valuestring)) {
      char f[32];
      snprintf(f, sizeof f, "/ids/%zu", i);
      j->total = i;
      return pv_error_set(e, PV_EINVAL, f, "not a %s id", entity_names[j->entity]);
    }
    j->ids[i] = pv_xstrdup(x->valuestring);
  }
  j->total = n;
  return 0;
}

/* started and selected payloads into c. */
static void pack_create(bulk_create *c, const cJSON *filter) {
  bulk_job *j = c->job;
  msgpack_packer pk;
  mp_packer_init(&pk, &c->started);
  msgpack_pack_map(&pk, 4 + (j->fields ? 1 : 0) + (filter ? 1 : 0));
  mp_pack_cstr(&pk, "job_id");
  mp_pack_cstr(&pk, j->id);
  mp_pack_cstr(&pk, "entity");
  mp_pack_cstr(&pk, entity_names[j->entity]);
  mp_pack_cstr(&pk, "action");
  mp_pack_cstr(&pk, action_names[j->action]);
  mp_pack_cstr(&pk, "total");
  msgpack_pack_uint64(&pk, j->total);
  if (j->fields) {
    char *text = cJSON_PrintUnformatted(j->fields);
    mp_pack_cstr(&pk, "fields");
    mp_pack_cstr(&pk, text);
    free(text);
  }
  if (filter) {
    char *text = cJSON_PrintUnformatted(filter);
    mp_pack_cstr(&pk, "filter");
    mp_pack_cstr(&pk, text);
    free(text);
  }
  c->chunk_count = (j->total + BULK_CHUNK - 1) / BULK_CHUNK;
  c->chunks = pv_xcalloc(c->chunk_count, sizeof *c->chunks);
  for (size_t k = 0; k < c->chunk_count; k++) {
    size_t from = k * BULK_CHUNK;
    size_t n = j->total - from < BULK_CHUNK ? j->total - from : BULK_CHUNK;
    mp_packer_init(&pk, &c->chunks[k]);
    msgpack_pack_map(&pk, 3);
    mp_pack_cstr(&pk, "job_id");
    mp_pack_cstr(&pk, j->id);
    mp_pack_cstr(&pk, "offset");
    msgpack_pack_uint64(&pk, from);
    mp_pack_cstr(&pk, "ids");
    msgpack_pack_array(&pk, n);
    for (size_t i = 0; i < n; i++) mp_pack_cstr(&pk, j->ids[from + i]);
  }
  entity_stream("bulk_job", j->id, c->stream);
}

/* Records the job (ids selected) and starts it once durable. */
static void bulk_record(http_request *req, bulk_job *j, const cJSON *filter) {
  pv_error e = PV_ERROR_INIT;
  const api_principal *ap = api_principal_of(req);
  uint8_t r[ENTITY_ID_LEN / 2];
  randombytes_buf(r, sizeof r);
  sodium_bin2hex(j->id, sizeof j->id, r, sizeof r);
  snprintf(j->tenant, sizeof j->tenant, "%s", ap->p.tenant);
  snprintf(j->actor, sizeof j->actor, "%s", ap->actor);
  bulk_create *c = pv_xcalloc(1, sizeof *c);
  c->job = j;
  pack_create(c, filter);
  api_op *op = api_op_new(req, ap->p.tenant, ap->actor);
  op->data = c;
  op->data_free = bulk_create_free;
  if (api_op_idempotency(op, &e)) {
    http_respond_error(req, &e);
    api_op_free(op);
    return;
  }
  op->cmd.correlation_id = j->id;
  op->cmd.decide = create_decide;
  op->cmd.arg = c;
  op->finish = create_finish;
  api_op_submit(op);
}

/* ---- selection by filter (the read models, schema/010) ----------------- */

/* The list filters of GET /api/contacts and /api/accounts
 * (api_contacts_read.c, api_accounts_read.c), selecting ids only. */
static const apiq_sort id_sort[] = {{"id", "r.id", APIQ_TEXT}};
static const apiq_filter contact_filters[] = {
    {"q", "r.search LIKE '%' || lower($?) || '%'", APIQ_CHECK_LIKE},
    {"email", "r.email = lower(btrim($?)) OR r.emails @> ARRAY[lower(btrim($?))]",
     APIQ_CHECK_TEXT},
    {"domain", "r.email_domain = lower(btrim($?))", APIQ_CHECK_TEXT},
    {"account_id", "r.account_id = $?", APIQ_CHECK_TEXT},
    {"seniority", "r.seniority = $?", APIQ_CHECK_TEXT},
    {"department", "r.department = $?", APIQ_CHECK_TEXT},
    {"updated_since", "r.updated_at >= $?::timestamptz", APIQ_CHECK_TIME},
};
static const apiq_filter account_filters[] = {
    {"q", "r.search LIKE '%' || lower($?) || '%'", APIQ_CHECK_LIKE},
    {"domain", "r.domain = lower(btrim($?)) OR r.alternate_domains @> ARRAY[lower(btrim($?))]",
     APIQ_CHECK_TEXT},
    {"industry", "r.industry = $?", APIQ_CHECK_TEXT},
    {"parent_id", "r.parent_id = $?", APIQ_CHECK_TEXT},
    {"updated_since", "r.updated_at >= $?::timestamptz", APIQ_CHECK_TIME},
};
static const apiq_resource select_from[] = {
    {.from = "rm_contacts.contacts r", .where = "r.tenant = $1 AND r.merged_into IS NULL",
     .live = "NOT r.deleted", .deleted = "r.deleted", .tiebreak = "r.id",
     .tiebreak_kind = APIQ_TEXT, .sorts = id_sort, .n_sorts = 1, .default_sort = "id",
     .filters = contact_filters, .n_filters = sizeof contact_filters / sizeof contact_filters[0],
     .item = "r.id"},
    {.from = "rm_accounts.accounts r", .where = "r.tenant = $1", .live = "NOT r.deleted",
     .deleted = "r.deleted", .tiebreak = "r.id", .tiebreak_kind = APIQ_TEXT, .sorts = id_sort,
     .n_sorts = 1, .default_sort = "id", .filters = account_filters,
     .n_filters = sizeof account_filters / sizeof account_filters[0], .item = "r.id"},
};

typedef struct bulk_select {
  http_request *req;
  bulk_job *j;
  apiq_query q;
  cJSON *filter;
  int64_t expected;
} bulk_select;

static void select_free(bulk_select *sel) {
  if (sel->j) job_free(sel->j);
  apiq_release(&sel->q);
  cJSON_Delete(sel->filter);
  free(sel);
}

static void selected(pg_conn *c, int rc, PGresult *res, const pv_error *qerr, void *arg) {
  bulk_select *sel = arg;
  (void)c;
  pv_error e = PV_ERROR_INIT;
  if (rc) {
    e = *qerr;
    pv_error_set(&e, rc, NULL, "could not select by the filter");
    pv_error_detail(&e, "%s", qerr->message);
  } else {
    size_t n = (size_t)PQntuples(res);
    if (n == 0 || n > BULK_MAX_IDS) {
      rc = pv_error_set(&e, PV_EINVAL, "/filter", "the filter matches %zu, not 1 to %d", n,
                        BULK_MAX_IDS);
    } else if ((int64_t)n != sel->expected) {
      rc = pv_error_set(&e, PV_EPRECONDITION, "/expected_count",
                        "the filter matches %zu, not %lld", n, (long long)sel->expected);
      pv_error_hint(&e, "The selection changed: look at it again and send its count.");
    } else {
      bulk_job *j = sel->j;
      j->ids = pv_xcalloc(n, sizeof *j->ids);
      for (size_t i = 0; i < n; i++) j->ids[i] = pv_xstrdup(PQgetvalue(res, (int)i, 0));
      j->total = n;
    }
    PQclear(res);
  }
  if (rc) {
    http_respond_error(sel->req, &e);
  } else {
    bulk_record(sel->req, sel->j, sel->filter);
    sel->j = NULL;
  }
  select_free(sel);
}

/* The filter object as a list query string ("format=json&name=value..."). */
static int filter_qs(const cJSON *filter, pv_buf *qs, pv_error *e) {
  if (!cJSON_IsObject(filter))
    return pv_error_set(e, PV_EBADTYPE, "/filter", "\"filter\" must be an object");
  pv_buf_addstr(qs, "format=json");
  for (const cJSON *m = filter->child; m; m = m->next) {
    char f[128], num[32];
    snprintf(f, sizeof f, "/filter/%s", m->string);
    const char *v = cJSON_IsString(m) ? m->valuestring
                    : cJSON_IsBool(m) ? (cJSON_IsTrue(m) ? "true" : "false")
                                      : NULL;
    if (cJSON_IsNumber(m)) {
      snprintf(num, sizeof num, "%.17g", m->valuedouble);
      v = num;
    }
    if (!v) return pv_error_set(e, PV_EBADTYPE, f, "a filter value is a string");
    if (!strcmp(m->string, "format") || !strcmp(m->string, "sort") ||
        !strcmp(m->string, "cursor") || !strcmp(m->string, "limit"))
      return pv_error_set(e, PV_EINVAL, f, "unknown filter \"%s\"", m->string);
    pv_buf_addch(qs, '&');
    for (const char *p = m->string; *p; p++) pv_buf_addf(qs, "%%%02X", (unsigned char)*p);
    pv_buf_addch(qs, '=');
    for (const char *p = v; *p; p++) pv_buf_addf(qs, "%%%02X", (unsigned char)*p);
  }
  return 0;
}

/* Resolves the filter on the read model, then records the job. Takes j. */
static void select_then_record(http_request *req, bulk_job *j, const cJSON *filter,
                               const cJSON *expected) {
  api *a = http_request_app(req);
  pv_error e = PV_ERROR_INIT;
  bulk_select *sel = pv_xcalloc(1, sizeof *sel);
  sel->req = req;
  sel->j = j;
  sel->filter = cJSON_Duplicate(filter, true);
  pv_buf qs = PV_BUF_INIT;
  const char *tenant = api_principal_of(req)->p.tenant;
  int rc = 0;
  if (!cJSON_IsNumber(expected) || expected->valuedouble < 1 ||
      expected->valuedouble != (double)(int64_t)expected->valuedouble)
    rc = pv_error_set(&e, expected ? PV_EBADTYPE : PV_EINVAL, "/expected_count",
                      "a filter needs expected_count, the number of matches seen");
  else if (!a->db)
    rc = pv_error_set(&e, PV_EUNAVAILABLE, "/filter", "no read-model database is configured");
  if (rc == 0 && (rc = filter_qs(filter, &qs, &e)) == 0 &&
      (rc = apiq_build(&select_from[j->entity], APIQ_EXPORT, qs.data, &tenant, 1, &sel->q,
                       &e)))
    crm_error_prefix(&e, "/filter");
  pv_buf_release(&qs);
  if (rc == 0) {
    sel->expected = (int64_t)expected->valuedouble;
    const char *values[32];
    apiq_values(&sel->q, values);
    rc = pg_pool_query(a->db, sel->q.sql.data, sel->q.n, values, selected, sel);
    if (rc) pv_error_set(&e, rc, NULL, "the read-model database is busy");
  }
  if (rc) {
    http_respond_error(req, &e);
    select_free(sel);
  }
}

static void bulk_route(http_request *req, bulk_entity entity) {
  cJSON *body;
  if (crm_object_body(req, &body)) return;
  pv_error e = PV_ERROR_INIT;
  api *a = http_request_app(req);
  const char *action = NULL;
  int rc = http_json_string(body, "action", true, &action, &e);
  bulk_job *j = job_new(a);
  j->entity = entity;
  const cJSON *ids = cJSON_GetObjectItemCaseSensitive(body, "ids");
  const cJSON *filter = cJSON_GetObjectItemCaseSensitive(body, "filter");
  for (const cJSON *m = body->child; rc == 0 && m; m = m->next)
    if (strcmp(m->string, "action") && strcmp(m->string, "ids") && strcmp(m->string, "fields") &&
        strcmp(m->string, "filter") && strcmp(m->string, "expected_count")) {
      char f[128];
      snprintf(f, sizeof f, "/%s", m->string);
      rc = pv_error_set(&e, PV_EINVAL, f, "unknown field \"%s\"", m->string);
      pv_error_hint(&e, "A bulk request has action, fields, and ids or filter with "
                        "expected_count.");
    }
  if (rc == 0) {
    size_t k = 0;
    while (k < 3 && strcmp(action, action_names[k]) != 0) k++;
    if (k == 3) {
      rc = pv_error_set(&e, PV_EINVAL, "/action", "unknown action \"%s\"", action);
      pv_error_hint(&e, "One of update, delete, restore.");
    }
    j->action = (bulk_action)k;
  }
  if (rc == 0 && j->action == BULK_UPDATE) {
    j->fields = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(body, "fields"), true);
    rc = job_fields(j, &e);
  } else if (rc == 0 && cJSON_GetObjectItemCaseSensitive(body, "fields")) {
    rc = pv_error_set(&e, PV_EINVAL, "/fields", "only an update takes fields");
  }
  if (rc == 0 && ids && filter)
    rc = pv_error_set(&e, PV_EINVAL, "/filter", "give ids or a filter, not both");
  else if (rc == 0 && jobs_running(a) >= BULK_MAX_RUNNING) {
    rc = pv_error_set(&e, PV_EBUSY, NULL, "%d bulk jobs are running", BULK_MAX_RUNNING);
    http_response_header(req, "Retry-After", "5");
  }
  else if (rc == 0 && !filter)
    rc = parse_ids(ids, j, &e);
  if (rc) {
    job_free(j);
    http_respond_error(req, &e);
  } else if (filter) {
    select_then_record(req, j, filter, cJSON_GetObjectItemCaseSensitive(body, "expected_count"));
  } else {
    bulk_record(req, j, NULL);
  }
  cJSON_Delete(body);
}

void api_contacts_bulk(http_request *req) { bulk_route(req, BULK_CONTACT); }
void api_accounts_bulk(http_request *req) { bulk_route(req, BULK_ACCOUNT); }

/* ---- GET /api/jobs/:id ------------------------------------------------- */

static void add_time(cJSON *o, const char *key, int64_t us) {
  if (us <= 0) return;
  char text[40];
  time_t s = (time_t)(us / 1000000);
  struct tm tm;
  gmtime_r(&s, &tm);
  size_t n = strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(text + n, sizeof text - n, ".%06dZ", (int)(us % 1000000));
  cJSON_AddStringToObject(o, key, text);
}

static cJSON *job_json(bulk_job *j) {
  cJSON *o = cJSON_CreateObject();
  pthread_mutex_lock(&j->mu);
  cJSON_AddStringToObject(o, "id", j->id);
  cJSON_AddStringToObject(o, "entity", entity_names[j->entity]);
  cJSON_AddStringToObject(o, "action", action_names[j->action]);
  cJSON_AddStringToObject(o, "status", status_names[j->status]);
  cJSON_AddNumberToObject(o, "total", (double)j->total);
  cJSON_AddNumberToObject(o, "done", (double)j->done);
  cJSON_AddNumberToObject(o, "failed", (double)j->failed);
  if (j->resumed) cJSON_AddBoolToObject(o, "resumed", true);
  size_t count = j->done + j->failed;
  double elapsed = (double)(pv_mono_ns() - j->run_start_ns) / 1e9;
  double rate = elapsed > 0 ? (double)count / elapsed : 0;
  if (j->status == BULK_RUNNING) {
    cJSON_AddNumberToObject(o, "rows_per_s", rate);
    if (rate > 0) cJSON_AddNumberToObject(o, "eta_s", (double)(j->total - count) / rate);
  }
  add_time(o, "started_at", j->started_us);
  if (j->status != BULK_RUNNING) add_time(o, "finished_at", j->finished_us);
  if (j->status == BULK_FINISHED) {
    cJSON *fs = cJSON_AddArrayToObject(o, "failures");
    for (size_t i = 0; i < j->failure_count; i++) {
      const bulk_failure *f = &j->failures[i];
      cJSON *x = cJSON_CreateObject();
      cJSON_AddNumberToObject(x, "index", (double)f->index);
      cJSON_AddStringToObject(x, "id", j->ids[f->index]);
      cJSON_AddNumberToObject(x, "status", pv_http_status(f->err.code));
      cJSON_AddStringToObject(x, "code", pv_err_name(f->err.code));
      cJSON_AddStringToObject(x, "detail", f->err.message);
      if (f->err.field[0]) cJSON_AddStringToObject(x, "field", f->err.field);
      cJSON_AddItemToArray(fs, x);
    }
  }
  pthread_mutex_unlock(&j->mu);
  return o;
}

/* A job not running here, from its events. */
static cJSON *logged_job_json(api *a, const char *tenant, const char *id, job_scan *sc) {
  const uint8_t *p = (const uint8_t *)sc->started.data;
  size_t len = sc->started.len;
  char entity[16] = "", action[16] = "";
  uint64_t total = 0, done = 0, failed = 0;
  mp_reader r;
  payload_str(p, len, "entity", entity, sizeof entity);
  payload_str(p, len, "action", action, sizeof action);
  if (mp_map_find(p, len, "total", &r) == 0) mp_read_uint(&r, &total);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "id", id);
  cJSON_AddStringToObject(o, "entity", entity);
  cJSON_AddStringToObject(o, "action", action);
  const uint8_t *f = (const uint8_t *)sc->finished.data;
  size_t flen = sc->finished.len;
  cJSON_AddStringToObject(o, "status", flen ? "finished" : "interrupted");
  cJSON_AddNumberToObject(o, "total", (double)total);
  if (flen) {
    if (mp_map_find(f, flen, "done", &r) == 0) mp_read_uint(&r, &done);
    if (mp_map_find(f, flen, "failed", &r) == 0) mp_read_uint(&r, &failed);
  }
  cJSON_AddNumberToObject(o, "done", (double)done);
  cJSON_AddNumberToObject(o, "failed", (double)failed);
  add_time(o, "started_at", sc->started_us);
  if (flen) {
    add_time(o, "finished_at", sc->finished_us);
    const cat_event *ev = cat_find("bulk_job.finished", strlen("bulk_job.finished"), 1);
    pv_buf json = PV_BUF_INIT;
    if (ev && cat_payload_json(ev, f, flen, &json) == 0) {
      cJSON *fin = cJSON_ParseWithLength(json.data, json.len);
      cJSON *fs = fin ? cJSON_DetachItemFromObject(fin, "failures") : NULL;
      if (fs) cJSON_AddItemToObject(o, "failures", fs);
      cJSON_Delete(fin);
    }
    pv_buf_release(&json);
  }
  (void)a, (void)tenant;
  return o;
}

void api_jobs_get(http_request *req) {
  api *a = http_request_app(req);
  const api_principal *ap = api_principal_of(req);
  const char *id = http_request_param(req, "id");
  pv_error e = PV_ERROR_INIT;
  if (!entity_id_valid(id)) {
    pv_error_set(&e, PV_ENOTFOUND, NULL, "no such job");
    http_respond_error(req, &e);
    return;
  }
  crm_jobs *js = jobs_of(a);
  cJSON *body = NULL;
  pthread_mutex_lock(&js->mu);
  for (bulk_job *j = js->head; j && !body; j = j->next_job)
    if (strcmp(j->id, id) == 0 && strcmp(j->tenant, ap->p.tenant) == 0) body = job_json(j);
  pthread_mutex_unlock(&js->mu);
  if (!body) {
    job_scan sc = {.want = id, .a = a, .tenant = ap->p.tenant};
    int rc = scan_jobs(a, ap->p.tenant, &sc);
    if (rc == 0 && sc.started.len) body = logged_job_json(a, ap->p.tenant, id, &sc);
    scan_release(&sc);
    if (!body) {
      pv_error_set(&e, rc ? rc : PV_ENOTFOUND, NULL, rc ? "could not read the job" : "no such job");
      http_respond_error(req, &e);
      return;
    }
  }
  http_respond_json(req, 200, body);
}
