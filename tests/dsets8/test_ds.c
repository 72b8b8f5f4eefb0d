/*
 * test_ds — the pure domain-set modules: normalization and typo repair,
 * the bounded Levenshtein against the plain one, the candidate index
 * against a brute-force scan of a few thousand random strings, and
 * matching with its confidences, ties and runner-ups.
 */
#include "core/domainsets/ds_items.h"
#include "tests/harness/test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct norm_case {
  const char *in;
  bool valid;
  const char *domain, *registrable, *label, *repairs;
} norm_case;

static const norm_case norm_cases[] = {
    {"example.com", true, "example.com", "example.com", "example", ""},
    {"example,com", true, "example.com", "example.com", "example", "comma_as_dot"},
    {"example;com", true, "example.com", "example.com", "example", "semicolon_as_dot"},
    {"example..com", true, "example.com", "example.com", "example", "doubled_dots"},
    {"example.com;", true, "example.com", "example.com", "example", "trailing_punctuation"},
    {"example.com.", true, "example.com", "example.com", "example", ""},
    {"example.com..", true, "example.com", "example.com", "example", "trailing_punctuation"},
    {"\"acme.com\"", true, "acme.com", "acme.com", "acme",
     "trailing_punctuation,leading_punctuation"},
    {"exam ple.com", true, "example.com", "example.com", "example", "inner_spaces"},
    {"  Example.COM  ", true, "example.com", "example.com", "example", ""},
    {"HTTPS://www.Example.com:8443/path?q=1", true, "example.com", "example.com", "example", ""},
    {"http//acme.com/about", true, "acme.com", "acme.com", "acme", "scheme_typo"},
    {"https:/acme.com", true, "acme.com", "acme.com", "acme", "scheme_typo"},
    {"mail.acme.com", true, "acme.com", "acme.com", "acme", ""},
    {"m.acme.com", true, "acme.com", "acme.com", "acme", ""},
    {"shop.example.co.uk", true, "shop.example.co.uk", "example.co.uk", "example", ""},
    {"bücher.de", true, "xn--bcher-kva.de", "xn--bcher-kva.de", "xn--bcher-kva", ""},
    {"www.BÜCHER.de/", true, "xn--bcher-kva.de", "xn--bcher-kva.de", "xn--bcher-kva", ""},
    {"acme,co,,uk ", true, "acme.co.uk", "acme.co.uk", "acme", "comma_as_dot,doubled_dots"},
    {"localhost", false, NULL, NULL, NULL, NULL},
    {"", false, NULL, NULL, NULL, NULL},
    {",;", false, NULL, NULL, NULL, NULL},
    {"co.uk", false, NULL, NULL, NULL, NULL},
    {"10.0.0.1", false, NULL, NULL, NULL, NULL},
    {"exa_mple!.com", false, NULL, NULL, NULL, NULL},
};

static void test_normalize_table(void) {
  for (size_t i = 0; i < sizeof norm_cases / sizeof norm_cases[0]; i++) {
    const norm_case *c = &norm_cases[i];
    ds_entry e;
    ASSERT_OK(ds_normalize(c->in, strlen(c->in), &e, NULL));
    if (e.valid != c->valid) fprintf(stderr, "case %zu \"%s\": %s\n", i, c->in, e.invalid_reason);
    ASSERT_EQ(e.valid, c->valid);
    ASSERT_STR_EQ(e.original, c->in);
    if (!c->valid) {
      ASSERT(e.invalid_reason[0] != 0);
      continue;
    }
    ASSERT_STR_EQ(e.nd.domain, c->domain);
    ASSERT_STR_EQ(e.nd.registrable, c->registrable);
    ASSERT_STR_EQ(e.label, c->label);
    char rep[128];
    ds_repairs_format(e.repairs, rep, sizeof rep);
    if (strcmp(rep, c->repairs)) fprintf(stderr, "case %zu \"%s\": %s\n", i, c->in, rep);
    ASSERT_STR_EQ(rep, c->repairs);
    if (e.repairs) ASSERT(e.repaired[0] != 0);
    else ASSERT_STR_EQ(e.repaired, "");
  }
}

