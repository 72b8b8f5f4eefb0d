/*
 * ds_norm — one uploaded domain cell: typo repair, then core/norm.
 *
 * The repairs are the mistakes seen in hand-kept target-account lists: a
 * comma or semicolon typed for a dot, doubled dots, a cell that ends in a
 * comma or starts with a quote or bracket, spaces inside the name, and
 * "http//" without its colon. Each is recorded as a bit so the item shows
 * what was changed; what core/norm removes anyway (scheme, path, port,
 * www./mail./m., case, IDN) is normalization, not repair, and is not
 * recorded.
 */
#include "core/domainsets/ds.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Longest cell worked on; longer is invalid (a URL with a long path or
 * query is not a domain list entry). Arbitrary: 8 domains' worth. */
#define DS_CELL_MAX 2048

static const char *const repair_names[] = {
#define DS__XX(name, str, bit) [bit] = str,
    DS_REPAIR_MAP(DS__XX)
#undef DS__XX
};

void ds_repairs_format(unsigned mask, char *out, size_t cap) {
  size_t n = 0;
  if (cap) out[0] = 0;
  for (unsigned bit = 0; bit < sizeof repair_names / sizeof repair_names[0]; bit++) {
    if (!(mask & (1u << bit))) continue;
    int w = snprintf(out + n, cap > n ? cap - n : 0, "%s%s", n ? "," : "", repair_names[bit]);
    if (w > 0) n += (size_t)w;
  }
}

