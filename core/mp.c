/* mp — see mp.h. The reader checks every length against what remains
 * before it moves the cursor; the cursor never passes `end`. */
#include "core/mp.h"

#include "core/common/pv_error.h"

#include <string.h>

void mp_reader_init(mp_reader *r, const void *data, size_t len) {
  r->p = data;
  r->end = r->p + len;
}

static uint64_t load_be(const uint8_t *p, unsigned n) {
  uint64_t v = 0;
  for (unsigned i = 0; i < n; i++) v = v << 8 | p[i];
  return v;
}

/* Takes an n-byte big-endian integer after the type byte. */
static int take_be(mp_reader *r, unsigned n, uint64_t *out) {
  if (mp_remaining(r) < n) return PV_ETRUNCATED;
  *out = load_be(r->p, n);
  r->p += n;
  return 0;
}

static int take_slice(mp_reader *r, uint64_t len, mp_slice *out) {
  if (len > mp_remaining(r)) return PV_ETRUNCATED;
  out->ptr = (const char *)r->p;
  out->len = (uint32_t)len;
  r->p += len;
  return 0;
}

/* An array or map of n elements needs at least n more bytes. */
static int take_count(mp_reader *r, uint64_t n, unsigned per_element, mp_value *out) {
  if (n * per_element > mp_remaining(r)) return PV_ETRUNCATED;
  out->v.n = (uint32_t)n;
  return 0;
}

int mp_read(mp_reader *r, mp_value *out) {
  uint64_t n;
  int rc;
  if (r->p >= r->end) return PV_ETRUNCATED;
  uint8_t b = *r->p++;

  if (b <= 0x7f) { out->type = MP_UINT; out->v.u = b; return 0; }
  if (b >= 0xe0) { out->type = MP_INT; out->v.i = (int8_t)b; return 0; }
  if ((b & 0xf0) == 0x80) { out->type = MP_MAP; return take_count(r, b & 0x0f, 2, out); }
  if ((b & 0xf0) == 0x90) { out->type = MP_ARRAY; return take_count(r, b & 0x0f, 1, out); }
  if ((b & 0xe0) == 0xa0) { out->type = MP_STR; return take_slice(r, b & 0x1f, &out->v.s); }

  switch (b) {
  case 0xc0: out->type = MP_NIL; return 0;
  case 0xc2: out->type = MP_BOOL; out->v.b = false; return 0;
  case 0xc3: out->type = MP_BOOL; out->v.b = true; return 0;
  case 0xc4: case 0xc5: case 0xc6:
    out->type = MP_BIN;
    if ((rc = take_be(r, 1u << (b - 0xc4), &n))) return rc;
    return take_slice(r, n, &out->v.s);
  case 0xd9: case 0xda: case 0xdb:
    out->type = MP_STR;
    if ((rc = take_be(r, 1u << (b - 0xd9), &n))) return rc;
    return take_slice(r, n, &out->v.s);
  case 0xc7: case 0xc8: case 0xc9: /* ext 8/16/32: length, type byte, data */
    out->type = MP_EXT;
    if ((rc = take_be(r, 1u << (b - 0xc7), &n))) return rc;
    if (mp_remaining(r) < 1) return PV_ETRUNCATED;
    r->p++;
    return take_slice(r, n, &out->v.s);
  case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8: /* fixext 1..16 */
    out->type = MP_EXT;
    if (mp_remaining(r) < 1) return PV_ETRUNCATED;
    r->p++;
    return take_slice(r, 1u << (b - 0xd4), &out->v.s);
  case 0xca: {
    if ((rc = take_be(r, 4, &n))) return rc;
    uint32_t bits = (uint32_t)n;
    float f;
    memcpy(&f, &bits, sizeof f);
    out->type = MP_FLOAT;
    out->v.f = f;
    return 0;
  }
  case 0xcb:
    if ((rc = take_be(r, 8, &n))) return rc;
    out->type = MP_FLOAT;
    memcpy(&out->v.f, &n, sizeof out->v.f);
    return 0;
  case 0xcc: case 0xcd: case 0xce: case 0xcf:
    out->type = MP_UINT;
    return take_be(r, 1u << (b - 0xcc), &out->v.u);
  case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
    unsigned w = 1u << (b - 0xd0);
    if ((rc = take_be(r, w, &n))) return rc;
    int64_t v;
    if (w == 8) {
      memcpy(&v, &n, sizeof v);
    } else {
      uint64_t sign = 1ull << (w * 8 - 1);
      v = (int64_t)((n ^ sign) - sign); /* sign-extend without UB */
    }
    if (v >= 0) { out->type = MP_UINT; out->v.u = (uint64_t)v; }
    else { out->type = MP_INT; out->v.i = v; }
    return 0;
  }
  case 0xdc: case 0xdd:
    out->type = MP_ARRAY;
    if ((rc = take_be(r, b == 0xdc ? 2 : 4, &n))) return rc;
    return take_count(r, n, 1, out);
  case 0xde: case 0xdf:
    out->type = MP_MAP;
    if ((rc = take_be(r, b == 0xde ? 2 : 4, &n))) return rc;
    return take_count(r, n, 2, out);
  default: /* 0xc1 is never used */
    return PV_EINVAL;
  }
}

