/*
 * accounts — see accounts.h for the rules. Layout: tables, state and fold,
 * custom field definitions, the industry classifier, input normalization,
 * and the writer decide functions.
 */
#include "core/accounts.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACCT_DOMAIN_KIND "account_domain"
#define ACCT_DEFS_STREAM "custom_fields-account"
#define ACCT_CUSTOM_PREFIX "custom_fields."

static const char *field_names[] = {
#define ACCT__XX(name, str) str,
    ACCT_FIELD_MAP(ACCT__XX)
#undef ACCT__XX
};

static const char *cf_type_names[] = {
#define ACCT__XX(name, str) str,
    ACCT_CF_TYPE_MAP(ACCT__XX)
#undef ACCT__XX
};

const char *acct_field_name(acct_field f) {
  return (unsigned)f < ACCT_FIELD_COUNT ? field_names[f] : NULL;
}

static int field_by_name(const char *name) {
  for (int i = 0; i < ACCT_FIELD_COUNT; i++)
    if (strcmp(field_names[i], name) == 0) return i;
  return -1;
}

int acct_cf_type_by_name(const char *name) {
  for (int i = 0; i < ACCT_CF_TYPE_COUNT; i++)
    if (strcmp(cf_type_names[i], name) == 0) return i;
  return -1;
}

const char *acct_cf_type_name(acct_cf_type t) {
  return (unsigned)t < ACCT_CF_TYPE_COUNT ? cf_type_names[t] : "unknown";
}

static bool type_is(const char *type, size_t len, const char *want) {
  return strlen(want) == len && memcmp(type, want, len) == 0;
}

static int read_cstr(mp_reader *r, char *out, size_t cap) {
  mp_slice s;
  int rc = mp_read_str(r, &s);
  if (rc) return rc;
  if (s.len >= cap) return PV_EINVAL;
  memcpy(out, s.ptr, s.len);
  out[s.len] = '\0';
  return 0;
}

/* ---- changes ---------------------------------------------------------- */

typedef struct acct_change {
  char field[SURV_FIELD_NAME_MAX + 1];
  surv_field before, after;
} acct_change;

typedef struct acct_changes {
  acct_change *items;
  size_t count, cap;
  char **alt_added, **alt_removed;
  size_t added_count, removed_count;
} acct_changes;

static void changes_release(acct_changes *c) {
  for (size_t i = 0; i < c->count; i++) {
    surv_field_release(&c->items[i].before);
    surv_field_release(&c->items[i].after);
  }
  free(c->items);
  for (size_t i = 0; i < c->added_count; i++) free(c->alt_added[i]);
  for (size_t i = 0; i < c->removed_count; i++) free(c->alt_removed[i]);
  free(c->alt_added);
  free(c->alt_removed);
  memset(c, 0, sizeof *c);
}

/* Appends a change; takes over before and after. */
static void changes_push(acct_changes *c, const char *field, surv_field *before,
                         surv_field *after) {
  if (c->count == c->cap) {
    c->cap = c->cap ? c->cap * 2 : 8;
    c->items = pv_xrealloc(c->items, c->cap * sizeof *c->items);
  }
  acct_change *ch = &c->items[c->count++];
  snprintf(ch->field, sizeof ch->field, "%s", field);
  ch->before = *before;
  ch->after = *after;
  memset(before, 0, sizeof *before);
  memset(after, 0, sizeof *after);
}

static void strs_push(char ***arr, size_t *n, const char *s) {
  *arr = pv_xrealloc(*arr, (*n + 1) * sizeof **arr);
  (*arr)[(*n)++] = pv_xstrdup(s);
}

static bool strs_has(char *const *arr, size_t n, const char *s) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(arr[i], s) == 0) return true;
  return false;
}

/* ---- state ------------------------------------------------------------ */

void acct_state_init(acct_state *st) { memset(st, 0, sizeof *st); }

void acct_state_release(acct_state *st) {
  for (int i = 0; i < ACCT_FIELD_COUNT; i++) surv_field_release(&st->fields[i]);
  for (size_t i = 0; i < st->alt_count; i++) free(st->alt_domains[i]);
  free(st->alt_domains);
  for (size_t i = 0; i < st->custom_count; i++) surv_field_release(&st->custom[i].field);
  free(st->custom);
  acct_state_init(st);
}

static surv_field *custom_slot(acct_state *st, const char *name, bool create) {
  for (size_t i = 0; i < st->custom_count; i++)
    if (strcmp(st->custom[i].name, name) == 0) return &st->custom[i].field;
  if (!create) return NULL;
  st->custom = pv_xrealloc(st->custom, (st->custom_count + 1) * sizeof *st->custom);
  acct_custom *c = &st->custom[st->custom_count++];
  memset(c, 0, sizeof *c);
  snprintf(c->name, sizeof c->name, "%s", name);
  return &c->field;
}

static void state_set(acct_state *st, const char *field, const surv_field *after) {
  surv_field *f = NULL;
  int i = field_by_name(field);
  if (i >= 0) f = &st->fields[i];
  else if (strncmp(field, ACCT_CUSTOM_PREFIX, strlen(ACCT_CUSTOM_PREFIX)) == 0)
    f = custom_slot(st, field + strlen(ACCT_CUSTOM_PREFIX), true);
  if (!f) return;
  surv_field_release(f);
  surv_field_copy(f, after);
}

static void state_alt_remove(acct_state *st, const char *d) {
  for (size_t i = 0; i < st->alt_count; i++)
    if (strcmp(st->alt_domains[i], d) == 0) {
      free(st->alt_domains[i]);
      memmove(&st->alt_domains[i], &st->alt_domains[i + 1],
              (st->alt_count - i - 1) * sizeof *st->alt_domains);
      st->alt_count--;
      return;
    }
}

static int read_strs(mp_reader *r, char ***arr, size_t *n) {
  uint32_t count;
  int rc = mp_read_array(r, &count);
  for (uint32_t i = 0; i < count && rc == 0; i++) {
    char d[NORM_DOMAIN_MAX + 1];
    if ((rc = read_cstr(r, d, sizeof d)) == 0) strs_push(arr, n, d);
  }
  return rc;
}

