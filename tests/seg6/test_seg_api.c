/*
 * Issue 6 over HTTP, end to end: a real LMDB log and writer, contacts made
 * through the contacts aggregate, the projection engine folding contacts,
 * accounts, suppressions and segments into a real PostgreSQL, the API on
 * loopback. Cases: preview counts against the members the projection
 * keeps, emailable/callable after suppressions, membership after random
 * contact changes equal to a full re-query; visibility between users and
 * teams; bad filters named by pointer and injection attempts inert;
 * convert-to-list (snapshot position, members), add/remove, streamed CSV
 * and JSON export.
 */
#include "core/accounts.h"
#include "core/contacts.h"
#include "core/segments.h"
#include "tests/api/apit_pg.h"
#include "tests/pg/pg_testdb.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static const char *const s6_projections[] = {"contacts", "accounts", "suppressions", "segments",
                                             NULL};

typedef struct s6 {
  apit_pg pg;
  char admin[USERS_ID_MAX], cm1[USERS_ID_MAX], cm2[USERS_ID_MAX], ops[USERS_ID_MAX],
      client[USERS_ID_MAX];
  char *tok_admin, *tok_cm1, *tok_cm2, *tok_ops, *tok_client;
  char contact_ids[40][ENTITY_ID_LEN + 1];
  size_t ncontacts;
  char account_ids[3][ENTITY_ID_LEN + 1];
} s6;

static void s6_start(s6 *h) {
  memset(h, 0, sizeof *h);
  apit_pg_start(&h->pg, s6_projections, NULL);
  apit *t = &h->pg.t;
  apit_add_user(t, "admin@example.com", "admin", NULL, h->admin);
  apit_add_user(t, "cm1@example.com", "campaign_manager", NULL, h->cm1);
  apit_add_user(t, "cm2@example.com", "campaign_manager", NULL, h->cm2);
  apit_add_user(t, "ops@example.com", "data_ops", NULL, h->ops);
  apit_add_user(t, "client@example.com", "client_user", "client-a", h->client);
  h->tok_admin = apit_token(t, h->admin);
  h->tok_cm1 = apit_token(t, h->cm1);
  h->tok_cm2 = apit_token(t, h->cm2);
  h->tok_ops = apit_token(t, h->ops);
  h->tok_client = apit_token(t, h->client);
}

static void s6_stop(s6 *h) {
  apit_pg_stop(&h->pg);
  free(h->tok_admin);
  free(h->tok_cm1);
  free(h->tok_cm2);
  free(h->tok_ops);
  free(h->tok_client);
}

static int call(s6 *h, const char *method, const char *path, const char *token,
                const char *body, int want, cJSON **out) {
  test_response r;
  char wait[64];
  snprintf(wait, sizeof wait, "Pivotal-Min-Position: %llu\r\n",
           (unsigned long long)log_head(h->pg.t.log));
  int status = apit_req(&h->pg.t, method, path, token, wait, body, &r);
  if (want > 0 && status != want)
    test__fail(__FILE__, __LINE__, "%s %s: %d, wanted %d: %.*s", method, path, status, want,
               (int)r.body.len, r.body.data);
  if (out) *out = r.body.len ? cJSON_ParseWithLength(r.body.data, r.body.len) : NULL;
  test_response_release(&r);
  return status;
}

/* Waits until the projections have folded the whole log (a GET with
 * Pivotal-Min-Position at the head). */
static void settle(s6 *h) { call(h, "GET", "/api/segments?limit=1", h->tok_admin, NULL, 200, NULL); }

static double jnum(const cJSON *j, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
  if (!cJSON_IsNumber(v)) test__fail(__FILE__, __LINE__, "no number \"%s\"", key);
  return v->valuedouble;
}

static const char *jstr(const cJSON *j, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
  if (!cJSON_IsString(v)) test__fail(__FILE__, __LINE__, "no string \"%s\"", key);
  return v->valuestring;
}

static const char *const titles[] = {"VP of Sales", "Sales Manager", "Chief Executive Officer",
                                     "Software Engineer", "Director of Marketing"};

/* Contact i observed at observed_us (a later observation wins over an
 * earlier one's values). */
