/*
 * api_consent — a contact's consent per channel (core/consent.h):
 *   POST /api/contacts/:id/consent  grant or withdraw, with source,
 *        wording and the IP it came from (the request's peer by default);
 *   GET  /api/contacts/:id/consent  the latest per channel, read from the
 *        log (consent_read: one stream fold) until a read model exists.
 */
#include "adapters/http/handlers/api_cmpl.h"
#include "core/consent.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

typedef struct consent_job {
  consent_change cmd;
  cJSON *body;
  char contact_id[64];
  char ip[CONSENT_IP_MAX];
} consent_job;

static void consent_job_free(void *p) {
  consent_job *j = p;
  cJSON_Delete(j->body);
  free(j);
}

static void consent_finish(api_op *op) { api_op_answer(op, 201, 0); }

void api_consent_change(http_request *req) {
  cJSON *body;
  if (cmpl_object_body(req, &body)) return;
  consent_job *j = pv_xcalloc(1, sizeof *j);
  j->body = body;
  pv_error e = PV_ERROR_INIT;
  const char *channel = NULL, *action = NULL, *source = NULL, *wording = NULL, *ip = NULL;
  int rc;
  if ((rc = http_json_string(body, "channel", true, &channel, &e)) ||
      (rc = http_json_string(body, "action", true, &action, &e)) ||
      (rc = http_json_string(body, "source", true, &source, &e)) ||
      (rc = http_json_string(body, "wording", false, &wording, &e)) ||
      (rc = http_json_string(body, "ip", false, &ip, &e)))
    goto fail;
  if (strcmp(action, "grant") && strcmp(action, "withdraw")) {
    rc = pv_error_set(&e, PV_EINVAL, "/action", "action must be \"grant\" or \"withdraw\"");
    goto fail;
  }
  const char *id = http_request_param(req, "id");
  if (strlen(id) >= sizeof j->contact_id) {
    rc = pv_error_set(&e, PV_EINVAL, "/id", "contact id too long");
    goto fail;
  }
  snprintf(j->contact_id, sizeof j->contact_id, "%s", id);
  if (!ip && http_request_peer(req, j->ip, sizeof j->ip) == 0) ip = j->ip;
  const api_principal *ap = api_principal_of(req);
  j->cmd = (consent_change){.by = cmpl_actor(ap), .contact_id = j->contact_id,
                            .channel = channel, .granted = strcmp(action, "grant") == 0,
                            .source = source, .wording = wording, .ip = ip};
  api_op *op = api_op_new(req, ap->p.tenant, ap->actor);
  snprintf(op->entity_id, sizeof op->entity_id, "%s", j->contact_id);
  op->data = j;
  op->data_free = consent_job_free;
  op->finish = consent_finish;
  if ((rc = api_op_idempotency(op, &e)) || (rc = consent_change_bind(&j->cmd, &op->cmd, &e))) {
    http_respond_error(req, &e);
    return api_op_free(op);
  }
  return api_op_submit(op);
fail:
  http_respond_error(req, &e);
  consent_job_free(j);
}

void api_consent_get(http_request *req) {
  api *a = http_request_app(req);
  const api_principal *ap = api_principal_of(req);
  consent_state *st = pv_xmalloc(sizeof *st);
  pv_error e = PV_ERROR_INIT;
  const char *id = http_request_param(req, "id");
  int rc = consent_read(a->log, ap->p.tenant, id, st, &e);
  if (rc) {
    http_respond_error(req, &e);
    return free(st);
  }
  cJSON *out = cJSON_CreateObject();
  cJSON_AddStringToObject(out, "contact_id", id);
  cJSON *channels = cJSON_AddObjectToObject(out, "channels");
  for (int c = 0; c < CONSENT_CHANNEL_COUNT; c++) {
    const consent_entry *en = &st->channel[c];
    cJSON *ch = cJSON_AddObjectToObject(channels, consent_channel_name((consent_channel)c));
    if (!en->known) {
      cJSON_AddStringToObject(ch, "state", "unknown");
      continue;
    }
    cJSON_AddStringToObject(ch, "state", en->granted ? "granted" : "withdrawn");
    cJSON_AddStringToObject(ch, "source", en->source);
    cJSON_AddStringToObject(ch, "wording", en->wording);
    if (en->ip[0]) cJSON_AddStringToObject(ch, "ip", en->ip);
    char at[32];
    pv_format_rfc3339_us(en->at_us, at);
    cJSON_AddStringToObject(ch, "at", at);
    cJSON_AddNumberToObject(ch, "position", (double)en->position);
  }
  free(st);
  http_respond_json(req, 200, out);
}
