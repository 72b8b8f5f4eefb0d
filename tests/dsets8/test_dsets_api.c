/*
 * test_dsets_api — ABM domain sets end to end: a real log, writer, API on
 * loopback, the domain_sets projection into a real PostgreSQL. Accounts
 * and contacts are written through their aggregates; a CSV is uploaded,
 * matched (exact, alternate, fuzzy label, fuzzy company name, a domain two
 * accounts match, IDN, typo repair, a duplicate, an invalid entry), read
 * back from the read model, expanded, converted to a list, re-processed
 * after an account appears, excluded / included, linked, archived; and
 * the roles that may not are refused.
 */
#include "core/accounts.h"
#include "core/contacts.h"
#include "core/domainsets/ds_set.h"
#include "tests/api/api_test_util.h"
#include "tests/proj/proj_testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void account(apit *t, const char *name, const char *domain, const char *alt, char *id) {
  acct_write_arg a;
  memset(&a, 0, sizeof a);
  const char *alts[] = {alt};
  a.in.name = name;
  a.in.domain = domain;
  a.in.alternate_domains = alt ? alts : NULL;
  a.in.alternate_domain_count = alt ? 1 : 0;
  a.in.alternate_domains_set = alt != NULL;
  a.in.source = "manual";
  a.in.observed_at_us = 1700000000000000;
  writer_cmd c = {.tenant = "default", .actor = "test", .decide = acct_create_decide, .arg = &a};
  if (writer_run(t->writer, &c)) test__fail(__FILE__, __LINE__, "account: %s", c.error.message);
  if (id) snprintf(id, ENTITY_ID_LEN + 1, "%s", a.out_id);
}

static void contact(apit *t, const char *email, const char *title) {
  contact_upsert_arg a;
  memset(&a, 0, sizeof a);
  a.in.email = email;
  a.in.first_name = "Test";
  a.in.title = title;
  a.in.source = "manual";
  a.in.observed_at_us = 1700000000000000;
  writer_cmd c = {.tenant = "default", .actor = "test", .decide = contact_upsert_decide, .arg = &a};
  if (writer_run(t->writer, &c)) test__fail(__FILE__, __LINE__, "contact: %s", c.error.message);
  contact_obs_release(&a.obs);
}

typedef struct world {
  apit t;
  char *url;
  proj_engine *e;
  char acme[ENTITY_ID_LEN + 1], widgets[ENTITY_ID_LEN + 1], globex[ENTITY_ID_LEN + 1],
      globexx[ENTITY_ID_LEN + 1], buecher[ENTITY_ID_LEN + 1];
  char data_ops[USERS_ID_MAX], agent[USERS_ID_MAX], qa[USERS_ID_MAX];
  char *tok; /* data_ops */
} world;

static const char *const names[] = {"domain_sets"};

static void world_start(world *w) {
  memset(w, 0, sizeof *w);
  w->url = ptu_db();
  apit_opts o = {.database_conninfo = w->url};
  apit_start(&w->t, &o);
  proj_options opt = {.retry_base_ms = 50, .retry_max_ms = 500, .poll_ms = 20};
  pv_error err = PV_ERROR_INIT;
  const char *const run[] = {"domain_sets", NULL};
  opt.names = run;
  if (proj_engine_start(&w->e, w->t.log, w->t.writer, w->url, &opt, &err))
    test__fail(__FILE__, __LINE__, "engine: %s", err.message);
  account(&w->t, "Acme Corporation", "acme.com", "acme-brands.com", w->acme);
  account(&w->t, "International Widgets", "internationalwidgets.com", NULL, w->widgets);
  account(&w->t, "Globex", "globex.com", NULL, w->globex);
  account(&w->t, "Globexx Holdings", "globexx.net", NULL, w->globexx);
  account(&w->t, "Bücher", "bücher.de", NULL, w->buecher);
  contact(&w->t, "vp@acme.com", "VP of Sales");
  contact(&w->t, "eng@acme.com", "Senior Software Engineer");
  contact(&w->t, "dm@acme.com", "Director of Marketing");
  contact(&w->t, "ceo@globex.com", "Chief Executive Officer");
  contact(&w->t, "buyer@orphanco.io", "Head of Procurement");
  apit_add_user(&w->t, "ops@example.com", "data_ops", NULL, w->data_ops);
  apit_add_user(&w->t, "agent@example.com", "agent", NULL, w->agent);
  apit_add_user(&w->t, "qa@example.com", "qa_analyst", NULL, w->qa);
  w->tok = apit_token(&w->t, w->data_ops);
}

