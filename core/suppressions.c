/*
 * suppressions — see suppressions.h for the model, the record and the
 * rules. Decides read and write the record through the writer; checks read
 * it in a read transaction; nothing here keeps state of its own.
 */
#include "core/suppressions.h"

#include "core/cmpl_internal.h"
#include "core/common/pv_time.h"
#include "core/norm/norm.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

typedef struct supp_entry {
  char client_id[CMPL_ID_MAX];
  char reason[SUPP_REASON_MAX];
  char source[SUPP_SOURCE_MAX];
  int64_t at_us;
  uint64_t position;
} supp_entry;

typedef struct supp_record {
  bool has_global;
  supp_entry global;
  size_t client_count;
  supp_entry clients[SUPP_MAX_CLIENTS];
} supp_record;

/* ---- normalization ---------------------------------------------------- */

static bool channel_ok(const char *channel) {
  return channel && (strcmp(channel, SUPP_CHANNEL_EMAIL) == 0 ||
                     strcmp(channel, SUPP_CHANNEL_PHONE) == 0);
}

int supp_normalize(const char *channel, const char *raw, size_t len, const char *default_region,
                   char key[SUPP_KEY_MAX], pv_error *err) {
  int rc;
  if (!channel_ok(channel))
    return pv_error_set(err, PV_EINVAL, "/channel", "unknown channel \"%.16s\"",
                        channel ? channel : "");
  if (!raw) return pv_error_set(err, PV_EINVAL, "/value", "the value is missing");
  if (strcmp(channel, SUPP_CHANNEL_EMAIL) == 0) {
    norm_email e;
    if ((rc = norm_email_parse(raw, len, &e, err))) goto bad_value;
    memcpy(key, e.address, sizeof e.address);
    return 0;
  }
  norm_phone p;
  if ((rc = norm_phone_parse(raw, len, default_region ? default_region : SUPP_DEFAULT_REGION,
                             &p, err)))
    goto bad_value;
  if (p.valid) {
    memcpy(key, p.e164, strlen(p.e164) + 1);
    return 0;
  }
  /* not a valid number: its digits alone, so it still matches itself */
  size_t n = 0;
  for (size_t i = 0; i < len && n + 1 < SUPP_KEY_MAX; i++)
    if (raw[i] >= '0' && raw[i] <= '9') key[n++] = raw[i];
  key[n] = '\0';
  if (n == 0) {
    rc = pv_error_set(err, PV_EINVAL, NULL, "invalid phone number \"%.40s\": no digits", raw);
    goto bad_value;
  }
  return 0;
bad_value:
  if (err && !err->field[0]) snprintf(err->field, sizeof err->field, "/value");
  return rc;
}

/* ---- the record ------------------------------------------------------- */

static int copy_slice(mp_slice s, char *out, size_t cap) {
  if (s.len >= cap) return PV_ECORRUPT;
  memcpy(out, s.ptr, s.len);
  out[s.len] = '\0';
  return 0;
}

static int entry_read(mp_reader *r, supp_entry *e) {
  uint32_t n;
  int rc = mp_read_map(r, &n);
  if (rc) return rc;
  memset(e, 0, sizeof *e);
  for (uint32_t i = 0; i < n && rc == 0; i++) {
    mp_slice k, s;
    if ((rc = mp_read_str(r, &k))) break;
    if (mp_slice_eq(k, "client_id")) {
      if (!(rc = mp_read_str(r, &s))) rc = copy_slice(s, e->client_id, sizeof e->client_id);
    } else if (mp_slice_eq(k, "reason")) {
      if (!(rc = mp_read_str(r, &s))) rc = copy_slice(s, e->reason, sizeof e->reason);
    } else if (mp_slice_eq(k, "source")) {
      if (!(rc = mp_read_str(r, &s))) rc = copy_slice(s, e->source, sizeof e->source);
    } else if (mp_slice_eq(k, "at_us")) {
      rc = mp_read_int(r, &e->at_us);
    } else if (mp_slice_eq(k, "position")) {
      rc = mp_read_uint(r, &e->position);
    } else {
      rc = mp_skip(r, 1);
    }
  }
  return rc;
}

/* Walks a record: fills all (when not NULL) with every entry, and *match
 * with the entry that suppresses client_id (global first), if any. */
