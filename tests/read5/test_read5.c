/*
 * The read side of accounts and contacts end to end (issue 5 §4, §6):
 * fixtures through the write side's decide commands, the projection engine
 * folding them into PostgreSQL, and the query routes over loopback HTTP.
 * Provenance per field, the audit trail, timelines, rollups through a
 * 3-level hierarchy with re-parenting and merges, tenant isolation, keyset
 * pages under concurrent inserts, the sort whitelist, injection attempts,
 * search ranking, a 20k-row export parsed back, and rebuilt read models
 * equal to the live ones row for row.
 */
#include "tests/read5/read5_util.h"

#include "tests/pg/pg_testdb.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char *jstr(const cJSON *j, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double jnum(const cJSON *j, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
  if (!cJSON_IsNumber(v)) test__fail(__FILE__, __LINE__, "%s is not a number", key);
  return v->valuedouble;
}

static cJSON *items(cJSON *page) {
  cJSON *it = cJSON_GetObjectItemCaseSensitive(page, "items");
  if (!cJSON_IsArray(it)) test__fail(__FILE__, __LINE__, "no items");
  return it;
}

/* GET that must answer 200 with JSON. */
static cJSON *get_ok(r5 *x, const char *token, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static cJSON *get_ok(r5 *x, const char *token, const char *fmt, ...) {
  char path[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(path, sizeof path, fmt, ap);
  va_end(ap);
  cJSON *j = NULL;
  int status = r5_get(x, path, token, &j);
  if (status != 200 || !j) {
    char *s = j ? cJSON_PrintUnformatted(j) : NULL;
    test__fail(__FILE__, __LINE__, "GET %s: %d %s", path, status, s ? s : "");
  }
  return j;
}

/* The counts of an account as the API shows them. */
static void assert_counts(r5 *x, const char *id, int direct, int rollup, int line) {
  cJSON *a = get_ok(x, x->tok_agent, "/api/accounts/%s", id);
  int d = (int)jnum(a, "contact_count"), r = (int)jnum(a, "rollup_contact_count");
  cJSON_Delete(a);
  if (d != direct || r != rollup)
    test__fail(__FILE__, line, "account %s: counts %d/%d, want %d/%d", id, d, r, direct, rollup);
}
#define COUNTS(id, d, r) assert_counts(&x, id, d, r, __LINE__)

/* The rows of every read-model table as text, for comparing. */
static char *snapshot(const char *url) {
  static const char *const tables[] = {
      "rm_accounts.accounts", "rm_accounts.contact_links", "rm_contacts.contacts",
      "rm_field_changes.events", "rm_timeline.entries"};
  pg_conn *c = NULL;
  pv_error err = PV_ERROR_INIT;
  ASSERT_OK(pg_connect(&c, url, &err));
  pv_buf out = PV_BUF_INIT;
  for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*), coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '') FROM %s t",
             tables[i]);
    PGresult *res = NULL;
    ASSERT_OK(pg_exec(c, sql, 0, NULL, &res, &err));
    pv_buf_addf(&out, "%s %s\n%s\n", tables[i], PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
    PQclear(res);
  }
  pg_conn_free(c);
  return pv_buf_detach(&out, NULL);
}

static void rebuild_all(r5 *x) {
  pg_conn *c = NULL;
  pv_error err = PV_ERROR_INIT;
  ASSERT_OK(pg_connect(&c, x->pg.db, &err));
  for (size_t i = 0; r5_projections[i]; i++) {
    int rc = proj_rebuild(x->pg.t.log, c, proj_find(r5_projections[i]), NULL, NULL, NULL, &err);
    if (rc) test__fail(__FILE__, __LINE__, "rebuild %s: %s %s", r5_projections[i], err.message,
                       err.detail);
  }
  pg_conn_free(c);
}

/* ---- fixtures, provenance, audit, timeline, rollups --------------------- */

/* A contact.updated naming a field the catalogue marks secret elsewhere
 * (no contact field is secret today; the read side must hold anyway). */
static int decide_secret_change(writer_ctx *ctx, void *arg, pv_error *err) {
  const char *id = arg;
  char stream[48];
  snprintf(stream, sizeof stream, "contact-%s", id);
  pv_buf payload = PV_BUF_INIT;
  msgpack_packer pk;
  mp_packer_init(&pk, &payload);
  msgpack_pack_map(&pk, 4);
  mp_pack_cstr(&pk, "contact_id");
  mp_pack_cstr(&pk, id);
  mp_pack_cstr(&pk, "source");
  mp_pack_cstr(&pk, "manual");
  mp_pack_cstr(&pk, "observed_at");
  msgpack_pack_int64(&pk, 1700000001000000);
  mp_pack_cstr(&pk, "changes");
  msgpack_pack_array(&pk, 1);
  surv_field before = {0}, after = {0};
  surv_field_str(&after, "$argon2id$secret", "manual", 100, 1700000001000000);
  surv_pack_change(&pk, "password_hash", &before, &after);
  surv_field_release(&after);
  int rc = writer_emit(ctx, stream, LOG_EXPECT_ANY, "contact.updated", 1, payload.data,
                       payload.len, err);
  pv_buf_release(&payload);
  return rc;
}

