/*
 * ds_service — the domain-set worker thread (see ds_service.h): the
 * per-tenant candidate indexes and contact tables folded from the log, and
 * the upload, re-run, expansion and conversion jobs.
 */
#include "core/domainsets/ds_service.h"

#include "core/accounts.h"
#include "core/common/pv_time.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX
/* Tenants with an index in memory: arbitrary; an install serves a handful
 * (the log is per tenant when it grows, architecture.md). */
#define DS_MAX_TENANTS 64
/* Events per catch-up scan (log_scan's bounds): as the projections. */
#define DS_SCAN_EVENTS 10000
#define DS_SCAN_BYTES (8u << 20)

typedef struct ds_contact {
  char id[ENTITY_ID_LEN + 1];
  uint32_t acct;
  uint8_t seniority, department;
  bool live;
  char *title_key;
  char *registrable;
} ds_contact;

typedef struct ds_tenant {
  char name[EVT_MAX_TENANT + 1];
  ds_index *ix;
  ds_contact *contacts;
  size_t ncontacts, contact_cap;
  uint32_t *contact_slots; /* contact + 1; 0 empty */
  size_t contact_slot_cap;
} ds_tenant;

struct ds_service {
  log_t *log;
  writer_t *writer;
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  ds_job *head, *tail;
  bool stopping;
  uint64_t folded; /* last log position folded into the tenants */
  ds_tenant tenants[DS_MAX_TENANTS];
  size_t ntenants;
};

/* ---- tenants and contacts ------------------------------------------------ */

static ds_tenant *tenant_get(ds_service *s, const char *name, size_t len) {
  for (size_t i = 0; i < s->ntenants; i++)
    if (strlen(s->tenants[i].name) == len && memcmp(s->tenants[i].name, name, len) == 0)
      return &s->tenants[i];
  if (s->ntenants == DS_MAX_TENANTS || len > EVT_MAX_TENANT) return NULL;
  ds_tenant *t = &s->tenants[s->ntenants++];
  memset(t, 0, sizeof *t);
  memcpy(t->name, name, len);
  t->name[len] = 0;
  t->ix = ds_index_new();
  return t;
}

static uint64_t hash_id(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
  return h;
}

static void contacts_rehash(ds_tenant *t) {
  size_t cap = t->contact_slot_cap ? t->contact_slot_cap * 2 : 1024;
  uint32_t *slots = pv_xcalloc(cap, sizeof *slots);
  for (size_t i = 0; i < t->ncontacts; i++) {
    size_t j = hash_id(t->contacts[i].id) & (cap - 1);
    while (slots[j]) j = (j + 1) & (cap - 1);
    slots[j] = (uint32_t)i + 1;
  }
  free(t->contact_slots);
  t->contact_slots = slots;
  t->contact_slot_cap = cap;
}

static ds_contact *contact_get(ds_tenant *t, const char *id) {
  if ((t->ncontacts + 1) * 10 > t->contact_slot_cap * 7) contacts_rehash(t);
  size_t j = hash_id(id) & (t->contact_slot_cap - 1);
  while (t->contact_slots[j]) {
    ds_contact *c = &t->contacts[t->contact_slots[j] - 1];
    if (strcmp(c->id, id) == 0) return c;
    j = (j + 1) & (t->contact_slot_cap - 1);
  }
  if (t->ncontacts == t->contact_cap) {
    t->contact_cap = t->contact_cap ? t->contact_cap * 2 : 256;
    t->contacts = pv_xrealloc(t->contacts, t->contact_cap * sizeof *t->contacts);
  }
  ds_contact *c = &t->contacts[t->ncontacts];
  memset(c, 0, sizeof *c);
  snprintf(c->id, sizeof c->id, "%s", id);
  c->acct = NONE;
  c->live = true;
  c->title_key = pv_xstrdup("");
  c->registrable = pv_xstrdup("");
  t->contact_slots[j] = (uint32_t)++t->ncontacts;
  return c;
}

