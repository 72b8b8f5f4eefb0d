/*
 * ds_set — the domain set aggregate: fold, payloads, decide functions
 * (see ds_set.h).
 */
#include "core/domainsets/ds_set.h"

#include "core/mp_json.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool hex_id(const char *id) {
  if (!id || strlen(id) != DS_SET_ID_LEN) return false;
  for (const char *p = id; *p; p++)
    if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return false;
  return true;
}

int ds_set_stream(const char *id, char out[DS_SET_STREAM_MAX + 1]) {
  if (!hex_id(id)) return PV_EINVAL;
  snprintf(out, DS_SET_STREAM_MAX + 1, "domain_set-%s", id);
  return 0;
}

void ds_set_new_id(char out[DS_SET_ID_LEN + 1]) {
  uint8_t b[DS_SET_ID_LEN / 2];
  randombytes_buf(b, sizeof b);
  sodium_bin2hex(out, DS_SET_ID_LEN + 1, b, sizeof b);
}

void ds_set_state_init(ds_set_state *st) { memset(st, 0, sizeof *st); }

void ds_set_state_release(ds_set_state *st) {
  free(st->excluded);
  ds_set_state_init(st);
}

static size_t excluded_pos(const ds_set_state *st, uint32_t n) {
  size_t lo = 0, hi = st->excluded_count;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (st->excluded[mid] < n) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

bool ds_set_is_excluded(const ds_set_state *st, uint32_t n) {
  size_t i = excluded_pos(st, n);
  return i < st->excluded_count && st->excluded[i] == n;
}

static void set_excluded(ds_set_state *st, uint32_t n, bool on) {
  size_t i = excluded_pos(st, n);
  bool present = i < st->excluded_count && st->excluded[i] == n;
  if (on && !present && st->excluded_count < DS_MAX_EXCLUDED) {
    st->excluded = pv_xrealloc(st->excluded, (st->excluded_count + 1) * sizeof *st->excluded);
    memmove(st->excluded + i + 1, st->excluded + i, (st->excluded_count - i) * sizeof *st->excluded);
    st->excluded[i] = n;
    st->excluded_count++;
  } else if (!on && present) {
    memmove(st->excluded + i, st->excluded + i + 1,
            (st->excluded_count - i - 1) * sizeof *st->excluded);
    st->excluded_count--;
  }
}

/* ---- reading payloads ---------------------------------------------------- */

static void copy_slice(char *out, size_t cap, mp_slice s) {
  size_t n = s.len < cap - 1 ? s.len : cap - 1;
  memcpy(out, s.ptr, n);
  out[n] = 0;
}

static int get_str(const void *map, size_t len, const char *key, char *out, size_t cap) {
  mp_reader r;
  mp_slice s;
  out[0] = 0;
  if (mp_map_find(map, len, key, &r)) return 0;
  if (mp_read_str(&r, &s)) return PV_ECORRUPT;
  copy_slice(out, cap, s);
  return 0;
}

static char *get_dup(const void *map, size_t len, const char *key) {
  mp_reader r;
  mp_slice s;
  if (mp_map_find(map, len, key, &r) || mp_read_str(&r, &s)) return pv_xstrdup("");
  return pv_xstrndup(s.ptr, s.len);
}

static uint64_t get_uint(const void *map, size_t len, const char *key) {
  mp_reader r;
  uint64_t v = 0;
  if (mp_map_find(map, len, key, &r) == 0) mp_read_uint(&r, &v);
  return v;
}

static double get_float(const void *map, size_t len, const char *key) {
  mp_reader r;
  mp_value v;
  if (mp_map_find(map, len, key, &r) || mp_read(&r, &v)) return 0;
  return v.type == MP_FLOAT ? v.v.f : v.type == MP_UINT ? (double)v.v.u : 0;
}

static bool get_bool(const void *map, size_t len, const char *key) {
  mp_reader r;
  mp_value v;
  if (mp_map_find(map, len, key, &r) || mp_read(&r, &v)) return false;
  return v.type == MP_BOOL && v.v.b;
}

/* Calls fn for each element map of the array `key`. */
static int each_map(const void *payload, size_t len, const char *key,
                    int (*fn)(void *arg, const void *map, size_t len), void *arg) {
  mp_reader r;
  uint32_t count;
  if (mp_map_find(payload, len, key, &r) || mp_read_array(&r, &count)) return PV_ECORRUPT;
  for (uint32_t i = 0; i < count; i++) {
    const uint8_t *start = r.p;
    if (mp_skip(&r, 1)) return PV_ECORRUPT;
    int rc = fn(arg, start, (size_t)(r.p - start));
    if (rc) return rc;
  }
  return 0;
}

static unsigned repairs_of(const void *map, size_t len) {
  mp_reader r;
  uint32_t count;
  unsigned mask = 0;
  if (mp_map_find(map, len, "repairs", &r) || mp_read_array(&r, &count)) return 0;
  for (uint32_t i = 0; i < count; i++) {
    mp_slice s;
    if (mp_read_str(&r, &s)) break;
#define DS__XX(name, str, bit)                                                                 \
  if (mp_slice_eq(s, str)) mask |= DS_REPAIR_##name;
    DS_REPAIR_MAP(DS__XX)
#undef DS__XX
  }
  return mask;
}

static int add_item(void *arg, const void *m, size_t len) {
  ds_items *items = arg;
  ds_item *x = ds_items_push(items);
  uint64_t n = get_uint(m, len, "n");
  if (n != x->n) return PV_ECORRUPT; /* items are recorded in order */
  x->row = (uint32_t)get_uint(m, len, "row");
  x->dup_count = (uint32_t)get_uint(m, len, "dup_count");
  x->original = get_dup(m, len, "original");
  x->repaired = get_dup(m, len, "repaired");
  x->repairs = repairs_of(m, len);
  x->valid = get_bool(m, len, "valid");
  x->invalid_reason = get_dup(m, len, "invalid_reason");
  x->domain = get_dup(m, len, "domain");
  x->registrable = get_dup(m, len, "registrable");
  char label[64];
  ds_label_of(x->registrable, label, sizeof label);
  x->label = pv_xstrdup(label);
  x->account_name = get_dup(m, len, "account_name");
  x->notes = get_dup(m, len, "notes");
  pv_buf display = PV_BUF_INIT, key = PV_BUF_INIT;
  pv_error e = PV_ERROR_INIT;
  x->name_key = pv_xstrdup(x->account_name[0] && norm_name_parse(x->account_name,
                                                                 strlen(x->account_name),
                                                                 &display, &key, &e) == 0
                               ? key.data
                               : "");
  pv_buf_release(&display);
  pv_buf_release(&key);
  return 0;
}

static int set_match(void *arg, const void *m, size_t len) {
  ds_items *items = arg;
  uint64_t n = get_uint(m, len, "n");
  if (n >= items->n) return PV_ECORRUPT;
  ds_item *x = &items->v[n];
  char s[48];
  get_str(m, len, "match", s, sizeof s);
  x->match = strcmp(s, "exact") == 0 ? DS_MATCH_EXACT
             : strcmp(s, "fuzzy") == 0 ? DS_MATCH_FUZZY
                                       : DS_MATCH_NONE;
  get_str(m, len, "rule", s, sizeof s);
  int rule = ds_rule_by_name(s);
  x->rule = rule < 0 ? DS_RULE_NONE : (ds_rule)rule;
  get_str(m, len, "account_id", x->account_id, sizeof x->account_id);
  x->confidence = get_float(m, len, "confidence");
  x->contacts = (uint32_t)get_uint(m, len, "contacts");
  get_str(m, len, "runner_up_account_id", x->runner_up_id, sizeof x->runner_up_id);
  x->runner_up_confidence = get_float(m, len, "runner_up_confidence");
  return 0;
}

static bool type_is(const char *type, size_t type_len, const char *want) {
  return strlen(want) == type_len && memcmp(type, want, type_len) == 0;
}

int ds_set_apply(ds_set_state *st, ds_items *items, const char *type, size_t type_len,
                 const void *payload, size_t len) {
  int rc = 0;
  if (type_is(type, type_len, "domain_set.created")) {
    st->exists = true;
    if (get_str(payload, len, "set_id", st->id, sizeof st->id) ||
        get_str(payload, len, "name", st->name, sizeof st->name) ||
        get_str(payload, len, "client_id", st->client_id, sizeof st->client_id))
      return PV_ECORRUPT;
    st->item_count = get_uint(payload, len, "item_count");
    st->run = 1;
    snprintf(st->status, sizeof st->status, "processing");
  } else if (type_is(type, type_len, "domain_set.items_added")) {
    if (items) rc = each_map(payload, len, "items", add_item, items);
  } else if (type_is(type, type_len, "domain_set.processing_started")) {
    st->run = get_uint(payload, len, "run");
    snprintf(st->status, sizeof st->status, "processing");
    if (items)
      for (size_t i = 0; i < items->n; i++) {
        ds_item *x = &items->v[i];
        x->match = DS_MATCH_NONE;
        x->rule = DS_RULE_NONE;
        x->account_id[0] = x->runner_up_id[0] = 0;
        x->confidence = x->runner_up_confidence = 0;
        x->contacts = 0;
      }
  } else if (type_is(type, type_len, "domain_set.matched")) {
    if (items) rc = each_map(payload, len, "items", set_match, items);
  } else if (type_is(type, type_len, "domain_set.processed")) {
    if (get_str(payload, len, "status", st->status, sizeof st->status)) return PV_ECORRUPT;
  } else if (type_is(type, type_len, "domain_set.item_excluded") ||
             type_is(type, type_len, "domain_set.item_included")) {
    bool on = type_is(type, type_len, "domain_set.item_excluded");
    uint32_t n = (uint32_t)get_uint(payload, len, "n");
    set_excluded(st, n, on);
    if (items && n < items->n) items->v[n].excluded = on;
  } else if (type_is(type, type_len, "domain_set.archived")) {
    st->archived = true;
  }
  return rc;
}

typedef struct read_ctx {
  ds_set_state *st;
  ds_items *items;
} read_ctx;

static int read_visit(void *arg, const evt_envelope *e, const uint8_t *raw, size_t raw_len) {
  (void)raw;
  (void)raw_len;
  read_ctx *rc = arg;
  rc->st->version = e->stream_version;
  return ds_set_apply(rc->st, rc->items, e->type.ptr, e->type.len, e->payload, e->payload_len);
}

int ds_set_read(log_t *log, const char *tenant, const char *id, ds_set_state *st,
                ds_items *items) {
  char stream[DS_SET_STREAM_MAX + 1];
  if (ds_set_stream(id, stream)) return PV_EINVAL;
  log_reader *rd;
  int rc = log_read_begin(log, &rd);
  if (rc) return rc;
  read_ctx c = {st, items};
  rc = log_read_stream(rd, tenant, stream, 1, read_visit, &c);
  log_read_end(rd);
  /* Exclusions recorded before the items were folded (never in practice:
   * items come first) are applied once more here. */
  if (rc == 0 && items)
    for (size_t i = 0; i < st->excluded_count; i++)
      if (st->excluded[i] < items->n) items->v[st->excluded[i]].excluded = true;
  return rc;
}

/* ---- payloads ------------------------------------------------------------- */

static void pack_kv_str(msgpack_packer *pk, const char *k, const char *v) {
  mp_pack_cstr(pk, k);
  mp_pack_cstr(pk, v);
}

static void pack_kv_uint(msgpack_packer *pk, const char *k, uint64_t v) {
  mp_pack_cstr(pk, k);
  msgpack_pack_uint64(pk, v);
}

void ds_pack_created(pv_buf *out, const ds_upload_meta *m, const ds_items *items) {
  msgpack_packer pk;
  mp_packer_init(&pk, out);
  msgpack_pack_map(&pk, 8 + (m->file_name != NULL) + (m->client_id != NULL));
  pack_kv_str(&pk, "set_id", m->set_id);
  pack_kv_str(&pk, "name", m->name);
  if (m->file_name) pack_kv_str(&pk, "file_name", m->file_name);
  pack_kv_str(&pk, "format", m->format);
  pack_kv_uint(&pk, "size_bytes", m->size_bytes);
  pack_kv_uint(&pk, "rows", items->rows);
  mp_pack_cstr(&pk, "header");
  if (items->header) msgpack_pack_true(&pk);
  else msgpack_pack_false(&pk);
  pack_kv_uint(&pk, "item_count", items->n);
  pack_kv_uint(&pk, "duplicates", items->duplicates);
  if (m->client_id) pack_kv_str(&pk, "client_id", m->client_id);
}

void ds_pack_items(pv_buf *out, const ds_items *items, size_t from, size_t to) {
  msgpack_packer pk;
  mp_packer_init(&pk, out);
  msgpack_pack_map(&pk, 1);
  mp_pack_cstr(&pk, "items");
  msgpack_pack_array(&pk, (uint32_t)(to - from));
  for (size_t i = from; i < to; i++) {
    const ds_item *x = &items->v[i];
    unsigned nrep = (unsigned)__builtin_popcount(x->repairs);
    msgpack_pack_map(&pk, 12);
    pack_kv_uint(&pk, "n", x->n);
    pack_kv_uint(&pk, "row", x->row);
    pack_kv_str(&pk, "original", x->original);
    pack_kv_str(&pk, "repaired", x->repaired);
    mp_pack_cstr(&pk, "repairs");
    msgpack_pack_array(&pk, nrep);
#define DS__XX(name, str, bit)                                                                 \
  if (x->repairs & DS_REPAIR_##name) mp_pack_cstr(&pk, str);
    DS_REPAIR_MAP(DS__XX)
#undef DS__XX
    mp_pack_cstr(&pk, "valid");
    if (x->valid) msgpack_pack_true(&pk);
    else msgpack_pack_false(&pk);
    pack_kv_str(&pk, "invalid_reason", x->invalid_reason);
    pack_kv_str(&pk, "domain", x->domain);
    pack_kv_str(&pk, "registrable", x->registrable);
    pack_kv_str(&pk, "account_name", x->account_name);
    pack_kv_str(&pk, "notes", x->notes);
    pack_kv_uint(&pk, "dup_count", x->dup_count);
  }
}

void ds_pack_matched(pv_buf *out, uint64_t run, const ds_items *items, size_t from, size_t to) {
  uint32_t count = 0;
  for (size_t i = from; i < to; i++) count += items->v[i].match != DS_MATCH_NONE;
  msgpack_packer pk;
  mp_packer_init(&pk, out);
  msgpack_pack_map(&pk, 2);
  pack_kv_uint(&pk, "run", run);
  mp_pack_cstr(&pk, "items");
  msgpack_pack_array(&pk, count);
  for (size_t i = from; i < to; i++) {
    const ds_item *x = &items->v[i];
    if (x->match == DS_MATCH_NONE) continue;
    bool ru = x->runner_up_id[0] != 0;
    msgpack_pack_map(&pk, 6 + (ru ? 2 : 0));
    pack_kv_uint(&pk, "n", x->n);
    pack_kv_str(&pk, "match", ds_match_type_name(x->match));
    pack_kv_str(&pk, "rule", ds_rule_name(x->rule));
    pack_kv_str(&pk, "account_id", x->account_id);
    mp_pack_cstr(&pk, "confidence");
    msgpack_pack_double(&pk, x->confidence);
    pack_kv_uint(&pk, "contacts", x->contacts);
    if (ru) {
      pack_kv_str(&pk, "runner_up_account_id", x->runner_up_id);
      mp_pack_cstr(&pk, "runner_up_confidence");
      msgpack_pack_double(&pk, x->runner_up_confidence);
    }
  }
}

void ds_pack_report(msgpack_packer *pk, const ds_report *r) {
  msgpack_pack_map(pk, 13);
  pack_kv_uint(pk, "rows", r->rows);
  pack_kv_uint(pk, "items", r->items);
  pack_kv_uint(pk, "duplicates", r->duplicates);
  pack_kv_uint(pk, "invalid", r->invalid);
  pack_kv_uint(pk, "excluded", r->excluded);
  pack_kv_uint(pk, "exact", r->exact);
  pack_kv_uint(pk, "fuzzy", r->fuzzy);
  pack_kv_uint(pk, "none", r->none);
  pack_kv_uint(pk, "matched_accounts", r->matched_accounts);
  pack_kv_uint(pk, "matched_contacts", r->matched_contacts);
  pack_kv_uint(pk, "unknown_domains", r->unknown_domains);
  mp_pack_cstr(pk, "match_rate");
  msgpack_pack_double(pk, r->match_rate);
  mp_pack_cstr(pk, "by_rule");
  msgpack_pack_map(pk, DS_RULE_COUNT);
  for (int i = 0; i < DS_RULE_COUNT; i++) pack_kv_uint(pk, ds_rule_name((ds_rule)i), r->by_rule[i]);
}

void ds_pack_processed(pv_buf *out, uint64_t run, const char *status, const char *error,
                       const ds_report *r, uint64_t index_position, const ds_stub *stubs,
                       size_t stub_count) {
  msgpack_packer pk;
  mp_packer_init(&pk, out);
  msgpack_pack_map(&pk, 3 + (error != NULL) + (r != NULL) + (stub_count > 0));
  pack_kv_uint(&pk, "run", run);
  pack_kv_str(&pk, "status", status);
  if (error) pack_kv_str(&pk, "error", error);
  if (r) {
    mp_pack_cstr(&pk, "report");
    ds_pack_report(&pk, r);
  }
  pack_kv_uint(&pk, "index_position", index_position);
  if (stub_count) {
    mp_pack_cstr(&pk, "stub_accounts");
    msgpack_pack_array(&pk, (uint32_t)stub_count);
    for (size_t i = 0; i < stub_count; i++) {
      msgpack_pack_map(&pk, 2);
      pack_kv_uint(&pk, "n", stubs[i].n);
      pack_kv_str(&pk, "account_id", stubs[i].account_id);
    }
  }
}

ds_prepared *ds_prepare_run(const ds_upload_meta *meta, const ds_items *items, uint64_t run,
                            const ds_report *report, uint64_t index_position,
                            const ds_stub *stubs, size_t stub_count, size_t *count) {
  size_t nitem_ev = meta ? (items->n + DS_ITEMS_PER_EVENT - 1) / DS_ITEMS_PER_EVENT : 0;
  size_t nmatch_ev = (items->n + DS_MATCHES_PER_EVENT - 1) / DS_MATCHES_PER_EVENT;
  size_t n = 0;
  size_t cap = 2 + nitem_ev + nmatch_ev;
  ds_prepared *ev = pv_xcalloc(cap, sizeof *ev);
  for (size_t i = 0; i < cap; i++) pv_buf_init(&ev[i].payload, 0);
  if (meta) {
    ev[n].type = "domain_set.created";
    ds_pack_created(&ev[n++].payload, meta, items);
    for (size_t from = 0; from < items->n; from += DS_ITEMS_PER_EVENT) {
      size_t to = from + DS_ITEMS_PER_EVENT < items->n ? from + DS_ITEMS_PER_EVENT : items->n;
      ev[n].type = "domain_set.items_added";
      ds_pack_items(&ev[n++].payload, items, from, to);
    }
  } else {
    ev[n].type = "domain_set.processing_started";
    msgpack_packer pk;
    mp_packer_init(&pk, &ev[n++].payload);
    msgpack_pack_map(&pk, 1);
    pack_kv_uint(&pk, "run", run);
  }
  for (size_t from = 0; from < items->n; from += DS_MATCHES_PER_EVENT) {
    size_t to = from + DS_MATCHES_PER_EVENT < items->n ? from + DS_MATCHES_PER_EVENT : items->n;
    size_t matched = 0;
    for (size_t i = from; i < to; i++) matched += items->v[i].match != DS_MATCH_NONE;
    if (!matched) continue;
    ev[n].type = "domain_set.matched";
    ds_pack_matched(&ev[n++].payload, run, items, from, to);
  }
  ev[n].type = "domain_set.processed";
  ds_pack_processed(&ev[n++].payload, run, "completed", NULL, report, index_position, stubs,
                    stub_count);
  *count = n;
  return ev;
}

void ds_prepared_free(ds_prepared *ev, size_t count) {
  for (size_t i = 0; i < count; i++) pv_buf_release(&ev[i].payload);
  free(ev);
}

/* ---- decide functions ----------------------------------------------------- */

static int fold_visit(void *arg, const evt_envelope *e, const uint8_t *raw, size_t raw_len) {
  (void)raw;
  (void)raw_len;
  ds_set_state *st = arg;
  st->version = e->stream_version;
  return ds_set_apply(st, NULL, e->type.ptr, e->type.len, e->payload, e->payload_len);
}

/* Folds the set's header state in a decide. */
static int fold_set(writer_ctx *ctx, const char *stream, ds_set_state *st, pv_error *err) {
  int rc = writer_read_stream(ctx, stream, 1, fold_visit, st);
  if (rc) return pv_error_set(err, PV_ECORRUPT, NULL, "could not read the domain set");
  return 0;
}

int ds_emit_decide(writer_ctx *ctx, void *argp, pv_error *err) {
  ds_emit_arg *a = argp;
  char stream[DS_SET_STREAM_MAX + 1];
  if (ds_set_stream(a->set_id, stream))
    return pv_error_set(err, PV_ENOTFOUND, NULL, "no such domain set");
  int64_t expected;
  if (a->create) {
    uint64_t v = 0;
    writer_stream_version(ctx, stream, &v);
    if (v) return pv_error_set(err, PV_EEXISTS, NULL, "the domain set id is taken");
    expected = LOG_EXPECT_NO_STREAM;
  } else {
    ds_set_state st;
    ds_set_state_init(&st);
    int rc = fold_set(ctx, stream, &st, err);
    if (rc == 0 && !st.exists) rc = pv_error_set(err, PV_ENOTFOUND, NULL, "no such domain set");
    if (rc == 0 && st.archived)
      rc = pv_error_set(err, PV_ECONFLICT, NULL, "the domain set is archived");
    if (rc == 0 && st.run + 1 != a->run)
      rc = pv_error_set(err, PV_ECONFLICT, NULL, "another run of the domain set came first");
    expected = (int64_t)st.version;
    ds_set_state_release(&st);
    if (rc) return rc;
  }
  for (size_t i = 0; i < a->count; i++) {
    int rc = writer_emit(ctx, stream, i == 0 ? expected : LOG_EXPECT_ANY, a->events[i].type, 1,
                         a->events[i].payload.data, a->events[i].payload.len, err);
    if (rc) return rc;
  }
  return 0;
}

static int valid_target_id(const char *id) {
  size_t n = id ? strlen(id) : 0;
  if (n == 0 || n > 64) return 0;
  for (size_t i = 0; i < n; i++)
    if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'z') ||
          (id[i] >= 'A' && id[i] <= 'Z') || id[i] == '-' || id[i] == '_'))
      return 0;
  return 1;
}