static void test_fixtures_through_the_read_side(void) {
  r5 x;
  r5_start(&x);
  char g[33], p[33], ch[33], jane[33], bob[33], ann[33], zed[33];
  r5_account(&x, "Globex Holding", "globex.com", NULL, g);
  r5_account(&x, "Parent Co", "https://www.parent-co.com/about", g, p);
  r5_account(&x, "Child Ltd", "child.io", p, ch);
  /* messy emails: case and spaces; linked by their domain */
  r5_contact(&x, NULL, "  Jane.Doe@CHILD.io ", "Jane", "Doe", NULL, "import",
             1700000000000000, jane);
  r5_contact(&x, NULL, "bob@child.io", "Bob", "Stone", "VP of Sales", "crm", 1700000000000000,
             bob);
  r5_contact(&x, NULL, "ann@parent-co.com", "Ann", "Lee", NULL, "form", 1700000000000000, ann);
  r5_contact(&x, NULL, "zed@elsewhere.org", "Zed", NULL, NULL, "form", 1700000000000000, zed);
  /* conflicting sources: enrichment (30) loses to import (60); crm (80) wins */
  r5_contact(&x, NULL, "jane.doe@child.io", "Janet", NULL, NULL, "enrichment",
             1700000000500000, NULL);
  r5_contact(&x, NULL, "jane.doe@child.io", "Jane-Marie", NULL, "Head of Engineering", "crm",
             1700000000600000, NULL);
  r5_note(&x, "contact-" "x", "ignored: another contact");
  char subject[48];
  snprintf(subject, sizeof subject, "contact-%s", jane);
  r5_note(&x, subject, "Met at the fair");
  r5_sync(&x);

  /* provenance per field */
  cJSON *c = get_ok(&x, x.tok_agent, "/api/contacts/%s", jane);
  ASSERT_STR_EQ(jstr(c, "email"), "jane.doe@child.io");
  ASSERT_STR_EQ(jstr(c, "first_name"), "Jane-Marie");
  ASSERT_STR_EQ(jstr(c, "account_id"), ch);
  cJSON *prov = cJSON_GetObjectItemCaseSensitive(c, "provenance");
  cJSON *fp = cJSON_GetObjectItemCaseSensitive(prov, "first_name");
  ASSERT_STR_EQ(jstr(fp, "source"), "crm");
  ASSERT_EQ(jnum(fp, "priority"), 80);
  ASSERT_STR_EQ(jstr(fp, "observed_at"), "2023-11-14T22:13:20.600000Z");
  ASSERT_STR_EQ(jstr(cJSON_GetObjectItemCaseSensitive(prov, "last_name"), "source"), "import");
  ASSERT_STR_EQ(jstr(cJSON_GetObjectItemCaseSensitive(prov, "account_id"), "source"),
                "domain_match");
  ASSERT(jstr(c, "seniority") != NULL);
  cJSON_Delete(c);

  /* the audit trail: each change with old, new, source and actor */
  cJSON *au = get_ok(&x, x.tok_agent, "/api/contacts/%s/audit?field=first_name", jane);
  cJSON *rows = items(au);
  ASSERT_EQ(cJSON_GetArraySize(rows), 2);
  cJSON *r0 = cJSON_GetArrayItem(rows, 0), *r1 = cJSON_GetArrayItem(rows, 1);
  ASSERT(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(r0, "old")));
  ASSERT_STR_EQ(jstr(r0, "new"), "Jane");
  ASSERT_STR_EQ(jstr(r0, "source"), "import");
  ASSERT_STR_EQ(jstr(r1, "old"), "Jane");
  ASSERT_STR_EQ(jstr(r1, "new"), "Jane-Marie");
  ASSERT_STR_EQ(jstr(r1, "source"), "crm");
  ASSERT_STR_EQ(jstr(r1, "actor"), "user:tester");
  cJSON_Delete(au);
  /* per actor: admin and data_ops only */
  ASSERT_EQ(r5_get(&x, "/api/audit?actor=user:tester", x.tok_agent, NULL), 403);
  ASSERT_EQ(r5_get(&x, "/api/audit", x.tok_admin, NULL), 400);
  au = get_ok(&x, x.tok_data_ops, "/api/audit?actor=user%%3Atester&entity=account&limit=1000");
  if (cJSON_GetArraySize(items(au)) < 7) /* 3 accounts: names, domains, parents */
    test__fail(__FILE__, __LINE__, "%s", cJSON_PrintUnformatted(au));
  cJSON_Delete(au);

  /* the timeline, newest first: the note, two updates, created */
  cJSON *tl = get_ok(&x, x.tok_agent, "/api/contacts/%s/timeline", jane);
  rows = items(tl);
  ASSERT_EQ(cJSON_GetArraySize(rows), 4);
  ASSERT_STR_EQ(jstr(cJSON_GetArrayItem(rows, 0), "kind"), "note");
  ASSERT_STR_EQ(jstr(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(rows, 0), "detail"),
                     "text"), "Met at the fair");
  ASSERT_STR_EQ(jstr(cJSON_GetArrayItem(rows, 1), "kind"), "updated");
  ASSERT_STR_EQ(jstr(cJSON_GetArrayItem(rows, 3), "kind"), "created");
  cJSON_Delete(tl);

  /* a secret-named field is redacted in the record and in the audit trail */
  ASSERT_OK(r5_run(&x, NULL, decide_secret_change, jane, NULL));
  r5_sync(&x);
  c = get_ok(&x, x.tok_admin, "/api/contacts/%s", jane);
  ASSERT_STR_EQ(jstr(c, "password_hash"), "[redacted]");
  cJSON_Delete(c);
  au = get_ok(&x, x.tok_admin, "/api/contacts/%s/audit?field=password_hash", jane);
  ASSERT_EQ(cJSON_GetArraySize(items(au)), 1);
  ASSERT_STR_EQ(jstr(cJSON_GetArrayItem(items(au), 0), "new"), "[redacted]");
  cJSON_Delete(au);

  /* rollups: G <- P <- C; jane and bob on C, ann on P */
  COUNTS(ch, 2, 2);
  COUNTS(p, 1, 3);
  COUNTS(g, 0, 3);
  cJSON *kids = get_ok(&x, x.tok_agent, "/api/accounts/%s/children", g);
  ASSERT_EQ(cJSON_GetArraySize(items(kids)), 1);
  ASSERT_STR_EQ(jstr(cJSON_GetArrayItem(items(kids), 0), "id"), p);
  cJSON_Delete(kids);

  /* delete and restore move the counts */
  contact_id_arg del = {.id = bob};
  ASSERT_OK(r5_run(&x, NULL, contact_delete_decide, &del, NULL));
  r5_sync(&x);
  COUNTS(ch, 1, 1);
  COUNTS(g, 0, 2);
  ASSERT_EQ(r5_get(&x, "/api/contacts?deleted=true", x.tok_agent, NULL), 200);
  contact_id_arg res = {.id = bob};
  ASSERT_OK(r5_run(&x, NULL, contact_restore_decide, &res, NULL));

  /* merge bob (C) into ann (P): bob stops counting; unmerge puts it back */
  contact_merge_arg m = {.winner_id = ann, .loser_id = bob};
  ASSERT_OK(r5_run(&x, NULL, contact_merge_decide, &m, NULL));
  r5_sync(&x);
  COUNTS(ch, 1, 1);
  COUNTS(p, 1, 2);
  COUNTS(g, 0, 2);
  cJSON *loser = get_ok(&x, x.tok_agent, "/api/contacts/%s", bob);
  ASSERT_STR_EQ(jstr(loser, "merged_into"), ann);
  cJSON_Delete(loser);
  cJSON *winner = get_ok(&x, x.tok_agent, "/api/contacts/%s", ann);
  ASSERT_EQ(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(winner, "emails")), 2);
  cJSON_Delete(winner);
  cJSON *list = get_ok(&x, x.tok_agent, "/api/contacts?email=bob%%40child.io");
  ASSERT_EQ(cJSON_GetArraySize(items(list)), 1); /* the winner, through its identifiers */
  ASSERT_STR_EQ(jstr(cJSON_GetArrayItem(items(list), 0), "id"), ann);
  cJSON_Delete(list);
  tl = get_ok(&x, x.tok_agent, "/api/contacts/%s/timeline?kind=merged_into", bob);
  ASSERT_EQ(cJSON_GetArraySize(items(tl)), 1);
  cJSON_Delete(tl);
  ASSERT_OK(r5_run(&x, NULL, contact_unmerge_decide, &m, NULL));
  r5_sync(&x);
  COUNTS(ch, 2, 2);
  COUNTS(p, 1, 3);
  COUNTS(g, 0, 3);

  /* re-parenting moves the subtree's count: C under G, then on its own */
  r5_reparent(&x, ch, g);
  r5_sync(&x);
  COUNTS(p, 1, 1);
  COUNTS(g, 0, 3);
  COUNTS(ch, 2, 2);
  r5_reparent(&x, ch, "");
  r5_sync(&x);
  COUNTS(g, 0, 1);
  COUNTS(ch, 2, 2);
  r5_reparent(&x, ch, p);
  r5_sync(&x);
  COUNTS(g, 0, 3);

  /* accounts: provenance, the domain filter through alternate and primary */
  cJSON *acc = get_ok(&x, x.tok_agent, "/api/accounts/%s", p);
  ASSERT_STR_EQ(jstr(acc, "domain"), "parent-co.com");
  ASSERT_STR_EQ(jstr(cJSON_GetObjectItemCaseSensitive(
                         cJSON_GetObjectItemCaseSensitive(acc, "provenance"), "name"), "source"),
                "manual");
  cJSON_Delete(acc);
  list = get_ok(&x, x.tok_agent, "/api/accounts?domain=PARENT-CO.COM");
  ASSERT_EQ(cJSON_GetArraySize(items(list)), 1);
  cJSON_Delete(list);
  list = get_ok(&x, x.tok_agent, "/api/accounts?sort=-contact_count&limit=1");
  ASSERT_STR_EQ(jstr(cJSON_GetArrayItem(items(list), 0), "id"), ch);
  cJSON_Delete(list);
  tl = get_ok(&x, x.tok_agent, "/api/accounts/%s/timeline", ch);
  ASSERT_EQ(cJSON_GetArraySize(items(tl)), 4); /* created, 3 updates */
  cJSON_Delete(tl);
  au = get_ok(&x, x.tok_agent, "/api/accounts/%s/audit?field=parent_id", ch);
  ASSERT_EQ(cJSON_GetArraySize(items(au)), 4);
  cJSON_Delete(au);

  /* a foreign tenant's contact answers exactly like a missing one */
  char foreign[33];
  r5_contact(&x, "other", "spy@child.io", "Spy", NULL, NULL, "crm", 1700000000000000, foreign);
  r5_sync(&x);
  test_response a, b;
  char p1[128], p2[128];
  snprintf(p1, sizeof p1, "/api/contacts/%s", foreign);
  snprintf(p2, sizeof p2, "/api/contacts/%s", "0123456789abcdef0123456789abcdef");
  ASSERT_EQ(apit_req(&x.pg.t, "GET", p1, x.tok_admin, "X-Request-Id: same\r\n", NULL, &a), 404);
  ASSERT_EQ(apit_req(&x.pg.t, "GET", p2, x.tok_admin, "X-Request-Id: same\r\n", NULL, &b), 404);
  ASSERT_EQ(a.body.len, b.body.len);
  ASSERT_MEM_EQ(a.body.data, b.body.data, a.body.len);
  test_response_release(&a);
  test_response_release(&b);
  snprintf(p1, sizeof p1, "/api/contacts/%s/audit", foreign);
  ASSERT_EQ(r5_get(&x, p1, x.tok_admin, NULL), 404);
  /* client users never read the base */
  ASSERT_EQ(r5_get(&x, "/api/contacts", x.tok_client, NULL), 403);
  ASSERT_EQ(r5_get(&x, "/api/search?q=jane", x.tok_client, NULL), 403);
  ASSERT_EQ(r5_get(&x, "/api/contacts/export", x.tok_agent, NULL), 403);

  /* a rebuilt read model equals the live one, row for row */
  char *live = snapshot(x.pg.db);
  ASSERT(strstr(live, "argon2id$secret") == NULL); /* nowhere in the read models */
  rebuild_all(&x);
  char *rebuilt = snapshot(x.pg.db);
  ASSERT_STR_EQ(rebuilt, live);
  free(live);
  free(rebuilt);
  /* and the engine goes on folding into the swapped schemas */
  r5_contact(&x, NULL, "late@child.io", "Late", NULL, NULL, "crm", 1700000000000000, NULL);
  r5_sync(&x);
  COUNTS(ch, 3, 3);
  COUNTS(g, 0, 4);
  r5_stop(&x);
}