static int parse_acct_evt(const void *payload, size_t len, char id[ENTITY_ID_LEN + 1],
                          acct_changes *c) {
  mp_reader r;
  uint32_t n;
  memset(c, 0, sizeof *c);
  id[0] = '\0';
  mp_reader_init(&r, payload, len);
  int rc = mp_read_map(&r, &n);
  for (uint32_t i = 0; i < n && rc == 0; i++) {
    mp_slice key;
    if ((rc = mp_read_str(&r, &key))) break;
    if (mp_slice_eq(key, "account_id")) {
      rc = read_cstr(&r, id, ENTITY_ID_LEN + 1);
    } else if (mp_slice_eq(key, "changes")) {
      uint32_t m;
      if ((rc = mp_read_array(&r, &m))) break;
      for (uint32_t j = 0; j < m && rc == 0; j++) {
        char name[SURV_FIELD_NAME_MAX + 1];
        surv_field before = {0}, after = {0};
        rc = surv_read_change(&r, name, &before, &after);
        changes_push(c, rc ? "" : name, &before, &after);
      }
    } else if (mp_slice_eq(key, "alternate_domains_added")) {
      rc = read_strs(&r, &c->alt_added, &c->added_count);
    } else if (mp_slice_eq(key, "alternate_domains_removed")) {
      rc = read_strs(&r, &c->alt_removed, &c->removed_count);
    } else {
      rc = mp_skip(&r, 1);
    }
  }
  return rc;
}

int acct_apply(void *state, const char *type, size_t type_len, const void *payload,
               size_t len) {
  acct_state *st = state;
  if (type_len < 8 || memcmp(type, "account.", 8) != 0) return 0;
  char id[ENTITY_ID_LEN + 1];
  acct_changes c;
  int rc = parse_acct_evt(payload, len, id, &c);
  if (rc == 0) {
    snprintf(st->id, sizeof st->id, "%s", id);
    if (type_is(type, type_len, "account.created") || type_is(type, type_len, "account.updated")) {
      st->exists = true;
      for (size_t i = 0; i < c.count; i++) state_set(st, c.items[i].field, &c.items[i].after);
      for (size_t i = 0; i < c.removed_count; i++) state_alt_remove(st, c.alt_removed[i]);
      for (size_t i = 0; i < c.added_count; i++)
        if (!strs_has(st->alt_domains, st->alt_count, c.alt_added[i]))
          strs_push(&st->alt_domains, &st->alt_count, c.alt_added[i]);
    } else if (type_is(type, type_len, "account.deleted")) {
      st->deleted = true;
    } else if (type_is(type, type_len, "account.restored")) {
      st->deleted = false;
    }
  }
  changes_release(&c);
  return rc;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_custom(const void *a, const void *b) {
  return strcmp(((const acct_custom *)a)->name, ((const acct_custom *)b)->name);
}

void acct_state_format(const acct_state *st, pv_buf *out) {
  pv_buf_addf(out, "account %s exists=%d deleted=%d\n", st->id, st->exists, st->deleted);
  for (int i = 0; i < ACCT_FIELD_COUNT; i++) {
    pv_buf_addf(out, "  %s: ", field_names[i]);
    surv_field_format(&st->fields[i], out);
    pv_buf_addch(out, '\n');
  }
  char **alts = pv_xmalloc((st->alt_count + 1) * sizeof *alts);
  if (st->alt_count) memcpy(alts, st->alt_domains, st->alt_count * sizeof *alts);
  qsort(alts, st->alt_count, sizeof *alts, cmp_str);
  for (size_t i = 0; i < st->alt_count; i++) pv_buf_addf(out, "  alt %s\n", alts[i]);
  free(alts);
  acct_custom *cs = pv_xmalloc((st->custom_count + 1) * sizeof *cs);
  if (st->custom_count) memcpy(cs, st->custom, st->custom_count * sizeof *cs);
  qsort(cs, st->custom_count, sizeof *cs, cmp_custom);
  for (size_t i = 0; i < st->custom_count; i++) {
    pv_buf_addf(out, "  custom %s: ", cs[i].name);
    surv_field_format(&cs[i].field, out);
    pv_buf_addch(out, '\n');
  }
  free(cs);
}

/* ---- custom field definitions ---------------------------------------- */

void acct_defs_release(acct_defs *d) {
  for (size_t i = 0; i < d->count; i++) {
    for (size_t j = 0; j < d->defs[i].option_count; j++) free(d->defs[i].options[j]);
    free(d->defs[i].options);
  }
  free(d->defs);
  memset(d, 0, sizeof *d);
}

const acct_cf_def *acct_defs_find(const acct_defs *d, const char *name) {
  for (size_t i = 0; i < d->count; i++)
    if (strcmp(d->defs[i].name, name) == 0) return &d->defs[i];
  return NULL;
}

int acct_defs_apply(void *defs, const char *type, size_t type_len, const void *payload,
                    size_t len) {
  acct_defs *d = defs;
  if (!type_is(type, type_len, "custom_field.defined")) return 0;
  acct_cf_def def;
  memset(&def, 0, sizeof def);
  char tname[16] = "", entity[16] = "";
  mp_reader r;
  uint32_t n;
  mp_reader_init(&r, payload, len);
  int rc = mp_read_map(&r, &n);
  for (uint32_t i = 0; i < n && rc == 0; i++) {
    mp_slice key;
    if ((rc = mp_read_str(&r, &key))) break;
    if (mp_slice_eq(key, "name")) rc = read_cstr(&r, def.name, sizeof def.name);
    else if (mp_slice_eq(key, "type")) rc = read_cstr(&r, tname, sizeof tname);
    else if (mp_slice_eq(key, "entity")) rc = read_cstr(&r, entity, sizeof entity);
    else if (mp_slice_eq(key, "options")) {
      uint32_t m;
      if ((rc = mp_read_array(&r, &m))) break;
      for (uint32_t j = 0; j < m && rc == 0; j++) {
        mp_slice s;
        if ((rc = mp_read_str(&r, &s)) == 0) {
          char *o = pv_xstrndup(s.ptr, s.len);
          def.options = pv_xrealloc(def.options, (def.option_count + 1) * sizeof *def.options);
          def.options[def.option_count++] = o;
        }
      }
    } else rc = mp_skip(&r, 1);
  }
  int t = acct_cf_type_by_name(tname);
  if (rc == 0 && (t < 0 || !def.name[0])) rc = PV_EINVAL;
  if (rc == 0 && strcmp(entity, "account") == 0) {
    def.type = (acct_cf_type)t;
    d->defs = pv_xrealloc(d->defs, (d->count + 1) * sizeof *d->defs);
    d->defs[d->count++] = def;
    return 0;
  }
  for (size_t j = 0; j < def.option_count; j++) free(def.options[j]);
  free(def.options);
  return rc;
}

static bool valid_date(const char *s) {
  if (strlen(s) != 10 || s[4] != '-' || s[7] != '-') return false;
  for (int i = 0; i < 10; i++)
    if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9')) return false;
  int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
  static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m < 1 || m > 12 || d < 1) return false;
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return d <= days[m - 1] + (m == 2 && leap);
}