static void tenant_release(ds_tenant *t) {
  ds_index_free(t->ix);
  for (size_t i = 0; i < t->ncontacts; i++) {
    free(t->contacts[i].title_key);
    free(t->contacts[i].registrable);
  }
  free(t->contacts);
  free(t->contact_slots);
}

/* ---- folding account and contact events ---------------------------------- */

static bool slice_is(mp_slice s, const char *want) { return mp_slice_eq(s, want); }

static int read_str(const void *map, size_t len, const char *key, char *out, size_t cap) {
  mp_reader r;
  mp_value v;
  out[0] = 0;
  if (mp_map_find(map, len, key, &r) || mp_read(&r, &v)) return -1;
  if (v.type != MP_STR) return 1; /* nil: unset */
  size_t n = v.v.s.len < cap - 1 ? v.v.s.len : cap - 1;
  memcpy(out, v.v.s.ptr, n);
  out[n] = 0;
  return 0;
}

static void domain_label(const char *domain, char *label, size_t cap) {
  norm_domain nd;
  pv_error e = PV_ERROR_INIT;
  label[0] = 0;
  if (norm_domain_parse(domain, strlen(domain), &nd, &e) == 0)
    ds_label_of(nd.registrable, label, cap);
}

static void name_key(const char *name, char *out, size_t cap) {
  pv_buf display = PV_BUF_INIT, key = PV_BUF_INIT;
  pv_error e = PV_ERROR_INIT;
  out[0] = 0;
  if (norm_name_parse(name, strlen(name), &display, &key, &e) == 0)
    snprintf(out, cap, "%s", key.data);
  pv_buf_release(&display);
  pv_buf_release(&key);
}

typedef struct fold_ctx {
  ds_tenant *t;
  uint32_t acct;       /* account events */
  ds_contact *contact; /* contact events */
} fold_ctx;

static int account_change(void *arg, const void *m, size_t len) {
  fold_ctx *f = arg;
  char field[32], oldv[NORM_DOMAIN_MAX + 1], newv[NORM_TEXT_MAX + 1];
  if (read_str(m, len, "field", field, sizeof field)) return 0;
  int has_old = read_str(m, len, "old", oldv, sizeof oldv) == 0;
  int has_new = read_str(m, len, "new", newv, sizeof newv) == 0;
  if (strcmp(field, "name") == 0) {
    char key[NORM_TEXT_MAX + 1];
    name_key(has_new ? newv : "", key, sizeof key);
    ds_index_set_name(f->t->ix, f->acct, key);
  } else if (strcmp(field, "domain") == 0) {
    if (has_old) ds_index_remove_domain(f->t->ix, f->acct, oldv);
    if (has_new) {
      char label[64];
      domain_label(newv, label, sizeof label);
      ds_index_add_domain(f->t->ix, f->acct, newv, label, true);
    }
  }
  return 0;
}

static int contact_change(void *arg, const void *m, size_t len) {
  fold_ctx *f = arg;
  ds_contact *c = f->contact;
  char field[32], v[NORM_TEXT_MAX + 1];
  if (read_str(m, len, "field", field, sizeof field)) return 0;
  bool has = read_str(m, len, "new", v, sizeof v) == 0;
  if (strcmp(field, "account_id") == 0) {
    uint32_t acct = has ? ds_index_account(f->t->ix, v) : NONE;
    if (c->live && c->acct != NONE) ds_index_contacts_add(f->t->ix, c->acct, -1);
    c->acct = acct;
    if (c->live && c->acct != NONE) ds_index_contacts_add(f->t->ix, c->acct, 1);
  } else if (strcmp(field, "title") == 0) {
    char key[NORM_TEXT_MAX + 1];
    name_key(has ? v : "", key, sizeof key);
    free(c->title_key);
    c->title_key = pv_xstrdup(key);
  } else if (strcmp(field, "seniority") == 0) {
    c->seniority = NORM_SENIORITY_UNKNOWN;
#define DS__XX(name, str)                                                                      \
  if (has && strcmp(v, str) == 0) c->seniority = NORM_SENIORITY_##name;
    NORM_SENIORITY_MAP(DS__XX)
#undef DS__XX
  } else if (strcmp(field, "department") == 0) {
    c->department = NORM_DEPARTMENT_UNKNOWN;
#define DS__XX(name, str)                                                                      \
  if (has && strcmp(v, str) == 0) c->department = NORM_DEPARTMENT_##name;
    NORM_DEPARTMENT_MAP(DS__XX)
#undef DS__XX
  } else if (strcmp(field, "email") == 0) {
    norm_email ne;
    pv_error e = PV_ERROR_INIT;
    free(c->registrable);
    c->registrable = pv_xstrdup(has && norm_email_parse(v, strlen(v), &ne, &e) == 0
                                    ? ne.registrable
                                    : "");
  }
  return 0;
}

