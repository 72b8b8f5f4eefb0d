/*
 * Issue 7 over HTTP, end to end: a real LMDB log and writer, the API on
 * loopback with the read models in a real PostgreSQL (the projection
 * engine running, Pivotal-Min-Position waiting on it), requests over
 * sockets. Cases: suppression check normalization, list and CSV export,
 * CSV bulk upload; one-click unsubscribe (GET changes nothing, POST
 * suppresses, a tampered token is refused); the lead state machine with a
 * suppressed contact refused at approval; bulk approve with per-lead
 * results; the order dashboard; the recorded download and its manifest
 * hash; a download of 20,000 leads (its ids in chunk events of one commit,
 * folded the same whatever the batches, rebuilt the same); the
 * cross-client matrix (client A asks for every id of client B on every
 * route and method and gets what a missing id gets).
 */
#include "core/catalog.h"
#include "core/unsub_token.h"
#include "projections/proj_folds.h"
#include "tests/api/apit_pg.h"
#include "tests/pg/pg_testdb.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

static const char *const h7_projections[] = {"suppressions", "leads", "orders",
                                             "lead_downloads", NULL};

typedef struct h7 {
  apit_pg pg;
  uint8_t unsub_key[32];
  char admin[USERS_ID_MAX], qa[USERS_ID_MAX], client_a[USERS_ID_MAX], client_b[USERS_ID_MAX];
  char *tok_admin, *tok_qa, *tok_a, *tok_b;
} h7;

static void h7_start(h7 *h) {
  memset(h, 0, sizeof *h);
  randombytes_buf(h->unsub_key, sizeof h->unsub_key);
  apit_opts o = {.unsub_key = h->unsub_key};
  apit_pg_start(&h->pg, h7_projections, &o);
  apit *t = &h->pg.t;
  apit_add_user(t, "admin@example.com", "admin", NULL, h->admin);
  apit_add_user(t, "qa@example.com", "qa_analyst", NULL, h->qa);
  apit_add_user(t, "ann@client-a.example", "client_user", "client-a", h->client_a);
  apit_add_user(t, "bob@client-b.example", "client_user", "client-b", h->client_b);
  h->tok_admin = apit_token(t, h->admin);
  h->tok_qa = apit_token(t, h->qa);
  h->tok_a = apit_token(t, h->client_a);
  h->tok_b = apit_token(t, h->client_b);
}

static void h7_stop(h7 *h) {
  apit_pg_stop(&h->pg);
  free(h->tok_admin);
  free(h->tok_qa);
  free(h->tok_a);
  free(h->tok_b);
}

/* One request; returns the status and the parsed JSON body in *out (when
 * out is not NULL and the body is JSON). Fails the test on a status other
 * than want (when want > 0). */
static int call(h7 *h, const char *method, const char *path, const char *token,
                const char *headers, const char *body, int want, cJSON **out) {
  test_response r;
  int status = apit_req(&h->pg.t, method, path, token, headers, body, &r);
  if (want > 0 && status != want)
    test__fail(__FILE__, __LINE__, "%s %s: %d, wanted %d: %.*s", method, path, status, want,
               (int)r.body.len, r.body.data);
  if (out) *out = r.body.len ? cJSON_ParseWithLength(r.body.data, r.body.len) : NULL;
  test_response_release(&r);
  return status;
}

static const char *jstr(const cJSON *j, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
  if (!cJSON_IsString(v)) test__fail(__FILE__, __LINE__, "no string \"%s\"", key);
  return v->valuestring;
}

static double jnum(const cJSON *j, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
  if (!cJSON_IsNumber(v)) test__fail(__FILE__, __LINE__, "no number \"%s\"", key);
  return v->valuedouble;
}

/* "Pivotal-Min-Position: <position of j>\r\n" */
static char *min_pos(const cJSON *j, char *buf, size_t cap) {
  snprintf(buf, cap, "Pivotal-Min-Position: %.0f\r\n", jnum(j, "position"));
  return buf;
}

/* Makes an order for client as admin, returns its id; links campaign. */
static void make_order(h7 *h, const char *client, const char *campaign, char id[64]) {
  char body[1024];
  snprintf(body, sizeof body,
           "{\"client_id\":\"%s\",\"name\":\"Q3 leads\",\"type\":\"email\","
           "\"audience\":{\"kind\":\"filters\",\"filters\":{\"industry\":\"software\"}},"
           "\"assets\":[{\"name\":\"brief.pdf\",\"url\":\"https://files.example/brief.pdf\"}],"
           "\"goals\":{\"lead_target\":10,\"start_date\":\"2026-01-01\","
           "\"end_date\":\"2026-12-31\"}}",
           client);
  cJSON *j;
  call(h, "POST", "/api/orders", h->tok_admin, NULL, body, 201, &j);
  snprintf(id, 64, "%s", jstr(j, "id"));
  cJSON_Delete(j);
  char path[128];
  snprintf(path, sizeof path, "/api/orders/%s/campaigns", id);
  snprintf(body, sizeof body, "{\"campaign_id\":\"%s\"}", campaign);
  call(h, "POST", path, h->tok_admin, NULL, body, 200, NULL);
}

/* A contact with this email (POST /api/contacts); its id into contact. */
static void make_contact(h7 *h, const char *email, char contact[64]) {
  char body[256];
  snprintf(body, sizeof body, "{\"email\":\"%s\"}", email);
  cJSON *j;
  call(h, "POST", "/api/contacts", h->tok_admin, NULL, body, 201, &j);
  snprintf(contact, 64, "%s", jstr(j, "id"));
  cJSON_Delete(j);
}

/* A lead for a new contact with this email: the lead takes the contact's. */
static void make_lead(h7 *h, const char *order, const char *campaign, const char *email,
                      char id[64]) {
  char body[512], contact[64];
  make_contact(h, email, contact);
  snprintf(body, sizeof body,
           "{\"contact_id\":\"%s\",\"campaign_id\":\"%s\",\"order_id\":\"%s\","
           "\"answers\":{\"budget\":\"yes\"}}",
           contact, campaign, order);
  cJSON *j;
  call(h, "POST", "/api/leads", h->tok_qa, NULL, body, 201, &j);
  snprintf(id, 64, "%s", jstr(j, "id"));
  cJSON_Delete(j);
}

/* POST /api/leads/:id/actions/:action; returns the status. */
static int act(h7 *h, const char *lead, const char *action, const char *body, cJSON **out) {
  char path[512];
  snprintf(path, sizeof path, "/api/leads/%s/actions/%s", lead, action);
  /* publishing is a manager's (core/leads.c's table); the rest QA's */
  const char *tok = strcmp(action, "publish") ? h->tok_qa : h->tok_admin;
  return call(h, "POST", path, tok, NULL, body ? body : "{}", 0, out);
}

static void suppress(h7 *h, const char *channel, const char *value, cJSON **out) {
  char body[256];
  snprintf(body, sizeof body, "{\"channel\":\"%s\",\"value\":\"%s\",\"reason\":\"asked\"}",
           channel, value);
  call(h, "POST", "/api/suppressions", h->tok_admin, NULL, body, 201, out);
}

/* A lead from new to approved (ok) or the approval's status. */
static int review_and_approve(h7 *h, const char *lead) {
  if (act(h, lead, "start_review", NULL, NULL) != 200) return -1;
  if (act(h, lead, "check", "{\"item\":\"title_ok\"}", NULL) != 200) return -2;
  return act(h, lead, "approve", NULL, NULL);
}