int acct_custom_check(const acct_defs *d, const acct_custom_value *v, pv_error *err) {
  char json[SURV_FIELD_NAME_MAX + 16];
  snprintf(json, sizeof json, "/custom_fields/%.*s", ACCT_CF_NAME_MAX, v->name ? v->name : "");
  const acct_cf_def *def = v->name ? acct_defs_find(d, v->name) : NULL;
  if (!def) {
    pv_error_set(err, PV_EINVAL, json, "no custom field \"%.*s\" is defined", ACCT_CF_NAME_MAX,
                 v->name ? v->name : "");
    pv_error_hint(err, "Define the field first.");
    return PV_EINVAL;
  }
  if (v->type == SURV_NIL) return 0;
  const char *want = NULL;
  switch (def->type) {
  case ACCT_CF_TEXT:
    if (v->type != SURV_STR) want = "text";
    else if (strlen(v->str) > ACCT_CF_TEXT_MAX)
      return pv_error_set(err, PV_EINVAL, json, "text longer than %d bytes", ACCT_CF_TEXT_MAX);
    break;
  case ACCT_CF_NUMBER:
    if (v->type != SURV_NUM) want = "a number";
    else if (!isfinite(v->num))
      return pv_error_set(err, PV_EINVAL, json, "the number must be finite");
    break;
  case ACCT_CF_DATE:
    if (v->type != SURV_STR) want = "a date";
    else if (!valid_date(v->str))
      return pv_error_set(err, PV_EINVAL, json, "invalid date \"%.32s\": want YYYY-MM-DD",
                          v->str);
    break;
  case ACCT_CF_BOOLEAN:
    if (v->type != SURV_BOOL) want = "true or false";
    break;
  case ACCT_CF_TYPE_COUNT: break;
  case ACCT_CF_SELECT:
    if (v->type != SURV_STR) want = "one of the options";
    else if (!strs_has(def->options, def->option_count, v->str)) {
      pv_error_set(err, PV_EINVAL, json, "\"%.64s\" is not an option of %s", v->str, def->name);
      pv_error_detail(err, "The field has %zu options.", def->option_count);
      return PV_EINVAL;
    }
    break;
  }
  if (want)
    return pv_error_set(err, PV_EINVAL, json, "custom field %s (%s) takes %s", def->name,
                        cf_type_names[def->type], want);
  return 0;
}

static int defs_visit(void *arg, const evt_envelope *e, const uint8_t *raw, size_t raw_len) {
  return acct_defs_apply(arg, e->type.ptr, e->type.len, e->payload, e->payload_len)
             ? PV_ECORRUPT
             : 0;
}

static int load_defs(writer_ctx *ctx, acct_defs *d, pv_error *err) {
  memset(d, 0, sizeof *d);
  int rc = writer_read_stream(ctx, ACCT_DEFS_STREAM, 1, defs_visit, d);
  if (rc) return pv_error_set(err, PV_ECORRUPT, NULL, "custom field definitions do not fold");
  return 0;
}

/* ---- industry classifier ---------------------------------------------- */

typedef enum acct_industry {
#define ACCT__XX(name, str) ACCT_IND_##name,
  ACCT_INDUSTRY_MAP(ACCT__XX)
#undef ACCT__XX
} acct_industry;

static const char *industry_names[] = {
#define ACCT__XX(name, str) str,
    ACCT_INDUSTRY_MAP(ACCT__XX)
#undef ACCT__XX
};

/* NAICS 2022 code prefixes, longest first within a sector (first match
 * wins): the sectors of census.gov/naics, with the software and telecom
 * subsectors of 51 and 54 split out. 5112 is NAICS 2017's software
 * publishers (5132 since 2022): enrichment providers still answer in 2017
 * codes, and 5112 means nothing else in 2022. */
static const struct {
  const char *prefix;
  acct_industry industry;
} naics_rules[] = {
    {"11", ACCT_IND_AGRICULTURE},      {"21", ACCT_IND_MINING_ENERGY},
    {"22", ACCT_IND_MINING_ENERGY},    {"23", ACCT_IND_CONSTRUCTION},
    {"31", ACCT_IND_MANUFACTURING},    {"32", ACCT_IND_MANUFACTURING},
    {"33", ACCT_IND_MANUFACTURING},    {"42", ACCT_IND_WHOLESALE},
    {"44", ACCT_IND_RETAIL},           {"45", ACCT_IND_RETAIL},
    {"48", ACCT_IND_TRANSPORTATION},   {"49", ACCT_IND_TRANSPORTATION},
    {"5132", ACCT_IND_SOFTWARE},       {"5112", ACCT_IND_SOFTWARE},
    {"517", ACCT_IND_TELECOM},         {"518", ACCT_IND_SOFTWARE},
    {"51", ACCT_IND_MEDIA},            {"524", ACCT_IND_INSURANCE},
    {"52", ACCT_IND_FINANCE},          {"53", ACCT_IND_REAL_ESTATE},
    {"5415", ACCT_IND_SOFTWARE},
    {"54", ACCT_IND_PROFESSIONAL_SERVICES}, {"55", ACCT_IND_PROFESSIONAL_SERVICES},
    {"56", ACCT_IND_PROFESSIONAL_SERVICES}, {"61", ACCT_IND_EDUCATION},
    {"62", ACCT_IND_HEALTHCARE},       {"71", ACCT_IND_HOSPITALITY},
    {"72", ACCT_IND_HOSPITALITY},      {"813", ACCT_IND_NONPROFIT},
    {"81", ACCT_IND_PROFESSIONAL_SERVICES}, {"92", ACCT_IND_GOVERNMENT},
};

/* SIC (1987) ranges, specific ones first: the divisions of the OSHA SIC
 * manual, with 48 (communications) and 737 (computer services) split out. */
static const struct {
  int lo, hi;
  acct_industry industry;
} sic_rules[] = {
    {100, 999, ACCT_IND_AGRICULTURE},     {1000, 1499, ACCT_IND_MINING_ENERGY},
    {1500, 1799, ACCT_IND_CONSTRUCTION},  {2000, 3999, ACCT_IND_MANUFACTURING},
    {4800, 4899, ACCT_IND_TELECOM},       {4900, 4999, ACCT_IND_MINING_ENERGY},
    {4000, 4799, ACCT_IND_TRANSPORTATION}, {5000, 5199, ACCT_IND_WHOLESALE},
    {5200, 5999, ACCT_IND_RETAIL},        {6300, 6499, ACCT_IND_INSURANCE},
    {6500, 6799, ACCT_IND_REAL_ESTATE},   {6000, 6299, ACCT_IND_FINANCE},
    {7370, 7379, ACCT_IND_SOFTWARE},      {7000, 7099, ACCT_IND_HOSPITALITY},
    {7800, 7999, ACCT_IND_MEDIA},         {8000, 8099, ACCT_IND_HEALTHCARE},
    {8200, 8299, ACCT_IND_EDUCATION},     {8600, 8699, ACCT_IND_NONPROFIT},
    {7000, 8999, ACCT_IND_PROFESSIONAL_SERVICES}, {9100, 9999, ACCT_IND_GOVERNMENT},
};

