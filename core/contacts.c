/*
 * contacts — see contacts.h for the rules. Layout: the field table, state
 * and fold, input normalization, the pure decisions, event encoding, and
 * last the writer decide functions that resolve identities through the
 * unique index and stage events.
 */
#include "core/contacts.h"

#include "core/accounts.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
  const char *name;
  surv_policy policy;
  contact_field lead;
  bool manual_sticks;
} fields[] = {
#define CONTACT__XX(name, str, policy, lead, sticks) {str, policy, CONTACT_F_##lead, sticks},
    CONTACT_FIELD_MAP(CONTACT__XX)
#undef CONTACT__XX
};

const char *contact_field_name(contact_field f) {
  return (unsigned)f < CONTACT_FIELD_COUNT ? fields[f].name : NULL;
}

int contact_field_by_name(const char *name) {
  for (int i = 0; i < CONTACT_FIELD_COUNT; i++)
    if (strcmp(fields[i].name, name) == 0) return i;
  return -1;
}

/* ---- changes and state ------------------------------------------------ */

void contact_changes_init(contact_changes *c) { memset(c, 0, sizeof *c); }

void contact_changes_release(contact_changes *c) {
  for (size_t i = 0; i < c->count; i++) {
    surv_field_release(&c->items[i].before);
    surv_field_release(&c->items[i].after);
  }
  free(c->idents);
  contact_changes_init(c);
}

static void push_ident(contact_ident **arr, size_t *count, size_t *cap, const char *kind,
                       const char *value) {
  if (*count == *cap) {
    *cap = *cap ? *cap * 2 : 4;
    *arr = pv_xrealloc(*arr, *cap * sizeof **arr);
  }
  contact_ident *id = &(*arr)[(*count)++];
  snprintf(id->kind, sizeof id->kind, "%s", kind);
  snprintf(id->value, sizeof id->value, "%s", value);
}

void contact_changes_add_ident(contact_changes *c, const char *kind, const char *value) {
  for (size_t i = 0; i < c->ident_count; i++)
    if (strcmp(c->idents[i].kind, kind) == 0 && strcmp(c->idents[i].value, value) == 0) return;
  push_ident(&c->idents, &c->ident_count, &c->ident_cap, kind, value);
}

/* Adds a change; the fields are copied. */
static void push_change(contact_changes *c, contact_field f, const surv_field *before,
                        const surv_field *after) {
  contact_change *ch = &c->items[c->count++];
  ch->field = f;
  surv_field_copy(&ch->before, before);
  surv_field_copy(&ch->after, after);
}

void contact_state_init(contact_state *st) { memset(st, 0, sizeof *st); }

void contact_state_release(contact_state *st) {
  for (int i = 0; i < CONTACT_FIELD_COUNT; i++) surv_field_release(&st->fields[i]);
  free(st->idents);
  for (size_t i = 0; i < st->merge_count; i++) contact_changes_release(&st->merges[i].changes);
  free(st->merges);
  contact_state_init(st);
}

bool contact_state_has_ident(const contact_state *st, const char *kind, const char *value) {
  for (size_t i = 0; i < st->ident_count; i++)
    if (strcmp(st->idents[i].kind, kind) == 0 && strcmp(st->idents[i].value, value) == 0)
      return true;
  return false;
}

static void remove_ident(contact_state *st, const char *kind, const char *value) {
  for (size_t i = 0; i < st->ident_count; i++)
    if (strcmp(st->idents[i].kind, kind) == 0 && strcmp(st->idents[i].value, value) == 0) {
      memmove(&st->idents[i], &st->idents[i + 1], (st->ident_count - i - 1) * sizeof *st->idents);
      st->ident_count--;
      return;
    }
}

/* ---- event payloads --------------------------------------------------- */

/* An event's payload, parsed: every contact event is a subset of this. */
typedef struct contact_evt {
  char id[ENTITY_ID_LEN + 1];
  char other[ENTITY_ID_LEN + 1]; /* loser_id or winner_id */
  contact_changes changes;       /* changes, identifiers_added / _removed */
} contact_evt;

static int read_id(mp_reader *r, char out[ENTITY_ID_LEN + 1]) {
  mp_slice s;
  int rc = mp_read_str(r, &s);
  if (rc) return rc;
  if (s.len != ENTITY_ID_LEN) return PV_EINVAL;
  memcpy(out, s.ptr, s.len);
  out[s.len] = '\0';
  return 0;
}

static int read_idents(mp_reader *r, contact_changes *c) {
  uint32_t n;
  int rc = mp_read_array(r, &n);
  for (uint32_t i = 0; i < n && rc == 0; i++) {
    uint32_t m;
    char kind[8] = "", value[CONTACT_IDENT_MAX + 1] = "";
    if ((rc = mp_read_map(r, &m))) break;
    for (uint32_t j = 0; j < m && rc == 0; j++) {
      mp_slice k, v;
      if ((rc = mp_read_str(r, &k))) break;
      if (mp_slice_eq(k, "kind") || mp_slice_eq(k, "value")) {
        if ((rc = mp_read_str(r, &v))) break;
        char *dst = mp_slice_eq(k, "kind") ? kind : value;
        size_t cap = mp_slice_eq(k, "kind") ? sizeof kind : sizeof value;
        if (v.len >= cap) rc = PV_EINVAL;
        else {
          memcpy(dst, v.ptr, v.len);
          dst[v.len] = '\0';
        }
      } else {
        rc = mp_skip(r, 1);
      }
    }
    if (rc == 0 && (!kind[0] || !value[0])) rc = PV_EINVAL;
    if (rc == 0) contact_changes_add_ident(c, kind, value);
  }
  return rc;
}