int ds_cmd_decide(writer_ctx *ctx, void *argp, pv_error *err) {
  ds_cmd_arg *a = argp;
  a->changed = false;
  char stream[DS_SET_STREAM_MAX + 1];
  if (ds_set_stream(a->set_id, stream))
    return pv_error_set(err, PV_ENOTFOUND, NULL, "no such domain set");
  ds_set_state st;
  ds_set_state_init(&st);
  int rc = fold_set(ctx, stream, &st, err);
  if (rc) goto out;
  if (!st.exists || (a->client_id && strcmp(st.client_id, a->client_id) != 0)) {
    rc = pv_error_set(err, PV_ENOTFOUND, NULL, "no such domain set");
    goto out;
  }
  if (a->kind == DS_CMD_ARCHIVE) {
    if (st.archived) goto out;
    pv_buf p = PV_BUF_INIT;
    msgpack_packer pk;
    mp_packer_init(&pk, &p);
    msgpack_pack_map(&pk, 1);
    pack_kv_str(&pk, "set_id", st.id);
    rc = writer_emit(ctx, stream, (int64_t)st.version, "domain_set.archived", 1, p.data, p.len, err);
    pv_buf_release(&p);
    a->changed = rc == 0;
    goto out;
  }
  if (st.archived) {
    rc = pv_error_set(err, PV_ECONFLICT, NULL, "the domain set is archived");
    pv_error_hint(err, "An archived domain set cannot change.");
    goto out;
  }
  pv_buf p = PV_BUF_INIT;
  msgpack_packer pk;
  mp_packer_init(&pk, &p);
  const char *type = NULL;
  if (a->kind == DS_CMD_EXCLUDE || a->kind == DS_CMD_INCLUDE) {
    if (a->n >= st.item_count) {
      rc = pv_error_set(err, PV_ENOTFOUND, NULL, "no item %" PRIu32 " in the domain set", a->n);
      pv_buf_release(&p);
      goto out;
    }
    bool exclude = a->kind == DS_CMD_EXCLUDE;
    if (ds_set_is_excluded(&st, a->n) == exclude) {
      pv_buf_release(&p);
      goto out;
    }
    type = exclude ? "domain_set.item_excluded" : "domain_set.item_included";
    msgpack_pack_map(&pk, 1 + (exclude && a->reason));
    pack_kv_uint(&pk, "n", a->n);
    if (exclude && a->reason) pack_kv_str(&pk, "reason", a->reason);
  } else {
    if (!a->target_type ||
        (strcmp(a->target_type, "campaign") != 0 && strcmp(a->target_type, "order") != 0)) {
      rc = pv_error_set(err, PV_EINVAL, "/target_type", "target_type must be \"campaign\" or \"order\"");
      pv_buf_release(&p);
      goto out;
    }
    if (!valid_target_id(a->target_id)) {
      rc = pv_error_set(err, PV_EINVAL, "/target_id", "target_id must be 1 to 64 letters, digits, '-' or '_'");
      pv_buf_release(&p);
      goto out;
    }
    type = "domain_set.audience_linked";
    msgpack_pack_map(&pk, 2);
    pack_kv_str(&pk, "target_type", a->target_type);
    pack_kv_str(&pk, "target_id", a->target_id);
  }
  rc = writer_emit(ctx, stream, (int64_t)st.version, type, 1, p.data, p.len, err);
  a->changed = rc == 0;
  pv_buf_release(&p);
out:
  ds_set_state_release(&st);
  return rc;
}

