/*
 * The read models of accounts and contacts (schema/010): accounts (with
 * contact counts rolled up the hierarchy) and contacts (each field with its
 * provenance). field_changes and timeline are proj_trail.c's.
 *
 * Each fold sends its whole batch as ONE jsonb array to a PL/pgSQL function
 * of rm_lib (`SELECT rm_lib.fold_<name>($1::jsonb)`): one round trip per
 * batch, and the logic that needs the current rows (merges, re-parenting,
 * rollups) runs next to them. An element is
 *   {"p": position, "ts": "RFC 3339", "t": tenant, "s": stream,
 *    "v": stream version, "y": type, "a": actor, "d": payload}
 * The payload goes through cat_payload_json, which redacts the catalogue's
 * SECRET fields: nothing secret reaches a read model.
 *
 * Each element also carries "x", the
 * event's `changes` digested here, where it is cheap (walking them in
 * PL/pgSQL cost ~0.5 ms an event, most of a fold):
 *   "f": {field: new value or null}          fields (null: removed)
 *   "c": {NAME: new value or null}           custom_fields.NAME
 *   "p": {field: {source, priority, observed_at} or null}
 * so a fold applies a change set as jsonb_strip_nulls(old || x->'f').
 * Each fold gets only what its function reads (jsonb parsing is most of a
 * batch's cost next to the set-based folds, bench_import): "d" without
 * `changes`, and for the accounts fold a contact event's account_id alone.
 * Values are rendered by the same msgpack→JSON mapping as the payload; a
 * field the catalogue marks secret anywhere (cat_name_is_secret) shows
 * "[redacted]" (the payload's JSON redacts top-level fields only).
 */
#include "projections/proj_folds.h"

#include "core/catalog.h"
#include "core/common/pv_time.h"
#include "core/mp_json.h"

#include <string.h>

#include <inttypes.h>

/* JSON-escapes a slice (tenant, stream, type, actor: printable ASCII in
 * practice, but escaped all the same). */
static void add_json_str(pv_buf *out, const char *p, size_t len) {
  pv_buf_addch(out, '"');
  for (size_t i = 0; i < len; i++) {
    unsigned char ch = (unsigned char)p[i];
    if (ch == '"' || ch == '\\') {
      pv_buf_addch(out, '\\');
      pv_buf_addch(out, (char)ch);
    } else if (ch < 0x20 || ch >= 0x7f) {
      pv_buf_addf(out, "\\u%04x", ch < 0x20 ? ch : 0xfffd);
    } else {
      pv_buf_addch(out, (char)ch);
    }
  }
  pv_buf_addch(out, '"');
}

#define DIGEST_PREFIX "custom_fields."

/* One change map: its field, new value (JSON) and provenance into the
 * three digest objects. */
static int digest_change(mp_reader *r, const char *only, pv_buf *f, pv_buf *cf, pv_buf *prov,
                         pv_buf *val) {
  uint32_t n;
  int rc = mp_read_map(r, &n);
  if (rc) return rc;
  mp_slice field = {0}, source = {0};
  int64_t priority = 0, observed = 0;
  bool has_source = false, is_nil = true;
  pv_buf_reset(val);
  for (uint32_t i = 0; i < n && rc == 0; i++) {
    mp_slice key;
    if ((rc = mp_read_str(r, &key))) break;
    if (mp_slice_eq(key, "field")) {
      rc = mp_read_str(r, &field);
    } else if (mp_slice_eq(key, "new")) {
      mp_reader peek = *r;
      mp_value v;
      if ((rc = mp_read(&peek, &v))) break;
      is_nil = v.type == MP_NIL;
      pv_buf_reset(val);
      rc = mpj_append_next(val, r, 2);
    } else if (mp_slice_eq(key, "source")) {
      has_source = true;
      rc = mp_read_str(r, &source);
    } else if (mp_slice_eq(key, "priority")) {
      rc = mp_read_int(r, &priority);
    } else if (mp_slice_eq(key, "observed_at")) {
      rc = mp_read_int(r, &observed);
    } else {
      rc = mp_skip(r, 2);
    }
  }
  if (rc) return rc;
  if (field.len == 0) return PV_EINVAL;
  if (only && !mp_slice_eq(field, only)) return 0;
  size_t plen = sizeof DIGEST_PREFIX - 1;
  bool custom = field.len > plen && memcmp(field.ptr, DIGEST_PREFIX, plen) == 0;
  pv_buf *dst = custom ? cf : f;
  if (dst->len > 1) pv_buf_addch(dst, ',');
  if (custom) mpj_append_str(dst, field.ptr + plen, field.len - plen);
  else mpj_append_str(dst, field.ptr, field.len);
  pv_buf_addch(dst, ':');
  bool hidden = cat_name_is_secret(field.ptr, field.len);
  if (is_nil) pv_buf_addstr(dst, "null");
  else if (hidden) pv_buf_addstr(dst, "\"[redacted]\"");
  else pv_buf_add(dst, val->data, val->len);
  if (prov->len > 1) pv_buf_addch(prov, ',');
  mpj_append_str(prov, field.ptr, field.len);
  if (!has_source) {
    pv_buf_addstr(prov, ":null");
    return 0;
  }
  char at[32];
  pv_format_rfc3339_us(observed, at);
  pv_buf_addstr(prov, ":{\"source\":");
  mpj_append_str(prov, source.ptr, source.len);
  pv_buf_addf(prov, ",\"priority\":%lld,\"observed_at\":\"%s\"}", (long long)priority, at);
  return 0;
}