static int each_in(const void *payload, size_t len, const char *key,
                   int (*fn)(void *, const void *, size_t), void *arg) {
  mp_reader r;
  uint32_t count;
  if (mp_map_find(payload, len, key, &r) || mp_read_array(&r, &count)) return 0;
  for (uint32_t i = 0; i < count; i++) {
    const uint8_t *start = r.p;
    if (mp_skip(&r, 1)) return PV_ECORRUPT;
    fn(arg, start, (size_t)(r.p - start));
  }
  return 0;
}

static int alt_domain(fold_ctx *f, const void *payload, size_t len, const char *key, bool add) {
  mp_reader r;
  uint32_t count;
  if (mp_map_find(payload, len, key, &r) || mp_read_array(&r, &count)) return 0;
  for (uint32_t i = 0; i < count; i++) {
    mp_slice s;
    if (mp_read_str(&r, &s)) return PV_ECORRUPT;
    char d[NORM_DOMAIN_MAX + 1];
    size_t n = s.len < sizeof d - 1 ? s.len : sizeof d - 1;
    memcpy(d, s.ptr, n);
    d[n] = 0;
    if (add) {
      char label[64];
      domain_label(d, label, sizeof label);
      ds_index_add_domain(f->t->ix, f->acct, d, label, false);
    } else {
      ds_index_remove_domain(f->t->ix, f->acct, d);
    }
  }
  return 0;
}

static void contact_set_live(ds_tenant *t, ds_contact *c, bool live) {
  if (c->live == live) return;
  c->live = live;
  if (c->acct != NONE) ds_index_contacts_add(t->ix, c->acct, live ? 1 : -1);
}

static int fold_visit(void *arg, const evt_envelope *e, const uint8_t *raw, size_t raw_len) {
  (void)raw;
  (void)raw_len;
  ds_service *s = arg;
  s->folded = e->position;
  mp_slice type = e->type;
  bool account = type.len > 8 && memcmp(type.ptr, "account.", 8) == 0;
  bool contact = type.len > 8 && memcmp(type.ptr, "contact.", 8) == 0;
  if (!account && !contact) return 0;
  ds_tenant *t = tenant_get(s, e->tenant.ptr, e->tenant.len);
  if (!t) return 0;
  char id[ENTITY_ID_LEN + 1];
  fold_ctx f = {t, NONE, NULL};
  if (account) {
    if (read_str(e->payload, e->payload_len, "account_id", id, sizeof id)) return 0;
    f.acct = ds_index_account(t->ix, id);
    if (slice_is(type, "account.created") || slice_is(type, "account.updated")) {
      each_in(e->payload, e->payload_len, "changes", account_change, &f);
      alt_domain(&f, e->payload, e->payload_len, "alternate_domains_added", true);
      alt_domain(&f, e->payload, e->payload_len, "alternate_domains_removed", false);
    } else if (slice_is(type, "account.deleted")) {
      ds_index_set_live(t->ix, f.acct, false);
    } else if (slice_is(type, "account.restored")) {
      ds_index_set_live(t->ix, f.acct, true);
    }
    return 0;
  }
  if (read_str(e->payload, e->payload_len, "contact_id", id, sizeof id)) return 0;
  f.contact = contact_get(t, id);
  if (slice_is(type, "contact.created") || slice_is(type, "contact.updated") ||
      slice_is(type, "contact.merged") || slice_is(type, "contact.merge_undone")) {
    each_in(e->payload, e->payload_len, "changes", contact_change, &f);
  } else if (slice_is(type, "contact.deleted") || slice_is(type, "contact.merged_into")) {
    contact_set_live(t, f.contact, false);
  } else if (slice_is(type, "contact.restored") || slice_is(type, "contact.unmerged")) {
    contact_set_live(t, f.contact, true);
  }
  return 0;
}

