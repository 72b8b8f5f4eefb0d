/*
 * proj_json — see proj_json.h. A recursive walk over our bounds-checked
 * msgpack reader; the output goes straight into the caller's buffer.
 */
#include "projections/proj_json.h"

#include "core/mp.h"

#include <inttypes.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>

/* Length of the valid UTF-8 sequence at p (≤ n bytes left), 0 if invalid.
 * Rejects overlongs, surrogates and code points above U+10FFFF. */
static size_t utf8_len(const unsigned char *p, size_t n) {
  unsigned c = p[0];
  if (c < 0x80) return 1;
  size_t len;
  unsigned min, cp;
  if ((c & 0xe0) == 0xc0) len = 2, min = 0x80, cp = c & 0x1f;
  else if ((c & 0xf0) == 0xe0) len = 3, min = 0x800, cp = c & 0x0f;
  else if ((c & 0xf8) == 0xf0) len = 4, min = 0x10000, cp = c & 0x07;
  else return 0;
  if (len > n) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((p[i] & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (p[i] & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return len;
}

static void add_string(pv_buf *out, const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s;
  pv_buf_addch(out, '"');
  size_t i = 0;
  while (i < n) {
    unsigned char c = p[i];
    if (c >= 0x80) {
      size_t len = utf8_len(p + i, n - i);
      if (len == 0) {
        pv_buf_addstr(out, "\\ufffd");
        i++;
      } else {
        pv_buf_add(out, p + i, len);
        i += len;
      }
      continue;
    }
    switch (c) {
    case '"': pv_buf_addstr(out, "\\\""); break;
    case '\\': pv_buf_addstr(out, "\\\\"); break;
    case '\n': pv_buf_addstr(out, "\\n"); break;
    case '\r': pv_buf_addstr(out, "\\r"); break;
    case '\t': pv_buf_addstr(out, "\\t"); break;
    case '\b': pv_buf_addstr(out, "\\b"); break;
    case '\f': pv_buf_addstr(out, "\\f"); break;
    case 0: pv_buf_addstr(out, "\\ufffd"); break; /* jsonb refuses \u0000 */
    default:
      if (c < 0x20) pv_buf_addf(out, "\\u%04x", c);
      else pv_buf_addch(out, (char)c);
    }
    i++;
  }
  pv_buf_addch(out, '"');
}

static int value(mp_reader *r, int depth, pv_buf *out);

/* A key that is not a string: the JSON text of the key, as a string. */
static int nonstring_key(mp_reader *r, int depth, pv_buf *out) {
  pv_buf tmp = PV_BUF_INIT;
  int rc = value(r, depth, &tmp);
  if (rc == 0) add_string(out, tmp.data, tmp.len);
  pv_buf_release(&tmp);
  return rc;
}

static int value(mp_reader *r, int depth, pv_buf *out) {
  if (depth > MP_MAX_DEPTH) return PV_ETOODEEP;
  mp_value v;
  int rc = mp_read(r, &v);
  if (rc) return rc;
  switch (v.type) {
  case MP_NIL: pv_buf_addstr(out, "null"); return 0;
  case MP_BOOL: pv_buf_addstr(out, v.v.b ? "true" : "false"); return 0;
  case MP_UINT: pv_buf_addf(out, "%" PRIu64, v.v.u); return 0;
  case MP_INT: pv_buf_addf(out, "%" PRId64, v.v.i); return 0;
  case MP_FLOAT:
    if (!isfinite(v.v.f)) pv_buf_addstr(out, "null");
    else pv_buf_addf(out, "%.17g", v.v.f);
    return 0;
  case MP_STR: add_string(out, v.v.s.ptr, v.v.s.len); return 0;
  case MP_BIN: {
    size_t cap = sodium_base64_ENCODED_LEN(v.v.s.len, sodium_base64_VARIANT_ORIGINAL);
    pv_buf_grow(out, cap + 2);
    pv_buf_addch(out, '"');
    sodium_bin2base64(out->data + out->len, cap, (const unsigned char *)v.v.s.ptr, v.v.s.len,
                      sodium_base64_VARIANT_ORIGINAL);
    pv_buf_setlen(out, out->len + cap - 1);
    pv_buf_addch(out, '"');
    return 0;
  }
  case MP_EXT: pv_buf_addstr(out, "null"); return 0;
  case MP_ARRAY:
    pv_buf_addch(out, '[');
    for (uint32_t i = 0; i < v.v.n; i++) {
      if (i) pv_buf_addch(out, ',');
      if ((rc = value(r, depth + 1, out))) return rc;
    }
    pv_buf_addch(out, ']');
    return 0;
  case MP_MAP:
    pv_buf_addch(out, '{');
    for (uint32_t i = 0; i < v.v.n; i++) {
      if (i) pv_buf_addch(out, ',');
      mp_reader peek = *r;
      mp_slice key;
      if (mp_read_str(&peek, &key) == 0) {
        *r = peek;
        add_string(out, key.ptr, key.len);
      } else if ((rc = nonstring_key(r, depth + 1, out))) {
        return rc;
      }
      pv_buf_addch(out, ':');
      if ((rc = value(r, depth + 1, out))) return rc;
    }
    pv_buf_addch(out, '}');
    return 0;
  }
  return PV_EINVAL;
}

int proj_json_from_msgpack(const void *data, size_t len, pv_buf *out, pv_error *err) {
  size_t start = out->len;
  mp_reader r;
  mp_reader_init(&r, data, len);
  int rc = value(&r, 0, out);
  if (rc == 0 && mp_remaining(&r) != 0) rc = PV_EINVAL;
  if (rc) {
    pv_buf_setlen(out, start);
    return pv_error_set(err, rc, "/payload", "payload is not one well-formed msgpack value");
  }
  return 0;
}