static int rec_walk(const void *data, size_t len, const char *client_id, supp_record *all,
                    supp_entry *match, bool *matched, bool *match_global) {
  mp_reader r;
  mp_reader_init(&r, data, len);
  uint32_t n;
  int rc = mp_read_map(&r, &n);
  supp_entry e;
  *matched = false;
  for (uint32_t i = 0; i < n && rc == 0; i++) {
    mp_slice k;
    mp_value v;
    if ((rc = mp_read_str(&r, &k))) break;
    if (mp_slice_eq(k, "global")) {
      mp_reader peek = r;
      if ((rc = mp_read(&peek, &v))) break;
      if (v.type == MP_NIL) {
        r = peek;
        continue;
      }
      if ((rc = entry_read(&r, &e))) break;
      if (all) {
        all->has_global = true;
        all->global = e;
      }
      if (match) {
        *match = e;
        *matched = *match_global = true;
      }
    } else if (mp_slice_eq(k, "clients")) {
      uint32_t count;
      if ((rc = mp_read_array(&r, &count))) break;
      if (count > SUPP_MAX_CLIENTS) return PV_ECORRUPT;
      for (uint32_t j = 0; j < count && rc == 0; j++) {
        if ((rc = entry_read(&r, &e))) break;
        if (all) all->clients[all->client_count++] = e;
        if (match && !*matched && client_id && *client_id && strcmp(e.client_id, client_id) == 0) {
          *match = e;
          *matched = true;
          *match_global = false;
        }
      }
    } else {
      rc = mp_skip(&r, 1);
    }
  }
  /* a global entry later in the map than the client's still wins */
  return rc ? PV_ECORRUPT : 0;
}

static void entry_pack(msgpack_packer *pk, const supp_entry *e, bool with_client) {
  msgpack_pack_map(pk, with_client ? 5 : 4);
  if (with_client) {
    mp_pack_cstr(pk, "client_id");
    mp_pack_cstr(pk, e->client_id);
  }
  mp_pack_cstr(pk, "reason");
  mp_pack_cstr(pk, e->reason);
  mp_pack_cstr(pk, "source");
  mp_pack_cstr(pk, e->source);
  mp_pack_cstr(pk, "at_us");
  msgpack_pack_int64(pk, e->at_us);
  mp_pack_cstr(pk, "position");
  msgpack_pack_uint64(pk, e->position);
}

static void rec_encode(const supp_record *rec, pv_buf *out) {
  msgpack_packer pk;
  mp_packer_init(&pk, out);
  msgpack_pack_map(&pk, 2);
  mp_pack_cstr(&pk, "global");
  if (rec->has_global) entry_pack(&pk, &rec->global, false);
  else msgpack_pack_nil(&pk);
  mp_pack_cstr(&pk, "clients");
  msgpack_pack_array(&pk, rec->client_count);
  for (size_t i = 0; i < rec->client_count; i++) entry_pack(&pk, &rec->clients[i], true);
}

static void fill_result(supp_result *out, const supp_entry *e, bool global) {
  out->status = SUPP_SUPPRESSED;
  out->global = global;
  memcpy(out->reason, e->reason, sizeof out->reason);
  memcpy(out->source, e->source, sizeof out->source);
  out->at_us = e->at_us;
  out->position = e->position;
}

static int result_from_record(const void *rec, size_t len, const char *client_id,
                              supp_result *out) {
  supp_entry e;
  bool matched = false, global = false;
  int rc = rec_walk(rec, len, client_id, NULL, &e, &matched, &global);
  if (rc) return rc;
  if (matched) fill_result(out, &e, global);
  return 0;
}

static void result_init(supp_result *out) {
  memset(out, 0, sizeof *out);
  out->status = SUPP_CONTACTABLE;
}

/* ---- stream ids and payloads ------------------------------------------ */

/* "suppression-<channel>-<32 hex>": a value can be longer than a stream id
 * may be, so the stream is named by a hash of the key (BLAKE2b-128: no
 * collision among any realistic number of values). */
static void stream_of(const char *channel, const char *key, char out[EVT_MAX_STREAM + 1]) {
  uint8_t h[16];
  char hex[33];
  crypto_generichash(h, sizeof h, (const uint8_t *)key, strlen(key), NULL, 0);
  sodium_bin2hex(hex, sizeof hex, h, sizeof h);
  snprintf(out, EVT_MAX_STREAM + 1, "suppression-%s-%s", channel, hex);
}