static int read_changes(mp_reader *r, contact_changes *c) {
  uint32_t n;
  int rc = mp_read_array(r, &n);
  for (uint32_t i = 0; i < n && rc == 0; i++) {
    char name[SURV_FIELD_NAME_MAX + 1];
    surv_field before = {0}, after = {0};
    rc = surv_read_change(r, name, &before, &after);
    int f = rc ? -1 : contact_field_by_name(name);
    if (rc == 0 && (f < 0 || c->count == CONTACT_FIELD_COUNT)) rc = PV_EINVAL;
    if (rc == 0) {
      contact_change *ch = &c->items[c->count++];
      ch->field = (contact_field)f;
      ch->before = before;
      ch->after = after;
    } else {
      surv_field_release(&before);
      surv_field_release(&after);
    }
  }
  return rc;
}

static int parse_evt(const void *payload, size_t len, contact_evt *ev) {
  mp_reader r;
  uint32_t n;
  memset(ev, 0, sizeof *ev);
  mp_reader_init(&r, payload, len);
  int rc = mp_read_map(&r, &n);
  for (uint32_t i = 0; i < n && rc == 0; i++) {
    mp_slice key;
    if ((rc = mp_read_str(&r, &key))) break;
    if (mp_slice_eq(key, "contact_id")) rc = read_id(&r, ev->id);
    else if (mp_slice_eq(key, "loser_id") || mp_slice_eq(key, "winner_id"))
      rc = read_id(&r, ev->other);
    else if (mp_slice_eq(key, "changes")) rc = read_changes(&r, &ev->changes);
    else if (mp_slice_eq(key, "identifiers_added") || mp_slice_eq(key, "identifiers_removed"))
      rc = read_idents(&r, &ev->changes);
    else rc = mp_skip(&r, 1);
  }
  if (rc == 0 && !ev->id[0]) rc = PV_EINVAL;
  return rc;
}

static void apply_changes(contact_state *st, const contact_changes *c) {
  for (size_t i = 0; i < c->count; i++) {
    surv_field *f = &st->fields[c->items[i].field];
    surv_field_release(f);
    surv_field_copy(f, &c->items[i].after);
  }
}

static bool type_is(const char *type, size_t len, const char *want) {
  return strlen(want) == len && memcmp(type, want, len) == 0;
}

int contact_apply(void *state, const char *type, size_t type_len, const void *payload,
                  size_t len) {
  contact_state *st = state;
  if (type_len < 8 || memcmp(type, "contact.", 8) != 0) return 0;
  contact_evt ev;
  int rc = parse_evt(payload, len, &ev);
  if (rc) goto out;
  snprintf(st->id, sizeof st->id, "%s", ev.id);
  if (type_is(type, type_len, "contact.created") || type_is(type, type_len, "contact.updated")) {
    st->exists = true;
    apply_changes(st, &ev.changes);
    for (size_t i = 0; i < ev.changes.ident_count; i++)
      if (!contact_state_has_ident(st, ev.changes.idents[i].kind, ev.changes.idents[i].value))
        push_ident(&st->idents, &st->ident_count, &st->ident_cap, ev.changes.idents[i].kind,
                   ev.changes.idents[i].value);
  } else if (type_is(type, type_len, "contact.merged")) {
    apply_changes(st, &ev.changes);
    for (size_t i = 0; i < ev.changes.ident_count; i++)
      if (!contact_state_has_ident(st, ev.changes.idents[i].kind, ev.changes.idents[i].value))
        push_ident(&st->idents, &st->ident_count, &st->ident_cap, ev.changes.idents[i].kind,
                   ev.changes.idents[i].value);
    if (st->merge_count == st->merge_cap) {
      st->merge_cap = st->merge_cap ? st->merge_cap * 2 : 2;
      st->merges = pv_xrealloc(st->merges, st->merge_cap * sizeof *st->merges);
    }
    contact_merge_rec *m = &st->merges[st->merge_count++];
    snprintf(m->loser_id, sizeof m->loser_id, "%s", ev.other);
    m->changes = ev.changes; /* moved */
    contact_changes_init(&ev.changes);
  } else if (type_is(type, type_len, "contact.merge_undone")) {
    apply_changes(st, &ev.changes);
    for (size_t i = 0; i < ev.changes.ident_count; i++)
      remove_ident(st, ev.changes.idents[i].kind, ev.changes.idents[i].value);
    for (size_t i = st->merge_count; i-- > 0;)
      if (strcmp(st->merges[i].loser_id, ev.other) == 0) {
        contact_changes_release(&st->merges[i].changes);
        memmove(&st->merges[i], &st->merges[i + 1],
                (st->merge_count - i - 1) * sizeof *st->merges);
        st->merge_count--;
        break;
      }
  } else if (type_is(type, type_len, "contact.merged_into")) {
    snprintf(st->merged_into, sizeof st->merged_into, "%s", ev.other);
  } else if (type_is(type, type_len, "contact.unmerged")) {
    st->merged_into[0] = '\0';
  } else if (type_is(type, type_len, "contact.deleted")) {
    st->deleted = true;
  } else if (type_is(type, type_len, "contact.restored")) {
    st->deleted = false;
  }
out:
  contact_changes_release(&ev.changes);
  return rc;
}

static int cmp_ident(const void *a, const void *b) {
  const contact_ident *x = a, *y = b;
  int c = strcmp(x->kind, y->kind);
  return c ? c : strcmp(x->value, y->value);
}

static int cmp_merge(const void *a, const void *b) {
  return strcmp(((const contact_merge_rec *)a)->loser_id, ((const contact_merge_rec *)b)->loser_id);
}

