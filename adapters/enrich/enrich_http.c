/*
 * enrich_http — see enrich_http.h for the wire format and the rules.
 * Layout: the answer's parser, the request (one curl easy handle per call),
 * construction, the key file.
 */
#include "adapters/enrich/enrich_http.h"

#include "core/common/pv_buf.h"
#include "core/common/pv_file.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct enrich_http {
  acct_enricher enricher; /* impl points back here */
  char *base_url;         /* without a trailing '/' */
  /* the request headers, the same for every lookup (curl only reads
   * them): Accept, and "Authorization: Bearer KEY" with a key */
  struct curl_slist *headers;
  char *key_name;          /* the key's file, for errors; NULL without a key */
  long connect_timeout_ms, timeout_ms;
};

/* ---- the answer ---------------------------------------------------------- */

/* The string at key of obj: NULL when absent or null; *bad when another type. */
static const char *opt_string(const cJSON *obj, const char *key, bool *bad) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!v || cJSON_IsNull(v)) return NULL;
  if (!cJSON_IsString(v)) *bad = true;
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The array at key of obj (NULL when absent or null); *bad when it is
 * another type or holds anything but strings. */
static const cJSON *opt_strings(const cJSON *obj, const char *key, bool *bad) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!v || cJSON_IsNull(v)) return NULL;
  if (!cJSON_IsArray(v)) {
    *bad = true;
    return NULL;
  }
  for (const cJSON *e = v->child; e; e = e->next)
    if (!cJSON_IsString(e)) *bad = true;
  return v;
}

static const char *first_string(const cJSON *arr) {
  return arr && arr->child ? arr->child->valuestring : NULL;
}

/* Appends s and a separator while the text stays within NORM_TEXT_MAX (the
 * keyword rules read no more), cut back to a whole UTF-8 character. */
static void add_words(pv_buf *text, const char *s) {
  if (!s || !s[0] || text->len >= NORM_TEXT_MAX) return;
  size_t room = NORM_TEXT_MAX - text->len, n = strlen(s);
  if (n > room) {
    n = room;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
  }
  pv_buf_add(text, s, n);
  if (text->len < NORM_TEXT_MAX) pv_buf_addch(text, ' ');
}

int enrich_http_parse_company(const char *body, size_t len, const char *name,
                              const char *domain, char *industry, size_t cap, pv_error *err) {
  industry[0] = '\0';
  cJSON *j = cJSON_ParseWithLength(body, len);
  if (!cJSON_IsObject(j)) {
    cJSON_Delete(j);
    return pv_error_set(err, PV_EUNAVAILABLE, NULL,
                        "the enrichment provider's answer is not a JSON object");
  }
  bool bad = false;
  const cJSON *cat = cJSON_GetObjectItemCaseSensitive(j, "category");
  if (cat && !cJSON_IsNull(cat) && !cJSON_IsObject(cat)) bad = true;
  if (!cJSON_IsObject(cat)) cat = NULL;
  const char *naics = NULL, *sic = NULL, *cat_industry = NULL, *sub_industry = NULL;
  if (cat) {
    /* the 6- and 4-digit lists are newer and more precise than the
     * single 2-digit codes */
    naics = first_string(opt_strings(cat, "naics6Codes", &bad));
    if (!naics) naics = opt_string(cat, "naicsCode", &bad);
    sic = first_string(opt_strings(cat, "sic4Codes", &bad));
    if (!sic) sic = opt_string(cat, "sicCode", &bad);
    cat_industry = opt_string(cat, "industry", &bad);
    sub_industry = opt_string(cat, "subIndustry", &bad);
  }
  const char *description = opt_string(j, "description", &bad);
  const cJSON *tags = opt_strings(j, "tags", &bad);
  const char *company_name = opt_string(j, "name", &bad);
  int rc;
  if (bad) {
    rc = pv_error_set(err, PV_EUNAVAILABLE, NULL,
                      "the enrichment provider's answer has a field of the wrong type");
    pv_error_detail(err, "Expected the Company API's shape: strings, or arrays of strings.");
  } else {
    /* the provider's own words first: they describe the company; its free
     * description last, since the keyword rules stop at NORM_TEXT_MAX */
    pv_buf text = PV_BUF_INIT;
    add_words(&text, cat_industry);
    add_words(&text, sub_industry);
    for (const cJSON *t = tags ? tags->child : NULL; t; t = t->next)
      add_words(&text, t->valuestring);
    add_words(&text, description);
    acct_enrich_in q = {name && name[0] ? name : company_name, domain,
                        text.len ? text.data : NULL, sic, naics};
    const acct_enricher *rules = acct_enricher_rules();
    rc = rules->classify(rules, &q, industry, cap, err);
    pv_buf_release(&text);
  }
  cJSON_Delete(j);
  return rc;
}

