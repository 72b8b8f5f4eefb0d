/* Tests of core/mp and core/envelope: round trips and every malformed shape. */
#include "core/envelope.h"
#include "core/mp.h"
#include "tests/core/testutil.h"

#include <sodium.h>
#include <stdlib.h>

static evt_envelope sample(const pv_buf *payload) {
  evt_envelope e = {
      .position = 42,
      .ts_us = 1764147761123456LL,
      .tenant = evt_str("acme"),
      .stream = evt_str("contact-7"),
      .stream_version = 3,
      .type = evt_str("note.added"),
      .type_version = 1,
      .actor = evt_str("user:1"),
      .correlation = evt_str("req-1"),
      .idempotency = evt_str("idem-1"),
      .payload = (const uint8_t *)payload->data,
      .payload_len = payload->len,
  };
  for (int i = 0; i < EVT_HASH_BYTES; i++) e.prev_hash[i] = (uint8_t)i;
  return e;
}

static void test_round_trip(void) {
  pv_buf payload = PV_BUF_INIT, enc = PV_BUF_INIT;
  tu_note(&payload, "contact-7", "called, left a voicemail");
  evt_envelope e = sample(&payload), d;
  ASSERT_OK(evt_encode(&e, &enc, NULL));
  uint8_t hash[EVT_HASH_BYTES];
  evt_seal((uint8_t *)enc.data, enc.len, e.prev_hash, hash);
  ASSERT_OK(evt_decode(enc.data, enc.len, &d, NULL));
  ASSERT_U64_EQ(d.position, 42);
  ASSERT_EQ(d.ts_us, 1764147761123456LL);
  ASSERT(mp_slice_eq(d.tenant, "acme"));
  ASSERT(mp_slice_eq(d.stream, "contact-7"));
  ASSERT_U64_EQ(d.stream_version, 3);
  ASSERT(mp_slice_eq(d.type, "note.added"));
  ASSERT_EQ(d.type_version, 1);
  ASSERT(mp_slice_eq(d.actor, "user:1"));
  ASSERT(mp_slice_eq(d.correlation, "req-1"));
  ASSERT(mp_slice_eq(d.idempotency, "idem-1"));
  ASSERT_MEM_EQ(d.prev_hash, e.prev_hash, EVT_HASH_BYTES);
  ASSERT_MEM_EQ(d.hash, hash, EVT_HASH_BYTES);
  ASSERT_EQ(d.payload_len, payload.len);
  ASSERT_MEM_EQ(d.payload, payload.data, payload.len);
  ASSERT(evt_hash_ok(enc.data, enc.len, e.prev_hash));
  mp_reader r;
  mp_slice text;
  ASSERT_OK(mp_map_find(d.payload, d.payload_len, "text", &r));
  ASSERT_OK(mp_read_str(&r, &text));
  ASSERT(mp_slice_eq(text, "called, left a voicemail"));
  ASSERT_ERR(mp_map_find(d.payload, d.payload_len, "nope", &r), PV_ENOTFOUND);
  pv_buf_release(&payload);
  pv_buf_release(&enc);
}

static void test_hash_detects_any_flipped_byte(void) {
  pv_buf payload = PV_BUF_INIT, enc = PV_BUF_INIT;
  tu_note(&payload, "contact-7", "x");
  evt_envelope e = sample(&payload);
  ASSERT_OK(evt_encode(&e, &enc, NULL));
  evt_seal((uint8_t *)enc.data, enc.len, e.prev_hash, NULL);
  for (size_t i = 0; i < enc.len; i++) {
    enc.data[i] ^= 0x01;
    ASSERT(!evt_hash_ok(enc.data, enc.len, e.prev_hash));
    enc.data[i] ^= 0x01;
  }
  uint8_t other_prev[EVT_HASH_BYTES] = {0};
  ASSERT(!evt_hash_ok(enc.data, enc.len, other_prev));
  pv_buf_release(&payload);
  pv_buf_release(&enc);
}

