/*
 * domain_sets — the read model of ABM domain sets (schema/040_proj_domain_
 * sets.sql): sets, items with the current run's match, audience links and
 * stub accounts. Items arrive by the hundred (domain_set.items_added) and
 * go in with COPY; a run's matches go through a temporary table and one
 * UPDATE ... FROM per event, since 100k single-row UPDATEs would take a
 * minute. Every statement is keyed by (tenant, set_id), so a rebuild from
 * the log gives the same rows.
 */
#include "core/catalog.h"
#include "core/common/pv_time.h"
#include "core/mp_json.h"
#include "projections/proj_folds.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ev_ctx {
  pg_conn *c;
  const evt_envelope *e;
  char tenant[EVT_MAX_TENANT + 1];
  char set_id[64];
  char ts[32];
  pv_error *err;
} ev_ctx;

static void slice_cstr(mp_slice s, char *out, size_t cap) {
  size_t n = s.len < cap - 1 ? s.len : cap - 1;
  memcpy(out, s.ptr, n);
  out[n] = 0;
}

/* A string field into b (NUL-terminated, its offset returned); absent or
 * nil gives NULL when nullable, else "". */
static const char *str_field(const void *map, size_t len, const char *key, pv_buf *b,
                             bool nullable) {
  mp_reader r;
  mp_value v;
  if (mp_map_find(map, len, key, &r) || mp_read(&r, &v) || v.type != MP_STR)
    return nullable ? NULL : "";
  char *s = pv_xstrndup(v.v.s.ptr, v.v.s.len);
  pv_buf_reset(b);
  pv_buf_addstr(b, s);
  free(s);
  return b->data;
}

static uint64_t uint_field(const void *map, size_t len, const char *key) {
  mp_reader r;
  uint64_t v = 0;
  if (mp_map_find(map, len, key, &r) == 0) mp_read_uint(&r, &v);
  return v;
}

static double float_field(const void *map, size_t len, const char *key, bool *present) {
  mp_reader r;
  mp_value v;
  *present = false;
  if (mp_map_find(map, len, key, &r) || mp_read(&r, &v)) return 0;
  *present = v.type == MP_FLOAT || v.type == MP_UINT;
  return v.type == MP_FLOAT ? v.v.f : v.type == MP_UINT ? (double)v.v.u : 0;
}

static bool bool_field(const void *map, size_t len, const char *key) {
  mp_reader r;
  mp_value v;
  return mp_map_find(map, len, key, &r) == 0 && mp_read(&r, &v) == 0 && v.type == MP_BOOL &&
         v.v.b;
}

/* Each element map of the array `key`. */
typedef int (*elem_fn)(ev_ctx *x, const void *map, size_t len);
static int each_elem(ev_ctx *x, const char *key, elem_fn fn) {
  mp_reader r;
  uint32_t count;
  if (mp_map_find(x->e->payload, x->e->payload_len, key, &r) || mp_read_array(&r, &count))
    return 0;
  for (uint32_t i = 0; i < count; i++) {
    const uint8_t *start = r.p;
    if (mp_skip(&r, 1))
      return pv_error_set(x->err, PV_ECORRUPT, NULL, "a %s element does not decode", key);
    int rc = fn(x, start, (size_t)(r.p - start));
    if (rc) return rc;
  }
  return 0;
}

static int on_created(ev_ctx *x) {
  const void *p = x->e->payload;
  size_t len = x->e->payload_len;
  pv_buf name = PV_BUF_INIT, file = PV_BUF_INIT, format = PV_BUF_INIT, client = PV_BUF_INIT;
  char size[24], rows[24], items[24], dups[24];
  snprintf(size, sizeof size, "%" PRIu64, uint_field(p, len, "size_bytes"));
  snprintf(rows, sizeof rows, "%" PRIu64, uint_field(p, len, "rows"));
  snprintf(items, sizeof items, "%" PRIu64, uint_field(p, len, "item_count"));
  snprintf(dups, sizeof dups, "%" PRIu64, uint_field(p, len, "duplicates"));
  const char *values[] = {x->tenant,
                          x->set_id,
                          str_field(p, len, "name", &name, false),
                          str_field(p, len, "file_name", &file, true),
                          str_field(p, len, "format", &format, false),
                          size,
                          rows,
                          bool_field(p, len, "header") ? "true" : "false",
                          items,
                          dups,
                          str_field(p, len, "client_id", &client, true),
                          x->ts};
  int rc = pg_exec(x->c,
                   "INSERT INTO sets (tenant, set_id, name, file_name, format, size_bytes, rows, "
                   "header, item_count, duplicates, client_id, status, run, created_at, "
                   "updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, "
                   "'processing', 1, $12, $12)",
                   12, values, NULL, x->err);
  pv_buf_release(&name);
  pv_buf_release(&file);
  pv_buf_release(&format);
  pv_buf_release(&client);
  return rc;
}