void contact_state_format(const contact_state *st, pv_buf *out) {
  pv_buf_addf(out, "contact %s exists=%d deleted=%d merged_into=%s\n", st->id, st->exists,
              st->deleted, st->merged_into);
  for (int i = 0; i < CONTACT_FIELD_COUNT; i++) {
    pv_buf_addf(out, "  %s: ", fields[i].name);
    surv_field_format(&st->fields[i], out);
    pv_buf_addch(out, '\n');
  }
  contact_ident *ids = pv_xmalloc((st->ident_count + 1) * sizeof *ids);
  if (st->ident_count) memcpy(ids, st->idents, st->ident_count * sizeof *ids);
  qsort(ids, st->ident_count, sizeof *ids, cmp_ident);
  for (size_t i = 0; i < st->ident_count; i++)
    pv_buf_addf(out, "  id %s %s\n", ids[i].kind, ids[i].value);
  free(ids);
  contact_merge_rec *ms = pv_xmalloc((st->merge_count + 1) * sizeof *ms);
  if (st->merge_count) memcpy(ms, st->merges, st->merge_count * sizeof *ms);
  qsort(ms, st->merge_count, sizeof *ms, cmp_merge);
  for (size_t i = 0; i < st->merge_count; i++) pv_buf_addf(out, "  merged %s\n", ms[i].loser_id);
  free(ms);
}

/* ---- normalization ---------------------------------------------------- */

void contact_obs_release(contact_obs *obs) {
  for (int i = 0; i < CONTACT_FIELD_COUNT; i++) surv_field_release(&obs->values[i]);
}

/* Observes a string field. An empty value from a non-manual source is not
 * an observation; from "manual" it clears the field and its derived ones. */
static void observe_str(contact_obs *obs, contact_field f, const char *value) {
  surv_field *v = &obs->values[f];
  surv_field_release(v);
  if (value[0]) surv_field_str(v, value, obs->source, obs->priority, obs->observed_at_us);
  else if (surv_is_manual(obs->source))
    surv_field_nil(v, obs->source, obs->priority, obs->observed_at_us);
}

static void observe_clear_followers(contact_obs *obs, contact_field lead) {
  for (int g = 0; g < CONTACT_FIELD_COUNT; g++)
    if (fields[g].lead == lead && g != (int)lead && obs->values[lead].set &&
        obs->values[lead].value.type == SURV_NIL)
      surv_field_nil(&obs->values[g], obs->source, obs->priority, obs->observed_at_us);
}

/* A text field through norm_name_parse's display form (NFC, spaces
 * collapsed), capped at NORM_TEXT_MAX. */
static int observe_text(contact_obs *obs, contact_field f, const char *in, const char *json,
                        pv_error *err) {
  if (!in) return 0;
  pv_buf display = PV_BUF_INIT, key = PV_BUF_INIT;
  int rc = norm_name_parse(in, strlen(in), &display, &key, err);
  if (rc) {
    snprintf(err->field, sizeof err->field, "%s", json);
  } else {
    observe_str(obs, f, display.data);
  }
  pv_buf_release(&display);
  pv_buf_release(&key);
  return rc;
}

static bool is_region(const char *s) {
  return s && strlen(s) == 2 && ((s[0] | 32) >= 'a' && (s[0] | 32) <= 'z') &&
         ((s[1] | 32) >= 'a' && (s[1] | 32) <= 'z');
}

static int observe_ext_ids(const contact_input *in, contact_obs *obs, pv_error *err) {
  if (in->ext_id_count > CONTACT_MAX_EXT_IDS)
    return pv_error_set(err, PV_EINVAL, "/ext_ids", "at most %d external ids per contact",
                        CONTACT_MAX_EXT_IDS);
  for (size_t i = 0; i < in->ext_id_count; i++) {
    char json[64];
    snprintf(json, sizeof json, "/ext_ids/%zu/source", i);
    int rc = surv_source_check(in->ext_ids[i].source, json, err);
    if (rc) return rc;
    const char *id = in->ext_ids[i].id;
    size_t n = id ? strlen(id) : 0;
    bool ok = n > 0 && n <= CONTACT_EXT_ID_MAX;
    for (size_t j = 0; ok && j < n; j++)
      if ((unsigned char)id[j] < 0x20 || id[j] == 0x7f) ok = false;
    if (!ok) {
      snprintf(json, sizeof json, "/ext_ids/%zu/id", i);
      return pv_error_set(err, PV_EINVAL, json,
                          "an external id must be 1 to %d bytes without control characters",
                          CONTACT_EXT_ID_MAX);
    }
    char key[CONTACT_IDENT_MAX + 1];
    snprintf(key, sizeof key, "%s:%s", in->ext_ids[i].source, id);
    bool dup = false;
    for (size_t j = 0; j < obs->ext_count; j++) dup |= strcmp(obs->ext_keys[j], key) == 0;
    if (!dup) snprintf(obs->ext_keys[obs->ext_count++], CONTACT_IDENT_MAX + 1, "%s", key);
  }
  return 0;
}

static int observe_phone(const contact_input *in, contact_obs *obs, const char *region,
                         pv_error *err) {
  if (!in->phone) return 0;
  norm_phone ph;
  int rc = norm_phone_parse(in->phone, strlen(in->phone), region, &ph, err);
  if (rc == PV_EINVAL && !surv_is_manual(obs->source)) {
    /* an empty or all-space phone from a source is "not observed" */
    bool blank = true;
    for (const char *p = in->phone; *p; p++) blank &= (*p == ' ' || *p == '\t');
    if (blank) {
      pv_error_clear(err);
      return 0;
    }
  }
  if (rc == PV_EINVAL && surv_is_manual(obs->source) && in->phone[0] == '\0') {
    pv_error_clear(err);
    observe_str(obs, CONTACT_F_PHONE, "");
    observe_clear_followers(obs, CONTACT_F_PHONE);
    return 0;
  }
  if (rc) {
    snprintf(err->field, sizeof err->field, "/phone");
    return rc;
  }
  const char *src = obs->source;
  int32_t prio = obs->priority;
  int64_t at = obs->observed_at_us;
  if (ph.valid) {
    char value[64];
    if (ph.extension[0]) snprintf(value, sizeof value, "%s;ext=%s", ph.e164, ph.extension);
    else snprintf(value, sizeof value, "%s", ph.e164);
    surv_field_str(&obs->values[CONTACT_F_PHONE], value, src, prio, at);
    snprintf(obs->phone_e164, sizeof obs->phone_e164, "%s", ph.e164);
  } else {
    /* kept as entered and flagged, never dropped (issue #5 §1) */
    surv_field_str(&obs->values[CONTACT_F_PHONE], ph.raw, src, prio, at);
  }
  surv_field_bool(&obs->values[CONTACT_F_PHONE_VALID], ph.valid, src, prio, at);
  surv_field_str(&obs->values[CONTACT_F_PHONE_TYPE], norm_phone_type_name(ph.type), src, prio,
                 at);
  return 0;
}