static void world_stop(world *w) {
  free(w->tok);
  proj_engine_stop(w->e);
  apit_stop(&w->t);
  pg_testdb_drop(w->url);
  free(w->url);
}

/* A request answered with JSON; its status checked. */
static cJSON *call(world *w, const char *method, const char *path, const char *headers,
                   const char *body, int want) {
  test_response r;
  int status = apit_req(&w->t, method, path, w->tok, headers, body, &r);
  if (status != want)
    test__fail(__FILE__, __LINE__, "%s %s: %d (want %d): %.*s", method, path, status, want,
               (int)r.body.len, r.body.data);
  cJSON *j = apit_json(&r);
  test_response_release(&r);
  return j;
}

static void wait_position(world *w, const cJSON *answer) {
  const cJSON *p = cJSON_GetObjectItemCaseSensitive(answer, "position");
  ASSERT(cJSON_IsNumber(p));
  ASSERT_OK(proj_wait_position_sync(w->e, names, 1, (uint64_t)p->valuedouble, 20000));
}

static double num(const cJSON *o, const char *path) {
  char buf[128];
  snprintf(buf, sizeof buf, "%s", path);
  const cJSON *cur = o;
  for (char *tok = strtok(buf, "."); tok && cur; tok = strtok(NULL, "."))
    cur = cJSON_GetObjectItemCaseSensitive(cur, tok);
  if (!cJSON_IsNumber(cur)) test__fail(__FILE__, __LINE__, "%s is not a number", path);
  return cur->valuedouble;
}

static const char *str(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsString(v) ? v->valuestring : "";
}

static const char csv[] =
    "Domain,Account Name,Notes\n"
    "https://www.acme.com/about,,first\n"
    "\"acme,com\",,a typo of the first\n"
    "internationalwidgetz.io,,a near miss\n"
    "globex.com,,two accounts\n"
    "www.bücher.de,,IDN\n"
    "orphanco.io,,no account yet\n"
    "localhost,,invalid\n"
    "unknown-company-xyz.com,Internatonal Widgets Inc,by name\n"
    "acme-brands.com;,,alternate with a trailing semicolon\n";

/* The item of the page with original text orig. */
static const cJSON *item_by_original(const cJSON *page, const char *orig) {
  const cJSON *it;
  cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(page, "items"))
    if (strcmp(str(it, "original"), orig) == 0) return it;
  test__fail(__FILE__, __LINE__, "no item \"%s\"", orig);
  return NULL;
}