static bool text_ok(const char *s, size_t cap) { return s && *s && strlen(s) < cap; }

static bool is_global(const char *client_id) { return !client_id || !*client_id; }

/* ---- add -------------------------------------------------------------- */

static int add_decide(writer_ctx *ctx, void *arg, pv_error *err) {
  supp_add *c = arg;
  c->already = false;
  c->position = 0;
  bool global = is_global(c->client_id);
  supp_record *rec = pv_xcalloc(1, sizeof *rec);
  pv_buf payload = PV_BUF_INIT, record = PV_BUF_INIT;
  const void *raw;
  size_t len;
  bool matched, match_global;
  int rc = writer_suppression_get(ctx, c->channel, c->key, &raw, &len);
  if (rc == 0) rc = rec_walk(raw, len, NULL, rec, NULL, &matched, &match_global);
  else if (rc == PV_ENOTFOUND) rc = 0;
  if (rc) {
    pv_error_set(err, PV_ECORRUPT, NULL, "the suppression record of \"%s\" does not decode",
                 c->key);
    goto out;
  }
  supp_entry *entry = NULL;
  if (global) {
    if (rec->has_global) entry = &rec->global;
  } else {
    for (size_t i = 0; i < rec->client_count; i++)
      if (strcmp(rec->clients[i].client_id, c->client_id) == 0) entry = &rec->clients[i];
  }
  if (entry) {
    c->already = true;
    c->position = entry->position;
    goto out;
  }
  if (!global && rec->client_count == SUPP_MAX_CLIENTS) {
    rc = pv_error_set(err, PV_EINVAL, "/client_id",
                      "\"%s\" is already suppressed for %d clients", c->key, SUPP_MAX_CLIENTS);
    pv_error_hint(err, "Suppress it tenant-wide instead.");
    goto out;
  }

  supp_entry e = {.at_us = c->at_us, .position = writer_next_position(ctx)};
  CMPL_COPY(e.client_id, global ? "" : c->client_id);
  CMPL_COPY(e.reason, c->reason);
  CMPL_COPY(e.source, c->source);
  if (global) {
    rec->has_global = true;
    rec->global = e;
  } else {
    rec->clients[rec->client_count++] = e;
  }

  msgpack_packer pk;
  mp_packer_init(&pk, &payload);
  const char *role = actor_role_name(c->by.role);
  msgpack_pack_map(&pk, 7 + !global + (role != NULL) + (c->value != NULL));
  mp_pack_cstr(&pk, "channel");
  mp_pack_cstr(&pk, c->channel);
  mp_pack_cstr(&pk, "value");
  mp_pack_cstr(&pk, c->key);
  if (c->value) {
    mp_pack_cstr(&pk, "raw");
    mp_pack_cstr(&pk, c->value);
  }
  mp_pack_cstr(&pk, "scope");
  mp_pack_cstr(&pk, global ? "global" : "client");
  if (!global) {
    mp_pack_cstr(&pk, "client_id");
    mp_pack_cstr(&pk, c->client_id);
  }
  mp_pack_cstr(&pk, "reason");
  mp_pack_cstr(&pk, c->reason);
  mp_pack_cstr(&pk, "source");
  mp_pack_cstr(&pk, c->source);
  mp_pack_cstr(&pk, "at_us");
  msgpack_pack_int64(&pk, c->at_us);
  mp_pack_cstr(&pk, "position");
  msgpack_pack_uint64(&pk, e.position);
  if (role) {
    mp_pack_cstr(&pk, "role");
    mp_pack_cstr(&pk, role);
  }
  char stream[EVT_MAX_STREAM + 1];
  stream_of(c->channel, c->key, stream);
  if ((rc = writer_emit(ctx, stream, LOG_EXPECT_ANY, "suppression.added", 1, payload.data,
                        payload.len, err)))
    goto out;
  rec_encode(rec, &record);
  if ((rc = writer_suppression_put(ctx, c->channel, c->key, record.data, record.len))) {
    pv_error_set(err, rc, "/value", "the value is too long to index");
    goto out;
  }
  c->position = e.position;
out:
  pv_buf_release(&record);
  pv_buf_release(&payload);
  free(rec);
  return rc;
}

