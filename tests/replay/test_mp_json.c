/* Tests of core/mp_json: every msgpack type as JSON, string escaping and
 * UTF-8 repair, numbers at their limits, nesting depth, and that every
 * output parses with cJSON back to the value that went in. */
#include "core/mp_json.h"
#include "core/common/pv_error.h"
#include "tests/harness/test.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>

#define FFFD "\xef\xbf\xbd"

static pv_buf mp;
static msgpack_packer pk;

static msgpack_packer *start(void) {
  pv_buf_release(&mp);
  mp_packer_init(&pk, &mp);
  return &pk;
}

/* The JSON of the packed value; asserts it converts and parses. */
static const char *json(void) {
  static pv_buf out;
  pv_buf_reset(&out);
  ASSERT_OK(mpj_append(&out, mp.data, mp.len));
  cJSON *doc = cJSON_ParseWithLength(out.data, out.len);
  if (!doc) test__fail(__FILE__, __LINE__, "not JSON: %s", out.data);
  cJSON_Delete(doc);
  return out.data;
}

static const char *json_of_str(const char *s, size_t len) {
  msgpack_pack_str(start(), len);
  msgpack_pack_str_body(&pk, s, len);
  return json();
}

static void test_scalars(void) {
  msgpack_pack_nil(start());
  ASSERT_STR_EQ(json(), "null");
  msgpack_pack_true(start());
  ASSERT_STR_EQ(json(), "true");
  msgpack_pack_false(start());
  ASSERT_STR_EQ(json(), "false");
  msgpack_pack_uint64(start(), 0);
  ASSERT_STR_EQ(json(), "0");
  msgpack_pack_uint64(start(), UINT64_MAX);
  ASSERT_STR_EQ(json(), "18446744073709551615");
  msgpack_pack_int64(start(), INT64_MIN);
  ASSERT_STR_EQ(json(), "-9223372036854775808");
  msgpack_pack_int64(start(), -1);
  ASSERT_STR_EQ(json(), "-1");
  msgpack_pack_int64(start(), -33); /* int8, not a negative fixint */
  ASSERT_STR_EQ(json(), "-33");
  msgpack_pack_int64(start(), -40000);
  ASSERT_STR_EQ(json(), "-40000");
}

static void test_floats(void) {
  msgpack_pack_double(start(), 0.1);
  ASSERT_STR_EQ(json(), "0.1");
  msgpack_pack_float(start(), 0.1f); /* float32: shortest for a float */
  ASSERT_STR_EQ(json(), "0.1");
  msgpack_pack_double(start(), 1.0);
  ASSERT_STR_EQ(json(), "1.0");
  msgpack_pack_double(start(), -2.5);
  ASSERT_STR_EQ(json(), "-2.5");
  msgpack_pack_double(start(), 1e300);
  ASSERT_STR_EQ(json(), "1e+300");
  msgpack_pack_double(start(), 5e-324);
  ASSERT_STR_EQ(json(), "5e-324");
  msgpack_pack_double(start(), -0.0);
  ASSERT_STR_EQ(json(), "-0.0");
  msgpack_pack_double(start(), 0.30000000000000004);
  ASSERT_STR_EQ(json(), "0.30000000000000004");
  msgpack_pack_double(start(), NAN);
  ASSERT_STR_EQ(json(), "null");
  msgpack_pack_double(start(), -INFINITY);
  ASSERT_STR_EQ(json(), "null");
}

static void test_string_escaping(void) {
  ASSERT_STR_EQ(json_of_str("a\"b\\c/d", 7), "\"a\\\"b\\\\c/d\"");
  ASSERT_STR_EQ(json_of_str("\n\r\t\b\f", 5), "\"\\n\\r\\t\\u0008\\u000c\"");
  ASSERT_STR_EQ(json_of_str("\x01\x1f\x7f", 3), "\"\\u0001\\u001f\x7f\"");
  ASSERT_STR_EQ(json_of_str("a\0b", 3), "\"a" FFFD "b\""); /* jsonb refuses \u0000 */
  ASSERT_STR_EQ(json_of_str("", 0), "\"\"");
  /* U+2028 and U+2029 escaped so the text is also JavaScript */
  ASSERT_STR_EQ(json_of_str("\xe2\x80\xa8\xe2\x80\xa9", 6), "\"\\u2028\\u2029\"");
}