/* msgpack-c's unpacker tries to allocate ~128 GiB for these 7 bytes. */
static void test_declared_length_beyond_input(void) {
  static const uint8_t bomb[] = {0x93, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0x61};
  evt_envelope d;
  pv_error err = PV_ERROR_INIT;
  int rc = evt_decode(bomb, sizeof bomb, &d, &err);
  ASSERT(rc != 0);
  mp_reader r;
  mp_reader_init(&r, bomb, sizeof bomb);
  ASSERT_ERR(mp_skip(&r, 0), PV_ETRUNCATED);
  /* str32 claiming 4 GiB with 2 bytes left */
  static const uint8_t str[] = {0xdb, 0xff, 0xff, 0xff, 0xff, 'a', 'b'};
  mp_reader_init(&r, str, sizeof str);
  ASSERT_ERR(mp_skip(&r, 0), PV_ETRUNCATED);
  /* map16 of 3 pairs with 5 bytes left */
  static const uint8_t map[] = {0xde, 0x00, 0x03, 1, 2, 3, 4, 5};
  mp_reader_init(&r, map, sizeof map);
  ASSERT_ERR(mp_skip(&r, 0), PV_ETRUNCATED);
  /* bin8 of 200 with 1 byte */
  static const uint8_t bin[] = {0xc4, 200, 0};
  mp_reader_init(&r, bin, sizeof bin);
  ASSERT_ERR(mp_skip(&r, 0), PV_ETRUNCATED);
  /* reserved byte */
  static const uint8_t reserved[] = {0xc1};
  mp_reader_init(&r, reserved, 1);
  ASSERT_ERR(mp_skip(&r, 0), PV_EINVAL);
}

static void test_nesting_deeper_than_limit(void) {
  uint8_t deep[MP_MAX_DEPTH + 8];
  for (size_t i = 0; i < sizeof deep; i++) deep[i] = 0x91; /* [ [ [ ... */
  deep[sizeof deep - 1] = 0x01;
  mp_reader r;
  mp_reader_init(&r, deep, sizeof deep);
  ASSERT_ERR(mp_skip(&r, 0), PV_ETOODEEP);
  uint8_t ok[MP_MAX_DEPTH];
  for (size_t i = 0; i < sizeof ok; i++) ok[i] = 0x91;
  ok[sizeof ok - 1] = 0x01;
  mp_reader_init(&r, ok, sizeof ok);
  ASSERT_OK(mp_skip(&r, 0));
}

static void test_size_cap(void) {
  uint8_t *big = calloc(1, EVT_MAX_BYTES + 1);
  evt_envelope d;
  ASSERT_ERR(evt_decode(big, EVT_MAX_BYTES + 1, &d, NULL), PV_ETOOBIG);
  free(big);
  /* encoding refuses an event over the cap */
  pv_buf payload = PV_BUF_INIT, enc = PV_BUF_INIT;
  char *text = malloc(EVT_MAX_BYTES);
  memset(text, 'x', EVT_MAX_BYTES - 1);
  text[EVT_MAX_BYTES - 1] = '\0';
  tu_note(&payload, "s", text);
  evt_envelope e = sample(&payload);
  ASSERT_ERR(evt_encode(&e, &enc, NULL), PV_ETOOBIG);
  ASSERT_EQ(enc.len, 0);
  free(text);
  pv_buf_release(&payload);
  pv_buf_release(&enc);
}

static void test_every_truncation_is_an_error(void) {
  pv_buf payload = PV_BUF_INIT, enc = PV_BUF_INIT;
  tu_note(&payload, "contact-7", "truncate me");
  evt_envelope e = sample(&payload), d;
  ASSERT_OK(evt_encode(&e, &enc, NULL));
  for (size_t len = 0; len < enc.len; len++) ASSERT(evt_decode(enc.data, len, &d, NULL) != 0);
  /* trailing bytes after the array */
  pv_buf_addch(&enc, 0);
  ASSERT_ERR(evt_decode(enc.data, enc.len, &d, NULL), PV_EINVAL);
  pv_buf_release(&payload);
  pv_buf_release(&enc);
}