static int check_scope_for(const actor_ref *by, const char *client_id, pv_error *err) {
  if (!actor_valid(by)) return pv_error_set(err, PV_EFORBIDDEN, NULL, "unknown role");
  if (!is_global(client_id) && !cmpl__id_ok(client_id))
    return cmpl__bad_id(err, "/client_id", "client id");
  if (by->role == ACTOR_ROLE_CLIENT_USER &&
      (is_global(client_id) || strcmp(client_id, by->client_id) != 0))
    return pv_error_set(err, PV_EFORBIDDEN, "/client_id",
                        "a client user may suppress only for its own client");
  return 0;
}

static int add_bind_common(supp_add *c, writer_cmd *cmd, pv_error *err) {
  int rc;
  if (!text_ok(c->reason, SUPP_REASON_MAX))
    return pv_error_set(err, PV_EINVAL, "/reason", "a reason of 1 to %d bytes is required",
                        SUPP_REASON_MAX - 1);
  if (!text_ok(c->source, SUPP_SOURCE_MAX))
    return pv_error_set(err, PV_EINVAL, "/source", "a source of 1 to %d bytes is required",
                        SUPP_SOURCE_MAX - 1);
  if ((rc = supp_normalize(c->channel, c->value, c->value ? strlen(c->value) : 0,
                           c->default_region, c->key, err)))
    return rc;
  if (c->value && strlen(c->value) > NORM_PHONE_RAW_MAX) c->value = NULL;
  if (!c->at_us) c->at_us = pv_wall_us();
  c->already = false;
  c->position = 0;
  cmd->decide = add_decide;
  cmd->arg = c;
  return 0;
}

int supp_add_bind(supp_add *c, writer_cmd *cmd, pv_error *err) {
  int rc = check_scope_for(&c->by, c->client_id, err);
  if (rc) return rc;
  return add_bind_common(c, cmd, err);
}

int supp_unsubscribe_bind(supp_unsubscribe *u, const unsub_claims *claims, int64_t at_us,
                          writer_cmd *cmd, pv_error *err) {
  supp_add *c = &u->add;
  memset(c, 0, sizeof *c);
  if (claims->campaign_id[0])
    snprintf(u->reason_buf_, sizeof u->reason_buf_, "unsubscribed by link (campaign %s)",
             claims->campaign_id);
  else
    snprintf(u->reason_buf_, sizeof u->reason_buf_, "unsubscribed by link");
  snprintf(u->source_buf_, sizeof u->source_buf_, "one_click");
  c->channel = claims->channel;
  c->value = claims->value;
  c->client_id = claims->client_id[0] ? claims->client_id : NULL;
  c->reason = u->reason_buf_;
  c->source = u->source_buf_;
  c->at_us = at_us;
  if (c->client_id && !cmpl__id_ok(c->client_id))
    return cmpl__bad_id(err, "/client_id", "client id");
  return add_bind_common(c, cmd, err);
}

/* ---- remove ----------------------------------------------------------- */

