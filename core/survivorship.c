/* survivorship — see survivorship.h. The policies are written as
 * lexicographic comparisons so that each is a total order. */
#include "core/survivorship.h"

#include "core/common/pv_buf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *surv_policy_name(surv_policy p) {
  static const char *names[] = {
#define SURV__XX(name, str) str,
      SURV_POLICY_MAP(SURV__XX)
#undef SURV__XX
  };
  return (unsigned)p < sizeof names / sizeof names[0] ? names[p] : "unknown";
}

static const struct {
  const char *name;
  int32_t priority;
} sources[] = {
#define SURV__XX(id, name, prio) {name, prio},
    SURV_SOURCE_MAP(SURV__XX)
#undef SURV__XX
};

int surv_source_check(const char *source, const char *json_field, pv_error *err) {
  size_t n = source ? strlen(source) : 0;
  if (n == 0 || n > SURV_SOURCE_MAX)
    return pv_error_set(err, PV_EINVAL, json_field, "a source name must be 1 to %d bytes",
                        SURV_SOURCE_MAX);
  for (size_t i = 0; i < n; i++) {
    char c = source[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-')) {
      pv_error_set(err, PV_EINVAL, json_field, "invalid source name \"%s\"", source);
      pv_error_hint(err, "Use lower-case letters, digits, '_', '.' and '-'.");
      return PV_EINVAL;
    }
  }
  return 0;
}

int32_t surv_source_priority(const char *source) {
  for (size_t i = 0; i < sizeof sources / sizeof sources[0]; i++)
    if (strcmp(sources[i].name, source) == 0) return sources[i].priority;
  return SURV_PRIORITY_OTHER;
}

bool surv_is_manual(const char *source) { return strcmp(source, "manual") == 0; }

static void set_prov(surv_field *f, const char *source, int32_t prio, int64_t at) {
  f->set = true;
  snprintf(f->source, sizeof f->source, "%s", source ? source : "");
  f->priority = prio;
  f->observed_at_us = at;
}

void surv_field_str(surv_field *f, const char *s, const char *source, int32_t prio, int64_t at) {
  memset(f, 0, sizeof *f);
  f->value.type = SURV_STR;
  f->value.str = pv_xstrdup(s);
  set_prov(f, source, prio, at);
}

void surv_field_num(surv_field *f, double n, const char *source, int32_t prio, int64_t at) {
  memset(f, 0, sizeof *f);
  f->value.type = SURV_NUM;
  f->value.num = n;
  set_prov(f, source, prio, at);
}

void surv_field_bool(surv_field *f, bool b, const char *source, int32_t prio, int64_t at) {
  memset(f, 0, sizeof *f);
  f->value.type = SURV_BOOL;
  f->value.b = b;
  set_prov(f, source, prio, at);
}

void surv_field_nil(surv_field *f, const char *source, int32_t prio, int64_t at) {
  memset(f, 0, sizeof *f);
  set_prov(f, source, prio, at);
}

void surv_field_copy(surv_field *dst, const surv_field *src) {
  *dst = *src;
  if (src->value.type == SURV_STR) dst->value.str = pv_xstrdup(src->value.str);
}

void surv_field_release(surv_field *f) {
  if (f->value.type == SURV_STR) free(f->value.str);
  memset(f, 0, sizeof *f);
}

bool surv_value_equal(const surv_value *a, const surv_value *b) {
  if (a->type != b->type) return false;
  switch (a->type) {
  case SURV_NIL: return true;
  case SURV_STR: return strcmp(a->str, b->str) == 0;
  case SURV_NUM: return a->num == b->num;
  case SURV_BOOL: return a->b == b->b;
  }
  return false;
}

bool surv_field_equal(const surv_field *a, const surv_field *b) {
  if (a->set != b->set) return false;
  if (!a->set) return true;
  return surv_value_equal(&a->value, &b->value) && strcmp(a->source, b->source) == 0 &&
         a->priority == b->priority && a->observed_at_us == b->observed_at_us;
}

static int cmp_i64(int64_t a, int64_t b) { return (a > b) - (a < b); }

