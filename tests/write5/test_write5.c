/*
 * End-to-end tests of the account, contact, note and bulk job command
 * routes over loopback (a real LMDB log, the writer, the api on its loop):
 * every route's happy path and errors, If-Match, idempotent retries, the
 * batch upsert's per-row results, merge then unmerge, role denials, and
 * bulk jobs: progress, failures, and a job resumed after a stop or a crash
 * without applying an id twice. State is checked by folding the streams
 * from the log (the read models are another branch's).
 */
#include "tests/api/api_test_util.h"

#include "core/accounts.h"
#include "core/contacts.h"

#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------ */

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

static int req(apit *t, const char *method, const char *path, const char *token,
               const char *headers, const char *body) {
  test_response r;
  int status = apit_req(t, method, path, token, headers, body, &r);
  test_response_release(&r);
  return status;
}

/* A request whose JSON answer is returned (status into *status). */
static cJSON *call(apit *t, const char *method, const char *path, const char *token,
                   const char *headers, const char *body, int *status) {
  test_response r;
  *status = apit_req(t, method, path, token, headers, body, &r);
  cJSON *j = r.body.len ? apit_json(&r) : cJSON_CreateObject();
  test_response_release(&r);
  return j;
}

/* The problem's field of an error answer, checked to be `status`. */
static void expect_problem(apit *t, const char *method, const char *path, const char *token,
                           const char *headers, const char *body, int status,
                           const char *field) {
  int got;
  cJSON *p = call(t, method, path, token, headers, body, &got);
  if (got != status)
    test__fail(__FILE__, __LINE__, "%s %s: %d, want %d: %s", method, path, got, status,
               cJSON_PrintUnformatted(p));
  if (field) {
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(p, "field");
    if (!cJSON_IsString(f) || strcmp(f->valuestring, field) != 0)
      test__fail(__FILE__, __LINE__, "%s %s: field %s, want %s", method, path,
                 cJSON_IsString(f) ? f->valuestring : "(none)", field);
  }
  cJSON_Delete(p);
}

typedef struct fold_arg {
  entity_apply_fn apply;
  void *state;
} fold_arg;

static int fold_visit(void *arg, const evt_envelope *e, const uint8_t *raw, size_t len) {
  fold_arg *f = arg;
  (void)raw, (void)len;
  return f->apply(f->state, (const char *)e->type.ptr, e->type.len, e->payload,
                  e->payload_len);
}

static void fold(apit *t, const char *kind, const char *id, entity_apply_fn apply, void *st) {
  char stream[ENTITY_STREAM_MAX + 1];
  entity_stream(kind, id, stream);
  log_reader *rd;
  ASSERT_OK(log_read_begin(t->log, &rd));
  fold_arg f = {apply, st};
  ASSERT_OK(log_read_stream(rd, "default", stream, 1, fold_visit, &f));
  log_read_end(rd);
}

static const char *field_str(const surv_field *f) {
  return f->set && f->value.type == SURV_STR ? f->value.str : "";
}

typedef struct type_count {
  const char *type;
  size_t n;
} type_count;

static int count_visit(void *arg, const evt_envelope *e, const uint8_t *raw, size_t len) {
  type_count *c = arg;
  (void)raw, (void)len;
  if (mp_slice_eq(e->type, c->type)) c->n++;
  return 0;
}

/* Events of a type in the whole log. */
static size_t count_events(apit *t, const char *type) {
  type_count c = {type, 0};
  uint64_t next = 1;
  while (next <= log_head(t->log))
    ASSERT_OK(log_scan(t->log, next, 100000, 64u << 20, count_visit, &c, &next));
  return c.n;
}

static void user(apit *t, const char *role, char **token) {
  char id[USERS_ID_MAX], email[64];
  snprintf(email, sizeof email, "%s@example.com", role);
  apit_add_user(t, email, role, strcmp(role, "client_user") == 0 ? "acme" : NULL, id);
  *token = apit_token(t, id);
}

/* ---- accounts ----------------------------------------------------------- */

