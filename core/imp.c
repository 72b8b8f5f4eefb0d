/* imp — see imp.h. */
#include "core/imp.h"

#include "core/suppressions.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <utf8proc.h>

static const char *const target_names[] = {
#define IMP__XX(name, str) str,
    IMP_TARGET_MAP(IMP__XX)
#undef IMP__XX
};

static const char *const status_names[] = {
#define IMP__XX(name, str) str,
    IMP_STATUS_MAP(IMP__XX)
#undef IMP__XX
};

const char *imp_target_name(imp_target t) {
  return t >= 0 && t < IMP_TARGET_COUNT ? target_names[t] : "ignore";
}

const char *imp_status_name(imp_status s) {
  return s < IMP_STATUS_COUNT ? status_names[s] : "?";
}

int imp_target_by_name(const char *name) {
  if (strcasecmp(name, "ignore") == 0) return IMP_IGNORE;
  for (int i = 0; i < IMP_TARGET_COUNT; i++)
    if (strcasecmp(name, target_names[i]) == 0) return i;
  return -2;
}

/* Header aliases, compared with case, spaces, '-', '_' and '.' removed:
 * the names HubSpot, Salesforce, Apollo and LinkedIn exports use. */
static const struct {
  const char *alias;
  imp_target target;
} aliases[] = {
    {"email", IMP_T_EMAIL},          {"emailaddress", IMP_T_EMAIL},
    {"mail", IMP_T_EMAIL},           {"workemail", IMP_T_EMAIL},
    {"businessemail", IMP_T_EMAIL},  {"firstname", IMP_T_FIRST_NAME},
    {"first", IMP_T_FIRST_NAME},     {"givenname", IMP_T_FIRST_NAME},
    {"forename", IMP_T_FIRST_NAME},  {"lastname", IMP_T_LAST_NAME},
    {"last", IMP_T_LAST_NAME},       {"surname", IMP_T_LAST_NAME},
    {"familyname", IMP_T_LAST_NAME}, {"title", IMP_T_TITLE},
    {"jobtitle", IMP_T_TITLE},       {"position", IMP_T_TITLE},
    {"phone", IMP_T_PHONE},          {"phonenumber", IMP_T_PHONE},
    {"telephone", IMP_T_PHONE},      {"tel", IMP_T_PHONE},
    {"mobile", IMP_T_PHONE},         {"mobilephone", IMP_T_PHONE},
    {"workphone", IMP_T_PHONE},      {"directdial", IMP_T_PHONE},
    {"country", IMP_T_COUNTRY},      {"countrycode", IMP_T_COUNTRY},
    {"city", IMP_T_CITY},            {"town", IMP_T_CITY},
    {"linkedin", IMP_T_LINKEDIN_URL}, {"linkedinurl", IMP_T_LINKEDIN_URL},
    {"linkedinprofile", IMP_T_LINKEDIN_URL}, {"company", IMP_T_COMPANY},
    {"companyname", IMP_T_COMPANY},  {"organization", IMP_T_COMPANY},
    {"organisation", IMP_T_COMPANY}, {"accountname", IMP_T_COMPANY},
    {"website", IMP_T_DOMAIN},       {"domain", IMP_T_DOMAIN},
    {"companydomain", IMP_T_DOMAIN}, {"companywebsite", IMP_T_DOMAIN},
    {"url", IMP_T_DOMAIN},           {"web", IMP_T_DOMAIN},
    {"externalid", IMP_T_EXTERNAL_ID}, {"recordid", IMP_T_EXTERNAL_ID},
};

imp_target imp_target_by_header(const char *header) {
  char key[IMP_HEADER_MAX + 1];
  size_t n = 0;
  for (const char *p = header; *p && n < IMP_HEADER_MAX; p++) {
    if (*p == ' ' || *p == '-' || *p == '_' || *p == '.') continue;
    key[n++] = (char)tolower((unsigned char)*p);
  }
  key[n] = '\0';
  for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
    if (strcmp(key, aliases[i].alias) == 0) return aliases[i].target;
  return IMP_IGNORE;
}