static void pack_ids(msgpack_packer *pk, char (*ids)[48], size_t from, size_t to) {
  msgpack_pack_array(pk, (uint32_t)(to - from));
  for (size_t i = from; i < to; i++) mp_pack_cstr(pk, ids[i]);
}

int ds_list_decide(writer_ctx *ctx, void *argp, pv_error *err) {
  ds_list_arg *a = argp;
  char stream[DS_SET_STREAM_MAX + 8];
  snprintf(stream, sizeof stream, "list-%s", a->list_id);
  uint64_t v = 0;
  writer_stream_version(ctx, stream, &v);
  if (v) return pv_error_set(err, PV_EEXISTS, NULL, "the list id is taken");
  /* issue 6's list shape (schema/events.def): the list, then its members
   * in chunks; a domain set's list is global, owned by whoever converted
   * it, and records the expansion's filters as its filter */
  pv_buf filter = PV_BUF_INIT, p = PV_BUF_INIT;
  pv_buf_addstr(&filter, "{\"title\":");
  mpj_append_str(&filter, a->title ? a->title : "", a->title ? strlen(a->title) : 0);
  pv_buf_addstr(&filter, ",\"seniority\":[");
  for (size_t i = 0; i < a->seniority_count; i++) {
    if (i) pv_buf_addch(&filter, ',');
    mpj_append_str(&filter, a->seniority[i], strlen(a->seniority[i]));
  }
  pv_buf_addstr(&filter, "],\"department\":[");
  for (size_t i = 0; i < a->department_count; i++) {
    if (i) pv_buf_addch(&filter, ',');
    mpj_append_str(&filter, a->department[i], strlen(a->department[i]));
  }
  pv_buf_addf(&filter, "],\"include_orphans\":%s}", a->include_orphans ? "true" : "false");
  msgpack_packer pk;
  mp_packer_init(&pk, &p);
  msgpack_pack_map(&pk, 11);
  pack_kv_str(&pk, "list_id", a->list_id);
  pack_kv_str(&pk, "entity_type", "contact");
  pack_kv_str(&pk, "name", a->name);
  mp_pack_cstr(&pk, "tags");
  msgpack_pack_array(&pk, 0);
  pack_kv_str(&pk, "visibility", "global");
  pack_kv_str(&pk, "team", "");
  pack_kv_str(&pk, "owner", writer_ctx_actor(ctx));
  pack_kv_str(&pk, "source_type", "domain_set");
  pack_kv_str(&pk, "source_ref", a->set_id);
  pack_kv_str(&pk, "filter", filter.data);
  pack_kv_uint(&pk, "snapshot_position", a->snapshot_position);
  int rc = writer_emit(ctx, stream, LOG_EXPECT_NO_STREAM, "list.created", 1, p.data, p.len, err);
  for (size_t from = 0; rc == 0 && from < a->id_count; from += DS_LIST_IDS_PER_EVENT) {
    size_t to = from + DS_LIST_IDS_PER_EVENT < a->id_count ? from + DS_LIST_IDS_PER_EVENT : a->id_count;
    pv_buf_reset(&p);
    mp_packer_init(&pk, &p);
    msgpack_pack_map(&pk, 1);
    mp_pack_cstr(&pk, "record_ids");
    pack_ids(&pk, a->ids, from, to);
    rc = writer_emit(ctx, stream, LOG_EXPECT_ANY, "list.members_added", 1, p.data, p.len, err);
  }
  pv_buf_release(&filter);
  pv_buf_release(&p);
  return rc;
}