static int cmp_value(const surv_value *a, const surv_value *b) {
  if (a->type != b->type) return cmp_i64(a->type, b->type);
  switch (a->type) {
  case SURV_NIL: return 0;
  case SURV_STR: {
    int c = strcmp(a->str, b->str);
    return (c > 0) - (c < 0);
  }
  case SURV_NUM: return (a->num > b->num) - (a->num < b->num);
  case SURV_BOOL: return cmp_i64(a->b, b->b);
  }
  return 0;
}

/* How complete a value is: the length of a string, 1 for a number or a
 * boolean, 0 for nil or the empty string. */
static int64_t completeness(const surv_value *v) {
  switch (v->type) {
  case SURV_NIL: return 0;
  case SURV_STR: return (int64_t)strlen(v->str);
  case SURV_NUM:
  case SURV_BOOL: return 1;
  }
  return 0;
}

bool surv_wins(surv_policy policy, bool manual_sticks, const surv_field *in,
               const surv_field *cur) {
  if (!cur->set) return in->set;
  if (!in->set) return false;
  if (policy == SURV_LATEST_WRITE) return !surv_field_equal(in, cur);
  int c = 0;
  bool in_manual = surv_is_manual(in->source), cur_manual = surv_is_manual(cur->source);
  if (manual_sticks && in_manual != cur_manual) return in_manual;
  if (manual_sticks && in_manual) {
    /* between manual edits the latest one holds */
    c = cmp_i64(in->observed_at_us, cur->observed_at_us);
  } else {
    switch (policy) {
    case SURV_PRIORITY:
      c = cmp_i64(in->priority, cur->priority);
      if (!c) c = cmp_i64(in->observed_at_us, cur->observed_at_us);
      break;
    case SURV_RECENT:
      c = cmp_i64(in->observed_at_us, cur->observed_at_us);
      if (!c) c = cmp_i64(in->priority, cur->priority);
      break;
    case SURV_COMPLETE:
      c = cmp_i64(completeness(&in->value), completeness(&cur->value));
      if (!c) c = cmp_i64(in->priority, cur->priority);
      if (!c) c = cmp_i64(in->observed_at_us, cur->observed_at_us);
      break;
    case SURV_LATEST_WRITE: break;
    }
  }
  /* the last tie-breakers make the order total: value, then source name */
  if (!c) c = cmp_value(&in->value, &cur->value);
  if (!c) {
    int s = strcmp(in->source, cur->source);
    c = (s > 0) - (s < 0);
  }
  if (!c) c = cmp_i64(in->priority, cur->priority);
  if (!c) c = cmp_i64(in->observed_at_us, cur->observed_at_us);
  return c > 0;
}

void surv_pack_value(msgpack_packer *pk, const surv_value *v) {
  switch (v->type) {
  case SURV_NIL: msgpack_pack_nil(pk); break;
  case SURV_STR: mp_pack_cstr(pk, v->str); break;
  case SURV_NUM: msgpack_pack_double(pk, v->num); break;
  case SURV_BOOL:
    if (v->b) msgpack_pack_true(pk);
    else msgpack_pack_false(pk);
    break;
  }
}

void surv_pack_change(msgpack_packer *pk, const char *field, const surv_field *before,
                      const surv_field *after) {
  msgpack_pack_map(pk, 3 + (after->set ? 3 : 0) + (before->set ? 3 : 0));
  mp_pack_cstr(pk, "field");
  mp_pack_cstr(pk, field);
  mp_pack_cstr(pk, "old");
  surv_pack_value(pk, &before->value);
  mp_pack_cstr(pk, "new");
  surv_pack_value(pk, &after->value);
  if (after->set) {
    mp_pack_cstr(pk, "source");
    mp_pack_cstr(pk, after->source);
    mp_pack_cstr(pk, "priority");
    msgpack_pack_int32(pk, after->priority);
    mp_pack_cstr(pk, "observed_at");
    msgpack_pack_int64(pk, after->observed_at_us);
  }
  if (before->set) {
    mp_pack_cstr(pk, "old_source");
    mp_pack_cstr(pk, before->source);
    mp_pack_cstr(pk, "old_priority");
    msgpack_pack_int32(pk, before->priority);
    mp_pack_cstr(pk, "old_observed_at");
    msgpack_pack_int64(pk, before->observed_at_us);
  }
}