static void test_unicode_passes_through(void) {
  const char *s = "J\xc3\xa9r\xc3\xb4me \xe2\x82\xac \xf0\x9f\x98\x80 \xe4\xb8\xad"; /* Jérôme € 😀 中 */
  char want[64];
  snprintf(want, sizeof want, "\"%s\"", s);
  ASSERT_STR_EQ(json_of_str(s, strlen(s)), want);
  msgpack_pack_str(start(), strlen(s));
  msgpack_pack_str_body(&pk, s, strlen(s));
  cJSON *doc = cJSON_Parse(json());
  ASSERT_STR_EQ(cJSON_GetStringValue(doc), s);
  cJSON_Delete(doc);
}

static void test_invalid_utf8_becomes_replacement_characters(void) {
  ASSERT_STR_EQ(json_of_str("a\xff" "b", 3), "\"a" FFFD "b\"");
  ASSERT_STR_EQ(json_of_str("\xc0\x80", 2), "\"" FFFD FFFD "\"");             /* overlong NUL */
  ASSERT_STR_EQ(json_of_str("\xe0\x80\xaf", 3), "\"" FFFD FFFD FFFD "\"");     /* overlong '/' */
  ASSERT_STR_EQ(json_of_str("\xed\xa0\x80", 3), "\"" FFFD FFFD FFFD "\"");     /* surrogate */
  ASSERT_STR_EQ(json_of_str("\xf4\x90\x80\x80", 4), "\"" FFFD FFFD FFFD FFFD "\""); /* > U+10FFFF */
  ASSERT_STR_EQ(json_of_str("\xe2\x82", 2), "\"" FFFD FFFD "\"");             /* cut short */
  ASSERT_STR_EQ(json_of_str("\x80x", 2), "\"" FFFD "x\"");                     /* lone continuation */
#undef FFFD
}

static void test_binary_and_ext_as_base64(void) {
  msgpack_pack_bin(start(), 4);
  msgpack_pack_bin_body(&pk, "\x00\x01\x02\xff", 4);
  ASSERT_STR_EQ(json(), "\"AAEC/w==\"");
  msgpack_pack_bin(start(), 0);
  ASSERT_STR_EQ(json(), "\"\"");
  msgpack_pack_ext(start(), 3, -1);
  msgpack_pack_ext_body(&pk, "abc", 3);
  ASSERT_STR_EQ(json(), "{\"$ext\":-1,\"data\":\"YWJj\"}");
  msgpack_pack_ext(start(), 4, 5); /* fixext 4 */
  msgpack_pack_ext_body(&pk, "abcd", 4);
  ASSERT_STR_EQ(json(), "{\"$ext\":5,\"data\":\"YWJjZA==\"}");
}

static void test_nesting(void) {
  msgpack_pack_map(start(), 3);
  mp_pack_cstr(&pk, "list");
  msgpack_pack_array(&pk, 3);
  msgpack_pack_uint64(&pk, 1);
  mp_pack_cstr(&pk, "two");
  msgpack_pack_map(&pk, 1);
  mp_pack_cstr(&pk, "k");
  msgpack_pack_nil(&pk);
  mp_pack_cstr(&pk, "empty");
  msgpack_pack_array(&pk, 0);
  msgpack_pack_uint64(&pk, 7); /* a key that is not a string */
  msgpack_pack_map(&pk, 0);
  ASSERT_STR_EQ(json(), "{\"list\":[1,\"two\",{\"k\":null}],\"empty\":[],\"7\":{}}");
  /* a key that is itself an array becomes the string of its JSON */
  msgpack_pack_map(start(), 1);
  msgpack_pack_array(&pk, 1);
  mp_pack_cstr(&pk, "q\"");
  msgpack_pack_true(&pk);
  ASSERT_STR_EQ(json(), "{\"[\\\"q\\\\\\\"\\\"]\":true}");
}

static void pack_nested(int depth) {
  start();
  for (int i = 0; i < depth; i++) msgpack_pack_array(&pk, 1);
  msgpack_pack_uint64(&pk, 1);
}