static int remove_decide(writer_ctx *ctx, void *arg, pv_error *err) {
  supp_remove *c = arg;
  if (c->by.role != ACTOR_ROLE_ADMIN)
    return pv_error_set(err, PV_EFORBIDDEN, NULL, "only an admin may remove a suppression");
  bool global = is_global(c->client_id);
  supp_record *rec = pv_xcalloc(1, sizeof *rec);
  pv_buf payload = PV_BUF_INIT, record = PV_BUF_INIT;
  const void *raw;
  size_t len;
  bool matched, match_global;
  int rc = writer_suppression_get(ctx, c->channel, c->key, &raw, &len);
  if (rc == 0 && rec_walk(raw, len, NULL, rec, NULL, &matched, &match_global)) {
    rc = pv_error_set(err, PV_ECORRUPT, NULL, "the suppression record of \"%s\" does not decode",
                      c->key);
    goto out;
  }
  bool found = false;
  if (rc == 0 && global && rec->has_global) {
    rec->has_global = false;
    found = true;
  } else if (rc == 0 && !global) {
    for (size_t i = 0; i < rec->client_count && !found; i++)
      if (strcmp(rec->clients[i].client_id, c->client_id) == 0) {
        rec->clients[i] = rec->clients[--rec->client_count];
        found = true;
      }
  }
  if (!found) {
    if (global) rc = pv_error_set(err, PV_ENOTFOUND, "/value", "\"%s\" is not suppressed tenant-wide", c->key);
    else rc = pv_error_set(err, PV_ENOTFOUND, "/value", "\"%s\" is not suppressed for client \"%s\"",
                           c->key, c->client_id);
    goto out;
  }

  msgpack_packer pk;
  mp_packer_init(&pk, &payload);
  msgpack_pack_map(&pk, 6 + !global);
  mp_pack_cstr(&pk, "channel");
  mp_pack_cstr(&pk, c->channel);
  mp_pack_cstr(&pk, "value");
  mp_pack_cstr(&pk, c->key);
  mp_pack_cstr(&pk, "scope");
  mp_pack_cstr(&pk, global ? "global" : "client");
  if (!global) {
    mp_pack_cstr(&pk, "client_id");
    mp_pack_cstr(&pk, c->client_id);
  }
  mp_pack_cstr(&pk, "reason");
  mp_pack_cstr(&pk, c->reason);
  mp_pack_cstr(&pk, "at_us");
  msgpack_pack_int64(&pk, c->at_us);
  mp_pack_cstr(&pk, "role");
  mp_pack_cstr(&pk, actor_role_name(c->by.role));
  char stream[EVT_MAX_STREAM + 1];
  stream_of(c->channel, c->key, stream);
  if ((rc = writer_emit(ctx, stream, LOG_EXPECT_ANY, "suppression.removed", 1, payload.data,
                        payload.len, err)))
    goto out;
  if (!rec->has_global && rec->client_count == 0) {
    rc = writer_suppression_del(ctx, c->channel, c->key);
  } else {
    rec_encode(rec, &record);
    rc = writer_suppression_put(ctx, c->channel, c->key, record.data, record.len);
  }
  if (rc) pv_error_set(err, rc, "/value", "the value is too long to index");
out:
  pv_buf_release(&record);
  pv_buf_release(&payload);
  free(rec);
  return rc;
}

int supp_remove_bind(supp_remove *c, writer_cmd *cmd, pv_error *err) {
  if (c->by.role != ACTOR_ROLE_ADMIN)
    return pv_error_set(err, PV_EFORBIDDEN, NULL, "only an admin may remove a suppression");
  if (!text_ok(c->reason, SUPP_REASON_MAX))
    return pv_error_set(err, PV_EINVAL, "/reason", "a reason of 1 to %d bytes is required",
                        SUPP_REASON_MAX - 1);
  if (!is_global(c->client_id) && !cmpl__id_ok(c->client_id))
    return cmpl__bad_id(err, "/client_id", "client id");
  int rc = supp_normalize(c->channel, c->value, c->value ? strlen(c->value) : 0,
                          c->default_region, c->key, err);
  if (rc) return rc;
  if (!c->at_us) c->at_us = pv_wall_us();
  cmd->decide = remove_decide;
  cmd->arg = c;
  return 0;
}

/* ---- checks ----------------------------------------------------------- */

static int check_one(log_reader *rd, const char *tenant, const char *client_id,
                     const supp_query *q, supp_result *out, pv_error *err) {
  result_init(out);
  pv_error ignored = PV_ERROR_INIT;
  if (!channel_ok(q->channel))
    return pv_error_set(err, PV_EINVAL, "/channel", "unknown channel \"%.16s\"",
                        q->channel ? q->channel : "");
  if (supp_normalize(q->channel, q->value, q->value ? strlen(q->value) : 0, q->default_region,
                     out->key, &ignored)) {
    out->key[0] = '\0';
    out->status = SUPP_INVALID;
    return 0;
  }
  const void *rec;
  size_t len;
  int rc = log_suppression_get(rd, tenant, q->channel, out->key, &rec, &len);
  if (rc == PV_ENOTFOUND) return 0;
  if (rc == PV_EINVAL) { /* tenant + key over LMDB's key size: never stored */
    return 0;
  }
  if (rc) return pv_error_set(err, rc, NULL, "could not read the suppression list");
  if (result_from_record(rec, len, client_id, out))
    return pv_error_set(err, PV_ECORRUPT, NULL, "the suppression record of \"%s\" does not decode",
                        out->key);
  return 0;
}

int supp_check(log_t *log, const char *tenant, const char *client_id, const char *channel,
               const char *raw, const char *default_region, supp_result *out, pv_error *err) {
  supp_query q = {channel, raw, default_region};
  return supp_check_batch(log, tenant, client_id, &q, 1, out, err);
}