int surv_read_value(mp_reader *r, surv_value *v) {
  mp_value m;
  int rc = mp_read(r, &m);
  if (rc) return rc;
  memset(v, 0, sizeof *v);
  switch (m.type) {
  case MP_NIL: return 0;
  case MP_STR:
    v->type = SURV_STR;
    v->str = pv_xstrndup(m.v.s.ptr, m.v.s.len);
    return 0;
  case MP_FLOAT: v->type = SURV_NUM; v->num = m.v.f; return 0;
  case MP_UINT: v->type = SURV_NUM; v->num = (double)m.v.u; return 0;
  case MP_INT: v->type = SURV_NUM; v->num = (double)m.v.i; return 0;
  case MP_BOOL: v->type = SURV_BOOL; v->b = m.v.b; return 0;
  default: return PV_EBADTYPE;
  }
}

static int read_source(mp_reader *r, char out[SURV_SOURCE_MAX + 1]) {
  mp_slice s;
  int rc = mp_read_str(r, &s);
  if (rc) return rc;
  if (s.len > SURV_SOURCE_MAX) return PV_EINVAL;
  memcpy(out, s.ptr, s.len);
  out[s.len] = '\0';
  return 0;
}

int surv_read_change(mp_reader *r, char field[SURV_FIELD_NAME_MAX + 1], surv_field *before,
                     surv_field *after) {
  uint32_t n;
  int rc = mp_read_map(r, &n);
  if (rc) return rc;
  field[0] = '\0';
  for (uint32_t i = 0; i < n && rc == 0; i++) {
    mp_slice key;
    int64_t iv;
    if ((rc = mp_read_str(r, &key))) break;
    if (mp_slice_eq(key, "field")) {
      mp_slice s;
      if ((rc = mp_read_str(r, &s))) break;
      if (s.len > SURV_FIELD_NAME_MAX) rc = PV_EINVAL;
      else {
        memcpy(field, s.ptr, s.len);
        field[s.len] = '\0';
      }
    } else if (mp_slice_eq(key, "old") || mp_slice_eq(key, "new")) {
      /* a repeated key replaces the value read before it */
      surv_value *v = mp_slice_eq(key, "old") ? &before->value : &after->value;
      if (v->type == SURV_STR) free(v->str);
      memset(v, 0, sizeof *v);
      rc = surv_read_value(r, v);
    } else if (mp_slice_eq(key, "source")) {
      after->set = true;
      rc = read_source(r, after->source);
    } else if (mp_slice_eq(key, "old_source")) {
      before->set = true;
      rc = read_source(r, before->source);
    } else if (mp_slice_eq(key, "priority") || mp_slice_eq(key, "old_priority")) {
      if ((rc = mp_read_int(r, &iv))) break;
      (mp_slice_eq(key, "priority") ? after : before)->priority = (int32_t)iv;
    } else if (mp_slice_eq(key, "observed_at") || mp_slice_eq(key, "old_observed_at")) {
      if ((rc = mp_read_int(r, &iv))) break;
      (mp_slice_eq(key, "observed_at") ? after : before)->observed_at_us = iv;
    } else {
      rc = mp_skip(r, 1);
    }
  }
  if (rc == 0 && !field[0]) rc = PV_EINVAL;
  return rc;
}

void surv_field_format(const surv_field *f, pv_buf *out) {
  if (!f->set) {
    pv_buf_addstr(out, "-");
    return;
  }
  switch (f->value.type) {
  case SURV_NIL: pv_buf_addstr(out, "nil"); break;
  case SURV_STR: pv_buf_addf(out, "\"%s\"", f->value.str); break;
  case SURV_NUM: pv_buf_addf(out, "%.17g", f->value.num); break;
  case SURV_BOOL: pv_buf_addstr(out, f->value.b ? "true" : "false"); break;
  }
  pv_buf_addf(out, " <%s,%" PRId32 ",%" PRId64 ">", f->source, f->priority, f->observed_at_us);
}