int imp_map_build(imp_map *m, const char *const *headers, size_t n, const imp_override *ov,
                  size_t ov_count, pv_error *err) {
  memset(m, 0, sizeof *m);
  if (n > IMP_MAX_COLUMNS)
    return pv_error_set(err, PV_EINVAL, NULL, "the file has %zu columns, more than %d", n,
                        IMP_MAX_COLUMNS);
  bool claimed[IMP_TARGET_COUNT] = {false};
  bool decided[IMP_MAX_COLUMNS] = {false};
  m->columns = n;
  for (size_t i = 0; i < n; i++) {
    const char *h = headers[i] ? headers[i] : "";
    if (i == 0 && (unsigned char)h[0] == 0xEF && (unsigned char)h[1] == 0xBB &&
        (unsigned char)h[2] == 0xBF)
      h += 3; /* a BOM the reader left */
    snprintf(m->header[i], sizeof m->header[i], "%s", h);
    m->target[i] = IMP_IGNORE;
  }
  for (size_t k = 0; k < ov_count; k++) {
    int t = imp_target_by_name(ov[k].target);
    size_t col = n;
    for (size_t i = 0; i < n && col == n; i++)
      if (strcasecmp(m->header[i], ov[k].column) == 0) col = i;
    if (col == n || t == -2) {
      pv_error_set(err, PV_EINVAL, NULL,
                   col == n ? "the mapping names column \"%.128s\", which the file does not have"
                            : "the mapping sends column \"%.128s\" to an unknown field",
                   ov[k].column);
      snprintf(err->field, sizeof err->field, "/mapping/%.100s", ov[k].column);
      if (t == -2) pv_error_hint(err, "Fields: email, first_name, last_name, title, phone, "
                                      "country, city, linkedin_url, company, domain, "
                                      "external_id, or ignore.");
      return PV_EINVAL;
    }
    decided[col] = true;
    m->target[col] = (imp_target)t;
    if (t >= 0) claimed[t] = true;
  }
  for (size_t i = 0; i < n; i++) {
    if (decided[i]) continue;
    imp_target t = imp_target_by_header(m->header[i]);
    if (t >= 0 && !claimed[t]) {
      m->target[i] = t;
      claimed[t] = true;
    } else {
      m->unknown_count++;
    }
  }
  if (!claimed[IMP_T_EMAIL] && !claimed[IMP_T_EXTERNAL_ID] && !claimed[IMP_T_PHONE]) {
    pv_error_set(err, PV_EINVAL, "/mapping", "no column identifies a contact");
    pv_error_detail(err, "A contact is found by its email, external id or phone.");
    pv_error_hint(err, "Name a column \"Email\", or map one: {\"mapping\": {\"Mail\": \"email\"}}.");
    return PV_EINVAL;
  }
  return 0;
}

/* ---- rows ---------------------------------------------------------------- */

void imp_row_init(imp_row *r) {
  memset(r, 0, sizeof *r);
  pv_buf_init(&r->cells, 256);
}

void imp_row_release(imp_row *r) {
  contact_upsert_release(&r->contact);
  pv_buf_release(&r->cells);
}

static bool utf8_ok(const char *s, size_t len) {
  utf8proc_ssize_t i = 0;
  while ((size_t)i < len) {
    utf8proc_int32_t cp;
    utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)s + i,
                                          (utf8proc_ssize_t)len - i, &cp);
    if (n <= 0) return false;
    i += n;
  }
  return true;
}

static const char *cell(const imp_row *r, imp_target t) {
  return r->has[t] ? r->cells.data + r->off[t] : NULL;
}