/* ---- keyset pages, sort whitelist, injection ------------------------------ */

typedef struct idset {
  char (*ids)[33];
  int *seen;
  size_t n;
} idset;

static int idset_find(const idset *s, const char *id) {
  for (size_t i = 0; i < s->n; i++)
    if (strcmp(s->ids[i], id) == 0) return (int)i;
  return -1;
}

/* Walks every page of path (which has a query string) and counts each
 * initial id; inserts a contact between pages. No id may come twice. */
static void walk(r5 *x, const char *path, idset *s, int *inserted) {
  for (size_t i = 0; i < s->n; i++) s->seen[i] = 0;
  pv_buf cursor = PV_BUF_INIT;
  char **extra = NULL;
  size_t n_extra = 0;
  for (int page = 0;; page++) {
    pv_buf url = PV_BUF_INIT;
    pv_buf_addstr(&url, path);
    if (cursor.len) pv_buf_addf(&url, "&cursor=%s", cursor.data);
    cJSON *j = get_ok(x, x->tok_agent, "%s", url.data);
    pv_buf_release(&url);
    cJSON *it;
    cJSON_ArrayForEach(it, items(j)) {
      const char *id = jstr(it, "id");
      int k = idset_find(s, id);
      if (k >= 0) {
        s->seen[k]++;
        continue;
      }
      for (size_t e = 0; e < n_extra; e++)
        if (strcmp(extra[e], id) == 0) test__fail(__FILE__, __LINE__, "%s twice", id);
      extra = realloc(extra, (n_extra + 1) * sizeof *extra);
      extra[n_extra++] = strdup(id);
    }
    const char *next = jstr(j, "next_cursor");
    pv_buf_reset(&cursor);
    if (next) pv_buf_addstr(&cursor, next);
    cJSON_Delete(j);
    if (!next) break;
    /* a concurrent insert: new rows may show or not, old rows exactly once */
    char email[64];
    snprintf(email, sizeof email, "new%d@inserted.org", (*inserted)++);
    r5_contact(x, NULL, email, "New", "Row", NULL, "form", 1700000000000000, NULL);
    if (page % 3 == 0) r5_sync(x);
  }
  for (size_t i = 0; i < s->n; i++)
    if (s->seen[i] != 1) test__fail(__FILE__, __LINE__, "%s seen %d times", s->ids[i], s->seen[i]);
  for (size_t e = 0; e < n_extra; e++) free(extra[e]);
  free(extra);
  pv_buf_release(&cursor);
}