static void test_accounts_routes(void) {
  apit t;
  apit_start(&t, NULL);
  char *tok;
  user(&t, "data_ops", &tok);
  int st;
  test_response r;

  /* create: 201, Location, the classifier fills industry */
  ASSERT_EQ(apit_req(&t, "POST", "/api/accounts", tok, NULL,
                     "{\"name\":\"Acme Software\",\"domain\":\"https://www.Acme.com/about\","
                     "\"description\":\"cloud software platform\"}",
                     &r),
            201);
  cJSON *a = apit_json(&r);
  char acme[40], loc[96], etag[16];
  snprintf(acme, sizeof acme, "%s", jstr(a, "id"));
  ASSERT_EQ((int)jnum(a, "version"), 1);
  ASSERT(test_header(&r, "location", loc, sizeof loc));
  ASSERT(strstr(loc, acme) != NULL);
  ASSERT(test_header(&r, "etag", etag, sizeof etag));
  ASSERT_STR_EQ(etag, "\"1\"");
  cJSON_Delete(a);
  test_response_release(&r);
  acct_state s;
  acct_state_init(&s);
  fold(&t, "account", acme, acct_apply, &s);
  ASSERT_STR_EQ(field_str(&s.fields[ACCT_F_DOMAIN]), "acme.com");
  ASSERT_STR_EQ(field_str(&s.fields[ACCT_F_INDUSTRY]), "software");
  ASSERT_STR_EQ(s.fields[ACCT_F_INDUSTRY].source, "enrichment");
  ASSERT_STR_EQ(s.fields[ACCT_F_NAME].source, "api");
  acct_state_release(&s);

  /* domains are unique: the taken one is named by its pointer */
  expect_problem(&t, "POST", "/api/accounts", tok, NULL,
                 "{\"name\":\"Other\",\"domain\":\"acme.com\"}", 409, "/domain");
  expect_problem(&t, "POST", "/api/accounts", tok, NULL,
                 "{\"name\":\"Other\",\"domain\":\"other.com\",\"alternate_domains\":"
                 "[\"o.io\",\"mail.acme.com\"]}",
                 409, "/alternate_domains/1");
  expect_problem(&t, "POST", "/api/accounts", tok, NULL, "{\"name\":\"X\",\"salary\":1}", 400,
                 "/salary");
  expect_problem(&t, "POST", "/api/accounts", tok, NULL,
                 "{\"name\":\"X\",\"observed_at\":\"yesterday\"}", 400, "/observed_at");
  expect_problem(&t, "POST", "/api/accounts", tok, NULL, "{\"name\":\"X\",\"source\":\"A:B\"}",
                 400, "/source");
  expect_problem(&t, "POST", "/api/accounts", tok, NULL, "{\"name\":7}", 400, "/name");
  ASSERT_EQ(req(&t, "POST", "/api/accounts", tok, NULL, "[]"), 400);
  ASSERT_EQ(req(&t, "POST", "/api/accounts", tok, "Content-Type: text/csv\r\n", "{}"), 415);

  /* upsert by domain: the owner (any spelling of the domain), else a new one */
  cJSON *u = call(&t, "PUT", "/api/accounts/upsert", tok, NULL,
                  "{\"domain\":\"WWW.acme.com\",\"country\":\"FR\","
                  "\"observed_at\":\"2026-01-02T03:04:05.5+01:00\"}",
                  &st);
  ASSERT_EQ(st, 200);
  ASSERT_STR_EQ(jstr(u, "id"), acme);
  ASSERT_EQ((int)jnum(u, "version"), 2);
  cJSON_Delete(u);
  u = call(&t, "PUT", "/api/accounts/upsert", tok, NULL,
           "{\"domain\":\"beta.io\",\"name\":\"Beta Bank\",\"observed_at\":1700000000000000}", &st);
  ASSERT_EQ(st, 201);
  char beta[40];
  snprintf(beta, sizeof beta, "%s", jstr(u, "id"));
  cJSON_Delete(u);
  expect_problem(&t, "PUT", "/api/accounts/upsert", tok, NULL, "{\"name\":\"No domain\"}", 400,
                 "/domain");

  /* PATCH with If-Match: stale 412 (nothing written), current 200 */
  char path[128], hdr[160];
  snprintf(path, sizeof path, "/api/accounts/%s", acme);
  uint64_t head = log_head(t.log);
  expect_problem(&t, "PATCH", path, tok, "If-Match: \"1\"\r\n", "{\"name\":\"Acme\"}", 412,
                 "/headers/if-match");
  ASSERT_U64_EQ(log_head(t.log), head);
  u = call(&t, "PATCH", path, tok, "If-Match: \"2\"\r\n", "{\"name\":\"Acme\",\"sic_code\":null}",
           &st);
  ASSERT_EQ(st, 200);
  ASSERT_EQ((int)jnum(u, "version"), 3);
  cJSON_Delete(u);
  acct_state_init(&s);
  fold(&t, "account", acme, acct_apply, &s);
  ASSERT_STR_EQ(field_str(&s.fields[ACCT_F_NAME]), "Acme");
  ASSERT_STR_EQ(s.fields[ACCT_F_NAME].source, "manual");
  acct_state_release(&s);
  /* a PATCH that changes nothing answers the current version */
  u = call(&t, "PATCH", path, tok, NULL, "{\"name\":\"Acme\"}", &st);
  ASSERT_EQ(st, 200);
  ASSERT_EQ((int)jnum(u, "version"), 3);
  cJSON_Delete(u);
  expect_problem(&t, "PATCH", "/api/accounts/0123456789abcdef0123456789abcdef", tok, NULL,
                 "{\"name\":\"Z\"}", 404, NULL);
  expect_problem(&t, "PATCH", "/api/accounts/nope", tok, NULL, "{\"name\":\"Z\"}", 404, NULL);
  expect_problem(&t, "PATCH", path, tok, "If-Match: later\r\n", "{}", 400, "/headers/if-match");

  /* parent: set, a cycle refused, clear */
  char ppath[128], body[128];
  snprintf(ppath, sizeof ppath, "/api/accounts/%s/parent", beta);
  snprintf(body, sizeof body, "{\"parent_id\":\"%s\"}", acme);
  ASSERT_EQ(req(&t, "POST", ppath, tok, NULL, body), 200);
  snprintf(ppath, sizeof ppath, "/api/accounts/%s/parent", acme);
  snprintf(body, sizeof body, "{\"parent_id\":\"%s\"}", beta);
  expect_problem(&t, "POST", ppath, tok, NULL, body, 400, "/parent_id");
  expect_problem(&t, "POST", ppath, tok, NULL, "{\"parent_id\":3}", 400, "/parent_id");
  expect_problem(&t, "POST", ppath, tok, NULL, "{}", 400, "/parent_id");
  snprintf(ppath, sizeof ppath, "/api/accounts/%s/parent", beta);
  ASSERT_EQ(req(&t, "POST", ppath, tok, NULL, "{\"parent_id\":null}"), 200);
  acct_state_init(&s);
  fold(&t, "account", beta, acct_apply, &s);
  ASSERT_STR_EQ(field_str(&s.fields[ACCT_F_PARENT_ID]), "");
  acct_state_release(&s);

  /* custom fields: define (201), again (200), another type (409), values checked */
  const char *def = "{\"name\":\"tier\",\"type\":\"select\",\"options\":[\"gold\",\"silver\"]}";
  u = call(&t, "POST", "/api/custom-fields", tok, NULL, def, &st);
  ASSERT_EQ(st, 201);
  ASSERT_STR_EQ(jstr(u, "id"), "tier");
  cJSON_Delete(u);
  ASSERT_EQ(req(&t, "POST", "/api/custom-fields", tok, NULL, def), 200);
  ASSERT_EQ(req(&t, "POST", "/api/custom-fields", tok, NULL,
                "{\"name\":\"tier\",\"type\":\"text\"}"),
            409);
  expect_problem(&t, "POST", "/api/custom-fields", tok, NULL,
                 "{\"name\":\"x\",\"type\":\"colour\"}", 400, "/type");
  expect_problem(&t, "POST", "/api/custom-fields", tok, NULL,
                 "{\"name\":\"x\",\"type\":\"select\",\"options\":[1]}", 400, "/options/0");
  expect_problem(&t, "PATCH", path, tok, NULL, "{\"custom_fields\":{\"tier\":\"bronze\"}}", 400,
                 "/custom_fields/tier");
  ASSERT_EQ(req(&t, "PATCH", path, tok, NULL, "{\"custom_fields\":{\"tier\":\"gold\"}}"), 200);

  /* soft delete (again: no event), edits refused, restore */
  head = log_head(t.log);
  ASSERT_EQ(req(&t, "DELETE", path, tok, NULL, NULL), 200);
  ASSERT_EQ(req(&t, "DELETE", path, tok, NULL, NULL), 200);
  ASSERT_U64_EQ(log_head(t.log), head + 1);
  ASSERT_EQ(req(&t, "PATCH", path, tok, NULL, "{\"name\":\"Ghost\"}"), 404);
  expect_problem(&t, "PUT", "/api/accounts/upsert", tok, NULL, "{\"domain\":\"acme.com\"}", 409,
                 NULL);
  snprintf(hdr, sizeof hdr, "%s/restore", path);
  ASSERT_EQ(req(&t, "POST", hdr, tok, NULL, NULL), 200);
  acct_state_init(&s);
  fold(&t, "account", acme, acct_apply, &s);
  ASSERT(!s.deleted);
  acct_state_release(&s);
  free(tok);
  apit_stop(&t);
}