static void upsert_at(s6 *h, size_t i, const char *title, bool phone, int64_t observed_us) {
  char email[64], ph[24], first[16];
  snprintf(email, sizeof email, "p%zu@d%zu.example", i, i % 3);
  snprintf(ph, sizeof ph, "+1202555%04zu", i);
  snprintf(first, sizeof first, "Name%zu", i);
  contact_upsert_arg arg = {0};
  arg.in.email = email;
  arg.in.first_name = first;
  arg.in.title = title;
  arg.in.phone = phone ? ph : NULL;
  arg.in.country = "US";
  arg.in.source = "manual";
  arg.in.observed_at_us = observed_us;
  writer_cmd cmd = {.tenant = "default", .actor = "test", .decide = contact_upsert_decide,
                    .arg = &arg};
  int rc = writer_run(h->pg.t.writer, &cmd);
  if (rc) test__fail(__FILE__, __LINE__, "upsert %zu: %s", i, cmd.error.message);
  snprintf(h->contact_ids[i], sizeof h->contact_ids[i], "%s", arg.id);
  contact_upsert_release(&arg);
}

static void upsert(s6 *h, size_t i, const char *title, bool phone) {
  upsert_at(h, i, title, phone, 1700000000000000 + (int64_t)i);
}

/* Creates or updates account i (domain d<i>.example) with an industry. */
static void account(s6 *h, size_t i, const char *industry) {
  char domain[32], name[32];
  snprintf(domain, sizeof domain, "d%zu.example", i);
  snprintf(name, sizeof name, "Company %zu", i);
  acct_write_arg arg = {0};
  arg.in.name = name;
  arg.in.domain = domain;
  arg.in.industry = industry;
  arg.in.source = "manual";
  arg.in.observed_at_us = 1700000000000000 + (int64_t)i;
  writer_cmd cmd = {.tenant = "default", .actor = "test", .decide = acct_upsert_decide,
                    .arg = &arg};
  if (writer_run(h->pg.t.writer, &cmd)) test__fail(__FILE__, __LINE__, "account: %s",
                                                cmd.error.message);
  snprintf(h->account_ids[i], sizeof h->account_ids[i], "%s", arg.out_id);
}

static void seed(s6 *h, size_t n) {
  account(h, 0, "software");
  account(h, 1, "retail");
  account(h, 2, "software");
  for (size_t i = 0; i < n; i++) upsert(h, i, titles[i % 5], i % 2 == 0);
  h->ncontacts = n;
}

/* Rows of a query on the test database (one text column), "\n"-joined. */
static char *db_text(s6 *h, const char *sql, const char *param) {
  pg_conn *c = NULL;
  pv_error err = PV_ERROR_INIT;
  ASSERT_OK(pg_connect(&c, h->pg.db, &err));
  PGresult *res = NULL;
  const char *v[] = {param};
  if (pg_exec(c, sql, param ? 1 : 0, v, &res, &err))
    test__fail(__FILE__, __LINE__, "%s: %s", sql, err.message);
  pv_buf out = PV_BUF_INIT;
  for (int i = 0; i < PQntuples(res); i++)
    pv_buf_addf(&out, "%s%s", i ? "\n" : "", PQgetvalue(res, i, 0));
  PQclear(res);
  pg_conn_free(c);
  char *s = pv_buf_detach(&out, NULL);
  return s ? s : pv_xstrdup("");
}

static char *create_segment(s6 *h, const char *token, const char *name, const char *filter,
                            const char *vis) {
  char body[2048];
  snprintf(body, sizeof body,
           "{\"name\":\"%s\",\"entityType\":\"contact\",\"filter\":%s,\"visibilityScope\":\"%s\","
           "\"tags\":[\"q4\"]}", name, filter, vis);
  cJSON *j;
  call(h, "POST", "/api/segments", token, body, 201, &j);
  char *id = pv_xstrdup(jstr(j, "id"));
  cJSON_Delete(j);
  return id;
}

#define SEN_FILTER                                                             \
  "{\"op\":\"or\",\"conditions\":[{\"field\":\"contact.seniority\",\"operator\":\"in\","     \
  "\"value\":[\"vp\",\"c_level\"]},{\"field\":\"contact.title\",\"operator\":\"contains\","  \
  "\"value\":\"manager\"}]}"

/* The members the projection keeps against a full re-query of the filter. */
static void assert_members_match(s6 *h, const char *seg_id, const char *filter) {
  char body[2048];
  snprintf(body, sizeof body, "{\"entityType\":\"contact\",\"filter\":%s,\"sampleSize\":100}",
           filter);
  cJSON *p;
  call(h, "POST", "/api/segments/preview", h->tok_admin, body, 200, &p);
  char *members = db_text(h, "SELECT entity_id FROM rm_segments.members WHERE segment_id = $1"
                             " ORDER BY entity_id", seg_id);
  pv_buf want = PV_BUF_INIT;
  const cJSON *it;
  int i = 0;
  cJSON_ArrayForEach(it, cJSON_GetObjectItem(p, "sampleIds"))
    pv_buf_addf(&want, "%s%s", i++ ? "\n" : "", it->valuestring);
  ASSERT_STR_EQ(members, want.len ? want.data : "");
  ASSERT_EQ((int)jnum(p, "count"), i);
  pv_buf_release(&want);
  free(members);
  cJSON_Delete(p);
}