static void test_upload_match_report_items(void) {
  world w;
  world_start(&w);
  cJSON *up = call(&w, "POST", "/api/domain-sets?name=Q3%20targets&file_name=t.csv",
                   "Content-Type: text/csv\r\n", csv, 201);
  char id[DS_SET_ID_LEN + 1];
  snprintf(id, sizeof id, "%s", str(up, "id"));
  ASSERT_STR_EQ(str(up, "status"), "completed");
  ASSERT_EQ(num(up, "report.rows"), 9);
  ASSERT_EQ(num(up, "report.items"), 8);
  ASSERT_EQ(num(up, "report.duplicates"), 1);
  ASSERT_EQ(num(up, "report.invalid"), 1);
  ASSERT_EQ(num(up, "report.exact"), 4); /* acme, globex, bücher, acme-brands */
  ASSERT_EQ(num(up, "report.fuzzy"), 2); /* widgetz label, company name */
  ASSERT_EQ(num(up, "report.none"), 1);  /* orphanco */
  ASSERT_EQ(num(up, "report.matched_accounts"), 4);
  ASSERT_EQ(num(up, "report.matched_contacts"), 4); /* acme 3 + globex 1 */
  wait_position(&w, up);

  char path[256];
  snprintf(path, sizeof path, "/api/domain-sets/%s", id);
  cJSON *set = call(&w, "GET", path, NULL, NULL, 200);
  ASSERT_STR_EQ(str(set, "name"), "Q3 targets");
  ASSERT_STR_EQ(str(set, "status"), "completed");
  ASSERT_EQ(num(set, "report.exact"), 4);
  ASSERT_EQ(num(set, "report.fuzzy"), 2);
  ASSERT_EQ(num(set, "report.unknown_domains"), 1);
  ASSERT_EQ(num(set, "report.matched_contacts"), 4);
  ASSERT(num(set, "report.match_rate") > 0.857 && num(set, "report.match_rate") < 0.858);
  ASSERT_EQ(num(set, "report.by_rule.fuzzy_company_name"), 1);
  ASSERT_EQ(num(set, "report.by_rule.exact_alternate_domain"), 1);

  snprintf(path, sizeof path, "/api/domain-sets/%s/items", id);
  cJSON *all = call(&w, "GET", path, NULL, NULL, 200);
  ASSERT_EQ(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(all, "items")), 8);
  const cJSON *acme = item_by_original(all, "https://www.acme.com/about");
  ASSERT_STR_EQ(str(acme, "account_id"), w.acme);
  ASSERT_STR_EQ(str(acme, "rule"), "exact_domain");
  ASSERT_EQ(num(acme, "confidence"), 1);
  ASSERT_EQ(num(acme, "duplicates"), 2);
  ASSERT_EQ(num(acme, "contacts"), 3);
  const cJSON *alt = item_by_original(all, "acme-brands.com;");
  ASSERT_STR_EQ(str(alt, "rule"), "exact_alternate_domain");
  ASSERT_STR_EQ(str(alt, "repaired"), "acme-brands.com");
  ASSERT_STR_EQ(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(alt, "repairs"), 0)->valuestring,
                "trailing_punctuation");
  const cJSON *widgetz = item_by_original(all, "internationalwidgetz.io");
  ASSERT_STR_EQ(str(widgetz, "match"), "fuzzy");
  ASSERT_STR_EQ(str(widgetz, "account_id"), w.widgets);
  ASSERT_EQ(num(widgetz, "confidence"), 0.9); /* 24 bytes at distance 1: .958 x .95 */
  const cJSON *byname = item_by_original(all, "unknown-company-xyz.com");
  ASSERT_STR_EQ(str(byname, "rule"), "fuzzy_company_name");
  ASSERT_STR_EQ(str(byname, "account_id"), w.widgets);
  const cJSON *globex = item_by_original(all, "globex.com");
  ASSERT_STR_EQ(str(globex, "account_id"), w.globex);
  ASSERT_STR_EQ(str(globex, "runner_up_account_id"), w.globexx);
  ASSERT_EQ(num(globex, "runner_up_confidence"), 0.81);
  const cJSON *idn = item_by_original(all, "www.bücher.de");
  ASSERT_STR_EQ(str(idn, "domain"), "xn--bcher-kva.de");
  ASSERT_STR_EQ(str(idn, "account_id"), w.buecher);
  const cJSON *bad = item_by_original(all, "localhost");
  ASSERT(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(bad, "valid")));
  ASSERT(str(bad, "invalid_reason")[0] != 0);

  /* Filtering and keyset pages. */
  snprintf(path, sizeof path, "/api/domain-sets/%s/items?match=fuzzy", id);
  cJSON *fz = call(&w, "GET", path, NULL, NULL, 200);
  ASSERT_EQ(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(fz, "items")), 2);
  snprintf(path, sizeof path, "/api/domain-sets/%s/items?limit=5", id);
  cJSON *p1 = call(&w, "GET", path, NULL, NULL, 200);
  ASSERT_EQ(num(p1, "next_after"), 4);
  snprintf(path, sizeof path, "/api/domain-sets/%s/items?limit=5&after=4", id);
  cJSON *p2 = call(&w, "GET", path, NULL, NULL, 200);
  ASSERT_EQ(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(p2, "items")), 3);
  ASSERT(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(p2, "next_after")));
  snprintf(path, sizeof path, "/api/domain-sets/%s/items?match=maybe", id);
  cJSON_Delete(call(&w, "GET", path, NULL, NULL, 400));
  cJSON_Delete(call(&w, "GET", "/api/domain-sets/00000000000000000000000000000000", NULL, NULL, 404));

  cJSON_Delete(up);
  cJSON_Delete(set);
  cJSON_Delete(all);
  cJSON_Delete(fz);
  cJSON_Delete(p1);
  cJSON_Delete(p2);
  world_stop(&w);
}