int contact_normalize(const contact_input *in, contact_obs *obs, pv_error *err) {
  memset(obs, 0, sizeof *obs);
  int rc = surv_source_check(in->source, "/source", err);
  if (rc) return rc;
  if (in->observed_at_us <= 0)
    return pv_error_set(err, PV_EINVAL, "/observed_at",
                        "the time the source observed the values is required");
  snprintf(obs->source, sizeof obs->source, "%s", in->source);
  obs->priority = surv_source_priority(in->source);
  obs->observed_at_us = in->observed_at_us;

  if (in->email && in->email[0]) {
    rc = norm_email_parse(in->email, strlen(in->email), &obs->email, err);
    if (rc) {
      snprintf(err->field, sizeof err->field, "/email");
      return rc;
    }
    obs->has_email = true;
    observe_str(obs, CONTACT_F_EMAIL, obs->email.address);
  }
  if ((rc = observe_text(obs, CONTACT_F_FIRST_NAME, in->first_name, "/first_name", err)) ||
      (rc = observe_text(obs, CONTACT_F_LAST_NAME, in->last_name, "/last_name", err)) ||
      (rc = observe_text(obs, CONTACT_F_CITY, in->city, "/city", err)) ||
      (rc = observe_text(obs, CONTACT_F_LINKEDIN_URL, in->linkedin_url, "/linkedin_url", err)) ||
      (rc = observe_text(obs, CONTACT_F_TITLE, in->title, "/title", err)))
    return rc;
  if (obs->values[CONTACT_F_TITLE].set) {
    const surv_field *t = &obs->values[CONTACT_F_TITLE];
    if (t->value.type == SURV_STR) {
      norm_title nt;
      if ((rc = norm_title_classify(t->value.str, strlen(t->value.str), &nt, err))) {
        snprintf(err->field, sizeof err->field, "/title");
        return rc;
      }
      observe_str(obs, CONTACT_F_SENIORITY, norm_seniority_name(nt.seniority));
      observe_str(obs, CONTACT_F_DEPARTMENT, norm_department_name(nt.department));
    } else {
      observe_clear_followers(obs, CONTACT_F_TITLE);
    }
  }
  const char *region = NULL;
  char region_buf[3];
  if (in->country) {
    if (is_region(in->country)) {
      region_buf[0] = (char)(in->country[0] & ~32);
      region_buf[1] = (char)(in->country[1] & ~32);
      region_buf[2] = '\0';
      region = region_buf;
      observe_str(obs, CONTACT_F_COUNTRY, region_buf);
    } else if ((rc = observe_text(obs, CONTACT_F_COUNTRY, in->country, "/country", err))) {
      return rc;
    }
  }
  if ((rc = observe_phone(in, obs, region, err))) return rc;
  if (in->account_id) {
    if (in->account_id[0] && !entity_id_valid(in->account_id))
      return pv_error_set(err, PV_EINVAL, "/account_id", "invalid account id \"%.40s\"",
                          in->account_id);
    observe_str(obs, CONTACT_F_ACCOUNT_ID, in->account_id);
  }
  return observe_ext_ids(in, obs, err);
}

/* ---- pure decisions --------------------------------------------------- */

/* Records the lead field f and its derived fields as taking `src`'s values
 * (src_fields indexed by field) when they differ from st's. */
static void take_group(const contact_state *st, const surv_field *src_fields, contact_field lead,
                       contact_changes *out) {
  const surv_field *lv = &src_fields[lead];
  for (int g = 0; g < CONTACT_FIELD_COUNT; g++) {
    if (fields[g].lead != lead) continue;
    surv_field after;
    if (src_fields[g].set) surv_field_copy(&after, &src_fields[g]);
    else surv_field_nil(&after, lv->source, lv->priority, lv->observed_at_us);
    if (!surv_field_equal(&after, &st->fields[g])) push_change(out, (contact_field)g,
                                                                &st->fields[g], &after);
    surv_field_release(&after);
  }
}

void contact_decide_upsert(const contact_state *st, const contact_obs *obs,
                           contact_changes *out) {
  for (int f = 0; f < CONTACT_FIELD_COUNT; f++) {
    if (fields[f].lead != (contact_field)f || !obs->values[f].set) continue;
    if (surv_wins(fields[f].policy, fields[f].manual_sticks, &obs->values[f], &st->fields[f]))
      take_group(st, obs->values, (contact_field)f, out);
  }
}

void contact_decide_merge(const contact_state *winner, const contact_state *loser,
                          contact_changes *out) {
  for (int f = 0; f < CONTACT_FIELD_COUNT; f++) {
    if (fields[f].lead != (contact_field)f || !loser->fields[f].set) continue;
    if (surv_wins(fields[f].policy, fields[f].manual_sticks, &loser->fields[f],
                  &winner->fields[f]))
      take_group(winner, loser->fields, (contact_field)f, out);
  }
  for (size_t i = 0; i < loser->ident_count; i++)
    if (!contact_state_has_ident(winner, loser->idents[i].kind, loser->idents[i].value))
      contact_changes_add_ident(out, loser->idents[i].kind, loser->idents[i].value);
}