static const char *odd_first(size_t i) {
  static const char *const names[] = {"Zoe", "adam", "Émile", "o'Brien", "Ng", "ÅSA", "bea"};
  return names[i % 7];
}

static void test_keyset_pages_sorts_and_injection(void) {
  r5 x;
  r5_start(&x);
  r5_seed(&x, "person", "pages.example", 120, odd_first);
  r5_sync(&x);
  idset s = {.n = 120};
  s.ids = calloc(s.n, sizeof *s.ids);
  s.seen = calloc(s.n, sizeof *s.seen);
  size_t k = 0;
  /* the initial ids: one page holds them all */
  cJSON *all = get_ok(&x, x.tok_agent, "/api/contacts?limit=1000");
  ASSERT(jstr(all, "next_cursor") == NULL);
  cJSON *it;
  cJSON_ArrayForEach(it, items(all)) {
    const char *id = jstr(it, "id");
    ASSERT(id != NULL && k < s.n);
    snprintf(s.ids[k++], 33, "%s", id);
  }
  cJSON_Delete(all);
  ASSERT_EQ(k, 120);
  int inserted = 0;
  walk(&x, "/api/contacts?limit=7&sort=first_name", &s, &inserted);
  walk(&x, "/api/contacts?limit=11&sort=-created", &s, &inserted);
  walk(&x, "/api/contacts?limit=13&sort=-email&domain=pages.example", &s, &inserted);
  walk(&x, "/api/contacts?limit=50&sort=updated&q=person", &s, &inserted);
  free(s.ids);
  free(s.seen);

  /* the sort whitelist: a 400 naming /sort */
  static const char *const bad_sorts[] = {"password", "email;DROP TABLE x", "-", "--email",
                                          "r.id", "email,id", "1"};
  for (size_t i = 0; i < sizeof bad_sorts / sizeof bad_sorts[0]; i++) {
    pv_buf url = PV_BUF_INIT;
    pv_buf_addstr(&url, "/api/contacts?sort=");
    r5_urlenc(bad_sorts[i], &url);
    cJSON *j = NULL;
    ASSERT_EQ(r5_get(&x, url.data, x.tok_agent, &j), 400);
    ASSERT_STR_EQ(jstr(j, "field"), "/sort");
    cJSON_Delete(j);
    pv_buf_release(&url);
  }
  /* a cursor only goes with its sort */
  cJSON *j = get_ok(&x, x.tok_agent, "/api/contacts?limit=2&sort=email");
  char path[1024];
  snprintf(path, sizeof path, "/api/contacts?limit=2&sort=-email&cursor=%s",
           jstr(j, "next_cursor"));
  cJSON_Delete(j);
  ASSERT_EQ(r5_get(&x, path, x.tok_agent, &j), 400);
  ASSERT_STR_EQ(jstr(j, "field"), "/cursor");
  cJSON_Delete(j);

  /* injection attempts in every parameter: normal results or 400 */
  static const char *const params[] = {"q", "email", "domain", "account_id", "seniority",
                                       "department", "deleted", "updated_since", "cursor",
                                       "limit", "sort", "nosuch"};
  static const char *const evil[] = {
      "' OR '1'='1", "'; DROP TABLE rm_contacts.contacts; --", "\" OR 1=1 --", "%", "_",
      "\\", "$1", "1; SELECT pg_sleep(1)", "x' UNION SELECT password FROM users --",
      "2026-13-45", "9999999999999999999999", "-1", "\xff\xfe", "a\x01b", "true' --",
      "eyJhIjoxfQ", "W10", "WyJpZCIsIngiLCJ5Il0"};
  for (size_t p = 0; p < sizeof params / sizeof params[0]; p++)
    for (size_t e = 0; e < sizeof evil / sizeof evil[0]; e++) {
      pv_buf url = PV_BUF_INIT;
      pv_buf_addf(&url, "/api/contacts?%s=", params[p]);
      r5_urlenc(evil[e], &url);
      cJSON *r = NULL;
      int status = r5_get(&x, url.data, x.tok_agent, &r);
      if (status != 200 && status != 400)
        test__fail(__FILE__, __LINE__, "%s: %d", url.data, status);
      if (status == 400 && strcmp(jstr(r, "code"), "EINVAL") != 0)
        test__fail(__FILE__, __LINE__, "%s: %s", url.data, jstr(r, "code"));
      cJSON_Delete(r);
      /* export and search take the same values */
      pv_buf_reset(&url);
      pv_buf_addstr(&url, "/api/search?q=");
      r5_urlenc(evil[e], &url);
      status = r5_get(&x, url.data, x.tok_agent, NULL);
      if (status != 200 && status != 400) test__fail(__FILE__, __LINE__, "%s: %d", url.data, status);
      pv_buf_release(&url);
    }
  /* the tables are intact */
  j = get_ok(&x, x.tok_agent, "/api/contacts?domain=pages.example&limit=1000");
  ASSERT_EQ(cJSON_GetArraySize(items(j)), 120);
  cJSON_Delete(j);
  ASSERT_EQ(r5_get(&x, "/api/contacts?limit=0", x.tok_agent, NULL), 400);
  ASSERT_EQ(r5_get(&x, "/api/contacts?limit=1001", x.tok_agent, NULL), 400);
  ASSERT_EQ(r5_get(&x, "/api/contacts?sort=email&sort=id", x.tok_agent, NULL), 400);
  ASSERT_EQ(r5_get(&x, "/api/contacts?updated_since=2020-01-01T00:00:00Z", x.tok_agent, NULL),
            200);
  r5_stop(&x);
}

