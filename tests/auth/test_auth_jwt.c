/*
 * Tests of auth_jwt: a round trip, setup refusals, and the negative suite
 * of issue 4 §5 — every hostile or broken token is refused, and for the
 * reason meant (each crafted token is otherwise valid and signed with our
 * key, so a refusal cannot come from an unrelated check).
 */
#include "adapters/auth/auth_jwt.h"
#include "tests/harness/test.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1795000000LL /* 2026-11-18, any fixed time */
#define ISS "pivotal"

static const uint8_t key[32] = "0123456789abcdef0123456789abcdef";

static auth_jwt *service(void) {
  auth_jwt *j = NULL;
  ASSERT_OK(auth_jwt_new(key, sizeof key, ISS, 900, &j, NULL));
  return j;
}

static auth_principal agent(void) {
  auth_principal p = {0};
  strcpy(p.user_id, "01HZX3K9V4T6Q2M8N5B7C1D0EF");
  strcpy(p.tenant, "acme");
  p.role = AUTH_ROLE_AGENT;
  p.token_version = 3;
  return p;
}

static void b64(const void *data, size_t len, char *out, size_t cap) {
  sodium_bin2base64(out, cap, data, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

enum sig_alg { SIG_HS256, SIG_HS512, SIG_RANDOM256, SIG_NONE };

/* header.payload.signature from JSON texts, signed as asked with k. */
static char *craft(const char *header, const char *payload, enum sig_alg alg,
                   const uint8_t *k, size_t klen) {
  static char out[8192];
  char h[1024], p[2048], s[1024] = "";
  b64(header, strlen(header), h, sizeof h);
  b64(payload, strlen(payload), p, sizeof p);
  char signing[4096];
  snprintf(signing, sizeof signing, "%s.%s", h, p);
  if (alg == SIG_HS256) {
    uint8_t mac[32];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, k, klen);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)signing, strlen(signing));
    crypto_auth_hmacsha256_final(&st, mac);
    b64(mac, sizeof mac, s, sizeof s);
  } else if (alg == SIG_HS512) {
    uint8_t mac[64];
    crypto_auth_hmacsha512_state st;
    crypto_auth_hmacsha512_init(&st, k, klen);
    crypto_auth_hmacsha512_update(&st, (const uint8_t *)signing, strlen(signing));
    crypto_auth_hmacsha512_final(&st, mac);
    b64(mac, sizeof mac, s, sizeof s);
  } else if (alg == SIG_RANDOM256) {
    uint8_t sig[256];
    randombytes_buf(sig, sizeof sig);
    b64(sig, sizeof sig, s, sizeof s);
  }
  snprintf(out, sizeof out, "%s.%s", signing, s);
  return out;
}

#define HS256 "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"

/* A valid payload with one claim's text replaced (NULL: the default). */
static char *payload(const char *iat, const char *nbf, const char *exp,
                     const char *iss) {
  static char out[1024];
  char f_iat[64], f_nbf[64], f_exp[64], f_iss[64];
  snprintf(f_iat, sizeof f_iat, "\"iat\":%s,", iat ? iat : "1795000000");
  snprintf(f_nbf, sizeof f_nbf, "\"nbf\":%s,", nbf ? nbf : "1795000000");
  snprintf(f_exp, sizeof f_exp, "\"exp\":%s,", exp ? exp : "1795000600");
  snprintf(f_iss, sizeof f_iss, "\"iss\":%s,", iss ? iss : "\"" ISS "\"");
  snprintf(out, sizeof out,
           "{%s%s%s%s\"sub\":\"u1\",\"tenant\":\"acme\",\"role\":\"agent\","
           "\"jti\":\"x1\",\"ver\":3}",
           iat && !*iat ? "" : f_iat, nbf && !*nbf ? "" : f_nbf,
           exp && !*exp ? "" : f_exp, iss && !*iss ? "" : f_iss);
  return out;
}