void contact_decide_unmerge(const contact_state *winner, const contact_merge_rec *merge,
                            contact_changes *out) {
  for (size_t i = 0; i < merge->changes.count; i++) {
    const contact_change *c = &merge->changes.items[i];
    if (surv_field_equal(&winner->fields[c->field], &c->after))
      push_change(out, c->field, &winner->fields[c->field], &c->before);
  }
  for (size_t i = 0; i < merge->changes.ident_count; i++)
    if (contact_state_has_ident(winner, merge->changes.idents[i].kind,
                                merge->changes.idents[i].value))
      contact_changes_add_ident(out, merge->changes.idents[i].kind,
                                merge->changes.idents[i].value);
}

/* ---- event encoding --------------------------------------------------- */

static void pack_changes(msgpack_packer *pk, const contact_changes *c) {
  msgpack_pack_array(pk, c->count);
  for (size_t i = 0; i < c->count; i++)
    surv_pack_change(pk, fields[c->items[i].field].name, &c->items[i].before,
                     &c->items[i].after);
}

static void pack_idents(msgpack_packer *pk, const contact_ident *ids, size_t n) {
  msgpack_pack_array(pk, n);
  for (size_t i = 0; i < n; i++) {
    msgpack_pack_map(pk, 2);
    mp_pack_cstr(pk, "kind");
    mp_pack_cstr(pk, ids[i].kind);
    mp_pack_cstr(pk, "value");
    mp_pack_cstr(pk, ids[i].value);
  }
}

static int emit(writer_ctx *ctx, const char *id, const char *type, pv_buf *payload,
                pv_error *err) {
  char stream[ENTITY_STREAM_MAX + 1];
  entity_stream("contact", id, stream);
  return writer_emit(ctx, stream, LOG_EXPECT_ANY, type, 1, payload->data, payload->len, err);
}

/* An event with only contact_id and, when other_key is set, one more id. */
static int emit_ids(writer_ctx *ctx, const char *id, const char *type, const char *other_key,
                    const char *other, pv_error *err) {
  pv_buf b = PV_BUF_INIT;
  msgpack_packer pk;
  mp_packer_init(&pk, &b);
  msgpack_pack_map(&pk, other_key ? 2 : 1);
  mp_pack_cstr(&pk, "contact_id");
  mp_pack_cstr(&pk, id);
  if (other_key) {
    mp_pack_cstr(&pk, other_key);
    mp_pack_cstr(&pk, other);
  }
  int rc = emit(ctx, id, type, &b, err);
  pv_buf_release(&b);
  return rc;
}

/* ---- commands --------------------------------------------------------- */

int contact_load(writer_ctx *ctx, const char *id, contact_state *st, pv_error *err) {
  uint64_t version;
  contact_state_init(st);
  return entity_fold(ctx, "contact", id, contact_apply, st, &version, err);
}

static char *unique_kind(const char *kind, char buf[24]) {
  snprintf(buf, 24, "contact_%s", kind);
  return buf;
}

/* One identifier the input names, and who owns it now. */
typedef struct ident_probe {
  const char *kind;
  char value[CONTACT_IDENT_MAX + 1];
  char owner[ENTITY_ID_LEN + 1];
} ident_probe;

static void probe(writer_ctx *ctx, ident_probe *p, const char *kind, const char *value) {
  char uk[24];
  p->kind = kind;
  snprintf(p->value, sizeof p->value, "%s", value);
  if (writer_unique_get(ctx, unique_kind(kind, uk), value, p->owner, sizeof p->owner) != 0)
    p->owner[0] = '\0';
}

/* The account the email's domain belongs to, as an observation. */
static int observe_domain_link(writer_ctx *ctx, contact_obs *obs, const norm_email *email,
                               pv_error *err) {
  char account[ENTITY_ID_LEN + 1] = "";
  int rc = acct_find_live_by_domain(ctx, email->registrable, account, err);
  if (rc == 0 && !account[0] && strcmp(email->registrable, email->domain) != 0)
    rc = acct_find_live_by_domain(ctx, email->domain, account, err);
  if (rc || !account[0]) return rc;
  surv_field_str(&obs->values[CONTACT_F_ACCOUNT_ID], account, "domain_match",
                 surv_source_priority("domain_match"), obs->observed_at_us);
  return 0;
}

static const char *field_str(const surv_field *f) {
  return f->set && f->value.type == SURV_STR ? f->value.str : "";
}

int contact_upsert_prepare(contact_upsert_arg *arg, pv_error *err) {
  contact_upsert_release(arg);
  int rc = contact_normalize(&arg->in, &arg->obs, err);
  if (rc) contact_obs_release(&arg->obs);
  else arg->prepared = true;
  return rc;
}

void contact_upsert_release(contact_upsert_arg *arg) {
  if (arg->prepared) contact_obs_release(&arg->obs);
  arg->prepared = false;
}

