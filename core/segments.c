/*
 * segments — decide and apply of segments, lists and saved filters
 * (segments.h). A decide folds the stream (a handful of events: creation
 * and changes; list members are not part of the state), checks visibility
 * and ownership, then stages the caller's payload as the event.
 */
#include "core/segments.h"

#include "core/cmpl_internal.h"
#include "core/common/pv_buf.h"
#include "core/mp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *aud_kind_name(aud_kind k) {
  switch (k) {
  case AUD_SEGMENT: return "segment";
  case AUD_LIST: return "list";
  case AUD_FILTER: return "filter";
  }
  return "?";
}

bool aud_visibility_valid(const char *v) {
  return v && (strcmp(v, "private") == 0 || strcmp(v, "team") == 0 ||
               strcmp(v, "global") == 0);
}

bool aud_visible(const aud_state *s, const aud_who *who) {
  if (!s->exists || s->deleted) return false;
  if (strcmp(s->owner, who->user_id) == 0) return true;
  if (strcmp(s->visibility, "global") == 0) return true;
  if (strcmp(s->visibility, "team") == 0) return strcmp(s->team, who->team) == 0;
  return false;
}

static bool type_is(const evt_envelope *e, const char *suffix) {
  const char *dot = memchr(e->type.ptr, '.', e->type.len);
  if (!dot) return false;
  size_t n = e->type.len - (size_t)(dot + 1 - e->type.ptr);
  return n == strlen(suffix) && memcmp(dot + 1, suffix, n) == 0;
}

void aud_apply(aud_state *s, const evt_envelope *e) {
  s->version = e->stream_version;
  if (type_is(e, "created") || type_is(e, "saved")) {
    s->exists = true;
    cmpl__str_or_empty(e->payload, e->payload_len, "owner", s->owner, sizeof s->owner);
    cmpl__str_or_empty(e->payload, e->payload_len, "team", s->team, sizeof s->team);
    cmpl__str_or_empty(e->payload, e->payload_len, "visibility", s->visibility,
                       sizeof s->visibility);
    cmpl__str_or_empty(e->payload, e->payload_len, "entity_type", s->entity_type,
                       sizeof s->entity_type);
  } else if (type_is(e, "updated")) {
    char v[16];
    if (cmpl__get_str(e->payload, e->payload_len, "visibility", v, sizeof v) == 0)
      memcpy(s->visibility, v, sizeof v);
  } else if (type_is(e, "deleted")) {
    s->deleted = true;
  }
}

static void apply_fn(void *state, const evt_envelope *e) { aud_apply(state, e); }

/* Emits record ids as list.members_added / removed events of at most
 * AUD_CHUNK_BYTES each. */
static int emit_members(writer_ctx *ctx, const char *stream, uint64_t *version, const char *type,
                        const char *const *ids, size_t n, pv_error *err) {
  size_t i = 0;
  int rc = 0;
  pv_buf payload = PV_BUF_INIT;
  while (i < n && rc == 0) {
    size_t j = i, bytes = 0;
    while (j < n && (j == i || bytes + strlen(ids[j]) + 2 <= AUD_CHUNK_BYTES))
      bytes += strlen(ids[j++]) + 2;
    pv_buf_reset(&payload);
    msgpack_packer pk;
    mp_packer_init(&pk, &payload);
    msgpack_pack_map(&pk, 1);
    mp_pack_cstr(&pk, "record_ids");
    msgpack_pack_array(&pk, j - i);
    for (size_t k = i; k < j; k++) mp_pack_cstr(&pk, ids[k]);
    rc = writer_emit(ctx, stream, (int64_t)*version, type, 1, payload.data, payload.len, err);
    (*version)++;
    i = j;
  }
  pv_buf_release(&payload);
  return rc;
}

