/*
 * history — see history.h for the fold. The state is a sorted array: an
 * entity has tens of fields, so a binary search and a memmove per insert
 * beat a hash table's constant costs and keep the JSON output ordered.
 */
#include "core/history.h"

#include "core/catalog.h"
#include "core/mp_json.h"

#include <stdlib.h>
#include <string.h>

/*
 * The fold rules: one row per event type whose payload is not "these
 * fields now have these values". Columns: the event type, its fold
 * function. Types without a row use hist_fold_generic. No type needs its
 * own rule yet; merges and list-clearing events will add theirs.
 *
 *   XX("contact.merged", fold_contact_merged)
 */
#define HIST_FOLD_RULES(XX)

typedef struct hist_rule {
  const char *type;
  hist_fold_fn fold;
} hist_rule;

static const hist_rule rules[] = {
#define HIST__XX(type, fn) {type, fn},
    HIST_FOLD_RULES(HIST__XX)
#undef HIST__XX
    {NULL, NULL},
};

void hist_state_init(hist_state *st) { memset(st, 0, sizeof *st); }

void hist_state_release(hist_state *st) {
  for (size_t i = 0; i < st->count; i++) {
    free(st->fields[i].name);
    free(st->fields[i].value);
  }
  free(st->fields);
  hist_state_init(st);
}

/* Compares name[0..len) with a NUL-terminated field name, bytewise. */
static int name_cmp(const char *name, size_t len, const char *field) {
  size_t flen = strlen(field);
  int c = memcmp(name, field, len < flen ? len : flen);
  if (c) return c;
  return len < flen ? -1 : len > flen ? 1 : 0;
}

/* Index of name, or of where it would be inserted (*found false). */
static size_t find(const hist_state *st, const char *name, size_t len, bool *found) {
  size_t lo = 0, hi = st->count;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = name_cmp(name, len, st->fields[mid].name);
    if (c == 0) {
      *found = true;
      return mid;
    }
    if (c < 0) hi = mid;
    else lo = mid + 1;
  }
  *found = false;
  return lo;
}

const hist_field *hist_state_get(const hist_state *st, const char *name, size_t len) {
  bool found;
  size_t i = find(st, name, len, &found);
  return found ? &st->fields[i] : NULL;
}

/* Sets (value != NULL) or removes (value NULL) one field, reporting the
 * change first when there is one. */
static int set_field(hist_state *st, const evt_envelope *e, mp_slice name, const uint8_t *value,
                     size_t value_len, hist_change_fn on_change, void *arg) {
  bool found;
  size_t i = find(st, name.ptr, name.len, &found);
  hist_field *f = found ? &st->fields[i] : NULL;
  if (!f && !value) return 0;
  if (f && value && f->value_len == value_len && memcmp(f->value, value, value_len) == 0)
    return 0;
  if (on_change) {
    hist_change c = {.field = name,
                     .old_value = f ? f->value : NULL,
                     .old_len = f ? f->value_len : 0,
                     .new_value = value,
                     .new_len = value ? value_len : 0};
    int rc = on_change(arg, e, &c);
    if (rc) return rc;
  }
  if (!value) {
    free(f->name);
    free(f->value);
    memmove(&st->fields[i], &st->fields[i + 1], (st->count - i - 1) * sizeof *f);
    st->count--;
    return 0;
  }
  uint8_t *copy = pv_xmalloc(value_len);
  memcpy(copy, value, value_len);
  if (f) {
    free(f->value);
    f->value = copy;
    f->value_len = value_len;
    return 0;
  }
  if (st->count == st->alloc) {
    st->alloc = st->alloc ? st->alloc * 2 : 16;
    st->fields = pv_xrealloc(st->fields, st->alloc * sizeof *st->fields);
  }
  memmove(&st->fields[i + 1], &st->fields[i], (st->count - i) * sizeof *st->fields);
  st->fields[i] = (hist_field){pv_xstrndup(name.ptr, name.len), copy, value_len};
  st->count++;
  return 0;
}

int hist_fold_generic(hist_state *st, const evt_envelope *e, hist_change_fn on_change,
                      void *arg, pv_error *err) {
  mp_reader r;
  uint32_t pairs;
  mp_reader_init(&r, e->payload, e->payload_len);
  int rc = mp_read_map(&r, &pairs);
  if (rc) return pv_error_set(err, rc, "/payload", "payload of position %llu is not a map",
                              (unsigned long long)e->position);
  for (uint32_t i = 0; i < pairs; i++) {
    mp_slice name;
    if ((rc = mp_read_str(&r, &name)))
      return pv_error_set(err, rc, "/payload",
                          "payload of position %llu has a key that is not a string",
                          (unsigned long long)e->position);
    if (memchr(name.ptr, '\0', name.len))
      return pv_error_set(err, PV_EINVAL, "/payload",
                          "payload of position %llu has a field name with a NUL byte",
                          (unsigned long long)e->position);
    const uint8_t *value = r.p;
    if ((rc = mp_skip(&r, 1)))
      return pv_error_set(err, rc, "/payload", "payload of position %llu does not decode",
                          (unsigned long long)e->position);
    size_t value_len = (size_t)(r.p - value);
    bool nil = value_len == 1 && value[0] == 0xc0;
    if ((rc = set_field(st, e, name, nil ? NULL : value, value_len, on_change, arg)))
      return rc;
  }
  return 0;
}

hist_fold_fn hist_rule_for(mp_slice type) {
  for (const hist_rule *rule = rules; rule->type; rule++)
    if (mp_slice_eq(type, rule->type)) return rule->fold;
  return hist_fold_generic;
}

int hist_apply(hist_state *st, const evt_envelope *e, hist_change_fn on_change, void *arg,
               pv_error *err) {
  int rc = hist_rule_for(e->type)(st, e, on_change, arg, err);
  if (rc) return rc;
  st->version = e->stream_version;
  st->last_position = e->position;
  st->last_ts_us = e->ts_us;
  return 0;
}

void hist_state_json(const hist_state *st, pv_buf *out) {
  pv_buf_addch(out, '{');
  for (size_t i = 0; i < st->count; i++) {
    if (i) pv_buf_addch(out, ',');
    mpj_append_str(out, st->fields[i].name, strlen(st->fields[i].name));
    pv_buf_addch(out, ':');
    /* Values were checked by the fold's mp_skip; a failure here cannot
     * happen, and null keeps the object well-formed if it did. */
    if (cat_name_is_secret(st->fields[i].name, strlen(st->fields[i].name)))
      pv_buf_addstr(out, "\"[redacted]\"");
    else if (mpj_append(out, st->fields[i].value, st->fields[i].value_len) != 0)
      pv_buf_addstr(out, "null");
  }
  pv_buf_addch(out, '}');
}