/* ---- suppressions ------------------------------------------------------- */

static void test_suppression_check_normalizes(void) {
  h7 h;
  h7_start(&h);
  cJSON *j;
  suppress(&h, "email", "Foo@Example.COM", &j);
  ASSERT_STR_EQ(jstr(j, "value"), "foo@example.com");
  cJSON_Delete(j);
  suppress(&h, "phone", "+1 (415) 555-0123", &j);
  ASSERT_STR_EQ(jstr(j, "value"), "+14155550123");
  char wait[64];
  min_pos(j, wait, sizeof wait);
  cJSON_Delete(j);
  /* adding again: no new event, 200 and already */
  call(&h, "POST", "/api/suppressions", h.tok_admin, NULL,
       "{\"channel\":\"email\",\"value\":\"FOO@example.com\",\"reason\":\"again\"}", 200, &j);
  ASSERT(cJSON_IsTrue(cJSON_GetObjectItem(j, "already")));
  cJSON_Delete(j);

  call(&h, "POST", "/api/suppressions/check", h.tok_a, NULL,
       "{\"emails\":[\"foo@example.com\",\"other@example.com\",\"not an email\"],"
       "\"phones\":[\"14155550123\",\"(415) 555-0123\",\"+1 415 555 0199\"]}",
       200, &j);
  const cJSON *res = cJSON_GetObjectItem(j, "results");
  ASSERT_EQ(cJSON_GetArraySize(res), 6);
  const char *want[] = {"suppressed", "contactable", "invalid",
                        "suppressed", "suppressed", "contactable"};
  for (int i = 0; i < 6; i++)
    ASSERT_STR_EQ(jstr(cJSON_GetArrayItem(res, i), "status"), want[i]);
  ASSERT_STR_EQ(jstr(cJSON_GetArrayItem(res, 0), "scope"), "global");
  ASSERT_STR_EQ(jstr(cJSON_GetArrayItem(res, 0), "reason"), "asked");
  cJSON_Delete(j);

  /* a client user suppresses for its own client only */
  call(&h, "POST", "/api/suppressions", h.tok_a, NULL,
       "{\"channel\":\"email\",\"value\":\"x@client.example\",\"reason\":\"r\","
       "\"client_id\":\"client-b\"}", 403, NULL);
  call(&h, "POST", "/api/suppressions", h.tok_a, NULL,
       "{\"channel\":\"email\",\"value\":\"x@client.example\",\"reason\":\"r\"}", 201, &j);
  ASSERT_STR_EQ(jstr(j, "scope"), "client");
  cJSON_Delete(j);
  call(&h, "POST", "/api/suppressions/check", h.tok_b, NULL,
       "{\"emails\":[\"x@client.example\"]}", 200, &j);
  ASSERT_STR_EQ(jstr(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "results"), 0), "status"),
                "contactable");
  cJSON_Delete(j);

  /* the read model lists them (newest first, keyset pages) */
  call(&h, "GET", "/api/suppressions?limit=1", h.tok_admin, wait, NULL, 200, &j);
  ASSERT_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(j, "items")), 1);
  const char *cursor = jstr(j, "next_cursor");
  char path[128];
  snprintf(path, sizeof path, "/api/suppressions?limit=5&channel=email&cursor=%s", cursor);
  cJSON *k;
  call(&h, "GET", path, h.tok_admin, NULL, NULL, 200, &k);
  ASSERT(cJSON_IsNull(cJSON_GetObjectItem(k, "next_cursor")));
  cJSON_Delete(k);
  cJSON_Delete(j);
  call(&h, "GET", "/api/suppressions?scope=nope", h.tok_admin, NULL, NULL, 400, NULL);

  /* removal: admin only, with a reason; then the value is contactable */
  call(&h, "DELETE", "/api/suppressions", h.tok_qa, NULL,
       "{\"channel\":\"phone\",\"value\":\"14155550123\",\"reason\":\"mistake\"}", 403, NULL);
  call(&h, "DELETE", "/api/suppressions", h.tok_admin, NULL,
       "{\"channel\":\"phone\",\"value\":\"14155550123\",\"reason\":\"mistake\"}", 200, NULL);
  call(&h, "DELETE", "/api/suppressions", h.tok_admin, NULL,
       "{\"channel\":\"phone\",\"value\":\"14155550123\",\"reason\":\"mistake\"}", 404, NULL);
  call(&h, "POST", "/api/suppressions/check", h.tok_admin, NULL,
       "{\"phones\":[\"+14155550123\"]}", 200, &j);
  ASSERT_STR_EQ(jstr(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "results"), 0), "status"),
                "contactable");
  cJSON_Delete(j);
  /* the history keeps both: added, then removed */
  snprintf(wait, sizeof wait, "Pivotal-Min-Position: %llu\r\n",
           (unsigned long long)log_head(h.pg.t.log));
  call(&h, "GET", "/api/suppressions/history?channel=phone&value=%2B1%20415%20555%200123",
       h.tok_admin, wait, NULL, 200, &j);
  const cJSON *hist = cJSON_GetObjectItem(j, "items");
  ASSERT_EQ(cJSON_GetArraySize(hist), 2);
  ASSERT_STR_EQ(jstr(cJSON_GetArrayItem(hist, 0), "action"), "added");
  ASSERT_STR_EQ(jstr(cJSON_GetArrayItem(hist, 1), "action"), "removed");
  ASSERT_STR_EQ(jstr(cJSON_GetArrayItem(hist, 1), "reason"), "mistake");
  cJSON_Delete(j);
  h7_stop(&h);
}

/* A raw request read to the end of the connection; the body de-chunked
 * when the answer is chunked. */
static int raw_get(h7 *h, const char *path, const char *token, const char *headers,
                   test_response *r) {
  test_client c;
  test_connect(&c, h->pg.t.port);
  char req[2048];
  snprintf(req, sizeof req,
           "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer %s\r\n%s\r\n",
           path, token, headers ? headers : "");
  test_sends(&c, req);
  ASSERT_OK(test_read_response(&c, r));
  char te[32]; /* the test client decodes a chunked body (http_test_util.c) */
  if (test_header(r, "transfer-encoding", te, sizeof te)) ASSERT_STR_EQ(te, "chunked");
  test_close(&c);
  return r->status;
}