/* ---- contacts ----------------------------------------------------------- */

static void test_contacts_routes(void) {
  apit t;
  apit_start(&t, NULL);
  char *tok, *agent;
  user(&t, "campaign_manager", &tok);
  user(&t, "agent", &agent);
  int st;
  /* an account first: the contact links to it by its email's domain */
  ASSERT_EQ(req(&t, "POST", "/api/accounts", tok, NULL, "{\"name\":\"Acme\",\"domain\":\"acme.com\"}"),
            201);
  cJSON *c = call(&t, "POST", "/api/contacts", tok, NULL,
                  "{\"email\":\" Jane.Doe@ACME.com \",\"first_name\":\"Jane\",\"title\":\"VP "
                  "Sales\",\"phone\":\"01 42 68 53 00\",\"country\":\"FR\",\"source\":\"crm\","
                  "\"observed_at\":\"2026-03-01T10:00:00Z\",\"ext_ids\":[{\"source\":\"sf\","
                  "\"id\":\"003X\"}]}",
                  &st);
  ASSERT_EQ(st, 201);
  char jane[40], path[128];
  snprintf(jane, sizeof jane, "%s", jstr(c, "id"));
  snprintf(path, sizeof path, "/api/contacts/%s", jane);
  cJSON_Delete(c);
  contact_state s;
  contact_state_init(&s);
  fold(&t, "contact", jane, contact_apply, &s);
  ASSERT_STR_EQ(field_str(&s.fields[CONTACT_F_EMAIL]), "jane.doe@acme.com");
  ASSERT_STR_EQ(field_str(&s.fields[CONTACT_F_PHONE]), "+33142685300");
  ASSERT(field_str(&s.fields[CONTACT_F_ACCOUNT_ID])[0] != '\0');
  ASSERT_STR_EQ(s.fields[CONTACT_F_FIRST_NAME].source, "crm");
  contact_state_release(&s);

  /* the same upsert again: 200, nothing written, the current version */
  uint64_t head = log_head(t.log);
  c = call(&t, "POST", "/api/contacts", tok, NULL,
           "{\"email\":\"jane.doe@acme.com\",\"first_name\":\"Jane\",\"source\":\"crm\","
           "\"observed_at\":\"2026-03-01T10:00:00Z\"}",
           &st);
  ASSERT_EQ(st, 200);
  ASSERT_STR_EQ(jstr(c, "id"), jane);
  ASSERT_EQ((int)jnum(c, "version"), 1);
  cJSON_Delete(c);
  ASSERT_U64_EQ(log_head(t.log), head);

  /* PATCH is a manual edit: it sticks against a later CRM value */
  expect_problem(&t, "PATCH", path, tok, "If-Match: \"7\"\r\n", "{\"first_name\":\"J\"}", 412,
                 "/headers/if-match");
  c = call(&t, "PATCH", path, tok, "If-Match: \"1\"\r\n",
           "{\"first_name\":\"Janet\",\"source\":\"crm\",\"city\":\"Paris\"}", &st);
  ASSERT_EQ(st, 200);
  ASSERT_EQ((int)jnum(c, "version"), 2);
  cJSON_Delete(c);
  ASSERT_EQ(req(&t, "POST", "/api/contacts", tok, NULL,
                "{\"email\":\"jane.doe@acme.com\",\"first_name\":\"Jeanne\",\"source\":\"crm\","
                "\"observed_at\":\"2026-06-01T10:00:00Z\"}"),
            200);
  contact_state_init(&s);
  fold(&t, "contact", jane, contact_apply, &s);
  ASSERT_STR_EQ(field_str(&s.fields[CONTACT_F_FIRST_NAME]), "Janet");
  ASSERT_STR_EQ(s.fields[CONTACT_F_FIRST_NAME].source, "manual");
  contact_state_release(&s);

  /* errors name their field */
  expect_problem(&t, "POST", "/api/contacts", tok, NULL, "{\"email\":\"not an email\"}", 400,
                 "/email");
  expect_problem(&t, "POST", "/api/contacts", tok, NULL, "{\"first_name\":\"Nobody\"}", 400,
                 "/email");
  expect_problem(&t, "POST", "/api/contacts", tok, NULL,
                 "{\"email\":\"a@b.com\",\"ext_ids\":[{\"source\":\"sf\"}]}", 400,
                 "/ext_ids/0/id");
  expect_problem(&t, "POST", "/api/contacts", tok, NULL,
                 "{\"email\":\"a@b.com\",\"account_id\":\"0123456789abcdef0123456789abcdef\"}",
                 404, "/account_id");
  expect_problem(&t, "POST", "/api/contacts", tok, NULL, "{\"email\":\"a@b.com\",\"age\":3}",
                 400, "/age");
  /* an email another contact has: 409, merge them instead */
  ASSERT_EQ(req(&t, "POST", "/api/contacts", tok, NULL, "{\"email\":\"bob@acme.com\"}"), 201);
  expect_problem(&t, "PATCH", path, tok, NULL, "{\"email\":\"BOB@acme.com\"}", 409, "/email");
  expect_problem(&t, "PATCH", "/api/contacts/0123456789abcdef0123456789abcdef", tok, NULL,
                 "{\"city\":\"Rome\"}", 404, NULL);

  /* idempotent retry: the first answer, one event */
  const char *key = "Idempotency-Key: c-retry-1\r\n";
  test_response r1, r2;
  head = log_head(t.log);
  ASSERT_EQ(apit_req(&t, "POST", "/api/contacts", tok, key, "{\"email\":\"carl@x.org\"}", &r1),
            201);
  ASSERT_EQ(apit_req(&t, "POST", "/api/contacts", tok, key, "{\"email\":\"carl@x.org\"}", &r2),
            201);
  ASSERT_U64_EQ(log_head(t.log), head + 1);
  ASSERT_EQ(r1.body.len, r2.body.len);
  ASSERT(memcmp(r1.body.data, r2.body.data, r1.body.len) == 0);
  char replay[16];
  ASSERT(test_header(&r2, "idempotent-replayed", replay, sizeof replay));
  test_response_release(&r1);
  test_response_release(&r2);

  /* delete (the upsert that reaches it is refused), restore, relink */
  ASSERT_EQ(req(&t, "DELETE", path, tok, NULL, NULL), 200);
  expect_problem(&t, "POST", "/api/contacts", tok, NULL, "{\"email\":\"jane.doe@acme.com\"}",
                 409, "/email");
  expect_problem(&t, "PATCH", path, tok, NULL, "{\"city\":\"Rome\"}", 404, NULL);
  char sub[160];
  snprintf(sub, sizeof sub, "%s/restore", path);
  ASSERT_EQ(req(&t, "POST", sub, tok, NULL, NULL), 200);
  snprintf(sub, sizeof sub, "%s/relink", path);
  ASSERT_EQ(req(&t, "POST", sub, tok, NULL, NULL), 200);
  ASSERT_EQ(req(&t, "DELETE", "/api/contacts/zz", tok, NULL, NULL), 404);

  /* notes: agents too; the entity must exist */
  char note[256];
  snprintf(note, sizeof note, "{\"entity\":\"contact\",\"id\":\"%s\",\"text\":\"Called.\"}", jane);
  c = call(&t, "POST", "/api/notes", agent, NULL, note, &st);
  ASSERT_EQ(st, 201);
  ASSERT_EQ((int)jnum(c, "version"), 1);
  cJSON_Delete(c);
  expect_problem(&t, "POST", "/api/notes", agent, NULL,
                 "{\"entity\":\"contact\",\"id\":\"0123456789abcdef0123456789abcdef\","
                 "\"text\":\"x\"}",
                 404, "/id");
  expect_problem(&t, "POST", "/api/notes", agent, NULL,
                 "{\"entity\":\"lead\",\"id\":\"x\",\"text\":\"x\"}", 400, "/entity");
  snprintf(note, sizeof note, "{\"entity\":\"contact\",\"id\":\"%s\",\"text\":\"\"}", jane);
  expect_problem(&t, "POST", "/api/notes", agent, NULL, note, 400, "/text");
  ASSERT_EQ(count_events(&t, "note.added"), 1);
  /* agents write nothing else */
  ASSERT_EQ(req(&t, "PATCH", path, agent, NULL, "{\"city\":\"Rome\"}"), 403);
  free(agent);
  free(tok);
  apit_stop(&t);
}

