/*
 * The HTTP enrichment provider (adapters/enrich/enrich_http.h) against a
 * stand-in Company API on loopback (stand_in.h): each answer's mapping to
 * our industries or error codes, the request's path, query and
 * Authorization header, the key file and the configuration checks.
 */
#include "adapters/enrich/enrich_http.h"
#include "tests/enrich/stand_in.h"
#include "tests/harness/test.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY "sk_test_0123456789abcdef"

typedef struct fixture {
  stand_in s;
  enrich_http *p;
  const acct_enricher *e;
} fixture;

static void start(fixture *f, long timeout_ms) {
  stand_in_start(&f->s);
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/", f->s.port);
  enrich_http_config cfg = {url, KEY, "/etc/pivotal/enrichment.key", 0, timeout_ms};
  pv_error err = PV_ERROR_INIT;
  ASSERT_OK(enrich_http_new(&cfg, &f->p, &err));
  f->e = enrich_http_enricher(f->p);
  ASSERT_STR_EQ(f->e->source, "enrichment");
}

static void stop(fixture *f) {
  stand_in_stop(&f->s);
  enrich_http_free(f->p);
}

/* Classifies an account of that name and domain; the industry into out. */
static int classify(fixture *f, const char *name, const char *domain, char out[64],
                    pv_error *err) {
  acct_enrich_in in = {name, domain, NULL, NULL, NULL};
  pv_error_clear(err);
  strcpy(out, "untouched");
  return f->e->classify(f->e, &in, out, 64, err);
}

static void test_answers_map_to_our_industries(void) {
  fixture f;
  start(&f, 0);
  char ind[64];
  pv_error err;
  /* NAICS 2017 511210 (software publishers), though its 2-digit code 51
   * alone would say media */
  ASSERT_OK(classify(&f, "Contoso", "soft.example", ind, &err));
  ASSERT_STR_EQ(ind, "software");
  ASSERT_OK(classify(&f, "Contoso", "bank.example", ind, &err));
  ASSERT_STR_EQ(ind, "financial_services");
  ASSERT_OK(classify(&f, "Contoso", "words.example", ind, &err));
  ASSERT_STR_EQ(ind, "hospitality");
  /* the provider knows the company but not its trade: the rules look at
   * the account's own name too */
  ASSERT_OK(classify(&f, "Contoso", "vague.example", ind, &err));
  ASSERT_STR_EQ(ind, "");
  ASSERT_OK(classify(&f, "Contoso Clinic", "vague.example", ind, &err));
  ASSERT_STR_EQ(ind, "healthcare");
  /* cannot tell: queued, unknown, refused domain */
  ASSERT_OK(classify(&f, "Contoso", "queued.example", ind, &err));
  ASSERT_STR_EQ(ind, "");
  ASSERT_OK(classify(&f, "Contoso", "unknown.example", ind, &err));
  ASSERT_STR_EQ(ind, "");
  ASSERT_OK(classify(&f, "Contoso", "invalid.example", ind, &err));
  ASSERT_STR_EQ(ind, "");
  ASSERT_EQ(stand_in_count(&f.s), 8);
  /* no valid domain: no request at all */
  ASSERT_OK(classify(&f, "Contoso Bank", NULL, ind, &err));
  ASSERT_STR_EQ(ind, "");
  ASSERT_OK(classify(&f, "Contoso Bank", "localhost", ind, &err));
  ASSERT_STR_EQ(ind, "");
  ASSERT_EQ(stand_in_count(&f.s), 8);
  stop(&f);
}

static void test_the_request_on_the_wire(void) {
  fixture f;
  start(&f, 0);
  char ind[64], target[512], auth[256];
  pv_error err;
  ASSERT_OK(classify(&f, "Contoso", "https://WWW.Soft.Example/about?x=1", ind, &err));
  ASSERT_STR_EQ(ind, "software");
  stand_in_request(&f.s, 0, target, auth);
  ASSERT_STR_EQ(target, "/v2/companies/find?domain=soft.example");
  ASSERT_STR_EQ(auth, "Bearer " KEY);
  /* an IDN goes as its A-label */
  ASSERT_OK(classify(&f, "Contoso", "bücher.example", ind, &err));
  stand_in_request(&f.s, 1, target, auth);
  ASSERT_STR_EQ(target, "/v2/companies/find?domain=xn--bcher-kva.example");
  stop(&f);

  /* without a key: no Authorization header */
  stand_in_start(&f.s);
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d", f.s.port);
  enrich_http_config cfg = {.base_url = url};
  ASSERT_OK(enrich_http_new(&cfg, &f.p, &err));
  f.e = enrich_http_enricher(f.p);
  ASSERT_OK(classify(&f, "Contoso", "soft.example", ind, &err));
  stand_in_request(&f.s, 0, target, auth);
  ASSERT_STR_EQ(auth, "");
  ASSERT_ERR(classify(&f, "Contoso", "refused.example", ind, &err), PV_EUNAVAILABLE);
  ASSERT(strstr(err.message, "without a key"));
  stop(&f);
}

