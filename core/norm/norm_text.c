/*
 * norm_text — Unicode text: trimming, the matching key, and person and
 * company names (norm_name_parse). All Unicode knowledge comes from
 * utf8proc; the only table of our own is the handful of stroke letters that
 * Unicode gives no decomposition, below.
 */
#include "core/norm/norm.h"
#include "core/norm/norm_internal.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* Zero-width characters that copy and paste leaves in data: trimmed at the
 * ends, dropped inside names. ZWJ/ZWNJ (U+200C/D) are not here: they shape
 * Persian and Indic text. */
static int is_zero_width(int32_t cp) {
  return cp == 0x200B || cp == 0x2060 || cp == 0xFEFF || cp == 0x180E;
}

int norm__is_space(int32_t cp) {
  if (cp == ' ' || (cp >= '\t' && cp <= '\r') || cp == 0x85) return 1;
  if (is_zero_width(cp)) return 1;
  utf8proc_category_t c = utf8proc_category(cp);
  return c == UTF8PROC_CATEGORY_ZS || c == UTF8PROC_CATEGORY_ZL ||
         c == UTF8PROC_CATEGORY_ZP;
}

int norm__trim(const char *in, size_t len, size_t *start, size_t *trimmed_len) {
  const utf8proc_uint8_t *s = (const utf8proc_uint8_t *)in;
  size_t pos = 0, first = len, end = 0;
  while (pos < len) {
    utf8proc_int32_t cp;
    utf8proc_ssize_t n = utf8proc_iterate(s + pos, (utf8proc_ssize_t)(len - pos), &cp);
    if (n < 0) return -1;
    if (!norm__is_space(cp)) {
      if (utf8proc_category(cp) == UTF8PROC_CATEGORY_CC) return -2;
      if (first == len) first = pos;
      end = pos + (size_t)n;
    }
    pos += (size_t)n;
  }
  *start = first == len ? 0 : first;
  *trimmed_len = first == len ? 0 : end - first;
  return 0;
}

int norm__quote_len(const char *s, size_t len, size_t max) {
  size_t n = len < max ? len : max;
  if (n < len)
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
  return (int)n;
}

/*
 * Latin letters whose diacritic is part of the glyph, so Unicode gives them
 * no decomposition and stripping marks cannot reach them. Mapped to their
 * base letter before decomposition; "Łódź" and "Lodz" then share a key.
 */
static utf8proc_int32_t fold_stroke_letter(utf8proc_int32_t cp, void *data) {
  (void)data;
  switch (cp) {
  case 0x00D8: case 0x00F8: return 'o'; /* Ø ø */
  case 0x0110: case 0x0111: return 'd'; /* Đ đ (Vietnamese, Croatian) */
  case 0x0126: case 0x0127: return 'h'; /* Ħ ħ */
  case 0x0131: return 'i';              /* dotless ı */
  case 0x0141: case 0x0142: return 'l'; /* Ł ł */
  case 0x0166: case 0x0167: return 't'; /* Ŧ ŧ */
  default: return cp;
  }
}

/* The combining-mark blocks that carry accents of Latin, Greek and Cyrillic
 * (see norm.h for why other scripts' marks are kept). */
static int is_accent_mark(utf8proc_int32_t cp) {
  return (cp >= 0x0300 && cp <= 0x036F) || (cp >= 0x1AB0 && cp <= 0x1AFF) ||
         (cp >= 0x1DC0 && cp <= 0x1DFF) || (cp >= 0x20D0 && cp <= 0x20FF) ||
         (cp >= 0xFE20 && cp <= 0xFE2F);
}