static void test_merge_then_unmerge(void) {
  apit t;
  apit_start(&t, NULL);
  char *tok;
  user(&t, "admin", &tok);
  int st;
  cJSON *w = call(&t, "POST", "/api/contacts", tok, NULL,
                  "{\"email\":\"ann@acme.com\",\"first_name\":\"Ann\",\"source\":\"import\"}", &st);
  cJSON *l = call(&t, "POST", "/api/contacts", tok, NULL,
                  "{\"email\":\"ann.smith@gmail.com\",\"first_name\":\"Annie\",\"last_name\":"
                  "\"Smith\",\"city\":\"Lyon\",\"source\":\"crm\"}",
                  &st);
  char win[40], lose[40];
  snprintf(win, sizeof win, "%s", jstr(w, "id"));
  snprintf(lose, sizeof lose, "%s", jstr(l, "id"));
  cJSON_Delete(w);
  cJSON_Delete(l);
  pv_buf before_w = PV_BUF_INIT, before_l = PV_BUF_INIT, after_w = PV_BUF_INIT,
         after_l = PV_BUF_INIT;
  contact_state s;
  contact_state_init(&s);
  fold(&t, "contact", win, contact_apply, &s);
  contact_state_format(&s, &before_w);
  contact_state_release(&s);
  contact_state_init(&s);
  fold(&t, "contact", lose, contact_apply, &s);
  contact_state_format(&s, &before_l);
  contact_state_release(&s);

  char body[160], path[160];
  snprintf(body, sizeof body, "{\"winner_id\":\"%s\",\"loser_id\":\"%s\"}", win, lose);
  expect_problem(&t, "POST", "/api/contacts/merge", tok, "If-Match: \"9\"\r\n", body, 412, NULL);
  cJSON *m = call(&t, "POST", "/api/contacts/merge", tok, NULL, body, &st);
  ASSERT_EQ(st, 200);
  ASSERT_STR_EQ(jstr(m, "id"), win);
  cJSON_Delete(m);
  contact_state_init(&s);
  fold(&t, "contact", lose, contact_apply, &s);
  ASSERT_STR_EQ(s.merged_into, win);
  contact_state_release(&s);
  contact_state_init(&s);
  fold(&t, "contact", win, contact_apply, &s);
  ASSERT_STR_EQ(field_str(&s.fields[CONTACT_F_LAST_NAME]), "Smith");
  contact_state_release(&s);
  /* the loser's email now reaches the winner */
  m = call(&t, "POST", "/api/contacts", tok, NULL, "{\"email\":\"ann.smith@gmail.com\"}", &st);
  ASSERT_STR_EQ(jstr(m, "id"), win);
  cJSON_Delete(m);
  expect_problem(&t, "POST", "/api/contacts/merge", tok, NULL, body, 400, "/loser_id");
  snprintf(body, sizeof body, "{\"winner_id\":\"%s\",\"loser_id\":\"%s\"}", win, win);
  expect_problem(&t, "POST", "/api/contacts/merge", tok, NULL, body, 400, NULL);
  expect_problem(&t, "POST", "/api/contacts/merge", tok, NULL, "{\"winner_id\":\"x\"}", 400,
                 "/loser_id");

  /* unmerge by the merged contact restores both exactly */
  snprintf(path, sizeof path, "/api/contacts/%s/unmerge", lose);
  m = call(&t, "POST", path, tok, NULL, NULL, &st);
  ASSERT_EQ(st, 200);
  ASSERT_STR_EQ(jstr(m, "id"), win);
  cJSON_Delete(m);
  contact_state_init(&s);
  fold(&t, "contact", win, contact_apply, &s);
  contact_state_format(&s, &after_w);
  contact_state_release(&s);
  contact_state_init(&s);
  fold(&t, "contact", lose, contact_apply, &s);
  contact_state_format(&s, &after_l);
  contact_state_release(&s);
  ASSERT_STR_EQ(after_w.data, before_w.data);
  ASSERT_STR_EQ(after_l.data, before_l.data);
  expect_problem(&t, "POST", path, tok, NULL, NULL, 400, NULL);
  pv_buf_release(&before_w);
  pv_buf_release(&before_l);
  pv_buf_release(&after_w);
  pv_buf_release(&after_l);
  free(tok);
  apit_stop(&t);
}