int contact_upsert_decide(writer_ctx *ctx, void *argp, pv_error *err) {
  contact_upsert_arg *arg = argp;
  contact_obs obs;
  contact_state st;
  contact_changes ch;
  ident_probe probes[2 + CONTACT_MAX_EXT_IDS];
  size_t np = 0;
  pv_buf conflicts = PV_BUF_INIT, payload = PV_BUF_INIT;
  size_t conflict_count = 0;
  char key[CONTACT_IDENT_MAX + 16] = "";
  contact_state_init(&st);
  contact_changes_init(&ch);
  arg->id[0] = '\0';
  arg->created = false;
  arg->changed_fields = arg->conflicts = 0;

  /* obs is this decide's view of the observation: a shallow copy of the
   * prepared one (never modified: decide may run again) or its own */
  bool own_obs = !arg->prepared, own_link = false;
  int rc = 0;
  if (arg->prepared) obs = arg->obs;
  else if ((rc = contact_normalize(&arg->in, &obs, err))) goto out;

  /* the account: explicit, else by the email's domain */
  const surv_field *acct_obs = &obs.values[CONTACT_F_ACCOUNT_ID];
  if (acct_obs->set && acct_obs->value.type == SURV_STR) {
    acct_state a;
    acct_state_init(&a);
    rc = acct_load(ctx, acct_obs->value.str, &a, err);
    bool live = a.exists && !a.deleted;
    acct_state_release(&a);
    if (rc) goto out;
    if (!live) {
      rc = pv_error_set(err, PV_ENOTFOUND, "/account_id", "account %s does not exist",
                        acct_obs->value.str);
      goto out;
    }
  } else if (!acct_obs->set && obs.has_email) {
    if ((rc = observe_domain_link(ctx, &obs, &obs.email, err))) goto out;
    own_link = obs.values[CONTACT_F_ACCOUNT_ID].set;
  }
  const char *obs_account = field_str(&obs.values[CONTACT_F_ACCOUNT_ID]);

  /* identity: email first, then external ids, then phone within the account */
  if (obs.has_email) probe(ctx, &probes[np++], "email", obs.email.address);
  for (size_t i = 0; i < obs.ext_count; i++) probe(ctx, &probes[np++], "ext", obs.ext_keys[i]);
  size_t phone_probe = SIZE_MAX; /* always the last probe when present */
  if (obs.phone_e164[0] && obs_account[0]) {
    char v[CONTACT_IDENT_MAX + 1];
    snprintf(v, sizeof v, "%s:%s", obs_account, obs.phone_e164);
    phone_probe = np;
    probe(ctx, &probes[np++], "phone", v);
  }
  if (arg->target_id) {
    if (!entity_id_valid(arg->target_id)) {
      rc = pv_error_set(err, PV_ENOTFOUND, NULL, "no such contact");
      goto out;
    }
    if (obs.has_email && probes[0].owner[0] && strcmp(probes[0].owner, arg->target_id) != 0) {
      rc = pv_error_set(err, PV_EEXISTS, "/email", "contact %s has this email", probes[0].owner);
      pv_error_hint(err, "Merge the two contacts to join them.");
      goto out;
    }
    snprintf(arg->id, sizeof arg->id, "%s", arg->target_id);
  } else if (np == 0) {
    rc = pv_error_set(err, PV_EINVAL, "/email", "a contact needs an identifier");
    pv_error_detail(err, "Give an email address, an external id, or a valid phone number "
                         "with an account.");
    goto out;
  }
  for (size_t i = 0; i < np && !arg->id[0]; i++) {
    if (!probes[i].owner[0]) continue;
    if (i > 0 || !obs.has_email) {
      /* a secondary match is someone else when both have other emails */
      contact_state cand;
      rc = contact_load(ctx, probes[i].owner, &cand, err);
      bool other = obs.has_email && cand.fields[CONTACT_F_EMAIL].set &&
                   strcmp(field_str(&cand.fields[CONTACT_F_EMAIL]), obs.email.address) != 0;
      contact_state_release(&cand);
      if (rc) goto out;
      if (other) continue;
    }
    snprintf(arg->id, sizeof arg->id, "%s", probes[i].owner);
  }

  if (arg->id[0]) {
    if ((rc = contact_load(ctx, arg->id, &st, err))) goto out;
    if (arg->target_id && (!st.exists || st.deleted || st.merged_into[0])) {
      rc = pv_error_set(err, PV_ENOTFOUND, NULL, "contact %s does not exist", arg->id);
      goto out;
    }
    if (st.deleted) {
      rc = pv_error_set(err, PV_EEXISTS, "/email", "contact %s is deleted", arg->id);
      pv_error_hint(err, "Restore the contact to update it.");
      goto out;
    }
    if (st.merged_into[0]) {
      rc = pv_error_set(err, PV_EINTERNAL, NULL, "identifier of merged contact %s not redirected",
                        arg->id);
      goto out;
    }
  } else {
    snprintf(key, sizeof key, "%s:%s", probes[0].kind, probes[0].value);
    if ((rc = entity_new_id(ctx, "contact", key, arg->id, err))) goto out;
    arg->created = true;
  }

  contact_decide_upsert(&st, &obs, &ch);

  /* identifiers: claim the free ones; the phone key uses the resulting
   * account (the observed one may have lost survivorship) */
  const surv_field *acct_after = &st.fields[CONTACT_F_ACCOUNT_ID];
  for (size_t i = 0; i < ch.count; i++)
    if (ch.items[i].field == CONTACT_F_ACCOUNT_ID) acct_after = &ch.items[i].after;
  const char *final_account = field_str(acct_after);
  if (obs.phone_e164[0] && final_account[0]) {
    char v[CONTACT_IDENT_MAX + 1];
    snprintf(v, sizeof v, "%s:%s", final_account, obs.phone_e164);
    if (phone_probe == SIZE_MAX) {
      phone_probe = np++;
      probes[phone_probe].value[0] = '\0';
    }
    if (strcmp(probes[phone_probe].value, v) != 0) probe(ctx, &probes[phone_probe], "phone", v);
  } else if (phone_probe != SIZE_MAX) {
    np--;
  }
  msgpack_packer cpk;
  mp_packer_init(&cpk, &conflicts);
  for (size_t i = 0; i < np; i++) {
    if (contact_state_has_ident(&st, probes[i].kind, probes[i].value)) continue;
    if (!probes[i].owner[0] || strcmp(probes[i].owner, arg->id) == 0) {
      contact_changes_add_ident(&ch, probes[i].kind, probes[i].value);
    } else {
      conflict_count++;
      msgpack_pack_map(&cpk, 3);
      mp_pack_cstr(&cpk, "kind");
      mp_pack_cstr(&cpk, probes[i].kind);
      mp_pack_cstr(&cpk, "value");
      mp_pack_cstr(&cpk, probes[i].value);
      mp_pack_cstr(&cpk, "owner");
      mp_pack_cstr(&cpk, probes[i].owner);
    }
  }
  arg->changed_fields = ch.count;
  arg->conflicts = conflict_count;
  /* conflicts alone write nothing: re-running an import must not grow the
   * log; they ride along on an event written anyway and are in the out */
  if (!arg->created && ch.count == 0 && ch.ident_count == 0) goto out;

  msgpack_packer pk;
  mp_packer_init(&pk, &payload);
  msgpack_pack_map(&pk, 5 + (arg->created ? 1 : 0) + (conflict_count ? 1 : 0));
  mp_pack_cstr(&pk, "contact_id");
  mp_pack_cstr(&pk, arg->id);
  mp_pack_cstr(&pk, "source");
  mp_pack_cstr(&pk, obs.source);
  mp_pack_cstr(&pk, "observed_at");
  msgpack_pack_int64(&pk, obs.observed_at_us);
  if (arg->created) {
    mp_pack_cstr(&pk, "key");
    mp_pack_cstr(&pk, key);
  }
  mp_pack_cstr(&pk, "changes");
  pack_changes(&pk, &ch);
  mp_pack_cstr(&pk, "identifiers_added");
  pack_idents(&pk, ch.idents, ch.ident_count);
  if (conflict_count) {
    mp_pack_cstr(&pk, "identifier_conflicts");
    msgpack_pack_array(&pk, conflict_count);
    pv_buf_add(&payload, conflicts.data, conflicts.len);
  }
  rc = emit(ctx, arg->id, arg->created ? "contact.created" : "contact.updated", &payload, err);
  for (size_t i = 0; rc == 0 && i < ch.ident_count; i++) {
    char uk[24];
    rc = writer_unique_put(ctx, unique_kind(ch.idents[i].kind, uk), ch.idents[i].value, arg->id);
    if (rc) pv_error_set(err, rc, "/email", "identifier too long for the index");
  }
out:
  if (own_obs) contact_obs_release(&obs);
  else if (own_link) surv_field_release(&obs.values[CONTACT_F_ACCOUNT_ID]);
  contact_state_release(&st);
  contact_changes_release(&ch);
  pv_buf_release(&conflicts);
  pv_buf_release(&payload);
  return rc;
}