/* One text[] literal of the repairs ({a,b}): names are [a-z_]. */
static void repairs_literal(const void *map, size_t len, pv_buf *out) {
  mp_reader r;
  uint32_t count;
  pv_buf_reset(out);
  pv_buf_addch(out, '{');
  if (mp_map_find(map, len, "repairs", &r) == 0 && mp_read_array(&r, &count) == 0)
    for (uint32_t i = 0; i < count; i++) {
      mp_slice s;
      if (mp_read_str(&r, &s)) break;
      if (i) pv_buf_addch(out, ',');
      for (uint32_t k = 0; k < s.len; k++)
        if ((s.ptr[k] >= 'a' && s.ptr[k] <= 'z') || s.ptr[k] == '_') pv_buf_addch(out, s.ptr[k]);
    }
  pv_buf_addch(out, '}');
}

#define ITEM_COLUMNS 15
static int copy_item(ev_ctx *x, const void *m, size_t len) {
  pv_buf b[ITEM_COLUMNS];
  for (int i = 0; i < ITEM_COLUMNS; i++) pv_buf_init(&b[i], 0);
  pv_buf_addf(&b[2], "%" PRIu64, uint_field(m, len, "n"));
  pv_buf_addf(&b[3], "%" PRIu64, uint_field(m, len, "row"));
  repairs_literal(m, len, &b[6]);
  pv_buf_addstr(&b[7], bool_field(m, len, "valid") ? "t" : "f");
  pv_buf_addf(&b[13], "%" PRIu64, uint_field(m, len, "dup_count"));
  const char *values[ITEM_COLUMNS] = {
      x->tenant,
      x->set_id,
      b[2].data,
      b[3].data,
      str_field(m, len, "original", &b[4], false),
      str_field(m, len, "repaired", &b[5], false),
      b[6].data,
      b[7].data,
      str_field(m, len, "invalid_reason", &b[8], false),
      str_field(m, len, "domain", &b[9], false),
      str_field(m, len, "registrable", &b[10], false),
      str_field(m, len, "account_name", &b[11], false),
      str_field(m, len, "notes", &b[12], false),
      b[13].data,
      NULL};
  int rc = pg_copy_row(x->c, ITEM_COLUMNS - 1, values, x->err);
  for (int i = 0; i < ITEM_COLUMNS; i++) pv_buf_release(&b[i]);
  return rc;
}

static int on_items(ev_ctx *x) {
  int rc = pg_copy_begin(x->c,
                         "COPY items (tenant, set_id, n, row_number, original, repaired, repairs, "
                         "valid, invalid_reason, domain, registrable, account_name, notes, "
                         "dup_count) FROM STDIN",
                         x->err);
  if (rc) return rc;
  rc = each_elem(x, "items", copy_item);
  if (rc) {
    pg_copy_abort(x->c);
    return rc;
  }
  return pg_copy_end(x->c, NULL, x->err);
}

#define MATCH_COLUMNS 7
static int copy_match(ev_ctx *x, const void *m, size_t len) {
  pv_buf b[MATCH_COLUMNS];
  for (int i = 0; i < MATCH_COLUMNS; i++) pv_buf_init(&b[i], 0);
  bool has, ru_has;
  pv_buf_addf(&b[0], "%" PRIu64, uint_field(m, len, "n"));
  pv_buf_addf(&b[4], "%.2f", float_field(m, len, "confidence", &has));
  pv_buf_addf(&b[5], "%" PRIu64, uint_field(m, len, "contacts"));
  double ru = float_field(m, len, "runner_up_confidence", &ru_has);
  pv_buf b6 = PV_BUF_INIT, b7 = PV_BUF_INIT, b8 = PV_BUF_INIT, b9 = PV_BUF_INIT;
  pv_buf_addf(&b[6], "%.2f", ru);
  const char *values[MATCH_COLUMNS + 2] = {b[0].data,
                                           str_field(m, len, "match", &b6, false),
                                           str_field(m, len, "rule", &b7, false),
                                           str_field(m, len, "account_id", &b8, true),
                                           b[4].data,
                                           b[5].data,
                                           str_field(m, len, "runner_up_account_id", &b9, true),
                                           ru_has ? b[6].data : NULL};
  int rc = pg_copy_row(x->c, 8, values, x->err);
  for (int i = 0; i < MATCH_COLUMNS; i++) pv_buf_release(&b[i]);
  pv_buf_release(&b6);
  pv_buf_release(&b7);
  pv_buf_release(&b8);
  pv_buf_release(&b9);
  return rc;
}