int imp_row_prepare(imp_row *r, const imp_map *m, const imp_opts *o, uint64_t row,
                    const char *const *cells, const size_t *lens, size_t n, pv_error *err) {
  contact_upsert_release(&r->contact);
  pv_buf_reset(&r->cells);
  memset(r->has, 0, sizeof r->has);
  memset(&r->contact, 0, sizeof r->contact);
  memset(&r->account, 0, sizeof r->account);
  r->has_account = false;
  r->suppressed = false;
  r->row = row;
  snprintf(r->idem_contact, sizeof r->idem_contact, "imp:%s:%010llu", o->import_id,
           (unsigned long long)row);
  snprintf(r->idem_account, sizeof r->idem_account, "imp:%s:%010llu:a", o->import_id,
           (unsigned long long)row);
  for (size_t i = 0; i < n && i < m->columns; i++) {
    imp_target t = m->target[i];
    if (t < 0 || !cells[i] || lens[i] == 0) continue;
    if (!utf8_ok(cells[i], lens[i])) {
      pv_error_set(err, PV_EINVAL, NULL, "column \"%.100s\" is not valid UTF-8", m->header[i]);
      snprintf(err->field, sizeof err->field, "/%s", imp_target_name(t));
      pv_error_hint(err, "Save the file as UTF-8 (with or without a BOM).");
      return PV_EINVAL;
    }
    r->off[t] = r->cells.len;
    r->has[t] = true;
    pv_buf_add(&r->cells, cells[i], lens[i]);
    pv_buf_add(&r->cells, "", 1);
  }
  contact_input *in = &r->contact.in;
  const char *source = o->source && *o->source ? o->source : "import";
  in->email = cell(r, IMP_T_EMAIL);
  in->first_name = cell(r, IMP_T_FIRST_NAME);
  in->last_name = cell(r, IMP_T_LAST_NAME);
  in->title = cell(r, IMP_T_TITLE);
  in->phone = cell(r, IMP_T_PHONE);
  in->country = cell(r, IMP_T_COUNTRY);
  in->city = cell(r, IMP_T_CITY);
  in->linkedin_url = cell(r, IMP_T_LINKEDIN_URL);
  if (r->has[IMP_T_EXTERNAL_ID]) {
    r->ext.source = source;
    r->ext.id = cell(r, IMP_T_EXTERNAL_ID);
    in->ext_ids = &r->ext;
    in->ext_id_count = 1;
  }
  in->source = source;
  in->observed_at_us = o->observed_at_us;
  if (!in->email && !in->ext_id_count && !in->phone)
    return pv_error_set(err, PV_ENOTFOUND, "/email", "the row has no email, external id or phone");
  int rc = contact_upsert_prepare(&r->contact, err);
  if (rc) return rc;
  if (r->has[IMP_T_DOMAIN]) {
    norm_domain d;
    const char *dom = cell(r, IMP_T_DOMAIN);
    if (norm_domain_parse(dom, strlen(dom), &d, err)) {
      snprintf(err->field, sizeof err->field, "/domain");
      return PV_EINVAL;
    }
    snprintf(r->account_domain, sizeof r->account_domain, "%s", d.domain);
    acct_input *a = &r->account.in;
    a->domain = dom;
    a->name = cell(r, IMP_T_COMPANY);
    a->source = source;
    a->observed_at_us = o->observed_at_us;
    r->has_account = true;
  }
  return 0;
}

int imp_row_decide(writer_ctx *ctx, void *arg, pv_error *err) {
  imp_row *r = arg;
  const contact_obs *obs = &r->contact.obs;
  supp_result res;
  r->suppressed = false;
  if (r->contact.prepared && obs->has_email) {
    int rc = supp_check_w(ctx, NULL, SUPP_CHANNEL_EMAIL, obs->email.address, &res);
    if (rc) return pv_error_set(err, rc, NULL, "could not read the suppressions");
    if (res.status == SUPP_SUPPRESSED) {
      r->suppressed = true;
      snprintf(r->supp_channel, sizeof r->supp_channel, "%s", SUPP_CHANNEL_EMAIL);
      return 0;
    }
  }
  if (r->contact.prepared && obs->phone_e164[0]) {
    int rc = supp_check_w(ctx, NULL, SUPP_CHANNEL_PHONE, obs->phone_e164, &res);
    if (rc) return pv_error_set(err, rc, NULL, "could not read the suppressions");
    if (res.status == SUPP_SUPPRESSED) {
      r->suppressed = true;
      snprintf(r->supp_channel, sizeof r->supp_channel, "%s", SUPP_CHANNEL_PHONE);
      return 0;
    }
  }
  return contact_upsert_decide(ctx, &r->contact, err);
}

