/*
 * enrich_http — an industry classifier (core/accounts.h's acct_enricher)
 * that asks an HTTP company-enrichment provider speaking the Clearbit
 * (HubSpot) Company API's "find by domain" wire format:
 *
 *   GET {base_url}/v2/companies/find?domain=<domain>
 *   Authorization: Bearer <key>
 *
 * 200: a company object; its `category` object's `naicsCode` / `sicCode`
 * (or the more precise first entries of `naics6Codes` / `sic4Codes` when
 * present), its `category.industry`, `description` and `tags` are fed to
 * the built-in rules (acct_enricher_rules), so the answer is always one of
 * ACCT_INDUSTRY_MAP's names or "" — never the provider's own vocabulary.
 * 202 (lookup queued, ask later), 404 (unknown) and 422 (domain refused):
 * "" (cannot tell). 401 / 403: PV_EUNAVAILABLE naming the key's file (never
 * the key). 429, 5xx, any other status, a refused or failed connection, a
 * body that is not a JSON object or over ENRICH_HTTP_BODY_MAX:
 * PV_EUNAVAILABLE. A connect or total timeout: PV_ETIMEDOUT.
 *
 * The domain is normalized first (norm_domain_parse: lowercase ASCII, IDN
 * as A-labels); an input without a valid domain is answered "" without a
 * request. The domain is percent-encoded into the query all the same.
 *
 * Thread: classify is safe from several threads at once (one curl easy
 * handle per call, nothing shared but the read-only config); it blocks for
 * up to timeout_ms, so the API runs it on libuv's thread pool, never on
 * its loop. enrich_http_new / _free: one thread, at start-up and shutdown.
 */
#ifndef PV_ENRICH_HTTP_H
#define PV_ENRICH_HTTP_H

#include "core/accounts.h"

#include <stddef.h>

/* Defaults of the timeouts. Connect 2 s: a provider on the same continent
 * answers a TCP+TLS handshake in well under 300 ms; 2 s allows for one
 * lost SYN (Linux retransmits after 1 s) and fails fast otherwise. Total
 * 5 s: the provider answers a lookup it cannot do at once with 202 rather
 * than holding the request, so a healthy answer is quick; 5 s bounds how
 * long an account write waits for a slow one, after which the account
 * is better written with the rules' answer than kept waiting. */
#define ENRICH_HTTP_CONNECT_TIMEOUT_MS 2000
#define ENRICH_HTTP_TIMEOUT_MS 5000
/* A company object is a few KiB; 1 MiB bounds a misbehaving provider. */
#define ENRICH_HTTP_BODY_MAX (1024 * 1024)
/* Bearer keys are short tokens (Clearbit's: "sk_" and 32 hex digits);
 * 1024 bytes is arbitrary headroom. */
#define ENRICH_HTTP_KEY_MAX 1024

typedef struct enrich_http_config {
  const char *base_url; /* http:// or https://, e.g. "https://company.clearbit.com" */
  const char *key;      /* the bearer key; NULL or "": no Authorization header */
  const char *key_name; /* how errors name the key: its file's path */
  long connect_timeout_ms; /* 0: ENRICH_HTTP_CONNECT_TIMEOUT_MS */
  long timeout_ms;         /* 0: ENRICH_HTTP_TIMEOUT_MS */
} enrich_http_config;

typedef struct enrich_http enrich_http;

/*
 * Makes the provider (cfg is copied, the key too) and, once per process,
 * initializes libcurl (curl_global_init; never cleaned up: it lives as long
 * as the process).
 * Returns: 0 or PV_EINVAL (base URL not http(s), a key with a control
 * character or space, a negative timeout; err names the setting),
 * PV_EINTERNAL (libcurl would not initialize).
 * Ownership: enrich_http_free, after the last classify has returned.
 */
int enrich_http_new(const enrich_http_config *cfg, enrich_http **out, pv_error *err);
void enrich_http_free(enrich_http *p);

/* The provider as an acct_enricher (source "enrichment"), valid until
 * enrich_http_free. */
const acct_enricher *enrich_http_enricher(const enrich_http *p);

/*
 * Maps a 200 answer's body to our industry: the codes, category.industry,
 * description and tags through the built-in rules; name and domain (may be
 * NULL) are the account's, for the rules' keyword fallback.
 * Returns: 0 (industry filled, "" when the rules cannot tell) or
 * PV_EUNAVAILABLE (not a JSON object, or a field of the wrong type).
 * Thread: any (pure).
 */
int enrich_http_parse_company(const char *body, size_t len, const char *name,
                              const char *domain, char *industry, size_t cap, pv_error *err);

/*
 * Reads the bearer key from path: the file's text with surrounding white
 * space removed, 1..ENRICH_HTTP_KEY_MAX bytes of printable ASCII.
 * Returns: 0, PV_EIO (cannot read; err names the file), PV_EINVAL (empty,
 * too long, or a character a header cannot carry).
 */
int enrich_http_load_key(const char *path, char key[ENRICH_HTTP_KEY_MAX + 1], pv_error *err);

#endif