static void test_provider_failures(void) {
  fixture f;
  start(&f, 300);
  char ind[64];
  pv_error err;
  ASSERT_ERR(classify(&f, "Contoso", "refused.example", ind, &err), PV_EUNAVAILABLE);
  ASSERT(strstr(err.message, "refused the key in /etc/pivotal/enrichment.key"));
  ASSERT(!strstr(err.message, KEY) && !strstr(err.detail, KEY) && !strstr(err.hint, KEY));
  ASSERT_ERR(classify(&f, "Contoso", "limited.example", ind, &err), PV_EUNAVAILABLE);
  ASSERT(strstr(err.message, "429"));
  ASSERT_ERR(classify(&f, "Contoso", "broken.example", ind, &err), PV_EUNAVAILABLE);
  ASSERT(strstr(err.message, "500"));
  ASSERT_ERR(classify(&f, "Contoso", "garbage.example", ind, &err), PV_EUNAVAILABLE);
  ASSERT(strstr(err.message, "not a JSON object"));
  ASSERT_ERR(classify(&f, "Contoso", "shape.example", ind, &err), PV_EUNAVAILABLE);
  ASSERT(strstr(err.message, "wrong type"));
  ASSERT_ERR(classify(&f, "Contoso", "big.example", ind, &err), PV_EUNAVAILABLE);
  ASSERT(strstr(err.message, "more than"));
  ASSERT_ERR(classify(&f, "Contoso", "slow.example", ind, &err), PV_ETIMEDOUT);
  stop(&f);

  /* nothing listening */
  char url[64];
  stand_in_closed_url(url, sizeof url);
  enrich_http_config cfg = {.base_url = url, .key = KEY, .key_name = "k"};
  ASSERT_OK(enrich_http_new(&cfg, &f.p, &err));
  f.e = enrich_http_enricher(f.p);
  ASSERT_ERR(classify(&f, "Contoso", "soft.example", ind, &err), PV_EUNAVAILABLE);
  ASSERT(strstr(err.message, "could not reach"));
  enrich_http_free(f.p);
}

/* Several threads classify at once, each with its own curl handle. */
typedef struct worker {
  fixture *f;
  int ok;
} worker;

static void *work(void *arg) {
  worker *w = arg;
  for (int i = 0; i < 3; i++) {
    char ind[64];
    pv_error err;
    if (classify(w->f, "Contoso", i % 2 ? "bank.example" : "soft.example", ind, &err) == 0 &&
        strcmp(ind, i % 2 ? "financial_services" : "software") == 0)
      w->ok++;
  }
  return NULL;
}

static void test_concurrent_lookups(void) {
  fixture f;
  start(&f, 0);
  pthread_t th[4];
  worker w[4];
  for (int i = 0; i < 4; i++) {
    w[i] = (worker){&f, 0};
    ASSERT_EQ(pthread_create(&th[i], NULL, work, &w[i]), 0);
  }
  for (int i = 0; i < 4; i++) {
    ASSERT_EQ(pthread_join(th[i], NULL), 0);
    ASSERT_EQ(w[i].ok, 3);
  }
  ASSERT_EQ(stand_in_count(&f.s), 12);
  stop(&f);
}