/* ---- duplicates ----------------------------------------------------------- */

typedef struct seen_slot {
  uint64_t h1, h2, row; /* row 0 = empty */
} seen_slot;

struct imp_seen {
  seen_slot *slots;
  size_t cap, count;
};

/* 2^16 slots to start, doubled at half full (open addressing). */
#define IMP_SEEN_INITIAL 65536

imp_seen *imp_seen_new(void) {
  imp_seen *s = pv_xcalloc(1, sizeof *s);
  s->cap = IMP_SEEN_INITIAL;
  s->slots = pv_xcalloc(s->cap, sizeof *s->slots);
  return s;
}

void imp_seen_free(imp_seen *s) {
  if (!s) return;
  free(s->slots);
  free(s);
}

static seen_slot *seen_find(imp_seen *s, uint64_t h1, uint64_t h2) {
  for (size_t i = h1 & (s->cap - 1);; i = (i + 1) & (s->cap - 1))
    if (!s->slots[i].row || (s->slots[i].h1 == h1 && s->slots[i].h2 == h2)) return &s->slots[i];
}

static void seen_grow(imp_seen *s) {
  imp_seen bigger = {pv_xcalloc(s->cap * 2, sizeof(seen_slot)), s->cap * 2, 0};
  for (size_t i = 0; i < s->cap; i++)
    if (s->slots[i].row) *seen_find(&bigger, s->slots[i].h1, s->slots[i].h2) = s->slots[i];
  free(s->slots);
  s->slots = bigger.slots;
  s->cap = bigger.cap;
}

/* 128 bits of BLAKE2b: no two identifiers of a file collide in practice. */
static void seen_hash(const char *kind, const char *value, uint64_t *h1, uint64_t *h2) {
  uint8_t out[16];
  crypto_generichash_state st;
  crypto_generichash_init(&st, NULL, 0, sizeof out);
  crypto_generichash_update(&st, (const uint8_t *)kind, strlen(kind) + 1);
  crypto_generichash_update(&st, (const uint8_t *)value, strlen(value));
  crypto_generichash_final(&st, out, sizeof out);
  memcpy(h1, out, 8);
  memcpy(h2, out + 8, 8);
}

uint64_t imp_seen_check(imp_seen *s, const imp_row *r) {
  const contact_obs *obs = &r->contact.obs;
  uint64_t hs[1 + CONTACT_MAX_EXT_IDS][2];
  size_t n = 0;
  if (obs->has_email) seen_hash("email", obs->email.address, &hs[n][0], &hs[n][1]), n++;
  for (size_t i = 0; i < obs->ext_count; i++)
    seen_hash("ext", obs->ext_keys[i], &hs[n][0], &hs[n][1]), n++;
  for (size_t i = 0; i < n; i++) {
    seen_slot *sl = seen_find(s, hs[i][0], hs[i][1]);
    if (sl->row) return sl->row;
  }
  for (size_t i = 0; i < n; i++) {
    if (s->count * 2 >= s->cap) seen_grow(s);
    seen_slot *sl = seen_find(s, hs[i][0], hs[i][1]);
    *sl = (seen_slot){hs[i][0], hs[i][1], r->row};
    s->count++;
  }
  return 0;
}

bool imp_seen_account(imp_seen *s, const imp_row *r) {
  if (!r->has_account) return false;
  pv_buf v = PV_BUF_INIT;
  const char *company = r->account.in.name ? r->account.in.name : "";
  pv_buf_addf(&v, "%s%c%s", r->account_domain, 0, company);
  uint8_t out[16];
  crypto_generichash(out, sizeof out, (const uint8_t *)v.data, v.len, NULL, 0);
  pv_buf_release(&v);
  uint64_t h1, h2;
  memcpy(&h1, out, 8);
  memcpy(&h2, out + 8, 8);
  h1 ^= 0x6163636f756e74ull; /* "account": apart from the identifier keys */
  seen_slot *sl = seen_find(s, h1, h2);
  if (sl->row) return true;
  if (s->count * 2 >= s->cap) {
    seen_grow(s);
    sl = seen_find(s, h1, h2);
  }
  *sl = (seen_slot){h1, h2, r->row};
  s->count++;
  return false;
}