int mp_skip(mp_reader *r, int depth) {
  mp_value v;
  int rc = mp_read(r, &v);
  if (rc) return rc;
  if (v.type != MP_ARRAY && v.type != MP_MAP) return 0;
  if (depth + 1 > MP_MAX_DEPTH) return PV_ETOODEEP;
  uint64_t elements = v.type == MP_MAP ? 2ull * v.v.n : v.v.n;
  for (uint64_t i = 0; i < elements; i++)
    if ((rc = mp_skip(r, depth + 1))) return rc;
  return 0;
}

/* Reads the next value and checks its type; on mismatch the cursor is left
 * where it was. */
static int read_typed(mp_reader *r, mp_type want, mp_value *v) {
  const uint8_t *at = r->p;
  int rc = mp_read(r, v);
  if (rc) return rc;
  if (v->type != want) {
    r->p = at;
    return PV_EBADTYPE;
  }
  return 0;
}

int mp_read_uint(mp_reader *r, uint64_t *out) {
  mp_value v;
  int rc = read_typed(r, MP_UINT, &v);
  if (!rc) *out = v.v.u;
  return rc;
}

int mp_read_int(mp_reader *r, int64_t *out) {
  const uint8_t *at = r->p;
  mp_value v;
  int rc = mp_read(r, &v);
  if (rc) return rc;
  if (v.type == MP_INT) { *out = v.v.i; return 0; }
  if (v.type == MP_UINT && v.v.u <= INT64_MAX) { *out = (int64_t)v.v.u; return 0; }
  r->p = at;
  return PV_EBADTYPE;
}

int mp_read_str(mp_reader *r, mp_slice *out) {
  mp_value v;
  int rc = read_typed(r, MP_STR, &v);
  if (!rc) *out = v.v.s;
  return rc;
}

int mp_read_bin(mp_reader *r, mp_slice *out) {
  mp_value v;
  int rc = read_typed(r, MP_BIN, &v);
  if (!rc) *out = v.v.s;
  return rc;
}

int mp_read_array(mp_reader *r, uint32_t *count) {
  mp_value v;
  int rc = read_typed(r, MP_ARRAY, &v);
  if (!rc) *count = v.v.n;
  return rc;
}

int mp_read_map(mp_reader *r, uint32_t *count) {
  mp_value v;
  int rc = read_typed(r, MP_MAP, &v);
  if (!rc) *count = v.v.n;
  return rc;
}

bool mp_slice_eq(mp_slice s, const char *cstr) {
  size_t n = strlen(cstr);
  return s.len == n && memcmp(s.ptr, cstr, n) == 0;
}

int mp_map_find(const void *map, size_t len, const char *key, mp_reader *r) {
  uint32_t pairs;
  int rc;
  mp_reader_init(r, map, len);
  if ((rc = mp_read_map(r, &pairs))) return rc;
  for (uint32_t i = 0; i < pairs; i++) {
    mp_slice k;
    if ((rc = mp_read_str(r, &k))) return rc;
    if (mp_slice_eq(k, key)) return 0;
    if ((rc = mp_skip(r, 1))) return rc;
  }
  return PV_ENOTFOUND;
}

static int write_to_buf(void *data, const char *buf, size_t len) {
  pv_buf_add(data, buf, len);
  return 0;
}

void mp_packer_init(msgpack_packer *pk, pv_buf *out) {
  msgpack_packer_init(pk, out, write_to_buf);
}

void mp_pack_cstr(msgpack_packer *pk, const char *s) {
  if (!s) {
    msgpack_pack_nil(pk);
    return;
  }
  size_t n = strlen(s);
  msgpack_pack_str(pk, n);
  msgpack_pack_str_body(pk, s, n);
}

void mp_pack_slice(msgpack_packer *pk, mp_slice s) {
  msgpack_pack_str(pk, s.len);
  msgpack_pack_str_body(pk, s.ptr, s.len);
}