/* ---- search ----------------------------------------------------------------- */

static void test_search_ranks_the_exact_match_first(void) {
  r5 x;
  r5_start(&x);
  char acct[33], exact[33];
  r5_account(&x, "Smithson Partners", "smithson.co", NULL, acct);
  r5_contact(&x, NULL, "jon.smithers@mail.example", "Jonathan", "Smithers", NULL, "crm",
             1700000000000000, NULL);
  r5_contact(&x, NULL, "j.smyth@mail.example", "John", "Smyth", NULL, "crm", 1700000000000000,
             NULL);
  r5_contact(&x, NULL, "jon.smith@mail.example", "Jon", "Smith", NULL, "crm", 1700000000000000,
             exact);
  r5_sync(&x);
  cJSON *j = get_ok(&x, x.tok_agent, "/api/search?q=jon.smith%%40mail.example");
  ASSERT_STR_EQ(jstr(cJSON_GetArrayItem(items(j), 0), "id"), exact);
  cJSON_Delete(j);
  j = get_ok(&x, x.tok_agent, "/api/search?q=Jon+Smith");
  ASSERT_STR_EQ(jstr(cJSON_GetArrayItem(items(j), 0), "id"), exact);
  ASSERT(cJSON_GetArraySize(items(j)) >= 2);
  cJSON_Delete(j);
  j = get_ok(&x, x.tok_agent, "/api/search?q=smithson.co&limit=5");
  ASSERT_STR_EQ(jstr(cJSON_GetArrayItem(items(j), 0), "id"), acct);
  ASSERT_STR_EQ(jstr(cJSON_GetArrayItem(items(j), 0), "kind"), "account");
  cJSON_Delete(j);
  ASSERT_EQ(r5_get(&x, "/api/search", x.tok_agent, NULL), 400);
  ASSERT_EQ(r5_get(&x, "/api/search?q=a&limit=101", x.tok_agent, NULL), 400);
  r5_stop(&x);
}

