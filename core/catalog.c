/* catalog — schema/events.def expanded twice: once into one field array per
 * event (each ends with a NULL sentinel), once into the event table. */
#include "core/catalog.h"

#include "core/mp.h"
#include "core/mp_json.h"

#include <string.h>

/* A field's flags in events.def: REQUIRED or OPTIONAL, with | SECRET for a
 * value that must never be shown (a password hash, a token's hash). */
#define OPTIONAL 0
#define REQUIRED 1
#define SECRET 2

#define EVENT(id, type, version, doc) static const cat_field cat__fields_##id[] = {
#define FIELD(name, type, flags, doc) \
  {#name, CAT_##type, ((flags) & REQUIRED) != 0, ((flags) & SECRET) != 0, doc},
#define END() {NULL, CAT_ANY, false, false, NULL}};
#include "schema/events.def"
#undef EVENT
#undef FIELD
#undef END

#define EVENT(id, type, version, doc)                                         \
  {type, version, doc, cat__fields_##id,                                      \
   sizeof cat__fields_##id / sizeof cat__fields_##id[0] - 1},
#define FIELD(name, type, flags, doc)
#define END()
static const cat_event events[] = {
#include "schema/events.def"
};
#undef EVENT
#undef FIELD
#undef END

size_t cat_count(void) { return sizeof events / sizeof events[0]; }

const cat_event *cat_at(size_t i) { return i < cat_count() ? &events[i] : NULL; }

const cat_event *cat_find(const char *type, size_t type_len, uint32_t version) {
  for (size_t i = 0; i < cat_count(); i++)
    if (events[i].version == version && strlen(events[i].type) == type_len &&
        memcmp(events[i].type, type, type_len) == 0)
      return &events[i];
  return NULL;
}

const char *cat_type_name(cat_field_type t) {
  static const char *names[] = {"str", "uint", "int", "bool", "float", "array", "map", "any"};
  return names[t];
}

static bool value_has_type(const mp_value *v, cat_field_type t) {
  switch (t) {
  case CAT_STR: return v->type == MP_STR;
  case CAT_UINT: return v->type == MP_UINT;
  case CAT_INT: return v->type == MP_UINT || v->type == MP_INT;
  case CAT_BOOL: return v->type == MP_BOOL;
  case CAT_FLOAT: return v->type == MP_FLOAT || v->type == MP_UINT || v->type == MP_INT;
  case CAT_ARRAY: return v->type == MP_ARRAY;
  case CAT_MAP: return v->type == MP_MAP;
  case CAT_ANY: return true;
  }
  return false;
}

int cat_validate(const cat_event *ev, const void *payload, size_t len, pv_error *err) {
  mp_reader r;
  uint32_t pairs;
  uint64_t seen = 0; /* bit i: field i present; catalogue rows have < 64 fields */
  int rc;

  mp_reader_init(&r, payload, len);
  if ((rc = mp_read_map(&r, &pairs)))
    return pv_error_set(err, rc, "/payload", "%s payload is not a map", ev->type);
  for (uint32_t i = 0; i < pairs; i++) {
    mp_slice key;
    if ((rc = mp_read_str(&r, &key)))
      return pv_error_set(err, rc, "/payload", "%s payload has a key that is not a string",
                          ev->type);
    size_t f = 0;
    while (f < ev->field_count && !mp_slice_eq(key, ev->fields[f].name)) f++;
    if (f == ev->field_count)
      return pv_error_set(err, PV_EINVAL, "/payload", "%s has no field \"%.*s\"", ev->type,
                          (int)(key.len > 64 ? 64 : key.len), key.ptr);
    mp_reader at = r;
    mp_value v;
    if ((rc = mp_read(&at, &v)) || (rc = mp_skip(&r, 1)))
      return pv_error_set(err, rc, "/payload", "%s field \"%s\" is malformed", ev->type,
                          ev->fields[f].name);
    if (!value_has_type(&v, ev->fields[f].type) &&
        !(v.type == MP_NIL && !ev->fields[f].required))
      return pv_error_set(err, PV_EBADTYPE, "/payload", "%s field \"%s\" must be %s", ev->type,
                          ev->fields[f].name, cat_type_name(ev->fields[f].type));
    seen |= 1ull << f;
  }
  if (mp_remaining(&r) != 0)
    return pv_error_set(err, PV_EINVAL, "/payload", "%s payload has trailing bytes", ev->type);
  for (size_t f = 0; f < ev->field_count; f++)
    if (ev->fields[f].required && !(seen & (1ull << f)))
      return pv_error_set(err, PV_EINVAL, "/payload", "%s is missing field \"%s\"", ev->type,
                          ev->fields[f].name);
  return 0;
}

const cat_field *cat_field_find(const cat_event *ev, const char *name, size_t len) {
  for (size_t f = 0; f < ev->field_count; f++)
    if (strlen(ev->fields[f].name) == len && memcmp(ev->fields[f].name, name, len) == 0)
      return &ev->fields[f];
  return NULL;
}

/* events.def expanded a third time: the name of each secret field, NULL
 * for the others. The field_changes fold asks for every change: walking
 * every event's fields took ~0.9 s of CPU for a 100k-contact import's
 * 1.3M changes (`pivotal rebuild field_changes` under perf), these few
 * names ~0.2 s. */
#define EVENT(id, type, version, doc)
#define FIELD(name, type, flags, doc) ((flags) & SECRET) ? #name : NULL,
#define END()
static const char *const secret_names[] = {
#include "schema/events.def"
};
#undef EVENT
#undef FIELD
#undef END

bool cat_name_is_secret(const char *name, size_t len) {
  for (size_t i = 0; i < sizeof secret_names / sizeof secret_names[0]; i++)
    if (secret_names[i] && strlen(secret_names[i]) == len &&
        memcmp(secret_names[i], name, len) == 0)
      return true;
  return false;
}

int cat_payload_json(const cat_event *ev, const void *payload, size_t len, pv_buf *out) {
  if (!ev) return mpj_append(out, payload, len);
  return cat_payload_json_omit(ev, payload, len, NULL, out);
}

static bool omitted(const char *const *omit, mp_slice key) {
  for (size_t i = 0; omit && omit[i]; i++)
    if (mp_slice_eq(key, omit[i])) return true;
  return false;
}

int cat_payload_json_omit(const cat_event *ev, const void *payload, size_t len,
                          const char *const *omit, pv_buf *out) {
  mp_reader r;
  uint32_t pairs;
  size_t at = out->len;
  int rc;
  mp_reader_init(&r, payload, len);
  if ((rc = mp_read_map(&r, &pairs))) return mpj_append(out, payload, len);
  pv_buf_addch(out, '{');
  bool first = true;
  for (uint32_t i = 0; i < pairs && rc == 0; i++) {
    mp_slice key;
    if ((rc = mp_read_str(&r, &key))) break;
    if (omitted(omit, key)) {
      rc = mp_skip(&r, 1);
      continue;
    }
    if (!first) pv_buf_addch(out, ',');
    first = false;
    mpj_append_str(out, key.ptr, key.len);
    pv_buf_addch(out, ':');
    const cat_field *f = ev ? cat_field_find(ev, key.ptr, key.len) : NULL;
    if (f && f->secret) {
      pv_buf_addstr(out, "\"[redacted]\"");
      rc = mp_skip(&r, 1);
    } else {
      rc = mpj_append_next(out, &r, 1);
    }
  }
  if (rc == 0 && mp_remaining(&r) != 0) rc = PV_EINVAL;
  if (rc) {
    pv_buf_setlen(out, at);
    return rc;
  }
  pv_buf_addch(out, '}');
  return 0;
}

void cat_markdown(pv_buf *out) {
  pv_buf_addstr(out,
                "# Event catalogue\n\n"
                "Generated from `schema/events.def` by `pivotal events --markdown`; "
                "do not edit by hand.\n\n"
                "Every event is stored in the envelope described in `core/envelope.h` "
                "(position, time, tenant, stream, stream version, type, type version, "
                "actor, correlation id, idempotency key, previous hash, payload, hash). "
                "The tables below list each type's payload fields. A **secret** field is "
                "kept in the log but shown as `\"[redacted]\"` by every read model and by "
                "`pivotal replay`.\n");
  for (size_t i = 0; i < cat_count(); i++) {
    const cat_event *ev = &events[i];
    pv_buf_addf(out, "\n## `%s` v%u\n\n%s\n\n", ev->type, ev->version, ev->doc);
    if (!ev->field_count) {
      pv_buf_addstr(out, "No payload fields.\n");
      continue;
    }
    pv_buf_addstr(out, "| field | type | required | meaning |\n| --- | --- | --- | --- |\n");
    for (size_t f = 0; f < ev->field_count; f++)
      pv_buf_addf(out, "| `%s` | %s | %s | %s%s |\n", ev->fields[f].name,
                  cat_type_name(ev->fields[f].type), ev->fields[f].required ? "yes" : "no",
                  ev->fields[f].secret ? "**secret** (redacted in read models and replay): " : "",
                  ev->fields[f].doc);
  }
}
