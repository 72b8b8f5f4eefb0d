/*
 * mp_json — see mp_json.h for the mapping. One recursive walk over core/mp's
 * reader; the depth check sits before each descent, so the C stack is
 * bounded by MP_MAX_DEPTH frames.
 */
#include "core/mp_json.h"

#include "core/common/pv_error.h"

#include <inttypes.h>
#include <math.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Length of the well-formed UTF-8 sequence at s[0..n) (1 to 4), or 0 when
 * the bytes there are not one (The Unicode Standard, table 3-7). */
static size_t utf8_seq(const unsigned char *s, size_t n, uint32_t *cp) {
  unsigned char b = s[0];
  if (b < 0x80) {
    *cp = b;
    return 1;
  }
  size_t len;
  unsigned char lo = 0x80, hi = 0xbf; /* range of the second byte */
  if (b >= 0xc2 && b <= 0xdf) len = 2;
  else if (b >= 0xe0 && b <= 0xef) {
    len = 3;
    if (b == 0xe0) lo = 0xa0;       /* no overlongs */
    else if (b == 0xed) hi = 0x9f;  /* no surrogates */
  } else if (b >= 0xf0 && b <= 0xf4) {
    len = 4;
    if (b == 0xf0) lo = 0x90;       /* no overlongs */
    else if (b == 0xf4) hi = 0x8f;  /* nothing past U+10FFFF */
  } else {
    return 0;
  }
  if (n < len || s[1] < lo || s[1] > hi) return 0;
  uint32_t c = b & (0x7f >> len);
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xc0) != 0x80) return 0;
    c = (c << 6) | (s[i] & 0x3f);
  }
  *cp = c;
  return len;
}

void mpj_append_str(pv_buf *out, const char *str, size_t len) {
  const unsigned char *s = (const unsigned char *)str;
  size_t run = 0; /* start of the bytes not yet copied */
  pv_buf_grow(out, len + 2);
  pv_buf_addch(out, '"');
  for (size_t i = 0; i < len;) {
    uint32_t cp;
    size_t n = utf8_seq(s + i, len - i, &cp);
    const char *escape = NULL;
    char ubuf[8];
    if (n == 0 || cp == 0) {
      /* U+FFFD for each byte that is not UTF-8, and for U+0000, which
       * PostgreSQL's jsonb refuses even escaped */
      escape = "\xef\xbf\xbd";
      n = n ? n : 1;
    } else if (cp == '"') {
      escape = "\\\"";
    } else if (cp == '\\') {
      escape = "\\\\";
    } else if (cp == '\n') {
      escape = "\\n";
    } else if (cp == '\r') {
      escape = "\\r";
    } else if (cp == '\t') {
      escape = "\\t";
    } else if (cp < 0x20 || cp == 0x2028 || cp == 0x2029) {
      snprintf(ubuf, sizeof ubuf, "\\u%04x", (unsigned)cp);
      escape = ubuf;
    }
    if (escape) {
      pv_buf_add(out, s + run, i - run);
      pv_buf_addstr(out, escape);
      run = i + n;
    }
    i += n;
  }
  pv_buf_add(out, s + run, len - run);
  pv_buf_addch(out, '"');
}

void mpj_append_text(pv_buf *out, const char *str, size_t len) {
  const unsigned char *s = (const unsigned char *)str;
  size_t run = 0; /* start of the bytes not yet copied */
  pv_buf_grow(out, len);
  for (size_t i = 0; i < len;) {
    uint32_t cp;
    size_t n = utf8_seq(s + i, len - i, &cp);
    if (n == 0 || cp == 0) {
      pv_buf_add(out, s + run, i - run);
      pv_buf_addstr(out, "\xef\xbf\xbd"); /* as mpj_append_str */
      n = n ? n : 1;
      run = i + n;
    }
    i += n;
  }
  pv_buf_add(out, s + run, len - run);
}

/* The shortest %g text that reads back to the same double (or, for a
 * msgpack float32, the same float); ".0" is added to integral values so a
 * float still reads as one. */