/* ---- the request --------------------------------------------------------- */

typedef struct answer {
  pv_buf body;
  bool too_big;
} answer;

static size_t on_body(char *data, size_t size, size_t n, void *arg) {
  answer *a = arg;
  size_t len = size * n;
  if (a->body.len + len > ENRICH_HTTP_BODY_MAX) {
    a->too_big = true;
    return 0; /* curl fails the transfer with CURLE_WRITE_ERROR */
  }
  pv_buf_add(&a->body, data, len);
  return len;
}

/* Maps a transfer that failed before a status arrived. */
static int transfer_error(const enrich_http *p, CURLcode c, const answer *a, const char *detail,
                          pv_error *err) {
  if (c == CURLE_OPERATION_TIMEDOUT) {
    pv_error_set(err, PV_ETIMEDOUT, NULL, "the enrichment provider %s did not answer in time",
                 p->base_url);
    pv_error_detail(err, "Timeouts: %ld ms to connect, %ld ms in all.", p->connect_timeout_ms,
                    p->timeout_ms);
    return PV_ETIMEDOUT;
  }
  if (a->too_big) {
    pv_error_set(err, PV_EUNAVAILABLE, NULL,
                 "the enrichment provider %s answered more than %d bytes", p->base_url,
                 ENRICH_HTTP_BODY_MAX);
    return PV_EUNAVAILABLE;
  }
  pv_error_set(err, PV_EUNAVAILABLE, NULL, "could not reach the enrichment provider %s",
               p->base_url);
  pv_error_detail(err, "%s.", detail[0] ? detail : curl_easy_strerror(c));
  return PV_EUNAVAILABLE;
}

/* Maps an HTTP status other than 200. */
static int status_error(const enrich_http *p, long status, pv_error *err) {
  if (status == 202 || status == 404 || status == 422) return 0; /* cannot tell */
  if (status == 401 || status == 403) {
    if (p->key_name) {
      pv_error_set(err, PV_EUNAVAILABLE, NULL,
                   "the enrichment provider %s refused the key in %s (HTTP %ld)", p->base_url,
                   p->key_name, status);
      pv_error_hint(err, "Check the key in %s (--enrichment-key-file).", p->key_name);
    } else {
      pv_error_set(err, PV_EUNAVAILABLE, NULL,
                   "the enrichment provider %s refused a request without a key (HTTP %ld)",
                   p->base_url, status);
      pv_error_hint(err, "Name the key's file with --enrichment-key-file.");
    }
    return PV_EUNAVAILABLE;
  }
  pv_error_set(err, PV_EUNAVAILABLE, NULL, "the enrichment provider %s answered HTTP %ld%s",
               p->base_url, status, status == 429 ? " (rate limited)" : "");
  return PV_EUNAVAILABLE;
}