static void test_suppression_bulk_and_export(void) {
  h7 h;
  h7_start(&h);
  const char *csv = "value,reason\r\nA@Example.com,bounced\r\n\"b@example.com\",\r\n"
                    "not an address,x\r\n";
  cJSON *j;
  call(&h, "POST", "/api/suppressions/bulk?channel=email&reason=import", h.tok_admin,
       "Content-Type: text/csv\r\nIdempotency-Key: upload-1\r\n", csv, 200, &j);
  ASSERT_EQ(jnum(j, "rows"), 3);
  ASSERT_EQ(jnum(j, "added"), 2);
  ASSERT_EQ(jnum(j, "failed"), 1);
  ASSERT_EQ(jnum(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "errors"), 0), "row"), 2);
  cJSON_Delete(j);
  /* the same upload again is answered from the idempotency records */
  call(&h, "POST", "/api/suppressions/bulk?channel=email&reason=import", h.tok_admin,
       "Content-Type: text/csv\r\nIdempotency-Key: upload-1\r\n", csv, 200, &j);
  ASSERT_EQ(jnum(j, "failed"), 1);
  cJSON_Delete(j);
  call(&h, "POST", "/api/suppressions/bulk?channel=email&reason=import", h.tok_admin,
       "Content-Type: text/csv\r\n", "\"unterminated\r\n", 400, NULL);
  call(&h, "POST", "/api/suppressions/bulk?channel=email", h.tok_admin,
       "Content-Type: text/csv\r\n", csv, 400, NULL);
  call(&h, "POST", "/api/suppressions/check", h.tok_admin, NULL,
       "{\"emails\":[\"a@example.com\",\"B@EXAMPLE.COM\"]}", 200, &j);
  const cJSON *res = cJSON_GetObjectItem(j, "results");
  ASSERT_STR_EQ(jstr(cJSON_GetArrayItem(res, 0), "reason"), "bounced");
  ASSERT_STR_EQ(jstr(cJSON_GetArrayItem(res, 1), "reason"), "import");
  char wait[64];
  snprintf(wait, sizeof wait, "Pivotal-Min-Position: %.0f\r\n",
           jnum(cJSON_GetArrayItem(res, 1), "position"));
  cJSON_Delete(j);
  test_response r;
  ASSERT_EQ(raw_get(&h, "/api/suppressions/export.csv", h.tok_admin, wait, &r), 200);
  pv_buf_addch(&r.body, 0);
  ASSERT(strncmp(r.body.data, "channel,value,scope,", 20) == 0);
  ASSERT(strstr(r.body.data, "\r\nemail,a@example.com,global,,bounced,") != NULL);
  ASSERT(strstr(r.body.data, "\r\nemail,b@example.com,global,,import,") != NULL);
  test_response_release(&r);
  h7_stop(&h);
}

/* ---- one-click unsubscribe --------------------------------------------- */

static void test_one_click_unsubscribe(void) {
  h7 h;
  h7_start(&h);
  unsub_claims cl = {.tenant = "default", .channel = "email", .value = "Jane@Example.com",
                     .client_id = "client-a", .campaign_id = "camp-1",
                     .issued_at_s = (int64_t)time(NULL)};
  pv_buf token = PV_BUF_INIT;
  pv_error err = PV_ERROR_INIT;
  ASSERT_OK(unsub_token_make(&cl, h.unsub_key, &token, &err));
  char path[1600], bad[1600];
  snprintf(path, sizeof path, "/u/%s", token.data);
  snprintf(bad, sizeof bad, "/u/%s", token.data);
  size_t last = strlen(bad) - 3;
  bad[last] = bad[last] == 'A' ? 'B' : 'A';
  const char *check = "{\"client_id\":\"client-a\",\"emails\":[\"jane@example.com\"]}";
  cJSON *j;
  test_response r;
  /* GET: a page, and nothing changes */
  ASSERT_EQ(apit_req(&h.pg.t, "GET", path, NULL, NULL, NULL, &r), 200);
  char ct[64];
  ASSERT(test_header(&r, "content-type", ct, sizeof ct) && strncmp(ct, "text/html", 9) == 0);
  pv_buf_addch(&r.body, 0);
  ASSERT(strstr(r.body.data, "jane@example.com") && strstr(r.body.data, "One-Click"));
  test_response_release(&r);
  call(&h, "POST", "/api/suppressions/check", h.tok_admin, NULL, check, 200, &j);
  ASSERT_STR_EQ(jstr(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "results"), 0), "status"),
                "contactable");
  cJSON_Delete(j);
  /* a tampered token: 400 both ways, never a suppression */
  ASSERT_EQ(apit_req(&h.pg.t, "GET", bad, NULL, NULL, NULL, &r), 400);
  ASSERT(test_header(&r, "content-type", ct, sizeof ct) && strncmp(ct, "text/html", 9) == 0);
  test_response_release(&r);
  const char *form = "Content-Type: application/x-www-form-urlencoded\r\n";
  ASSERT_EQ(apit_req(&h.pg.t, "POST", bad, NULL, form, "List-Unsubscribe=One-Click", &r), 400);
  ASSERT(test_header(&r, "content-type", ct, sizeof ct) &&
         strcmp(ct, "application/problem+json") == 0);
  test_response_release(&r);
  /* a POST without the one-click body is refused too */
  ASSERT_EQ(call(&h, "POST", path, NULL, form, "List-Unsubscribe=Maybe", 400, NULL), 400);
  call(&h, "POST", "/api/suppressions/check", h.tok_admin, NULL, check, 200, &j);
  ASSERT_STR_EQ(jstr(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "results"), 0), "status"),
                "contactable");
  cJSON_Delete(j);
  /* POST with the one-click body suppresses, in the token's client scope */
  ASSERT_EQ(call(&h, "POST", path, NULL, form, "List-Unsubscribe=One-Click", 200, NULL), 200);
  call(&h, "POST", "/api/suppressions/check", h.tok_admin, NULL, check, 200, &j);
  const cJSON *r0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "results"), 0);
  ASSERT_STR_EQ(jstr(r0, "status"), "suppressed");
  ASSERT_STR_EQ(jstr(r0, "scope"), "client");
  ASSERT_STR_EQ(jstr(r0, "source"), "one_click");
  cJSON_Delete(j);
  pv_buf_release(&token);
  h7_stop(&h);
}

/* ---- consent ------------------------------------------------------------ */

static void test_consent(void) {
  h7 h;
  h7_start(&h);
  call(&h, "POST", "/api/contacts/ct-1/consent", h.tok_admin, NULL,
       "{\"channel\":\"email\",\"action\":\"grant\",\"source\":\"web form\","
       "\"wording\":\"Yes, email me.\"}", 201, NULL);
  call(&h, "POST", "/api/contacts/ct-1/consent", h.tok_admin, NULL,
       "{\"channel\":\"email\",\"action\":\"maybe\",\"source\":\"x\"}", 400, NULL);
  call(&h, "POST", "/api/contacts/ct-1/consent", h.tok_a, NULL,
       "{\"channel\":\"email\",\"action\":\"grant\",\"source\":\"x\"}", 403, NULL);
  cJSON *j;
  call(&h, "GET", "/api/contacts/ct-1/consent", h.tok_admin, NULL, NULL, 200, &j);
  const cJSON *email = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "channels"), "email");
  ASSERT_STR_EQ(jstr(email, "state"), "granted");
  ASSERT_STR_EQ(jstr(email, "wording"), "Yes, email me.");
  ASSERT_STR_EQ(jstr(email, "ip"), "127.0.0.1"); /* the request's peer */
  ASSERT_STR_EQ(jstr(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "channels"), "sms"), "state"),
                "unknown");
  cJSON_Delete(j);
  h7_stop(&h);
}

/* ---- leads -------------------------------------------------------------- */

static void checklist(h7 *h, const char *campaign) {
  char path[128];
  snprintf(path, sizeof path, "/api/campaigns/%s/qa-checklist", campaign);
  call(h, "POST", path, h->tok_admin, NULL, "{\"items\":[\"title_ok\"]}", 200, NULL);
}