/* Folds the log up to its head; compacts an index whose chains passed a
 * quarter of its postings (arbitrary: chains cost a cache miss a hop). */
static int catch_up(ds_service *s, pv_error *err) {
  uint64_t head = log_head(s->log);
  while (s->folded < head) {
    uint64_t from = s->folded + 1, next;
    int rc = log_scan(s->log, from, DS_SCAN_EVENTS, DS_SCAN_BYTES, fold_visit, s, &next);
    if (rc) return pv_error_set(err, rc, NULL, "could not read the log");
    if (next <= from) break; /* nothing visited: the head moved back? never */
    s->folded = next - 1;
  }
  for (size_t i = 0; i < s->ntenants; i++) {
    ds_index_stats st;
    ds_index_get_stats(s->tenants[i].ix, &st);
    if (ds_index_uncompacted(s->tenants[i].ix) * 4 > st.postings) ds_index_compact(s->tenants[i].ix);
  }
  return 0;
}

/* ---- exact lookups through the log --------------------------------------- */

typedef struct exact_ctx {
  log_t *log;
  const char *tenant;
  const ds_index *ix;
} exact_ctx;

static uint32_t exact_by_log(void *arg, const char *domain) {
  exact_ctx *x = arg;
  log_reader *rd;
  if (log_read_begin(x->log, &rd)) return NONE;
  char id[ENTITY_ID_LEN + 8];
  int rc = log_reader_unique_get(rd, x->tenant, "account_domain", domain, id, sizeof id);
  log_read_end(rd);
  return rc == 0 ? ds_index_find_account(x->ix, id) : NONE;
}

/* ---- jobs ----------------------------------------------------------------- */

static void match_all(ds_service *s, ds_tenant *t, ds_items *items) {
  exact_ctx x = {s->log, t->name, t->ix};
  void *args[DS_MATCH_THREADS];
  for (unsigned i = 0; i < DS_MATCH_THREADS; i++) args[i] = &x;
  ds_items_match(items, t->ix, DS_MATCH_THREADS, exact_by_log, args);
}

static int run_cmd(ds_service *s, ds_job *job, writer_decide_fn decide, void *arg,
                   uint64_t *position) {
  writer_cmd cmd;
  memset(&cmd, 0, sizeof cmd);
  cmd.tenant = job->tenant;
  cmd.actor = job->actor;
  cmd.correlation_id = job->correlation;
  cmd.decide = decide;
  cmd.arg = arg;
  int rc = writer_run(s->writer, &cmd);
  if (rc) {
    if (cmd.status) job->error = cmd.error;
    else pv_error_set(&job->error, rc, NULL, NULL);
    return rc;
  }
  if (position && cmd.first_position) *position = cmd.first_position + cmd.event_count - 1;
  return 0;
}

/* Stub accounts for the unknown, valid, included items, one command each
 * (a domain taken meanwhile fails alone). Returns how many were made. */