/* ---- export ----------------------------------------------------------------- */

/* RFC 4180 parser: rows of cells. Returns the number of rows; fails on a
 * malformed file. Calls cell(row, col, text) for each cell. */
typedef struct csv_check {
  size_t rows, formula_cells, quoted_names;
  size_t cols_first;
} csv_check;

static size_t csv_parse(const char *s, size_t len, csv_check *ck) {
  size_t row = 0, col = 0, i = 0;
  pv_buf cell = PV_BUF_INIT;
  while (i < len) {
    pv_buf_reset(&cell);
    if (s[i] == '"') {
      i++;
      for (;;) {
        ASSERT(i < len);
        if (s[i] == '"') {
          if (i + 1 < len && s[i + 1] == '"') {
            pv_buf_addch(&cell, '"');
            i += 2;
            continue;
          }
          i++;
          break;
        }
        pv_buf_addch(&cell, s[i++]);
      }
    } else {
      while (i < len && s[i] != ',' && s[i] != '\r') {
        ASSERT(s[i] != '"' && s[i] != '\n');
        pv_buf_addch(&cell, s[i++]);
      }
    }
    if (cell.len && cell.data[0] == '\'' && cell.len > 1 && cell.data[1] == '=') ck->formula_cells++;
    if (cell.len && strchr(cell.data, ',') && strchr(cell.data, '"')) ck->quoted_names++;
    ASSERT(!(cell.len && (cell.data[0] == '=' || cell.data[0] == '@')));
    ASSERT(i < len);
    if (s[i] == ',') {
      i++;
      col++;
    } else {
      ASSERT(s[i] == '\r' && i + 1 < len && s[i + 1] == '\n');
      i += 2;
      if (row == 0) ck->cols_first = col + 1;
      else ASSERT_EQ(col + 1, ck->cols_first);
      row++;
      col = 0;
    }
  }
  pv_buf_release(&cell);
  ck->rows = row;
  return row;
}

static const char *export_first(size_t i) {
  if (i % 1000 == 1) return "=HYPERLINK(\"http://evil\")";
  if (i % 1000 == 2) return "Smith, \"Jr\"";
  if (i % 1000 == 3) return "line\nbreak";
  return "Plain";
}