static void test_depth_limit(void) {
  pack_nested(MP_MAX_DEPTH);
  const char *out = json();
  ASSERT_EQ(strspn(out, "["), MP_MAX_DEPTH);
  pack_nested(MP_MAX_DEPTH + 1);
  pv_buf b = PV_BUF_INIT;
  pv_buf_addstr(&b, "kept");
  ASSERT_ERR(mpj_append(&b, mp.data, mp.len), PV_ETOODEEP);
  ASSERT_STR_EQ(b.data, "kept"); /* left as it was */
  pv_buf_release(&b);
}

static void test_bad_input_is_refused_and_output_untouched(void) {
  pv_buf b = PV_BUF_INIT;
  pv_buf_addstr(&b, "x");
  ASSERT_ERR(mpj_append(&b, "\x92\x01", 2), PV_ETRUNCATED);  /* array of 2, one element */
  ASSERT_ERR(mpj_append(&b, "\xa5" "ab", 3), PV_ETRUNCATED); /* str 5, 2 bytes */
  ASSERT_ERR(mpj_append(&b, "\xc1", 1), PV_EINVAL);           /* reserved byte */
  ASSERT_ERR(mpj_append(&b, "\x01\x02", 2), PV_EINVAL);       /* bytes after the value */
  ASSERT_ERR(mpj_append(&b, "", 0), PV_ETRUNCATED);
  /* a map claiming 2^32-1 pairs in 5 bytes: refused, nothing allocated */
  ASSERT_ERR(mpj_append(&b, "\xdf\xff\xff\xff\xff", 5), PV_ETRUNCATED);
  ASSERT_STR_EQ(b.data, "x");
  pv_buf_release(&b);
}

static void test_next_reads_one_value_of_many(void) {
  start();
  msgpack_pack_uint64(&pk, 5);
  mp_pack_cstr(&pk, "s");
  mp_reader r;
  mp_reader_init(&r, mp.data, mp.len);
  pv_buf b = PV_BUF_INIT;
  ASSERT_OK(mpj_append_next(&b, &r, 0));
  pv_buf_addch(&b, ' ');
  ASSERT_OK(mpj_append_next(&b, &r, 0));
  ASSERT_STR_EQ(b.data, "5 \"s\"");
  ASSERT_EQ(mp_remaining(&r), 0);
  pv_buf_release(&b);
}

/* mpj_append_text gives what a JSON reader gets back from mpj_append_str,
 * byte for byte, for escapes, unicode, bad UTF-8 and NUL alike. */
static void test_text_is_the_string_read_back(void) {
  static const struct {
    const char *s;
    size_t len;
  } cases[] = {
#define CASE(lit) {lit, sizeof lit - 1}
      CASE("plain"),         CASE("a\"b\\c/d\n\r\t\b\f\x01"),
      CASE("a\0b"),          CASE("\xe2\x80\xa8 J\xc3\xa9r\xc3\xb4me \xf0\x9f\x98\x80"),
      CASE("a\xff" "b\xc0\x80"), CASE("\xe2\x82"),
      CASE(""),
#undef CASE
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    pv_buf js = PV_BUF_INIT, text = PV_BUF_INIT;
    mpj_append_str(&js, cases[i].s, cases[i].len);
    mpj_append_text(&text, cases[i].s, cases[i].len);
    cJSON *doc = cJSON_ParseWithLength(js.data, js.len);
    ASSERT(doc != NULL);
    ASSERT_STR_EQ(text.data, cJSON_GetStringValue(doc));
    ASSERT_EQ(strlen(text.data), text.len);
    cJSON_Delete(doc);
    pv_buf_release(&js);
    pv_buf_release(&text);
  }
}

TEST_MAIN(TEST(test_scalars), TEST(test_floats), TEST(test_string_escaping),
          TEST(test_unicode_passes_through), TEST(test_invalid_utf8_becomes_replacement_characters),
          TEST(test_binary_and_ext_as_base64), TEST(test_nesting), TEST(test_depth_limit),
          TEST(test_bad_input_is_refused_and_output_untouched),
          TEST(test_next_reads_one_value_of_many), TEST(test_text_is_the_string_read_back))