static void test_expand_convert_process_archive(void) {
  world w;
  world_start(&w);
  cJSON *up = call(&w, "POST", "/api/domain-sets?name=abm", "Content-Type: text/csv\r\n", csv, 201);
  char id[DS_SET_ID_LEN + 1], path[256];
  snprintf(id, sizeof id, "%s", str(up, "id"));

  snprintf(path, sizeof path, "/api/domain-sets/%s/expand", id);
  cJSON *all = call(&w, "POST", path, NULL, "{}", 200);
  ASSERT_EQ(num(all, "contacts"), 5); /* acme 3, globex 1, the orphan at orphanco.io */
  ASSERT_EQ(num(all, "from_accounts"), 4);
  ASSERT_EQ(num(all, "orphans"), 1);
  ASSERT_EQ(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(all, "sample_ids")), 5);
  cJSON *sales = call(&w, "POST", path, NULL, "{\"department\":[\"sales\"]}", 200);
  ASSERT_EQ(num(sales, "contacts"), 1);
  cJSON *eng = call(&w, "POST", path, NULL, "{\"title\":\"engineer\",\"include_orphans\":false}", 200);
  ASSERT_EQ(num(eng, "contacts"), 1);
  cJSON_Delete(call(&w, "POST", path, NULL, "{\"seniority\":[\"emperor\"]}", 400));

  snprintf(path, sizeof path, "/api/domain-sets/%s/convert-to-list", id);
  cJSON *list = call(&w, "POST", path, NULL, "{\"name\":\"ABM contacts\"}", 201);
  ASSERT_EQ(num(list, "contacts"), 5);
  ASSERT(strlen(str(list, "list_id")) == 32);
  cJSON_Delete(call(&w, "POST", path, NULL, "{}", 400));

  /* An account for the unknown domain appears: a re-run matches it. */
  account(&w.t, "Orphan Co", "orphanco.io", NULL, NULL);
  snprintf(path, sizeof path, "/api/domain-sets/%s/process", id);
  cJSON *run = call(&w, "POST", path, NULL, NULL, 200);
  ASSERT_EQ(num(run, "run"), 2);
  ASSERT_EQ(num(run, "report.exact"), 5);
  ASSERT_EQ(num(run, "report.none"), 0);
  wait_position(&w, run);

  /* Exclude the acme item: out of the report at once. */
  snprintf(path, sizeof path, "/api/domain-sets/%s/items/0/exclude", id);
  cJSON *ex = call(&w, "POST", path, NULL, "{\"reason\":\"existing customer\"}", 200);
  wait_position(&w, ex);
  snprintf(path, sizeof path, "/api/domain-sets/%s", id);
  cJSON *set = call(&w, "GET", path, NULL, NULL, 200);
  ASSERT_EQ(num(set, "report.excluded"), 1);
  ASSERT_EQ(num(set, "report.exact"), 4);
  snprintf(path, sizeof path, "/api/domain-sets/%s/items/99/exclude", id);
  cJSON_Delete(call(&w, "POST", path, NULL, NULL, 404));
  snprintf(path, sizeof path, "/api/domain-sets/%s/items/0/include", id);
  cJSON_Delete(call(&w, "POST", path, NULL, NULL, 200));

  snprintf(path, sizeof path, "/api/domain-sets/%s/links", id);
  cJSON *link = call(&w, "POST", path, NULL, "{\"target_type\":\"campaign\",\"target_id\":\"c-1\"}", 201);
  cJSON_Delete(call(&w, "POST", path, NULL, "{\"target_type\":\"planet\",\"target_id\":\"x\"}", 400));
  wait_position(&w, link);
  snprintf(path, sizeof path, "/api/domain-sets/%s", id);
  cJSON *set2 = call(&w, "GET", path, NULL, NULL, 200);
  ASSERT_STR_EQ(str(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(set2, "links"), 0), "target_id"), "c-1");

  cJSON *arch = call(&w, "DELETE", path, NULL, NULL, 200);
  snprintf(path, sizeof path, "/api/domain-sets/%s/items/1/exclude", id);
  cJSON_Delete(call(&w, "POST", path, NULL, NULL, 409));
  snprintf(path, sizeof path, "/api/domain-sets/%s/process", id);
  cJSON_Delete(call(&w, "POST", path, NULL, NULL, 409));
  wait_position(&w, arch);
  snprintf(path, sizeof path, "/api/domain-sets/%s", id);
  cJSON *set3 = call(&w, "GET", path, NULL, NULL, 200);
  ASSERT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(set3, "archived")));

  cJSON *items[] = {up, all, sales, eng, list, run, ex, set, link, set2, arch, set3};
  for (size_t i = 0; i < sizeof items / sizeof items[0]; i++) cJSON_Delete(items[i]);
  world_stop(&w);
}