static void segments_membership_and_counts(void) {
  s6 h;
  s6_start(&h);
  seed(&h, 30);
  char *seg = create_segment(&h, h.tok_admin, "Leaders", SEN_FILTER, "global");
  settle(&h);
  assert_members_match(&h, seg, SEN_FILTER);
  char path[128];
  snprintf(path, sizeof path, "/api/segments/%s", seg);
  cJSON *s;
  call(&h, "GET", path, h.tok_admin, NULL, 200, &s);
  int count = (int)jnum(s, "recordCountCache");
  ASSERT(count > 0);
  ASSERT_EQ((int)jnum(s, "emailableCount"), count);
  ASSERT(cJSON_IsString(cJSON_GetObjectItem(s, "lastRefreshedAt")));
  cJSON_Delete(s);

  /* suppress two members' emails and one member's phone */
  char *first = db_text(&h, "SELECT c.email || ' ' || coalesce(c.fields->>'phone', '') FROM"
                            " rm_segments.members m JOIN rm_contacts.contacts c ON c.id ="
                            " m.entity_id WHERE m.segment_id = $1 AND c.fields ? 'phone'"
                            " ORDER BY c.id LIMIT 2", seg);
  char email1[64], phone1[32], email2[64], phone2[32];
  ASSERT_EQ(sscanf(first, "%63s %31s\n%63s %31s", email1, phone1, email2, phone2), 4);
  free(first);
  char body[512];
  snprintf(body, sizeof body, "{\"channel\":\"email\",\"value\":\"%s\",\"reason\":\"unsubscribed\"}", email1);
  call(&h, "POST", "/api/suppressions", h.tok_admin, body, 201, NULL);
  snprintf(body, sizeof body, "{\"channel\":\"email\",\"value\":\"%s\",\"reason\":\"unsubscribed\"}", email2);
  call(&h, "POST", "/api/suppressions", h.tok_admin, body, 201, NULL);
  snprintf(body, sizeof body, "{\"channel\":\"phone\",\"value\":\"%s\",\"reason\":\"dnc\"}", phone1);
  call(&h, "POST", "/api/suppressions", h.tok_admin, body, 201, NULL);
  settle(&h);
  call(&h, "GET", path, h.tok_admin, NULL, 200, &s);
  ASSERT_EQ((int)jnum(s, "recordCountCache"), count);
  ASSERT_EQ((int)jnum(s, "emailableCount"), count - 2);
  int callable = (int)jnum(s, "callableCount");
  cJSON_Delete(s);
  cJSON *p;
  snprintf(body, sizeof body, "{\"filter\":%s}", SEN_FILTER);
  call(&h, "POST", "/api/segments/preview", h.tok_admin, body, 200, &p);
  ASSERT_EQ((int)jnum(p, "count"), count);
  ASSERT_EQ((int)jnum(p, "emailable"), count - 2);
  ASSERT_EQ((int)jnum(p, "callable"), callable);
  char *with_phone = db_text(&h, "SELECT count(*) FROM rm_segments.members m JOIN"
                                 " rm_contacts.contacts c ON c.id = m.entity_id WHERE"
                                 " m.segment_id = $1 AND c.fields ? 'phone'", seg);
  ASSERT_EQ(callable, atoi(with_phone) - 1);
  free(with_phone);
  cJSON_Delete(p);

  /* random changes: titles move contacts in and out, one at a time and in
   * batches; the kept members equal a full re-query after each round */
  srand(6);
  for (int round = 0; round < 4; round++) {
    for (int k = 0; k < 6; k++) {
      size_t i = (size_t)rand() % h.ncontacts;
      upsert(&h, i, titles[rand() % 5], true);
    }
    settle(&h);
    assert_members_match(&h, seg, SEN_FILTER);
  }
  /* a changed filter re-evaluates in full */
  const char *f2 = "{\"op\":\"and\",\"conditions\":[{\"field\":\"contact.has_phone\","
                   "\"operator\":\"equals\",\"value\":true}]}";
  snprintf(body, sizeof body, "{\"filter\":%s}", f2);
  call(&h, "PATCH", path, h.tok_admin, body, 200, NULL);
  settle(&h);
  assert_members_match(&h, seg, f2);
  /* an update's filter is checked against the segment's entity type */
  call(&h, "PATCH", path, h.tok_admin,
       "{\"filter\":{\"field\":\"contact.nope\",\"operator\":\"equals\",\"value\":\"x\"}}", 400,
       NULL);
  /* an account segment: members kept by the same path, counted against
   * the preview */
  const char *af = "{\"field\":\"account.industry\",\"operator\":\"equals\","
                   "\"value\":\"software\"}";
  snprintf(body, sizeof body, "{\"name\":\"Accounts\",\"entityType\":\"account\","
           "\"filter\":%s}", af);
  cJSON *acc;
  char *by_industry = create_segment(&h, h.tok_admin, "At software companies", af, "global");
  call(&h, "POST", "/api/segments", h.tok_admin, body, 201, &acc);
  char apath[128];
  snprintf(apath, sizeof apath, "/api/segments/%s", jstr(acc, "id"));
  cJSON_Delete(acc);
  upsert(&h, 0, titles[1], true);
  settle(&h);
  snprintf(body, sizeof body, "{\"entityType\":\"account\",\"filter\":%s}", af);
  call(&h, "POST", "/api/segments/preview", h.tok_admin, body, 200, &p);
  call(&h, "GET", apath, h.tok_admin, NULL, 200, &s);
  ASSERT_EQ((int)jnum(s, "recordCountCache"), 2);
  ASSERT_EQ((int)jnum(p, "count"), 2);
  ASSERT(cJSON_IsNull(cJSON_GetObjectItem(p, "emailable")));
  cJSON_Delete(s);
  cJSON_Delete(p);
  /* an account changing industry leaves it, by the incremental path */
  account(&h, 2, "retail");
  settle(&h);
  call(&h, "GET", apath, h.tok_admin, NULL, 200, &s);
  ASSERT_EQ((int)jnum(s, "recordCountCache"), 1);
  cJSON_Delete(s);
  /* a contact segment on the account's industry follows it too: its
   * contacts are re-evaluated when the account changes */
  char *members = db_text(&h, "SELECT count(*) FROM rm_segments.members WHERE segment_id = $1",
                          by_industry);
  ASSERT(atoi(members) > 0);
  free(members);
  assert_members_match(&h, by_industry, af);
  free(by_industry);
  snprintf(body, sizeof body, "/api/segments/%s/refresh", seg);
  call(&h, "POST", body, h.tok_admin, NULL, 202, NULL);
  call(&h, "DELETE", path, h.tok_admin, NULL, 200, NULL);
  call(&h, "GET", path, h.tok_admin, NULL, 404, NULL);
  free(seg);
  s6_stop(&h);
}