/* Verifies token at NOW and expects a refusal for `want`. */
static void expect_refused(const char *token, auth_jwt_reason want) {
  auth_jwt *j = service();
  auth_principal p;
  auth_jwt_reason got = AUTH_JWT_OK;
  pv_error err = PV_ERROR_INIT;
  int rc = auth_jwt_verify(j, token, strlen(token), NOW, &p, &got, &err);
  if (rc != PV_EUNAUTHORIZED || got != want)
    test__fail(__FILE__, __LINE__, "token %s: rc %d, reason \"%s\", want \"%s\"",
               token, rc, auth_jwt_reason_text(got), auth_jwt_reason_text(want));
  ASSERT_STR_EQ(err.message, want == AUTH_JWT_EXPIRED ? "access token has expired"
                                                      : "invalid access token");
  ASSERT_STR_EQ(p.user_id, ""); /* nothing leaks out of a refused token */
  auth_jwt_free(j);
}

static void test_round_trip(void) {
  auth_jwt *j = service();
  auth_principal who = agent(), issued, got;
  char *token = NULL;
  ASSERT_OK(auth_jwt_issue(j, &who, NOW, &token, &issued, NULL));
  ASSERT_EQ(issued.exp_s, NOW + 900);
  ASSERT_EQ(strlen(issued.jti), 22);
  auth_jwt_reason reason;
  ASSERT_OK(auth_jwt_verify(j, token, strlen(token), NOW + 899, &got, &reason, NULL));
  ASSERT_EQ(reason, AUTH_JWT_OK);
  ASSERT_STR_EQ(got.user_id, who.user_id);
  ASSERT_STR_EQ(got.tenant, "acme");
  ASSERT_STR_EQ(got.client_id, "");
  ASSERT_EQ(got.role, AUTH_ROLE_AGENT);
  ASSERT_U64_EQ(got.token_version, 3);
  ASSERT_EQ(got.iat_s, NOW);
  ASSERT_EQ(got.exp_s, NOW + 900);
  ASSERT_STR_EQ(got.jti, issued.jti);
  free(token);
  auth_jwt_free(j);
}

static void test_round_trip_client_user(void) {
  auth_jwt *j = service();
  auth_principal who = agent(), got;
  who.role = AUTH_ROLE_CLIENT_USER;
  strcpy(who.client_id, "client-42");
  char *token = NULL;
  ASSERT_OK(auth_jwt_issue(j, &who, NOW, &token, NULL, NULL));
  ASSERT_OK(auth_jwt_verify(j, token, strlen(token), NOW, &got, NULL, NULL));
  ASSERT_EQ(got.role, AUTH_ROLE_CLIENT_USER);
  ASSERT_STR_EQ(got.client_id, "client-42");
  free(token);
  auth_jwt_free(j);
}

static void test_clock_skew_is_allowed(void) {
  auth_jwt *j = service();
  auth_principal who = agent(), got;
  char *token = NULL;
  ASSERT_OK(auth_jwt_issue(j, &who, NOW, &token, NULL, NULL));
  /* a verifier whose clock is behind by less than the skew */
  ASSERT_OK(auth_jwt_verify(j, token, strlen(token), NOW - AUTH_JWT_SKEW_S, &got,
                            NULL, NULL));
  /* and one just past exp, within the skew */
  ASSERT_OK(auth_jwt_verify(j, token, strlen(token), NOW + 900 + AUTH_JWT_SKEW_S - 1,
                            &got, NULL, NULL));
  auth_jwt_reason reason;
  ASSERT_ERR(auth_jwt_verify(j, token, strlen(token), NOW + 900 + AUTH_JWT_SKEW_S,
                             &got, &reason, NULL), PV_EUNAUTHORIZED);
  ASSERT_EQ(reason, AUTH_JWT_EXPIRED);
  free(token);
  auth_jwt_free(j);
}