static void append_float(pv_buf *out, double f, bool single) {
  if (!isfinite(f)) {
    pv_buf_addstr(out, "null");
    return;
  }
  char text[40];
  for (int precision = 1; precision <= 17; precision++) {
    snprintf(text, sizeof text, "%.*g", precision, f);
    double back = strtod(text, NULL);
    if (single ? (float)back == (float)f : back == f) break;
  }
  pv_buf_addstr(out, text);
  if (!strpbrk(text, ".e")) pv_buf_addstr(out, ".0");
}

static void append_base64(pv_buf *out, mp_slice s) {
  size_t cap = sodium_base64_ENCODED_LEN(s.len, sodium_base64_VARIANT_ORIGINAL);
  pv_buf_addch(out, '"');
  pv_buf_grow(out, cap);
  sodium_bin2base64(out->data + out->len, cap, (const unsigned char *)s.ptr, s.len,
                    sodium_base64_VARIANT_ORIGINAL);
  out->len += cap - 1; /* cap counts the NUL, which stays as pv_buf's terminator */
  pv_buf_addch(out, '"');
}

static int convert(pv_buf *out, mp_reader *r, int depth);

/* A map key: a string as itself, anything else as the string of its JSON. */
static int convert_key(pv_buf *out, mp_reader *r, int depth) {
  const uint8_t *at = r->p;
  mp_value v;
  int rc = mp_read(r, &v);
  if (rc) return rc;
  if (v.type == MP_STR) {
    mpj_append_str(out, v.v.s.ptr, v.v.s.len);
    return 0;
  }
  r->p = at;
  pv_buf text = PV_BUF_INIT;
  rc = convert(&text, r, depth);
  if (rc == 0) mpj_append_str(out, text.data, text.len);
  pv_buf_release(&text);
  return rc;
}

static int convert(pv_buf *out, mp_reader *r, int depth) {
  bool single = mp_remaining(r) > 0 && *r->p == 0xca; /* msgpack float32 */
  mp_value v;
  int rc = mp_read(r, &v);
  if (rc) return rc;
  switch (v.type) {
  case MP_NIL: pv_buf_addstr(out, "null"); return 0;
  case MP_BOOL: pv_buf_addstr(out, v.v.b ? "true" : "false"); return 0;
  case MP_UINT: pv_buf_addf(out, "%" PRIu64, v.v.u); return 0;
  case MP_INT: pv_buf_addf(out, "%" PRId64, v.v.i); return 0;
  case MP_FLOAT: append_float(out, v.v.f, single); return 0;
  case MP_STR: mpj_append_str(out, v.v.s.ptr, v.v.s.len); return 0;
  case MP_BIN: append_base64(out, v.v.s); return 0;
  case MP_EXT:
    /* Every ext format puts its type byte just before the data. */
    pv_buf_addf(out, "{\"$ext\":%d,\"data\":", (int)(int8_t)v.v.s.ptr[-1]);
    append_base64(out, v.v.s);
    pv_buf_addch(out, '}');
    return 0;
  case MP_ARRAY:
  case MP_MAP:
    if (depth + 1 > MP_MAX_DEPTH) return PV_ETOODEEP;
    pv_buf_addch(out, v.type == MP_ARRAY ? '[' : '{');
    for (uint32_t i = 0; i < v.v.n; i++) {
      if (i) pv_buf_addch(out, ',');
      if (v.type == MP_MAP) {
        if ((rc = convert_key(out, r, depth + 1))) return rc;
        pv_buf_addch(out, ':');
      }
      if ((rc = convert(out, r, depth + 1))) return rc;
    }
    pv_buf_addch(out, v.type == MP_ARRAY ? ']' : '}');
    return 0;
  }
  return PV_EINVAL;
}

int mpj_append_next(pv_buf *out, mp_reader *r, int depth) {
  size_t at = out->len;
  int rc = convert(out, r, depth);
  if (rc) pv_buf_setlen(out, at);
  return rc;
}

int mpj_append(pv_buf *out, const void *data, size_t len) {
  mp_reader r;
  mp_reader_init(&r, data, len);
  size_t at = out->len;
  int rc = mpj_append_next(out, &r, 0);
  if (rc == 0 && mp_remaining(&r) != 0) {
    pv_buf_setlen(out, at);
    rc = PV_EINVAL;
  }
  return rc;
}