/* Writes contact i's custom fields into the contacts read model (no
 * contact command sets them yet); the contacts projection keeps them
 * through the contact's later events. */
static void set_custom(s6 *h, size_t i, const char *json) {
  pg_conn *c = NULL;
  pv_error err = PV_ERROR_INIT;
  ASSERT_OK(pg_connect(&c, h->pg.db, &err));
  const char *v[] = {h->contact_ids[i], json};
  if (pg_exec(c, "UPDATE rm_contacts.contacts SET custom_fields = $2::jsonb WHERE id = $1", 2,
              v, NULL, &err))
    test__fail(__FILE__, __LINE__, "custom fields: %s", err.message);
  pg_conn_free(c);
}

static int segment_count(s6 *h, const char *seg_id) {
  char path[128];
  snprintf(path, sizeof path, "/api/segments/%s", seg_id);
  cJSON *s;
  call(h, "GET", path, h->tok_admin, NULL, 200, &s);
  int n = (int)jnum(s, "recordCountCache");
  cJSON_Delete(s);
  return n;
}

/* A custom-number segment (contact_facts' typed copy, schema/052) kept by
 * the projection as values change type: a title change makes the segments
 * projection refresh the contact's facts and re-evaluate it alone. */
static void custom_number_segment_follows_value_types(void) {
  s6 h;
  s6_start(&h);
  seed(&h, 8);
  settle(&h);
  static const char *const before[] = {
      "{\"budget\": 500}", "{\"budget\": \"750\"}", "{\"budget\": \"lots\"}", "{}",
      "{\"budget\": 50}",  "{\"budget\": \" 1e3 \"}", "{\"budget\": true}",  "{\"budget\": null}"};
  for (size_t i = 0; i < 8; i++) {
    set_custom(&h, i, before[i]);
    upsert_at(&h, i, titles[(i + 1) % 5], i % 2 == 0, 1800000000000000);
  }
  settle(&h);
  const char *f = "{\"field\":\"contact.custom_number\",\"key\":\"budget\",\"operator\":\"gt\","
                  "\"value\":100}";
  char *seg = create_segment(&h, h.tok_admin, "Big budgets", f, "global");
  settle(&h);
  assert_members_match(&h, seg, f);
  ASSERT_EQ(segment_count(&h, seg), 3); /* 500, "750", " 1e3 " */
  /* number -> text, text -> numeric text, absent -> number, numeric text
   * -> absent, bool -> number */
  static const struct { size_t i; const char *json; } after[] = {
      {0, "{\"budget\": \"n/a\"}"}, {2, "{\"budget\": \"250\"}"}, {3, "{\"budget\": 101}"},
      {5, "{}"}, {6, "{\"budget\": 1000}"}};
  for (size_t k = 0; k < sizeof after / sizeof after[0]; k++) {
    set_custom(&h, after[k].i, after[k].json);
    upsert_at(&h, after[k].i, titles[(after[k].i + 2) % 5], after[k].i % 2 == 0,
              1900000000000000);
  }
  settle(&h);
  assert_members_match(&h, seg, f);
  ASSERT_EQ(segment_count(&h, seg), 4); /* "750", "250", 101, 1000 */
  free(seg);
  s6_stop(&h);
}