/* Whole words of the name, description and domain labels. */
static const struct {
  const char *word;
  acct_industry industry;
} keyword_rules[] = {
    {"software", ACCT_IND_SOFTWARE},      {"saas", ACCT_IND_SOFTWARE},
    {"cloud", ACCT_IND_SOFTWARE},         {"analytics", ACCT_IND_SOFTWARE},
    {"bank", ACCT_IND_FINANCE},           {"banking", ACCT_IND_FINANCE},
    {"capital", ACCT_IND_FINANCE},        {"financial", ACCT_IND_FINANCE},
    {"investments", ACCT_IND_FINANCE},    {"insurance", ACCT_IND_INSURANCE},
    {"assurance", ACCT_IND_INSURANCE},    {"hospital", ACCT_IND_HEALTHCARE},
    {"clinic", ACCT_IND_HEALTHCARE},      {"health", ACCT_IND_HEALTHCARE},
    {"healthcare", ACCT_IND_HEALTHCARE},  {"medical", ACCT_IND_HEALTHCARE},
    {"pharma", ACCT_IND_HEALTHCARE},      {"pharmaceuticals", ACCT_IND_HEALTHCARE},
    {"university", ACCT_IND_EDUCATION},   {"college", ACCT_IND_EDUCATION},
    {"school", ACCT_IND_EDUCATION},       {"academy", ACCT_IND_EDUCATION},
    {"telecom", ACCT_IND_TELECOM},        {"telecommunications", ACCT_IND_TELECOM},
    {"wireless", ACCT_IND_TELECOM},       {"realty", ACCT_IND_REAL_ESTATE},
    {"properties", ACCT_IND_REAL_ESTATE}, {"construction", ACCT_IND_CONSTRUCTION},
    {"builders", ACCT_IND_CONSTRUCTION},  {"logistics", ACCT_IND_TRANSPORTATION},
    {"freight", ACCT_IND_TRANSPORTATION}, {"airlines", ACCT_IND_TRANSPORTATION},
    {"shipping", ACCT_IND_TRANSPORTATION}, {"hotel", ACCT_IND_HOSPITALITY},
    {"hotels", ACCT_IND_HOSPITALITY},     {"resorts", ACCT_IND_HOSPITALITY},
    {"restaurant", ACCT_IND_HOSPITALITY}, {"media", ACCT_IND_MEDIA},
    {"publishing", ACCT_IND_MEDIA},       {"studios", ACCT_IND_MEDIA},
    {"entertainment", ACCT_IND_MEDIA},    {"consulting", ACCT_IND_PROFESSIONAL_SERVICES},
    {"law", ACCT_IND_PROFESSIONAL_SERVICES}, {"accounting", ACCT_IND_PROFESSIONAL_SERVICES},
    {"foundation", ACCT_IND_NONPROFIT},   {"charity", ACCT_IND_NONPROFIT},
    {"nonprofit", ACCT_IND_NONPROFIT},    {"manufacturing", ACCT_IND_MANUFACTURING},
    {"industries", ACCT_IND_MANUFACTURING}, {"steel", ACCT_IND_MANUFACTURING},
    {"motors", ACCT_IND_MANUFACTURING},   {"energy", ACCT_IND_MINING_ENERGY},
    {"oil", ACCT_IND_MINING_ENERGY},      {"mining", ACCT_IND_MINING_ENERGY},
    {"solar", ACCT_IND_MINING_ENERGY},    {"farms", ACCT_IND_AGRICULTURE},
    {"agriculture", ACCT_IND_AGRICULTURE}, {"retail", ACCT_IND_RETAIL},
    {"stores", ACCT_IND_RETAIL},          {"wholesale", ACCT_IND_WHOLESALE},
    {"distributors", ACCT_IND_WHOLESALE}, {"edu", ACCT_IND_EDUCATION},
    {"gov", ACCT_IND_GOVERNMENT},         {"government", ACCT_IND_GOVERNMENT},
};