static void test_stubs_txt_and_bad_input(void) {
  world w;
  world_start(&w);
  cJSON *up = call(&w, "POST", "/api/domain-sets?name=txt&create_stubs=true",
                   "Content-Type: text/plain\r\n", "domain\nnewco.example.com\nacme.com\n\n", 201);
  ASSERT_EQ(num(up, "report.rows"), 2);
  ASSERT_EQ(num(up, "report.exact"), 2); /* newco matched its new stub */
  wait_position(&w, up);
  char path[256];
  snprintf(path, sizeof path, "/api/domain-sets/%s", str(up, "id"));
  cJSON *set = call(&w, "GET", path, NULL, NULL, 200);
  ASSERT_EQ(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(set, "stub_accounts")), 1);
  /* No name; not CSV; no rows; an unterminated quote. */
  cJSON_Delete(call(&w, "POST", "/api/domain-sets", "Content-Type: text/csv\r\n", "a.com\n", 400));
  cJSON_Delete(call(&w, "POST", "/api/domain-sets?name=x", "Content-Type: image/png\r\n", "x", 415));
  cJSON_Delete(call(&w, "POST", "/api/domain-sets?name=x", "Content-Type: text/csv\r\n", "domain\n", 400));
  cJSON_Delete(call(&w, "POST", "/api/domain-sets?name=x", "Content-Type: text/csv\r\n", "\"a.com\n", 400));
  cJSON_Delete(up);
  cJSON_Delete(set);
  world_stop(&w);
}

static void test_role_denials(void) {
  world w;
  world_start(&w);
  test_response r;
  char *agent = apit_token(&w.t, w.agent), *qa = apit_token(&w.t, w.qa);
  ASSERT_EQ(apit_req(&w.t, "POST", "/api/domain-sets?name=x", agent, "Content-Type: text/csv\r\n",
                     "acme.com\n", &r), 403);
  test_response_release(&r);
  ASSERT_EQ(apit_req(&w.t, "GET", "/api/domain-sets/00000000000000000000000000000000", qa, NULL,
                     NULL, &r), 403);
  test_response_release(&r);
  ASSERT_EQ(apit_req(&w.t, "GET", "/api/domain-sets/00000000000000000000000000000000", NULL, NULL,
                     NULL, &r), 401);
  test_response_release(&r);
  free(agent);
  free(qa);
  world_stop(&w);
}

TEST_MAIN(TEST(test_upload_match_report_items), TEST(test_expand_convert_process_archive),
          TEST(test_stubs_txt_and_bad_input), TEST(test_role_denials))