/* Loads both sides of a merge or unmerge and checks what both need. */
static int load_pair(writer_ctx *ctx, const contact_merge_arg *arg, contact_state *w,
                     contact_state *l, pv_error *err) {
  contact_state_init(w);
  contact_state_init(l);
  if (!arg->winner_id || !arg->loser_id || strcmp(arg->winner_id, arg->loser_id) == 0)
    return pv_error_set(err, PV_EINVAL, "/loser_id", "winner and loser must be two contacts");
  int rc = contact_load(ctx, arg->winner_id, w, err);
  if (rc) {
    snprintf(err->field, sizeof err->field, "/winner_id");
    return rc;
  }
  if ((rc = contact_load(ctx, arg->loser_id, l, err))) {
    snprintf(err->field, sizeof err->field, "/loser_id");
    return rc;
  }
  if (!w->exists || w->deleted)
    return pv_error_set(err, PV_ENOTFOUND, "/winner_id", "contact %s does not exist",
                        arg->winner_id);
  if (!l->exists || l->deleted)
    return pv_error_set(err, PV_ENOTFOUND, "/loser_id", "contact %s does not exist",
                        arg->loser_id);
  if (w->merged_into[0])
    return pv_error_set(err, PV_EINVAL, "/winner_id", "contact %s is merged into %s",
                        arg->winner_id, w->merged_into);
  return 0;
}

static int repoint(writer_ctx *ctx, const contact_ident *ids, size_t n, const char *to,
                   pv_error *err) {
  for (size_t i = 0; i < n; i++) {
    char uk[24];
    int rc = writer_unique_put(ctx, unique_kind(ids[i].kind, uk), ids[i].value, to);
    if (rc) return pv_error_set(err, rc, NULL, "identifier too long for the index");
  }
  return 0;
}

int contact_merge_decide(writer_ctx *ctx, void *argp, pv_error *err) {
  contact_merge_arg *arg = argp;
  contact_state w, l;
  contact_changes ch;
  pv_buf payload = PV_BUF_INIT;
  contact_changes_init(&ch);
  int rc = load_pair(ctx, arg, &w, &l, err);
  if (rc) goto out;
  if (l.merged_into[0]) {
    rc = pv_error_set(err, PV_EINVAL, "/loser_id", "contact %s is already merged into %s",
                      arg->loser_id, l.merged_into);
    goto out;
  }
  contact_decide_merge(&w, &l, &ch);
  msgpack_packer pk;
  mp_packer_init(&pk, &payload);
  msgpack_pack_map(&pk, 4);
  mp_pack_cstr(&pk, "contact_id");
  mp_pack_cstr(&pk, arg->winner_id);
  mp_pack_cstr(&pk, "loser_id");
  mp_pack_cstr(&pk, arg->loser_id);
  mp_pack_cstr(&pk, "changes");
  pack_changes(&pk, &ch);
  mp_pack_cstr(&pk, "identifiers_added");
  pack_idents(&pk, ch.idents, ch.ident_count);
  if ((rc = emit(ctx, arg->winner_id, "contact.merged", &payload, err))) goto out;
  if ((rc = emit_ids(ctx, arg->loser_id, "contact.merged_into", "winner_id", arg->winner_id,
                     err)))
    goto out;
  rc = repoint(ctx, l.idents, l.ident_count, arg->winner_id, err);
out:
  contact_state_release(&w);
  contact_state_release(&l);
  contact_changes_release(&ch);
  pv_buf_release(&payload);
  return rc;
}