static void visibility_between_users_and_teams(void) {
  s6 h;
  s6_start(&h);
  const char *f = "{\"op\":\"and\",\"conditions\":[]}";
  char *priv = create_segment(&h, h.tok_cm1, "Mine", f, "private");
  char *team = create_segment(&h, h.tok_cm1, "Ours", f, "team");
  char *glob = create_segment(&h, h.tok_cm1, "Everyone's", f, "global");
  settle(&h);
  char path[128];
  struct { const char *id; const char *tok; int want; } reads[] = {
    {priv, h.tok_cm1, 200}, {priv, h.tok_cm2, 404}, {priv, h.tok_ops, 404}, {priv, h.tok_admin, 404},
    {team, h.tok_cm1, 200}, {team, h.tok_cm2, 200}, {team, h.tok_ops, 404}, {team, h.tok_admin, 404},
    {glob, h.tok_cm1, 200}, {glob, h.tok_cm2, 200}, {glob, h.tok_ops, 200}, {glob, h.tok_admin, 200},
  };
  for (size_t i = 0; i < sizeof reads / sizeof reads[0]; i++) {
    snprintf(path, sizeof path, "/api/segments/%s", reads[i].id);
    call(&h, "GET", path, reads[i].tok, NULL, reads[i].want, NULL);
  }
  /* the list answers the same */
  cJSON *page;
  call(&h, "GET", "/api/segments", h.tok_cm2, NULL, 200, &page);
  ASSERT_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(page, "items")), 2);
  cJSON_Delete(page);
  call(&h, "GET", "/api/segments", h.tok_ops, NULL, 200, &page);
  ASSERT_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(page, "items")), 1);
  cJSON_Delete(page);
  /* writes: invisible is missing; visible but not the owner is forbidden,
   * except for an admin */
  snprintf(path, sizeof path, "/api/segments/%s", priv);
  call(&h, "PATCH", path, h.tok_cm2, "{\"name\":\"x\"}", 404, NULL);
  snprintf(path, sizeof path, "/api/segments/%s", team);
  call(&h, "PATCH", path, h.tok_cm2, "{\"name\":\"x\"}", 403, NULL);
  snprintf(path, sizeof path, "/api/segments/%s", glob);
  call(&h, "PATCH", path, h.tok_admin, "{\"name\":\"Renamed\"}", 200, NULL);
  /* client users have no audience routes */
  call(&h, "GET", "/api/segments/fields", h.tok_client, NULL, 403, NULL);
  call(&h, "GET", path, h.tok_client, NULL, 403, NULL);
  /* saved filters follow the same rule */
  cJSON *j;
  call(&h, "POST", "/api/filters", h.tok_cm1,
       "{\"name\":\"f\",\"filter\":{\"op\":\"and\",\"conditions\":[]},\"visibilityScope\":\"private\"}",
       201, &j);
  snprintf(path, sizeof path, "/api/filters/%s", jstr(j, "id"));
  cJSON_Delete(j);
  settle(&h);
  call(&h, "GET", path, h.tok_cm1, NULL, 200, NULL);
  call(&h, "GET", path, h.tok_cm2, NULL, 404, NULL);
  call(&h, "DELETE", path, h.tok_cm2, NULL, 404, NULL);
  call(&h, "DELETE", path, h.tok_cm1, NULL, 200, NULL);
  call(&h, "GET", path, h.tok_cm1, NULL, 404, NULL);
  free(priv);
  free(team);
  free(glob);
  s6_stop(&h);
}