/* The accounts fold reads of a contact event only its type, stream and
 * whether it sets account_id (rm_lib.acct_contact_event, accounts_apply):
 * the rest of its digest and payload, most of an import's batch, is left
 * out (bench import: the accounts fold took 17.2 s for 100k contacts with
 * it). */
static bool is_contact_event(const evt_envelope *e) {
  return e->type.len > 8 && memcmp(e->type.ptr, "contact.", 8) == 0;
}

/* Appends ,"x":{...} for the payload's `changes` (empty objects when it has
 * none); with only, the changes of that field alone. */
static int digest(const evt_envelope *e, const char *only, pv_buf *out) {
  pv_buf f = PV_BUF_INIT, cf = PV_BUF_INIT, prov = PV_BUF_INIT, val = PV_BUF_INIT;
  pv_buf_addch(&f, '{');
  pv_buf_addch(&cf, '{');
  pv_buf_addch(&prov, '{');
  mp_reader r;
  uint32_t n = 0;
  int rc = mp_map_find(e->payload, e->payload_len, "changes", &r);
  if (rc == PV_ENOTFOUND) rc = 0;
  else if (rc == 0) rc = mp_read_array(&r, &n);
  for (uint32_t i = 0; i < n && rc == 0; i++)
    rc = digest_change(&r, only, &f, &cf, &prov, &val);
  if (rc == 0)
    pv_buf_addf(out, ",\"x\":{\"f\":%s},\"c\":%s},\"p\":%s}}", f.data, cf.data, prov.data);
  pv_buf_release(&f);
  pv_buf_release(&cf);
  pv_buf_release(&prov);
  pv_buf_release(&val);
  return rc;
}

/* cat_payload_json without the `changes` field (the secret fields redacted
 * all the same). */
static int payload_json(const evt_envelope *e, pv_buf *out) {
  const cat_event *ce = cat_find(e->type.ptr, e->type.len, e->type_version);
  if (!ce) return cat_payload_json(ce, e->payload, e->payload_len, out);
  static const char *const changes[] = {"changes", NULL};
  return cat_payload_json_omit(ce, e->payload, e->payload_len, changes, out);
}

/* One fold's batch; with link_only, a contact event is sent as its type,
 * stream and account_id change alone (the accounts fold). */
static int fold_json(pg_conn *c, const char *sql, bool link_only, const evt_envelope *events,
                     size_t n, pv_error *err) {
  if (n == 0) return 0;
  pv_buf batch = PV_BUF_INIT;
  int rc = 0;
  pv_buf_addch(&batch, '[');
  for (size_t i = 0; i < n; i++) {
    const evt_envelope *e = &events[i];
    char ts[32];
    pv_format_rfc3339_us(e->ts_us, ts);
    pv_buf_addf(&batch, "%s{\"p\":%" PRIu64 ",\"ts\":\"%s\",\"v\":%" PRIu64 ",\"t\":",
                i ? "," : "", e->position, ts, e->stream_version);
    add_json_str(&batch, e->tenant.ptr, e->tenant.len);
    pv_buf_addstr(&batch, ",\"s\":");
    add_json_str(&batch, e->stream.ptr, e->stream.len);
    pv_buf_addstr(&batch, ",\"y\":");
    add_json_str(&batch, e->type.ptr, e->type.len);
    pv_buf_addstr(&batch, ",\"a\":");
    add_json_str(&batch, e->actor.ptr, e->actor.len);
    pv_buf_addstr(&batch, ",\"d\":");
    bool link = link_only && is_contact_event(e);
    if (link) pv_buf_addstr(&batch, "{}");
    else rc = payload_json(e, &batch);
    if (rc) {
      pv_error_set(err, rc, "/payload", "the payload of position %" PRIu64 " is not valid msgpack",
                   e->position);
      goto out;
    }
    if ((rc = digest(e, link ? "account_id" : NULL, &batch))) {
      pv_error_set(err, rc, "/payload/changes", "the changes of position %" PRIu64 " do not read",
                   e->position);
      goto out;
    }
    pv_buf_addch(&batch, '}');
  }
  pv_buf_addch(&batch, ']');
  const char *values[] = {batch.data};
  rc = pg_exec(c, sql, 1, values, NULL, err);
out:
  pv_buf_release(&batch);
  return rc;
}

int proj_accounts_fold(pg_conn *c, const evt_envelope *events, size_t n, pv_error *err) {
  return fold_json(c, "SELECT rm_lib.fold_accounts($1::jsonb)", true, events, n, err);
}

int proj_contacts_fold(pg_conn *c, const evt_envelope *events, size_t n, pv_error *err) {
  return fold_json(c, "SELECT rm_lib.fold_contacts($1::jsonb)", false, events, n, err);
}