static void test_lead_state_machine(void) {
  h7 h;
  h7_start(&h);
  char order[64], lead[64], lead2[64];
  make_order(&h, "client-a", "camp-1", order);
  checklist(&h, "camp-1");
  make_lead(&h, order, "camp-1", "Pat@Acme.example", lead);
  cJSON *j;
  ASSERT_EQ(act(&h, lead, "approve", NULL, NULL), 409); /* still new */
  ASSERT_EQ(act(&h, lead, "start_review", NULL, NULL), 200);
  ASSERT_EQ(act(&h, lead, "approve", NULL, &j), 409); /* checklist */
  ASSERT_STR_EQ(jstr(j, "field"), "/checklist");
  cJSON_Delete(j);
  ASSERT_EQ(act(&h, lead, "check", "{\"item\":\"title_ok\"}", NULL), 200);
  ASSERT_EQ(act(&h, lead, "assign", "{\"reviewer\":\"u-qa\"}", NULL), 200);
  ASSERT_EQ(act(&h, lead, "approve", NULL, &j), 200);
  ASSERT_STR_EQ(jstr(j, "status"), "approved");
  cJSON_Delete(j);
  ASSERT_EQ(act(&h, lead, "frobnicate", NULL, NULL), 400);
  ASSERT_EQ(act(&h, lead, "publish", NULL, &j), 200);
  char wait[64];
  min_pos(j, wait, sizeof wait);
  cJSON_Delete(j);
  ASSERT_EQ(act(&h, lead, "publish", NULL, NULL), 409);

  /* a suppressed contact cannot be approved */
  make_lead(&h, order, "camp-1", "quiet@acme.example", lead2);
  suppress(&h, "email", "QUIET@acme.example", NULL);
  ASSERT_EQ(review_and_approve(&h, lead2), 409);
  ASSERT_EQ(act(&h, lead2, "approve", NULL, &j), 409);
  ASSERT_STR_EQ(jstr(j, "field"), "/contact");
  cJSON_Delete(j);
  ASSERT_EQ(act(&h, lead2, "reject", "{\"reason_code\":\"suppressed\"}", &j), 200);
  ASSERT_STR_EQ(jstr(j, "status"), "rejected");
  min_pos(j, wait, sizeof wait);
  cJSON_Delete(j);
  ASSERT_EQ(act(&h, lead2, "reject", "{}", NULL), 400);

  /* the read model: state, reviewer, timestamps; filters */
  char path[160];
  snprintf(path, sizeof path, "/api/leads/%s", lead);
  call(&h, "GET", path, h.tok_qa, wait, NULL, 200, &j);
  ASSERT_STR_EQ(jstr(j, "status"), "published");
  ASSERT_STR_EQ(jstr(j, "reviewer"), "u-qa");
  ASSERT_STR_EQ(jstr(j, "email_domain"), "acme.example");
  ASSERT(cJSON_IsString(cJSON_GetObjectItem(j, "published_at")));
  cJSON_Delete(j);
  snprintf(path, sizeof path, "/api/leads?status=rejected&order_id=%s", order);
  call(&h, "GET", path, h.tok_qa, NULL, NULL, 200, &j);
  const cJSON *items = cJSON_GetObjectItem(j, "items");
  ASSERT_EQ(cJSON_GetArraySize(items), 1);
  ASSERT_STR_EQ(jstr(cJSON_GetArrayItem(items, 0), "reject_reason"), "suppressed");
  cJSON_Delete(j);
  call(&h, "GET", "/api/leads?reviewer=u-qa&created_after=2020-01-01T00:00:00Z", h.tok_qa, NULL,
       NULL, 200, &j);
  ASSERT_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(j, "items")), 1);
  cJSON_Delete(j);
  call(&h, "GET", "/api/leads?status=bogus", h.tok_qa, NULL, NULL, 400, NULL);
  /* times PostgreSQL would refuse are a 400 naming the parameter, not a 500 */
  call(&h, "GET", "/api/leads?created_after=2024-02-31T00:00:00Z", h.tok_qa, NULL, NULL, 400,
       NULL);
  call(&h, "GET", "/api/leads?created_before=2024-13-01T00:00:00Z", h.tok_qa, NULL, NULL, 400,
       NULL);
  call(&h, "GET", "/api/leads?created_after=2024-01-01T00:00:00%2B01:00", h.tok_qa, NULL, NULL,
       200, NULL);
  /* the client sees its published lead, not the rejected one */
  call(&h, "GET", "/api/leads", h.tok_a, NULL, NULL, 200, &j);
  items = cJSON_GetObjectItem(j, "items");
  ASSERT_EQ(cJSON_GetArraySize(items), 1);
  ASSERT_STR_EQ(jstr(cJSON_GetArrayItem(items, 0), "id"), lead);
  cJSON_Delete(j);
  snprintf(path, sizeof path, "/api/leads/%s", lead2);
  call(&h, "GET", path, h.tok_a, NULL, NULL, 404, NULL);
  h7_stop(&h);
}

/* POST /api/leads answers status, naming field. */
static void lead_refused(h7 *h, const char *body, int status, const char *field) {
  cJSON *j;
  call(h, "POST", "/api/leads", h->tok_qa, NULL, body, status, &j);
  ASSERT_STR_EQ(jstr(j, "field"), field);
  cJSON_Delete(j);
}

/* A lead's email and phone are its contact's, read when the lead is made:
 * a request cannot set them, a missing or merged contact is refused, and
 * the suppression check reads the contact's identifiers. */
static void test_lead_takes_its_contacts_identifiers(void) {
  h7 h;
  h7_start(&h);
  char order[64], contact[64], loser[64], body[512], path[160], wait[64];
  make_order(&h, "client-a", "camp-1", order);
  call(&h, "POST", "/api/contacts", h.tok_admin, NULL,
       "{\"email\":\" Dana@Shop.Example \",\"phone\":\"(415) 555-0188\",\"country\":\"US\"}",
       201, NULL);
  cJSON *j;
  call(&h, "POST", "/api/contacts", h.tok_admin, NULL, "{\"email\":\"dana@shop.example\"}", 200,
       &j);
  snprintf(contact, sizeof contact, "%s", jstr(j, "id"));
  cJSON_Delete(j);

  /* the request may not say who the lead is */
  snprintf(body, sizeof body,
           "{\"contact_id\":\"%s\",\"campaign_id\":\"camp-1\",\"email\":\"other@x.example\"}",
           contact);
  lead_refused(&h, body, 400, "/email");
  snprintf(body, sizeof body,
           "{\"contact_id\":\"%s\",\"campaign_id\":\"camp-1\",\"phone\":\"+14155550100\"}",
           contact);
  lead_refused(&h, body, 400, "/phone");
  lead_refused(&h, "{\"contact_id\":\"nobody\",\"campaign_id\":\"camp-1\"}", 404,
               "/contact_id");

  /* made from the contact: its normalized email and E.164 phone */
  char lead[64];
  snprintf(body, sizeof body,
           "{\"contact_id\":\"%s\",\"campaign_id\":\"camp-1\",\"order_id\":\"%s\"}",
           contact, order);
  call(&h, "POST", "/api/leads", h.tok_qa, NULL, body, 201, &j);
  snprintf(lead, sizeof lead, "%s", jstr(j, "id"));
  min_pos(j, wait, sizeof wait);
  cJSON_Delete(j);
  snprintf(path, sizeof path, "/api/leads/%s", lead);
  call(&h, "GET", path, h.tok_qa, wait, NULL, 200, &j);
  ASSERT_STR_EQ(jstr(j, "email"), "dana@shop.example");
  ASSERT_STR_EQ(jstr(j, "phone"), "+14155550188");
  ASSERT_STR_EQ(jstr(j, "contact_id"), contact);
  cJSON_Delete(j);
  /* and the approval checks them: the contact's phone is on the DNC list */
  checklist(&h, "camp-1");
  suppress(&h, "phone", "+1 415 555 0188", NULL);
  ASSERT_EQ(review_and_approve(&h, lead), 409);

  /* a contact merged into another: the lead belongs to the winner */
  make_contact(&h, "dup@shop.example", loser);
  snprintf(body, sizeof body, "{\"winner_id\":\"%s\",\"loser_id\":\"%s\"}", contact, loser);
  call(&h, "POST", "/api/contacts/merge", h.tok_admin, NULL, body, 200, NULL);
  snprintf(body, sizeof body, "{\"contact_id\":\"%s\",\"campaign_id\":\"camp-1\"}", loser);
  lead_refused(&h, body, 409, "/contact_id");
  h7_stop(&h);
}