/* ---- batch -------------------------------------------------------------- */

static void test_batch_mixed_rows(void) {
  apit t;
  apit_start(&t, NULL);
  char *tok;
  user(&t, "data_ops", &tok);
  const char *body =
      "{\"contacts\":["
      "{\"email\":\"a1@batch.io\",\"first_name\":\"A\"},"
      "{\"email\":\"broken@\"},"
      "{\"email\":\"a2@batch.io\",\"source\":\"import\",\"observed_at\":\"2026-01-01T00:00:00Z\"},"
      "{\"email\":\"a3@batch.io\",\"shoe_size\":44},"
      "{\"email\":\"A1@batch.io\",\"last_name\":\"One\"},"
      "7]}";
  const char *key = "Idempotency-Key: batch-1\r\n";
  uint64_t head = log_head(t.log);
  int st;
  cJSON *b = call(&t, "POST", "/api/contacts/batch", tok, key, body, &st);
  ASSERT_EQ(st, 200);
  ASSERT_EQ((int)jnum(b, "created"), 2);
  ASSERT_EQ((int)jnum(b, "updated"), 1);
  ASSERT_EQ((int)jnum(b, "failed"), 3);
  const cJSON *rows = cJSON_GetObjectItemCaseSensitive(b, "results");
  ASSERT_EQ(cJSON_GetArraySize(rows), 6);
  int want[] = {201, 400, 201, 400, 200, 400};
  const char *fields[] = {NULL, "/contacts/1/email", NULL, "/contacts/3/shoe_size", NULL,
                          "/contacts/5"};
  for (int i = 0; i < 6; i++) {
    const cJSON *row = cJSON_GetArrayItem(rows, i);
    ASSERT_EQ((int)jnum(row, "index"), i);
    ASSERT_EQ((int)jnum(row, "status"), want[i]);
    if (fields[i]) {
      const cJSON *e = cJSON_GetObjectItemCaseSensitive(row, "error");
      ASSERT_STR_EQ(jstr(e, "field"), fields[i]);
    }
  }
  ASSERT_STR_EQ(jstr(cJSON_GetArrayItem(rows, 4), "id"), jstr(cJSON_GetArrayItem(rows, 0), "id"));
  /* only the valid rows' events */
  ASSERT_U64_EQ(log_head(t.log), head + 3);
  ASSERT_EQ(count_events(&t, "contact.created"), 2);

  /* the retry answers every row as before, writing nothing */
  cJSON *again = call(&t, "POST", "/api/contacts/batch", tok, key, body, &st);
  ASSERT_EQ(st, 200);
  ASSERT_U64_EQ(log_head(t.log), head + 3);
  const cJSON *rows2 = cJSON_GetObjectItemCaseSensitive(again, "results");
  for (int i = 0; i < 6; i++) {
    const cJSON *x = cJSON_GetArrayItem(rows, i), *y = cJSON_GetArrayItem(rows2, i);
    ASSERT_EQ((int)jnum(x, "status"), (int)jnum(y, "status"));
    if (want[i] < 300) {
      ASSERT_STR_EQ(jstr(x, "id"), jstr(y, "id"));
      ASSERT_EQ((int)jnum(x, "position"), (int)jnum(y, "position"));
      ASSERT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(y, "replayed")));
    }
  }
  cJSON_Delete(again);
  cJSON_Delete(b);

  /* the batch's own shape */
  expect_problem(&t, "POST", "/api/contacts/batch", tok, NULL, "{\"contacts\":[]}", 400,
                 "/contacts");
  expect_problem(&t, "POST", "/api/contacts/batch", tok, NULL, "{}", 400, "/contacts");
  expect_problem(&t, "POST", "/api/contacts/batch", tok, NULL, "{\"contacts\":{}}", 400,
                 "/contacts");
  expect_problem(&t, "POST", "/api/contacts/batch", tok, NULL, "{\"contacts\":[{}],\"x\":1}", 400,
                 "/x");
  pv_buf big = PV_BUF_INIT;
  pv_buf_addstr(&big, "{\"contacts\":[");
  for (int i = 0; i < 1001; i++) pv_buf_addf(&big, "%s{\"email\":\"x%d@y.io\"}", i ? "," : "", i);
  pv_buf_addstr(&big, "]}");
  expect_problem(&t, "POST", "/api/contacts/batch", tok, NULL, big.data, 400, "/contacts");
  pv_buf_release(&big);
  free(tok);
  apit_stop(&t);
}

/* ---- roles -------------------------------------------------------------- */