int contact_unmerge_decide(writer_ctx *ctx, void *argp, pv_error *err) {
  contact_merge_arg *arg = argp;
  contact_state w, l;
  contact_changes ch;
  pv_buf payload = PV_BUF_INIT;
  contact_changes_init(&ch);
  int rc = load_pair(ctx, arg, &w, &l, err);
  if (rc) goto out;
  const contact_merge_rec *m = NULL;
  for (size_t i = w.merge_count; i-- > 0 && !m;)
    if (strcmp(w.merges[i].loser_id, arg->loser_id) == 0) m = &w.merges[i];
  if (strcmp(l.merged_into, arg->winner_id) != 0 || !m) {
    rc = pv_error_set(err, PV_EINVAL, "/loser_id", "contact %s is not merged into %s",
                      arg->loser_id, arg->winner_id);
    goto out;
  }
  contact_decide_unmerge(&w, m, &ch);
  msgpack_packer pk;
  mp_packer_init(&pk, &payload);
  msgpack_pack_map(&pk, 4);
  mp_pack_cstr(&pk, "contact_id");
  mp_pack_cstr(&pk, arg->winner_id);
  mp_pack_cstr(&pk, "loser_id");
  mp_pack_cstr(&pk, arg->loser_id);
  mp_pack_cstr(&pk, "changes");
  pack_changes(&pk, &ch);
  mp_pack_cstr(&pk, "identifiers_removed");
  pack_idents(&pk, ch.idents, ch.ident_count);
  if ((rc = emit(ctx, arg->winner_id, "contact.merge_undone", &payload, err))) goto out;
  if ((rc = emit_ids(ctx, arg->loser_id, "contact.unmerged", "winner_id", arg->winner_id, err)))
    goto out;
  rc = repoint(ctx, l.idents, l.ident_count, arg->loser_id, err);
out:
  contact_state_release(&w);
  contact_state_release(&l);
  contact_changes_release(&ch);
  pv_buf_release(&payload);
  return rc;
}

static int load_live(writer_ctx *ctx, const contact_id_arg *arg, contact_state *st,
                     pv_error *err) {
  int rc = contact_load(ctx, arg->id, st, err);
  if (rc) {
    snprintf(err->field, sizeof err->field, "/id");
    return rc;
  }
  if (!st->exists) return pv_error_set(err, PV_ENOTFOUND, "/id", "contact %s does not exist", arg->id);
  if (st->merged_into[0]) {
    pv_error_set(err, PV_ENOTFOUND, "/id", "contact %s does not exist", arg->id);
    pv_error_detail(err, "It was merged into %s.", st->merged_into);
    return PV_ENOTFOUND;
  }
  return 0;
}

static int delete_or_restore(writer_ctx *ctx, contact_id_arg *arg, bool del, pv_error *err) {
  contact_state st;
  arg->changed = false;
  int rc = load_live(ctx, arg, &st, err);
  if (rc == 0 && st.deleted != del) {
    rc = emit_ids(ctx, arg->id, del ? "contact.deleted" : "contact.restored", NULL, NULL, err);
    arg->changed = rc == 0;
  }
  contact_state_release(&st);
  return rc;
}

int contact_delete_decide(writer_ctx *ctx, void *arg, pv_error *err) {
  return delete_or_restore(ctx, arg, true, err);
}

int contact_restore_decide(writer_ctx *ctx, void *arg, pv_error *err) {
  return delete_or_restore(ctx, arg, false, err);
}

int contact_relink_decide(writer_ctx *ctx, void *argp, pv_error *err) {
  contact_id_arg *arg = argp;
  contact_state st;
  contact_obs obs;
  contact_changes ch;
  pv_buf payload = PV_BUF_INIT;
  memset(&obs, 0, sizeof obs);
  contact_changes_init(&ch);
  arg->changed = false;
  int rc = load_live(ctx, arg, &st, err);
  if (rc) goto out;
  if (arg->observed_at_us <= 0) {
    rc = pv_error_set(err, PV_EINVAL, "/observed_at", "the time of the relink is required");
    goto out;
  }
  const char *email = field_str(&st.fields[CONTACT_F_EMAIL]);
  if (!email[0]) goto out;
  norm_email ne;
  if (norm_email_parse(email, strlen(email), &ne, err)) {
    rc = pv_error_set(err, PV_ECORRUPT, NULL, "stored email of %s does not parse", arg->id);
    goto out;
  }
  snprintf(obs.source, sizeof obs.source, "domain_match");
  obs.priority = surv_source_priority("domain_match");
  obs.observed_at_us = arg->observed_at_us;
  if ((rc = observe_domain_link(ctx, &obs, &ne, err))) goto out;
  contact_decide_upsert(&st, &obs, &ch);
  if (ch.count == 0) goto out;
  msgpack_packer pk;
  mp_packer_init(&pk, &payload);
  msgpack_pack_map(&pk, 4);
  mp_pack_cstr(&pk, "contact_id");
  mp_pack_cstr(&pk, arg->id);
  mp_pack_cstr(&pk, "source");
  mp_pack_cstr(&pk, obs.source);
  mp_pack_cstr(&pk, "observed_at");
  msgpack_pack_int64(&pk, obs.observed_at_us);
  mp_pack_cstr(&pk, "changes");
  pack_changes(&pk, &ch);
  rc = emit(ctx, arg->id, "contact.updated", &payload, err);
  arg->changed = rc == 0;
out:
  contact_state_release(&st);
  contact_obs_release(&obs);
  contact_changes_release(&ch);
  pv_buf_release(&payload);
  return rc;
}