static void test_bulk_approve_results(void) {
  h7 h;
  h7_start(&h);
  char order[64], leads[4][64];
  make_order(&h, "client-a", "camp-1", order);
  checklist(&h, "camp-1");
  const char *emails[] = {"a1@one.example", "a2@two.example", "blocked@three.example",
                          "a4@four.example"};
  for (int i = 0; i < 4; i++) {
    make_lead(&h, order, "camp-1", emails[i], leads[i]);
    ASSERT_EQ(act(&h, leads[i], "start_review", NULL, NULL), 200);
    if (i != 3) ASSERT_EQ(act(&h, leads[i], "check", "{\"item\":\"title_ok\"}", NULL), 200);
  }
  suppress(&h, "email", "blocked@three.example", NULL);
  char body[512];
  snprintf(body, sizeof body,
           "{\"action\":\"approve\",\"lead_ids\":[\"%s\",\"%s\",\"%s\",\"%s\",\"missing\"]}",
           leads[0], leads[1], leads[2], leads[3]);
  cJSON *j;
  call(&h, "POST", "/api/leads/bulk", h.tok_qa, NULL, body, 200, &j);
  const cJSON *res = cJSON_GetObjectItem(j, "results");
  ASSERT_EQ(cJSON_GetArraySize(res), 5);
  ASSERT_EQ(jnum(j, "succeeded"), 2);
  ASSERT_EQ(jnum(j, "failed"), 3);
  ASSERT(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetArrayItem(res, 0), "ok")));
  ASSERT_STR_EQ(jstr(cJSON_GetArrayItem(res, 1), "status"), "approved");
  ASSERT_STR_EQ(jstr(cJSON_GetArrayItem(res, 2), "field"), "/contact");
  ASSERT_STR_EQ(jstr(cJSON_GetArrayItem(res, 3), "field"), "/checklist");
  ASSERT_STR_EQ(jstr(cJSON_GetArrayItem(res, 4), "code"), "ENOTFOUND");
  cJSON_Delete(j);
  call(&h, "POST", "/api/leads/bulk", h.tok_qa, NULL,
       "{\"action\":\"publish\",\"lead_ids\":[\"x\"]}", 400, NULL);
  call(&h, "POST", "/api/leads/bulk", h.tok_a, NULL,
       "{\"action\":\"approve\",\"lead_ids\":[\"x\"]}", 403, NULL);
  h7_stop(&h);
}

/* ---- orders: dashboard and downloads ----------------------------------- */

/* Publishes a new lead of order; returns the publish answer's position. */
static double publish_lead(h7 *h, const char *order, const char *campaign, const char *email,
                           char id[64]) {
  make_lead(h, order, campaign, email, id);
  ASSERT_EQ(review_and_approve(h, id), 200);
  cJSON *j;
  ASSERT_EQ(act(h, id, "publish", NULL, &j), 200);
  double pos = jnum(j, "position");
  cJSON_Delete(j);
  return pos;
}

static void test_order_dashboard_and_download(void) {
  h7 h;
  h7_start(&h);
  char order[64], l1[64], l2[64], l3[64], path[160], wait[64];
  make_order(&h, "client-a", "camp-1", order);
  checklist(&h, "camp-1");
  publish_lead(&h, order, "camp-1", "one@a.example", l1);
  double pos = publish_lead(&h, order, "camp-1", "two@b.example", l2);
  make_lead(&h, order, "camp-1", "three@c.example", l3);
  ASSERT_EQ(act(&h, l3, "start_review", NULL, NULL), 200);
  snprintf(wait, sizeof wait, "Pivotal-Min-Position: %.0f\r\n", pos + 10);
  /* start the order as staff; the client may not */
  snprintf(path, sizeof path, "/api/orders/%s/status", order);
  call(&h, "POST", path, h.tok_a, NULL, "{\"action\":\"start\"}", 403, NULL);
  cJSON *j;
  call(&h, "POST", path, h.tok_admin, NULL, "{\"action\":\"start\"}", 200, &j);
  min_pos(j, wait, sizeof wait);
  cJSON_Delete(j);

  snprintf(path, sizeof path, "/api/orders/%s/aggregate-stats", order);
  call(&h, "GET", path, h.tok_a, wait, NULL, 200, &j);
  ASSERT_STR_EQ(jstr(j, "status"), "in_progress");
  ASSERT_EQ(jnum(j, "lead_target"), 10);
  ASSERT_EQ(jnum(j, "delivered"), 2);
  ASSERT_EQ(jnum(j, "remaining"), 8);
  const cJSON *by_state = cJSON_GetObjectItem(j, "by_state");
  ASSERT_EQ(jnum(by_state, "published"), 2);
  ASSERT_EQ(jnum(by_state, "under_review"), 1);
  const cJSON *by_day = cJSON_GetObjectItem(j, "by_day");
  ASSERT_EQ(cJSON_GetArraySize(by_day), 1);
  ASSERT_EQ(jnum(cJSON_GetArrayItem(by_day, 0), "delivered"), 2);
  const cJSON *pacing = cJSON_GetObjectItem(j, "pacing");
  ASSERT_STR_EQ(jstr(pacing, "plan"), "even");
  ASSERT(jnum(pacing, "planned_to_date") >= 0 && jnum(pacing, "planned_to_date") <= 10);
  cJSON_Delete(j);

  snprintf(path, sizeof path, "/api/orders/%s", order);
  call(&h, "GET", path, h.tok_a, NULL, NULL, 200, &j);
  ASSERT_STR_EQ(jstr(j, "client_id"), "client-a");
  const cJSON *campaigns = cJSON_GetObjectItem(j, "campaigns");
  ASSERT_STR_EQ(cJSON_GetStringValue(cJSON_GetArrayItem(campaigns, 0)), "camp-1");
  cJSON_Delete(j);

  /* the download: published leads only, sorted, recorded with its hash */
  test_response r;
  snprintf(path, sizeof path, "/api/orders/%s/leads.csv", order);
  ASSERT_EQ(raw_get(&h, path, h.tok_a, NULL, &r), 200);
  char hash[80], download[40];
  ASSERT(test_header(&r, "pivotal-manifest-hash", hash, sizeof hash));
  ASSERT(test_header(&r, "pivotal-download-id", download, sizeof download));
  pv_buf_addch(&r.body, 0);
  ASSERT(strstr(r.body.data, l1) && strstr(r.body.data, l2) && !strstr(r.body.data, l3));
  ASSERT(strstr(r.body.data, "one@a.example") != NULL);
  test_response_release(&r);
  const char *sorted[2] = {strcmp(l1, l2) < 0 ? l1 : l2, strcmp(l1, l2) < 0 ? l2 : l1};
  crypto_generichash_state st;
  crypto_generichash_init(&st, NULL, 0, crypto_generichash_BYTES);
  for (int i = 0; i < 2; i++)
    crypto_generichash_update(&st, (const uint8_t *)sorted[i], strlen(sorted[i]) + 1);
  uint8_t bin[crypto_generichash_BYTES];
  char hex[sizeof bin * 2 + 1];
  crypto_generichash_final(&st, bin, sizeof bin);
  sodium_bin2hex(hex, sizeof hex, bin, sizeof bin);
  ASSERT_STR_EQ(hash, hex);

  /* the recorded download: who, when, which leads, the hash */
  ASSERT_EQ(call(&h, "POST", "/api/suppressions/check", h.tok_admin, NULL,
                 "{\"emails\":[\"x@y.example\"]}", 200, NULL), 200);
  snprintf(path, sizeof path, "/api/orders/%s/downloads", order);
  snprintf(wait, sizeof wait, "Pivotal-Min-Position: %llu\r\n",
           (unsigned long long)log_head(h.pg.t.log));
  call(&h, "GET", path, h.tok_a, wait, NULL, 200, &j);
  const cJSON *d = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "items"), 0);
  ASSERT(d != NULL);
  ASSERT_STR_EQ(jstr(d, "id"), download);
  ASSERT_STR_EQ(jstr(d, "manifest_hash"), hex);
  ASSERT_EQ(jnum(d, "lead_count"), 2);
  char actor[96];
  snprintf(actor, sizeof actor, "user:%s", h.client_a);
  ASSERT_STR_EQ(jstr(d, "actor"), actor);
  ASSERT(cJSON_GetObjectItem(d, "lead_ids") == NULL);
  cJSON_Delete(j);
  /* one download: its ids */
  snprintf(path, sizeof path, "/api/orders/%s/downloads/%s", order, download);
  call(&h, "GET", path, h.tok_a, NULL, NULL, 200, &j);
  ASSERT_STR_EQ(jstr(j, "id"), download);
  ASSERT_STR_EQ(jstr(j, "manifest_hash"), hex);
  const cJSON *ids = cJSON_GetObjectItem(j, "lead_ids");
  ASSERT_EQ(cJSON_GetArraySize(ids), 2);
  ASSERT_STR_EQ(cJSON_GetStringValue(cJSON_GetArrayItem(ids, 0)), sorted[0]);
  ASSERT_STR_EQ(cJSON_GetStringValue(cJSON_GetArrayItem(ids, 1)), sorted[1]);
  cJSON_Delete(j);
  snprintf(path, sizeof path, "/api/orders/%s/downloads/01JZZZZZZZZZZZZZZZZZZZZZZZ", order);
  call(&h, "GET", path, h.tok_a, NULL, NULL, 404, &j);
  ASSERT(strstr(jstr(j, "detail"), "download") != NULL);
  cJSON_Delete(j);
  h7_stop(&h);
}