static int on_matched(ev_ctx *x) {
  int rc = pg_exec(x->c,
                   "CREATE TEMP TABLE IF NOT EXISTS ds_match_in (n integer, match text, rule text, "
                   "account_id text, confidence numeric(3,2), contacts integer, "
                   "runner_up_account_id text, runner_up_confidence numeric(3,2)) "
                   "ON COMMIT DELETE ROWS",
                   0, NULL, NULL, x->err);
  if (rc == 0) rc = pg_exec(x->c, "TRUNCATE pg_temp.ds_match_in", 0, NULL, NULL, x->err);
  if (rc == 0)
    rc = pg_copy_begin(x->c,
                       "COPY pg_temp.ds_match_in (n, match, rule, account_id, confidence, "
                       "contacts, runner_up_account_id, runner_up_confidence) FROM STDIN",
                       x->err);
  if (rc) return rc;
  rc = each_elem(x, "items", copy_match);
  if (rc) {
    pg_copy_abort(x->c);
    return rc;
  }
  if ((rc = pg_copy_end(x->c, NULL, x->err))) return rc;
  const char *values[] = {x->tenant, x->set_id};
  return pg_exec(x->c,
                 "UPDATE items i SET match = m.match, rule = m.rule, account_id = m.account_id, "
                 "confidence = m.confidence, contacts = m.contacts, "
                 "runner_up_account_id = m.runner_up_account_id, "
                 "runner_up_confidence = m.runner_up_confidence "
                 "FROM pg_temp.ds_match_in m WHERE i.tenant = $1 AND i.set_id = $2 AND i.n = m.n",
                 2, values, NULL, x->err);
}

static int on_processing_started(ev_ctx *x) {
  char run[24];
  snprintf(run, sizeof run, "%" PRIu64, uint_field(x->e->payload, x->e->payload_len, "run"));
  const char *values[] = {x->tenant, x->set_id, run, x->ts};
  int rc = pg_exec(x->c,
                   "UPDATE sets SET status = 'processing', run = $3, error = NULL, "
                   "updated_at = $4 WHERE tenant = $1 AND set_id = $2",
                   4, values, NULL, x->err);
  if (rc == 0)
    rc = pg_exec(x->c,
                 "UPDATE items SET match = 'none', rule = 'none', account_id = NULL, "
                 "confidence = 0, contacts = 0, runner_up_account_id = NULL, "
                 "runner_up_confidence = NULL WHERE tenant = $1 AND set_id = $2",
                 2, values, NULL, x->err);
  if (rc == 0)
    rc = pg_exec(x->c, "DELETE FROM stubs WHERE tenant = $1 AND set_id = $2", 2, values, NULL,
                 x->err);
  return rc;
}

static int insert_stub(ev_ctx *x, const void *m, size_t len) {
  char n[24];
  pv_buf acct = PV_BUF_INIT;
  snprintf(n, sizeof n, "%" PRIu64, uint_field(m, len, "n"));
  const char *values[] = {x->tenant, x->set_id, n, str_field(m, len, "account_id", &acct, false)};
  int rc = pg_exec(x->c,
                   "INSERT INTO stubs (tenant, set_id, n, account_id) VALUES ($1, $2, $3, $4) "
                   "ON CONFLICT (tenant, set_id, n) DO UPDATE SET account_id = EXCLUDED.account_id",
                   4, values, NULL, x->err);
  pv_buf_release(&acct);
  return rc;
}