static size_t make_stubs(ds_service *s, ds_job *job, ds_items *items, ds_stub **out) {
  ds_stub *stubs = NULL;
  size_t n = 0, cap = 0;
  for (size_t i = 0; i < items->n; i++) {
    ds_item *x = &items->v[i];
    if (!x->valid || x->excluded || x->match != DS_MATCH_NONE) continue;
    acct_write_arg a;
    memset(&a, 0, sizeof a);
    a.in.name = x->account_name[0] ? x->account_name : x->registrable;
    a.in.domain = x->registrable;
    a.in.source = "domain_set_stub";
    a.in.observed_at_us = pv_wall_us();
    pv_error saved = job->error;
    if (run_cmd(s, job, acct_create_decide, &a, NULL) == 0) {
      if (n == cap) {
        cap = cap ? cap * 2 : 16;
        stubs = pv_xrealloc(stubs, cap * sizeof *stubs);
      }
      stubs[n].n = x->n;
      snprintf(stubs[n].account_id, sizeof stubs[n].account_id, "%s", a.out_id);
      n++;
    }
    job->error = saved;
  }
  *out = stubs;
  return n;
}

/* Matches (with stubs when asked), then records: the upload's created and
 * item events or a re-run's processing_started, the matches, processed. */
static int match_and_record(ds_service *s, ds_job *job, ds_tenant *t, ds_items *items,
                            const ds_upload_meta *meta, uint64_t run) {
  match_all(s, t, items);
  ds_stub *stubs = NULL;
  size_t nstubs = 0;
  int rc = 0;
  if (job->create_stubs) {
    nstubs = make_stubs(s, job, items, &stubs);
    if (nstubs) {
      if ((rc = catch_up(s, &job->error))) goto out;
      match_all(s, t, items);
    }
  }
  ds_items_report(items, &job->report);
  size_t n;
  ds_prepared *ev = ds_prepare_run(meta, items, run, &job->report, s->folded, stubs, nstubs, &n);
  ds_emit_arg arg = {job->set_id, meta != NULL, run, ev, n};
  rc = run_cmd(s, job, ds_emit_decide, &arg, &job->position);
  ds_prepared_free(ev, n);
  job->run = run;
  snprintf(job->set_status, sizeof job->set_status, "completed");
out:
  free(stubs);
  return rc;
}

static int job_upload(ds_service *s, ds_job *job, ds_tenant *t) {
  ds_items items;
  ds_items_init(&items);
  ds_upload *u = ds_upload_new(job->format, &items);
  int rc = ds_upload_feed(u, job->file.data, job->file.len, &job->error);
  if (rc == 0) rc = ds_upload_finish(u, &job->error);
  ds_upload_free(u);
  if (rc == 0 && items.rows == 0) {
    rc = pv_error_set(&job->error, PV_EINVAL, NULL, "the file has no rows");
    pv_error_hint(&job->error, "Send one domain a line, or CSV with the columns domain, "
                               "account_name and notes.");
  }
  if (rc == 0) {
    ds_set_new_id(job->set_id);
    snprintf(job->out_id, sizeof job->out_id, "%s", job->set_id);
    ds_upload_meta meta = {job->set_id,
                           job->name,
                           job->file_name[0] ? job->file_name : NULL,
                           job->format == DS_FORMAT_CSV ? "csv" : "txt",
                           job->client_id[0] ? job->client_id : NULL,
                           job->file.len};
    rc = match_and_record(s, job, t, &items, &meta, 1);
  }
  ds_items_release(&items);
  return rc;
}

/* Reads the job's set (and items); answers not found for another client's. */
static int read_set(ds_service *s, ds_job *job, ds_set_state *st, ds_items *items) {
  int rc = ds_set_read(s->log, job->tenant, job->set_id, st, items);
  if (rc == PV_EINVAL || (rc == 0 && !st->exists) ||
      (rc == 0 && job->client_id[0] && strcmp(st->client_id, job->client_id) != 0))
    return pv_error_set(&job->error, PV_ENOTFOUND, NULL, "no such domain set");
  if (rc) return pv_error_set(&job->error, rc, NULL, "could not read the domain set");
  return 0;
}