/* ---- a download larger than one event ----------------------------------- */

#define BIG_LEADS 20000

typedef struct dl_events {
  evt_envelope e[64];
  size_t n;
} dl_events;

static int collect_event(void *arg, const evt_envelope *e, const uint8_t *raw, size_t len) {
  (void)raw, (void)len;
  dl_events *x = arg;
  if (x->n == sizeof x->e / sizeof x->e[0]) return -1;
  x->e[x->n++] = *e;
  return 0;
}

/* The download's row in schema's downloads table, as JSON. */
static char *row_json(pg_conn *c, const char *schema, const char *download) {
  char *q = PQescapeIdentifier(pg_conn_raw(c), schema, strlen(schema));
  ASSERT(q != NULL);
  char sql[256];
  snprintf(sql, sizeof sql,
           "SELECT row_to_json(d)::text FROM %s.downloads d WHERE download_id = $1", q);
  PQfreemem(q);
  const char *values[] = {download};
  PGresult *res = NULL;
  pv_error err = PV_ERROR_INIT;
  ASSERT_OK(pg_exec(c, sql, 1, values, &res, &err));
  ASSERT_EQ(PQntuples(res), 1);
  char *out = strdup(PQgetvalue(res, 0, 0));
  PQclear(res);
  return out;
}

/* 20,000 published leads (more than one event's 256 KiB of ids): the CSV
 * holds them all, the hash is over all of them, the log holds the recorded
 * event and its chunks at contiguous positions (one commit), /downloads
 * counts them and /downloads/:download_id lists every id in order; folding the events one batch each, or twice,
 * and rebuilding the read model give the same row. */
