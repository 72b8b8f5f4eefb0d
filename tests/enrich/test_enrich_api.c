/*
 * The API with an enrichment provider configured (api_config.enricher):
 * account creates and upserts get the provider's industry with source
 * "enrichment"; a provider that fails (500, timeout, nothing listening)
 * still lets the account be written, with the built-in rules' answer, and
 * is counted; an industry given in the body asks nobody. The provider is
 * tests/enrich's stand-in on loopback; state is read back by folding the
 * account's stream from the log.
 */
#include "adapters/enrich/enrich_http.h"
#include "adapters/http/http_metrics.h"
#include "tests/api/api_test_util.h"
#include "tests/enrich/stand_in.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KEY "sk_api_test"

typedef struct fixture {
  stand_in s;
  bool stand_in_up;
  enrich_http *p;
  apit t;
  char *tok;
} fixture;

/* The api with a provider at url (the stand-in's when NULL). */
static void start(fixture *f, const char *url, long timeout_ms) {
  memset(f, 0, sizeof *f);
  char own[64];
  if (!url) {
    stand_in_start(&f->s);
    f->stand_in_up = true;
    snprintf(own, sizeof own, "http://127.0.0.1:%d", f->s.port);
    url = own;
  }
  enrich_http_config cfg = {url, KEY, "enrichment.key", 0, timeout_ms};
  pv_error err = PV_ERROR_INIT;
  ASSERT_OK(enrich_http_new(&cfg, &f->p, &err));
  apit_opts o = {.enricher = enrich_http_enricher(f->p)};
  apit_start(&f->t, &o);
  char id[USERS_ID_MAX];
  apit_add_user(&f->t, "ops@example.com", "data_ops", NULL, id);
  f->tok = apit_token(&f->t, id);
}

static void stop(fixture *f) {
  free(f->tok);
  apit_stop(&f->t);
  if (f->stand_in_up) stand_in_stop(&f->s);
  enrich_http_free(f->p);
}

typedef struct fold_arg {
  acct_state *st;
} fold_arg;

static int fold_visit(void *arg, const evt_envelope *e, const uint8_t *raw, size_t len) {
  fold_arg *f = arg;
  (void)raw, (void)len;
  return acct_apply(f->st, (const char *)e->type.ptr, e->type.len, e->payload, e->payload_len);
}

/* Writes an account through the route; its industry and that field's
 * source into ind / src ("" when unset). */
static void write_account(fixture *f, const char *method, const char *path, const char *body,
                          int want, char ind[64], char src[64]) {
  test_response r;
  int st = apit_req(&f->t, method, path, f->tok, NULL, body, &r);
  if (st != want)
    test__fail(__FILE__, __LINE__, "%s %s: %d, want %d: %.*s", method, path, st, want,
               (int)r.body.len, r.body.data);
  cJSON *j = apit_json(&r);
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
  ASSERT(cJSON_IsString(id));
  char stream[ENTITY_STREAM_MAX + 1];
  entity_stream("account", id->valuestring, stream);
  cJSON_Delete(j);
  test_response_release(&r);
  acct_state s;
  acct_state_init(&s);
  fold_arg fa = {&s};
  log_reader *rd;
  ASSERT_OK(log_read_begin(f->t.log, &rd));
  ASSERT_OK(log_read_stream(rd, "default", stream, 1, fold_visit, &fa));
  log_read_end(rd);
  const surv_field *fi = &s.fields[ACCT_F_INDUSTRY];
  snprintf(ind, 64, "%s", fi->set && fi->value.type == SURV_STR ? fi->value.str : "");
  snprintf(src, 64, "%s", fi->set ? fi->source : "");
  acct_state_release(&s);
}

/* The value of a counter in the process's metrics (0 when absent). */
static unsigned long counter(const char *name) {
  pv_buf out = PV_BUF_INIT;
  http_metrics_render(&out);
  unsigned long v = 0;
  char pat[128];
  snprintf(pat, sizeof pat, "\n%s ", name);
  const char *at = out.data ? strstr(out.data, pat) : NULL;
  if (at) v = strtoul(at + strlen(pat), NULL, 10);
  pv_buf_release(&out);
  return v;
}

static void test_provider_answers(void) {
  fixture f;
  start(&f, NULL, 0);
  char ind[64], src[64], target[512], auth[256];
  /* the rules alone cannot place "Contoso" at soft.example: the answer is
   * the provider's */
  write_account(&f, "POST", "/api/accounts", "{\"name\":\"Contoso\",\"domain\":\"soft.example\"}",
                201, ind, src);
  ASSERT_STR_EQ(ind, "software");
  ASSERT_STR_EQ(src, "enrichment");
  ASSERT_EQ(stand_in_count(&f.s), 1);
  stand_in_request(&f.s, 0, target, auth);
  ASSERT_STR_EQ(target, "/v2/companies/find?domain=soft.example");
  ASSERT_STR_EQ(auth, "Bearer " KEY);
  /* an upsert too */
  write_account(&f, "PUT", "/api/accounts/upsert", "{\"name\":\"Money\",\"domain\":\"bank.example\"}",
                201, ind, src);
  ASSERT_STR_EQ(ind, "financial_services");
  ASSERT_STR_EQ(src, "enrichment");
  /* the provider cannot tell: the rules answer from the account's name */
  write_account(&f, "POST", "/api/accounts",
                "{\"name\":\"Northwind Hotels\",\"domain\":\"unknown.example\"}", 201, ind, src);
  ASSERT_STR_EQ(ind, "hospitality");
  ASSERT_STR_EQ(src, "enrichment");
  ASSERT_EQ(stand_in_count(&f.s), 3);
  /* an industry in the body: nobody is asked */
  write_account(&f, "POST", "/api/accounts",
                "{\"name\":\"Given\",\"domain\":\"given.example\",\"industry\":\"retail\"}", 201,
                ind, src);
  ASSERT_STR_EQ(ind, "retail");
  ASSERT_STR_EQ(src, "api");
  ASSERT_EQ(stand_in_count(&f.s), 3);
  stop(&f);
}