static void test_wrong_shapes(void) {
  pv_buf payload = PV_BUF_INIT, enc = PV_BUF_INIT;
  evt_envelope d;
  pv_error err = PV_ERROR_INIT;
  /* payload that is not a map */
  msgpack_packer pk;
  mp_packer_init(&pk, &payload);
  msgpack_pack_array(&pk, 0);
  evt_envelope e = sample(&payload);
  ASSERT_ERR(evt_encode(&e, &enc, &err), PV_EBADTYPE);
  ASSERT_STR_EQ(err.field, "payload");
  /* empty tenant */
  pv_buf_reset(&payload);
  tu_note(&payload, "s", "t");
  e = sample(&payload);
  e.tenant = evt_str("");
  ASSERT_ERR(evt_encode(&e, &enc, &err), PV_EINVAL);
  ASSERT_STR_EQ(err.field, "tenant");
  /* over-long stream */
  char longs[EVT_MAX_STREAM + 2];
  memset(longs, 's', sizeof longs - 1);
  longs[sizeof longs - 1] = '\0';
  e = sample(&payload);
  e.stream = evt_str(longs);
  ASSERT_ERR(evt_encode(&e, &enc, &err), PV_EINVAL);
  ASSERT_STR_EQ(err.field, "stream");
  /* an array of the wrong arity, and a wrong format number */
  static const uint8_t short_array[] = {0x92, 0x01, 0x01};
  ASSERT_ERR(evt_decode(short_array, sizeof short_array, &d, NULL), PV_EINVAL);
  e = sample(&payload);
  ASSERT_OK(evt_encode(&e, &enc, NULL));
  enc.data[1] = 0x02; /* format 2 */
  ASSERT_ERR(evt_decode(enc.data, enc.len, &d, &err), PV_EINVAL);
  ASSERT_STR_EQ(err.field, "format");
  pv_buf_release(&payload);
  pv_buf_release(&enc);
}

static void test_integers_of_every_width(void) {
  pv_buf b = PV_BUF_INIT;
  msgpack_packer pk;
  mp_packer_init(&pk, &b);
  int64_t values[] = {0, 1, 127, 128, 255, 256, 65535, 65536, 4294967295LL, 4294967296LL,
                      INT64_MAX, -1, -32, -33, -128, -129, -32768, -32769, INT64_MIN};
  size_t n = sizeof values / sizeof values[0];
  for (size_t i = 0; i < n; i++) msgpack_pack_int64(&pk, values[i]);
  msgpack_pack_uint64(&pk, UINT64_MAX);
  msgpack_pack_double(&pk, 2.5);
  msgpack_pack_float(&pk, -0.5f);
  mp_reader r;
  mp_reader_init(&r, b.data, b.len);
  for (size_t i = 0; i < n; i++) {
    int64_t v;
    ASSERT_OK(mp_read_int(&r, &v));
    ASSERT_EQ(v, values[i]);
  }
  uint64_t u;
  ASSERT_ERR(mp_read_int(&r, &(int64_t){0}), PV_EBADTYPE);
  ASSERT_OK(mp_read_uint(&r, &u));
  ASSERT(u == UINT64_MAX);
  mp_value v;
  ASSERT_OK(mp_read(&r, &v));
  ASSERT(v.type == MP_FLOAT && v.v.f == 2.5);
  ASSERT_OK(mp_read(&r, &v));
  ASSERT(v.type == MP_FLOAT && v.v.f == -0.5);
  ASSERT_EQ(mp_remaining(&r), 0);
  pv_buf_release(&b);
}

int main(int argc, char **argv) {
  if (sodium_init() < 0) return 1;
  static const test_case cases[] = {
      TEST(test_round_trip), TEST(test_hash_detects_any_flipped_byte),
      TEST(test_declared_length_beyond_input), TEST(test_nesting_deeper_than_limit),
      TEST(test_size_cap), TEST(test_every_truncation_is_an_error), TEST(test_wrong_shapes),
      TEST(test_integers_of_every_width)};
  return test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