static void test_role_denials(void) {
  apit t;
  apit_start(&t, NULL);
  char *client, *agent, *qa;
  user(&t, "client_user", &client);
  user(&t, "agent", &agent);
  user(&t, "qa_analyst", &qa);
  static const char *const routes[][2] = {
      {"POST", "/api/accounts"},
      {"PUT", "/api/accounts/upsert"},
      {"PATCH", "/api/accounts/0123456789abcdef0123456789abcdef"},
      {"DELETE", "/api/accounts/0123456789abcdef0123456789abcdef"},
      {"POST", "/api/accounts/0123456789abcdef0123456789abcdef/restore"},
      {"POST", "/api/accounts/0123456789abcdef0123456789abcdef/parent"},
      {"POST", "/api/accounts/bulk"},
      {"POST", "/api/custom-fields"},
      {"POST", "/api/contacts"},
      {"PATCH", "/api/contacts/0123456789abcdef0123456789abcdef"},
      {"DELETE", "/api/contacts/0123456789abcdef0123456789abcdef"},
      {"POST", "/api/contacts/0123456789abcdef0123456789abcdef/restore"},
      {"POST", "/api/contacts/0123456789abcdef0123456789abcdef/unmerge"},
      {"POST", "/api/contacts/0123456789abcdef0123456789abcdef/relink"},
      {"POST", "/api/contacts/merge"},
      {"POST", "/api/contacts/batch"},
      {"POST", "/api/contacts/bulk"},
      {"GET", "/api/jobs/0123456789abcdef0123456789abcdef"},
      {"POST", "/api/notes"},
  };
  size_t n = sizeof routes / sizeof routes[0];
  for (size_t i = 0; i < n; i++) {
    bool notes = strcmp(routes[i][1], "/api/notes") == 0;
    const char *body = strcmp(routes[i][0], "GET") && strcmp(routes[i][0], "DELETE") ? "{}" : NULL;
    ASSERT_EQ(req(&t, routes[i][0], routes[i][1], client, NULL, body), 403);
    int a = req(&t, routes[i][0], routes[i][1], agent, NULL, body);
    int q = req(&t, routes[i][0], routes[i][1], qa, NULL, body);
    if (notes) {
      ASSERT_EQ(a, 400); /* allowed in; the empty body is refused */
      ASSERT_EQ(q, 400);
    } else {
      ASSERT_EQ(a, 403);
      ASSERT_EQ(q, 403);
    }
    ASSERT_EQ(req(&t, routes[i][0], routes[i][1], NULL, NULL, body), 401);
  }
  free(client);
  free(agent);
  free(qa);
  apit_stop(&t);
}

/* ---- bulk jobs ---------------------------------------------------------- */

/* Creates n contacts bulkN@x.io through the batch route; ids into ids. */
static void make_contacts(apit *t, const char *tok, size_t n, char (*ids)[40]) {
  for (size_t from = 0; from < n; from += 1000) {
    pv_buf b = PV_BUF_INIT;
    pv_buf_addstr(&b, "{\"contacts\":[");
    size_t to = from + 1000 < n ? from + 1000 : n;
    for (size_t i = from; i < to; i++)
      pv_buf_addf(&b, "%s{\"email\":\"bulk%zu@x.io\",\"city\":\"Oslo\"}", i > from ? "," : "", i);
    pv_buf_addstr(&b, "]}");
    int st;
    cJSON *r = call(t, "POST", "/api/contacts/batch", tok, NULL, b.data, &st);
    ASSERT_EQ(st, 200);
    ASSERT_EQ((int)jnum(r, "failed"), 0);
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(r, "results");
    for (size_t i = from; i < to; i++)
      snprintf(ids[i], 40, "%s", jstr(cJSON_GetArrayItem(rows, (int)(i - from)), "id"));
    cJSON_Delete(r);
    pv_buf_release(&b);
  }
}

static char *bulk_body(const char *action, const char *fields, char (*ids)[40], size_t n,
                       const char *extra_id) {
  pv_buf b = PV_BUF_INIT;
  pv_buf_addf(&b, "{\"action\":\"%s\",", action);
  if (fields) pv_buf_addf(&b, "\"fields\":%s,", fields);
  pv_buf_addstr(&b, "\"ids\":[");
  for (size_t i = 0; i < n; i++) pv_buf_addf(&b, "%s\"%s\"", i ? "," : "", ids[i]);
  if (extra_id) pv_buf_addf(&b, ",\"%s\"", extra_id);
  pv_buf_addstr(&b, "]}");
  return b.data;
}

/* Polls the job until it is no longer running; the last answer. */
static cJSON *wait_job(apit *t, const char *tok, const char *id, bool *saw_midway) {
  char path[96];
  snprintf(path, sizeof path, "/api/jobs/%s", id);
  double last = 0;
  for (int i = 0; i < 20000; i++) {
    int st;
    cJSON *j = call(t, "GET", path, tok, NULL, NULL, &st);
    ASSERT_EQ(st, 200);
    double count = jnum(j, "done") + jnum(j, "failed");
    ASSERT(count >= last); /* progress only grows */
    last = count;
    if (strcmp(jstr(j, "status"), "running") != 0) return j;
    if (saw_midway && count < jnum(j, "total")) {
      *saw_midway = true;
      ASSERT(cJSON_GetObjectItemCaseSensitive(j, "rows_per_s") != NULL);
    }
    cJSON_Delete(j);
    usleep(2000);
  }
  test__fail(__FILE__, __LINE__, "job %s never finished", id);
  return NULL;
}

/* A writer command that holds the writer until released: the test's way
 * to look at a job while it is surely mid-way. */
typedef struct gate {
  sem_t entered, release;
} gate;

static int gate_decide(writer_ctx *ctx, void *arg, pv_error *err) {
  gate *g = arg;
  (void)ctx, (void)err;
  sem_post(&g->entered);
  sem_wait(&g->release);
  return 0;
}

static void gate_done(writer_cmd *cmd) { free(cmd); }

#define BULK_N 5000