static void test_normalize_long_and_binary(void) {
  char big[5000];
  memset(big, 'a', sizeof big);
  ds_entry e;
  ASSERT_OK(ds_normalize(big, sizeof big, &e, NULL));
  ASSERT(!e.valid);
  ASSERT_EQ(strlen(e.original), (size_t)DS_ORIGINAL_MAX);
  ASSERT_OK(ds_normalize("ex\0ample.com", 12, &e, NULL));
  ASSERT(!e.valid);
}

static unsigned rnd(unsigned *s) {
  *s = *s * 1103515245u + 12345u;
  return (*s >> 16) & 0x7fff;
}

static void random_string(unsigned *seed, char *out, size_t n, unsigned alphabet) {
  for (size_t i = 0; i < n; i++) out[i] = (char)('a' + rnd(seed) % alphabet);
  out[n] = 0;
}

/* A few random edits of src into out. */
static void mutate(unsigned *seed, const char *src, char *out, unsigned edits) {
  char buf[DS_STR_MAX + 8];
  size_t len = strnlen(src, DS_STR_MAX);
  memcpy(buf, src, len);
  buf[len] = '\0';
  for (unsigned k = 0; k < edits; k++) {
    size_t n = strlen(buf);
    size_t p = n ? rnd(seed) % (n + 1) : 0;
    switch (rnd(seed) % 3) {
    case 0: /* substitute */
      if (p < n) buf[p] = (char)('a' + rnd(seed) % 4);
      break;
    case 1: /* insert */
      if (n < 60) {
        memmove(buf + p + 1, buf + p, n - p + 1);
        buf[p] = (char)('a' + rnd(seed) % 4);
      }
      break;
    default: /* delete */
      if (p < n && n > 1) memmove(buf + p, buf + p + 1, n - p);
    }
  }
  size_t n = strlen(buf) < DS_STR_MAX ? strlen(buf) : DS_STR_MAX;
  memmove(out, buf, n);
  out[n] = 0;
}

static void test_company_key(void) {
  char k[64];
  ds_company_key("acme inc", k, sizeof k);
  ASSERT_STR_EQ(k, "acme");
  ds_company_key("the acme corporation", k, sizeof k);
  ASSERT_STR_EQ(k, "acme");
  ds_company_key("acme, co. ltd.", k, sizeof k);
  ASSERT_STR_EQ(k, "acme");
  ds_company_key("group", k, sizeof k);
  ASSERT_STR_EQ(k, "group");
  ds_company_key("b&q plc", k, sizeof k);
  ASSERT_STR_EQ(k, "b&q");
}

static void test_lev_banded_equals_full(void) {
  unsigned seed = 7;
  for (int i = 0; i < 20000; i++) {
    char a[40], b[40];
    random_string(&seed, a, 1 + rnd(&seed) % 25, 3);
    if (rnd(&seed) % 2) mutate(&seed, a, b, rnd(&seed) % 5);
    else random_string(&seed, b, 1 + rnd(&seed) % 25, 3);
    unsigned full = ds_lev_full(a, strlen(a), b, strlen(b));
    for (unsigned k = 0; k <= 3; k++) {
      unsigned want = full <= k ? full : k + 1;
      ASSERT_EQ(ds_lev(a, strlen(a), b, strlen(b), k), want);
    }
  }
  ASSERT_EQ(ds_lev("", 0, "abc", 3, 3), 3u);
  ASSERT_EQ(ds_lev("kitten", 6, "sitting", 7, 3), 3u);
  ASSERT_EQ(ds_lev("kitten", 6, "sitting", 7, 2), 3u);
}

static void test_threshold(void) {
  ASSERT_EQ(ds_max_dist(6, 6), 0u);
  ASSERT_EQ(ds_max_dist(7, 6), 1u);
  ASSERT_EQ(ds_max_dist(14, 13), 2u);
  ASSERT_EQ(ds_max_dist(20, 20), 3u);
  ASSERT_EQ(ds_max_dist(40, 40), 3u);
  ASSERT(ds_fuzzy_ok(1, 7, 7));  /* 1 - 1/7 = 0.857 */
  ASSERT(!ds_fuzzy_ok(1, 6, 6)); /* 0.833 */
  ASSERT(ds_fuzzy_ok(3, 20, 19));
  ASSERT(!ds_fuzzy_ok(4, 40, 40));
}