static void test_setup_refusals(void) {
  auth_jwt *j = NULL;
  pv_error err = PV_ERROR_INIT;
  ASSERT_ERR(auth_jwt_new(key, 31, ISS, 900, &j, &err), PV_EINVAL);
  ASSERT_STR_EQ(err.message, "JWT key too short");
  ASSERT_ERR(auth_jwt_new(key, 0, ISS, 900, &j, NULL), PV_EINVAL);
  ASSERT_ERR(auth_jwt_new(key, 32, ISS, 901, &j, NULL), PV_EINVAL);
  ASSERT_ERR(auth_jwt_new(key, 32, ISS, 0, &j, NULL), PV_EINVAL);
  ASSERT_ERR(auth_jwt_new(key, 32, "", 900, &j, NULL), PV_EINVAL);
  ASSERT_ERR(auth_jwt_new(key, 32, "a\"b", 900, &j, NULL), PV_EINVAL);
  ASSERT(j == NULL);
}

static void test_issue_refuses_bad_principal(void) {
  auth_jwt *j = service();
  char *token = NULL;
  auth_principal who = agent();
  who.role = AUTH_ROLE_CLIENT_USER; /* without a client id */
  ASSERT_ERR(auth_jwt_issue(j, &who, NOW, &token, NULL, NULL), PV_EINVAL);
  who = agent();
  strcpy(who.client_id, "client-42"); /* staff with a client id */
  ASSERT_ERR(auth_jwt_issue(j, &who, NOW, &token, NULL, NULL), PV_EINVAL);
  who = agent();
  who.role = AUTH_ROLE_ADMIN | AUTH_ROLE_AGENT;
  ASSERT_ERR(auth_jwt_issue(j, &who, NOW, &token, NULL, NULL), PV_EINVAL);
  who = agent();
  strcpy(who.user_id, "has space");
  ASSERT_ERR(auth_jwt_issue(j, &who, NOW, &token, NULL, NULL), PV_EINVAL);
  ASSERT(token == NULL);
  auth_jwt_free(j);
}

static void test_version_mismatch_is_detected(void) {
  auth_principal p = agent();
  ASSERT_OK(auth_principal_check_current(&p, 3, false, NULL));
  pv_error err = PV_ERROR_INIT;
  ASSERT_ERR(auth_principal_check_current(&p, 4, false, &err), PV_EUNAUTHORIZED);
  ASSERT_STR_EQ(err.message, "token is no longer valid");
  ASSERT_ERR(auth_principal_check_current(&p, 3, true, NULL), PV_EUNAUTHORIZED);
}

static void test_valid_crafted_token_passes(void) {
  /* the baseline every negative case departs from */
  auth_jwt *j = service();
  auth_principal p;
  char *t = craft(HS256, payload(NULL, NULL, NULL, NULL), SIG_HS256, key, 32);
  ASSERT_OK(auth_jwt_verify(j, t, strlen(t), NOW, &p, NULL, NULL));
  ASSERT_STR_EQ(p.user_id, "u1");
  auth_jwt_free(j);
}

static void test_alg_none_without_signature(void) {
  expect_refused(craft("{\"alg\":\"none\",\"typ\":\"JWT\"}",
                       payload(NULL, NULL, NULL, NULL), SIG_NONE, NULL, 0),
                 AUTH_JWT_MALFORMED);
  expect_refused(craft("{\"alg\":\"none\"}", payload(NULL, NULL, NULL, NULL),
                       SIG_NONE, NULL, 0), AUTH_JWT_MALFORMED);
}

static void test_alg_none_with_signature(void) {
  expect_refused(craft("{\"alg\":\"none\",\"typ\":\"JWT\"}",
                       payload(NULL, NULL, NULL, NULL), SIG_HS256, key, 32),
                 AUTH_JWT_HEADER);
  expect_refused(craft("{\"alg\":\"None\",\"typ\":\"JWT\"}",
                       payload(NULL, NULL, NULL, NULL), SIG_HS256, key, 32),
                 AUTH_JWT_HEADER);
}