static void test_large_download(void) {
  h7 h;
  h7_start(&h);
  char order[64], path[160], wait[64];
  make_order(&h, "client-a", "camp-1", order);
  apit_pg_sync(&h.pg);
  pg_conn *c = NULL;
  pv_error err = PV_ERROR_INIT;
  ASSERT_OK(pg_connect(&c, h.pg.db, &err));
  /* Straight into the leads read model, which is all the download reads:
   * publishing 20,000 leads through the lead workflow (covered above)
   * would take most of a minute. Ids of 37 bytes, not in insertion order. */
  const char *values[] = {order};
  ASSERT_OK(pg_exec(c,
                    "INSERT INTO rm_leads.leads (tenant, lead_id, contact_id, campaign_id, "
                    "order_id, client_id, email, email_domain, phone, status, answers, "
                    "created_at, published_at, updated_at, version, position) "
                    "SELECT 'default', 'lead-' || md5(g::text), 'c-' || g, 'camp-1', $1, "
                    "'client-a', 'p' || g || '@x.example', 'x.example', '', 'published', "
                    "'{\"budget\":\"yes\"}', now(), now(), now(), 5, 0 "
                    "FROM generate_series(1, 20000) g",
                    1, values, NULL, &err));
  PGresult *ids = NULL;
  ASSERT_OK(pg_exec(c,
                    "SELECT lead_id FROM rm_leads.leads WHERE order_id = $1 "
                    "ORDER BY lead_id COLLATE \"C\"",
                    1, values, &ids, &err));
  ASSERT_EQ(PQntuples(ids), BIG_LEADS);
  crypto_generichash_state st;
  crypto_generichash_init(&st, NULL, 0, crypto_generichash_BYTES);
  for (int i = 0; i < BIG_LEADS; i++)
    crypto_generichash_update(&st, (const uint8_t *)PQgetvalue(ids, i, 0),
                              strlen(PQgetvalue(ids, i, 0)) + 1);
  uint8_t bin[crypto_generichash_BYTES];
  char hex[sizeof bin * 2 + 1];
  crypto_generichash_final(&st, bin, sizeof bin);
  sodium_bin2hex(hex, sizeof hex, bin, sizeof bin);

  /* the CSV: a header, then every lead in id order */
  test_response r;
  snprintf(path, sizeof path, "/api/orders/%s/leads.csv", order);
  ASSERT_EQ(raw_get(&h, path, h.tok_a, NULL, &r), 200);
  char hash[80], download[40], position[32];
  ASSERT(test_header(&r, "pivotal-manifest-hash", hash, sizeof hash));
  ASSERT(test_header(&r, "pivotal-download-id", download, sizeof download));
  ASSERT(test_header(&r, "pivotal-position", position, sizeof position));
  ASSERT_STR_EQ(hash, hex);
  pv_buf_addch(&r.body, 0);
  const char *line = strstr(r.body.data, "\r\n") + 2;
  for (int i = 0; i < BIG_LEADS; i++) {
    const char *id = PQgetvalue(ids, i, 0);
    ASSERT(strncmp(line, id, strlen(id)) == 0 && line[strlen(id)] == ',');
    line = strstr(line, "\r\n") + 2;
  }
  ASSERT_EQ(*line, 0);
  test_response_release(&r);

  /* the log: recorded, then its chunks, at contiguous positions */
  char stream[64];
  snprintf(stream, sizeof stream, "download-%s", download);
  log_reader *rd = NULL;
  ASSERT_OK(log_read_begin(h.pg.t.log, &rd));
  dl_events ev = {0};
  ASSERT_OK(log_read_stream(rd, "default", stream, 1, collect_event, &ev));
  ASSERT(ev.n >= 3);
  /* Pivotal-Position: the last of them, so waiting on it sees them all */
  ASSERT_EQ(ev.e[ev.n - 1].position, strtoull(position, NULL, 10));
  size_t listed = 0;
  for (size_t k = 0; k < ev.n; k++) {
    ASSERT_EQ(ev.e[k].position, ev.e[0].position + k);
    ASSERT(mp_slice_eq(ev.e[k].type, k ? "lead_download.leads_listed" : "lead_download.recorded"));
    pv_buf json = PV_BUF_INIT;
    ASSERT_OK(cat_payload_json(cat_find(ev.e[k].type.ptr, ev.e[k].type.len, 1),
                               ev.e[k].payload, ev.e[k].payload_len, &json));
    cJSON *p = cJSON_ParseWithLength(json.data, json.len);
    pv_buf_release(&json);
    if (k == 0) ASSERT_EQ(jnum(p, "lead_count"), BIG_LEADS);
    if (k > 0) {
      ASSERT_EQ(jnum(p, "offset"), listed);
      ASSERT_EQ(jnum(p, "chunk"), k);
      ASSERT_EQ(jnum(p, "chunks"), ev.n - 1);
    }
    listed += (size_t)cJSON_GetArraySize(cJSON_GetObjectItem(p, "lead_ids"));
    cJSON_Delete(p);
  }
  ASSERT_EQ(listed, BIG_LEADS);

  /* the read model: the count in the list, every id in order in the one */
  snprintf(path, sizeof path, "/api/orders/%s/downloads", order);
  snprintf(wait, sizeof wait, "Pivotal-Min-Position: %s\r\n", position);
  cJSON *j;
  call(&h, "GET", path, h.tok_a, wait, NULL, 200, &j);
  const cJSON *d = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "items"), 0);
  ASSERT(d != NULL);
  ASSERT_STR_EQ(jstr(d, "id"), download);
  ASSERT_EQ(jnum(d, "lead_count"), BIG_LEADS);
  cJSON_Delete(j);
  snprintf(path, sizeof path, "/api/orders/%s/downloads/%s", order, download);
  call(&h, "GET", path, h.tok_a, NULL, NULL, 200, &j);
  d = j;
  ASSERT_STR_EQ(jstr(d, "manifest_hash"), hex);
  ASSERT_EQ(jnum(d, "lead_count"), BIG_LEADS);
  const cJSON *list = cJSON_GetObjectItem(d, "lead_ids");
  ASSERT_EQ(cJSON_GetArraySize(list), BIG_LEADS);
  int i = 0;
  for (const cJSON *x = list->child; x; x = x->next, i++)
    ASSERT_STR_EQ(cJSON_GetStringValue(x), PQgetvalue(ids, i, 0));
  cJSON_Delete(j);
  PQclear(ids);
  char *live = row_json(c, "rm_lead_downloads", download);

  /* any batch boundaries: each event a batch of its own, then all of them
   * again as one batch (already folded: nothing changes) */
  ASSERT_OK(pg_exec(c, "CREATE SCHEMA dl_scratch", 0, NULL, NULL, &err));
  ASSERT_OK(pg_exec(c,
                    "CREATE TABLE dl_scratch.downloads "
                    "(LIKE rm_lead_downloads.downloads INCLUDING ALL)",
                    0, NULL, NULL, &err));
  ASSERT_OK(pg_exec(c, "SET search_path = dl_scratch", 0, NULL, NULL, &err));
  for (size_t k = 0; k < ev.n; k++) ASSERT_OK(proj_lead_downloads_fold(c, &ev.e[k], 1, &err));
  ASSERT_OK(proj_lead_downloads_fold(c, ev.e, ev.n, &err));
  log_read_end(rd);
  char *scratch = row_json(c, "dl_scratch", download);
  ASSERT(strcmp(scratch, live) == 0);
  free(scratch);
  pg_conn_free(c);

  /* a rebuild from the log gives the same row */
  ASSERT_OK(pg_connect(&c, h.pg.db, &err));
  ASSERT_OK(proj_rebuild(h.pg.t.log, c, proj_find("lead_downloads"), NULL, NULL, NULL, &err));
  char *rebuilt = row_json(c, "rm_lead_downloads", download);
  ASSERT(strcmp(rebuilt, live) == 0);
  free(rebuilt);
  free(live);
  pg_conn_free(c);
  h7_stop(&h);
}

/* ---- the cross-client matrix -------------------------------------------- */

/* The answer with what differs per request removed: the request id (header
 * and problem "instance") and the Date header. */
static char *normalized(const test_response *r) {
  pv_buf out = PV_BUF_INIT;
  pv_buf_addf(&out, "%d\n", r->status);
  const char *p = strstr(r->head.data, "\r\n") + 2;
  while (*p && strncmp(p, "\r\n", 2)) {
    const char *eol = strstr(p, "\r\n");
    if (strncmp(p, "x-request-id:", 13) && strncmp(p, "date:", 5) &&
        strncmp(p, "content-length:", 15))
      pv_buf_add(&out, p, (size_t)(eol - p + 2));
    p = eol + 2;
  }
  cJSON *j = r->body.len ? cJSON_ParseWithLength(r->body.data, r->body.len) : NULL;
  if (j) {
    cJSON_DeleteItemFromObject(j, "instance");
    char *s = cJSON_PrintUnformatted(j);
    pv_buf_addstr(&out, s);
    free(s);
    cJSON_Delete(j);
  } else {
    pv_buf_add(&out, r->body.data, r->body.len);
  }
  pv_buf_addch(&out, 0);
  return pv_buf_detach(&out, NULL);
}