static void test_provider_failing_falls_back_to_rules(void) {
  fixture f;
  start(&f, NULL, 300);
  char ind[64], src[64];
  unsigned long failures = counter("pivotal_enrichment_provider_failures_total");
  write_account(&f, "POST", "/api/accounts",
                "{\"name\":\"Broken Bank\",\"domain\":\"broken.example\"}", 201, ind, src);
  ASSERT_STR_EQ(ind, "financial_services");
  ASSERT_STR_EQ(src, "enrichment");
  write_account(&f, "POST", "/api/accounts",
                "{\"name\":\"Refused Insurance\",\"domain\":\"refused.example\"}", 201, ind, src);
  ASSERT_STR_EQ(ind, "insurance");
  /* neither the provider nor the rules can tell: no industry, still written */
  write_account(&f, "POST", "/api/accounts", "{\"name\":\"Acme\",\"domain\":\"garbage.example\"}",
                201, ind, src);
  ASSERT_STR_EQ(ind, "");
  /* past the timeout (last: the stand-in holds that answer until stopped) */
  write_account(&f, "POST", "/api/accounts",
                "{\"name\":\"Slow Logistics\",\"domain\":\"slow.example\"}", 201, ind, src);
  ASSERT_STR_EQ(ind, "transportation");
  ASSERT_EQ(counter("pivotal_enrichment_provider_failures_total"), failures + 4);
  stop(&f);
}

static void test_provider_down_falls_back_to_rules(void) {
  fixture f;
  char ind[64], src[64], url[64];
  stand_in_closed_url(url, sizeof url);
  start(&f, url, 0);
  write_account(&f, "POST", "/api/accounts",
                "{\"name\":\"Down Software\",\"domain\":\"down.example\"}", 201, ind, src);
  ASSERT_STR_EQ(ind, "software");
  ASSERT_STR_EQ(src, "enrichment");
  stop(&f);
}

typedef struct slow_call {
  fixture *f;
  const char *body;
  char ind[64], src[64];
} slow_call;

static void *slow_write(void *arg) {
  slow_call *c = arg;
  write_account(c->f, "POST", "/api/accounts", c->body, 201, c->ind, c->src);
  return NULL;
}

/* A stalled provider holds two lookups at most (API_ENRICH_MAX_IN_FLIGHT;
 * the stand-in holds slow.example and accepts nothing else meanwhile, so
 * held.example waits in its backlog):
 * the next account write is classified by the rules at once, without
 * asking it, and counted as skipped; the held ones end at the timeout with
 * the rules' answer. */
static void test_a_stalled_provider_holds_two_lookups_at_most(void) {
  fixture f;
  start(&f, NULL, 2000);
  unsigned long lookups = counter("pivotal_enrichment_provider_lookups_total");
  unsigned long skipped = counter("pivotal_enrichment_provider_skipped_total");
  slow_call calls[2] = {
      {.f = &f, .body = "{\"name\":\"Slow Logistics\",\"domain\":\"slow.example\"}"},
      {.f = &f, .body = "{\"name\":\"Held Logistics\",\"domain\":\"held.example\"}"}};
  pthread_t th[2];
  int asked = stand_in_count(&f.s);
  /* the first held by the stand-in before the second is sent, so the second
   * waits in its backlog (the waits are hang guards, not timing assertions) */
  ASSERT_EQ(pthread_create(&th[0], NULL, slow_write, &calls[0]), 0);
  for (int waited = 0; stand_in_count(&f.s) < asked + 1; waited++) {
    ASSERT(waited < 10000);
    usleep(1000);
  }
  ASSERT_EQ(pthread_create(&th[1], NULL, slow_write, &calls[1]), 0);
  for (int waited = 0; counter("pivotal_enrichment_provider_lookups_total") < lookups + 2;
       waited++) {
    ASSERT(waited < 10000);
    usleep(1000);
  }
  asked = stand_in_count(&f.s);
  char ind[64], src[64];
  write_account(&f, "POST", "/api/accounts",
                "{\"name\":\"Fabrikam Logistics\",\"domain\":\"soft.example\"}", 201, ind, src);
  ASSERT_STR_EQ(ind, "transportation"); /* the rules', not the provider's "software" */
  ASSERT_EQ(counter("pivotal_enrichment_provider_skipped_total"), skipped + 1);
  ASSERT_EQ(counter("pivotal_enrichment_provider_lookups_total"), lookups + 2);
  ASSERT_EQ(stand_in_count(&f.s), asked);
  for (int i = 0; i < 2; i++) {
    ASSERT_EQ(pthread_join(th[i], NULL), 0);
    ASSERT_STR_EQ(calls[i].ind, "transportation");
  }
  stop(&f);
}

TEST_MAIN(TEST(test_provider_answers), TEST(test_provider_failing_falls_back_to_rules),
          TEST(test_provider_down_falls_back_to_rules),
          TEST(test_a_stalled_provider_holds_two_lookups_at_most))