static void bad_filters_and_injection(void) {
  s6 h;
  s6_start(&h);
  seed(&h, 5);
  settle(&h);
  cJSON *p;
  call(&h, "POST", "/api/segments/preview", h.tok_admin,
       "{\"filter\":{\"op\":\"and\",\"conditions\":[{\"field\":\"contact.email\",\"operator\":"
       "\"equals\",\"value\":\"a\"},{\"field\":\"contact.version\",\"operator\":\"contains\","
       "\"value\":\"1\"}]}}", 400, &p);
  ASSERT_STR_EQ(jstr(p, "field"), "/filter/conditions/1/operator");
  cJSON_Delete(p);
  call(&h, "POST", "/api/segments/preview", h.tok_admin,
       "{\"filter\":{\"field\":\"contact.email; DROP TABLE x\",\"operator\":\"equals\","
       "\"value\":\"a\"}}", 400, &p);
  ASSERT_STR_EQ(jstr(p, "field"), "/filter/field");
  cJSON_Delete(p);
  call(&h, "POST", "/api/segments/preview", h.tok_admin,
       "{\"filter\":{\"field\":\"contact.email\",\"operator\":\"in\",\"value\":[\"x' OR '1'='1\","
       "\"'); DROP TABLE rm_contacts.contacts; --\"]}}", 200, &p);
  ASSERT_EQ((int)jnum(p, "count"), 0);
  cJSON_Delete(p);
  call(&h, "POST", "/api/segments/preview", h.tok_admin,
       "{\"filter\":{\"op\":\"and\",\"conditions\":[]}}", 200, &p);
  ASSERT_EQ((int)jnum(p, "count"), 5);
  ASSERT_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(p, "sample")), 5);
  cJSON_Delete(p);
  call(&h, "POST", "/api/segments", h.tok_admin, "{\"name\":\"\",\"filter\":{}}", 400, NULL);
  call(&h, "GET", "/api/segments/fields", h.tok_cm1, NULL, 200, &p);
  ASSERT(cJSON_GetArraySize(cJSON_GetObjectItem(p, "fields")) >= 52);
  cJSON_Delete(p);
  s6_stop(&h);
}

/* POST with a body; a chunked answer arrives decoded in r->body. */
static int raw_post(s6 *h, const char *path, const char *token, const char *body,
                    test_response *r) {
  test_client c;
  test_connect(&c, h->pg.t.port);
  char req[2048];
  snprintf(req, sizeof req,
           "POST %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer %s\r\n"
           "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
           path, token, strlen(body), body);
  test_sends(&c, req);
  ASSERT_OK(test_read_response(&c, r));
  char te[32]; /* the test client decodes a chunked body (http_test_util.c) */
  if (test_header(r, "transfer-encoding", te, sizeof te)) ASSERT_STR_EQ(te, "chunked");
  test_close(&c);
  return r->status;
}