int norm__fold(const char *s, size_t len, pv_buf *out) {
  /* NFKD + case fold + default ignorables removed + punctuation lumped,
   * then the accents dropped and the rest recomposed (NFKC_Casefold with
   * accents stripped). */
  const utf8proc_option_t decompose = UTF8PROC_STABLE | UTF8PROC_COMPAT |
                                      UTF8PROC_DECOMPOSE | UTF8PROC_CASEFOLD |
                                      UTF8PROC_IGNORE | UTF8PROC_LUMP;
  const utf8proc_uint8_t *u = (const utf8proc_uint8_t *)s;
  if (len == 0) return 0;
  utf8proc_ssize_t n = utf8proc_decompose_custom(u, (utf8proc_ssize_t)len, NULL, 0,
                                                 decompose, fold_stroke_letter, NULL);
  if (n < 0) return -1;
  /* one code point more than needed so that an empty result still has room
   * for utf8proc_reencode's terminating NUL */
  utf8proc_int32_t *cps = pv_xmalloc(((size_t)n + 1) * sizeof *cps);
  utf8proc_ssize_t got = utf8proc_decompose_custom(u, (utf8proc_ssize_t)len, cps, n,
                                                   decompose, fold_stroke_letter, NULL);
  int rc = -1;
  if (got != n) goto out;
  utf8proc_ssize_t kept = 0;
  for (utf8proc_ssize_t i = 0; i < n; i++)
    if (!is_accent_mark(cps[i])) cps[kept++] = cps[i];
  utf8proc_ssize_t bytes = utf8proc_reencode(cps, kept, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
  if (bytes < 0) goto out;
  pv_buf_add(out, cps, (size_t)bytes);
  rc = 0;
out:
  free(cps);
  return rc;
}

/* Appends s[0..len) to out with every whitespace run made one space and
 * zero-width characters dropped; s is valid UTF-8 and already trimmed. */
static void add_collapsed(pv_buf *out, const char *s, size_t len) {
  const utf8proc_uint8_t *u = (const utf8proc_uint8_t *)s;
  size_t pos = 0;
  int in_space = 0;
  while (pos < len) {
    utf8proc_int32_t cp;
    utf8proc_ssize_t n = utf8proc_iterate(u + pos, (utf8proc_ssize_t)(len - pos), &cp);
    if (n <= 0) return; /* cannot happen: checked by norm__trim */
    if (norm__is_space(cp)) {
      in_space |= !is_zero_width(cp);
    } else {
      if (in_space && out->len > 0) pv_buf_addch(out, ' ');
      in_space = 0;
      pv_buf_add(out, s + pos, (size_t)n);
    }
    pos += (size_t)n;
  }
}

static int bad_text(pv_error *err, int why, const char *what) {
  if (why == -1)
    return pv_error_set(err, PV_EINVAL, NULL, "invalid %s: not valid UTF-8", what);
  return pv_error_set(err, PV_EINVAL, NULL, "invalid %s: contains a control character",
                      what);
}

int norm_name_parse(const char *in, size_t len, pv_buf *display, pv_buf *key,
                    pv_error *err) {
  size_t start, tlen;
  pv_buf collapsed = PV_BUF_INIT, folded = PV_BUF_INIT;
  int rc = 0;
  pv_buf_reset(display);
  pv_buf_reset(key);
  if (len > NORM_TEXT_MAX)
    return pv_error_set(err, PV_EINVAL, NULL, "invalid name: longer than %d bytes",
                        NORM_TEXT_MAX);
  int why = norm__trim(in, len, &start, &tlen);
  if (why != 0) return bad_text(err, why, "name");

  add_collapsed(&collapsed, in + start, tlen);
  if (collapsed.len > 0) {
    utf8proc_uint8_t *nfc = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)collapsed.data,
                                      (utf8proc_ssize_t)collapsed.len, &nfc,
                                      UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    if (n < 0) {
      rc = pv_error_set(err, PV_EINVAL, NULL, "invalid name: %s", utf8proc_errmsg(n));
      goto cleanup;
    }
    pv_buf_add(display, nfc, (size_t)n);
    free(nfc);
  }
  if (norm__fold(collapsed.data, collapsed.len, &folded) != 0) {
    rc = pv_error_set(err, PV_EINVAL, NULL, "invalid name: cannot be normalized");
    goto cleanup;
  }
  /* folding can create or remove spaces (lumped U+3000, dropped ignorables) */
  if (norm__trim(folded.data, folded.len, &start, &tlen) != 0) {
    rc = pv_error_set(err, PV_EINVAL, NULL, "invalid name: cannot be normalized");
    goto cleanup;
  }
  add_collapsed(key, folded.data + start, tlen);
cleanup:
  pv_buf_release(&folded);
  pv_buf_release(&collapsed);
  return rc;
}