static void test_export_streams_20k_rows(void) {
  r5 x;
  r5_start(&x);
  r5_seed(&x, "export", "export.example", 20000, export_first);
  r5_sync(&x);
  test_response r;
  ASSERT_EQ(apit_req(&x.pg.t, "GET", "/api/contacts/export?format=csv&domain=export.example",
                     x.tok_data_ops, NULL, NULL, &r), 200);
  char h[256];
  ASSERT_STR_EQ(test_header(&r, "content-type", h, sizeof h), "text/csv; charset=utf-8");
  ASSERT_STR_EQ(test_header(&r, "content-disposition", h, sizeof h),
                "attachment; filename=\"contacts.csv\"");
  ASSERT_STR_EQ(test_header(&r, "transfer-encoding", h, sizeof h), "chunked");
  csv_check ck = {0};
  ASSERT_EQ(csv_parse(r.body.data, r.body.len, &ck), 20001);
  ASSERT_EQ(ck.cols_first, 16);
  ASSERT_EQ(ck.formula_cells, 20);
  ASSERT_EQ(ck.quoted_names, 20);
  test_response_release(&r);

  ASSERT_EQ(apit_req(&x.pg.t, "GET", "/api/contacts/export?format=json&sort=-email", x.tok_admin,
                     NULL, NULL, &r), 200);
  cJSON *j = cJSON_ParseWithLength(r.body.data, r.body.len);
  ASSERT(cJSON_IsArray(j));
  ASSERT_EQ(cJSON_GetArraySize(j), 20000);
  /* descending: the first is the greatest under the database's collation */
  ASSERT(strncmp(jstr(cJSON_GetArrayItem(j, 0), "email"), "export9", 7) == 0);
  cJSON_Delete(j);
  test_response_release(&r);

  ASSERT_EQ(apit_req(&x.pg.t, "GET", "/api/accounts/export?format=json", x.tok_admin, NULL, NULL,
                     &r), 200);
  ASSERT_STR_EQ(r.body.data, "[\n]\n");
  test_response_release(&r);
  ASSERT_EQ(r5_get(&x, "/api/contacts/export?format=xml", x.tok_admin, NULL), 400);
  ASSERT_EQ(r5_get(&x, "/api/contacts/export?limit=5", x.tok_admin, NULL), 400);
  r5_stop(&x);
}

/* Every GET route says which read models it reads (api_reads.c), by
 * projection names of the registry: Pivotal-Min-Position waits for those. */
static void test_every_query_route_names_what_it_reads(void) {
  size_t gets = 0;
  for (size_t i = 0; i < http_routes_count; i++) {
    const http_route *r = &http_routes[i];
    if (r->method != HTTP_METHOD_GET) continue;
    gets++;
    const char *const *reads = api_route_reads(r);
    if (!reads) test__fail(__FILE__, __LINE__, "GET %s says nothing of what it reads", r->path);
    for (size_t k = 0; reads[k]; k++)
      if (!proj_find(reads[k]))
        test__fail(__FILE__, __LINE__, "GET %s reads \"%s\", no projection", r->path, reads[k]);
  }
  ASSERT_LE(40, gets);
}

/* Pivotal-Min-Position waits for what the route reads only: with the
 * timeline's table locked (its fold stuck), a contact is read at the
 * position of its update while its timeline answers 504. */
static void test_min_position_waits_only_for_what_the_route_reads(void) {
  r5 x;
  r5_start(&x);
  char id[ENTITY_ID_LEN + 1];
  r5_contact(&x, NULL, "wait@example.com", "Wai", "Ting", NULL, "import", 1000, id);
  r5_sync(&x);
  pg_conn *lock = NULL;
  pv_error err = PV_ERROR_INIT;
  ASSERT_OK(pg_connect(&lock, x.pg.db, &err));
  ASSERT_OK(pg_exec(lock, "BEGIN", 0, NULL, NULL, &err));
  ASSERT_OK(pg_exec(lock, "LOCK TABLE rm_timeline.entries IN ACCESS EXCLUSIVE MODE", 0, NULL,
                    NULL, &err));
  r5_contact(&x, NULL, "wait@example.com", "Waiting", "Ting", NULL, "manual", 2000, NULL);
  char header[64], path[128];
  snprintf(header, sizeof header, "Pivotal-Min-Position: %" PRIu64 "\r\n",
           log_head(x.pg.t.log));
  test_response r;
  snprintf(path, sizeof path, "/api/contacts/%s", id);
  ASSERT_EQ(apit_req(&x.pg.t, "GET", path, x.tok_agent, header, NULL, &r), 200);
  cJSON *j = cJSON_ParseWithLength(r.body.data, r.body.len);
  ASSERT_STR_EQ(cJSON_GetObjectItem(j, "first_name")->valuestring, "Waiting");
  cJSON_Delete(j);
  test_response_release(&r);
  snprintf(path, sizeof path, "/api/contacts/%s/timeline", id);
  ASSERT_EQ(apit_req(&x.pg.t, "GET", path, x.tok_agent, header, NULL, &r), 504);
  test_response_release(&r);
  ASSERT_OK(pg_exec(lock, "COMMIT", 0, NULL, NULL, &err));
  ASSERT_EQ(apit_req(&x.pg.t, "GET", path, x.tok_agent, header, NULL, &r), 200);
  test_response_release(&r);
  pg_conn_free(lock);
  r5_stop(&x);
}

/* ---- the audit trail's keyset pages ------------------------------------ */