static void test_parse_company(void) {
  char ind[64];
  pv_error err = PV_ERROR_INIT;
  const char *j = "{\"category\":{\"naicsCode\":\"62\"},\"tags\":[\"x\"]}";
  ASSERT_OK(enrich_http_parse_company(j, strlen(j), NULL, NULL, ind, sizeof ind, &err));
  ASSERT_STR_EQ(ind, "healthcare");
  j = "{\"category\":null,\"description\":\"A regional bank.\"}";
  ASSERT_OK(enrich_http_parse_company(j, strlen(j), NULL, NULL, ind, sizeof ind, &err));
  ASSERT_STR_EQ(ind, "financial_services");
  j = "{\"tags\":[\"ok\",7]}";
  ASSERT_ERR(enrich_http_parse_company(j, strlen(j), NULL, NULL, ind, sizeof ind, &err),
             PV_EUNAVAILABLE);
  j = "[1]";
  ASSERT_ERR(enrich_http_parse_company(j, strlen(j), NULL, NULL, ind, sizeof ind, &err),
             PV_EUNAVAILABLE);
  ASSERT_ERR(enrich_http_parse_company("", 0, NULL, NULL, ind, sizeof ind, &err),
             PV_EUNAVAILABLE);
  /* a long description is cut at a character boundary, words still found */
  char big[4096] = "{\"category\":{\"industry\":\"Insurance\"},\"description\":\"";
  size_t n = strlen(big);
  for (int i = 0; i < 1500; i++) n += (size_t)sprintf(big + n, "é");
  strcpy(big + n, "\"}");
  ASSERT_OK(enrich_http_parse_company(big, strlen(big), NULL, NULL, ind, sizeof ind, &err));
  ASSERT_STR_EQ(ind, "insurance");
}

static void write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ASSERT(fd >= 0);
  ASSERT_EQ(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
}

static void test_key_file_and_config(void) {
  char path[4096], key[ENRICH_HTTP_KEY_MAX + 1];
  pv_error err = PV_ERROR_INIT;
  snprintf(path, sizeof path, "%s/enrichment.key", test_tmpdir());
  write_file(path, "  " KEY "\n");
  ASSERT_OK(enrich_http_load_key(path, key, &err));
  ASSERT_STR_EQ(key, KEY);
  /* a key others can read is refused, as OpenSSH refuses a private key */
  ASSERT_EQ(chmod(path, 0640), 0);
  ASSERT_ERR(enrich_http_load_key(path, key, &err), PV_EINVAL);
  ASSERT(strstr(err.hint, "chmod 600"));
  ASSERT(!strstr(err.message, KEY) && !strstr(err.detail, KEY));
  ASSERT_EQ(chmod(path, 0600), 0);
  write_file(path, "\n");
  ASSERT_ERR(enrich_http_load_key(path, key, &err), PV_EINVAL);
  write_file(path, "sk_a\r\nX-Evil: 1");
  ASSERT_ERR(enrich_http_load_key(path, key, &err), PV_EINVAL);
  char long_key[ENRICH_HTTP_KEY_MAX + 2];
  memset(long_key, 'k', sizeof long_key - 1);
  long_key[sizeof long_key - 1] = '\0';
  write_file(path, long_key);
  ASSERT_ERR(enrich_http_load_key(path, key, &err), PV_EINVAL);
  long_key[ENRICH_HTTP_KEY_MAX] = '\0';
  write_file(path, long_key);
  ASSERT_OK(enrich_http_load_key(path, key, &err));
  ASSERT_EQ(strlen(key), ENRICH_HTTP_KEY_MAX);
  snprintf(path, sizeof path, "%s/absent.key", test_tmpdir());
  ASSERT_ERR(enrich_http_load_key(path, key, &err), PV_EIO);
  ASSERT(strstr(err.message, "absent.key"));

  enrich_http *p;
  const char *bad_urls[] = {"", "ftp://x.example", "company.clearbit.com",
                            "https://user:pw@x.example", "https://x.example/?a=1"};
  for (size_t i = 0; i < sizeof bad_urls / sizeof bad_urls[0]; i++) {
    enrich_http_config cfg = {.base_url = bad_urls[i]};
    ASSERT_ERR(enrich_http_new(&cfg, &p, &err), PV_EINVAL);
  }
  enrich_http_config cfg = {.base_url = "https://x.example", .key = "a b"};
  ASSERT_ERR(enrich_http_new(&cfg, &p, &err), PV_EINVAL);
  cfg = (enrich_http_config){.base_url = "https://x.example", .timeout_ms = -1};
  ASSERT_ERR(enrich_http_new(&cfg, &p, &err), PV_EINVAL);
}

TEST_MAIN(TEST(test_answers_map_to_our_industries), TEST(test_the_request_on_the_wire),
          TEST(test_provider_failures), TEST(test_concurrent_lookups), TEST(test_parse_company),
          TEST(test_key_file_and_config))