typedef struct hitset {
  uint32_t *acct;
  unsigned *dist;
  size_t n, cap;
} hitset;

static void collect(void *arg, uint32_t acct, unsigned dist, double sim) {
  (void)sim;
  hitset *h = arg;
  if (h->n == h->cap) {
    h->cap = h->cap ? h->cap * 2 : 64;
    h->acct = realloc(h->acct, h->cap * sizeof *h->acct);
    h->dist = realloc(h->dist, h->cap * sizeof *h->dist);
  }
  h->acct[h->n] = acct;
  h->dist[h->n++] = dist;
}

/* The index finds exactly the strings a brute-force Levenshtein scan finds:
 * 3,000 random strings over a 4-letter alphabet (so near neighbours are
 * common) and their mutations, 400 queries, lengths 3 to 40, with some killed. */
static void test_index_equals_brute_force(void) {
  enum { N = 3000, Q = 400 };
  unsigned seed = 42;
  static char strs[N][DS_STR_MAX + 1];
  ds_index *ix = ds_index_new();
  for (int i = 0; i < N; i++) {
    if (i > 0 && rnd(&seed) % 3 == 0)
      mutate(&seed, strs[rnd(&seed) % i], strs[i], 1 + rnd(&seed) % 3);
    else
      random_string(&seed, strs[i], 3 + rnd(&seed) % 38, 4);
    char id[16];
    snprintf(id, sizeof id, "acct%05d", i);
    uint32_t a = ds_index_account(ix, id);
    ASSERT_EQ(a, (uint32_t)i);
    char domain[32]; /* unique per account: equal labels may not share one */
    snprintf(domain, sizeof domain, "d%d.com", i);
    ds_index_add_domain(ix, a, domain, strs[i], true);
  }
  /* Half the postings compacted, the replacements below in chains: both
   * paths are searched. */
  ds_index_compact(ix);
  /* Replace every tenth primary domain: the old label must stop matching. */
  for (int i = 0; i < N; i += 10) {
    mutate(&seed, strs[i], strs[i], 2);
    char domain[32];
    snprintf(domain, sizeof domain, "d%d.org", i);
    ds_index_add_domain(ix, (uint32_t)i, domain, strs[i], true);
  }
  ds_scratch *s = ds_scratch_new();
  size_t total_hits = 0;
  for (int qi = 0; qi < Q; qi++) {
    char q[DS_STR_MAX + 1];
    mutate(&seed, strs[rnd(&seed) % N], q, rnd(&seed) % 4);
    hitset h = {0};
    ds_index_query(ix, s, DS_KIND_LABEL, q, strlen(q), collect, &h);
    size_t expected = 0;
    for (int i = 0; i < N; i++) {
      /* The distance is at least the length difference: skip those pairs
       * (the plain distance of the rest keeps the scan brute force). */
      size_t lq = strlen(q), ls = strlen(strs[i]);
      if ((lq > ls ? lq - ls : ls - lq) > DS_FUZZY_MAX_DIST) continue;
      unsigned d = ds_lev_full(q, lq, strs[i], ls);
      if (!ds_fuzzy_ok(d, strlen(q), strlen(strs[i]))) continue;
      expected++;
      size_t j = 0;
      while (j < h.n && h.acct[j] != (uint32_t)i) j++;
      if (j == h.n) fprintf(stderr, "missed \"%s\" for \"%s\" (d=%u)\n", strs[i], q, d);
      ASSERT(j < h.n);
      ASSERT_EQ(h.dist[j], d);
    }
    ASSERT_EQ(h.n, expected);
    total_hits += h.n;
    free(h.acct);
    free(h.dist);
  }
  ASSERT(total_hits > Q); /* the test is not vacuous */
  ds_index_stats st;
  ds_index_get_stats(ix, &st);
  ASSERT_EQ(st.dead_strings, (size_t)N / 10);
  ds_scratch_free(s);
  ds_index_free(ix);
}

static uint32_t exact_by_index(void *arg, const char *domain) {
  return ds_index_domain_owner(arg, domain, NULL);
}