static void lists_convert_and_export(void) {
  s6 h;
  s6_start(&h);
  seed(&h, 24);
  char *seg = create_segment(&h, h.tok_cm1, "Leaders", SEN_FILTER, "team");
  settle(&h);
  cJSON *s;
  char path[160];
  snprintf(path, sizeof path, "/api/segments/%s", seg);
  call(&h, "GET", path, h.tok_cm1, NULL, 200, &s);
  int count = (int)jnum(s, "recordCountCache");
  cJSON_Delete(s);
  ASSERT(count > 0);
  /* another team cannot convert what it cannot see */
  snprintf(path, sizeof path, "/api/segments/%s/convert-to-list", seg);
  call(&h, "POST", path, h.tok_ops, "{}", 404, NULL);
  cJSON *j;
  call(&h, "POST", path, h.tok_cm1, "{\"name\":\"Q4 leaders\",\"visibilityScope\":\"team\"}", 201,
       &j);
  char list[64];
  snprintf(list, sizeof list, "%s", jstr(j, "id"));
  cJSON_Delete(j);
  uint64_t head = log_head(h.pg.t.log);
  settle(&h);
  snprintf(path, sizeof path, "/api/lists/%s", list);
  cJSON *l;
  call(&h, "GET", path, h.tok_cm2, NULL, 200, &l);
  ASSERT_EQ((int)jnum(l, "recordCount"), count);
  ASSERT_STR_EQ(jstr(l, "sourceType"), "segment");
  ASSERT_STR_EQ(jstr(l, "sourceRef"), seg);
  ASSERT(jnum(l, "snapshotPosition") > 0 && jnum(l, "snapshotPosition") <= (double)head);
  ASSERT(cJSON_IsObject(cJSON_GetObjectItem(l, "filter")));
  cJSON_Delete(l);
  char *lm = db_text(&h, "SELECT record_id FROM rm_segments.list_members WHERE list_id = $1"
                         " ORDER BY record_id", list);
  char *sm = db_text(&h, "SELECT entity_id FROM rm_segments.members WHERE segment_id = $1"
                         " ORDER BY entity_id", seg);
  ASSERT_STR_EQ(lm, sm);
  free(lm);
  free(sm);
  /* the snapshot does not move when contacts do */
  for (size_t i = 0; i < h.ncontacts; i++) upsert(&h, i, "Chief Executive Officer", true);
  settle(&h);
  call(&h, "GET", path, h.tok_cm1, NULL, 200, &l);
  ASSERT_EQ((int)jnum(l, "recordCount"), count);
  cJSON_Delete(l);

  /* a segment on list membership follows the list's changes */
  char lf[256];
  snprintf(lf, sizeof lf, "{\"field\":\"contact.lists\",\"operator\":\"none_of\","
           "\"value\":[\"%s\"]}", list);
  char *outside = create_segment(&h, h.tok_cm1, "Not in the list", lf, "private");
  settle(&h);
  assert_members_match(&h, outside, lf);

  /* add a selection, remove one */
  char body[512];
  snprintf(body, sizeof body, "{\"recordIds\":[\"%s\",\"%s\",\"%s\"]}", h.contact_ids[0],
           h.contact_ids[1], h.contact_ids[2]);
  snprintf(path, sizeof path, "/api/lists/%s/members", list);
  call(&h, "POST", path, h.tok_cm1, body, 200, NULL);
  call(&h, "POST", path, h.tok_ops, body, 404, NULL);
  snprintf(body, sizeof body, "{\"recordIds\":[\"%s\"]}", h.contact_ids[0]);
  call(&h, "DELETE", path, h.tok_cm1, body, 200, NULL);
  call(&h, "POST", path, h.tok_cm1, "{\"recordIds\":[\"bad id!\"]}", 400, NULL);
  settle(&h);
  char *n = db_text(&h, "SELECT member_count FROM rm_segments.lists WHERE id = $1", list);
  int members = atoi(n);
  free(n);
  char *expect = db_text(&h, "SELECT count(*) FROM rm_segments.list_members WHERE list_id = $1",
                         list);
  ASSERT_EQ(members, atoi(expect));
  free(expect);
  call(&h, "GET", path, h.tok_cm1, NULL, 200, &j);
  ASSERT_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(j, "items")), members);
  cJSON_Delete(j);
  assert_members_match(&h, outside, lf);
  free(outside);

  /* CSV export, streamed */
  test_response r;
  snprintf(path, sizeof path, "/api/lists/%s/export", list);
  ASSERT_EQ(raw_post(&h, path, h.tok_cm2, "{\"format\":\"csv\"}", &r), 200);
  char hv[160];
  ASSERT(test_header(&r, "content-type", hv, sizeof hv));
  ASSERT(strncmp(hv, "text/csv", 8) == 0);
  ASSERT(test_header(&r, "content-disposition", hv, sizeof hv));
  ASSERT(strstr(hv, "attachment; filename=\"Q4_leaders-") != NULL);
  ASSERT(strstr(hv, ".csv\"") != NULL);
  pv_buf_addch(&r.body, 0);
  ASSERT(strncmp(r.body.data, "id,email,first_name,", 20) == 0);
  int lines = 0;
  for (const char *q = r.body.data; (q = strstr(q, "\r\n")); q += 2) lines++;
  ASSERT_EQ(lines, members + 1);
  test_response_release(&r);
  /* JSON export */
  ASSERT_EQ(raw_post(&h, path, h.tok_cm1, "{\"format\":\"json\"}", &r), 200);
  ASSERT(test_header(&r, "content-type", hv, sizeof hv));
  ASSERT(strncmp(hv, "application/json", 16) == 0);
  cJSON *arr = cJSON_ParseWithLength(r.body.data, r.body.len);
  ASSERT(cJSON_IsArray(arr));
  ASSERT_EQ(cJSON_GetArraySize(arr), members);
  ASSERT(cJSON_IsString(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0), "email")));
  cJSON_Delete(arr);
  test_response_release(&r);
  ASSERT_EQ(raw_post(&h, path, h.tok_ops, "{}", &r), 404);
  test_response_release(&r);
  ASSERT_EQ(raw_post(&h, path, h.tok_cm1, "{\"format\":\"xml\"}", &r), 400);
  test_response_release(&r);

  /* a manual list and a filter snapshot */
  snprintf(body, sizeof body,
           "{\"name\":\"Upload\",\"sourceType\":\"manual_upload\",\"sourceRef\":\"leads.csv\","
           "\"recordIds\":[\"%s\"],\"visibilityScope\":\"global\"}", h.contact_ids[3]);
  call(&h, "POST", "/api/lists", h.tok_ops, body, 201, NULL);
  call(&h, "POST", "/api/lists", h.tok_ops,
       "{\"name\":\"All\",\"sourceType\":\"filter\",\"filter\":{\"op\":\"and\",\"conditions\":[]}}",
       201, &j);
  snprintf(path, sizeof path, "/api/lists/%s", jstr(j, "id"));
  cJSON_Delete(j);
  call(&h, "GET", path, h.tok_ops, NULL, 200, &l);
  ASSERT_EQ((int)jnum(l, "recordCount"), (int)h.ncontacts);
  cJSON_Delete(l);
  call(&h, "GET", "/api/lists", h.tok_ops, NULL, 200, &j);
  ASSERT_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(j, "items")), 2);
  cJSON_Delete(j);
  call(&h, "DELETE", path, h.tok_ops, NULL, 200, NULL);
  call(&h, "GET", path, h.tok_ops, NULL, 404, NULL);
  free(seg);
  s6_stop(&h);
}

