/*
 * norm_email — email addresses (norm_email_parse): the syntax subset and
 * the dedup key are explained in norm.h; the domain goes through the same
 * IDN and label checks as company domains (norm_host.c), without removing
 * "www." or "mail.", which are real mail domains.
 */
#include "core/norm/norm.h"
#include "core/norm/norm_internal.h"

#include <stdio.h>
#include <string.h>

/* atext of RFC 5322 §3.2.3, ASCII letters and digits aside. */
static int is_atext(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
    return 1;
  return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* Checks a dot-atom local part; returns a reason or NULL. `bad` receives
 * the offending character for the "contains" reason. */
static const char *check_local(const char *s, size_t len, char *bad) {
  if (len == 0) return "the local part is empty";
  if (len > NORM_EMAIL_LOCAL_MAX) return "the local part is longer than 64 characters";
  if (s[0] == '.' || s[len - 1] == '.') return "the local part begins or ends with a dot";
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '.') {
      if (s[i + 1] == '.') return "the local part has two dots in a row";
      continue;
    }
    if (c >= 0x80) return "the local part contains a non-ASCII character";
    if (!is_atext(c)) {
      *bad = (char)c;
      return "the local part contains";
    }
  }
  return NULL;
}

int norm_email_parse(const char *in, size_t len, norm_email *out, pv_error *err) {
  size_t start, tlen;
  memset(out, 0, sizeof *out);
  int why = norm__trim(in, len, &start, &tlen);
  if (why == -1)
    return pv_error_set(err, PV_EINVAL, NULL, "invalid email address: not valid UTF-8");
  if (why == -2)
    return pv_error_set(err, PV_EINVAL, NULL,
                        "invalid email address: contains a control character");
  const char *s = in + start;
  int quote = norm__quote_len(s, tlen, NORM__QUOTE_MAX);
  if (tlen == 0) return pv_error_set(err, PV_EINVAL, NULL, "invalid email address: empty");

  const char *at = memchr(s, '@', tlen);
  if (!at)
    return pv_error_set(err, PV_EINVAL, NULL, "invalid email address \"%.*s\": no \"@\"",
                        quote, s);
  const char *domain = at + 1;
  size_t local_len = (size_t)(at - s), domain_len = tlen - local_len - 1;
  if (memchr(domain, '@', domain_len))
    return pv_error_set(err, PV_EINVAL, NULL,
                        "invalid email address \"%.*s\": more than one \"@\"", quote, s);

  char bad = 0;
  const char *reason = check_local(s, local_len, &bad);
  if (reason) {
    if (bad == ' ' || bad == '\t')
      pv_error_set(err, PV_EINVAL, NULL, "invalid email address \"%.*s\": %s a space",
                   quote, s, reason);
    else if (bad)
      pv_error_set(err, PV_EINVAL, NULL, "invalid email address \"%.*s\": %s \"%c\"",
                   quote, s, reason, bad);
    else
      pv_error_set(err, PV_EINVAL, NULL, "invalid email address \"%.*s\": %s", quote, s,
                   reason);
    if (bad == '"' || bad == '(')
      pv_error_detail(err, "Quoted local parts and comments are not accepted.");
    return PV_EINVAL;
  }
  for (size_t i = 0; i < local_len; i++) {
    char c = s[i];
    out->local[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
  }

  if (domain_len == 0)
    return pv_error_set(err, PV_EINVAL, NULL,
                        "invalid email address \"%.*s\": the domain is empty", quote, s);
  const char *detail;
  if (norm__host_to_ascii(domain, domain_len, out->domain, &reason, &detail) != 0) {
    pv_error_set(err, PV_EINVAL, NULL, "invalid email address \"%.*s\": the domain %s",
                 quote, s, reason);
    if (detail) pv_error_detail(err, "IDNA: %s.", detail);
    return PV_EINVAL;
  }
  int rc = norm__registrable(out->domain, out->registrable);
  if (rc == -2)
    return pv_error_set(err, PV_EINTERNAL, NULL, "could not load the Public Suffix List");
  if (rc != 0)
    return pv_error_set(err, PV_EINVAL, NULL,
                        "invalid email address \"%.*s\": the domain is a public suffix",
                        quote, s);
  int n = snprintf(out->address, sizeof out->address, "%s@%s", out->local, out->domain);
  if (n < 0 || (size_t)n >= sizeof out->address) {
    memset(out, 0, sizeof *out);
    return pv_error_set(err, PV_EINVAL, NULL,
                        "invalid email address \"%.*s\": longer than 254 characters",
                        quote, s);
  }
  return 0;
}
