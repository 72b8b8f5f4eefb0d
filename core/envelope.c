/* envelope — see envelope.h for the format. */
#include "core/envelope.h"

#include <sodium.h>
#include <string.h>

#define EVT_ELEMENTS 14

mp_slice evt_str(const char *s) {
  mp_slice out = {s ? s : "", s ? (uint32_t)strlen(s) : 0};
  return out;
}

static const struct {
  const char *name;
  size_t offset;
  uint32_t cap;
} string_fields[] = {
    {"tenant", offsetof(evt_envelope, tenant), EVT_MAX_TENANT},
    {"stream", offsetof(evt_envelope, stream), EVT_MAX_STREAM},
    {"type", offsetof(evt_envelope, type), EVT_MAX_TYPE},
    {"actor", offsetof(evt_envelope, actor), EVT_MAX_ACTOR},
    {"correlation", offsetof(evt_envelope, correlation), EVT_MAX_CORRELATION},
    {"idempotency", offsetof(evt_envelope, idempotency), EVT_MAX_IDEMPOTENCY},
};

static const mp_slice *string_field(const evt_envelope *e, size_t i) {
  return (const mp_slice *)((const char *)e + string_fields[i].offset);
}

static int check_string_caps(const evt_envelope *e, pv_error *err) {
  for (size_t i = 0; i < sizeof string_fields / sizeof string_fields[0]; i++) {
    if (string_field(e, i)->len > string_fields[i].cap)
      return pv_error_set(err, PV_EINVAL, string_fields[i].name,
                          "%s is longer than %u bytes", string_fields[i].name,
                          string_fields[i].cap);
  }
  if (e->tenant.len == 0 || e->stream.len == 0 || e->type.len == 0)
    return pv_error_set(err, PV_EINVAL, e->tenant.len == 0   ? "tenant"
                                        : e->stream.len == 0 ? "stream"
                                                             : "type",
                        "tenant, stream and type must not be empty");
  return 0;
}

/* The payload is exactly one well-formed map. */
static int check_payload(const uint8_t *p, size_t len, pv_error *err) {
  mp_reader r;
  mp_value v;
  mp_reader_init(&r, p, len);
  const uint8_t *start = r.p;
  int rc = mp_read(&r, &v);
  if (rc == 0 && v.type != MP_MAP) rc = PV_EBADTYPE;
  if (rc == 0) {
    r.p = start;
    rc = mp_skip(&r, 1);
  }
  if (rc == 0 && mp_remaining(&r) != 0) rc = PV_EINVAL;
  if (rc) return pv_error_set(err, rc, "payload", "payload is not one well-formed map");
  return 0;
}

int evt_encode(const evt_envelope *e, pv_buf *out, pv_error *err) {
  int rc;
  if ((rc = check_string_caps(e, err))) return rc;
  if ((rc = check_payload(e->payload, e->payload_len, err))) return rc;

  size_t start = out->len;
  msgpack_packer pk;
  mp_packer_init(&pk, out);
  msgpack_pack_array(&pk, EVT_ELEMENTS);
  msgpack_pack_uint64(&pk, EVT_FORMAT);
  msgpack_pack_uint64(&pk, e->position);
  msgpack_pack_int64(&pk, e->ts_us);
  mp_pack_slice(&pk, e->tenant);
  mp_pack_slice(&pk, e->stream);
  msgpack_pack_uint64(&pk, e->stream_version);
  mp_pack_slice(&pk, e->type);
  msgpack_pack_uint32(&pk, e->type_version);
  mp_pack_slice(&pk, e->actor);
  mp_pack_slice(&pk, e->correlation);
  mp_pack_slice(&pk, e->idempotency);
  msgpack_pack_bin(&pk, EVT_HASH_BYTES);
  msgpack_pack_bin_body(&pk, e->prev_hash, EVT_HASH_BYTES);
  pv_buf_add(out, e->payload, e->payload_len);
  static const uint8_t zero_hash[EVT_HASH_BYTES];
  msgpack_pack_bin(&pk, EVT_HASH_BYTES);
  msgpack_pack_bin_body(&pk, zero_hash, EVT_HASH_BYTES);

  if (out->len - start > EVT_MAX_BYTES) {
    pv_buf_setlen(out, start);
    return pv_error_set(err, PV_ETOOBIG, "payload", "event is larger than %d bytes",
                        EVT_MAX_BYTES);
  }
  return 0;
}