static void test_hs512_header(void) {
  expect_refused(craft("{\"alg\":\"HS512\",\"typ\":\"JWT\"}",
                       payload(NULL, NULL, NULL, NULL), SIG_HS512, key, 32),
                 AUTH_JWT_HEADER);
  /* HS512 named, HS256 signature with our key: the header still decides */
  expect_refused(craft("{\"alg\":\"HS512\",\"typ\":\"JWT\"}",
                       payload(NULL, NULL, NULL, NULL), SIG_HS256, key, 32),
                 AUTH_JWT_HEADER);
}

static void test_rs256_header(void) {
  expect_refused(craft("{\"alg\":\"RS256\",\"typ\":\"JWT\"}",
                       payload(NULL, NULL, NULL, NULL), SIG_RANDOM256, NULL, 0),
                 AUTH_JWT_HEADER);
  expect_refused(craft("{\"alg\":\"RS256\",\"typ\":\"JWT\"}",
                       payload(NULL, NULL, NULL, NULL), SIG_HS256, key, 32),
                 AUTH_JWT_HEADER);
}

static void test_header_oddities(void) {
  const char *p = payload(NULL, NULL, NULL, NULL);
  expect_refused(craft("{\"alg\":\"HS256\",\"alg\":\"none\",\"typ\":\"JWT\"}", p,
                       SIG_HS256, key, 32), AUTH_JWT_HEADER);
  expect_refused(craft("{\"alg\":\"HS256\"}", p, SIG_HS256, key, 32),
                 AUTH_JWT_HEADER);
  expect_refused(craft("{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"../k\"}", p,
                       SIG_HS256, key, 32), AUTH_JWT_HEADER);
  expect_refused(craft("{\"alg\":\"HS256\",\"typ\":\"JWT\",\"crit\":[\"exp\"]}",
                       p, SIG_HS256, key, 32), AUTH_JWT_HEADER);
  expect_refused(craft("{\"alg\":\"hs256\",\"typ\":\"JWT\"}", p, SIG_HS256, key, 32),
                 AUTH_JWT_HEADER);
  expect_refused(craft("{\"alg\":[\"HS256\"],\"typ\":\"JWT\"}", p, SIG_HS256, key,
                       32), AUTH_JWT_HEADER);
  expect_refused(craft("[\"HS256\"]", p, SIG_HS256, key, 32), AUTH_JWT_MALFORMED);
  expect_refused(craft("{\"alg\":\"HS256\"", p, SIG_HS256, key, 32),
                 AUTH_JWT_MALFORMED);
}

static void test_tampered_payload(void) {
  char good[8192], evil[8192];
  strcpy(good, craft(HS256, payload(NULL, NULL, NULL, NULL), SIG_HS256, key, 32));
  /* the same token with role admin in place of agent, old signature kept */
  char h[256], p[1024];
  const char *sig = strrchr(good, '.');
  const char *admin = "{\"iat\":1795000000,\"nbf\":1795000000,\"exp\":1795000600,"
                      "\"iss\":\"" ISS "\",\"sub\":\"u1\",\"tenant\":\"acme\","
                      "\"role\":\"admin\",\"jti\":\"x1\",\"ver\":3}";
  b64(HS256, strlen(HS256), h, sizeof h);
  b64(admin, strlen(admin), p, sizeof p);
  snprintf(evil, sizeof evil, "%s.%s%s", h, p, sig);
  expect_refused(evil, AUTH_JWT_SIGNATURE);
}