static int http_classify(const acct_enricher *self, const acct_enrich_in *in, char *industry,
                         size_t cap, pv_error *err) {
  const enrich_http *p = self->impl;
  industry[0] = '\0';
  norm_domain d;
  if (!in->domain || !in->domain[0] ||
      norm_domain_parse(in->domain, strlen(in->domain), &d, NULL) != 0)
    return 0; /* nothing to look up */
  CURL *h = curl_easy_init();
  if (!h) return pv_error_set(err, PV_EUNAVAILABLE, NULL, "could not start an HTTP request");
  answer a = {PV_BUF_INIT, false};
  pv_buf url = PV_BUF_INIT;
  char detail[CURL_ERROR_SIZE] = "";
  int rc = 0;
  char *q = curl_easy_escape(h, d.domain, 0);
  if (!q) {
    rc = pv_error_set(err, PV_EUNAVAILABLE, NULL, "could not encode the domain");
    goto done;
  }
  pv_buf_addf(&url, "%s/v2/companies/find?domain=%s", p->base_url, q);
  curl_free(q);
  /* NOSIGNAL: several threads time out at once, which curl's SIGALRM-based
   * resolver timeout cannot do safely; redirects are not followed, so the
   * key never goes to another host. */
  if (curl_easy_setopt(h, CURLOPT_URL, url.data) ||
      curl_easy_setopt(h, CURLOPT_HTTPHEADER, p->headers) ||
      curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) ||
      curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") ||
      curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) ||
      curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, p->connect_timeout_ms) ||
      curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, p->timeout_ms) ||
      curl_easy_setopt(h, CURLOPT_USERAGENT, "pivotal") ||
      curl_easy_setopt(h, CURLOPT_ERRORBUFFER, detail) ||
      curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body) ||
      curl_easy_setopt(h, CURLOPT_WRITEDATA, &a)) {
    rc = pv_error_set(err, PV_EUNAVAILABLE, NULL, "libcurl lacks an option the provider needs");
    goto done;
  }
  CURLcode c = curl_easy_perform(h);
  if (c != CURLE_OK) {
    rc = transfer_error(p, c, &a, detail, err);
    goto done;
  }
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  if (status == 200)
    rc = enrich_http_parse_company(a.body.data ? a.body.data : "", a.body.len, in->name, d.domain,
                                   industry, cap, err);
  else
    rc = status_error(p, status, err);
done:
  curl_easy_cleanup(h);
  pv_buf_release(&url);
  pv_buf_release(&a.body);
  return rc;
}

/* ---- construction -------------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

/* Checks the base URL: http(s), a host, no credentials, query or fragment. */
static int check_url(const char *url, pv_error *err) {
  CURLU *u = curl_url();
  if (!u) return pv_error_set(err, PV_ENOMEM, NULL, "out of memory");
  char *scheme = NULL, *host = NULL, *user = NULL, *query = NULL, *frag = NULL;
  int rc = 0;
  if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
      (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
    rc = pv_error_set(err, PV_EINVAL, "enrichment-url", "the enrichment URL \"%s\" is not an "
                      "http:// or https:// URL", url);
    pv_error_hint(err, "For Clearbit: https://company.clearbit.com");
  } else if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
    rc = pv_error_set(err, PV_EINVAL, "enrichment-url",
                      "the enrichment URL must not carry credentials");
    pv_error_hint(err, "Put the key in the file named by --enrichment-key-file.");
  } else if (curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK ||
             curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0) == CURLUE_OK) {
    rc = pv_error_set(err, PV_EINVAL, "enrichment-url",
                      "the enrichment URL must not have a query or fragment");
  }
  curl_free(scheme);
  curl_free(host);
  curl_free(user);
  curl_free(query);
  curl_free(frag);
  curl_url_cleanup(u);
  return rc;
}

static bool key_char_ok(char c) { return c > 0x20 && c < 0x7f; }