void ds_label_of(const char *registrable, char *out, size_t cap) {
  const char *dot = strchr(registrable, '.');
  size_t n = dot ? (size_t)(dot - registrable) : strlen(registrable);
  if (n >= cap) n = 0;
  memcpy(out, registrable, n);
  out[n] = 0;
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* Copies at most cap-1 bytes, cut at a UTF-8 character boundary. */
static void copy_cut(char *dst, size_t cap, const char *src, size_t len) {
  if (len >= cap) {
    len = cap - 1;
    while (len > 0 && ((unsigned char)src[len] & 0xc0) == 0x80) len--;
  }
  memcpy(dst, src, len);
  dst[len] = 0;
}

/* Removes the bytes of s[0..*n) for which drop() holds; true if any. */
static bool drop_inner(char *s, size_t *n, bool (*drop)(char)) {
  size_t w = 0;
  for (size_t r = 0; r < *n; r++)
    if (!drop(s[r])) s[w++] = s[r];
  bool changed = w != *n;
  *n = w;
  return changed;
}

static bool replace_char(char *s, size_t n, char from, char to) {
  bool changed = false;
  for (size_t i = 0; i < n; i++)
    if (s[i] == from) {
      s[i] = to;
      changed = true;
    }
  return changed;
}

static bool collapse_dots(char *s, size_t *n) {
  size_t w = 0;
  for (size_t r = 0; r < *n; r++)
    if (!(s[r] == '.' && w > 0 && s[w - 1] == '.')) s[w++] = s[r];
  bool changed = w != *n;
  *n = w;
  return changed;
}

/* "http//x", "https//x", "http:/x", "https:/x" -> "http(s)://x". */
static bool fix_scheme(char *s, size_t *n) {
  for (int tls = 0; tls < 2; tls++) {
    size_t p = tls ? 5 : 4; /* length of "https" / "http" */
    if (*n <= p + 2 || strncasecmp(s, tls ? "https" : "http", p) != 0) continue;
    const char *rest = s + p;
    size_t skip;
    if (rest[0] == '/' && rest[1] == '/') skip = 2;             /* http//  */
    else if (rest[0] == ':' && rest[1] == '/' && rest[2] != '/') skip = 2; /* http:/ */
    else continue;
    char tmp[DS_CELL_MAX + 8];
    size_t tail = *n - p - skip;
    memcpy(tmp, s, p);
    memcpy(tmp + p, "://", 3);
    memcpy(tmp + p + 3, rest + skip, tail);
    *n = p + 3 + tail;
    memcpy(s, tmp, *n);
    return true;
  }
  return false;
}

static bool is_edge_punct(char c) { return c && strchr("\"'`()[]{}<>,;:!?*", c) != NULL; }
static bool is_inner_space(char c) { return is_space(c); }

int ds_normalize(const char *in, size_t len, ds_entry *out, pv_error *err) {
  memset(out, 0, sizeof *out);
  copy_cut(out->original, sizeof out->original, in, len);
  while (len && is_space(in[0])) in++, len--;
  while (len && is_space(in[len - 1])) len--;
  if (len == 0) {
    snprintf(out->invalid_reason, sizeof out->invalid_reason, "the entry is empty");
    return 0;
  }
  if (len > DS_CELL_MAX) {
    snprintf(out->invalid_reason, sizeof out->invalid_reason,
             "the entry is longer than %d bytes", DS_CELL_MAX);
    return 0;
  }
  char buf[DS_CELL_MAX + 8];
  size_t n = len;
  memcpy(buf, in, n);
  unsigned rep = 0;

  if (fix_scheme(buf, &n)) rep |= DS_REPAIR_SCHEME_TYPO;
  size_t lead = 0;
  while (lead < n && (is_edge_punct(buf[lead]) || buf[lead] == '.')) lead++;
  if (lead) {
    memmove(buf, buf + lead, n - lead);
    n -= lead;
    rep |= DS_REPAIR_LEADING_PUNCTUATION;
  }
  /* A single trailing dot is a fully qualified name, which core/norm takes;
   * anything more at the end is a typo. */
  size_t end = n;
  while (end > 0 && (is_edge_punct(buf[end - 1]) || buf[end - 1] == '.')) end--;
  if (end < n && !(end + 1 == n && buf[end] == '.')) {
    n = end;
    rep |= DS_REPAIR_TRAILING_PUNCTUATION;
  }
  if (drop_inner(buf, &n, is_inner_space)) rep |= DS_REPAIR_INNER_SPACES;
  if (replace_char(buf, n, ',', '.')) rep |= DS_REPAIR_COMMA_AS_DOT;
  if (replace_char(buf, n, ';', '.')) rep |= DS_REPAIR_SEMICOLON_AS_DOT;
  if (collapse_dots(buf, &n)) rep |= DS_REPAIR_DOUBLED_DOTS;
  buf[n] = 0;
  out->repairs = rep;
  if (rep) copy_cut(out->repaired, sizeof out->repaired, buf, n);
  if (n == 0) {
    snprintf(out->invalid_reason, sizeof out->invalid_reason, "the entry is only punctuation");
    return 0;
  }
  pv_error e = PV_ERROR_INIT;
  int rc = norm_domain_parse(buf, n, &out->nd, &e);
  if (rc == PV_EINVAL) {
    snprintf(out->invalid_reason, sizeof out->invalid_reason, "%s", e.message);
    return 0;
  }
  if (rc) {
    if (err) *err = e;
    return rc;
  }
  out->valid = true;
  ds_label_of(out->nd.registrable, out->label, sizeof out->label);
  return 0;
}

/* Legal forms and the like, dropped from the end of a company name. */
static const char *const legal_forms[] = {
    "inc",  "incorporated", "llc", "llp", "ltd", "limited", "corp", "corporation", "co",
    "company", "gmbh", "ag", "sa", "sas", "sarl", "plc", "bv", "nv", "srl", "spa", "pty",
    "oy", "ab", "as", "kg", "lp", "pllc", "pc", "holdings", "group"};

static bool is_legal_form(const char *w, size_t n) {
  for (size_t i = 0; i < sizeof legal_forms / sizeof legal_forms[0]; i++)
    if (strlen(legal_forms[i]) == n && memcmp(legal_forms[i], w, n) == 0) return true;
  return false;
}

void ds_company_key(const char *name_key, char *out, size_t cap) {
  char buf[DS_STR_MAX * 4 + 1];
  size_t n = 0;
  /* Punctuation to spaces, runs of spaces to one. */
  for (const char *p = name_key; *p && n + 1 < sizeof buf; p++) {
    unsigned char c = (unsigned char)*p;
    bool sep = c < 0x80 && !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '&');
    if (sep) {
      if (n > 0 && buf[n - 1] != ' ') buf[n++] = ' ';
    } else {
      buf[n++] = (char)c;
    }
  }
  while (n > 0 && buf[n - 1] == ' ') n--;
  buf[n] = 0;
  const char *start = buf;
  if (strncmp(start, "the ", 4) == 0) start += 4;
  size_t len = strlen(start);
  /* Trailing legal forms, as long as a word is left before them. */
  for (;;) {
    const char *sp = len ? memrchr(start, ' ', len) : NULL;
    if (!sp) break;
    const char *w = sp + 1;
    if (!is_legal_form(w, len - (size_t)(w - start))) break;
    len = (size_t)(sp - start);
  }
  if (len >= cap) {
    len = cap ? cap - 1 : 0;
    while (len > 0 && ((unsigned char)start[len] & 0xc0) == 0x80) len--;
  }
  memcpy(out, start, len);
  if (cap) out[len] = 0;
}