/* ---- outcomes ------------------------------------------------------------- */

void imp_outcome_init(imp_outcome *o, uint64_t row) {
  memset(o, 0, sizeof *o);
  o->row = row;
  o->status = IMP_S_UNCHANGED;
}

static void add_field(imp_outcome *o, mp_slice name) {
  size_t len = strlen(o->fields);
  if (len + name.len + 2 > sizeof o->fields) return;
  if (len) o->fields[len++] = ' ';
  memcpy(o->fields + len, name.ptr, name.len);
  o->fields[len + name.len] = '\0';
}

/* The field names of a payload's "changes" array. */
static void read_change_fields(imp_outcome *o, const uint8_t *p, size_t len) {
  mp_reader r;
  uint32_t n;
  if (mp_map_find(p, len, "changes", &r) || mp_read_array(&r, &n)) return;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t m;
    if (mp_read_map(&r, &m)) return;
    for (uint32_t k = 0; k < m; k++) {
      mp_slice key, v;
      if (mp_read_str(&r, &key)) return;
      if (mp_slice_eq(key, "field")) {
        if (mp_read_str(&r, &v)) return;
        add_field(o, v);
      } else if (mp_skip(&r, 1)) {
        return;
      }
    }
  }
}

int imp_outcome_event(void *arg, const evt_envelope *e, const uint8_t *raw, size_t raw_len) {
  (void)raw;
  (void)raw_len;
  imp_outcome *o = arg;
  if (mp_slice_eq(e->type, "account.created")) snprintf(o->account, sizeof o->account, "created");
  else if (mp_slice_eq(e->type, "account.updated"))
    snprintf(o->account, sizeof o->account, "updated");
  else if (mp_slice_eq(e->type, "contact.created") || mp_slice_eq(e->type, "contact.updated")) {
    o->status = mp_slice_eq(e->type, "contact.created") ? IMP_S_CREATED : IMP_S_UPDATED;
    size_t n = e->stream.len > 8 ? e->stream.len - 8 : 0; /* "contact-" */
    if (n == ENTITY_ID_LEN) {
      memcpy(o->contact_id, e->stream.ptr + 8, n);
      o->contact_id[n] = '\0';
    }
    read_change_fields(o, e->payload, e->payload_len);
  }
  return 0;
}

void imp_outcome_error(imp_outcome *o, imp_status s, const pv_error *err) {
  o->status = s;
  snprintf(o->field, sizeof o->field, "%s", err ? err->field : "");
  snprintf(o->reason, sizeof o->reason, "%s", err ? err->message : "");
}

void imp_csv_cell(pv_buf *out, const char *s) {
  bool inject = s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' ||
                s[0] == '\r';
  bool quote = inject || strpbrk(s, ",\"\r\n") != NULL;
  if (!quote) {
    pv_buf_add(out, s, strlen(s));
    return;
  }
  pv_buf_add(out, "\"", 1);
  if (inject) pv_buf_add(out, "'", 1);
  for (const char *p = s; *p; p++) {
    if (*p == '"') pv_buf_add(out, "\"", 1);
    pv_buf_add(out, p, 1);
  }
  pv_buf_add(out, "\"", 1);
}

void imp_report_header(pv_buf *out) {
  pv_buf_addf(out, "row,status,contact_id,fields,account,field,reason\r\n");
}

void imp_report_line(pv_buf *out, const imp_outcome *o) {
  pv_buf_addf(out, "%llu,%s,", (unsigned long long)o->row, imp_status_name(o->status));
  imp_csv_cell(out, o->contact_id);
  pv_buf_add(out, ",", 1);
  imp_csv_cell(out, o->fields);
  pv_buf_add(out, ",", 1);
  imp_csv_cell(out, o->account);
  pv_buf_add(out, ",", 1);
  imp_csv_cell(out, o->field);
  pv_buf_add(out, ",", 1);
  imp_csv_cell(out, o->reason);
  pv_buf_add(out, "\r\n", 2);
}