static void test_exp_missing_string_float_past(void) {
  expect_refused(craft(HS256, payload(NULL, NULL, "", NULL), SIG_HS256, key, 32),
                 AUTH_JWT_CLAIM);
  expect_refused(craft(HS256, payload(NULL, NULL, "\"1795000600\"", NULL),
                       SIG_HS256, key, 32), AUTH_JWT_CLAIM);
  expect_refused(craft(HS256, payload(NULL, NULL, "1795000600.0", NULL),
                       SIG_HS256, key, 32), AUTH_JWT_CLAIM);
  expect_refused(craft(HS256, payload(NULL, NULL, "1.7950006e9", NULL),
                       SIG_HS256, key, 32), AUTH_JWT_CLAIM);
  expect_refused(craft(HS256, payload(NULL, NULL, "true", NULL), SIG_HS256, key, 32),
                 AUTH_JWT_CLAIM);
  expect_refused(craft(HS256, payload(NULL, NULL, "-1", NULL), SIG_HS256, key, 32),
                 AUTH_JWT_CLAIM);
  expect_refused(craft(HS256, payload(NULL, NULL, "null", NULL), SIG_HS256, key, 32),
                 AUTH_JWT_CLAIM);
  /* past: issued 20 minutes ago with a 10-minute life */
  expect_refused(craft(HS256, payload("1794998800", "1794998800", "1794999400", NULL),
                       SIG_HS256, key, 32), AUTH_JWT_EXPIRED);
}

static void test_future_nbf(void) {
  expect_refused(craft(HS256, payload(NULL, "1795000120", NULL, NULL), SIG_HS256,
                       key, 32), AUTH_JWT_NOT_YET);
}

static void test_iat_missing_or_in_future(void) {
  expect_refused(craft(HS256, payload("", NULL, NULL, NULL), SIG_HS256, key, 32),
                 AUTH_JWT_CLAIM);
  expect_refused(craft(HS256, payload("\"1795000000\"", NULL, NULL, NULL), SIG_HS256,
                       key, 32), AUTH_JWT_CLAIM);
  expect_refused(craft(HS256, payload("1795000120", "1795000120", "1795000700", NULL),
                       SIG_HS256, key, 32), AUTH_JWT_NOT_YET);
}

static void test_nbf_missing(void) {
  expect_refused(craft(HS256, payload(NULL, "", NULL, NULL), SIG_HS256, key, 32),
                 AUTH_JWT_CLAIM);
}

static void test_lifetime_too_long_or_inverted(void) {
  expect_refused(craft(HS256, payload(NULL, NULL, "1795003600", NULL), SIG_HS256,
                       key, 32), AUTH_JWT_LIFETIME);
  expect_refused(craft(HS256, payload(NULL, NULL, "1795000000", NULL), SIG_HS256,
                       key, 32), AUTH_JWT_LIFETIME);
  expect_refused(craft(HS256, payload(NULL, "1794999990", NULL, NULL), SIG_HS256,
                       key, 32), AUTH_JWT_LIFETIME);
}

static void test_wrong_or_missing_iss(void) {
  expect_refused(craft(HS256, payload(NULL, NULL, NULL, "\"evil\""), SIG_HS256, key,
                       32), AUTH_JWT_ISSUER);
  expect_refused(craft(HS256, payload(NULL, NULL, NULL, "\"pivotal \""), SIG_HS256,
                       key, 32), AUTH_JWT_ISSUER);
  expect_refused(craft(HS256, payload(NULL, NULL, NULL, ""), SIG_HS256, key, 32),
                 AUTH_JWT_CLAIM);
  expect_refused(craft(HS256, payload(NULL, NULL, NULL, "7"), SIG_HS256, key, 32),
                 AUTH_JWT_CLAIM);
}