static int decide(writer_ctx *ctx, void *arg, pv_error *err) {
  aud_cmd *c = arg;
  const char *kind = aud_kind_name(c->kind);
  char stream[EVT_MAX_STREAM + 1];
  char type[EVT_MAX_TYPE];
  snprintf(stream, sizeof stream, "%s-%s", kind, c->id);
  aud_state s = {0};
  int rc = cmpl__fold_w(ctx, stream, apply_fn, &s);
  if (rc) return pv_error_set(err, rc, NULL, "could not read the %s", kind);
  uint64_t version = s.version;
  if (c->action == AUD_CREATE) {
    if (s.exists)
      return pv_error_set(err, PV_EEXISTS, "/id", "%s \"%s\" already exists", kind, c->id);
    snprintf(type, sizeof type, "%s.%s", kind, c->kind == AUD_FILTER ? "saved" : "created");
    rc = writer_emit(ctx, stream, LOG_EXPECT_NO_STREAM, type, 1, c->payload, c->payload_len,
                     err);
    version = 1;
    if (rc == 0 && c->record_count)
      rc = emit_members(ctx, stream, &version, "list.members_added", c->record_ids,
                        c->record_count, err);
    return rc;
  }
  if (!aud_visible(&s, &c->by))
    return pv_error_set(err, PV_ENOTFOUND, NULL, "no such %s", kind);
  if (strcmp(s.owner, c->by.user_id) != 0 && !c->by.admin)
    return pv_error_set(err, PV_EFORBIDDEN, NULL, "only its owner or an admin may change "
                        "this %s", kind);
  static const uint8_t empty_map = 0x80;
  switch (c->action) {
  case AUD_UPDATE:
    if (c->check && (rc = c->check(c->check_arg, s.entity_type, err))) return rc;
    snprintf(type, sizeof type, "%s.updated", kind);
    return writer_emit(ctx, stream, (int64_t)version, type, 1, c->payload, c->payload_len, err);
  case AUD_DELETE:
    snprintf(type, sizeof type, "%s.deleted", kind);
    return writer_emit(ctx, stream, (int64_t)version, type, 1, &empty_map, 1, err);
  case AUD_REFRESH:
    return writer_emit(ctx, stream, (int64_t)version, "segment.refresh_requested", 1,
                       &empty_map, 1, err);
  case AUD_ADD_MEMBERS:
  case AUD_REMOVE_MEMBERS:
    return emit_members(ctx, stream, &version,
                        c->action == AUD_ADD_MEMBERS ? "list.members_added"
                                                     : "list.members_removed",
                        c->record_ids, c->record_count, err);
  case AUD_CREATE:
    break;
  }
  return 0;
}

int aud_bind(aud_cmd *c, writer_cmd *cmd, pv_error *err) {
  if (!cmpl__id_ok(c->id)) return cmpl__bad_id(err, "/id", "id");
  if (!c->by.user_id || !c->by.team)
    return pv_error_set(err, PV_EINVAL, NULL, "the acting user is required");
  bool members = c->action == AUD_ADD_MEMBERS || c->action == AUD_REMOVE_MEMBERS ||
                 (c->action == AUD_CREATE && c->record_count);
  if (members && c->kind != AUD_LIST)
    return pv_error_set(err, PV_EINVAL, "/recordIds", "only a list has members");
  if (c->action == AUD_REFRESH && c->kind != AUD_SEGMENT)
    return pv_error_set(err, PV_EINVAL, NULL, "only a segment is refreshed");
  if ((c->action == AUD_CREATE || c->action == AUD_UPDATE) && !c->payload)
    return pv_error_set(err, PV_EINVAL, NULL, "a payload is required");
  if (c->record_count > AUD_MAX_RECORDS)
    return pv_error_set(err, PV_ETOOBIG, "/recordIds", "at most %d records at once",
                        AUD_MAX_RECORDS);
  for (size_t i = 0; i < c->record_count; i++) {
    if (!cmpl__id_ok(c->record_ids[i])) {
      char field[48];
      snprintf(field, sizeof field, "/recordIds/%zu", i);
      return cmpl__bad_id(err, field, "record id");
    }
  }
  cmd->decide = decide;
  cmd->arg = c;
  return 0;
}