static int job_process(ds_service *s, ds_job *job, ds_tenant *t) {
  ds_set_state st;
  ds_items items;
  ds_set_state_init(&st);
  ds_items_init(&items);
  int rc = read_set(s, job, &st, &items);
  if (rc == 0 && st.archived)
    rc = pv_error_set(&job->error, PV_ECONFLICT, NULL, "the domain set is archived");
  if (rc == 0) {
    items.rows = 0;
    for (size_t i = 0; i < items.n; i++) {
      items.rows += items.v[i].dup_count;
      items.duplicates += items.v[i].dup_count - 1;
    }
    rc = match_and_record(s, job, t, &items, NULL, st.run + 1);
  }
  ds_items_release(&items);
  ds_set_state_release(&st);
  return rc;
}

typedef struct id_set {
  char **v;
  size_t n, cap;
} id_set;

static int cmp_cstr(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_id(const void *a, const void *b) { return strcmp(a, b); }

static bool in_sorted(char **v, size_t n, const char *key) {
  return n && bsearch(&key, v, n, sizeof *v, cmp_cstr) != NULL;
}

/* The expansion: contacts of the matched accounts and orphans by the
 * items' registrable domains, filtered; ids sorted. */
static int expand(ds_service *s, ds_job *job, ds_tenant *t, char (**ids)[48], size_t *count) {
  ds_set_state st;
  ds_items items;
  ds_set_state_init(&st);
  ds_items_init(&items);
  int rc = read_set(s, job, &st, &items);
  if (rc) goto out;
  size_t nacct = ds_index_account_count(t->ix);
  uint8_t *matched = pv_xcalloc(nacct ? nacct : 1, 1);
  char **domains = pv_xmalloc((items.n ? items.n : 1) * sizeof *domains);
  size_t ndomains = 0;
  for (size_t i = 0; i < items.n; i++) {
    ds_item *x = &items.v[i];
    if (x->excluded || !x->valid) continue;
    domains[ndomains++] = x->registrable;
    if (x->match == DS_MATCH_NONE) continue;
    uint32_t a = ds_index_find_account(t->ix, x->account_id);
    if (a != NONE && !matched[a]) {
      matched[a] = 1;
      job->accounts++;
    }
  }
  qsort(domains, ndomains, sizeof *domains, cmp_cstr);
  pv_buf title = PV_BUF_INIT, display = PV_BUF_INIT;
  pv_error e = PV_ERROR_INIT;
  if (job->title[0]) norm_name_parse(job->title, strlen(job->title), &display, &title, &e);
  char(*out)[48] = NULL;
  size_t n = 0, cap = 0;
  for (size_t i = 0; i < t->ncontacts; i++) {
    ds_contact *c = &t->contacts[i];
    if (!c->live) continue;
    bool by_account = c->acct != NONE && c->acct < nacct && matched[c->acct];
    bool orphan = !by_account && c->acct == NONE && job->include_orphans && c->registrable[0] &&
                  in_sorted(domains, ndomains, c->registrable);
    if (!by_account && !orphan) continue;
    if (job->seniority_mask && !(job->seniority_mask & (1u << c->seniority))) continue;
    if (job->department_mask && !(job->department_mask & (1u << c->department))) continue;
    if (title.len && !strstr(c->title_key, title.data)) continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 256;
      out = pv_xrealloc(out, cap * sizeof *out);
    }
    snprintf(out[n++], 48, "%s", c->id);
    if (by_account) job->from_accounts++;
    else job->orphans++;
  }
  qsort(out, n, sizeof *out, cmp_id);
  job->contacts = n;
  job->sample_count = n < DS_EXPAND_SAMPLE ? n : DS_EXPAND_SAMPLE;
  for (size_t i = 0; i < job->sample_count; i++) snprintf(job->sample[i], 48, "%s", out[i]);
  *ids = out;
  *count = n;
  pv_buf_release(&title);
  pv_buf_release(&display);
  free(domains);
  free(matched);
out:
  ds_items_release(&items);
  ds_set_state_release(&st);
  return rc;
}