static void test_identity_claims(void) {
  const char *bad[] = {
      /* ver as a string, a float, missing */
      "{\"iat\":1795000000,\"nbf\":1795000000,\"exp\":1795000600,\"iss\":\"" ISS
      "\",\"sub\":\"u1\",\"tenant\":\"acme\",\"role\":\"agent\",\"jti\":\"x\","
      "\"ver\":\"3\"}",
      "{\"iat\":1795000000,\"nbf\":1795000000,\"exp\":1795000600,\"iss\":\"" ISS
      "\",\"sub\":\"u1\",\"tenant\":\"acme\",\"role\":\"agent\",\"jti\":\"x\","
      "\"ver\":3.0}",
      "{\"iat\":1795000000,\"nbf\":1795000000,\"exp\":1795000600,\"iss\":\"" ISS
      "\",\"sub\":\"u1\",\"tenant\":\"acme\",\"role\":\"agent\",\"jti\":\"x\"}",
      /* unknown role */
      "{\"iat\":1795000000,\"nbf\":1795000000,\"exp\":1795000600,\"iss\":\"" ISS
      "\",\"sub\":\"u1\",\"tenant\":\"acme\",\"role\":\"root\",\"jti\":\"x\","
      "\"ver\":3}",
      /* a staff role with a client id */
      "{\"iat\":1795000000,\"nbf\":1795000000,\"exp\":1795000600,\"iss\":\"" ISS
      "\",\"sub\":\"u1\",\"tenant\":\"acme\",\"role\":\"admin\",\"jti\":\"x\","
      "\"ver\":3,\"client_id\":\"c1\"}",
      /* a client user without one, and with a numeric one */
      "{\"iat\":1795000000,\"nbf\":1795000000,\"exp\":1795000600,\"iss\":\"" ISS
      "\",\"sub\":\"u1\",\"tenant\":\"acme\",\"role\":\"client_user\",\"jti\":\"x\","
      "\"ver\":3}",
      "{\"iat\":1795000000,\"nbf\":1795000000,\"exp\":1795000600,\"iss\":\"" ISS
      "\",\"sub\":\"u1\",\"tenant\":\"acme\",\"role\":\"client_user\",\"jti\":\"x\","
      "\"ver\":3,\"client_id\":7}",
      /* no sub, a sub that is not an id, no tenant */
      "{\"iat\":1795000000,\"nbf\":1795000000,\"exp\":1795000600,\"iss\":\"" ISS
      "\",\"tenant\":\"acme\",\"role\":\"agent\",\"jti\":\"x\",\"ver\":3}",
      "{\"iat\":1795000000,\"nbf\":1795000000,\"exp\":1795000600,\"iss\":\"" ISS
      "\",\"sub\":\"u 1\",\"tenant\":\"acme\",\"role\":\"agent\",\"jti\":\"x\","
      "\"ver\":3}",
      "{\"iat\":1795000000,\"nbf\":1795000000,\"exp\":1795000600,\"iss\":\"" ISS
      "\",\"sub\":\"u1\",\"role\":\"agent\",\"jti\":\"x\",\"ver\":3}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    expect_refused(craft(HS256, bad[i], SIG_HS256, key, 32), AUTH_JWT_CLAIM);
}

static void test_truncated_signature(void) {
  char t[8192];
  strcpy(t, craft(HS256, payload(NULL, NULL, NULL, NULL), SIG_HS256, key, 32));
  size_t n = strlen(t);
  t[n - 1] = '\0';
  expect_refused(t, AUTH_JWT_SIGNATURE);
  t[n - 4] = '\0';
  expect_refused(t, AUTH_JWT_SIGNATURE);
  /* the last character changed */
  strcpy(t, craft(HS256, payload(NULL, NULL, NULL, NULL), SIG_HS256, key, 32));
  char last = t[n - 1];
  t[n - 1] = last == 'A' ? 'B' : (char)(last ^ 1);
  expect_refused(t, AUTH_JWT_SIGNATURE);
}

static void test_signed_with_empty_or_other_key(void) {
  expect_refused(craft(HS256, payload(NULL, NULL, NULL, NULL), SIG_HS256,
                       (const uint8_t *)"", 0), AUTH_JWT_SIGNATURE);
  static const uint8_t other[32] = "fedcba9876543210fedcba9876543210";
  expect_refused(craft(HS256, payload(NULL, NULL, NULL, NULL), SIG_HS256, other, 32),
                 AUTH_JWT_SIGNATURE);
  /* a token libjwt issued under another key */
  auth_jwt *j2 = NULL;
  ASSERT_OK(auth_jwt_new(other, sizeof other, ISS, 900, &j2, NULL));
  auth_principal who = agent();
  char *token = NULL;
  ASSERT_OK(auth_jwt_issue(j2, &who, NOW, &token, NULL, NULL));
  expect_refused(token, AUTH_JWT_SIGNATURE);
  free(token);
  auth_jwt_free(j2);
}

static void test_garbage_and_shape(void) {
  expect_refused("", AUTH_JWT_MALFORMED);
  expect_refused("abc", AUTH_JWT_MALFORMED);
  expect_refused("abc.def", AUTH_JWT_MALFORMED);
  expect_refused("..", AUTH_JWT_MALFORMED);
  expect_refused("!!!.???.***", AUTH_JWT_MALFORMED);
  expect_refused("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9=.e30.abc", AUTH_JWT_MALFORMED);
  expect_refused("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.abc.def",
                 AUTH_JWT_MALFORMED);
  expect_refused(".e30.abc", AUTH_JWT_MALFORMED);
  char t[8192];
  strcpy(t, craft(HS256, payload(NULL, NULL, NULL, NULL), SIG_HS256, key, 32));
  expect_refused(strchr(t, '.') + 1, AUTH_JWT_MALFORMED); /* header cut off */
  /* a signed payload that is not JSON */
  expect_refused(craft(HS256, "not json", SIG_HS256, key, 32), AUTH_JWT_MALFORMED);
}

static void test_oversized_and_nul(void) {
  auth_jwt *j = service();
  auth_principal p;
  auth_jwt_reason reason;
  char *big = malloc(AUTH_JWT_TOKEN_MAX + 2);
  memset(big, 'a', AUTH_JWT_TOKEN_MAX + 1);
  big[AUTH_JWT_TOKEN_MAX + 1] = '\0';
  ASSERT_ERR(auth_jwt_verify(j, big, AUTH_JWT_TOKEN_MAX + 1, NOW, &p, &reason, NULL),
             PV_EUNAUTHORIZED);
  ASSERT_EQ(reason, AUTH_JWT_MALFORMED);
  free(big);
  char t[8192];
  strcpy(t, craft(HS256, payload(NULL, NULL, NULL, NULL), SIG_HS256, key, 32));
  size_t n = strlen(t);
  t[5] = '\0'; /* a NUL inside the given length */
  ASSERT_ERR(auth_jwt_verify(j, t, n, NOW, &p, &reason, NULL), PV_EUNAUTHORIZED);
  ASSERT_EQ(reason, AUTH_JWT_MALFORMED);
  auth_jwt_free(j);
}

TEST_MAIN(TEST(test_round_trip), TEST(test_round_trip_client_user),
          TEST(test_clock_skew_is_allowed), TEST(test_setup_refusals),
          TEST(test_issue_refuses_bad_principal),
          TEST(test_version_mismatch_is_detected),
          TEST(test_valid_crafted_token_passes),
          TEST(test_alg_none_without_signature),
          TEST(test_alg_none_with_signature), TEST(test_hs512_header),
          TEST(test_rs256_header), TEST(test_header_oddities),
          TEST(test_tampered_payload), TEST(test_exp_missing_string_float_past),
          TEST(test_future_nbf), TEST(test_iat_missing_or_in_future),
          TEST(test_nbf_missing), TEST(test_lifetime_too_long_or_inverted),
          TEST(test_wrong_or_missing_iss), TEST(test_identity_claims),
          TEST(test_truncated_signature),
          TEST(test_signed_with_empty_or_other_key),
          TEST(test_garbage_and_shape), TEST(test_oversized_and_nul))
