/*
 * consent — see consent.h.
 */
#include "core/consent.h"

#include "core/cmpl_internal.h"
#include "core/common/pv_time.h"

#include <arpa/inet.h>
#include <string.h>

int consent_channel_parse(const char *name, consent_channel *out, pv_error *err) {
#define CONSENT__XX(NAME, str)                                                \
  if (name && strcmp(name, str) == 0) {                                       \
    *out = CONSENT_##NAME;                                                    \
    return 0;                                                                 \
  }
  CONSENT_CHANNEL_MAP(CONSENT__XX)
#undef CONSENT__XX
  return pv_error_set(err, PV_EINVAL, "/channel", "unknown consent channel \"%.16s\"",
                      name ? name : "");
}

const char *consent_channel_name(consent_channel c) {
  switch (c) {
#define CONSENT__XX(NAME, name) case CONSENT_##NAME: return name;
    CONSENT_CHANNEL_MAP(CONSENT__XX)
#undef CONSENT__XX
  case CONSENT_CHANNEL_COUNT: break;
  }
  return "unknown";
}

void consent_state_init(consent_state *s) { memset(s, 0, sizeof *s); }

void consent_apply(consent_state *s, const evt_envelope *e) {
  bool granted = mp_slice_eq(e->type, "consent.granted");
  if (!granted && !mp_slice_eq(e->type, "consent.withdrawn")) return;
  char name[16];
  consent_channel ch;
  if (cmpl__get_str(e->payload, e->payload_len, "channel", name, sizeof name) ||
      consent_channel_parse(name, &ch, NULL))
    return;
  consent_entry *c = &s->channel[ch];
  memset(c, 0, sizeof *c);
  c->known = true;
  c->granted = granted;
  c->position = e->position;
  cmpl__str_or_empty(e->payload, e->payload_len, "source", c->source, sizeof c->source);
  cmpl__str_or_empty(e->payload, e->payload_len, "wording", c->wording, sizeof c->wording);
  cmpl__str_or_empty(e->payload, e->payload_len, "ip", c->ip, sizeof c->ip);
  cmpl__get_i64(e->payload, e->payload_len, "at_us", &c->at_us);
}

static void apply_fn(void *state, const evt_envelope *e) { consent_apply(state, e); }

static void stream_of(const char *contact_id, char out[EVT_MAX_STREAM + 1]) {
  snprintf(out, EVT_MAX_STREAM + 1, "consent-%s", contact_id);
}

static int change_decide(writer_ctx *ctx, void *arg, pv_error *err) {
  consent_change *c = arg;
  pv_buf payload = PV_BUF_INIT;
  msgpack_packer pk;
  mp_packer_init(&pk, &payload);
  bool wording = c->wording && *c->wording, ip = c->ip && *c->ip;
  msgpack_pack_map(&pk, 4 + wording + ip);
  mp_pack_cstr(&pk, "contact_id");
  mp_pack_cstr(&pk, c->contact_id);
  mp_pack_cstr(&pk, "channel");
  mp_pack_cstr(&pk, c->channel);
  mp_pack_cstr(&pk, "source");
  mp_pack_cstr(&pk, c->source);
  if (wording) {
    mp_pack_cstr(&pk, "wording");
    mp_pack_cstr(&pk, c->wording);
  }
  if (ip) {
    mp_pack_cstr(&pk, "ip");
    mp_pack_cstr(&pk, c->ip);
  }
  mp_pack_cstr(&pk, "at_us");
  msgpack_pack_int64(&pk, c->at_us);
  char stream[EVT_MAX_STREAM + 1];
  stream_of(c->contact_id, stream);
  int rc = writer_emit(ctx, stream, LOG_EXPECT_ANY,
                       c->granted ? "consent.granted" : "consent.withdrawn", 1, payload.data,
                       payload.len, err);
  pv_buf_release(&payload);
  return rc;
}

static bool ip_ok(const char *ip) {
  unsigned char buf[16];
  return inet_pton(AF_INET, ip, buf) == 1 || inet_pton(AF_INET6, ip, buf) == 1;
}

int consent_change_bind(consent_change *c, writer_cmd *cmd, pv_error *err) {
  if (!actor_valid(&c->by) || !(c->by.role & ACTOR_ROLE_STAFF))
    return pv_error_set(err, PV_EFORBIDDEN, NULL, "only staff may record consent");
  if (!cmpl__id_ok(c->contact_id)) return cmpl__bad_id(err, "/contact_id", "contact id");
  consent_channel ch;
  int rc = consent_channel_parse(c->channel, &ch, err);
  if (rc) return rc;
  if (!c->source || !*c->source || strlen(c->source) >= CONSENT_SOURCE_MAX)
    return pv_error_set(err, PV_EINVAL, "/source", "a source of 1 to %d bytes is required",
                        CONSENT_SOURCE_MAX - 1);
  if (c->granted && (!c->wording || !*c->wording))
    return pv_error_set(err, PV_EINVAL, "/wording", "the wording the contact agreed to is required");
  if (c->wording && strlen(c->wording) >= CONSENT_WORDING_MAX)
    return pv_error_set(err, PV_EINVAL, "/wording", "the wording is longer than %d bytes",
                        CONSENT_WORDING_MAX - 1);
  if (c->ip && *c->ip && (strlen(c->ip) >= CONSENT_IP_MAX || !ip_ok(c->ip)))
    return pv_error_set(err, PV_EINVAL, "/ip", "\"%.46s\" is not an IP address", c->ip);
  if (!c->at_us) c->at_us = pv_wall_us();
  cmd->decide = change_decide;
  cmd->arg = c;
  return 0;
}

int consent_read(log_t *log, const char *tenant, const char *contact_id, consent_state *out,
                 pv_error *err) {
  consent_state_init(out);
  if (!cmpl__id_ok(contact_id)) return cmpl__bad_id(err, "/contact_id", "contact id");
  log_reader *rd;
  int rc = log_read_begin(log, &rd);
  if (rc) return pv_error_set(err, rc, NULL, "could not read the log");
  char stream[EVT_MAX_STREAM + 1];
  stream_of(contact_id, stream);
  rc = cmpl__fold_r(rd, tenant, stream, apply_fn, out);
  log_read_end(rd);
  if (rc) return pv_error_set(err, rc, NULL, "could not read the consent of \"%s\"", contact_id);
  return 0;
}
