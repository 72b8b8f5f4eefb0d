/*
 * The read models of accounts and contacts (schema/010 and 011): accounts
 * (with contact counts rolled up the hierarchy), contacts (each field with
 * its provenance), field_changes (the audit trail) and timeline.
 *
 * Each fold sends its whole batch as ONE jsonb array to a PL/pgSQL function
 * of rm_lib (`SELECT rm_lib.fold_<name>($1::jsonb)`): one round trip per
 * batch, and the logic that needs the current rows (merges, re-parenting,
 * rollups) runs next to them. An element is
 *   {"p": position, "ts": "RFC 3339", "t": tenant, "s": stream,
 *    "v": stream version, "y": type, "a": actor, "d": payload}
 * The payload goes through cat_payload_json, which redacts the catalogue's
 * SECRET fields: nothing secret reaches a read model.
 */
#include "projections/proj_folds.h"

#include "core/catalog.h"
#include "core/common/pv_time.h"

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

static int fold_json(pg_conn *c, const char *sql, const evt_envelope *events, size_t n,
                     pv_error *err) {
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
    rc = cat_payload_json(cat_find(e->type.ptr, e->type.len, e->type_version), e->payload,
                          e->payload_len, &batch);
    if (rc) {
      pv_error_set(err, rc, "/payload", "the payload of position %" PRIu64 " is not valid msgpack",
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
  return fold_json(c, "SELECT rm_lib.fold_accounts($1::jsonb)", events, n, err);
}

int proj_contacts_fold(pg_conn *c, const evt_envelope *events, size_t n, pv_error *err) {
  return fold_json(c, "SELECT rm_lib.fold_contacts($1::jsonb)", events, n, err);
}

int proj_field_changes_fold(pg_conn *c, const evt_envelope *events, size_t n, pv_error *err) {
  return fold_json(c, "SELECT rm_lib.fold_field_changes($1::jsonb)", events, n, err);
}

int proj_timeline_fold(pg_conn *c, const evt_envelope *events, size_t n, pv_error *err) {
  return fold_json(c, "SELECT rm_lib.fold_timeline($1::jsonb)", events, n, err);
}