int supp_check_batch(log_t *log, const char *tenant, const char *client_id,
                     const supp_query *q, size_t n, supp_result *out, pv_error *err) {
  log_reader *rd;
  int rc = log_read_begin(log, &rd);
  if (rc) return pv_error_set(err, rc, NULL, "could not read the suppression list");
  for (size_t i = 0; i < n && rc == 0; i++) {
    rc = check_one(rd, tenant, client_id, &q[i], &out[i], err);
    if (rc == PV_EINVAL && n > 1 && err) snprintf(err->field, sizeof err->field, "/%zu/channel", i);
  }
  log_read_end(rd);
  return rc;
}

int supp_check_w(writer_ctx *ctx, const char *client_id, const char *channel, const char *key,
                 supp_result *out) {
  result_init(out);
  CMPL_COPY(out->key, key);
  const void *rec;
  size_t len;
  int rc = writer_suppression_get(ctx, channel, key, &rec, &len);
  if (rc == PV_ENOTFOUND || rc == PV_EINVAL) return 0;
  if (rc) return rc;
  return result_from_record(rec, len, client_id, out) ? PV_ECORRUPT : 0;
}

/* ---- bulk upload ------------------------------------------------------ */

typedef struct bulk_slot {
  writer_cmd cmd;
  supp_add add;
  char idem[EVT_MAX_IDEMPOTENCY + 1];
  int bind_rc;
  pv_error bind_err;
} bulk_slot;

static void row_fail(supp_row_result *r, int code, const pv_error *e) {
  r->status = code;
  snprintf(r->message, sizeof r->message, "%.255s", e->message[0] ? e->message : pv_strerror(code));
}

int supp_bulk_run(writer_t *w, const supp_bulk *b, const supp_row *rows, size_t n,
                  supp_row_result *out, pv_error *err) {
  if (!cmpl__id_ok(b->upload_id)) return cmpl__bad_id(err, "/upload_id", "upload id");
  if (!text_ok(b->default_reason, SUPP_REASON_MAX))
    return pv_error_set(err, PV_EINVAL, "/reason", "a default reason is required");
  int rc = check_scope_for(&b->by, b->client_id, err);
  if (rc) return rc;
  int64_t at_us = b->at_us ? b->at_us : pv_wall_us();
  size_t window = n < SUPP_BULK_WINDOW ? n : SUPP_BULK_WINDOW;
  bulk_slot *slots = pv_xcalloc(window ? window : 1, sizeof *slots);
  writer_cmd **run = pv_xcalloc(window ? window : 1, sizeof *run);
  for (size_t base = 0; base < n; base += window) {
    size_t count = n - base < window ? n - base : window, m = 0;
    for (size_t j = 0; j < count; j++) {
      size_t row = base + j;
      bulk_slot *s = &slots[j];
      memset(s, 0, sizeof *s);
      snprintf(s->idem, sizeof s->idem, "supp:%s:%zu", b->upload_id, row);
      s->add = (supp_add){.by = b->by, .channel = b->channel, .value = rows[row].value,
                          .default_region = b->default_region, .client_id = b->client_id,
                          .reason = rows[row].reason && rows[row].reason[0] ? rows[row].reason
                                                                            : b->default_reason,
                          .source = b->source, .at_us = at_us};
      s->cmd = (writer_cmd){.tenant = b->tenant, .actor = b->actor,
                            .correlation_id = b->correlation_id, .idempotency_key = s->idem};
      s->bind_rc = supp_add_bind(&s->add, &s->cmd, &s->bind_err);
      if (!s->bind_rc) run[m++] = &s->cmd;
    }
    cmpl__run_all(w, run, m);
    for (size_t j = 0; j < count; j++) {
      bulk_slot *s = &slots[j];
      supp_row_result *r = &out[base + j];
      memset(r, 0, sizeof *r);
      if (s->bind_rc) {
        row_fail(r, s->bind_rc, &s->bind_err);
      } else if (s->cmd.status) {
        row_fail(r, s->cmd.status, &s->cmd.error);
      } else {
        r->already = s->add.already || (s->cmd.replayed && s->cmd.event_count == 0);
        r->position = s->cmd.replayed ? s->cmd.first_position : s->add.position;
      }
    }
  }
  free(run);
  free(slots);
  return 0;
}