static bool all_digits(const char *s, size_t lo, size_t hi) {
  size_t n = strlen(s);
  if (n < lo || n > hi) return false;
  for (size_t i = 0; i < n; i++)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

/* The first keyword rule any word of text matches; -1 if none. */
static int keyword_industry(const char *text) {
  if (!text) return -1;
  pv_buf display = PV_BUF_INIT, key = PV_BUF_INIT;
  int found = -1;
  if (norm_name_parse(text, strlen(text), &display, &key, NULL) == 0) {
    char *p = key.data;
    while (*p && found < 0) {
      while (*p && !((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'))) p++;
      char *w = p;
      while ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')) p++;
      size_t n = (size_t)(p - w);
      for (size_t i = 0; n && i < sizeof keyword_rules / sizeof keyword_rules[0]; i++)
        if (strlen(keyword_rules[i].word) == n && memcmp(keyword_rules[i].word, w, n) == 0) {
          found = (int)keyword_rules[i].industry;
          break;
        }
    }
  }
  pv_buf_release(&display);
  pv_buf_release(&key);
  return found;
}

static int rules_classify(const acct_enricher *self, const acct_enrich_in *in, char *industry,
                          size_t cap, pv_error *err) {
  int found = -1;
  if (in->naics_code && all_digits(in->naics_code, 2, 6))
    for (size_t i = 0; found < 0 && i < sizeof naics_rules / sizeof naics_rules[0]; i++)
      if (strncmp(in->naics_code, naics_rules[i].prefix, strlen(naics_rules[i].prefix)) == 0)
        found = (int)naics_rules[i].industry;
  if (found < 0 && in->sic_code && all_digits(in->sic_code, 3, 4)) {
    int sic = atoi(in->sic_code);
    for (size_t i = 0; found < 0 && i < sizeof sic_rules / sizeof sic_rules[0]; i++)
      if (sic >= sic_rules[i].lo && sic <= sic_rules[i].hi) found = (int)sic_rules[i].industry;
  }
  if (found < 0) found = keyword_industry(in->name);
  if (found < 0) found = keyword_industry(in->description);
  if (found < 0 && in->domain) {
    /* domain labels as words: "acme-software.com" → acme, software, com */
    char words[NORM_DOMAIN_MAX + 1];
    snprintf(words, sizeof words, "%s", in->domain);
    for (char *p = words; *p; p++)
      if (*p == '.' || *p == '-') *p = ' ';
    found = keyword_industry(words);
  }
  snprintf(industry, cap, "%s", found >= 0 ? industry_names[found] : "");
  return 0;
}

static const acct_enricher rules_enricher = {"enrichment", rules_classify, NULL};

const acct_enricher *acct_enricher_rules(void) { return &rules_enricher; }

int acct_enrich(const acct_enricher *e, acct_input *in, const char *description, char *buf,
                size_t cap, pv_error *err) {
  if (in->industry) return 0;
  acct_enrich_in q = {in->name, in->domain, description, in->sic_code, in->naics_code};
  int rc = e->classify(e, &q, buf, cap, err);
  if (rc == 0 && buf[0]) {
    in->industry = buf;
    in->industry_source = e->source;
  }
  return rc;
}

/* ---- normalization ---------------------------------------------------- */

typedef struct acct_obs {
  char source[SURV_SOURCE_MAX + 1];
  int32_t priority;
  int64_t observed_at_us;
  surv_field values[ACCT_FIELD_COUNT]; /* set = written (nil = cleared) */
  char name_key[NORM_TEXT_MAX + 1];
  char alts[ACCT_MAX_ALT_DOMAINS][NORM_DOMAIN_MAX + 1];
  size_t alt_count;
  bool alts_set;
  char custom_names[ACCT_MAX_CUSTOM][ACCT_CF_NAME_MAX + 1];
  surv_field custom[ACCT_MAX_CUSTOM];
  size_t custom_count;
} acct_obs;

static void obs_release(acct_obs *o) {
  for (int i = 0; i < ACCT_FIELD_COUNT; i++) surv_field_release(&o->values[i]);
  for (size_t i = 0; i < o->custom_count; i++) surv_field_release(&o->custom[i]);
}

static void obs_str(acct_obs *o, acct_field f, const char *v, const char *source) {
  const char *src = source ? source : o->source;
  int32_t prio = surv_source_priority(src);
  if (v[0]) surv_field_str(&o->values[f], v, src, prio, o->observed_at_us);
  else surv_field_nil(&o->values[f], src, prio, o->observed_at_us);
}

static int obs_text(acct_obs *o, acct_field f, const char *in, const char *json,
                    const char *source, pv_error *err) {
  if (!in) return 0;
  pv_buf display = PV_BUF_INIT, key = PV_BUF_INIT;
  int rc = norm_name_parse(in, strlen(in), &display, &key, err);
  if (rc) snprintf(err->field, sizeof err->field, "%s", json);
  else {
    obs_str(o, f, display.data, source);
    if (f == ACCT_F_NAME) snprintf(o->name_key, sizeof o->name_key, "%s", key.data);
  }
  pv_buf_release(&display);
  pv_buf_release(&key);
  return rc;
}

static int norm_domain_at(const char *in, char out[NORM_DOMAIN_MAX + 1], const char *json,
                          pv_error *err) {
  norm_domain d;
  int rc = norm_domain_parse(in, strlen(in), &d, err);
  if (rc) {
    snprintf(err->field, sizeof err->field, "%s", json);
    return rc;
  }
  snprintf(out, NORM_DOMAIN_MAX + 1, "%s", d.domain);
  return 0;
}

static int acct_normalize(const acct_input *in, acct_obs *o, pv_error *err) {
  memset(o, 0, sizeof *o);
  int rc = surv_source_check(in->source, "/source", err);
  if (rc) return rc;
  if (in->industry_source && (rc = surv_source_check(in->industry_source, "/industry_source", err)))
    return rc;
  if (in->observed_at_us <= 0)
    return pv_error_set(err, PV_EINVAL, "/observed_at",
                        "the time the source observed the values is required");
  snprintf(o->source, sizeof o->source, "%s", in->source);
  o->priority = surv_source_priority(in->source);
  o->observed_at_us = in->observed_at_us;
  if ((rc = obs_text(o, ACCT_F_NAME, in->name, "/name", NULL, err)) ||
      (rc = obs_text(o, ACCT_F_INDUSTRY, in->industry, "/industry", in->industry_source, err)) ||
      (rc = obs_text(o, ACCT_F_COUNTRY, in->country, "/country", NULL, err)))
    return rc;
  if (in->domain) {
    char d[NORM_DOMAIN_MAX + 1] = "";
    if (in->domain[0] && (rc = norm_domain_at(in->domain, d, "/domain", err))) return rc;
    obs_str(o, ACCT_F_DOMAIN, d, NULL);
  }
  if (in->sic_code) {
    if (in->sic_code[0] && !all_digits(in->sic_code, 4, 4))
      return pv_error_set(err, PV_EINVAL, "/sic_code", "a SIC code is 4 digits");
    obs_str(o, ACCT_F_SIC_CODE, in->sic_code, NULL);
  }
  if (in->naics_code) {
    if (in->naics_code[0] && !all_digits(in->naics_code, 2, 6))
      return pv_error_set(err, PV_EINVAL, "/naics_code", "a NAICS code is 2 to 6 digits");
    obs_str(o, ACCT_F_NAICS_CODE, in->naics_code, NULL);
  }
  if (in->parent_id) {
    if (in->parent_id[0] && !entity_id_valid(in->parent_id))
      return pv_error_set(err, PV_EINVAL, "/parent_id", "invalid account id \"%.40s\"",
                          in->parent_id);
    obs_str(o, ACCT_F_PARENT_ID, in->parent_id, NULL);
  }
  if (in->alternate_domains_set) {
    o->alts_set = true;
    if (in->alternate_domain_count > ACCT_MAX_ALT_DOMAINS)
      return pv_error_set(err, PV_EINVAL, "/alternate_domains",
                          "at most %d alternate domains", ACCT_MAX_ALT_DOMAINS);
    for (size_t i = 0; i < in->alternate_domain_count; i++) {
      char json[48];
      snprintf(json, sizeof json, "/alternate_domains/%zu", i);
      if ((rc = norm_domain_at(in->alternate_domains[i] ? in->alternate_domains[i] : "",
                               o->alts[i], json, err)))
        return rc;
      for (size_t j = 0; j < i; j++)
        if (strcmp(o->alts[i], o->alts[j]) == 0)
          return pv_error_set(err, PV_EINVAL, json, "\"%s\" is listed twice", o->alts[i]);
      o->alt_count++;
    }
  }
  if (in->custom_count > ACCT_MAX_CUSTOM)
    return pv_error_set(err, PV_EINVAL, "/custom_fields", "at most %d custom values per write",
                        ACCT_MAX_CUSTOM);
  for (size_t i = 0; i < in->custom_count; i++) {
    const acct_custom_value *v = &in->custom[i];
    size_t k = o->custom_count++;
    snprintf(o->custom_names[k], sizeof o->custom_names[k], "%s", v->name ? v->name : "");
    surv_field *f = &o->custom[k];
    switch (v->type) {
    case SURV_NIL: surv_field_nil(f, o->source, o->priority, o->observed_at_us); break;
    case SURV_STR: surv_field_str(f, v->str ? v->str : "", o->source, o->priority, o->observed_at_us); break;
    case SURV_NUM: surv_field_num(f, v->num, o->source, o->priority, o->observed_at_us); break;
    case SURV_BOOL: surv_field_bool(f, v->b, o->source, o->priority, o->observed_at_us); break;
    }
  }
  return 0;
}

/* ---- decisions -------------------------------------------------------- */

/* A change when the written value differs from the current one (account
 * writes are explicit: the latest write wins, and rewriting a value as it
 * is changes nothing, not even its provenance). */
static void decide_field(const surv_field *cur, const surv_field *in, const char *name,
                         acct_changes *out) {
  if (!in->set) return;
  bool cur_has = cur->set && cur->value.type != SURV_NIL;
  bool in_has = in->value.type != SURV_NIL;
  if (!cur_has && !in_has) return;
  if (cur_has && in_has && surv_value_equal(&cur->value, &in->value)) return;
  surv_field before, after;
  surv_field_copy(&before, cur);
  surv_field_copy(&after, in);
  changes_push(out, name, &before, &after);
}

static void acct_decide(const acct_state *st, const acct_obs *o, acct_changes *out) {
  for (int f = 0; f < ACCT_FIELD_COUNT; f++)
    decide_field(&st->fields[f], &o->values[f], field_names[f], out);
  for (size_t i = 0; i < o->custom_count; i++) {
    char name[SURV_FIELD_NAME_MAX + 1];
    snprintf(name, sizeof name, ACCT_CUSTOM_PREFIX "%s", o->custom_names[i]);
    surv_field none = {0};
    const surv_field *cur = &none;
    for (size_t j = 0; j < st->custom_count; j++)
      if (strcmp(st->custom[j].name, o->custom_names[i]) == 0) cur = &st->custom[j].field;
    decide_field(cur, &o->custom[i], name, out);
  }
  if (o->alts_set) {
    for (size_t i = 0; i < o->alt_count; i++)
      if (!strs_has(st->alt_domains, st->alt_count, o->alts[i]))
        strs_push(&out->alt_added, &out->added_count, o->alts[i]);
    for (size_t i = 0; i < st->alt_count; i++) {
      bool kept = false;
      for (size_t j = 0; j < o->alt_count; j++) kept |= strcmp(o->alts[j], st->alt_domains[i]) == 0;
      if (!kept) strs_push(&out->alt_removed, &out->removed_count, st->alt_domains[i]);
    }
  }
}

/* ---- commands --------------------------------------------------------- */

int acct_load(writer_ctx *ctx, const char *id, acct_state *st, pv_error *err) {
  uint64_t version;
  acct_state_init(st);
  return entity_fold(ctx, "account", id, acct_apply, st, &version, err);
}

int acct_find_live_by_domain(writer_ctx *ctx, const char *domain, char out[ENTITY_ID_LEN + 1],
                             pv_error *err) {
  char owner[ENTITY_ID_LEN + 1];
  out[0] = '\0';
  if (writer_unique_get(ctx, ACCT_DOMAIN_KIND, domain, owner, sizeof owner) != 0) return 0;
  acct_state st;
  int rc = acct_load(ctx, owner, &st, err);
  if (rc == 0 && st.exists && !st.deleted) snprintf(out, ENTITY_ID_LEN + 1, "%s", owner);
  acct_state_release(&st);
  return rc;
}

static const char *str_of(const surv_field *f) {
  return f->set && f->value.type == SURV_STR ? f->value.str : "";
}

/* Refuses a parent that is absent, deleted, self, an own descendant, or
 * deeper than ACCT_MAX_DEPTH. */
static int check_parent(writer_ctx *ctx, const char *self, const char *parent, pv_error *err) {
  char cur[ENTITY_ID_LEN + 1];
  snprintf(cur, sizeof cur, "%s", parent);
  for (int depth = 0; depth < ACCT_MAX_DEPTH; depth++) {
    if (strcmp(cur, self) == 0) {
      pv_error_set(err, PV_EINVAL, "/parent_id", "account %s cannot be its own ancestor", self);
      pv_error_detail(err, "Setting parent %s would make a cycle.", parent);
      return PV_EINVAL;
    }
    acct_state st;
    int rc = acct_load(ctx, cur, &st, err);
    bool live = st.exists && !st.deleted;
    char next[ENTITY_ID_LEN + 1];
    snprintf(next, sizeof next, "%s", str_of(&st.fields[ACCT_F_PARENT_ID]));
    acct_state_release(&st);
    if (rc) return rc;
    if (depth == 0 && !live)
      return pv_error_set(err, PV_ENOTFOUND, "/parent_id", "account %s does not exist", parent);
    if (!next[0]) return 0;
    snprintf(cur, sizeof cur, "%s", next);
  }
  return pv_error_set(err, PV_EINVAL, "/parent_id", "the parent chain is deeper than %d",
                      ACCT_MAX_DEPTH);
}

/* PV_EEXISTS unless domain is free or owned by self. */
static int check_domain_free(writer_ctx *ctx, const char *self, const char *domain,
                             const char *json, pv_error *err) {
  char owner[ENTITY_ID_LEN + 1];
  if (writer_unique_get(ctx, ACCT_DOMAIN_KIND, domain, owner, sizeof owner) != 0) return 0;
  if (strcmp(owner, self) == 0) return 0;
  pv_error_set(err, PV_EEXISTS, json, "domain \"%s\" belongs to account %s", domain, owner);
  acct_state st;
  if (acct_load(ctx, owner, &st, NULL) == 0 && st.deleted) {
    pv_error_detail(err, "That account is deleted; deleted accounts keep their domains.");
    pv_error_hint(err, "Restore account %s, or remove the domain from it.", owner);
  }
  acct_state_release(&st);
  return PV_EEXISTS;
}

static void pack_strs(msgpack_packer *pk, char *const *arr, size_t n) {
  msgpack_pack_array(pk, n);
  for (size_t i = 0; i < n; i++) mp_pack_cstr(pk, arr[i]);
}

static void collect_owned(const char *domain, char *const *alts, size_t alt_count, char ***out,
                          size_t *n) {
  if (domain[0]) strs_push(out, n, domain);
  for (size_t i = 0; i < alt_count; i++)
    if (!strs_has(*out, *n, alts[i])) strs_push(out, n, alts[i]);
}

static void free_strs(char **arr, size_t n) {
  for (size_t i = 0; i < n; i++) free(arr[i]);
  free(arr);
}

enum { WRITE_CREATE, WRITE_UPDATE, WRITE_UPSERT };

static int acct_write(writer_ctx *ctx, acct_write_arg *arg, int mode, pv_error *err) {
  acct_obs *o = pv_xmalloc(sizeof *o);
  acct_state st;
  acct_defs defs = {0};
  acct_changes ch = {0};
  pv_buf payload = PV_BUF_INIT;
  char key[NORM_TEXT_MAX + 16] = "";
  char **old_owned = NULL, **new_owned = NULL, **final_alts = NULL;
  size_t old_n = 0, new_n = 0, final_alt_n = 0;
  acct_state_init(&st);
  arg->out_id[0] = '\0';
  arg->created = false;
  arg->changed_fields = 0;

  int rc = acct_normalize(&arg->in, o, err);
  if (rc) goto out;
  const char *domain = str_of(&o->values[ACCT_F_DOMAIN]);
  if (mode == WRITE_UPSERT) {
    if (!domain[0]) {
      rc = pv_error_set(err, PV_EINVAL, "/domain", "an upsert needs a domain");
      goto out;
    }
    char owner[ENTITY_ID_LEN + 1];
    if (writer_unique_get(ctx, ACCT_DOMAIN_KIND, domain, owner, sizeof owner) == 0) {
      mode = WRITE_UPDATE;
      snprintf(arg->out_id, sizeof arg->out_id, "%s", owner);
    } else {
      mode = WRITE_CREATE;
    }
  } else if (mode == WRITE_UPDATE) {
    if (!entity_id_valid(arg->id)) {
      rc = pv_error_set(err, PV_EINVAL, "/id", "invalid account id \"%.40s\"",
                        arg->id ? arg->id : "");
      goto out;
    }
    snprintf(arg->out_id, sizeof arg->out_id, "%s", arg->id);
  }

  if (mode == WRITE_CREATE) {
    const char *name = str_of(&o->values[ACCT_F_NAME]);
    if (!name[0] && !domain[0]) {
      rc = pv_error_set(err, PV_EINVAL, "/name", "an account needs a name or a domain");
      goto out;
    }
    if (domain[0]) snprintf(key, sizeof key, "domain:%s", domain);
    else snprintf(key, sizeof key, "name:%s", o->name_key);
    if ((rc = entity_new_id(ctx, "account", key, arg->out_id, err))) goto out;
    arg->created = true;
  } else {
    if ((rc = acct_load(ctx, arg->out_id, &st, err))) goto out;
    if (!st.exists || (st.deleted && arg->id)) {
      rc = pv_error_set(err, PV_ENOTFOUND, "/id", "account %s does not exist", arg->out_id);
      if (st.deleted) pv_error_detail(err, "It is deleted; restore it first.");
      goto out;
    }
    if (st.deleted) {
      rc = pv_error_set(err, PV_EEXISTS, "/domain", "domain \"%s\" belongs to deleted account %s",
                        domain, arg->out_id);
      pv_error_hint(err, "Restore the account, or remove the domain from it.");
      goto out;
    }
    /* an upsert that found the account by an alternate domain keeps its
     * primary domain */
    if (!arg->id && strcmp(str_of(&st.fields[ACCT_F_DOMAIN]), domain) != 0)
      surv_field_release(&o->values[ACCT_F_DOMAIN]);
  }

  if (o->custom_count) {
    if ((rc = load_defs(ctx, &defs, err))) goto out;
    for (size_t i = 0; i < o->custom_count; i++) {
      acct_custom_value v = {arg->in.custom[i].name, o->custom[i].value.type,
                             o->custom[i].value.str, o->custom[i].value.num,
                             o->custom[i].value.b};
      if ((rc = acct_custom_check(&defs, &v, err))) goto out;
    }
  }
  const char *parent = str_of(&o->values[ACCT_F_PARENT_ID]);
  if (parent[0] && strcmp(parent, str_of(&st.fields[ACCT_F_PARENT_ID])) != 0 &&
      (rc = check_parent(ctx, arg->out_id, parent, err)))
    goto out;

  acct_decide(&st, o, &ch);

  /* the domains the account will own, and the checks on them */
  const char *final_domain = str_of(&st.fields[ACCT_F_DOMAIN]);
  for (size_t i = 0; i < ch.count; i++)
    if (strcmp(ch.items[i].field, "domain") == 0) final_domain = str_of(&ch.items[i].after);
  if (o->alts_set)
    for (size_t i = 0; i < o->alt_count; i++) strs_push(&final_alts, &final_alt_n, o->alts[i]);
  else
    for (size_t i = 0; i < st.alt_count; i++)
      strs_push(&final_alts, &final_alt_n, st.alt_domains[i]);
  for (size_t i = 0; final_domain[0] && i < final_alt_n; i++)
    if (strcmp(final_alts[i], final_domain) == 0) {
      char json[48] = "/domain";
      if (o->alts_set) snprintf(json, sizeof json, "/alternate_domains/%zu", i);
      rc = pv_error_set(err, PV_EINVAL, json, "\"%s\" is both the domain and an alternate domain",
                        final_domain);
      goto out;
    }
  if (final_domain[0] && (rc = check_domain_free(ctx, arg->out_id, final_domain, "/domain", err)))
    goto out;
  for (size_t i = 0; o->alts_set && i < o->alt_count; i++) {
    char json[48];
    snprintf(json, sizeof json, "/alternate_domains/%zu", i);
    if ((rc = check_domain_free(ctx, arg->out_id, o->alts[i], json, err))) goto out;
  }

  arg->changed_fields = ch.count;
  if (!arg->created && ch.count == 0 && ch.added_count == 0 && ch.removed_count == 0) goto out;

  msgpack_packer pk;
  mp_packer_init(&pk, &payload);
  msgpack_pack_map(&pk, 4 + (arg->created ? 1 : 0) + (ch.added_count ? 1 : 0) +
                            (ch.removed_count ? 1 : 0));
  mp_pack_cstr(&pk, "account_id");
  mp_pack_cstr(&pk, arg->out_id);
  mp_pack_cstr(&pk, "source");
  mp_pack_cstr(&pk, o->source);
  mp_pack_cstr(&pk, "observed_at");
  msgpack_pack_int64(&pk, o->observed_at_us);
  if (arg->created) {
    mp_pack_cstr(&pk, "key");
    mp_pack_cstr(&pk, key);
  }
  mp_pack_cstr(&pk, "changes");
  msgpack_pack_array(&pk, ch.count);
  for (size_t i = 0; i < ch.count; i++)
    surv_pack_change(&pk, ch.items[i].field, &ch.items[i].before, &ch.items[i].after);
  if (ch.added_count) {
    mp_pack_cstr(&pk, "alternate_domains_added");
    pack_strs(&pk, ch.alt_added, ch.added_count);
  }
  if (ch.removed_count) {
    mp_pack_cstr(&pk, "alternate_domains_removed");
    pack_strs(&pk, ch.alt_removed, ch.removed_count);
  }
  char stream[ENTITY_STREAM_MAX + 1];
  entity_stream("account", arg->out_id, stream);
  rc = writer_emit(ctx, stream, LOG_EXPECT_ANY, arg->created ? "account.created" : "account.updated",
                   1, payload.data, payload.len, err);
  if (rc) goto out;

  collect_owned(str_of(&st.fields[ACCT_F_DOMAIN]), st.alt_domains, st.alt_count, &old_owned,
                &old_n);
  collect_owned(final_domain, final_alts, final_alt_n, &new_owned, &new_n);
  for (size_t i = 0; i < old_n && rc == 0; i++)
    if (!strs_has(new_owned, new_n, old_owned[i]))
      rc = writer_unique_del(ctx, ACCT_DOMAIN_KIND, old_owned[i]);
  for (size_t i = 0; i < new_n && rc == 0; i++)
    if (!strs_has(old_owned, old_n, new_owned[i]))
      rc = writer_unique_put(ctx, ACCT_DOMAIN_KIND, new_owned[i], arg->out_id);
  if (rc) pv_error_set(err, rc, "/domain", "domain too long for the index");
out:
  obs_release(o);
  free(o);
  acct_state_release(&st);
  acct_defs_release(&defs);
  changes_release(&ch);
  pv_buf_release(&payload);
  free_strs(old_owned, old_n);
  free_strs(new_owned, new_n);
  free_strs(final_alts, final_alt_n);
  return rc;
}

int acct_create_decide(writer_ctx *ctx, void *arg, pv_error *err) {
  acct_write_arg *a = arg;
  a->id = NULL;
  return acct_write(ctx, a, WRITE_CREATE, err);
}

int acct_update_decide(writer_ctx *ctx, void *arg, pv_error *err) {
  return acct_write(ctx, arg, WRITE_UPDATE, err);
}

int acct_upsert_decide(writer_ctx *ctx, void *arg, pv_error *err) {
  acct_write_arg *a = arg;
  a->id = NULL;
  return acct_write(ctx, a, WRITE_UPSERT, err);
}

static int delete_or_restore(writer_ctx *ctx, acct_id_arg *arg, bool del, pv_error *err) {
  acct_state st;
  arg->changed = false;
  int rc = acct_load(ctx, arg->id, &st, err);
  if (rc) snprintf(err->field, sizeof err->field, "/id");
  else if (!st.exists)
    rc = pv_error_set(err, PV_ENOTFOUND, "/id", "account %s does not exist", arg->id);
  else if (st.deleted != del) {
    pv_buf b = PV_BUF_INIT;
    msgpack_packer pk;
    mp_packer_init(&pk, &b);
    msgpack_pack_map(&pk, 1);
    mp_pack_cstr(&pk, "account_id");
    mp_pack_cstr(&pk, arg->id);
    char stream[ENTITY_STREAM_MAX + 1];
    entity_stream("account", arg->id, stream);
    rc = writer_emit(ctx, stream, LOG_EXPECT_ANY, del ? "account.deleted" : "account.restored", 1,
                     b.data, b.len, err);
    arg->changed = rc == 0;
    pv_buf_release(&b);
  }
  acct_state_release(&st);
  return rc;
}

int acct_delete_decide(writer_ctx *ctx, void *arg, pv_error *err) {
  return delete_or_restore(ctx, arg, true, err);
}

int acct_restore_decide(writer_ctx *ctx, void *arg, pv_error *err) {
  return delete_or_restore(ctx, arg, false, err);
}

static bool valid_cf_name(const char *s) {
  size_t n = s ? strlen(s) : 0;
  if (n == 0 || n > ACCT_CF_NAME_MAX || s[0] < 'a' || s[0] > 'z') return false;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
      return false;
  return true;
}

int acct_define_field_decide(writer_ctx *ctx, void *argp, pv_error *err) {
  acct_field_def_arg *arg = argp;
  acct_defs defs = {0};
  pv_buf b = PV_BUF_INIT;
  int rc = 0;
  if (!valid_cf_name(arg->name)) {
    rc = pv_error_set(err, PV_EINVAL, "/name", "invalid custom field name \"%.48s\"",
                      arg->name ? arg->name : "");
    pv_error_hint(err, "Start with a letter; use a-z, 0-9 and '_', at most %d bytes.",
                  ACCT_CF_NAME_MAX);
    goto out;
  }
  if ((unsigned)arg->type >= ACCT_CF_TYPE_COUNT) {
    rc = pv_error_set(err, PV_EINVAL, "/type", "unknown custom field type");
    goto out;
  }
  bool select = arg->type == ACCT_CF_SELECT;
  if (select != (arg->option_count > 0) || arg->option_count > ACCT_CF_MAX_OPTIONS) {
    rc = pv_error_set(err, PV_EINVAL, "/options",
                      select ? "a select needs 1 to %d options" : "only a select has options",
                      ACCT_CF_MAX_OPTIONS);
    goto out;
  }
  for (size_t i = 0; i < arg->option_count; i++) {
    const char *opt = arg->options[i];
    bool bad = !opt || !opt[0] || strlen(opt) > ACCT_CF_TEXT_MAX;
    for (size_t j = 0; !bad && j < i; j++) bad = strcmp(arg->options[j], opt) == 0;
    if (bad) {
      char json[32];
      snprintf(json, sizeof json, "/options/%zu", i);
      rc = pv_error_set(err, PV_EINVAL, json, "options must be non-empty and distinct");
      goto out;
    }
  }
  if ((rc = load_defs(ctx, &defs, err))) goto out;
  const acct_cf_def *old = acct_defs_find(&defs, arg->name);
  if (old) {
    bool same = old->type == arg->type && old->option_count == arg->option_count;
    for (size_t i = 0; same && i < arg->option_count; i++)
      same = strcmp(old->options[i], arg->options[i]) == 0;
    if (!same) {
      rc = pv_error_set(err, PV_EEXISTS, "/name", "custom field %s is already defined as %s",
                        arg->name, cf_type_names[old->type]);
    }
    goto out;
  }
  msgpack_packer pk;
  mp_packer_init(&pk, &b);
  msgpack_pack_map(&pk, 3 + (select ? 1 : 0));
  mp_pack_cstr(&pk, "entity");
  mp_pack_cstr(&pk, "account");
  mp_pack_cstr(&pk, "name");
  mp_pack_cstr(&pk, arg->name);
  mp_pack_cstr(&pk, "type");
  mp_pack_cstr(&pk, cf_type_names[arg->type]);
  if (select) {
    mp_pack_cstr(&pk, "options");
    msgpack_pack_array(&pk, arg->option_count);
    for (size_t i = 0; i < arg->option_count; i++) mp_pack_cstr(&pk, arg->options[i]);
  }
  rc = writer_emit(ctx, ACCT_DEFS_STREAM, LOG_EXPECT_ANY, "custom_field.defined", 1, b.data, b.len,
                   err);
out:
  acct_defs_release(&defs);
  pv_buf_release(&b);
  return rc;
}