static int on_processed(ev_ctx *x) {
  const void *p = x->e->payload;
  size_t len = x->e->payload_len;
  pv_buf status = PV_BUF_INIT, error = PV_BUF_INIT, report = PV_BUF_INIT;
  mp_reader r;
  bool has_report = mp_map_find(p, len, "report", &r) == 0;
  if (has_report && mpj_append_next(&report, &r, 1)) {
    pv_buf_release(&report);
    return pv_error_set(x->err, PV_ECORRUPT, NULL, "a domain_set.processed report does not decode");
  }
  char run[24], pos[24];
  snprintf(run, sizeof run, "%" PRIu64, uint_field(p, len, "run"));
  snprintf(pos, sizeof pos, "%" PRIu64, uint_field(p, len, "index_position"));
  const char *values[] = {x->tenant,
                          x->set_id,
                          str_field(p, len, "status", &status, false),
                          str_field(p, len, "error", &error, true),
                          has_report ? report.data : NULL,
                          pos,
                          run,
                          x->ts};
  int rc = pg_exec(x->c,
                   "UPDATE sets SET status = $3, error = $4, report = $5::jsonb, "
                   "index_position = $6, run = $7, updated_at = $8 "
                   "WHERE tenant = $1 AND set_id = $2",
                   8, values, NULL, x->err);
  pv_buf_release(&status);
  pv_buf_release(&error);
  pv_buf_release(&report);
  if (rc == 0) rc = each_elem(x, "stub_accounts", insert_stub);
  return rc;
}

static int on_exclusion(ev_ctx *x, bool excluded) {
  char n[24];
  pv_buf reason = PV_BUF_INIT;
  snprintf(n, sizeof n, "%" PRIu64, uint_field(x->e->payload, x->e->payload_len, "n"));
  const char *values[] = {x->tenant, x->set_id, n, excluded ? "t" : "f",
                          excluded ? str_field(x->e->payload, x->e->payload_len, "reason",
                                               &reason, true)
                                   : NULL};
  int rc = pg_exec(x->c,
                   "UPDATE items SET excluded = $4, exclude_reason = $5 "
                   "WHERE tenant = $1 AND set_id = $2 AND n = $3",
                   5, values, NULL, x->err);
  pv_buf_release(&reason);
  return rc;
}

static int on_linked(ev_ctx *x) {
  pv_buf type = PV_BUF_INIT, id = PV_BUF_INIT;
  const char *values[] = {x->tenant, x->set_id,
                          str_field(x->e->payload, x->e->payload_len, "target_type", &type, false),
                          str_field(x->e->payload, x->e->payload_len, "target_id", &id, false),
                          x->ts};
  int rc = pg_exec(x->c,
                   "INSERT INTO links (tenant, set_id, target_type, target_id, linked_at) "
                   "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                   5, values, NULL, x->err);
  pv_buf_release(&type);
  pv_buf_release(&id);
  return rc;
}

static int on_archived(ev_ctx *x) {
  const char *values[] = {x->tenant, x->set_id, x->ts};
  return pg_exec(x->c,
                 "UPDATE sets SET archived = true, updated_at = $3 "
                 "WHERE tenant = $1 AND set_id = $2",
                 3, values, NULL, x->err);
}

int proj_domain_sets_fold(pg_conn *c, const evt_envelope *events, size_t n, pv_error *err) {
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++) {
    const evt_envelope *e = &events[i];
    ev_ctx x = {.c = c, .e = e, .err = err};
    slice_cstr(e->tenant, x.tenant, sizeof x.tenant);
    /* "domain_set-<id>" */
    if (e->stream.len > 11 && memcmp(e->stream.ptr, "domain_set-", 11) == 0)
      slice_cstr((mp_slice){e->stream.ptr + 11, e->stream.len - 11}, x.set_id, sizeof x.set_id);
    else
      continue;
    pv_format_rfc3339_us(e->ts_us, x.ts);
    mp_slice t = e->type;
    if (mp_slice_eq(t, "domain_set.created")) rc = on_created(&x);
    else if (mp_slice_eq(t, "domain_set.items_added")) rc = on_items(&x);
    else if (mp_slice_eq(t, "domain_set.processing_started")) rc = on_processing_started(&x);
    else if (mp_slice_eq(t, "domain_set.matched")) rc = on_matched(&x);
    else if (mp_slice_eq(t, "domain_set.processed")) rc = on_processed(&x);
    else if (mp_slice_eq(t, "domain_set.item_excluded")) rc = on_exclusion(&x, true);
    else if (mp_slice_eq(t, "domain_set.item_included")) rc = on_exclusion(&x, false);
    else if (mp_slice_eq(t, "domain_set.audience_linked")) rc = on_linked(&x);
    else if (mp_slice_eq(t, "domain_set.archived")) rc = on_archived(&x);
  }
  return rc;
}