int enrich_http_new(const enrich_http_config *cfg, enrich_http **out, pv_error *err) {
  *out = NULL;
  pthread_once(&curl_once, curl_init);
  if (curl_init_rc != CURLE_OK)
    return pv_error_set(err, PV_EINTERNAL, NULL, "libcurl would not initialize: %s",
                        curl_easy_strerror(curl_init_rc));
  int rc = check_url(cfg->base_url ? cfg->base_url : "", err);
  if (rc) return rc;
  if (cfg->connect_timeout_ms < 0 || cfg->timeout_ms < 0)
    return pv_error_set(err, PV_EINVAL, "enrichment-timeout", "a timeout is not negative");
  const char *key = cfg->key ? cfg->key : "";
  for (const char *k = key; *k; k++)
    if (!key_char_ok(*k))
      return pv_error_set(err, PV_EINVAL, "enrichment-key-file",
                          "the enrichment key has a character a header cannot carry");
  enrich_http *p = pv_xcalloc(1, sizeof *p);
  p->base_url = pv_xstrdup(cfg->base_url);
  for (size_t n = strlen(p->base_url); n > 0 && p->base_url[n - 1] == '/'; n--)
    p->base_url[n - 1] = '\0';
  if (!(p->headers = curl_slist_append(NULL, "Accept: application/json"))) goto nomem;
  if (key[0]) {
    pv_buf h = PV_BUF_INIT;
    pv_buf_addf(&h, "Authorization: Bearer %s", key);
    struct curl_slist *more = curl_slist_append(p->headers, h.data);
    explicit_bzero(h.data, h.len);
    pv_buf_release(&h);
    if (!more) goto nomem;
    p->headers = more;
  }
  if (key[0]) p->key_name = pv_xstrdup(cfg->key_name && cfg->key_name[0] ? cfg->key_name : "?");
  p->connect_timeout_ms =
      cfg->connect_timeout_ms ? cfg->connect_timeout_ms : ENRICH_HTTP_CONNECT_TIMEOUT_MS;
  p->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : ENRICH_HTTP_TIMEOUT_MS;
  p->enricher = (acct_enricher){"enrichment", http_classify, p};
  *out = p;
  return 0;
nomem:
  enrich_http_free(p);
  return pv_error_set(err, PV_ENOMEM, NULL, "out of memory building the request headers");
}

void enrich_http_free(enrich_http *p) {
  if (!p) return;
  for (struct curl_slist *h = p->headers; h; h = h->next) explicit_bzero(h->data, strlen(h->data));
  curl_slist_free_all(p->headers);
  free(p->base_url);
  free(p->key_name);
  free(p);
}

const acct_enricher *enrich_http_enricher(const enrich_http *p) { return &p->enricher; }

/* ---- the key file -------------------------------------------------------- */

int enrich_http_load_key(const char *path, char key[ENRICH_HTTP_KEY_MAX + 1], pv_error *err) {
  key[0] = '\0';
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    pv_error_set(err, PV_EIO, "enrichment-key-file", "could not read the enrichment key \"%s\"",
                 path);
    pv_error_detail(err, "%s.", strerror(errno));
    return PV_EIO;
  }
  if (pv_file_check_private(fd, "enrichment key", path, err)) {
    close(fd);
    snprintf(err->field, sizeof err->field, "enrichment-key-file");
    return PV_EINVAL;
  }
  /* room for the key, surrounding white space (a trailing newline) and one
   * byte more to tell a key that is too long */
  char buf[ENRICH_HTTP_KEY_MAX + 64];
  size_t n = 0;
  ssize_t r;
  while (n < sizeof buf && (r = read(fd, buf + n, sizeof buf - n)) > 0) n += (size_t)r;
  close(fd);
  size_t lo = 0, hi = n;
  while (lo < hi && (buf[lo] == ' ' || buf[lo] == '\t' || buf[lo] == '\n' || buf[lo] == '\r'))
    lo++;
  while (hi > lo &&
         (buf[hi - 1] == ' ' || buf[hi - 1] == '\t' || buf[hi - 1] == '\n' || buf[hi - 1] == '\r'))
    hi--;
  int rc = 0;
  if (hi == lo || hi - lo > ENRICH_HTTP_KEY_MAX || n == sizeof buf) {
    rc = pv_error_set(err, PV_EINVAL, "enrichment-key-file",
                      "the enrichment key \"%s\" is empty or longer than %d bytes", path,
                      ENRICH_HTTP_KEY_MAX);
  } else {
    for (size_t i = lo; i < hi && rc == 0; i++)
      if (!key_char_ok(buf[i]))
        rc = pv_error_set(err, PV_EINVAL, "enrichment-key-file",
                          "the enrichment key \"%s\" has a character a header cannot carry",
                          path);
  }
  if (rc == 0) {
    memcpy(key, buf + lo, hi - lo);
    key[hi - lo] = '\0';
  }
  explicit_bzero(buf, sizeof buf);
  return rc;
}