static ds_index *sample_index(void) {
  ds_index *ix = ds_index_new();
  uint32_t a = ds_index_account(ix, "a0000000000000000000000000000001");
  ds_index_add_domain(ix, a, "acme.com", "acme", true);
  ds_index_add_domain(ix, a, "acme-brands.com", "acme-brands", false);
  ds_index_set_name(ix, a, "international business machines corporation");
  ds_index_contacts_add(ix, a, 3);
  uint32_t w = ds_index_account(ix, "a0000000000000000000000000000002");
  ds_index_add_domain(ix, w, "internationalwidgets.com", "internationalwidgets", true);
  uint32_t g1 = ds_index_account(ix, "a0000000000000000000000000000003");
  ds_index_add_domain(ix, g1, "globex.com", "globex", true);
  uint32_t g2 = ds_index_account(ix, "a0000000000000000000000000000004");
  ds_index_add_domain(ix, g2, "globexx.net", "globexx", true);
  uint32_t n2 = ds_index_account(ix, "b0000000000000000000000000000005");
  ds_index_add_domain(ix, n2, "northwindtradera.com", "northwindtradera", true);
  uint32_t n1 = ds_index_account(ix, "a0000000000000000000000000000006");
  ds_index_add_domain(ix, n1, "northwindtraders.com", "northwindtraders", true);
  uint32_t b = ds_index_account(ix, "a0000000000000000000000000000007");
  ds_index_add_domain(ix, b, "xn--bcher-kva.de", "xn--bcher-kva", true);
  uint32_t parent = ds_index_account(ix, "a0000000000000000000000000000008");
  ds_index_add_domain(ix, parent, "example.co.uk", "example", true);
  uint32_t gone = ds_index_account(ix, "a0000000000000000000000000000009");
  ds_index_add_domain(ix, gone, "deletedcompany.com", "deletedcompany", true);
  ds_index_set_live(ix, gone, false);
  return ix;
}

static void match_one(ds_index *ix, const char *domain, const char *name, ds_result *r) {
  ds_entry e;
  ASSERT_OK(ds_normalize(domain, strlen(domain), &e, NULL));
  ASSERT(e.valid);
  ds_scratch *s = ds_scratch_new();
  ds_match(ix, s, exact_by_index, ix, &e, name, r);
  ds_scratch_free(s);
}

static const char *acct_of(ds_index *ix, const ds_candidate *c) {
  return c->acct == UINT32_MAX ? "" : ds_index_account_id(ix, c->acct);
}

static void test_match_rules_and_confidence(void) {
  ds_index *ix = sample_index();
  ds_result r;
  match_one(ix, "https://www.acme.com/about", "", &r);
  ASSERT_EQ(r.best.type, DS_MATCH_EXACT);
  ASSERT_EQ(r.best.rule, DS_RULE_EXACT_DOMAIN);
  ASSERT(r.best.confidence == 1.0);
  ASSERT_STR_EQ(acct_of(ix, &r.best), "a0000000000000000000000000000001");
  ASSERT_EQ(ds_index_contacts(ix, r.best.acct), 3u);

  match_one(ix, "acme-brands.com", "", &r);
  ASSERT_EQ(r.best.rule, DS_RULE_EXACT_ALTERNATE_DOMAIN);

  match_one(ix, "shop.example.co.uk", "", &r);
  ASSERT_EQ(r.best.rule, DS_RULE_EXACT_REGISTRABLE);
  ASSERT(r.best.confidence == DS_CONF_EXACT_REGISTRABLE);

  /* 20 bytes, distance 1: similarity 0.95, x 0.95 = 0.9025 -> 0.90. */
  match_one(ix, "internationalwidgetz.io", "", &r);
  ASSERT_EQ(r.best.type, DS_MATCH_FUZZY);
  ASSERT_EQ(r.best.rule, DS_RULE_FUZZY_DOMAIN_LABEL);
  ASSERT(r.best.confidence == 0.90);
  ASSERT_STR_EQ(acct_of(ix, &r.best), "a0000000000000000000000000000002");

  /* The company name without its legal form: 30 bytes, distance 1:
   * 0.967 x 0.90 = 0.87. */
  match_one(ix, "unrelated-domain.com", "internatonal business machines inc", &r);
  ASSERT_EQ(r.best.rule, DS_RULE_FUZZY_COMPANY_NAME);
  ASSERT(r.best.confidence == 0.87);
  ASSERT_STR_EQ(acct_of(ix, &r.best), "a0000000000000000000000000000001");

  /* Too short to be fuzzy: 4 bytes may only match at distance 0. */
  match_one(ix, "acne.com", "", &r);
  ASSERT_EQ(r.best.type, DS_MATCH_NONE);
  ASSERT_EQ(r.best.acct, UINT32_MAX);

  /* A deleted account never matches. */
  match_one(ix, "deletedcompany.com", "", &r);
  ASSERT_EQ(r.best.type, DS_MATCH_NONE);
  ds_index_free(ix);
}

