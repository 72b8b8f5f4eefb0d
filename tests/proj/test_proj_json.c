/* projections/proj_json: msgpack to JSON that PostgreSQL's jsonb accepts. */
#include "projections/proj_json.h"

#include "core/mp.h"
#include "tests/harness/test.h"

#include <math.h>

/* Encodes what pack() packs and checks the JSON. */
static void check(void (*pack)(msgpack_packer *), const char *want) {
  pv_buf in = PV_BUF_INIT, out = PV_BUF_INIT;
  msgpack_packer pk;
  mp_packer_init(&pk, &in);
  pack(&pk);
  pv_error err = PV_ERROR_INIT;
  ASSERT_OK(proj_json_from_msgpack(in.data, in.len, &out, &err));
  ASSERT_STR_EQ(out.data, want);
  pv_buf_release(&in);
  pv_buf_release(&out);
}

static void pack_scalars(msgpack_packer *pk) {
  msgpack_pack_array(pk, 8);
  msgpack_pack_nil(pk);
  msgpack_pack_true(pk);
  msgpack_pack_false(pk);
  msgpack_pack_uint64(pk, UINT64_MAX);
  msgpack_pack_int64(pk, INT64_MIN);
  msgpack_pack_double(pk, 0.5);
  msgpack_pack_double(pk, NAN);
  msgpack_pack_double(pk, -INFINITY);
}

static void test_scalars(void) {
  check(pack_scalars, "[null,true,false,18446744073709551615,-9223372036854775808,0.5,null,null]");
}

static void pack_strings(msgpack_packer *pk) {
  msgpack_pack_array(pk, 5);
  mp_pack_cstr(pk, "q\" b\\ / \n\r\t\b\f");
  mp_pack_cstr(pk, "\x01\x1f\x7f");
  mp_pack_slice(pk, (mp_slice){"a\0b", 3});
  mp_pack_cstr(pk, "caf\xc3\xa9 \xf0\x9f\x98\x80");
  /* invalid: lone continuation, truncated sequence, overlong, surrogate */
  mp_pack_cstr(pk, "\x80|\xc3|\xc0\xaf|\xed\xa0\x80");
}

static void test_strings_are_escaped_and_valid_utf8(void) {
  check(pack_strings,
        "[\"q\\\" b\\\\ / \\n\\r\\t\\b\\f\",\"\\u0001\\u001f\x7f\",\"a\\ufffdb\","
        "\"caf\xc3\xa9 \xf0\x9f\x98\x80\","
        "\"\\ufffd|\\ufffd|\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd\"]");
}

static void pack_maps(msgpack_packer *pk) {
  msgpack_pack_map(pk, 4);
  mp_pack_cstr(pk, "name");
  mp_pack_cstr(pk, "Jane");
  msgpack_pack_uint64(pk, 7);
  msgpack_pack_array(pk, 0);
  mp_pack_cstr(pk, "bin");
  msgpack_pack_bin(pk, 3);
  msgpack_pack_bin_body(pk, "\x00\xff\x10", 3);
  mp_pack_cstr(pk, "nested");
  msgpack_pack_map(pk, 1);
  mp_pack_cstr(pk, "k\"");
  msgpack_pack_ext(pk, 1, 1);
  msgpack_pack_ext_body(pk, "x", 1);
}

static void test_maps_keys_binaries_and_ext(void) {
  check(pack_maps, "{\"name\":\"Jane\",\"7\":[],\"bin\":\"AP8Q\",\"nested\":{\"k\\\"\":null}}");
}

static void test_bad_input_is_refused_and_leaves_out_alone(void) {
  pv_buf out = PV_BUF_INIT;
  pv_buf_addstr(&out, "keep");
  pv_error err = PV_ERROR_INIT;
  /* a 2-element array holding one */
  ASSERT_ERR(proj_json_from_msgpack("\x92\x01", 2, &out, &err), PV_ETRUNCATED);
  /* trailing bytes */
  ASSERT_ERR(proj_json_from_msgpack("\x01\x02", 2, &out, &err), PV_EINVAL);
  /* a string longer than the input */
  ASSERT_ERR(proj_json_from_msgpack("\xa5hi", 3, &out, &err), PV_ETRUNCATED);
  /* nested deeper than MP_MAX_DEPTH */
  char deep[MP_MAX_DEPTH + 3];
  memset(deep, 0x91, sizeof deep - 1);
  deep[sizeof deep - 1] = 0x01;
  ASSERT_ERR(proj_json_from_msgpack(deep, sizeof deep, &out, &err), PV_ETOODEEP);
  ASSERT_STR_EQ(out.data, "keep");
  pv_buf_release(&out);
}

TEST_MAIN(TEST(test_scalars), TEST(test_strings_are_escaped_and_valid_utf8),
          TEST(test_maps_keys_binaries_and_ext),
          TEST(test_bad_input_is_refused_and_leaves_out_alone))
