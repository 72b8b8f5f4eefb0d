/*
 * norm_host — host names: IDN to ASCII (libidn2), label checks, registrable
 * domains (libpsl), and norm_domain_parse for what users type as a
 * company's website.
 *
 * IDNA choice: idn2_lookup_u8 with IDNA2008 plus UTS #46 mapping in
 * NON-transitional mode (IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT).
 *  - UTS #46 mapping is needed because people type "Bücher.Example" or
 *    full-width characters; pure IDNA2008 refuses capitals outright.
 *  - Non-transitional, because transitional mode rewrites ß to "ss" and ς
 *    to σ, which addresses a different domain than the one registered
 *    (faß.de and fass.de are different owners since DENIC allowed ß in
 *    2010); browsers (Chrome, Firefox, Safari) and libidn2's own default
 *    resolve non-transitionally, so the key matches where mail goes.
 *
 * PSL choice: psl_latest(NULL) picks the newer of libpsl's built-in list
 * and Debian's `publicsuffix` package
 * (/usr/share/publicsuffix/public_suffix_list.dafsa), so an updated package
 * updates us without a rebuild; psl_builtin() is the fallback. The private
 * section (github.io, myshopify.com) is included: a shop on
 * acme.myshopify.com belongs to acme, not to Shopify.
 *
 * Thread: the PSL context is loaded once under pthread_once and only read
 * afterwards (libpsl lookups do not modify the context). It is never freed:
 * it lives as long as the process.
 */
#include "core/norm/norm.h"
#include "core/norm/norm_internal.h"

#include <idn2.h>
#include <stdbool.h>
#include <libpsl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* A host in UTF-8 can need up to 4 bytes per character where ASCII needs
 * one; anything longer cannot fit NORM_DOMAIN_MAX after conversion. */
#define HOST_INPUT_MAX (4 * NORM_DOMAIN_MAX)

static pthread_once_t psl_once = PTHREAD_ONCE_INIT;
static const psl_ctx_t *psl_ctx;

static void psl_load(void) {
  psl_ctx_t *latest = psl_latest(NULL);
  psl_ctx = latest ? latest : psl_builtin();
}

int norm__registrable(const char *host, char *out) {
  pthread_once(&psl_once, psl_load);
  if (!psl_ctx) return -2;
  const char *reg = psl_registrable_domain(psl_ctx, host);
  if (!reg) return -1;
  snprintf(out, NORM_DOMAIN_MAX + 1, "%s", reg);
  return 0;
}

