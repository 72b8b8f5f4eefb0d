/* Tests of core/unsub_token: round trip, every tampered byte and character
 * refused, wrong key, truncation, unknown version, expiry. */
#include "core/unsub_token.h"
#include "tests/harness/test.h"

#include <sodium.h>
#include <stdlib.h>

static const uint8_t KEY[UNSUB_KEY_BYTES] = "0123456789abcdef0123456789abcde";

static unsub_claims sample(void) {
  unsub_claims c = {.tenant = "acme", .channel = "email", .value = " Foo@Bücher.Example ",
                    .client_id = "client-7", .campaign_id = "camp:42",
                    .issued_at_s = 1700000000};
  return c;
}

static void make(const unsub_claims *c, pv_buf *out) {
  pv_error err = PV_ERROR_INIT;
  pv_buf_reset(out);
  ASSERT_OK(unsub_token_make(c, KEY, out, &err));
}

static void test_round_trip(void) {
  unsub_claims c = sample();
  pv_buf tok = PV_BUF_INIT;
  make(&c, &tok);
  for (size_t i = 0; i < tok.len; i++) {
    char ch = tok.data[i];
    ASSERT((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '_');
  }
  unsub_claims got;
  pv_error err = PV_ERROR_INIT;
  ASSERT_OK(unsub_token_verify(tok.data, tok.len, KEY, 1700000100, 0, &got, &err));
  ASSERT_STR_EQ(got.tenant, "acme");
  ASSERT_STR_EQ(got.channel, "email");
  ASSERT_STR_EQ(got.value, "foo@xn--bcher-kva.example");
  ASSERT_STR_EQ(got.client_id, "client-7");
  ASSERT_STR_EQ(got.campaign_id, "camp:42");
  ASSERT_EQ(got.issued_at_s, 1700000000);

  /* optional ids absent, phone channel */
  unsub_claims p = {.tenant = "t", .channel = "phone", .value = "+14155550123"};
  make(&p, &tok);
  ASSERT_OK(unsub_token_verify(tok.data, tok.len, KEY, 0, 0, &got, &err));
  ASSERT_STR_EQ(got.value, "+14155550123");
  ASSERT_STR_EQ(got.client_id, "");
  ASSERT_STR_EQ(got.campaign_id, "");
  pv_buf_release(&tok);
}

static void test_every_tampered_byte_refused(void) {
  unsub_claims c = sample();
  pv_buf tok = PV_BUF_INIT;
  make(&c, &tok);
  uint8_t raw[1024];
  size_t n;
  ASSERT_EQ(sodium_base642bin(raw, sizeof raw, tok.data, tok.len, NULL, &n, NULL,
                              sodium_base64_VARIANT_URLSAFE_NO_PADDING), 0);
  char text[2048];
  unsub_claims got;
  for (size_t i = 0; i < n; i++) {
    for (int bit = 0; bit < 8; bit++) {
      raw[i] ^= (uint8_t)(1u << bit);
      sodium_bin2base64(text, sizeof text, raw, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
      pv_error err = PV_ERROR_INIT;
      ASSERT_ERR(unsub_token_verify(text, strlen(text), KEY, 0, 0, &got, &err), PV_EINVAL);
      raw[i] ^= (uint8_t)(1u << bit);
    }
  }
  /* every character of the text replaced by every other base64url one */
  static const char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=.+/ ";
  memcpy(text, tok.data, tok.len + 1);
  for (size_t i = 0; i < tok.len; i++) {
    char orig = text[i];
    for (const char *a = alphabet; *a; a++) {
      if (*a == orig) continue;
      text[i] = *a;
      pv_error err = PV_ERROR_INIT;
      ASSERT_ERR(unsub_token_verify(text, tok.len, KEY, 0, 0, &got, &err), PV_EINVAL);
    }
    text[i] = orig;
  }
  pv_buf_release(&tok);
}

static void test_wrong_key_truncated_extended(void) {
  unsub_claims c = sample();
  pv_buf tok = PV_BUF_INIT;
  make(&c, &tok);
  uint8_t other[UNSUB_KEY_BYTES];
  memcpy(other, KEY, sizeof other);
  other[31] ^= 1;
  unsub_claims got;
  pv_error err = PV_ERROR_INIT;
  ASSERT_ERR(unsub_token_verify(tok.data, tok.len, other, 0, 0, &got, &err), PV_EINVAL);
  ASSERT(strstr(err.message, "signature") != NULL);
  for (size_t len = 0; len < tok.len; len++)
    ASSERT_ERR(unsub_token_verify(tok.data, len, KEY, 0, 0, &got, &err), PV_EINVAL);
  pv_buf_addstr(&tok, "AA");
  ASSERT_ERR(unsub_token_verify(tok.data, tok.len, KEY, 0, 0, &got, &err), PV_EINVAL);
  ASSERT_ERR(unsub_token_verify("", 0, KEY, 0, 0, &got, &err), PV_EINVAL);
  pv_buf_release(&tok);
}

static void test_unknown_version_refused(void) {
  unsub_claims c = sample();
  pv_buf tok = PV_BUF_INIT;
  make(&c, &tok);
  uint8_t raw[1024];
  size_t n;
  ASSERT_EQ(sodium_base642bin(raw, sizeof raw, tok.data, tok.len, NULL, &n, NULL,
                              sodium_base64_VARIANT_URLSAFE_NO_PADDING), 0);
  /* a version-2 token signed correctly is still refused */
  raw[0] = 2;
  crypto_auth_hmacsha256(raw + n - 32, raw, n - 32, KEY);
  char text[2048];
  sodium_bin2base64(text, sizeof text, raw, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  unsub_claims got;
  pv_error err = PV_ERROR_INIT;
  ASSERT_ERR(unsub_token_verify(text, strlen(text), KEY, 0, 0, &got, &err), PV_EINVAL);
  ASSERT(strstr(err.message, "unknown version 2") != NULL);
  pv_buf_release(&tok);
}

static void test_expiry_and_bad_claims(void) {
  unsub_claims c = sample();
  pv_buf tok = PV_BUF_INIT;
  make(&c, &tok);
  unsub_claims got;
  pv_error err = PV_ERROR_INIT;
  ASSERT_OK(unsub_token_verify(tok.data, tok.len, KEY, 1700000000 + 86400, 86400, &got, &err));
  ASSERT_ERR(unsub_token_verify(tok.data, tok.len, KEY, 1700000000 + 86401, 86400, &got, &err),
             PV_EINVAL);
  ASSERT(strstr(err.message, "expired") != NULL);

  unsub_claims bad = sample();
  snprintf(bad.value, sizeof bad.value, "not an address");
  ASSERT_ERR(unsub_token_make(&bad, KEY, &tok, &err), PV_EINVAL);
  ASSERT_STR_EQ(err.field, "/value");
  bad = sample();
  snprintf(bad.channel, sizeof bad.channel, "fax");
  ASSERT_ERR(unsub_token_make(&bad, KEY, &tok, &err), PV_EINVAL);
  bad = sample();
  bad.tenant[0] = '\0';
  ASSERT_ERR(unsub_token_make(&bad, KEY, &tok, &err), PV_EINVAL);
  bad = (unsub_claims){.tenant = "t", .channel = "phone", .value = "415 555 0123"};
  ASSERT_ERR(unsub_token_make(&bad, KEY, &tok, &err), PV_EINVAL);
  pv_buf_release(&tok);
}

TEST_MAIN(TEST(test_round_trip), TEST(test_every_tampered_byte_refused),
          TEST(test_wrong_key_truncated_extended), TEST(test_unknown_version_refused),
          TEST(test_expiry_and_bad_claims))