/* The count of one SQL query without parameters. */
static int64_t count_sql(r5 *x, const char *sql) {
  pg_conn *c = NULL;
  pv_error err = PV_ERROR_INIT;
  ASSERT_OK(pg_connect(&c, x->pg.db, &err));
  PGresult *res = NULL;
  ASSERT_OK(pg_exec(c, sql, 0, NULL, &res, &err));
  int64_t n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
  PQclear(res);
  pg_conn_free(c);
  return n;
}

/* Walks every page of an audit path (which has a query string) limit items
 * at a time: the items must come in strictly increasing (position, seq)
 * order (decreasing with desc) and be, item for item, those of one page
 * holding them all. Returns: how many. */
static int walk_audit(r5 *x, const char *token, const char *path, int limit, bool desc) {
  cJSON *all = get_ok(x, token, "%s&limit=1000", path);
  ASSERT(jstr(all, "next_cursor") == NULL);
  int n = cJSON_GetArraySize(items(all)), k = 0, pages = 0;
  double last_pos = 0, last_seq = 0;
  pv_buf cursor = PV_BUF_INIT;
  for (;;) {
    cJSON *j = cursor.len ? get_ok(x, token, "%s&limit=%d&cursor=%s", path, limit, cursor.data)
                          : get_ok(x, token, "%s&limit=%d", path, limit);
    pages++;
    cJSON *it;
    cJSON_ArrayForEach(it, items(j)) {
      double pos = jnum(it, "position"), seq = jnum(it, "seq");
      if (k > 0) {
        bool after = pos > last_pos || (pos == last_pos && seq > last_seq);
        bool before = pos < last_pos || (pos == last_pos && seq < last_seq);
        if (desc ? !before : !after)
          test__fail(__FILE__, __LINE__, "%s: (%.0f, %.0f) after (%.0f, %.0f)", path, pos, seq,
                     last_pos, last_seq);
      }
      last_pos = pos;
      last_seq = seq;
      if (k >= n) test__fail(__FILE__, __LINE__, "%s: more than %d items", path, n);
      char *a = cJSON_PrintUnformatted(it);
      char *b = cJSON_PrintUnformatted(cJSON_GetArrayItem(items(all), k));
      if (strcmp(a, b) != 0)
        test__fail(__FILE__, __LINE__, "%s: item %d: %s, want %s", path, k, a, b);
      free(a);
      free(b);
      k++;
    }
    const char *next = jstr(j, "next_cursor");
    pv_buf_reset(&cursor);
    if (next) pv_buf_addstr(&cursor, next);
    cJSON_Delete(j);
    if (!next) break;
  }
  if (k != n) test__fail(__FILE__, __LINE__, "%s: %d items of %d", path, k, n);
  ASSERT(pages >= n / limit);
  pv_buf_release(&cursor);
  cJSON_Delete(all);
  return n;
}

/* The audit trail is stored one row per event and shown one item per
 * change: pages cut inside an event's changes and walk an actor's and an
 * entity's changes completely, in order, both ways. */
static void test_audit_pages_walk_in_order(void) {
  r5 x;
  r5_start(&x);
  r5_seed(&x, "walker", "audit.example", 40, odd_first);
  char id[33];
  r5_contact(&x, NULL, "many@audit.example", "A", "B", "CTO", "form", 1700000000000000, id);
  r5_contact(&x, NULL, "many@audit.example", "C", "D", "CEO", "crm", 1700000000100000, NULL);
  r5_contact(&x, NULL, "many@audit.example", "E", "F", "CFO", "crm", 1700000000200000, NULL);
  r5_contact(&x, NULL, "many@audit.example", "G", "H", "COO", "crm", 1700000000300000, NULL);
  r5_sync(&x);
  int64_t seeded = count_sql(
      &x, "SELECT count(*) FROM rm_lib.field_changes() WHERE actor = 'user:seed'");
  int64_t events = count_sql(
      &x, "SELECT count(*) FROM rm_field_changes.events WHERE actor = 'user:seed'");
  ASSERT_EQ(events, 40);
  ASSERT(seeded > 2 * events); /* several changes an event: pages cut inside events */
  ASSERT_EQ(walk_audit(&x, x.tok_data_ops, "/api/audit?actor=user%3Aseed", 7, false), seeded);
  ASSERT_EQ(walk_audit(&x, x.tok_data_ops, "/api/audit?actor=user%3Aseed&sort=-position", 5, true),
            seeded);
  char path[128];
  snprintf(path, sizeof path, "/api/contacts/%s/audit?sort=position", id);
  int n = walk_audit(&x, x.tok_agent, path, 2, false);
  ASSERT(n >= 10); /* created (email, names, title, ...) and three updates of three fields */
  snprintf(path, sizeof path, "/api/contacts/%s/audit?sort=-position", id);
  ASSERT_EQ(walk_audit(&x, x.tok_agent, path, 3, true), n);
  r5_stop(&x);
}

PG_TEST_MAIN(TEST(test_fixtures_through_the_read_side),
             TEST(test_keyset_pages_sorts_and_injection),
             TEST(test_search_ranks_the_exact_match_first),
             TEST(test_export_streams_20k_rows),
             TEST(test_every_query_route_names_what_it_reads),
             TEST(test_min_position_waits_only_for_what_the_route_reads),
             TEST(test_audit_pages_walk_in_order))