static void test_bulk_job_progress_and_report(void) {
  apit t;
  apit_start(&t, NULL);
  char *tok;
  user(&t, "data_ops", &tok);
  char (*ids)[40] = calloc(BULK_N, 40);
  make_contacts(&t, tok, BULK_N, ids);

  /* 5000 deletes and one unknown id */
  char *body = bulk_body("delete", NULL, ids, BULK_N, "ffffffffffffffffffffffffffffffff");
  int st;
  cJSON *acc = call(&t, "POST", "/api/contacts/bulk", tok, NULL, body, &st);
  ASSERT_EQ(st, 202);
  ASSERT_EQ((int)jnum(acc, "total"), BULK_N + 1);
  char job[40];
  snprintf(job, sizeof job, "%s", jstr(acc, "job_id"));
  cJSON_Delete(acc);
  /* hold the writer: whatever the job has reached is then stable */
  gate g;
  sem_init(&g.entered, 0, 0);
  sem_init(&g.release, 0, 0);
  writer_cmd *cmd = calloc(1, sizeof *cmd);
  *cmd = (writer_cmd){.tenant = "default", .actor = "test", .decide = gate_decide, .arg = &g,
                      .done = gate_done};
  ASSERT_OK(writer_submit(t.writer, cmd));
  sem_wait(&g.entered);
  char path[96];
  snprintf(path, sizeof path, "/api/jobs/%s", job);
  cJSON *mid = call(&t, "GET", path, tok, NULL, NULL, &st);
  ASSERT_EQ(st, 200);
  bool running = strcmp(jstr(mid, "status"), "running") == 0;
  if (running) {
    ASSERT(jnum(mid, "done") + jnum(mid, "failed") < BULK_N + 1);
    ASSERT(cJSON_GetObjectItemCaseSensitive(mid, "rows_per_s") != NULL);
    ASSERT_STR_EQ(jstr(mid, "action"), "delete");
  } else {
    fprintf(stderr, "# the job finished before the writer was held\n");
  }
  cJSON_Delete(mid);
  sem_post(&g.release);
  bool midway = false;
  cJSON *fin = wait_job(&t, tok, job, &midway);
  ASSERT_STR_EQ(jstr(fin, "status"), "finished");
  ASSERT_EQ((int)jnum(fin, "done"), BULK_N);
  ASSERT_EQ((int)jnum(fin, "failed"), 1);
  const cJSON *fails = cJSON_GetObjectItemCaseSensitive(fin, "failures");
  ASSERT_EQ(cJSON_GetArraySize(fails), 1);
  ASSERT_EQ((int)jnum(cJSON_GetArrayItem(fails, 0), "index"), BULK_N);
  ASSERT_STR_EQ(jstr(cJSON_GetArrayItem(fails, 0), "code"), "ENOTFOUND");
  cJSON_Delete(fin);
  ASSERT_EQ(count_events(&t, "contact.deleted"), BULK_N);
  ASSERT_EQ(count_events(&t, "bulk_job.finished"), 1);
  free(body);

  /* an update of a few: source manual, failures reported per id */
  body = bulk_body("restore", NULL, ids, 10, NULL);
  acc = call(&t, "POST", "/api/contacts/bulk", tok, NULL, body, &st);
  ASSERT_EQ(st, 202);
  cJSON_Delete(wait_job(&t, tok, jstr(acc, "job_id"), NULL));
  cJSON_Delete(acc);
  free(body);
  body = bulk_body("update", "{\"city\":\"Bergen\"}", ids, 11, NULL);
  acc = call(&t, "POST", "/api/contacts/bulk", tok, NULL, body, &st);
  ASSERT_EQ(st, 202);
  fin = wait_job(&t, tok, jstr(acc, "job_id"), NULL);
  ASSERT_EQ((int)jnum(fin, "done"), 10);
  ASSERT_EQ((int)jnum(fin, "failed"), 1); /* the 11th is still deleted */
  cJSON_Delete(fin);
  cJSON_Delete(acc);
  free(body);
  contact_state s;
  contact_state_init(&s);
  fold(&t, "contact", ids[3], contact_apply, &s);
  ASSERT_STR_EQ(field_str(&s.fields[CONTACT_F_CITY]), "Bergen");
  ASSERT_STR_EQ(s.fields[CONTACT_F_CITY].source, "manual");
  contact_state_release(&s);

  /* accounts too */
  ASSERT_EQ(req(&t, "POST", "/api/accounts", tok, NULL, "{\"name\":\"Acme\",\"domain\":\"acme.com\"}"),
            201);
  acc = call(&t, "PUT", "/api/accounts/upsert", tok, NULL, "{\"domain\":\"acme.com\"}", &st);
  char abody[160];
  snprintf(abody, sizeof abody, "{\"action\":\"update\",\"fields\":{\"country\":\"NO\"},\"ids\":[\"%s\"]}",
           jstr(acc, "id"));
  cJSON_Delete(acc);
  acc = call(&t, "POST", "/api/accounts/bulk", tok, NULL, abody, &st);
  ASSERT_EQ(st, 202);
  fin = wait_job(&t, tok, jstr(acc, "job_id"), NULL);
  ASSERT_EQ((int)jnum(fin, "done"), 1);
  cJSON_Delete(fin);
  cJSON_Delete(acc);

  /* the request's own errors */
  expect_problem(&t, "POST", "/api/contacts/bulk", tok, NULL, "{\"action\":\"explode\",\"ids\":[]}",
                 400, "/action");
  expect_problem(&t, "POST", "/api/contacts/bulk", tok, NULL, "{\"action\":\"delete\",\"ids\":[]}",
                 400, "/ids");
  expect_problem(&t, "POST", "/api/contacts/bulk", tok, NULL,
                 "{\"action\":\"delete\",\"ids\":[\"x\"]}", 400, "/ids/0");
  expect_problem(&t, "POST", "/api/contacts/bulk", tok, NULL,
                 "{\"action\":\"update\",\"fields\":{\"email\":\"no\"},\"ids\":[\"x\"]}", 400,
                 "/fields/email");
  expect_problem(&t, "POST", "/api/contacts/bulk", tok, NULL,
                 "{\"action\":\"delete\",\"fields\":{},\"ids\":[\"x\"]}", 400, "/fields");
  expect_problem(&t, "POST", "/api/contacts/bulk", tok, NULL,
                 "{\"action\":\"delete\",\"filter\":{\"city\":\"Oslo\"},\"expected_count\":5}",
                 503, "/filter");
  expect_problem(&t, "GET", "/api/jobs/0123456789abcdef0123456789abcdef", tok, NULL, NULL, 404,
                 NULL);
  free(ids);
  free(tok);
  apit_stop(&t);
}

/* A retried bulk request answers the first job. */
static void test_bulk_idempotent_request(void) {
  apit t;
  apit_start(&t, NULL);
  char *tok;
  user(&t, "admin", &tok);
  char (*ids)[40] = calloc(3, 40);
  make_contacts(&t, tok, 3, ids);
  char *body = bulk_body("delete", NULL, ids, 3, NULL);
  const char *key = "Idempotency-Key: bulk-once\r\n";
  int st;
  cJSON *a = call(&t, "POST", "/api/contacts/bulk", tok, key, body, &st);
  ASSERT_EQ(st, 202);
  cJSON *b = call(&t, "POST", "/api/contacts/bulk", tok, key, body, &st);
  ASSERT_EQ(st, 202);
  ASSERT_STR_EQ(jstr(a, "job_id"), jstr(b, "job_id"));
  cJSON_Delete(wait_job(&t, tok, jstr(a, "job_id"), NULL));
  ASSERT_EQ(count_events(&t, "bulk_job.started"), 1);
  ASSERT_EQ(count_events(&t, "contact.deleted"), 3);
  cJSON_Delete(a);
  cJSON_Delete(b);
  free(body);
  free(ids);
  free(tok);
  apit_stop(&t);
}

/* Stop the API right after the job starts, start a new one on the same
 * log: the job is resumed and every id applied exactly once. */