typedef struct list_then_contact {
  writer_cmd list;
  contact_upsert_arg *contact;
} list_then_contact;

static int list_then_contact_decide(writer_ctx *ctx, void *arg, pv_error *err) {
  list_then_contact *lc = arg;
  int rc = lc->list.decide(ctx, lc->list.arg, err);
  return rc ? rc : contact_upsert_decide(ctx, lc->contact, err);
}

/* A projection batch that begins with a list's event (which adds no contact
 * to re-check) and goes on with a contact's: the batch's changed-contacts
 * JSON once began with a comma there, and the segments projection retried
 * that batch forever. One command appends both, so one batch holds them. */
static void list_event_then_contact_in_one_batch(void) {
  s6 h;
  s6_start(&h);
  seed(&h, 4);
  char body[256];
  snprintf(body, sizeof body, "{\"name\":\"Picked\",\"sourceType\":\"manual_upload\","
           "\"recordIds\":[\"%s\"],\"visibilityScope\":\"global\"}", h.contact_ids[0]);
  cJSON *j;
  call(&h, "POST", "/api/lists", h.tok_ops, body, 201, &j);
  char list[64];
  snprintf(list, sizeof list, "%s", jstr(j, "id"));
  cJSON_Delete(j);
  settle(&h);

  const char *ids[] = {h.contact_ids[1]};
  aud_cmd add = {.kind = AUD_LIST, .action = AUD_ADD_MEMBERS, .id = list,
                 .by = {.user_id = h.ops, .team = "data_ops", .admin = true},
                 .record_ids = ids, .record_count = 1};
  contact_upsert_arg contact = {0};
  contact.in.email = "late@d1.example";
  contact.in.title = "VP of Sales";
  contact.in.source = "manual";
  contact.in.observed_at_us = 1700000000000000;
  list_then_contact lc = {.contact = &contact};
  pv_error err = PV_ERROR_INIT;
  ASSERT_OK(aud_bind(&add, &lc.list, &err));
  writer_cmd cmd = {.tenant = "default", .actor = "test", .decide = list_then_contact_decide,
                    .arg = &lc};
  if (writer_run(h.pg.t.writer, &cmd)) test__fail(__FILE__, __LINE__, "%s", cmd.error.message);
  contact_upsert_release(&contact);
  settle(&h); /* the projections reach the head, or this fails */
  char *n = db_text(&h, "SELECT member_count FROM rm_segments.lists WHERE id = $1", list);
  ASSERT_STR_EQ(n, "2");
  free(n);
  s6_stop(&h);
}

PG_TEST_MAIN(TEST(segments_membership_and_counts), TEST(list_event_then_contact_in_one_batch), TEST(custom_number_segment_follows_value_types),
             TEST(visibility_between_users_and_teams),
             TEST(bad_filters_and_injection), TEST(lists_convert_and_export))