static void chain_hash(const uint8_t *data, size_t len,
                       const uint8_t prev_hash[EVT_HASH_BYTES],
                       uint8_t out[EVT_HASH_BYTES]) {
  crypto_generichash_state st;
  crypto_generichash_init(&st, NULL, 0, EVT_HASH_BYTES);
  crypto_generichash_update(&st, prev_hash, EVT_HASH_BYTES);
  crypto_generichash_update(&st, data, len - EVT_HASH_BYTES);
  crypto_generichash_final(&st, out, EVT_HASH_BYTES);
}

void evt_seal(uint8_t *data, size_t len, const uint8_t prev_hash[EVT_HASH_BYTES],
              uint8_t hash_out[EVT_HASH_BYTES]) {
  uint8_t h[EVT_HASH_BYTES];
  chain_hash(data, len, prev_hash, h);
  memcpy(data + len - EVT_HASH_BYTES, h, EVT_HASH_BYTES);
  if (hash_out) memcpy(hash_out, h, EVT_HASH_BYTES);
}

bool evt_hash_ok(const void *data, size_t len, const uint8_t prev_hash[EVT_HASH_BYTES]) {
  uint8_t h[EVT_HASH_BYTES];
  if (len < EVT_HASH_BYTES) return false;
  chain_hash(data, len, prev_hash, h);
  return sodium_memcmp(h, (const uint8_t *)data + len - EVT_HASH_BYTES, EVT_HASH_BYTES) == 0;
}

static int decode_fail(pv_error *err, int rc, const char *element) {
  return pv_error_set(err, rc, element, "event element \"%s\": %s", element,
                      pv_strerror(rc));
}

static int read_hash(mp_reader *r, uint8_t out[EVT_HASH_BYTES]) {
  mp_slice s;
  int rc = mp_read_bin(r, &s);
  if (rc) return rc;
  if (s.len != EVT_HASH_BYTES) return PV_EINVAL;
  memcpy(out, s.ptr, EVT_HASH_BYTES);
  return 0;
}

int evt_decode(const void *data, size_t len, evt_envelope *e, pv_error *err) {
  mp_reader r;
  uint32_t count;
  uint64_t u;
  int rc;

  if (len > EVT_MAX_BYTES)
    return pv_error_set(err, PV_ETOOBIG, NULL, "event is larger than %d bytes", EVT_MAX_BYTES);
  mp_reader_init(&r, data, len);
  if ((rc = mp_read_array(&r, &count))) return decode_fail(err, rc, "envelope");
  if (count != EVT_ELEMENTS) return decode_fail(err, PV_EINVAL, "envelope");
  if ((rc = mp_read_uint(&r, &u))) return decode_fail(err, rc, "format");
  if (u != EVT_FORMAT) return decode_fail(err, PV_EINVAL, "format");
  if ((rc = mp_read_uint(&r, &e->position))) return decode_fail(err, rc, "position");
  if ((rc = mp_read_int(&r, &e->ts_us))) return decode_fail(err, rc, "ts_us");
  if ((rc = mp_read_str(&r, &e->tenant))) return decode_fail(err, rc, "tenant");
  if ((rc = mp_read_str(&r, &e->stream))) return decode_fail(err, rc, "stream");
  if ((rc = mp_read_uint(&r, &e->stream_version))) return decode_fail(err, rc, "stream_version");
  if ((rc = mp_read_str(&r, &e->type))) return decode_fail(err, rc, "type");
  if ((rc = mp_read_uint(&r, &u))) return decode_fail(err, rc, "type_version");
  if (u > UINT32_MAX) return decode_fail(err, PV_EINVAL, "type_version");
  e->type_version = (uint32_t)u;
  if ((rc = mp_read_str(&r, &e->actor))) return decode_fail(err, rc, "actor");
  if ((rc = mp_read_str(&r, &e->correlation))) return decode_fail(err, rc, "correlation");
  if ((rc = mp_read_str(&r, &e->idempotency))) return decode_fail(err, rc, "idempotency");
  if ((rc = read_hash(&r, e->prev_hash))) return decode_fail(err, rc, "prev_hash");
  e->payload = r.p;
  mp_value head;
  mp_reader peek = r;
  if ((rc = mp_read(&peek, &head))) return decode_fail(err, rc, "payload");
  if (head.type != MP_MAP) return decode_fail(err, PV_EBADTYPE, "payload");
  if ((rc = mp_skip(&r, 1))) return decode_fail(err, rc, "payload");
  e->payload_len = (size_t)(r.p - e->payload);
  if ((rc = read_hash(&r, e->hash))) return decode_fail(err, rc, "hash");
  if (mp_remaining(&r) != 0) return decode_fail(err, PV_EINVAL, "envelope");
  return check_string_caps(e, err);
}