static int is_ldh(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

/* Checks the labels of a lowercase ASCII host; returns a reason or NULL. */
static const char *check_labels(const char *host) {
  size_t len = strlen(host);
  if (len == 0) return "is empty";
  if (len > NORM_DOMAIN_MAX) return "is longer than 253 characters";
  int labels = 0, all_numeric = 1, last_numeric = 0;
  const char *p = host;
  for (;;) {
    const char *dot = strchr(p, '.');
    size_t n = dot ? (size_t)(dot - p) : strlen(p);
    if (n == 0) return "has an empty label";
    if (n > 63) return "has a label longer than 63 characters";
    if (p[0] == '-' || p[n - 1] == '-') return "has a label that begins or ends with a hyphen";
    int numeric = 1;
    for (size_t i = 0; i < n; i++) {
      if (!is_ldh(p[i])) return "has a character not allowed in a host name";
      if (p[i] < '0' || p[i] > '9') numeric = 0;
    }
    all_numeric &= numeric;
    last_numeric = numeric;
    labels++;
    if (!dot) break;
    p = dot + 1;
  }
  if (all_numeric) return "is an IP address";
  if (labels < 2) return "has a single label";
  if (last_numeric) return "has an all-numeric top-level label";
  return NULL;
}

/* Whether a label of host has '-' in both its 3rd and 4th places. */
static bool has_hyphen_pair_label(const char *host) {
  for (const char *label = host;;) {
    if (label[0] && label[1] && label[2] == '-' && label[3] == '-') return true;
    const char *dot = strchr(label, '.');
    if (!dot) return false;
    label = dot + 1;
  }
}

int norm__host_to_ascii(const char *host, size_t len, char *out, const char **reason,
                        const char **detail) {
  char input[HOST_INPUT_MAX + 1];
  *detail = NULL;
  if (len > 0 && host[len - 1] == '.') len--;
  if (len == 0) {
    *reason = "is empty";
    return -1;
  }
  if (len > HOST_INPUT_MAX) {
    *reason = "is longer than 253 characters";
    return -1;
  }
  if (host[0] == '[' || memchr(host, ':', len)) {
    *reason = "is an IP address";
    return -1;
  }
  if (memchr(host, '\0', len)) {
    *reason = "has a character not allowed in a host name";
    return -1;
  }
  /* ASCII input gets our own reasons (libidn2 would say "invalid" for a
   * hyphen or an underscore); libidn2 then still checks "xn--" labels. */
  int ascii_only = 1;
  for (size_t i = 0; i < len; i++) {
    char c = host[i];
    ascii_only &= (unsigned char)c < 0x80;
    input[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
  }
  input[len] = '\0';
  if (ascii_only) {
    if ((*reason = check_labels(input)) != NULL) return -1;
    /* Letter-digit-hyphen labels come out of IDNA as they went in (UTS #46
     * maps them to themselves; libidn2 copies ASCII labels), so only hosts
     * with a label of hyphens in its 3rd and 4th place ("xn--" Punycode,
     * whose decoding libidn2 checks, and the reserved "ab--" shape it
     * refuses) need libidn2. Skipping it cuts a typical address from
     * 5.7 to 1.4 us (bench norm). */
    if (!has_hyphen_pair_label(input)) {
      memcpy(out, input, len + 1);
      return 0;
    }
  }

  uint8_t *ascii = NULL;
  int rc = idn2_lookup_u8((const uint8_t *)input, &ascii,
                          IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
  if (rc != IDN2_OK) {
    *reason = "is not a valid internationalized domain name";
    *detail = idn2_strerror(rc);
    return -1;
  }
  /* UTS #46 maps capitals to lowercase already; fold again for the ASCII
   * fast path of labels libidn2 passes through unchanged. */
  for (uint8_t *c = ascii; *c; c++)
    if (*c >= 'A' && *c <= 'Z') *c = (uint8_t)(*c - 'A' + 'a');
  size_t alen = strlen((const char *)ascii);
  if (alen > 0 && ascii[alen - 1] == '.') ascii[--alen] = '\0';
  *reason = check_labels((const char *)ascii);
  if (!*reason) memcpy(out, ascii, alen + 1);
  idn2_free(ascii);
  return *reason ? -1 : 0;
}

/* The prefixes that name a service of the company, not the company. */
static const char *const service_prefixes[] = {"www.", "mail.", "m."};

/* Removes service prefixes while what remains is more than a public
 * suffix ("www.example.com" -> "example.com", "www.com" stays). */
static void strip_service_prefixes(char *host) {
  char reg[NORM_DOMAIN_MAX + 1];
  for (int again = 1; again;) {
    again = 0;
    for (size_t i = 0; i < sizeof service_prefixes / sizeof *service_prefixes; i++) {
      size_t n = strlen(service_prefixes[i]);
      if (strncmp(host, service_prefixes[i], n) != 0) continue;
      if (norm__registrable(host + n, reg) != 0) continue;
      memmove(host, host + n, strlen(host + n) + 1);
      again = 1;
    }
  }
}

static int bad_domain(pv_error *err, const char *s, size_t len, const char *reason,
                      const char *detail) {
  pv_error_set(err, PV_EINVAL, NULL, "invalid domain \"%.*s\": it %s",
               norm__quote_len(s, len, NORM__QUOTE_MAX), s, reason);
  if (detail) pv_error_detail(err, "IDNA: %s.", detail);
  return PV_EINVAL;
}

int norm_domain_parse(const char *in, size_t len, norm_domain *out, pv_error *err) {
  size_t start, tlen;
  memset(out, 0, sizeof *out);
  int why = norm__trim(in, len, &start, &tlen);
  if (why == -1) return pv_error_set(err, PV_EINVAL, NULL, "invalid domain: not valid UTF-8");
  if (why == -2)
    return pv_error_set(err, PV_EINVAL, NULL, "invalid domain: contains a control character");
  const char *s = in + start, *end = in + start + tlen;

  /* scheme: letters, digits, + - . before "://" (RFC 3986 §3.1) */
  const char *p = s;
  while (p < end && (((*p | 0x20) >= 'a' && (*p | 0x20) <= 'z') ||
                     (*p >= '0' && *p <= '9') || *p == '+' || *p == '-' || *p == '.'))
    p++;
  const char *host = s;
  if (end - p >= 3 && memcmp(p, "://", 3) == 0) host = p + 3;
  else if (end - s >= 2 && memcmp(s, "//", 2) == 0) host = s + 2;

  /* authority ends at the path, query or fragment */
  const char *host_end = host;
  while (host_end < end && !strchr("/?#\\", *host_end)) host_end++;
  /* userinfo */
  for (const char *q = host_end; q > host; q--)
    if (q[-1] == '@') {
      host = q;
      break;
    }
  if (host < host_end && *host == '[')
    return bad_domain(err, s, tlen, "is an IP address", NULL);
  /* port: one ':' is a port; more are an IPv6 address without brackets */
  const char *colon = memchr(host, ':', (size_t)(host_end - host));
  if (colon) {
    if (memchr(colon + 1, ':', (size_t)(host_end - colon - 1)))
      return bad_domain(err, s, tlen, "is an IP address", NULL);
    host_end = colon;
  }

  const char *reason, *detail;
  if (norm__host_to_ascii(host, (size_t)(host_end - host), out->domain, &reason,
                          &detail) != 0)
    return bad_domain(err, s, tlen, reason, detail);
  strip_service_prefixes(out->domain);
  int rc = norm__registrable(out->domain, out->registrable);
  if (rc == -2)
    return pv_error_set(err, PV_EINTERNAL, NULL, "could not load the Public Suffix List");
  if (rc != 0) return bad_domain(err, s, tlen, "is a public suffix", NULL);
  return 0;
}
