/*
 * Fuzz target: auth_jwt_verify, with a fixed key and a fixed clock so the
 * committed valid tokens (tests/fuzz/corpus/jwt_verify/) reach the claim
 * checks. Each input is tried twice:
 *   1. as a whole token (shape, header, signature checks);
 *   2. as the payload of a token we sign with the key, so the claim parser
 *      (libjwt's) and our claim checks see arbitrary JSON too: a fuzzer
 *      cannot forge the HMAC, so without this it would never get there.
 * It must never crash, and whatever it accepts must be a well-formed
 * principal; whatever it refuses must leave nothing behind.
 */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/auth/auth_jwt.h"

/* The clock and key the corpus's valid tokens were issued with. */
#define FUZZ_NOW 1795000000LL
static const uint8_t fuzz_key[32] = "pivotal-fuzz-key-0123456789abcde";
/* base64url of {"alg":"HS256","typ":"JWT"} */
#define HS256_HEADER "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const auth_jwt *j, const char *token, size_t len) {
  auth_principal p;
  auth_jwt_reason reason;
  int rc = auth_jwt_verify(j, token, len, FUZZ_NOW, &p, &reason, NULL);
  if (rc == 0 && (reason != AUTH_JWT_OK || auth_principal_validate(&p, NULL) != 0 ||
                  p.exp_s - p.iat_s > AUTH_JWT_TTL_MAX_S ||
                  p.exp_s + AUTH_JWT_SKEW_S <= FUZZ_NOW))
    abort();
  if (rc != 0 && (reason == AUTH_JWT_OK || p.user_id[0] != '\0')) abort();
}

/* HS256_HEADER "." base64url(payload) "." signature, or NULL if too big. */
static char *sign_payload(const uint8_t *payload, size_t size) {
  if (size > AUTH_JWT_TOKEN_MAX) return NULL;
  size_t b64_len = sodium_base64_ENCODED_LEN(size,
                                             sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  size_t cap = sizeof HS256_HEADER + b64_len + 1 + 64;
  char *t = malloc(cap);
  if (!t) return NULL;
  memcpy(t, HS256_HEADER ".", sizeof HS256_HEADER);
  sodium_bin2base64(t + sizeof HS256_HEADER, b64_len, payload, size,
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  size_t signed_len = strlen(t);
  uint8_t mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, fuzz_key, sizeof fuzz_key);
  crypto_auth_hmacsha256_update(&st, (const uint8_t *)t, signed_len);
  crypto_auth_hmacsha256_final(&st, mac);
  t[signed_len] = '.';
  sodium_bin2base64(t + signed_len + 1, cap - signed_len - 1, mac, sizeof mac,
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static auth_jwt *j;
  if (!j && auth_jwt_new(fuzz_key, sizeof fuzz_key, "pivotal", 900, &j, NULL) != 0)
    abort();
  check(j, (const char *)data, size);
  char *t = sign_payload(data, size);
  if (t) {
    check(j, t, strlen(t));
    free(t);
  }
  return 0;
}