static void test_match_two_accounts(void) {
  ds_index *ix = sample_index();
  ds_result r;
  /* Exact beats fuzzy; the fuzzy account is the runner-up (7 bytes,
   * distance 1: 0.857 x 0.95 = 0.81). */
  match_one(ix, "globex.com", "", &r);
  ASSERT_STR_EQ(acct_of(ix, &r.best), "a0000000000000000000000000000003");
  ASSERT_EQ(r.best.type, DS_MATCH_EXACT);
  ASSERT_STR_EQ(acct_of(ix, &r.runner_up), "a0000000000000000000000000000004");
  ASSERT_EQ(r.runner_up.type, DS_MATCH_FUZZY);
  ASSERT(r.runner_up.confidence == 0.81);
  /* Equal confidence: the lower account id wins, whatever the order. */
  match_one(ix, "northwindtraderz.com", "", &r);
  ASSERT_STR_EQ(acct_of(ix, &r.best), "a0000000000000000000000000000006");
  ASSERT_STR_EQ(acct_of(ix, &r.runner_up), "b0000000000000000000000000000005");
  ASSERT(r.best.confidence == r.runner_up.confidence);
  ds_index_free(ix);
}

static void test_match_idn(void) {
  ds_index *ix = sample_index();
  ds_result r;
  match_one(ix, "WWW.Bücher.de", "", &r);
  ASSERT_EQ(r.best.rule, DS_RULE_EXACT_DOMAIN);
  ASSERT_STR_EQ(acct_of(ix, &r.best), "a0000000000000000000000000000007");
  match_one(ix, "xn--bcher-kva.de", "", &r);
  ASSERT_EQ(r.best.rule, DS_RULE_EXACT_DOMAIN);
  ds_index_free(ix);
}

static void test_index_updates(void) {
  ds_index *ix = sample_index();
  uint32_t a = ds_index_find_account(ix, "a0000000000000000000000000000001");
  ds_index_remove_domain(ix, a, "acme-brands.com");
  ASSERT_EQ(ds_index_domain_owner(ix, "acme-brands.com", NULL), UINT32_MAX);
  ds_index_add_domain(ix, a, "acmeglobal.com", "acmeglobal", true);
  bool primary;
  ASSERT_EQ(ds_index_domain_owner(ix, "acme.com", NULL), UINT32_MAX);
  ASSERT_EQ(ds_index_domain_owner(ix, "acmeglobal.com", &primary), a);
  ASSERT(primary);
  ds_index_set_name(ix, a, "the acme global co., ltd");
  ASSERT_STR_EQ(ds_index_name(ix, a), "acme global");
  ds_index_contacts_add(ix, a, -5);
  ASSERT_EQ(ds_index_contacts(ix, a), 0u);
  ds_index_free(ix);
}

/* Feeds text in chunks of `chunk` bytes (splitting rows and quotes). */
static void feed(ds_items *it, ds_format f, const char *text, size_t chunk, int want) {
  ds_upload *u = ds_upload_new(f, it);
  pv_error e = PV_ERROR_INIT;
  int rc = 0;
  for (size_t off = 0; rc == 0 && off < strlen(text); off += chunk) {
    size_t n = strlen(text) - off < chunk ? strlen(text) - off : chunk;
    rc = ds_upload_feed(u, text + off, n, &e);
  }
  if (rc == 0) rc = ds_upload_finish(u, &e);
  ds_upload_free(u);
  ASSERT_EQ(rc, want);
}