static void test_cross_client_matrix(void) {
  h7 h;
  h7_start(&h);
  char order_a[64], order_b[64], lead_b[64], lead_a[64], download_b[40];
  make_order(&h, "client-a", "camp-a", order_a);
  make_order(&h, "client-b", "camp-b", order_b);
  checklist(&h, "camp-a");
  checklist(&h, "camp-b");
  publish_lead(&h, order_a, "camp-a", "mine@a.example", lead_a);
  publish_lead(&h, order_b, "camp-b", "theirs@b.example", lead_b);
  /* client B downloads, so a download of B exists; it reads its own writes
   * (the read models may not have the order and leads yet) */
  test_response r;
  char path[200], missing_path[200];
  char wait[64];
  snprintf(wait, sizeof wait, "Pivotal-Min-Position: %llu\r\n",
           (unsigned long long)log_head(h.pg.t.log));
  snprintf(path, sizeof path, "/api/orders/%s/leads.csv", order_b);
  ASSERT_EQ(raw_get(&h, path, h.tok_b, wait, &r), 200);
  ASSERT(test_header(&r, "pivotal-download-id", download_b, sizeof download_b));
  test_response_release(&r);
  snprintf(wait, sizeof wait, "Pivotal-Min-Position: %llu\r\n",
           (unsigned long long)log_head(h.pg.t.log));
  call(&h, "GET", "/api/orders", h.tok_b, wait, NULL, 200, NULL);

  /* every route with an id, every method, as client A: B's id and a
   * missing id of the same shape answer byte for byte the same */
  static const struct {
    const char *method, *path, *body;
    bool lead;
  } routes[] = {
      {"GET", "/api/orders/%s", NULL, false},
      {"POST", "/api/orders/%s/status", "{\"action\":\"cancel\"}", false},
      {"POST", "/api/orders/%s/status", "{\"action\":\"pause\"}", false},
      {"POST", "/api/orders/%s/campaigns", "{\"campaign_id\":\"camp-b\"}", false},
      {"DELETE", "/api/orders/%s/campaigns/camp-b", NULL, false},
      {"GET", "/api/orders/%s/aggregate-stats", NULL, false},
      {"GET", "/api/orders/%s/leads.csv", NULL, false},
      {"GET", "/api/orders/%s/downloads", NULL, false},
      {"GET", "/api/leads/%s", NULL, true},
      {"POST", "/api/leads/%s/actions/approve", "{}", true},
      {"POST", "/api/leads/%s/actions/publish", "{}", true},
  };
  const char *missing = "01JZZZZZZZZZZZZZZZZZZZZZZZ";
  size_t checked = 0;
  for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
    snprintf(path, sizeof path, routes[i].path, routes[i].lead ? lead_b : order_b);
    snprintf(missing_path, sizeof missing_path, routes[i].path, missing);
    test_response theirs, none;
    int s1 = apit_req(&h.pg.t, routes[i].method, path, h.tok_a, NULL, routes[i].body, &theirs);
    int s2 = apit_req(&h.pg.t, routes[i].method, missing_path, h.tok_a, NULL, routes[i].body, &none);
    if (s1 < 300 || s2 != s1)
      test__fail(__FILE__, __LINE__, "%s %s: %d and %d", routes[i].method, path, s1, s2);
    char *a = normalized(&theirs), *b = normalized(&none);
    if (strcmp(a, b))
      test__fail(__FILE__, __LINE__, "%s %s differs from a missing id:\n%s\n---\n%s",
                 routes[i].method, routes[i].path, a, b);
    pv_buf_addch(&theirs.body, 0);
    ASSERT(!strstr(theirs.body.data, "client-b") && !strstr(theirs.body.data, order_b) &&
           !strstr(theirs.body.data, "theirs@b.example"));
    free(a);
    free(b);
    test_response_release(&theirs);
    test_response_release(&none);
    checked++;
  }
  ASSERT_EQ(checked, sizeof routes / sizeof routes[0]);
  /* B's download, through B's order or A's own: what a missing one gets */
  const char *orders[] = {order_b, order_a}, *missing_orders[] = {missing, order_a};
  for (size_t i = 0; i < 2; i++) {
    snprintf(path, sizeof path, "/api/orders/%s/downloads/%s", orders[i], download_b);
    snprintf(missing_path, sizeof missing_path, "/api/orders/%s/downloads/%s",
             missing_orders[i], missing);
    test_response theirs, none;
    ASSERT_EQ(apit_req(&h.pg.t, "GET", path, h.tok_a, NULL, NULL, &theirs), 404);
    ASSERT_EQ(apit_req(&h.pg.t, "GET", missing_path, h.tok_a, NULL, NULL, &none), 404);
    char *a = normalized(&theirs), *b = normalized(&none);
    if (strcmp(a, b))
      test__fail(__FILE__, __LINE__, "GET %s differs from a missing id:\n%s\n---\n%s", path,
                 a, b);
    free(a);
    free(b);
    test_response_release(&theirs);
    test_response_release(&none);
  }
  /* B's order is untouched by A's attempts */
  snprintf(path, sizeof path, "/api/orders/%s", order_b);
  cJSON *j;
  call(&h, "GET", path, h.tok_b, NULL, NULL, 200, &j);
  ASSERT_STR_EQ(jstr(j, "status"), "submitted");
  cJSON_Delete(j);

  /* lists: A sees its own order and lead, nothing of B's, whatever it asks */
  const char *lists[] = {"/api/orders", "/api/orders?client_id=client-b", "/api/leads",
                         "/api/leads?order_id=%s", "/api/leads?campaign_id=camp-b"};
  for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
    snprintf(path, sizeof path, lists[i], order_b);
    ASSERT_EQ(apit_req(&h.pg.t, "GET", path, h.tok_a, NULL, NULL, &r), 200);
    pv_buf_addch(&r.body, 0);
    if (strstr(r.body.data, order_b) || strstr(r.body.data, lead_b) ||
        strstr(r.body.data, "client-b") || strstr(r.body.data, download_b))
      test__fail(__FILE__, __LINE__, "GET %s leaks: %s", path, r.body.data);
    test_response_release(&r);
  }
  call(&h, "GET", "/api/orders", h.tok_a, NULL, NULL, 200, &j);
  ASSERT_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(j, "items")), 1);
  cJSON_Delete(j);
  /* suppression check and list: a client's scope is its own */
  call(&h, "GET", "/api/suppressions", h.tok_a, NULL, NULL, 403, NULL);
  h7_stop(&h);
}

/* Server-made ids: an id in the create body is ignored. */
static void test_server_made_ids(void) {
  h7 h;
  h7_start(&h);
  cJSON *j;
  call(&h, "POST", "/api/orders", h.tok_a, NULL,
       "{\"id\":\"chosen\",\"order_id\":\"chosen\",\"name\":\"n\",\"type\":\"email\","
       "\"audience\":{\"kind\":\"filters\",\"filters\":\"{\\\"a\\\":1}\"},"
       "\"goals\":{\"lead_target\":1,\"start_date\":\"2026-01-01\",\"end_date\":\"2026-01-02\"}}",
       201, &j);
  ASSERT(strcmp(jstr(j, "id"), "chosen") != 0);
  ASSERT_EQ(strlen(jstr(j, "id")), 26);
  cJSON_Delete(j);
  /* filters that are not JSON are refused */
  call(&h, "POST", "/api/orders", h.tok_a, NULL,
       "{\"name\":\"n\",\"type\":\"email\","
       "\"audience\":{\"kind\":\"filters\",\"filters\":\"{oops\"},"
       "\"goals\":{\"lead_target\":1,\"start_date\":\"2026-01-01\",\"end_date\":\"2026-01-02\"}}",
       400, &j);
  ASSERT_STR_EQ(jstr(j, "field"), "/audience/filters");
  cJSON_Delete(j);
  /* a client user orders for its own client only */
  call(&h, "POST", "/api/orders", h.tok_a, NULL,
       "{\"client_id\":\"client-b\",\"name\":\"n\",\"type\":\"email\",\"audience\":"
       "{\"kind\":\"list\",\"list_id\":\"l1\"},\"goals\":{\"lead_target\":1,"
       "\"start_date\":\"2026-01-01\",\"end_date\":\"2026-01-02\"}}",
       403, NULL);
  h7_stop(&h);
}

PG_TEST_MAIN(TEST(test_suppression_check_normalizes), TEST(test_suppression_bulk_and_export),
             TEST(test_one_click_unsubscribe), TEST(test_consent),
             TEST(test_lead_state_machine), TEST(test_lead_takes_its_contacts_identifiers),
             TEST(test_bulk_approve_results), TEST(test_order_dashboard_and_download),
             TEST(test_large_download), TEST(test_cross_client_matrix),
             TEST(test_server_made_ids))