static int job_convert(ds_service *s, ds_job *job, ds_tenant *t) {
  char(*ids)[48] = NULL;
  size_t n = 0;
  int rc = expand(s, job, t, &ids, &n);
  if (rc == 0) {
    const char *sen[16], *dep[16];
    size_t nsen = 0, ndep = 0;
    for (unsigned b = 0; b < 16; b++) {
      if (job->seniority_mask & (1u << b)) sen[nsen++] = norm_seniority_name((norm_seniority)b);
      if (job->department_mask & (1u << b)) dep[ndep++] = norm_department_name((norm_department)b);
    }
    ds_set_new_id(job->out_id);
    ds_list_arg a = {job->out_id, job->list_name, job->set_id, job->title[0] ? job->title : NULL,
                     sen, nsen, dep, ndep, job->include_orphans, ids, n, s->folded};
    rc = run_cmd(s, job, ds_list_decide, &a, &job->position);
  }
  free(ids);
  return rc;
}

static void run_job(ds_service *s, ds_job *job) {
  memset(&job->error, 0, sizeof job->error);
  int rc = catch_up(s, &job->error);
  ds_tenant *t = NULL;
  if (rc == 0 && !(t = tenant_get(s, job->tenant, strlen(job->tenant))))
    rc = pv_error_set(&job->error, PV_EUNAVAILABLE, NULL, "too many tenants for domain sets");
  if (rc == 0) {
    switch (job->kind) {
    case DS_JOB_UPLOAD: rc = job_upload(s, job, t); break;
    case DS_JOB_PROCESS: rc = job_process(s, job, t); break;
    case DS_JOB_EXPAND: {
      char(*ids)[48] = NULL;
      size_t n = 0;
      rc = expand(s, job, t, &ids, &n);
      free(ids);
      break;
    }
    case DS_JOB_CONVERT: rc = job_convert(s, job, t); break;
    }
  }
  job->status = rc;
  if (rc && job->error.code == 0) pv_error_set(&job->error, rc, NULL, NULL);
}

static void *worker(void *arg) {
  ds_service *s = arg;
  pthread_mutex_lock(&s->lock);
  for (;;) {
    while (!s->head && !s->stopping) pthread_cond_wait(&s->cond, &s->lock);
    ds_job *job = s->head;
    if (!job) break; /* stopping with nothing queued */
    s->head = job->next_;
    if (!s->head) s->tail = NULL;
    pthread_mutex_unlock(&s->lock);
    run_job(s, job);
    job->done(job);
    pthread_mutex_lock(&s->lock);
  }
  pthread_mutex_unlock(&s->lock);
  return NULL;
}

int ds_service_start(ds_service **out, log_t *log, writer_t *writer, pv_error *err) {
  ds_service *s = pv_xcalloc(1, sizeof *s);
  s->log = log;
  s->writer = writer;
  pthread_mutex_init(&s->lock, NULL);
  pthread_cond_init(&s->cond, NULL);
  if (pthread_create(&s->thread, NULL, worker, s) != 0) {
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
    free(s);
    return pv_error_set(err, PV_EINTERNAL, NULL, "could not start the domain-set worker");
  }
  *out = s;
  return 0;
}

void ds_service_stop(ds_service *s) {
  if (!s) return;
  pthread_mutex_lock(&s->lock);
  s->stopping = true;
  pthread_cond_signal(&s->cond);
  pthread_mutex_unlock(&s->lock);
  pthread_join(s->thread, NULL);
  for (size_t i = 0; i < s->ntenants; i++) tenant_release(&s->tenants[i]);
  pthread_mutex_destroy(&s->lock);
  pthread_cond_destroy(&s->cond);
  free(s);
}

int ds_service_submit(ds_service *s, ds_job *job) {
  pthread_mutex_lock(&s->lock);
  if (s->stopping) {
    pthread_mutex_unlock(&s->lock);
    return PV_ESHUTDOWN;
  }
  job->next_ = NULL;
  if (s->tail) s->tail->next_ = job;
  else s->head = job;
  s->tail = job;
  pthread_cond_signal(&s->cond);
  pthread_mutex_unlock(&s->lock);
  return 0;
}