static void test_upload_csv_and_txt(void) {
  for (size_t chunk = 1; chunk <= 64; chunk *= 4) {
    ds_items it;
    ds_items_init(&it);
    /* A header in another order, an extra column, a quoted comma. */
    feed(&it, DS_FORMAT_CSV,
         "notes,Company,extra,Website\r\n\"hi, there\",Acme Inc,x,acme.com\r\n"
         ",,,\"example,com\"\n,,,EXAMPLE.COM\n", chunk, 0);
    ASSERT(it.header);
    ASSERT_EQ(it.rows, 3u);
    ASSERT_EQ(it.n, (size_t)2);
    ASSERT_EQ(it.duplicates, 1u);
    ASSERT_STR_EQ(it.v[0].domain, "acme.com");
    ASSERT_STR_EQ(it.v[0].account_name, "Acme Inc");
    ASSERT_STR_EQ(it.v[0].name_key, "acme inc");
    ASSERT_STR_EQ(it.v[0].notes, "hi, there");
    ASSERT_EQ(it.v[1].dup_count, 2u);
    ASSERT_EQ(it.v[1].repairs, (unsigned)DS_REPAIR_COMMA_AS_DOT);
    ds_items_release(&it);

    /* No header: positional columns. */
    ds_items_init(&it);
    feed(&it, DS_FORMAT_CSV, "acme.com,Acme,n1\nbad..domain..com,,\n", chunk, 0);
    ASSERT(!it.header);
    ASSERT_EQ(it.n, (size_t)2);
    ASSERT_STR_EQ(it.v[0].account_name, "Acme");
    ASSERT_STR_EQ(it.v[0].notes, "n1");
    ds_items_release(&it);

    /* TXT: one domain a line; commas are typos, not columns. */
    ds_items_init(&it);
    feed(&it, DS_FORMAT_TXT, "domain\r\nexample,com\n\n  \nfoo.org", chunk, 0);
    ASSERT(it.header);
    ASSERT_EQ(it.n, (size_t)2);
    ASSERT_STR_EQ(it.v[0].domain, "example.com");
    ASSERT_STR_EQ(it.v[1].domain, "foo.org");
    ds_items_release(&it);

    ds_items_init(&it);
    feed(&it, DS_FORMAT_CSV, "domain\n\"open.com\n", chunk, PV_EINVAL);
    ds_items_release(&it);
  }
}

static void test_report(void) {
  ds_items it;
  ds_items_init(&it);
  feed(&it, DS_FORMAT_TXT, "a-company.com\nb-company.com\nc-company.com\nlocalhost\n", 7, 0);
  it.v[0].match = DS_MATCH_EXACT;
  it.v[0].rule = DS_RULE_EXACT_DOMAIN;
  snprintf(it.v[0].account_id, sizeof it.v[0].account_id, "A");
  it.v[0].contacts = 4;
  it.v[1].match = DS_MATCH_FUZZY;
  it.v[1].rule = DS_RULE_FUZZY_DOMAIN_LABEL;
  snprintf(it.v[1].account_id, sizeof it.v[1].account_id, "A");
  it.v[1].contacts = 4;
  it.v[2].excluded = true;
  ds_report r;
  ds_items_report(&it, &r);
  ASSERT_EQ(r.exact, 1u);
  ASSERT_EQ(r.fuzzy, 1u);
  ASSERT_EQ(r.none, 0u);
  ASSERT_EQ(r.invalid, 1u);
  ASSERT_EQ(r.excluded, 1u);
  ASSERT_EQ(r.matched_accounts, 1u);
  ASSERT_EQ(r.matched_contacts, 4u);
  ASSERT(r.match_rate == 1.0);
  ds_items_release(&it);
}

TEST_MAIN(TEST(test_normalize_table), TEST(test_normalize_long_and_binary), TEST(test_company_key),
          TEST(test_lev_banded_equals_full), TEST(test_threshold),
          TEST(test_index_equals_brute_force), TEST(test_match_rules_and_confidence),
          TEST(test_match_two_accounts), TEST(test_match_idn), TEST(test_index_updates),
          TEST(test_upload_csv_and_txt), TEST(test_report))