static void test_bulk_job_resumes_after_stop(void) {
  apit t;
  apit_start(&t, NULL);
  char *tok;
  char uid[USERS_ID_MAX];
  apit_add_user(&t, "ops@example.com", "data_ops", NULL, uid);
  tok = apit_token(&t, uid);
  char (*ids)[40] = calloc(BULK_N, 40);
  make_contacts(&t, tok, BULK_N, ids);
  char *body = bulk_body("delete", NULL, ids, BULK_N, NULL);
  int st;
  cJSON *acc = call(&t, "POST", "/api/contacts/bulk", tok, NULL, body, &st);
  ASSERT_EQ(st, 202);
  char job[40];
  snprintf(job, sizeof job, "%s", jstr(acc, "job_id"));
  cJSON_Delete(acc);
  apit_stop(&t);
  free(tok);
  apit_start(&t, NULL); /* the same log: the job resumes, or has finished */
  tok = apit_token(&t, uid);
  cJSON *fin = wait_job(&t, tok, job, NULL);
  ASSERT_STR_EQ(jstr(fin, "status"), "finished");
  ASSERT_EQ((int)jnum(fin, "done"), BULK_N);
  ASSERT_EQ((int)jnum(fin, "failed"), 0);
  cJSON_Delete(fin);
  ASSERT_EQ(count_events(&t, "contact.deleted"), BULK_N);
  ASSERT_EQ(count_events(&t, "bulk_job.finished"), 1);
  free(body);
  free(ids);
  free(tok);
  apit_stop(&t);
}

/* A crash mid-job, made exact: the job's record and its first 1000
 * commands (with the job's keys) are written as a crashed run left them;
 * the next API resumes the job without applying those again. */
typedef struct crashed_job {
  const char *id;
  char (*ids)[40];
  size_t n;
} crashed_job;

static int crashed_decide(writer_ctx *ctx, void *arg, pv_error *err) {
  crashed_job *c = arg;
  pv_buf p = PV_BUF_INIT;
  msgpack_packer pk;
  mp_packer_init(&pk, &p);
  msgpack_pack_map(&pk, 4);
  mp_pack_cstr(&pk, "job_id");
  mp_pack_cstr(&pk, c->id);
  mp_pack_cstr(&pk, "entity");
  mp_pack_cstr(&pk, "contact");
  mp_pack_cstr(&pk, "action");
  mp_pack_cstr(&pk, "delete");
  mp_pack_cstr(&pk, "total");
  msgpack_pack_uint64(&pk, c->n);
  int rc = writer_emit(ctx, "bulk_jobs", LOG_EXPECT_ANY, "bulk_job.started", 1, p.data, p.len,
                       err);
  pv_buf_reset(&p);
  mp_packer_init(&pk, &p);
  msgpack_pack_map(&pk, 3);
  mp_pack_cstr(&pk, "job_id");
  mp_pack_cstr(&pk, c->id);
  mp_pack_cstr(&pk, "offset");
  msgpack_pack_uint64(&pk, 0);
  mp_pack_cstr(&pk, "ids");
  msgpack_pack_array(&pk, c->n);
  for (size_t i = 0; i < c->n; i++) mp_pack_cstr(&pk, c->ids[i]);
  char stream[64];
  snprintf(stream, sizeof stream, "bulk_job-%s", c->id);
  if (rc == 0)
    rc = writer_emit(ctx, stream, LOG_EXPECT_ANY, "bulk_job.selected", 1, p.data, p.len, err);
  pv_buf_release(&p);
  return rc;
}

static void test_bulk_job_resumes_after_crash(void) {
  apit t;
  apit_start(&t, NULL);
  char uid[USERS_ID_MAX];
  apit_add_user(&t, "ops@example.com", "data_ops", NULL, uid);
  char *tok = apit_token(&t, uid);
  size_t n = 3000;
  char (*ids)[40] = calloc(n, 40);
  make_contacts(&t, tok, n, ids);
  const char *job = "00000000000000000000000000c0ffee";
  crashed_job cj = {job, ids, n};
  writer_cmd cmd = {.tenant = "default", .actor = "user:ops", .decide = crashed_decide, .arg = &cj};
  ASSERT_OK(writer_run(t.writer, &cmd));
  for (size_t i = 0; i < 1000; i++) {
    char key[80];
    snprintf(key, sizeof key, "job:%s:%zu", job, i);
    contact_id_arg a = {.id = ids[i]};
    writer_cmd d = {.tenant = "default", .actor = "user:ops", .idempotency_key = key,
                    .decide = contact_delete_decide, .arg = &a};
    ASSERT_OK(writer_run(t.writer, &d));
  }
  ASSERT_EQ(count_events(&t, "contact.deleted"), 1000);
  apit_stop(&t);
  free(tok);

  apit_start(&t, NULL); /* resumes at start */
  tok = apit_token(&t, uid);
  cJSON *fin = wait_job(&t, tok, job, NULL);
  ASSERT_STR_EQ(jstr(fin, "status"), "finished");
  ASSERT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(fin, "resumed")));
  ASSERT_EQ((int)jnum(fin, "done"), (int)n);
  cJSON_Delete(fin);
  ASSERT_EQ(count_events(&t, "contact.deleted"), n);
  apit_stop(&t);
  /* and a finished job read back from the log after another restart */
  apit_start(&t, NULL);
  free(tok);
  tok = apit_token(&t, uid);
  char path[96];
  snprintf(path, sizeof path, "/api/jobs/%s", job);
  int st;
  cJSON *again = call(&t, "GET", path, tok, NULL, NULL, &st);
  ASSERT_EQ(st, 200);
  ASSERT_STR_EQ(jstr(again, "status"), "finished");
  ASSERT_EQ((int)jnum(again, "done"), (int)n);
  ASSERT_EQ(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(again, "failures")), 0);
  cJSON_Delete(again);
  ASSERT_EQ(count_events(&t, "contact.deleted"), n);
  free(ids);
  free(tok);
  apit_stop(&t);
}

TEST_MAIN(TEST(test_accounts_routes), TEST(test_contacts_routes), TEST(test_merge_then_unmerge),
          TEST(test_batch_mixed_rows), TEST(test_role_denials),
          TEST(test_bulk_job_progress_and_report), TEST(test_bulk_idempotent_request),
          TEST(test_bulk_job_resumes_after_stop), TEST(test_bulk_job_resumes_after_crash))
